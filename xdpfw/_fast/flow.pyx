# cython: language_level=3, embedsignature=True, boundscheck=False, wraparound=False, cdivision=True
"""Fixed-capacity flow table and the TCP in-order tracker (no reassembly).

gap_resync (replay and IDS use only; 0 = never, the inline default): after that many
consecutive gap segments in one direction, the tracker gives up waiting for the missing
bytes and restarts at the newest segment (`gap_resync`). Inline, the missing bytes always
come back (the sender retransmits what the appliance dropped), and skipping a hole would
let a later "retransmission" of it pass uninspected, so inline never resyncs. A capture,
though, may lack bytes for good (loss before the capture point); without resync every
later segment of that flow would stay uninspected.

Flows live in one pre-allocated array; a flow is found by linear probing within a window
of XDPFW_FLOW_PROBE slots from its hash (keyed with a per-table random seed, so a sender
cannot aim collisions at one slot). Entries are never unlinked, only reused in place, so
the probe window stays intact without tombstones: a lookup stops at the first slot that
was never used. A new flow takes, in this order, a never-used slot, an expired one, or
the least recently seen unverified entry (`evicted_unverified`), or the least recently seen
verified one that is not a live TCP connection (`evicted`). Verified established (or
closing) TCP connections are never evicted, only timed out. When the window holds only
those the packet gets no flow (`no_room`) and the engine applies its exception policy.

Flow-table admission (docs/EVASION.md, "Exhausting the flow table"). Inline
(`sides`), the NIC a frame came in on is checked against its flow: the initiator's
frames come in on `init_side` (the first packet's NIC; for a flow first seen at its
SYN-ACK, inline, the other one), the responder's on the other NIC. A packet of a flow from the
wrong NIC is spoofed (`wrong_side`, dropped by the engine), except an opener (a bare
SYN; any packet of another protocol) on an entry that has only ever heard one NIC: the
entry is no evidence of anything, and the opener takes it over (`side_takeover`), so an
entry planted with a spoofed address cannot block the connection it names. An entry is
*verified* when both endpoints have sent from their own NICs (for TCP inline, also: each
side acknowledged bytes the other sent, so a blind ACK completing a handshake with a
real server does not count). Until then it is evicted first, times out after
`timeout_unverified_s`, and counts against its source's share: at most `share_host`
unverified entries per source host (IPv4 /32, IPv6 /64) and `share_prefix` per prefix
(IPv4 /24, IPv6 /48) on its NIC, counted in a count-min sketch (two rows per level)
keyed with the table's random seed, so a sender cannot aim collisions at another's
cells. A source over its share gets no eviction: a new flow of it takes a never-used or
expired slot while the table is less than half full, else it is refused
(`source_share`); its entries stay evictable by everyone else. Replay (no NICs) trusts the addresses: both
directions seen is verified.

Emergency mode (after Suricata's flow emergency mode): when a new flow has to evict (or
finds no room) while the table is at least half full, the table enters emergency mode
(`emergency_entered`) and applies shorter timeouts (unverified 5 s, new 10 s,
established 100 s, closed 1 s) until EMERGENCY_HOLD_NS passed with no such creation and
fewer than half of the entries are live (and the sweep went once round the table since,
so nothing that expired under the short timeouts comes back). Each new flow also sweeps the next four
slots, so expired entries leave `active` (and their source's share) without a lookup
having to land on them.

TCP without reassembly: per direction the tracker keeps the next expected sequence
number. A segment that starts there is inspected whole; one that starts before it and
ends after it has only its new bytes inspected; one wholly before it is a retransmission
of inspected bytes; one that starts after it leaves a gap and is dropped, so the sender
retransmits in order (in-order enforcement, as inline normalizers do). A RST closes the
flow only at the next expected byte (RFC 5961); any other RST is forwarded (the host
answers it with a challenge ACK) and changes nothing here.

Insertion (xdpfw_seqrec.h): each direction keeps fingerprinted records of the ranges it
had inspected and the peer has not acknowledged yet. A retransmission, and the old part of
a partial overlap, is forwarded only if it carries the fingerprint of what was inspected
there (retransmit_conflict otherwise) and covers the records it overlaps whole
(retransmit_unverifiable otherwise); both are dropped inline, so the host never reads a
byte at a position where the engine inspected another.
"""
from cpython.mem cimport PyMem_Calloc, PyMem_Free
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcmp, memcpy, memset



cdef extern from "<sys/random.h>" nogil:
    ssize_t getrandom(void *buf, size_t buflen, unsigned int flags)

# TCP header flag bits
cdef enum:
    TH_FIN = 0x01
    TH_SYN = 0x02
    TH_RST = 0x04
    TH_ACK = 0x10

# "no slot" marker in the probe loop
cdef uint32_t NO_SLOT = 0xFFFFFFFF
cdef uint32_t FRESH_SLOT = 0xFFFFFFFE   # the free bucket a lookup found was never used (no entry yet)
cdef uint64_t NEVER = 0xFFFFFFFFFFFFFFFF

# Sequence distance beyond which a segment is not a gap but nonsense (1 GiB).
cdef enum:
    MAX_SEQ_JUMP = 1 << 30

# Emergency mode ends this long after the last creation that had to evict.
cdef uint64_t EMERGENCY_HOLD_NS = 10000000000ULL

# Slots the sweep looks at per new flow.
cdef enum:
    SWEEP = 4

# gap_resync waits this much flow time after the first gap segment (> any retransmission
# timeout after a reorder: Linux's minimum RTO is 200 ms).
cdef uint64_t GAP_RESYNC_NS = 1000000000ULL


cdef inline uint64_t _mix(uint64_t h, uint64_t w) noexcept nogil:
    h ^= w
    h *= 0x9E3779B97F4A7C15ULL
    return h ^ (h >> 29)


cdef inline uint64_t _load64(const uint8_t *p) noexcept nogil:
    cdef uint64_t v
    memcpy(&v, p, 8)  # 8 key bytes into a register, not payload
    return v


cdef inline bint _acks(const xdpfw_flow_dir *o, uint32_t ack) noexcept nogil:
    """ack acknowledges at least one sequence number direction o sent (and none beyond)."""
    cdef int32_t rel = <int32_t>(ack - o.next_seq)
    if not o.seq_known or rel > 0:
        return False
    return <uint64_t>(-<int64_t>rel) < o.stream_off + (o.origin & XDPFW_ORIGIN_SYN) + o.fin_seen


cdef class FlowTable:
    """Flows of one worker. capacity is rounded up to a power of two.

    sides: inline, check each packet's NIC against its flow (see the module docstring);
    share_host / share_prefix: unverified entries a source host / prefix may hold (-1:
    capacity / 32 (at least 16) and capacity / 8 (at least 64); 0: no limit)."""

    def __cinit__(self, uint32_t capacity=65536, *, uint64_t timeout_new_s=30,
                  uint64_t timeout_est_s=300, uint64_t timeout_tcp_est_s=600,
                  uint64_t timeout_closed_s=10, bint midstream=True, uint32_t gap_resync=0,
                  uint32_t record_chunks=0, uint32_t record_dir_chunks=64, bint enforce=True,
                  uint64_t timeout_unverified_s=30, bint sides=False,
                  int64_t share_host=-1, int64_t share_prefix=-1):
        """record_chunks: chunks of XDPFW_SEQREC_PER_CHUNK records in the worker's pool (0:
        one per two flows); record_dir_chunks: the most one direction may hold. enforce
        (inline): a partial overlap whose old part is not what was inspected is refused
        (retransmit_conflict / retransmit_unverifiable); without it (IDS) it is counted so
        and its new bytes are inspected."""
        cdef uint32_t cap = 64
        cdef uint32_t sk = 64
        while cap < capacity:
            cap <<= 1
        self.capacity = cap
        self.mask = cap - 1
        self.flows = <xdpfw_flow *>PyMem_Calloc(cap, sizeof(xdpfw_flow))
        self.bucket = <uint32_t *>PyMem_Calloc(cap, sizeof(uint32_t))
        self.nslots = 0
        if record_chunks == 0:
            record_chunks = cap // 2 if cap >= 512 else 256
        if record_dir_chunks == 0:
            raise ValueError("record_dir_chunks must be at least 1")
        self.recs = <xdpfw_seqrec_dir *>PyMem_Calloc(cap * 2, sizeof(xdpfw_seqrec_dir))
        self.chunks = <xdpfw_seqrec_chunk *>PyMem_Calloc(record_chunks + 1, sizeof(xdpfw_seqrec_chunk))
        if self.flows == NULL or self.bucket == NULL or self.recs == NULL or self.chunks == NULL:
            raise MemoryError()
        while sk < cap // 4:
            sk <<= 1
        self.sketch_mask = sk - 1
        self.sketch = <uint32_t *>PyMem_Calloc(4 * sk, sizeof(uint32_t))
        if self.sketch == NULL:
            raise MemoryError()
        self.share_host = <uint32_t>(max(16, cap // 32) if share_host < 0 else share_host)
        self.share_prefix = <uint32_t>(max(64, cap // 8) if share_prefix < 0 else share_prefix)
        self.sides = sides
        self.t_unverified = timeout_unverified_s * 1000000000ULL
        self.e_unverified = 5 * 1000000000ULL
        self.e_new = 10 * 1000000000ULL
        self.e_est = 100 * 1000000000ULL
        self.e_closed = 1000000000ULL
        self.emergency = False
        self.pressure_ns = 0
        self.refused = XDPFW_FLOW_NO_ROOM
        xdpfw_seqrec_pool_init(&self.pool, self.chunks, record_chunks + 1, record_dir_chunks)
        if getrandom(&self.seed, sizeof(self.seed), 0) != sizeof(self.seed) or \
                getrandom(self.pool.keys, sizeof(self.pool.keys), 0) != sizeof(self.pool.keys):
            raise OSError("getrandom failed")
        # Flow ids must not collide across workers (each has its own table) or restarts:
        # start at a random point of the 51 bits EVE keeps.
        self.next_id = (self.seed & ((1ULL << 50) - 1)) | 1
        self.t_new = timeout_new_s * 1000000000ULL
        self.t_est = timeout_est_s * 1000000000ULL
        self.t_tcp_est = timeout_tcp_est_s * 1000000000ULL
        self.t_closed = timeout_closed_s * 1000000000ULL
        self.midstream = midstream
        self.gap_resync = gap_resync
        self.enforce = enforce
        self.active = 0
        memset(self.events, 0, sizeof(self.events))
        memset(self.tcp_results, 0, sizeof(self.tcp_results))

    def __dealloc__(self):
        PyMem_Free(self.flows)
        PyMem_Free(self.bucket)
        PyMem_Free(self.recs)
        PyMem_Free(self.chunks)
        PyMem_Free(self.sketch)

    # ---- per packet ------------------------------------------------------------------
    cdef inline uint64_t _timeout(self, const xdpfw_flow *f) noexcept nogil:
        if f.tcp_state == XDPFW_TCP_CLOSED:
            return self.e_closed if self.emergency else self.t_closed
        if not f.verified and (self.sides or self.emergency):
            # half-open, one-sided, or a midstream pickup not yet heard from both NICs
            # (replay keeps its timeouts as they were, unless the table is under pressure)
            return self.e_unverified if self.emergency else self.t_unverified
        if f.tcp_state == XDPFW_TCP_ESTABLISHED or f.tcp_state == XDPFW_TCP_CLOSING:
            return self.e_est if self.emergency else self.t_tcp_est
        if f.key.proto != 6 and f.dir[0].packets and f.dir[1].packets:
            return self.e_est if self.emergency else self.t_est
        return self.e_new if self.emergency else self.t_new

    cdef inline bint _expired(self, const xdpfw_flow *f, uint64_t now) noexcept nogil:
        # A clock that steps back (capture timestamps out of order) never expires a flow.
        return now > f.last_ns and now - f.last_ns > self._timeout(f)

    cdef xdpfw_flow *lookup(self, const uint8_t *src, const uint8_t *dst, uint16_t sport,
                            uint16_t dport, uint8_t proto, uint16_t vlan, uint64_t now,
                            int *direction, uint32_t side) noexcept nogil:
        """The flow of this packet, created if new; NULL when no entry can be had (why in
        self.refused: XDPFW_FLOW_NO_ROOM or XDPFW_FLOW_SHARE_REFUSED). *direction is
        XDPFW_DIR_TOSERVER when the sender is the flow's initiator; side: the NIC the
        packet came in on (a new flow's init_side). Call admit() next."""
        cdef xdpfw_flow_key key
        cdef int c
        cdef bint src_is_a, full = False
        cdef uint64_t h
        cdef uint32_t i, b, free_b = 0, slot, free_slot = NO_SLOT, victim = NO_SLOT, unv = NO_SLOT
        cdef uint64_t victim_seen = NEVER, unv_seen = NEVER
        cdef uint32_t cells[4]
        cdef xdpfw_flow *f
        c = memcmp(src, dst, 16)
        src_is_a = c < 0 or (c == 0 and sport <= dport)
        if src_is_a:
            memcpy(key.addr_a, src, 16)
            memcpy(key.addr_b, dst, 16)
            key.port_a = sport
            key.port_b = dport
        else:
            memcpy(key.addr_a, dst, 16)
            memcpy(key.addr_b, src, 16)
            key.port_a = dport
            key.port_b = sport
        key.vlan = vlan
        key.proto = proto
        key.pad = 0
        h = self.seed
        h = _mix(h, _load64(key.addr_a))
        h = _mix(h, _load64(key.addr_a + 8))
        h = _mix(h, _load64(key.addr_b))
        h = _mix(h, _load64(key.addr_b + 8))
        h = _mix(h, (<uint64_t>key.port_a << 32) | (<uint64_t>key.port_b << 16) | key.vlan)
        h = _mix(h, proto)

        for i in range(XDPFW_FLOW_PROBE):
            b = <uint32_t>(h + i) & self.mask
            if self.bucket[b] == 0:
                if free_slot == NO_SLOT:
                    free_b = b
                    free_slot = FRESH_SLOT
                break  # never used: the key cannot be further along
            slot = self.bucket[b] - 1
            f = &self.flows[slot]
            if f.hash == <uint32_t>h and memcmp(&f.key, &key, sizeof(key)) == 0:
                if self._expired(f, now):
                    self._share_cells(src, side, cells)
                    if self._share_full(cells) and self.active * 2 >= self.capacity:
                        # the entry stays as it is (expired); the packet gets none
                        self.events[XDPFW_FLOW_SHARE_REFUSED] += 1
                        self.refused = XDPFW_FLOW_SHARE_REFUSED
                        return NULL
                    self._reclaim(f, XDPFW_FLOW_TIMED_OUT)
                    self._init(f, &key, <uint32_t>h, src_is_a, now)
                    f.init_side = <uint8_t>side
                    self._share_take(f, cells)
                    self.events[XDPFW_FLOW_CREATED] += 1
                    self.active += 1
                if now > f.last_ns:
                    f.last_ns = now
                direction[0] = XDPFW_DIR_TOSERVER if (src_is_a == f.init_is_a) else XDPFW_DIR_TOCLIENT
                return f
            if self._expired(f, now):
                if free_slot == NO_SLOT:
                    free_slot = slot
            elif not f.verified:
                if f.last_ns < unv_seen:
                    unv = slot
                    unv_seen = f.last_ns
            elif f.tcp_state != XDPFW_TCP_ESTABLISHED and f.tcp_state != XDPFW_TCP_CLOSING \
                    and f.last_ns < victim_seen:
                victim = slot
                victim_seen = f.last_ns

        self._share_cells(src, side, cells)
        if self._share_full(cells) and (free_slot == NO_SLOT or self.active * 2 >= self.capacity):
            # over its share: a free or expired slot while the table is less than half
            # full, never an eviction (its own entries stay evictable by everyone else)
            self.events[XDPFW_FLOW_SHARE_REFUSED] += 1
            self.refused = XDPFW_FLOW_SHARE_REFUSED
            return NULL
        if free_slot == FRESH_SLOT:
            # a bucket never used: it gets the next entry, for good (entries stay dense, so
            # the memory a worker touches follows the flows it has seen, not the capacity)
            self.nslots += 1
            self.bucket[free_b] = self.nslots
            f = &self.flows[self.nslots - 1]
        elif free_slot != NO_SLOT:
            f = &self.flows[free_slot]
            if f.used:
                self._reclaim(f, XDPFW_FLOW_TIMED_OUT)
        elif unv != NO_SLOT:
            # unverified and half-open entries go first: a one-sided flood evicts itself
            f = &self.flows[unv]
            self._reclaim(f, XDPFW_FLOW_EVICTED_UNVERIFIED)
            full = True
        elif victim != NO_SLOT:
            f = &self.flows[victim]
            self._reclaim(f, XDPFW_FLOW_EVICTED)
            full = True
        else:
            self.events[XDPFW_FLOW_NO_ROOM] += 1
            self.refused = XDPFW_FLOW_NO_ROOM
            self._pressure(True, now)
            return NULL
        self._init(f, &key, <uint32_t>h, src_is_a, now)
        f.init_side = <uint8_t>side
        self._share_take(f, cells)
        self.events[XDPFW_FLOW_CREATED] += 1
        self.active += 1
        self._sweep(now)
        self._pressure(full, now)
        direction[0] = XDPFW_DIR_TOSERVER
        return f

    cdef int admit(self, xdpfw_flow *f, int *direction, uint32_t side, uint8_t flags,
                   uint32_t ack, uint64_t now) noexcept nogil:
        """A packet lookup() found (or made) the flow for, before anything counts it: 0 to
        go on, 1 when it came in on the wrong NIC for its direction (spoofed: drop it,
        nothing of the flow changed). flags and ack: the TCP header's (0 otherwise).
        Inline (self.sides) it checks the NIC; it may reverse a flow first seen at its
        SYN-ACK, or hand a one-sided entry to an opener from the other NIC (*direction
        follows); and it marks the flow verified when it is."""
        cdef int d = direction[0]
        cdef bint tcp = f.key.proto == 6
        cdef bint src_is_a
        cdef xdpfw_flow_key key
        cdef uint32_t h
        cdef uint32_t cells[4]
        if self.sides and tcp and f.dir[0].packets == 0 and f.dir[1].packets == 0 and \
                (flags & (TH_SYN | TH_ACK | TH_RST)) == (TH_SYN | TH_ACK):
            # The first packet seen is a SYN-ACK: its sender is the responder, and the
            # initiator (who sent the SYN) sends from the other NIC. (Inline only: replay
            # keeps the first sender as the initiator, as it always did.)
            f.init_is_a = not f.init_is_a
            f.init_side = <uint8_t>(side ^ 1)
            d = XDPFW_DIR_TOCLIENT
            direction[0] = d
            # the share is the initiator's, on its side: a forged SYN-ACK "from" a server
            # charges the address it is sent to, never the server's own
            if f.share_held:
                self._share_release(f)
                self._share_cells(<const uint8_t *>(&f.key.addr_a[0] if f.init_is_a else &f.key.addr_b[0]),
                                  f.init_side, cells)
                self._share_take(f, cells)
        if self.sides and (f.init_side ^ <uint32_t>d) != side:
            if not f.verified and (f.dir[0].packets == 0 or f.dir[1].packets == 0) and \
                    (not tcp or (flags & (TH_SYN | TH_ACK | TH_RST)) == TH_SYN):
                # Only one NIC was ever heard on this entry: it proves nothing. An opener
                # from the other NIC starts the flow afresh, its sender the initiator.
                src_is_a = f.init_is_a if d == XDPFW_DIR_TOSERVER else not f.init_is_a
                self._share_release(f)
                key = f.key
                h = f.hash
                self._init(f, &key, h, src_is_a, now)
                f.init_side = <uint8_t>side
                self._share_cells(<const uint8_t *>(&key.addr_a[0] if src_is_a else &key.addr_b[0]), side, cells)
                self._share_take(f, cells)
                self.events[XDPFW_FLOW_TAKEOVER] += 1
                direction[0] = XDPFW_DIR_TOSERVER
                return 0
            self.events[XDPFW_FLOW_WRONG_SIDE] += 1
            return 1
        if not f.verified and f.dir[d ^ 1].packets:
            # both endpoints have now sent, each from its own NIC; inline, each side of a
            # TCP flow must also have acknowledged something the other one sent (a real
            # server's SYN-ACK to a spoofed SYN, then a blind ACK, proves nothing of the
            # spoofed client)
            if tcp and self.sides:
                if (flags & TH_ACK) and _acks(&f.dir[d ^ 1], ack):
                    f.acked |= <uint8_t>(1 << d)
                if f.acked == 3:
                    self._verify(f)
            else:
                self._verify(f)
        return 0

    cdef void _verify(self, xdpfw_flow *f) noexcept nogil:
        f.verified = 1
        self._share_release(f)
        self.events[XDPFW_FLOW_VERIFIED] += 1

    cdef void _pressure(self, bint full, uint64_t now) noexcept nogil:
        """Emergency mode: entered when a creation had to evict (or found no room) with the
        table at least half full; left once EMERGENCY_HOLD_NS passed since the last such
        creation, fewer than half of the entries are live and the sweep went round the table."""
        if full:
            self.pressure_ns = now
            self.swept_since = 0
            if not self.emergency and self.active * 2 >= self.capacity:
                self.emergency = True
                self.events[XDPFW_FLOW_EMERGENCY] += 1
        elif self.emergency and now > self.pressure_ns and now - self.pressure_ns > EMERGENCY_HOLD_NS \
                and self.active * 2 < self.capacity and self.swept_since >= self.nslots:
            # (a whole sweep since: every entry that expired under the short timeouts is
            # accounted for and stays expired when the normal timeouts return)
            self.emergency = False

    # ---- source share: a count-min sketch of unverified entries per host and prefix ----
    cdef void _share_cells(self, const uint8_t *addr, uint32_t side, uint32_t *cells) noexcept nogil:
        """The sketch cells of an initiator's address on a NIC: two rows for its host (IPv4
        /32, IPv6 /64), two for its prefix (IPv4 /24, IPv6 /48), hashed with the table's
        seed. The NIC is part of the key (inline): a sender on one side, spoofing an
        address of the other, charges that address's share on its own side only."""
        cdef bint v4 = _load64(addr) == 0 and addr[8] == 0 and addr[9] == 0 and \
            addr[10] == 0xFF and addr[11] == 0xFF
        cdef uint64_t host, pfx, hh, ph
        cdef uint32_t n = self.sketch_mask + 1
        if v4:
            host = (<uint64_t>addr[12] << 24) | (<uint64_t>addr[13] << 16) | \
                (<uint64_t>addr[14] << 8) | addr[15]
            pfx = host >> 8
        else:
            host = _load64(addr)
            pfx = host & 0x0000FFFFFFFFFFFFULL   # the first 6 bytes, as loaded (little endian)
        if not self.sides:
            side = 0
        hh = _mix(_mix(_mix(self.seed, 0x5EED0001ULL + v4 + (<uint64_t>side << 8)), host), 0x9E3779B97F4A7C15ULL)
        ph = _mix(_mix(_mix(self.seed, 0x5EED0011ULL + v4 + (<uint64_t>side << 8)), pfx), 0x9E3779B97F4A7C15ULL)
        cells[0] = <uint32_t>(hh & self.sketch_mask)
        cells[1] = n + <uint32_t>((hh >> 32) & self.sketch_mask)
        cells[2] = 2 * n + <uint32_t>(ph & self.sketch_mask)
        cells[3] = 3 * n + <uint32_t>((ph >> 32) & self.sketch_mask)

    cdef bint _share_full(self, const uint32_t *cells) noexcept nogil:
        cdef uint32_t *k = self.sketch
        if self.share_host and min(k[cells[0]], k[cells[1]]) >= self.share_host:
            return True
        return self.share_prefix != 0 and min(k[cells[2]], k[cells[3]]) >= self.share_prefix

    cdef void _share_take(self, xdpfw_flow *f, const uint32_t *cells) noexcept nogil:
        cdef int i
        if self.share_host == 0 and self.share_prefix == 0:
            return
        for i in range(4):
            f.share_cell[i] = cells[i]
            self.sketch[cells[i]] += 1
        f.share_held = 1

    cdef void _share_release(self, xdpfw_flow *f) noexcept nogil:
        cdef int i
        if f.share_held:
            for i in range(4):
                self.sketch[f.share_cell[i]] -= 1
            f.share_held = 0

    cdef inline void _reclaim(self, xdpfw_flow *f, int why) noexcept nogil:
        if not f.swept:        # a swept entry was accounted for when it was swept
            if why == XDPFW_FLOW_TIMED_OUT and f.tcp_state == XDPFW_TCP_CLOSED:
                why = XDPFW_FLOW_CLOSED
            self.events[why] += 1
            self.active -= 1
            self._share_release(f)
        f.used = 0

    cdef void _sweep(self, uint64_t now) noexcept nogil:
        """Each new flow looks at the next SWEEP slots: an expired entry there is accounted
        for (timed out, out of `active` and of its source's share) and left linked (its
        key stays, so probe windows stay intact; lookups treat it as free). Without it,
        expired entries would count as active until a lookup happens to probe them."""
        cdef uint32_t i
        cdef xdpfw_flow *f
        if self.swept_since < self.nslots and now > self.pressure_ns and \
                now - self.pressure_ns > EMERGENCY_HOLD_NS:
            # counted once the hold has passed: by then every unverified entry of the
            # pressure's time has expired under the short timeouts, so a whole round of
            # the sweep accounts for all of them before the normal timeouts return
            self.swept_since += SWEEP
        for i in range(SWEEP):
            if self.sweep_at >= self.nslots:
                self.sweep_at = 0     # round the entries handed out (there is one: ours)
            f = &self.flows[self.sweep_at]
            self.sweep_at += 1
            if f.used and not f.swept and self._expired(f, now):
                self._reclaim(f, XDPFW_FLOW_TIMED_OUT)
                f.used = 1
                f.swept = 1
                f.last_ns = 0      # expired from now on, whatever the timeout

    cdef inline void _init(self, xdpfw_flow *f, const xdpfw_flow_key *key, uint32_t h,
                           bint src_is_a, uint64_t now) noexcept nogil:
        cdef size_t slot = f - self.flows
        xdpfw_seqrec_reset(&self.pool, &self.recs[slot * 2], 0)      # chunks back to the pool
        xdpfw_seqrec_reset(&self.pool, &self.recs[slot * 2 + 1], 0)
        self.recs[slot * 2].ttl = 0
        self.recs[slot * 2 + 1].ttl = 0
        memset(f, 0, sizeof(xdpfw_flow))
        f.key = key[0]
        f.hash = h
        f.used = 1
        f.init_is_a = src_is_a   # the first packet's sender is the initiator
        f.flow_id = self.next_id
        self.next_id += 1
        f.first_ns = now
        f.last_ns = now

    cdef int tcp_track(self, xdpfw_flow *f, int direction, uint32_t seq, uint32_t ack,
                       uint8_t flags, const uint8_t *data, uint32_t plen,
                       uint32_t *skip) noexcept nogil:
        """Classify one TCP segment (enum xdpfw_tcp_result) and advance the flow's state.
        For in_order, partial_overlap, midstream and gap_resync, bytes [*skip, plen) of the
        payload are new and must be inspected (after gap_resync on a restarted matcher
        stream); for gap, out_of_window, retransmit_conflict and retransmit_unverifiable
        the segment must be dropped. data: the plen payload bytes (fingerprinted, not
        copied)."""
        cdef xdpfw_flow_dir *d = &f.dir[direction]
        cdef xdpfw_flow_dir *o = &f.dir[direction ^ 1]
        cdef size_t slot = f - self.flows
        cdef xdpfw_seqrec_dir *r = &self.recs[slot * 2 + direction]
        cdef xdpfw_seqrec_dir *orec = &self.recs[slot * 2 + (direction ^ 1)]
        cdef int32_t rel, end_rel
        cdef int res
        skip[0] = 0

        if (flags & TH_ACK) and o.seq_known and ack != orec.una and \
                xdpfw_seq_before(orec.una, ack) and xdpfw_seq_le(ack, o.next_seq):
            # The peer has everything before ack: its records are done with. An ACK beyond
            # what was forwarded acknowledges nothing (the sender ignores it too).
            xdpfw_seqrec_release(&self.pool, orec, ack)

        if flags & TH_RST:
            # RFC 5961 3.2, as Linux applies it: a reset is honoured only at the next byte
            # the receiver expects (what this tracker forwarded in order is exactly what
            # the receiver has). Any other reset is answered by a challenge ACK and leaves
            # the connection open, so it must not close the flow here either: a forged
            # out-of-sequence RST would otherwise end the appliance's view of a live
            # connection (open application-layer instances ended, a 10 s closed timeout,
            # then a midstream pickup with a fresh matcher stream) while the host goes on.
            if d.seq_known and seq != d.next_seq:
                return self._count(XDPFW_SEG_RST_IGNORED)
            f.tcp_state = XDPFW_TCP_CLOSED
            return self._count(XDPFW_SEG_NO_DATA)

        if flags & TH_SYN:
            if d.seq_known and seq + 1 != d.next_seq and \
                    (f.tcp_state == XDPFW_TCP_ESTABLISHED or f.tcp_state == XDPFW_TCP_CLOSING):
                # RFC 5961 4.2: a SYN inside a live connection gets a challenge ACK from the
                # host and changes nothing there; re-basing the expected sequence on it
                # would turn the connection's next real bytes into "retransmissions"
                # forwarded uninspected.
                return self._count(XDPFW_SEG_SYN_IGNORED)
            if self.reuses(f, direction, seq, flags):
                # A new connection reusing the 5-tuple of a finished one (the engine
                # restarts the flow before tracking; this keeps the table alone correct).
                memset(&f.dir[0], 0, sizeof(xdpfw_flow_dir) * 2)
                f.tcp_state = XDPFW_TCP_NONE
                f.midstream = 0
                xdpfw_seqrec_reset(&self.pool, orec, 0)
            if not d.seq_known or seq + 1 != d.next_seq:
                d.next_seq = seq + 1   # SYN occupies one sequence number
                d.seq_known = 1
                d.origin = XDPFW_ORIGIN_SYN
                xdpfw_seqrec_reset(&self.pool, r, seq + 1)
            if flags & TH_ACK:
                if f.tcp_state < XDPFW_TCP_SYN_RECV:
                    f.tcp_state = XDPFW_TCP_SYN_RECV
            elif f.tcp_state == XDPFW_TCP_NONE:
                f.tcp_state = XDPFW_TCP_SYN_SENT
            if plen == 0:
                return self._count(XDPFW_SEG_NO_DATA)
            seq += 1  # TCP Fast Open style data after the SYN

        if not d.seq_known:
            if not self.midstream:
                return self._count(XDPFW_SEG_GAP)
            d.next_seq = seq
            d.seq_known = 1
            f.midstream = 1
            if f.tcp_state == XDPFW_TCP_NONE:
                f.tcp_state = XDPFW_TCP_ESTABLISHED
            res = XDPFW_SEG_MIDSTREAM
            xdpfw_seqrec_reset(&self.pool, r, seq)
            if plen:
                xdpfw_seqrec_append(&self.pool, r, seq + plen,
                                    xdpfw_seqrec_fp(self.pool.keys, seq, data, plen))
            d.next_seq += plen
            d.stream_off += plen
        else:
            if f.tcp_state == XDPFW_TCP_SYN_RECV and (flags & TH_ACK) and not (flags & TH_SYN) \
                    and direction == XDPFW_DIR_TOSERVER:
                f.tcp_state = XDPFW_TCP_ESTABLISHED
            rel = <int32_t>(seq - d.next_seq)
            if plen == 0:
                res = XDPFW_SEG_NO_DATA if rel <= 0 or not (flags & TH_FIN) else XDPFW_SEG_GAP
            elif rel == 0:
                res = XDPFW_SEG_IN_ORDER
                xdpfw_seqrec_append(&self.pool, r, seq + plen,
                                    xdpfw_seqrec_fp(self.pool.keys, seq, data, plen))
                d.next_seq += plen
                d.stream_off += plen
            elif rel < 0:
                end_rel = rel + <int32_t>plen
                if not (d.origin & XDPFW_ORIGIN_RESYNCED) and <uint64_t>(-<int64_t>rel) > \
                        d.stream_off + (d.origin & XDPFW_ORIGIN_SYN) + d.fin_seen:
                    # starts before the direction's first sequence number (its SYN, or
                    # the first segment of a midstream pickup): not a retransmission but
                    # bytes from outside the stream, which were never inspected
                    res = XDPFW_SEG_WINDOW
                elif end_rel <= 0:
                    res = self._retransmitted(r, seq, data, plen)
                else:
                    # the old part must be what was inspected there; the rest is new
                    res = self._retransmitted(r, seq, data, <uint32_t>(-rel))
                    if res != XDPFW_SEG_RETRANSMIT and not self.enforce:
                        # IDS: which copy the host kept is unknowable; counted, and the
                        # new bytes are inspected as before (the segment counts twice)
                        self.tcp_results[res] += 1
                        res = XDPFW_SEG_RETRANSMIT
                    if res == XDPFW_SEG_RETRANSMIT:
                        res = XDPFW_SEG_OVERLAP
                        skip[0] = <uint32_t>(-rel)
                        xdpfw_seqrec_append(&self.pool, r, d.next_seq + <uint32_t>end_rel,
                                            xdpfw_seqrec_fp(self.pool.keys, d.next_seq,
                                                            data + skip[0], <uint32_t>end_rel))
                        d.next_seq += <uint32_t>end_rel
                        d.stream_off += <uint32_t>end_rel
            elif rel > MAX_SEQ_JUMP:
                res = XDPFW_SEG_WINDOW
            elif self.gap_resync and d.gap_run + 1 >= self.gap_resync and \
                    f.last_ns - d.gap_since >= GAP_RESYNC_NS:
                # Replay/IDS only: nobody will retransmit what the capture lacks. Skip
                # to this segment; the matcher stream restarts (nothing spans a hole).
                # Only after N gap segments over at least GAP_RESYNC_NS of flow time: a
                # reordered burst whose hole is retransmitted within a round trip must
                # not be mistaken for capture loss.
                res = XDPFW_SEG_RESYNC
                xdpfw_seqrec_reset(&self.pool, r, seq)
                xdpfw_seqrec_append(&self.pool, r, seq + plen,
                                    xdpfw_seqrec_fp(self.pool.keys, seq, data, plen))
                d.next_seq = seq + plen
                d.stream_off += plen
                d.gap_run = 0
                d.origin |= XDPFW_ORIGIN_RESYNCED
            else:
                res = XDPFW_SEG_GAP
                if d.gap_run == 0:
                    d.gap_since = f.last_ns
                if d.gap_run < 255:
                    d.gap_run += 1
        if res == XDPFW_SEG_IN_ORDER or res == XDPFW_SEG_OVERLAP:
            d.gap_run = 0

        if (flags & TH_FIN) and (res == XDPFW_SEG_IN_ORDER or res == XDPFW_SEG_OVERLAP or
                                 res == XDPFW_SEG_NO_DATA or res == XDPFW_SEG_MIDSTREAM or
                                 res == XDPFW_SEG_RESYNC) \
                and not d.fin_seen and seq + plen == d.next_seq:
            d.next_seq += 1  # FIN occupies one sequence number
            d.fin_seen = 1
            f.tcp_state = XDPFW_TCP_CLOSED if o.fin_seen else XDPFW_TCP_CLOSING
        return self._count(res)

    cdef inline uint8_t *dir_ttl(self, xdpfw_flow *f, int direction) noexcept nogil:
        """The highest TTL / hop limit this direction has shown (engine normalisation)."""
        return &self.recs[(f - self.flows) * 2 + direction].ttl

    cdef int _retransmitted(self, xdpfw_seqrec_dir *r, uint32_t seq, const uint8_t *data,
                            uint32_t len) noexcept nogil:
        """Bytes already inspected, sent again: forwarded only if they are the same."""
        cdef int v = xdpfw_seqrec_verify(&self.pool, r, seq, data, len)
        if v == XDPFW_SEQREC_SAME:
            return XDPFW_SEG_RETRANSMIT
        return XDPFW_SEG_CONFLICT if v == XDPFW_SEQREC_CONFLICT else XDPFW_SEG_UNVERIFIABLE

    cdef inline bint reuses(self, const xdpfw_flow *f, int direction, uint32_t seq,
                            uint8_t flags) noexcept nogil:
        """A SYN that opens a new connection on the 5-tuple of a finished one: the flow is
        closed (RST at the next expected byte, or FINs both ways) and the SYN is not a
        retransmission of the old one's. Only CLOSED: after one FIN the other side may
        still send, and its host answers a SYN with a challenge ACK (RFC 5961 4.2)."""
        cdef const xdpfw_flow_dir *d = &f.dir[direction]
        return (flags & (TH_SYN | TH_ACK)) == TH_SYN and f.tcp_state == XDPFW_TCP_CLOSED \
            and not (d.seq_known and seq + 1 == d.next_seq)

    cdef int restart(self, xdpfw_flow *f, int direction, uint64_t now) noexcept nogil:
        """A SYN reusing the 5-tuple of a finished TCP connection: a new flow in the same
        slot (new id, its sender the initiator, nothing of the old connection kept - TCP
        state, flowbits, drop mark, detected protocol). Returns the packet's direction in
        the new flow (to_server)."""
        cdef xdpfw_flow_key key = f.key
        cdef uint32_t h = f.hash
        cdef bint src_is_a = f.init_is_a if direction == XDPFW_DIR_TOSERVER else not f.init_is_a
        cdef uint8_t side = f.init_side ^ <uint8_t>direction   # the SYN's sender's NIC
        cdef uint32_t cells[4]
        self.events[XDPFW_FLOW_CLOSED] += 1
        self.events[XDPFW_FLOW_CREATED] += 1
        self._share_release(f)
        self._init(f, &key, h, src_is_a, now)
        f.init_side = side
        self._share_cells(<const uint8_t *>(&key.addr_a[0] if src_is_a else &key.addr_b[0]), side, cells)
        self._share_take(f, cells)
        return XDPFW_DIR_TOSERVER

    cdef inline int _count(self, int res) noexcept nogil:
        self.tcp_results[res] += 1
        return res

    # ---- control plane and tests (Python objects allowed) ---------------------------------
    @property
    def size(self):
        return self.capacity

    def counters(self):
        return {"active": self.active, "emergency": bool(self.emergency),
                "events": [self.events[i] for i in range(XDPFW_FLOW_EVENT_MAX)],
                "tcp": [self.tcp_results[i] for i in range(XDPFW_TCP_RESULT_MAX)],
                "records": {"chunks": self.pool.nchunks - 1, "chunks_in_use": self.pool.in_use,
                            "merged": self.pool.merged}}

    def records(self, uint32_t slot, int direction):
        """Test entry: where a direction's records start (una) and end (top), and the pool
        chunks it holds."""
        cdef xdpfw_seqrec_dir *r = &self.recs[(slot & self.mask) * 2 + (direction & 1)]
        return {"una": r.una, "top": xdpfw_seqrec_top(&self.pool, r), "chunks": r.nchunks}

    def share_count(self, bytes addr, int side=0):
        """Unverified entries the sketch holds for addr's host and prefix on NIC side
        (estimates: the minimum of each level's two cells)."""
        cdef uint32_t cells[4]
        if len(addr) != 16:
            raise ValueError("addresses are 16 bytes (IPv4 as ::ffff:a.b.c.d)")
        self._share_cells(addr, side, cells)
        return (min(self.sketch[cells[0]], self.sketch[cells[1]]),
                min(self.sketch[cells[2]], self.sketch[cells[3]]))

    def unverified(self):
        """Entries in use that are not verified (a scan of the table: tests and tools)."""
        cdef uint32_t i, n = 0
        for i in range(self.nslots):
            if self.flows[i].used and not self.flows[i].verified:
                n += 1
        return n

    def packet(self, bytes src, bytes dst, int sport, int dport, int proto, int vlan=0, *,
               uint64_t now_ns, uint32_t seq=0, int flags=TH_ACK, uint32_t plen=0,
               bytes payload=None, uint32_t ack=0, int side=0):
        """Test/tool entry: look up (creating) the flow of one packet, admit it from NIC
        `side` and, for TCP, track it (payload: its bytes; without it, plen zero bytes).
        Returns a dict; None when the table had no entry for it; {"wrong_side": True}
        when admission refused it."""
        cdef int direction = 0
        cdef uint32_t skip = 0
        cdef int res = -1
        cdef xdpfw_flow *f
        cdef const uint8_t *data
        if len(src) != 16 or len(dst) != 16:
            raise ValueError("addresses are 16 bytes (IPv4 as ::ffff:a.b.c.d)")
        if payload is None:
            payload = bytes(plen)
        plen = len(payload)
        data = payload
        f = self.lookup(src, dst, sport, dport, proto, vlan, now_ns, &direction, side)
        if f == NULL:
            return None
        if self.admit(f, &direction, side, flags if proto == 6 else 0, ack, now_ns) != 0:
            return {"wrong_side": True, "slot": <size_t>(f - self.flows), "flow_id": f.flow_id}
        f.dir[direction].packets += 1
        f.dir[direction].bytes += plen
        if proto == 6:
            res = self.tcp_track(f, direction, seq, ack, flags, data, plen, &skip)
        return {"slot": <size_t>(f - self.flows), "flow_id": f.flow_id, "direction": direction,
                "result": res, "skip": skip, "state": f.tcp_state,
                "next_seq": [f.dir[0].next_seq, f.dir[1].next_seq],
                "stream_off": [f.dir[0].stream_off, f.dir[1].stream_off],
                "midstream": bool(f.midstream), "verified": bool(f.verified),
                "init_side": f.init_side, "wrong_side": False}


# Constants and label tables as the C compiler saw them.
DIR_TOSERVER = XDPFW_DIR_TOSERVER
DIR_TOCLIENT = XDPFW_DIR_TOCLIENT
FLOW_ENTRY_SIZE = sizeof(xdpfw_flow)
RECORD_DIR_SIZE = sizeof(xdpfw_seqrec_dir)
RECORD_CHUNK_SIZE = sizeof(xdpfw_seqrec_chunk)
RECORDS_PER_CHUNK = XDPFW_SEQREC_PER_CHUNK
PROBE = XDPFW_FLOW_PROBE
TCP_RESULT_MAX = XDPFW_TCP_RESULT_MAX
FLOW_EVENT_MAX = XDPFW_FLOW_EVENT_MAX
TCP_STATE_MAX = XDPFW_TCP_STATE_MAX
EMERGENCY_HOLD_S = EMERGENCY_HOLD_NS / 1e9
