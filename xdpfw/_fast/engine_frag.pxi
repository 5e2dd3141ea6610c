# IP fragments (included by engine.pyx; per packet: no Python object, no copy). One
# datagram's fragments are a small stream in offset order: the first fragment (offset 0,
# it holds the L4 header) opens an entry keyed like the kernel's reassembly queue
# (addresses, IP id, protocol, VLAN); each following fragment must start exactly where the
# previous one ended. Its bytes are scanned in place through a matcher stream of the
# datagram (no reassembly, no copy) and the last one (no MF) finishes it, so end-anchored
# rules see the datagram's end. Policy (inline): a fragment that is out of order (no
# entry: the first fragment has not been seen; or a gap), overlaps or repeats what was
# seen, or belongs to a datagram already judged bad, is dropped, and so are the datagram's
# later fragments - the receiver cannot reassemble it, so nothing uninspected gets
# through. Linux drops overlapping datagrams itself (RFC 5722); out-of-order fragments,
# which it would reassemble, are the price of not buffering. IDS/replay: such fragments
# are counted and inspected one by one. TCP segments are never followed through fragments
# (TCP avoids fragmenting with path MTU discovery): inline they are dropped.
cdef enum:
    FRAG_FREE = 0
    FRAG_OPEN = 1
    FRAG_BAD = 2

cdef enum:
    FRAG_FIRST = 0         # first fragment of a datagram: entry opened
    FRAG_NEXT = 1          # the next fragment in order
    FRAG_REFUSED = 2       # out of order, overlapping, or of a bad datagram

cdef enum:
    FRAG_PROBES = 8
FRAG_TIMEOUT_NS = 30 * 1000000000  # as Linux's ipfrag_time

cdef struct frag_entry:
    uint8_t src[16]
    uint8_t dst[16]
    uint64_t last_ns
    xdpfw_mstream st        # matcher stream of the datagram's payload (fdb), if any
    uint32_t ip_id
    uint32_t next_off       # IP payload offset the next fragment must start at
    uint16_t vlan, sport, dport
    uint8_t proto, state    # FRAG_*


cdef int _frag_track(Engine self, xdpfw_pkt *p, uint64_t now, frag_entry **out) noexcept nogil:
    """Place a (non-TCP) fragment in its datagram's stream; see FRAG_* above."""
    cdef uint16_t vlan = p.vlan_id[0] if p.vlan_depth else 0
    cdef uint32_t fdata = p.payload_off + p.payload_len - p.l4_off  # IP payload bytes here
    cdef uint32_t slot
    cdef frag_entry *e
    if p.frag_off == 0:
        slot = _frag_slot(self, p, vlan, now, True)
        e = &self.frags[slot]
        if e.state != FRAG_FREE and e.ip_id == p.ip_id and e.proto == p.l4_proto and e.vlan == vlan \
                and memcmp(e.src, p.src, 16) == 0 and memcmp(e.dst, p.dst, 16) == 0:
            self.cnt[C_FRAG_OVERLAPS] += 1  # a second first fragment
            _frag_bad(self, e, now)
            return FRAG_REFUSED
        if e.state == FRAG_OPEN:
            self.cnt[C_FRAG_EVICTED] += 1   # table full here: the oldest datagram goes
        _frag_release(self, e)
        memcpy(e.src, p.src, 16)
        memcpy(e.dst, p.dst, 16)
        e.ip_id = p.ip_id
        e.proto = p.l4_proto
        e.vlan = vlan
        e.sport = p.sport
        e.dport = p.dport
        e.next_off = fdata
        e.last_ns = now
        e.state = FRAG_OPEN
        self.cnt[C_FRAG_DATAGRAMS] += 1
        out[0] = e
        return FRAG_FIRST
    slot = _frag_slot(self, p, vlan, now, False)
    if slot > self.frag_mask:
        self.cnt[C_FRAG_OUT_OF_ORDER] += 1  # its first fragment was not seen (yet)
        return FRAG_REFUSED
    e = &self.frags[slot]
    if e.state == FRAG_BAD:
        self.cnt[C_FRAG_AFTER_BAD] += 1
        e.last_ns = now
        return FRAG_REFUSED
    if p.frag_off != e.next_off:
        self.cnt[C_FRAG_OVERLAPS if p.frag_off < e.next_off else C_FRAG_OUT_OF_ORDER] += 1
        _frag_bad(self, e, now)
        return FRAG_REFUSED
    e.next_off += fdata
    e.last_ns = now
    p.sport = e.sport   # a later fragment has no L4 header: it belongs to the first's flow
    p.dport = e.dport
    out[0] = e
    return FRAG_NEXT


cdef uint32_t _frag_slot(Engine self, const xdpfw_pkt *p, uint16_t vlan, uint64_t now,
                         bint create) noexcept nogil:
    """The entry of p's datagram, or with create a slot for it (free, timed out, or the
    oldest of the probe window, whose datagram is then given up). frag_mask + 1 means
    none."""
    cdef uint64_t h = (<uint64_t>p.ip_id << 16) ^ (<uint64_t>p.l4_proto << 8) ^ vlan
    cdef uint32_t i, slot, victim = self.frag_mask + 1
    cdef uint64_t oldest = 0xFFFFFFFFFFFFFFFFULL
    cdef frag_entry *e
    h = (h ^ _be64(p.src + 8) ^ (_be64(p.dst + 8) * 0x9E3779B97F4A7C15ULL)
         ^ _be64(p.src) ^ (_be64(p.dst) >> 7)) * 0xC2B2AE3D27D4EB4FULL
    h ^= h >> 31
    for i in range(FRAG_PROBES):
        slot = <uint32_t>(h + i) & self.frag_mask
        e = &self.frags[slot]
        if e.state != FRAG_FREE and now - e.last_ns > self.frag_timeout_ns:
            _frag_release(self, e)      # timed out: its datagram never completed
        if e.state != FRAG_FREE and e.ip_id == p.ip_id and e.proto == p.l4_proto \
                and e.vlan == vlan and memcmp(e.src, p.src, 16) == 0 and memcmp(e.dst, p.dst, 16) == 0:
            return slot
        if not create:
            continue
        if e.state == FRAG_FREE:
            if oldest:
                victim, oldest = slot, 0
        elif e.last_ns < oldest:
            victim, oldest = slot, e.last_ns
    return victim


cdef inline void _frag_release(Engine self, frag_entry *e) noexcept nogil:
    if e.st.flags & XDPFW_MSTREAM_OPEN:
        self.rs.fops.close(self.rs.fpool, self.rs.scratch, &e.st, NULL)
    memset(e, 0, sizeof(frag_entry))


cdef inline void _frag_bad(Engine self, frag_entry *e, uint64_t now) noexcept nogil:
    """The datagram cannot be reassembled by the receiver: refuse its other fragments
    until it times out."""
    if e.st.flags & XDPFW_MSTREAM_OPEN:
        self.rs.fops.close(self.rs.fpool, self.rs.scratch, &e.st, NULL)
    e.state = FRAG_BAD
    e.last_ns = now


cdef void _scan_fragment(Engine self, frag_entry *e, const xdpfw_pkt *p, const uint8_t *data,
                         uint32_t dlen) noexcept nogil:
    """This fragment's payload through the datagram's stream; the last one ends it."""
    cdef int rc
    cdef bint last = not (p.ip_flags & XDPFW_IP_MF)
    if self.rs.fdb != NULL and (dlen or last):
        if not (e.st.flags & XDPFW_MSTREAM_OPEN):
            rc = self.rs.fops.open(self.rs.fpool, &e.st)
            if rc != 0:
                self.cnt[C_STREAM_POOL_EMPTY if rc == XDPFW_MATCH_EPOOL else C_MATCHER_ERRORS] += 1
        if e.st.flags & XDPFW_MSTREAM_OPEN:
            self.cnt[C_SCANNED_BYTES] += dlen
            if dlen and self.rs.fops.scan(self.rs.fdb, self.rs.scratch, &e.st, data, dlen, &self.mbuf) < 0:
                self.cnt[C_MATCHER_ERRORS] += 1
            if last and self.rs.fops.close(self.rs.fpool, self.rs.scratch, &e.st, &self.mbuf) < 0:
                self.cnt[C_MATCHER_ERRORS] += 1
    if last:
        self.cnt[C_FRAG_COMPLETED] += 1
        _frag_release(self, e)
