# Declarations of the flow table (flow.pyx) for other Cython modules (the engine cimports
# FlowTable and calls lookup/tcp_track at C speed).
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

cdef extern from "xdpfw_flow.h" nogil:
    enum:
        XDPFW_DIR_TOSERVER
        XDPFW_DIR_TOCLIENT
    enum:  # enum xdpfw_tcp_state
        XDPFW_TCP_NONE
        XDPFW_TCP_SYN_SENT
        XDPFW_TCP_SYN_RECV
        XDPFW_TCP_ESTABLISHED
        XDPFW_TCP_CLOSING
        XDPFW_TCP_CLOSED
        XDPFW_TCP_STATE_MAX
    enum:  # enum xdpfw_tcp_result
        XDPFW_SEG_IN_ORDER
        XDPFW_SEG_OVERLAP
        XDPFW_SEG_RETRANSMIT
        XDPFW_SEG_GAP
        XDPFW_SEG_NO_DATA
        XDPFW_SEG_MIDSTREAM
        XDPFW_SEG_WINDOW
        XDPFW_SEG_RESYNC
        XDPFW_SEG_RST_IGNORED
        XDPFW_SEG_SYN_IGNORED
        XDPFW_SEG_CONFLICT
        XDPFW_SEG_UNVERIFIABLE
        XDPFW_TCP_RESULT_MAX
    enum:  # xdpfw_flow_dir.origin bits
        XDPFW_ORIGIN_SYN
        XDPFW_FLOW_S_NO_PAYLOAD
        XDPFW_FLOW_S_BYPASS
        XDPFW_ORIGIN_RESYNCED
    enum:  # enum xdpfw_flow_event
        XDPFW_FLOW_CREATED
        XDPFW_FLOW_TIMED_OUT
        XDPFW_FLOW_EVICTED
        XDPFW_FLOW_NO_ROOM
        XDPFW_FLOW_CLOSED
        XDPFW_FLOW_EVICTED_UNVERIFIED
        XDPFW_FLOW_WRONG_SIDE
        XDPFW_FLOW_TAKEOVER
        XDPFW_FLOW_SHARE_REFUSED
        XDPFW_FLOW_VERIFIED
        XDPFW_FLOW_EMERGENCY
        XDPFW_FLOW_EVENT_MAX

    struct xdpfw_flow_key:
        uint8_t addr_a[16]
        uint8_t addr_b[16]
        uint16_t port_a
        uint16_t port_b
        uint16_t vlan
        uint8_t proto
        uint8_t pad

    struct xdpfw_flow_dir:
        uint64_t packets
        uint64_t bytes
        uint64_t stream_off
        uint32_t next_seq
        uint8_t seq_known
        uint8_t fin_seen
        uint8_t gap_run
        uint8_t origin
        uint64_t gap_since

    struct xdpfw_flow:
        xdpfw_flow_key key
        uint64_t flow_id
        uint64_t first_ns
        uint64_t last_ns
        xdpfw_flow_dir dir[2]
        uint64_t flowbits[2]
        uint32_t hash
        uint8_t used
        uint8_t init_is_a
        uint8_t tcp_state
        uint8_t app_proto
        uint8_t midstream
        uint8_t drop
        uint8_t hdr_rules[2]
        uint8_t settled
        # flow-table admission
        uint32_t share_cell[4]
        uint8_t init_side
        uint8_t verified
        uint8_t share_held
        uint8_t acked
        uint8_t swept

cdef extern from "xdpfw_seqrec.h" nogil:
    enum:
        XDPFW_SEQREC_PER_CHUNK
        XDPFW_SEQREC_KEYS
        XDPFW_SEQREC_SAME
        XDPFW_SEQREC_CONFLICT
        XDPFW_SEQREC_UNVERIFIABLE
    struct xdpfw_seqrec_chunk:
        pass
    struct xdpfw_seqrec_dir:
        uint32_t una
        uint32_t head
        uint16_t nchunks
        uint8_t has_last
        uint8_t ttl
        uint32_t last_end
    struct xdpfw_seqrec_pool:
        uint32_t nchunks
        uint32_t in_use
        uint32_t dir_cap
        uint64_t merged
        uint64_t keys[XDPFW_SEQREC_KEYS]
    bint xdpfw_seq_before(uint32_t a, uint32_t b)
    bint xdpfw_seq_le(uint32_t a, uint32_t b)
    void xdpfw_seqrec_pool_init(xdpfw_seqrec_pool *p, xdpfw_seqrec_chunk *chunks, uint32_t n,
                                uint32_t dir_cap)
    uint64_t xdpfw_seqrec_fp(const uint64_t *keys, uint32_t seq, const uint8_t *data, uint32_t len)
    void xdpfw_seqrec_reset(xdpfw_seqrec_pool *p, xdpfw_seqrec_dir *d, uint32_t una)
    uint32_t xdpfw_seqrec_top(const xdpfw_seqrec_pool *p, const xdpfw_seqrec_dir *d)
    void xdpfw_seqrec_append(xdpfw_seqrec_pool *p, xdpfw_seqrec_dir *d, uint32_t end, uint64_t h)
    void xdpfw_seqrec_release(xdpfw_seqrec_pool *p, xdpfw_seqrec_dir *d, uint32_t ack)
    int xdpfw_seqrec_verify(const xdpfw_seqrec_pool *p, const xdpfw_seqrec_dir *d, uint32_t seq,
                            const uint8_t *data, uint32_t len)

# Slots a flow may be placed away from its hash (linear probing window).
cdef enum:
    XDPFW_FLOW_PROBE = 16

cdef class FlowTable:
    cdef xdpfw_flow *flows            # entries, handed out in first-use order (dense)
    cdef uint32_t *bucket             # hash bucket -> its entry's index + 1 (0: never used)
    cdef readonly uint32_t nslots     # entries handed out so far (flows[0, nslots) only)
    cdef uint32_t capacity
    cdef uint32_t mask
    cdef uint64_t seed
    cdef uint64_t next_id
    cdef uint64_t t_new, t_est, t_tcp_est, t_closed
    cdef bint midstream
    cdef uint32_t gap_resync
    cdef bint enforce
    cdef readonly uint64_t active
    cdef uint64_t events[XDPFW_FLOW_EVENT_MAX]
    cdef uint64_t tcp_results[XDPFW_TCP_RESULT_MAX]
    # inspected-but-unacknowledged ranges (xdpfw_seqrec.h): a header per (slot, direction)
    cdef xdpfw_seqrec_dir *recs
    cdef xdpfw_seqrec_chunk *chunks
    cdef xdpfw_seqrec_pool pool

    # flow-table admission
    cdef public bint sides            # inline: check each packet's NIC against its flow's
    cdef uint64_t t_unverified
    cdef uint64_t e_unverified, e_new, e_est, e_closed   # emergency-mode timeouts
    cdef readonly bint emergency
    cdef uint64_t pressure_ns          # last creation that had to evict (or found no room)
    cdef uint32_t *sketch             # source share: 4 regions of sketch_mask + 1 counters
    cdef uint32_t sketch_mask
    cdef readonly uint32_t share_host, share_prefix   # 0: no limit
    cdef int refused                  # why the last lookup returned NULL (XDPFW_FLOW_*)
    cdef uint32_t sweep_at            # the sweep's cursor
    cdef uint32_t swept_since         # slots swept since the last pressure (emergency exit)

    cdef xdpfw_flow *lookup(self, const uint8_t *src, const uint8_t *dst, uint16_t sport,
                            uint16_t dport, uint8_t proto, uint16_t vlan, uint64_t now,
                            int *direction, uint32_t side) noexcept nogil
    cdef int admit(self, xdpfw_flow *f, int *direction, uint32_t side, uint8_t flags,
                   uint32_t ack, uint64_t now) noexcept nogil
    cdef int tcp_track(self, xdpfw_flow *f, int direction, uint32_t seq, uint32_t ack,
                       uint8_t flags, const uint8_t *data, uint32_t plen,
                       uint32_t *skip) noexcept nogil
    cdef uint8_t *dir_ttl(self, xdpfw_flow *f, int direction) noexcept nogil
    cdef int _retransmitted(self, xdpfw_seqrec_dir *r, uint32_t seq, const uint8_t *data,
                            uint32_t len) noexcept nogil
    cdef bint reuses(self, const xdpfw_flow *f, int direction, uint32_t seq,
                     uint8_t flags) noexcept nogil
    cdef int restart(self, xdpfw_flow *f, int direction, uint64_t now) noexcept nogil
    cdef uint64_t _timeout(self, const xdpfw_flow *f) noexcept nogil
    cdef bint _expired(self, const xdpfw_flow *f, uint64_t now) noexcept nogil
    cdef void _reclaim(self, xdpfw_flow *f, int why) noexcept nogil
    cdef void _init(self, xdpfw_flow *f, const xdpfw_flow_key *key, uint32_t h,
                    bint src_is_a, uint64_t now) noexcept nogil
    cdef int _count(self, int res) noexcept nogil
    cdef void _share_cells(self, const uint8_t *addr, uint32_t side, uint32_t *cells) noexcept nogil
    cdef bint _share_full(self, const uint32_t *cells) noexcept nogil
    cdef void _share_take(self, xdpfw_flow *f, const uint32_t *cells) noexcept nogil
    cdef void _share_release(self, xdpfw_flow *f) noexcept nogil
    cdef void _verify(self, xdpfw_flow *f) noexcept nogil
    cdef void _pressure(self, bint full, uint64_t now) noexcept nogil
    cdef void _sweep(self, uint64_t now) noexcept nogil
