# The engine's rate control (included by engine.pyx): threshold / detection_filter /
# event_filter counting (Engine._match decides what a count means), suppress, and
# threshold.config rate_filter. Trackers live in one fixed table per worker (Engine.thr),
# cleared when a rule set is swapped in. Per packet: no Python object, no copy.

cdef xdpfw_thr_entry *_thr_hit(Engine self, uint32_t sig, uint8_t track, uint32_t seconds,
                               const xdpfw_pkt *p, const xdpfw_flow *f, uint64_t now) noexcept nogil:
    """Count one hit of (sig, tracked key); the tracker's count is the hits in the
    current window."""
    cdef uint64_t k[4]
    cdef uint64_t h, window = <uint64_t>seconds * 1000000000ULL, oldest = 0xFFFFFFFFFFFFFFFFULL
    cdef uint32_t i, slot, victim = 0
    cdef xdpfw_thr_entry *e
    k[0] = k[1] = k[2] = k[3] = 0
    if track == XDPFW_TRACK_SRC or track == XDPFW_TRACK_BOTH:
        k[0], k[1] = _be64(p.src), _be64(p.src + 8)
    if track == XDPFW_TRACK_DST:
        k[0], k[1] = _be64(p.dst), _be64(p.dst + 8)
    if track == XDPFW_TRACK_BOTH:
        k[2], k[3] = _be64(p.dst), _be64(p.dst + 8)
        if k[2] < k[0] or (k[2] == k[0] and k[3] < k[1]):
            # one pair whatever the direction, as Suricata tracks by_both
            k[0], k[1], k[2], k[3] = k[2], k[3], k[0], k[1]
    if track == XDPFW_TRACK_FLOW:
        k[0] = f.flow_id
    h = self.thr_seed ^ sig
    for i in range(4):
        h = (h ^ k[i]) * 0x9E3779B97F4A7C15ULL
        h ^= h >> 29
    for i in range(8):
        slot = <uint32_t>(h + i) & self.thr_mask
        e = &self.thr[slot]
        if e.used and e.sig == sig and e.k[0] == k[0] and e.k[1] == k[1] and e.k[2] == k[2] \
                and e.k[3] == k[3]:
            if now - e.window_start > window:
                e.window_start = now  # a new window starts with this hit
                e.count = 0
            e.count += 1
            return e
        if not e.used:
            victim = slot
            oldest = 0
            break
        if e.window_start < oldest:
            oldest = e.window_start
            victim = slot
    e = &self.thr[victim]
    if e.used:
        self.cnt[C_THRESHOLD_EVICTED] += 1  # the table is full: the oldest tracker goes
    e.used = 1
    e.sig = sig
    e.k[0], e.k[1], e.k[2], e.k[3] = k[0], k[1], k[2], k[3]
    e.window_start = now
    e.active_since = 0
    e.count = 1
    return e


cdef bint _suppressed(Engine self, const xdpfw_sig *s, const xdpfw_pkt *p) noexcept nogil:
    if s.supp == XDPFW_SUPP_ALL:
        return True
    if (s.supp == XDPFW_SUPP_SRC or s.supp == XDPFW_SUPP_EITHER) and \
            _addr_in(self.rs.addrs, &s.supp_addrs, _be64(p.src), _be64(p.src + 8)):
        return True
    if (s.supp == XDPFW_SUPP_DST or s.supp == XDPFW_SUPP_EITHER) and \
            _addr_in(self.rs.addrs, &s.supp_addrs, _be64(p.dst), _be64(p.dst + 8)):
        return True
    return False


cdef uint8_t _rate(Engine self, uint32_t sig, const xdpfw_sig *s, const xdpfw_pkt *p,
                   const xdpfw_flow *f, uint64_t now) noexcept nogil:
    """threshold.config rate_filter: the rule's action on this match. The count-th match
    within `seconds` (per tracked key) switches it to rf_action for `timeout` seconds,
    that match included; then counting starts again."""
    cdef xdpfw_thr_entry *e
    e = _thr_hit(self, sig | XDPFW_THR_RATE_KEY, s.rf_track, s.rf_seconds, p, f, now)
    if e.active_since:
        if now - e.active_since <= <uint64_t>s.rf_timeout * 1000000000ULL:
            return s.rf_action
        e.active_since = 0           # timed out: this match starts a new window
        e.window_start = now
        e.count = 1
    if e.count >= s.rf_count:
        e.active_since = now if now else 1
        self.cnt[C_RATE_FILTERED] += 1
        return s.rf_action
    return s.action
