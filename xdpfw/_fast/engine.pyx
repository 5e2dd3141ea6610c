# cython: language_level=3, embedsignature=True, boundscheck=False, wraparound=False, cdivision=True
"""The inspection engine a worker calls for every frame (xdpfw_inspect.h contract).

Per frame, in place, with the GIL released and no Python object:

  decode L2-L4 -> flow lookup -> TCP in-order tracking -> payload scan (streaming
  database for TCP, block database for other protocols) -> rules reported by the matcher,
  then rules without payload conditions: header, flow and dsize checks -> verdict by
  Suricata's action order (pass, drop/reject, alert) -> alert records into an SPSC ring
  the control plane drains.

The rule tables (xdpfw_engine.h) and matcher databases are built by the control plane
and read-only here. One Engine per worker thread: it owns that worker's flow table,
matcher scratch, stream pool and alert ring.
"""
from cpython.mem cimport PyMem_Calloc, PyMem_Free
from cpython.pycapsule cimport PyCapsule_New
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcmp, memcpy, memmove, memset
from posix.time cimport CLOCK_REALTIME, clock_gettime, timespec
from posix.unistd cimport usleep

from xdpfw._fast.decode cimport xdpfw_decode
from xdpfw._fast.flow cimport *
from xdpfw._fast.includes.clock cimport monotonic_ns
from xdpfw._fast.includes.pkt cimport XDPFW_IP_FRAG, XDPFW_IP_MF, XDPFW_LAYER_L4, xdpfw_pkt
from xdpfw._fast.includes.shared cimport *
from xdpfw._fast.match cimport (Database, Scratch, StreamPool, XDPFW_MATCH_EPOOL,
                                XDPFW_MSTREAM_OPEN, xdpfw_match, xdpfw_match_buf,
                                xdpfw_match_push, xdpfw_matcher_ops, xdpfw_mstream)

cdef extern from "xdpfw_engine.h" nogil:
    enum:
        XDPFW_ACT_PASS
        XDPFW_ACT_DROP
        XDPFW_ACT_REJECT
        XDPFW_ACT_ALERT
        XDPFW_NO_SIG
        XDPFW_REJECT_SRC
        XDPFW_REJECT_DST
        XDPFW_SIGF_ESTABLISHED
        XDPFW_SIGF_NOT_ESTABLISHED
        XDPFW_SIGF_TO_SERVER
        XDPFW_SIGF_TO_CLIENT
        XDPFW_SIG_PROTO_ANY
        XDPFW_DSIZE_NONE
        XDPFW_DSIZE_RANGE
        XDPFW_DSIZE_NOT

    struct xdpfw_addr_range:
        uint64_t lo_hi, lo_lo, hi_hi, hi_lo
    struct xdpfw_port_range:
        uint16_t lo, hi
    struct xdpfw_set_ref:
        uint32_t first, count, any
    struct xdpfw_sig_flowbits:
        uint64_t isset[2]
        uint64_t isnotset[2]
        uint64_t set[2]
        uint64_t unset[2]
        uint64_t toggle[2]
        uint8_t isset_any, isnotset_any, checks
    enum:
        XDPFW_THR_NONE
        XDPFW_THR_LIMIT
        XDPFW_THR_THRESHOLD
        XDPFW_THR_BOTH
        XDPFW_THR_DETECTION
        XDPFW_TRACK_SRC
        XDPFW_TRACK_DST
        XDPFW_TRACK_RULE
        XDPFW_TRACK_BOTH
        XDPFW_TRACK_FLOW
        XDPFW_SUPP_NONE
        XDPFW_SUPP_ALL
        XDPFW_SUPP_SRC
        XDPFW_SUPP_DST
        XDPFW_SUPP_EITHER
    struct xdpfw_thr_entry:
        uint64_t k[4]
        uint64_t window_start, active_since
        uint32_t sig, count
        uint8_t used
    struct xdpfw_sig:
        xdpfw_sig_flowbits fb
        xdpfw_set_ref supp_addrs
        uint32_t thr_count, thr_seconds
        uint8_t thr_type, thr_track, supp
        xdpfw_set_ref src, dst, sport, dport
        uint32_t dsize_lo, dsize_hi
        uint8_t action, proto, bidir, flow, dsize_op, noalert
        uint8_t rf, rf_track, rf_action, reject, app_proto, blen_op
        uint32_t rf_count, rf_seconds, rf_timeout, blen_lo, blen_hi
    enum:
        XDPFW_THR_RATE_KEY
    struct xdpfw_alert_rec:
        uint64_t ts_ns, flow_id, pkt_num, flow_start_ns
        uint64_t flow_pkts[2]
        uint64_t flow_bytes[2]
        uint8_t src[16]
        uint8_t dst[16]
        uint16_t sport, dport
        uint32_t sig
        uint8_t proto, ip_version, action, blocked, direction, side
        uint16_t gen
        uint8_t app_proto, vlan_depth
        uint16_t vlan[2]
        uint8_t policy_reason, has_flow

cdef extern from *:
    """
    /* SPSC ring indices: the worker publishes with release, the reader consumes with
     * acquire, so a record is complete before its index is visible. */
    static inline unsigned int xdpfw_load_acq(const unsigned int *p)
    { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
    static inline void xdpfw_store_rel(unsigned int *p, unsigned int v)
    { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
    """
    unsigned int xdpfw_load_acq(const unsigned int *p) nogil
    void xdpfw_store_rel(unsigned int *p, unsigned int v) nogil

# Engine counters (labels for the control plane in COUNTER_NAMES).
cdef enum:
    C_PACKETS = 0
    C_DECODE_ERRORS
    C_NON_IP
    C_NO_FLOW
    C_FLOW_DROPPED
    C_TCP_DROPPED
    C_SCANNED_BYTES
    C_MATCHES
    C_MATCH_OVERFLOW
    C_STREAM_POOL_EMPTY
    C_MATCHER_ERRORS
    C_ALERTS
    C_ALERT_RING_FULL
    C_PASSED_BY_RULE
    C_DROPPED_BY_RULE
    C_FIRED_OVERFLOW
    C_THRESHOLD_EVICTED
    C_ALERTS_THRESHOLDED
    C_ALERTS_SUPPRESSED
    C_REJECTS_SENT
    C_TCP_FRAGMENTS
    C_FRAG_DATAGRAMS
    C_FRAG_COMPLETED
    C_FRAG_OUT_OF_ORDER
    C_FRAG_OVERLAPS
    C_FRAG_AFTER_BAD
    C_FRAG_EVICTED
    C_RATE_FILTERED
    C_APP_DETECTED
    C_APP_FAILED
    C_APP_BYTES
    C_APP_EVENTS
    C_APP_INST_FULL
    C_APP_PENDING_FULL
    C_IDS_WOULD_DROP
    C_MAX

APP_PROTO_NAMES = ("unknown", "http", "tls", "dns", "failed")   # XDPFW_APP_PROTOS order (tested)

COUNTER_NAMES = ("packets", "decode_errors", "non_ip", "no_flow", "flow_dropped", "tcp_dropped",
                 "scanned_bytes", "matches", "match_overflow", "stream_pool_empty", "matcher_errors",
                 "alerts", "alert_ring_full", "passed_by_rule", "dropped_by_rule", "fired_overflow",
                 "threshold_evicted", "alerts_thresholded", "alerts_suppressed", "rejects_sent", "tcp_fragments",
                 "frag_datagrams", "frag_completed", "frag_out_of_order", "frag_overlaps", "frag_after_bad",
                 "frag_evicted", "rate_filter_activations", "app_detected", "app_detection_failed",
                 "app_bytes", "app_events", "app_instances_full", "app_pending_full", "ids_would_drop")

cdef uint32_t NO_SIG = 0xFFFFFFFF   # report map entry with no signature

include "engine_app.pxi"

# What one rule set is for the worker: tables and matcher handles, all C. The live set is
# `Engine.rs`; a reload builds `Engine.staged` aside and the worker swaps it in between
# batches (Engine._between); the old one waits in `Engine.retired` until the control
# plane frees it.
cdef struct ruleset:
    xdpfw_sig *sigs
    uint32_t nsigs
    xdpfw_addr_range *addrs
    xdpfw_port_range *ports
    uint32_t *report_sig        # stream database's pattern id -> signature index
    uint32_t nreport
    uint32_t *breport_sig       # block database's pattern id -> signature index
    uint32_t nbreport
    uint32_t *hdr_only          # signatures without payload conditions
    uint32_t nhdr_only
    const void *sdb             # stream database (c_db), or NULL
    const void *bdb             # block database, or NULL
    void *scratch               # this worker's matcher scratch for both
    void *pool                  # this worker's stream pool for sdb
    const xdpfw_matcher_ops *sops
    const xdpfw_matcher_ops *bops
    # Combinations (stream rules of several expressions, evaluated here): per stream a
    # bitmap of operands seen and combinations fired (opwords words per stream slot).
    uint32_t *op_of             # stream pattern id -> operand index, NO_SIG if not one
    uint32_t nop_of
    uint32_t nops, ncombos
    uint32_t *op_first          # operand -> its combinations: op_list[op_first[k]:op_first[k+1]]
    uint32_t *op_list
    uint32_t *prog_first        # combination -> its program: prog[prog_first[c]:prog_first[c+1]]
    uint32_t *prog
    uint32_t combo_base         # combination c is reported as stream id combo_base + c
    uint32_t opwords
    uint64_t *opbits            # slots x opwords, zeroed = nothing seen
    app_buf_rt abuf[APP_VBUF_MAX]   # per app buffer and variant: its database (NULL: no rule)
    uint8_t app_on              # some rule inspects an app buffer: decoders run
    uint32_t nparts             # parts of multi-buffer rules (apprules.AppPart), shared
    uint32_t *part_lo
    uint32_t *part_hi
    uint8_t *part_op
    uint32_t *part_rfirst       # part -> the multi-buffer rules using it: part_rlist[first[k]:first[k+1]]
    uint32_t *part_rlist
    uint32_t *m_sig             # multi-buffer rule -> its signature
    uint32_t *m_pfirst          # multi-buffer rule -> its parts: m_plist[first[m]:first[m+1]]
    uint32_t *m_plist
    uint32_t *ev_first          # decoder events -> rules: ev_list[ev_first[k]:ev_first[k+1]],
    uint32_t *ev_list           #   k = XDPFW_APP_* protocol (0: L2-L4 decoder) * 64 + event
    uint64_t dev_mask           # L2-L4 decode events some rule is on
    uint32_t ptx_words          # per flow direction: a bitmap of the parts its transaction holds
    uint64_t *ptx               # slots x 2 x ptx_words (exact: sized by this rule set's parts)
    const void *fdb             # the block rules compiled for streaming: fragmented datagrams
    void *fpool                 # this worker's stream pool for fdb
    const xdpfw_matcher_ops *fops

# IP fragments. One datagram's fragments are a small stream in offset order: the first
# fragment (offset 0, it holds the L4 header) opens an entry keyed like the kernel's
# reassembly queue (addresses, IP id, protocol, VLAN); each following fragment must start
# exactly where the previous one ended. Its bytes are scanned in place through a matcher
# stream of the datagram (no reassembly, no copy) and the last one (no MF) finishes it,
# so end-anchored rules see the datagram's end. Policy (inline): a fragment that is out of
# order (no entry: the first fragment has not been seen; or a gap), overlaps or repeats
# what was seen, or belongs to a datagram already judged bad, is dropped, and so are the
# datagram's later fragments - the receiver cannot reassemble it, so nothing uninspected
# gets through. Linux drops overlapping datagrams itself (RFC 5722); out-of-order
# fragments, which it would reassemble, are the price of not buffering. IDS/replay: such
# fragments are counted and inspected one by one. TCP segments are never followed through
# fragments (TCP avoids fragmenting with path MTU discovery): inline they are dropped.
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

# Combinations. A stream rule made of several independent expressions (content chains that
# are not relative to each other, negated contents) cannot be one Hyperscan expression;
# Hyperscan's logical combinations report it only at the stream's next match or at its
# end, too late to drop the packet that completed it. So the operands are reported
# (once per stream each) and the engine evaluates the rule's formula when an operand is
# first seen: every operand the packet brought is marked first, then the formulas of
# their rules run over "seen so far in this stream", so a negated operand means "not in
# this stream up to and including this packet". A rule fires at most once per stream.
# Programs are postfix over operand indices: PUSH k, NOT, AND n, OR n (top 2 bits).
cdef enum:
    OPC_PUSH = 0
    OPC_NOT = 1
    OPC_AND = 2
    OPC_OR = 3
    PROG_STACK = 64
    NEW_OPS_CAP = 256

# Engine.swap_state (atomic): a staged set is waiting / the worker retired the old one.
cdef enum:
    SWAP_IDLE = 0
    SWAP_STAGED = 1
    SWAP_RETIRED = 2

cdef enum:
    HDR_UNKNOWN = 0
    HDR_NONE = 1
    HDR_SOME = 2

cdef enum:
    MAX_FIRED = 64        # distinct rules that can fire on one packet
    MATCH_CAP = 1024      # matcher reports kept per scan (more are counted, not kept)

# Policies (the `exception-policy` values that apply per packet).
cdef enum:
    POLICY_PASS_ = 0
    POLICY_DROP_ = 1
POLICY_PASS, POLICY_DROP = POLICY_PASS_, POLICY_DROP_


def _backend(Database db):
    """The matcher backend module (match_hs or match_ac) a database belongs to."""
    import sys
    return sys.modules[type(db).__module__]


cdef inline bint _addr_in(const xdpfw_addr_range *r, const xdpfw_set_ref *s, uint64_t hi,
                          uint64_t lo) noexcept nogil:
    """Binary search of a sorted, disjoint range list."""
    cdef uint32_t a = s.first, b = s.first + s.count, m
    if s.any:
        return True
    while a < b:
        m = (a + b) >> 1
        if hi < r[m].lo_hi or (hi == r[m].lo_hi and lo < r[m].lo_lo):
            b = m
        elif hi > r[m].hi_hi or (hi == r[m].hi_hi and lo > r[m].hi_lo):
            a = m + 1
        else:
            return True
    return False


cdef inline bint _port_in(const xdpfw_port_range *r, const xdpfw_set_ref *s, uint16_t p) noexcept nogil:
    cdef uint32_t a = s.first, b = s.first + s.count, m
    if s.any:
        return True
    while a < b:
        m = (a + b) >> 1
        if p < r[m].lo:
            b = m
        elif p > r[m].hi:
            a = m + 1
        else:
            return True
    return False


cdef inline bint _fb_ok(const xdpfw_sig_flowbits *fb, const xdpfw_flow *f) noexcept nogil:
    cdef int w
    cdef bint any_set = False, any_clear = False, need_set = False, need_clear = False
    for w in range(2):
        if fb.isset[w]:
            need_set = True
            if fb.isset_any:
                any_set = any_set or (f.flowbits[w] & fb.isset[w]) != 0
            elif (f.flowbits[w] & fb.isset[w]) != fb.isset[w]:
                return False
        if fb.isnotset[w]:
            need_clear = True
            if fb.isnotset_any:
                any_clear = any_clear or (~f.flowbits[w] & fb.isnotset[w]) != 0
            elif f.flowbits[w] & fb.isnotset[w]:
                return False
    if fb.isset_any and need_set and not any_set:
        return False
    if fb.isnotset_any and need_clear and not any_clear:
        return False
    return True


cdef inline void _fb_apply(const xdpfw_sig_flowbits *fb, xdpfw_flow *f) noexcept nogil:
    cdef int w
    for w in range(2):
        f.flowbits[w] = ((f.flowbits[w] | fb.set[w]) & ~fb.unset[w]) ^ fb.toggle[w]


cdef extern from *:
    int _ctz64 "__builtin_ctzll" (unsigned long long) nogil


cdef inline void _sleep_ms(unsigned int ms) noexcept nogil:
    usleep(ms * 1000)


cdef inline uint32_t _le32(const uint8_t *p) noexcept nogil:
    return <uint32_t>p[0] | (<uint32_t>p[1] << 8) | (<uint32_t>p[2] << 16) | (<uint32_t>p[3] << 24)


cdef inline uint32_t _rd32(const uint8_t *p, bint swap) noexcept nogil:
    """A pcap header field: little-endian file unless the magic said otherwise."""
    if swap:
        return (<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | <uint32_t>p[3]
    return _le32(p)


cdef inline uint64_t _be64(const uint8_t *p) noexcept nogil:
    return ((<uint64_t>p[0] << 56) | (<uint64_t>p[1] << 48) | (<uint64_t>p[2] << 40) |
            (<uint64_t>p[3] << 32) | (<uint64_t>p[4] << 24) | (<uint64_t>p[5] << 16) |
            (<uint64_t>p[6] << 8) | <uint64_t>p[7])


cdef class Engine:
    """Inspection state of one worker: flows, matcher streams, alert ring, counters, and the
    rule set it applies (swappable between batches: stage_rules)."""
    cdef ruleset rs                  # the live rule set (read by the worker only)
    cdef ruleset staged              # built by the control plane, swapped in by the worker
    cdef ruleset retired             # swapped out, freed by the control plane
    cdef unsigned int swap_state     # SWAP_* (atomic)
    cdef unsigned int generation     # rule sets swapped in so far (atomic)
    cdef object _live_refs, _staged_refs, _retired_refs  # keep the C handles' owners alive
    cdef object _staged_rules
    cdef dict _rules_by_gen          # generation & 0xFFFF -> rules, for alert records
    cdef FlowTable flows
    cdef uint32_t mstream_slots
    cdef uint32_t stream_pool_size
    cdef xdpfw_mstream *mstreams     # 2 per flow slot
    cdef uint64_t *mstream_owner     # flow_id each stream slot belongs to
    cdef xdpfw_match *mrec
    cdef xdpfw_match_buf mbuf
    cdef xdpfw_pkt pkt
    cdef xdpfw_alert_rec *ring
    cdef uint32_t ring_mask
    cdef unsigned int ring_head      # written by the worker
    cdef unsigned int ring_tail      # written by the reader
    cdef uint64_t cnt[C_MAX]
    cdef uint32_t fired[MAX_FIRED]
    cdef uint32_t cand[MAX_FIRED]    # rules whose conditions but flowbits hold on this packet
    cdef bint quiet[MAX_FIRED]       # fired[i] matched but rate control or suppress mutes its alert
    cdef uint8_t act[MAX_FIRED]      # fired[i]'s action on this packet (a rate_filter may change it)
    cdef app_flow *aflow             # per flow slot: decoder state, protocol detection bytes
    cdef app_inst *ainst             # per flow slot: 2 x APP_INST open buffer instances
    cdef xdpfw_app_sink sink
    cdef app_ctx actx
    cdef xdpfw_match amrec[APP_MATCH_CAP]
    cdef xdpfw_match_buf amb
    cdef uint32_t app_fired[MAX_FIRED]   # rules an app buffer completed on this packet
    cdef uint32_t app_nfired
    cdef uint64_t app_events[XDPFW_APP_PROTO_MAX]
    cdef uint64_t decode_events[64]  # per decode event (xdpfw_pkt.h), frames that had it
    cdef frag_entry *frags           # datagrams being fragmented (fixed capacity, per worker)
    cdef uint32_t frag_mask
    cdef uint64_t frag_timeout_ns
    cdef xdpfw_thr_entry *thr        # rate-control trackers (fixed capacity, per worker)
    cdef uint32_t thr_mask
    cdef uint64_t thr_seed
    cdef public int decode_error_policy
    cdef public int no_flow_policy
    cdef public bint ips             # False (IDS): drop/reject rules only alert, nothing blocks
    cdef public bint replies         # reject rules answer with a TCP RST (live workers only)
    cdef readonly bytes last_reply   # inspect_frame(): the reply the engine built, if any
    cdef readonly bytes last_extra   # inspect_frame(): the extra reply of REPLY_BOTH, if any
    cdef uint8_t extra[256]          # REPLY_BOTH: the reset for the destination
    cdef uint32_t extra_len
    cdef uint64_t pkt_num
    cdef uint64_t pkt_ts_ns
    cdef uint64_t mono_to_real       # CLOCK_REALTIME - CLOCK_MONOTONIC at start (live flows)
    cdef readonly object rules       # the Python rule objects, for the control plane

    def __cinit__(self):
        memset(&self.rs, 0, sizeof(ruleset))
        memset(&self.staged, 0, sizeof(ruleset))
        memset(&self.retired, 0, sizeof(ruleset))
        self.swap_state = SWAP_IDLE
        self.generation = 0
        self.mstreams = NULL
        self.frags = NULL
        self.aflow = NULL
        self.ainst = NULL
        self.mstream_owner = NULL
        self.mrec = NULL
        self.ring = NULL
        self.thr = NULL
        memset(self.cnt, 0, sizeof(self.cnt))

    def __dealloc__(self):
        # Streams lent from a pool go back with it (the pool closes every stream it opened).
        _free_ruleset(&self.rs)
        _free_ruleset(&self.staged)
        _free_ruleset(&self.retired)
        PyMem_Free(self.mstreams)
        PyMem_Free(self.frags)
        PyMem_Free(self.aflow)
        PyMem_Free(self.ainst)
        PyMem_Free(self.mstream_owner)
        PyMem_Free(self.mrec)
        PyMem_Free(self.ring)
        PyMem_Free(self.thr)

    def __init__(self, tables, *, Database stream_db=None, Database block_db=None,
                 uint32_t flow_capacity=65536, uint32_t stream_pool=0,
                 uint32_t alert_ring=4096, rules=None, bint midstream=True, uint32_t gap_resync=0,
                 bint ips=True, uint32_t thresholds=16384, bint replies=False,
                 Database frag_db=None, uint32_t fragments=4096, app=None):
        """tables: an xdpfw.detect.tables.SigTables (signature, address and port arrays and
        the matcher report map). Databases are shared, read-only; everything else is this
        worker's."""
        cdef uint32_t i, ring
        self.flows = FlowTable(flow_capacity, midstream=midstream, gap_resync=gap_resync)
        self.stream_pool_size = stream_pool or self.flows.capacity * 2
        self.mstream_slots = self.flows.capacity * 2
        self.mstreams = <xdpfw_mstream *>PyMem_Calloc(self.mstream_slots, sizeof(xdpfw_mstream))
        self.mstream_owner = <uint64_t *>PyMem_Calloc(self.mstream_slots, sizeof(uint64_t))
        if self.mstreams == NULL or self.mstream_owner == NULL:
            raise MemoryError()
        ring = _pow2_at_least(fragments)
        self.frags = <frag_entry *>PyMem_Calloc(ring, sizeof(frag_entry))
        if self.frags == NULL:
            raise MemoryError()
        self.frag_mask = ring - 1
        self.frag_timeout_ns = FRAG_TIMEOUT_NS
        self.aflow = <app_flow *>PyMem_Calloc(self.flows.capacity, sizeof(app_flow))
        self.ainst = <app_inst *>PyMem_Calloc(<size_t>self.mstream_slots * APP_INST, sizeof(app_inst))
        if self.aflow == NULL or self.ainst == NULL:
            raise MemoryError()
        self.actx.engine = <void *>self
        self.sink.ctx = &self.actx
        self.sink.data = _app_data
        self.sink.event = _app_event
        self.amb.rec = self.amrec
        self.amb.capacity = APP_MATCH_CAP
        self.amb.count = 0
        self.amb.overflow = 0
        memset(self.app_events, 0, sizeof(self.app_events))
        memset(self.decode_events, 0, sizeof(self.decode_events))
        self._rules_by_gen = {}
        self._live_refs = self._build(&self.rs, tables, stream_db, block_db, frag_db, app)
        self.rules = rules
        self._rules_by_gen[0] = rules
        self.mrec = <xdpfw_match *>PyMem_Calloc(MATCH_CAP, sizeof(xdpfw_match))
        if self.mrec == NULL:
            raise MemoryError()
        self.mbuf.rec = self.mrec
        self.mbuf.capacity = MATCH_CAP
        self.mbuf.count = 0
        self.mbuf.overflow = 0
        ring = _pow2_at_least(alert_ring)
        self.ring = <xdpfw_alert_rec *>PyMem_Calloc(ring, sizeof(xdpfw_alert_rec))
        if self.ring == NULL:
            raise MemoryError()
        self.ring_mask = ring - 1
        ring = _pow2_at_least(thresholds)
        self.thr = <xdpfw_thr_entry *>PyMem_Calloc(ring, sizeof(xdpfw_thr_entry))
        if self.thr == NULL:
            raise MemoryError()
        self.thr_mask = ring - 1
        self.thr_seed = <uint64_t>id(self) * 0x9E3779B97F4A7C15ULL
        cdef timespec rt
        clock_gettime(CLOCK_REALTIME, &rt)
        self.mono_to_real = <uint64_t>rt.tv_sec * 1000000000ULL + <uint64_t>rt.tv_nsec - monotonic_ns()
        self.decode_error_policy = POLICY_PASS_
        self.no_flow_policy = POLICY_DROP_ if ips else POLICY_PASS_
        self.ips = ips
        self.replies = replies

    cdef object _build(self, ruleset *r, tables, Database stream_db, Database block_db,
                       Database frag_db, app):
        """Fill *r from the control plane's tables and databases (r must be empty); returns
        the Python objects that own its matcher handles, to keep while r is in use."""
        cdef uint32_t i
        cdef Scratch scratch = None
        cdef StreamPool pool = None, fpool = None
        if frag_db is not None and (frag_db.mode != "stream" or block_db is None):
            raise ValueError("frag_db must be the block rules compiled in stream mode")
        if stream_db is not None and stream_db.mode != "stream":
            raise ValueError("stream_db must be a streaming database")
        if block_db is not None and block_db.mode != "block":
            raise ValueError("block_db must be a block-mode database")
        try:
            sigs, addrs, ports, report, breport, hdr_only = (
                tables.sigs, tables.addrs, tables.ports, tables.report, tables.block_report,
                tables.header_only)
            r.nsigs = len(sigs)
            r.sigs = <xdpfw_sig *>PyMem_Calloc(max(1, r.nsigs), sizeof(xdpfw_sig))
            r.addrs = <xdpfw_addr_range *>PyMem_Calloc(max(1, len(addrs)), sizeof(xdpfw_addr_range))
            r.ports = <xdpfw_port_range *>PyMem_Calloc(max(1, len(ports)), sizeof(xdpfw_port_range))
            r.nhdr_only = len(hdr_only)
            r.hdr_only = <uint32_t *>PyMem_Calloc(max(1, r.nhdr_only), sizeof(uint32_t))
            if not (r.sigs and r.addrs and r.ports and r.hdr_only):
                raise MemoryError()
            report = _build_combos(r, getattr(tables, "stream_combos", ()), report, self.mstream_slots)
            r.report_sig = _report_array(report, &r.nreport)
            evs = [[] for _ in range(XDPFW_APP_PROTO_MAX * 64)]
            for proto, ev, sg in getattr(tables, "event_rules", ()):
                if not (0 <= proto < XDPFW_APP_PROTO_MAX and 0 <= ev < 64):
                    raise ValueError(f"event rule ({proto}, {ev}) out of range")
                evs[proto * 64 + ev].append(sg)
                if proto == 0:
                    r.dev_mask |= 1ULL << ev
            r.ev_list = _csr(evs, &r.ev_first)
            r.breport_sig = _report_array(breport, &r.nbreport)
            for i, sg in enumerate(sigs):
                _fill_sig(&r.sigs[i], sg)
                if sg.app_proto:
                    r.app_on = 1    # protocol detection runs: this rule needs it
            for i, (lo, hi) in enumerate(addrs):
                r.addrs[i].lo_hi = lo >> 64
                r.addrs[i].lo_lo = lo & 0xFFFFFFFFFFFFFFFF
                r.addrs[i].hi_hi = hi >> 64
                r.addrs[i].hi_lo = hi & 0xFFFFFFFFFFFFFFFF
            for i, (lo, hi) in enumerate(ports):
                r.ports[i].lo = lo
                r.ports[i].hi = hi
            for i, sg in enumerate(hdr_only):
                r.hdr_only[i] = sg
            app_bufs = list(app.buffers) if app else []
            dbs = [d for d in (stream_db, block_db, frag_db) if d is not None] + [ab.db for ab in app_bufs if ab.db is not None]
            if dbs:
                scratch = _backend(dbs[0]).Scratch(*dbs)
                r.scratch = scratch.c_scratch
            if stream_db is not None:
                pool = _backend(stream_db).StreamPool(stream_db, self.stream_pool_size)
                r.sdb, r.sops, r.pool = stream_db.c_db, stream_db.ops, pool.c_pool
            if block_db is not None:
                r.bdb, r.bops = block_db.c_db, block_db.ops
            if frag_db is not None:
                fpool = _backend(frag_db).StreamPool(frag_db, self.frag_mask + 1)
                r.fdb, r.fops, r.fpool = frag_db.c_db, frag_db.ops, fpool.c_pool
            apools = []
            parts = list(app.parts) if app else []
            multi = list(app.multi) if app else []
            r.nparts = len(parts)
            r.part_lo = <uint32_t *>PyMem_Calloc(max(1, r.nparts), sizeof(uint32_t))
            r.part_hi = <uint32_t *>PyMem_Calloc(max(1, r.nparts), sizeof(uint32_t))
            r.part_op = <uint8_t *>PyMem_Calloc(max(1, r.nparts), 1)
            if not (r.part_lo and r.part_hi and r.part_op):
                raise MemoryError()
            for i, pt in enumerate(parts):
                if pt.blen is not None:
                    r.part_op[i], r.part_lo[i], r.part_hi[i] = pt.blen
            users = [[] for _ in parts]
            for m, (sg, ps) in enumerate(multi):
                for k in ps:
                    users[k].append(m)
            r.part_rlist = _csr(users, &r.part_rfirst)
            r.m_plist = _csr([ps for _, ps in multi], &r.m_pfirst)
            r.m_sig = _u32_array([sg for sg, _ in multi], &i)
            r.ptx_words = (r.nparts + 63) // 64
            if r.ptx_words:
                r.ptx = <uint64_t *>PyMem_Calloc(<size_t>self.mstream_slots * r.ptx_words, sizeof(uint64_t))
                if r.ptx == NULL:
                    raise MemoryError()
            for ab in app_bufs:
                vb = ab.buf + ab.variant * XDPFW_APP_BUFFER_MAX
                if not 0 <= ab.buf < XDPFW_APP_BUFFER_MAX or ab.variant not in (0, 1) or r.abuf[vb].active:
                    raise ValueError(f"app buffer id {ab.buf}/{ab.variant}: out of range or given twice")
                r.abuf[vb].active = 1
                r.app_on = 1
                r.abuf[vb].every = _u32_array(ab.every, &r.abuf[vb].nevery)
                r.abuf[vb].every_parts = _u32_array(ab.every_parts, &r.abuf[vb].nevery_parts)
                if ab.db is None:
                    continue
                if (<Database>ab.db).mode != "stream":
                    raise ValueError("app buffer databases are streaming databases")
                apool = _backend(ab.db).StreamPool(ab.db, APP_POOL)
                apools.append(apool)
                r.abuf[vb].report = _report_array(ab.report, &r.abuf[vb].nreport)
                r.abuf[vb].db = (<Database>ab.db).c_db
                r.abuf[vb].ops = (<Database>ab.db).ops
                r.abuf[vb].pool = (<StreamPool>apool).c_pool
        except BaseException:
            _free_ruleset(r)
            raise
        return (stream_db, block_db, frag_db, scratch, pool, fpool, app, apools)

    # ---- rule-set swap (live reload) -------------------------------------------------------
    cdef void _between(self) noexcept nogil:
        """Between two batches (the worker loop) or from apply_staged(): swap a staged rule
        set in. Per-flow state that indexes the old set goes: matcher streams (they belong
        to the old databases; each flow reopens one on its next payload), the header-only
        rule cache, rate-control trackers. Flow state itself stays: TCP tracking, drop
        flags, flowbits (numbered stably across reloads by the control plane)."""
        cdef uint32_t i
        if xdpfw_load_acq(&self.swap_state) != SWAP_STAGED:
            return
        self.retired = self.rs
        self.rs = self.staged
        memset(&self.staged, 0, sizeof(ruleset))
        memset(self.mstreams, 0, self.mstream_slots * sizeof(xdpfw_mstream))
        memset(self.mstream_owner, 0, self.mstream_slots * sizeof(uint64_t))
        memset(self.thr, 0, (self.thr_mask + 1) * sizeof(xdpfw_thr_entry))
        for i in range(self.frag_mask + 1):
            memset(&self.frags[i].st, 0, sizeof(xdpfw_mstream))  # reopened from the new pool
        memset(self.ainst, 0, <size_t>self.mstream_slots * APP_INST * sizeof(app_inst))
        for i in range(self.flows.capacity):
            self.flows.flows[i].hdr_rules[0] = HDR_UNKNOWN
            self.flows.flows[i].hdr_rules[1] = HDR_UNKNOWN
        xdpfw_store_rel(&self.generation, self.generation + 1)
        xdpfw_store_rel(&self.swap_state, SWAP_RETIRED)

    def stage_rules(self, tables, *, Database stream_db=None, Database block_db=None, rules=None,
                    Database frag_db=None, app=None):
        """Build a new rule set aside (matcher scratch and stream pool included) and hand
        it to the worker, which swaps it in between batches. Returns the generation the
        swap will produce; wait for it with finish_swap(). Raises if a swap is pending."""
        self._collect_retired()
        if xdpfw_load_acq(&self.swap_state) != SWAP_IDLE:
            raise RuntimeError("a rule-set swap is already pending")
        refs = self._build(&self.staged, tables, stream_db, block_db, frag_db, app)
        self._staged_refs = refs
        self._staged_rules = rules
        xdpfw_store_rel(&self.swap_state, SWAP_STAGED)
        return self.generation + 1

    def apply_staged(self):
        """Swap a staged set in now: only for an engine no worker runs (replay, tests)."""
        self._between()
        self._collect_retired()

    def finish_swap(self, double timeout=5.0):
        """Wait (GIL released) until the worker swapped the staged set in, then free the old
        one. Returns True when done, False on timeout (the swap stays pending)."""
        import time
        deadline = time.monotonic() + timeout
        while xdpfw_load_acq(&self.swap_state) == SWAP_STAGED:
            if time.monotonic() > deadline:
                return False
            with nogil:
                _sleep_ms(1)
        self._collect_retired()
        return True

    cdef _collect_retired(self):
        if xdpfw_load_acq(&self.swap_state) != SWAP_RETIRED:
            return
        _free_ruleset(&self.retired)
        self._retired_refs = None
        self._live_refs, self._staged_refs = self._staged_refs, None
        self.rules, self._staged_rules = self._staged_rules, None
        self._rules_by_gen[self.generation & 0xFFFF] = self.rules
        # alert records of older sets may still wait in the ring: keep a few generations
        for g in [g for g in self._rules_by_gen if (self.generation - g) & 0xFFFF > 8]:
            del self._rules_by_gen[g]
        xdpfw_store_rel(&self.swap_state, SWAP_IDLE)

    @property
    def rules_generation(self):
        """Rule sets swapped in since the engine was built (0: the one it was built with)."""
        return xdpfw_load_acq(&self.generation)

    def extra_reply(self):
        """A capsule of the extra-reply function (xdpfw_extra_fn) for the worker."""
        return PyCapsule_New(<void *>_extra_entry, b"xdpfw_extra_fn", NULL)

    def between_batches(self):
        """A capsule of the between-batches function (xdpfw_batch_fn) for the worker."""
        return PyCapsule_New(<void *>_between_entry, b"xdpfw_batch_fn", NULL)

    # ---- per packet ---------------------------------------------------------------------
    cdef int inspect(self, uint8_t *frame, uint32_t length, uint32_t side, uint64_t now,
                     uint32_t *reason, uint32_t *reply_len) noexcept nogil:
        cdef xdpfw_pkt *p = &self.pkt
        cdef xdpfw_flow *f
        cdef int direction = XDPFW_DIR_TOSERVER
        cdef int res
        cdef uint32_t skip = 0, nfired = 0, ncand = 0, i, sig
        cdef const uint8_t *data
        cdef uint32_t dlen
        cdef int best = XDPFW_ACT_ALERT + 1
        cdef bint blocked
        cdef uint32_t *rmap
        cdef uint32_t rmax
        cdef bint any_static
        cdef uint32_t how
        cdef frag_entry *fe
        cdef uint64_t ev
        self.cnt[C_PACKETS] += 1
        self.app_nfired = 0
        res = xdpfw_decode(frame, length, p)
        ev = p.events
        while ev:                       # usually none: one branch per frame
            self.decode_events[_ctz64(ev)] += 1
            ev &= ev - 1
        ev = p.events & self.rs.dev_mask
        while ev:                       # decode-event rules (checked with the others below)
            self._event_rules(0, _ctz64(ev))
            ev &= ev - 1
        if res != 0 and self.app_nfired:
            # decoding stopped: no flow; event rules are checked on what was decoded
            if self._event_alerts_unflowed(p, side):
                return self._policy_drop(p, NULL, direction, side, XDPFW_DROP_DECODE_ERROR, reason)
        if res != 0:
            self.cnt[C_DECODE_ERRORS] += 1
            if self.decode_error_policy == POLICY_DROP_:
                return self._policy_drop(p, NULL, direction, side, XDPFW_DROP_DECODE_ERROR, reason)
            return XDPFW_VERDICT_PASS
        if p.ip_version == 0:
            self.cnt[C_NON_IP] += 1
            return XDPFW_VERDICT_PASS
        fe = NULL
        if p.ip_flags & XDPFW_IP_FRAG:
            if p.l4_proto == 6:
                # TCP is not followed through fragments (see FRAG_* above): inline the
                # fragment is dropped, TCP resends unfragmented; IDS inspects it alone.
                self.cnt[C_TCP_FRAGMENTS] += 1
                if self.ips:
                    return self._policy_drop(p, NULL, direction, side, XDPFW_DROP_IP_FRAGMENT, reason)
                self.cnt[C_IDS_WOULD_DROP] += 1
            elif self._frag_track(p, now, &fe) == FRAG_REFUSED:
                if self.ips:
                    return self._policy_drop(p, NULL, direction, side, XDPFW_DROP_IP_FRAGMENT, reason)
                self.cnt[C_IDS_WOULD_DROP] += 1
                fe = NULL   # IDS: inspected alone

        f = self.flows.lookup(p.src, p.dst, p.sport, p.dport, p.l4_proto,
                              p.vlan_id[0] if p.vlan_depth else 0, now, &direction)
        if f == NULL:
            self.cnt[C_NO_FLOW] += 1
            if self.no_flow_policy == POLICY_DROP_:
                return self._policy_drop(p, NULL, direction, side, XDPFW_DROP_FLOW_TABLE_FULL, reason)
            return XDPFW_VERDICT_PASS
        if p.l4_proto == 6 and (p.tcp_flags & 0x12) == 0x02 and \
                (f.tcp_state == XDPFW_TCP_CLOSED or f.tcp_state == XDPFW_TCP_CLOSING) and \
                not (f.dir[direction].seq_known and p.tcp_seq + 1 == f.dir[direction].next_seq):
            # a new connection on the 5-tuple of a finished one: a new flow (the old one's
            # matcher streams, flowbits, drop mark and protocol do not carry over)
            direction = self.flows.restart(f, direction, now)
        f.dir[direction].packets += 1
        f.dir[direction].bytes += length
        if f.drop:
            self.cnt[C_FLOW_DROPPED] += 1
            reason[0] = XDPFW_DROP_RULE
            return XDPFW_VERDICT_DROP

        data = frame + p.payload_off
        dlen = p.payload_len
        self.mbuf.count = 0
        rmap, rmax = self.rs.report_sig, self.rs.nreport
        if p.l4_proto == 6 and (p.layers & XDPFW_LAYER_L4):
            res = self.flows.tcp_track(f, direction, p.tcp_seq, p.tcp_flags, dlen, &skip)
            if res == XDPFW_SEG_GAP or res == XDPFW_SEG_WINDOW:
                self.cnt[C_TCP_DROPPED] += 1
                if not self.ips:
                    self.cnt[C_IDS_WOULD_DROP] += 1
                    return XDPFW_VERDICT_PASS  # IDS: not inspected, not blocked
                return self._policy_drop(p, f, direction, side, XDPFW_DROP_TCP_OUT_OF_ORDER, reason)
            if (res == XDPFW_SEG_IN_ORDER or res == XDPFW_SEG_OVERLAP or res == XDPFW_SEG_MIDSTREAM
                    or res == XDPFW_SEG_RESYNC) and dlen > skip:
                if self.rs.sdb != NULL:
                    self._scan_stream(f, direction, data + skip, dlen - skip, res == XDPFW_SEG_RESYNC)
                if self.rs.app_on:
                    self._app(f, p, direction, data + skip, dlen - skip,
                              XDPFW_APP_F_GAP if res == XDPFW_SEG_RESYNC else 0)
            if self.rs.app_on and (p.tcp_flags & 0x05) and res != XDPFW_SEG_RETRANSMIT:
                self._app_end(f, direction)   # FIN or RST: the direction's open instances end
        elif fe != NULL:
            rmap, rmax = self.rs.breport_sig, self.rs.nbreport
            self._scan_fragment(fe, p, data, dlen)
        elif dlen:
            rmap, rmax = self.rs.breport_sig, self.rs.nbreport
            if self.rs.bops != NULL:
                self.cnt[C_SCANNED_BYTES] += dlen
                if self.rs.bops.scan_block(self.rs.bdb, self.rs.scratch, data, dlen, &self.mbuf) < 0:
                    self.cnt[C_MATCHER_ERRORS] += 1
            if self.rs.app_on and p.l4_proto == 17 and not (p.ip_flags & XDPFW_IP_FRAG):
                self._app(f, p, direction, data, dlen, XDPFW_APP_F_DATAGRAM)

        # Rules the matcher reported, then rules with no payload condition.
        self.cnt[C_MATCHES] += self.mbuf.count
        if self.mbuf.overflow:
            self.cnt[C_MATCH_OVERFLOW] += self.mbuf.overflow
            self.mbuf.overflow = 0
        ncand = 0
        for i in range(self.mbuf.count):
            if self.mrec[i].id < rmax:
                sig = rmap[self.mrec[i].id]
                if sig != NO_SIG and self._header_ok(&self.rs.sigs[sig], p, f, direction):
                    ncand = self._add(self.cand, sig, ncand)
        for i in range(self.app_nfired):    # rules an application buffer completed
            if self._header_ok(&self.rs.sigs[self.app_fired[i]], p, f, direction):
                ncand = self._add(self.cand, self.app_fired[i], ncand)
        # Rules without payload conditions: whether any can match this flow direction's
        # protocol, addresses and ports is fixed for the flow, so it is worked out once and
        # most packets skip the list (an IP blocklist rarely matches).
        if f.hdr_rules[direction] != HDR_NONE and self.rs.nhdr_only:
            any_static = False
            for i in range(self.rs.nhdr_only):
                sig = self.rs.hdr_only[i]
                if self._static_ok(&self.rs.sigs[sig], p):
                    any_static = True
                    if self._dynamic_ok(&self.rs.sigs[sig], p, f, direction):
                        ncand = self._add(self.cand, sig, ncand)
            f.hdr_rules[direction] = HDR_SOME if any_static else HDR_NONE
        if ncand == 0:
            return XDPFW_VERDICT_PASS
        # Flowbits: rules without flowbit conditions first (their set/unset/toggle take
        # effect at once), then the rules that test flowbits, so a bit set by one rule is
        # seen by another on the same packet, as Suricata orders setters before checkers.
        for i in range(ncand):
            if not self.rs.sigs[self.cand[i]].fb.checks:
                nfired = self._match(self.cand[i], p, f, nfired, now)
        for i in range(ncand):
            if self.rs.sigs[self.cand[i]].fb.checks and _fb_ok(&self.rs.sigs[self.cand[i]].fb, f):
                nfired = self._match(self.cand[i], p, f, nfired, now)
        if nfired == 0:
            return XDPFW_VERDICT_PASS

        for i in range(nfired):
            if self.act[i] < best:
                best = self.act[i]
        if best == XDPFW_ACT_PASS:
            self.cnt[C_PASSED_BY_RULE] += 1
            return XDPFW_VERDICT_PASS   # a pass rule silences the rest (Suricata action order)
        blocked = self.ips and (best == XDPFW_ACT_DROP or best == XDPFW_ACT_REJECT)
        if not self.ips and (best == XDPFW_ACT_DROP or best == XDPFW_ACT_REJECT):
            self.cnt[C_IDS_WOULD_DROP] += 1
        how = 0
        for i in range(nfired):
            if self.act[i] == XDPFW_ACT_REJECT:
                # a rate_filter's reject answers the sender
                how |= self.rs.sigs[self.fired[i]].reject if self.rs.sigs[self.fired[i]].action == \
                    XDPFW_ACT_REJECT else XDPFW_REJECT_SRC
        for i in range(nfired):
            if not self.rs.sigs[self.fired[i]].noalert and not self.quiet[i]:
                self._alert(self.fired[i], self.act[i], p, f, direction, side, blocked)
        if blocked:
            f.drop = 1
            self.cnt[C_DROPPED_BY_RULE] += 1
            reason[0] = XDPFW_DROP_RULE
            if best == XDPFW_ACT_REJECT and self.replies:
                return self._reject(frame, length, p, how, reply_len)
            return XDPFW_VERDICT_DROP
        return XDPFW_VERDICT_PASS

    cdef int _reject(self, uint8_t *frame, uint32_t length, const xdpfw_pkt *p, uint32_t how,
                     uint32_t *reply_len) noexcept nogil:
        """The replies of a reject (the packet is dropped whatever happens here). TCP: a RST
        to the sender rewritten in place (REPLY), to the destination (REPLY_PEER), or both
        (the destination's built aside from the headers first: REPLY_BOTH). Other
        protocols: an ICMP port unreachable to the sender, in place. 0 length: a plain
        drop (no room, an ICMP error or non-first fragment is never answered...)."""
        cdef uint32_t room = reply_len[0], n
        reply_len[0] = 0
        if p.l4_proto == 6 and (p.layers & XDPFW_LAYER_L4):
            if how & XDPFW_REJECT_DST:
                if how & XDPFW_REJECT_SRC:
                    if p.l4_off + 20 > sizeof(self.extra):
                        return XDPFW_VERDICT_DROP
                    memcpy(self.extra, frame, p.l4_off + 20)   # headers only
                    self.extra_len = _tcp_rst(self.extra, p, False)
                    n = _tcp_rst(frame, p, True)
                    if n == 0 or self.extra_len == 0:
                        return XDPFW_VERDICT_DROP
                    reply_len[0] = n
                    self.cnt[C_REJECTS_SENT] += 2
                    return XDPFW_VERDICT_REPLY_BOTH
                n = _tcp_rst(frame, p, False)
                if n:
                    reply_len[0] = n
                    self.cnt[C_REJECTS_SENT] += 1
                    return XDPFW_VERDICT_REPLY_PEER
                return XDPFW_VERDICT_DROP
            n = _tcp_rst(frame, p, True)
        else:
            n = _icmp_unreach_in_place(frame, length, room, p)
        if n:
            reply_len[0] = n
            self.cnt[C_REJECTS_SENT] += 1
            return XDPFW_VERDICT_REPLY
        return XDPFW_VERDICT_DROP

    cdef uint32_t _match(self, uint32_t sig, const xdpfw_pkt *p, xdpfw_flow *f, uint32_t nfired,
                         uint64_t now) noexcept nogil:
        """A rule whose conditions hold: detection_filter may still say it did not match;
        otherwise it fires (flowbit actions, verdict) and rate control / suppress decide
        whether it alerts."""
        cdef const xdpfw_sig *s = &self.rs.sigs[sig]
        cdef uint32_t hits, n
        cdef bint quiet = False
        cdef uint8_t action = s.action
        if s.thr_type != XDPFW_THR_NONE:
            hits = self._thr_hit(sig, s.thr_track, s.thr_seconds, p, f, now).count
            if s.thr_type == XDPFW_THR_DETECTION:
                if hits <= s.thr_count:
                    return nfired
            elif s.thr_type == XDPFW_THR_LIMIT:
                quiet = hits > s.thr_count
            elif s.thr_type == XDPFW_THR_THRESHOLD:
                quiet = hits % s.thr_count != 0
            else:  # both: once per window, at the count-th hit
                quiet = hits != s.thr_count
            if quiet:
                self.cnt[C_ALERTS_THRESHOLDED] += 1
        if not quiet and s.supp != XDPFW_SUPP_NONE and self._suppressed(s, p):
            quiet = True
            self.cnt[C_ALERTS_SUPPRESSED] += 1
        if s.rf:
            action = self._rate(sig, s, p, f, now)
        n = self._add(self.fired, sig, nfired)
        if n != nfired:
            self.quiet[nfired] = quiet
            self.act[nfired] = action
            _fb_apply(&s.fb, f)
        return n

    cdef uint8_t _rate(self, uint32_t sig, const xdpfw_sig *s, const xdpfw_pkt *p,
                       const xdpfw_flow *f, uint64_t now) noexcept nogil:
        """threshold.config rate_filter: the rule's action on this match. The count-th match
        within `seconds` (per tracked key) switches it to rf_action for `timeout` seconds,
        that match included; then counting starts again."""
        cdef xdpfw_thr_entry *e
        e = self._thr_hit(sig | XDPFW_THR_RATE_KEY, s.rf_track, s.rf_seconds, p, f, now)
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

    cdef bint _suppressed(self, const xdpfw_sig *s, const xdpfw_pkt *p) noexcept nogil:
        if s.supp == XDPFW_SUPP_ALL:
            return True
        if (s.supp == XDPFW_SUPP_SRC or s.supp == XDPFW_SUPP_EITHER) and \
                _addr_in(self.rs.addrs, &s.supp_addrs, _be64(p.src), _be64(p.src + 8)):
            return True
        if (s.supp == XDPFW_SUPP_DST or s.supp == XDPFW_SUPP_EITHER) and \
                _addr_in(self.rs.addrs, &s.supp_addrs, _be64(p.dst), _be64(p.dst + 8)):
            return True
        return False

    cdef xdpfw_thr_entry *_thr_hit(self, uint32_t sig, uint8_t track, uint32_t seconds,
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

    cdef inline uint32_t _add(self, uint32_t *arr, uint32_t sig, uint32_t n) noexcept nogil:
        """Append sig to a per-packet set (a rule fires at most once per packet)."""
        cdef uint32_t i
        for i in range(n):
            if arr[i] == sig:
                return n
        if n == MAX_FIRED:
            self.cnt[C_FIRED_OVERFLOW] += 1
            return n
        arr[n] = sig
        return n + 1

    cdef void _scan_stream(self, xdpfw_flow *f, int direction, const uint8_t *data,
                           uint32_t dlen, bint restart) noexcept nogil:
        cdef uint32_t slot = <uint32_t>(f - self.flows.flows)
        cdef xdpfw_mstream *st = &self.mstreams[slot * 2 + direction]
        cdef uint64_t *bits = NULL
        cdef uint32_t first = self.mbuf.count
        cdef int rc
        if self.rs.opwords:
            bits = &self.rs.opbits[<uint64_t>(slot * 2 + direction) * self.rs.opwords]
            if self.mstream_owner[slot * 2 + direction] != f.flow_id or restart:
                memset(bits, 0, self.rs.opwords * sizeof(uint64_t))
        if self.mstream_owner[slot * 2 + direction] != f.flow_id:
            # The slot holds a new flow: give the old flow's stream back, take a fresh one.
            if st.flags & XDPFW_MSTREAM_OPEN:
                self.rs.sops.close(self.rs.pool, self.rs.scratch, st, NULL)
            rc = self.rs.sops.open(self.rs.pool, st)
            if rc != 0:
                self.cnt[C_STREAM_POOL_EMPTY if rc == XDPFW_MATCH_EPOOL else C_MATCHER_ERRORS] += 1
                return
            self.mstream_owner[slot * 2 + direction] = f.flow_id
        elif restart:
            self.rs.sops.reset(self.rs.sdb, st)  # no match may span the skipped hole
        self.cnt[C_SCANNED_BYTES] += dlen
        if self.rs.sops.scan(self.rs.sdb, self.rs.scratch, st, data, dlen, &self.mbuf) < 0:
            self.cnt[C_MATCHER_ERRORS] += 1
        if bits != NULL and self.mbuf.count > first:
            self._combos(bits, first)

    cdef void _combos(self, uint64_t *bits, uint32_t first) noexcept nogil:
        """Mark the operands this scan reported, then evaluate their combinations."""
        cdef const ruleset *r = &self.rs
        cdef uint32_t newk[NEW_OPS_CAP]
        cdef uint32_t nnew = 0, i, j, k, c, end = self.mbuf.count, id
        cdef uint64_t at
        for i in range(first, end):
            id = self.mrec[i].id
            if id >= r.nop_of or r.op_of[id] == NO_SIG:
                continue
            k = r.op_of[id]
            if bits[k >> 6] & (1ULL << (k & 63)):
                continue
            bits[k >> 6] |= 1ULL << (k & 63)
            if nnew < NEW_OPS_CAP:
                newk[nnew] = k
                nnew += 1
            else:
                self.cnt[C_MATCH_OVERFLOW] += 1
        at = self.mrec[end - 1].end
        for i in range(nnew):
            k = newk[i]
            for j in range(r.op_first[k], r.op_first[k + 1]):
                c = r.op_list[j]
                if bits[(r.nops + c) >> 6] & (1ULL << ((r.nops + c) & 63)):
                    continue   # fired already in this stream
                if _prog_eval(&r.prog[r.prog_first[c]], r.prog_first[c + 1] - r.prog_first[c], bits):
                    bits[(r.nops + c) >> 6] |= 1ULL << ((r.nops + c) & 63)
                    xdpfw_match_push(&self.mbuf, r.combo_base + c, at)

    cdef uint32_t _frag_slot(self, const xdpfw_pkt *p, uint16_t vlan, uint64_t now,
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
                self._frag_release(e)      # timed out: its datagram never completed
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

    cdef inline void _frag_release(self, frag_entry *e) noexcept nogil:
        if e.st.flags & XDPFW_MSTREAM_OPEN:
            self.rs.fops.close(self.rs.fpool, self.rs.scratch, &e.st, NULL)
        memset(e, 0, sizeof(frag_entry))

    cdef int _frag_track(self, xdpfw_pkt *p, uint64_t now, frag_entry **out) noexcept nogil:
        """Place a (non-TCP) fragment in its datagram's stream; see FRAG_* above."""
        cdef uint16_t vlan = p.vlan_id[0] if p.vlan_depth else 0
        cdef uint32_t fdata = p.payload_off + p.payload_len - p.l4_off  # IP payload bytes here
        cdef uint32_t slot
        cdef frag_entry *e
        if p.frag_off == 0:
            slot = self._frag_slot(p, vlan, now, True)
            e = &self.frags[slot]
            if e.state != FRAG_FREE and e.ip_id == p.ip_id and e.proto == p.l4_proto and e.vlan == vlan \
                    and memcmp(e.src, p.src, 16) == 0 and memcmp(e.dst, p.dst, 16) == 0:
                self.cnt[C_FRAG_OVERLAPS] += 1  # a second first fragment
                self._frag_bad(e, now)
                return FRAG_REFUSED
            if e.state == FRAG_OPEN:
                self.cnt[C_FRAG_EVICTED] += 1   # table full here: the oldest datagram goes
            self._frag_release(e)
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
        slot = self._frag_slot(p, vlan, now, False)
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
            self._frag_bad(e, now)
            return FRAG_REFUSED
        e.next_off += fdata
        e.last_ns = now
        p.sport = e.sport   # a later fragment has no L4 header: it belongs to the first's flow
        p.dport = e.dport
        out[0] = e
        return FRAG_NEXT

    cdef inline void _frag_bad(self, frag_entry *e, uint64_t now) noexcept nogil:
        """The datagram cannot be reassembled by the receiver: refuse its other fragments
        until it times out."""
        if e.st.flags & XDPFW_MSTREAM_OPEN:
            self.rs.fops.close(self.rs.fpool, self.rs.scratch, &e.st, NULL)
        e.state = FRAG_BAD
        e.last_ns = now

    cdef void _scan_fragment(self, frag_entry *e, const xdpfw_pkt *p, const uint8_t *data,
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
            self._frag_release(e)

    # ---- application layer (engine_app.pxi) ----------------------------------------------
    cdef void _app(self, xdpfw_flow *f, const xdpfw_pkt *p, int direction, const uint8_t *data,
                   uint32_t n, uint32_t flags) noexcept nogil:
        """In-order payload of a direction (a TCP run, or a whole UDP datagram) to the
        flow's decoder, after protocol detection."""
        cdef uint32_t slot = <uint32_t>(f - self.flows.flows)
        cdef app_flow *af = &self.aflow[slot]
        if af.owner != f.flow_id:
            self._app_reset_slot(slot, f.flow_id)
        if f.app_proto == XDPFW_APP_UNKNOWN:
            self._app_detect(f, p, af, slot, direction, data, n, flags)
        elif f.app_proto != XDPFW_APP_FAILED:
            self._feed(f, af, slot, direction, data, n, flags)

    cdef void _feed(self, xdpfw_flow *f, app_flow *af, uint32_t slot, int direction, const uint8_t *data,
                    uint32_t n, uint32_t flags) noexcept nogil:
        cdef const xdpfw_app_ops *o = APP_OPS[f.app_proto]
        self.actx.slot = slot
        self.actx.direction = direction
        self.cnt[C_APP_BYTES] += n
        if o == NULL:
            return
        if o.flags & XDPFW_APP_O_TX_PER_FEED:
            self._tx_reset(slot, direction)   # a message per datagram / segment (DNS)
        o.feed(&af.st, direction, data, n, flags, &self.sink)

    cdef void _app_detect(self, xdpfw_flow *f, const xdpfw_pkt *p, app_flow *af, uint32_t slot,
                          int direction, const uint8_t *data, uint32_t n, uint32_t flags) noexcept nogil:
        cdef uint8_t tmp[PROBE_MAX]
        cdef uint32_t kept = af.probe_len[direction], take, i
        cdef int r = XDPFW_PROBE_NO, r2
        cdef const xdpfw_app_ops *o
        cdef const xdpfw_app_ops *found = NULL
        cdef uint8_t l4 = XDPFW_APP_L4_TCP if p.l4_proto == 6 else (XDPFW_APP_L4_UDP if p.l4_proto == 17 else 0)
        cdef bint datagram = (flags & XDPFW_APP_F_DATAGRAM) != 0
        if flags & XDPFW_APP_F_GAP:
            kept = 0                # bytes were lost: what was kept no longer leads up to these
        take = PROBE_MAX - kept if n > PROBE_MAX - kept else n
        memcpy(tmp, af.probe[direction], PROBE_MAX)
        for i in range(take):       # at most PROBE_MAX bytes, once per direction
            tmp[kept + i] = data[i]
        for i in range(APP_NPROBE):  # the registry, in probe order: the first YES wins
            o = APP_PROBE[i]
            if not (o.l4 & l4) or (o.port != 0 and p.sport != o.port and p.dport != o.port):
                continue
            if datagram:            # a whole datagram: probe all of it
                r2 = o.probe(data, n, direction, XDPFW_APP_F_DATAGRAM)
            else:
                r2 = o.probe(tmp, kept + take, direction, 0)
            if r2 == XDPFW_PROBE_YES or (r2 == XDPFW_PROBE_MORE and r == XDPFW_PROBE_NO):
                r, found = r2, o
                if r == XDPFW_PROBE_YES:
                    break
        if r == XDPFW_PROBE_YES:
            f.app_proto = <uint8_t>found.proto
            found.init(&af.st)
            self.cnt[C_APP_DETECTED] += 1
            if kept:
                self._feed(f, af, slot, direction, af.probe[direction], kept, 0)
            af.probe_len[direction] = 0
            self._feed(f, af, slot, direction, data, n, flags & ~XDPFW_APP_F_GAP)
        elif r == XDPFW_PROBE_MORE and not datagram and kept + take < PROBE_MAX:
            memcpy(af.probe[direction], tmp, PROBE_MAX)
            af.probe_len[direction] = kept + take
        else:
            f.app_proto = XDPFW_APP_FAILED
            self.cnt[C_APP_FAILED] += 1

    cdef void _app_reset_slot(self, uint32_t slot, uint64_t flow_id) noexcept nogil:
        """The slot holds a new flow: give the old flow's open instances back."""
        cdef app_inst *ip = &self.ainst[<size_t>slot * 2 * APP_INST]
        cdef uint32_t i
        for i in range(2 * APP_INST):
            if ip[i].used and (ip[i].st.flags & XDPFW_MSTREAM_OPEN) and self.rs.abuf[ip[i].buf].db != NULL:
                self.rs.abuf[ip[i].buf].ops.close(self.rs.abuf[ip[i].buf].pool, self.rs.scratch, &ip[i].st, NULL)
        memset(ip, 0, 2 * APP_INST * sizeof(app_inst))
        self._tx_reset(slot, 0)
        self._tx_reset(slot, 1)
        memset(&self.aflow[slot], 0, sizeof(app_flow))
        self.aflow[slot].owner = flow_id

    cdef void _app_end(self, xdpfw_flow *f, int direction) noexcept nogil:
        cdef uint32_t slot = <uint32_t>(f - self.flows.flows)
        cdef app_flow *af = &self.aflow[slot]
        if af.owner != f.flow_id:
            return
        self.actx.slot = slot
        self.actx.direction = direction
        if APP_OPS[f.app_proto] != NULL:   # a decoder runs (not unknown, not failed)
            APP_OPS[f.app_proto].end(&af.st, direction, &self.sink)

    cdef void _app_event_count(self, uint32_t proto, uint32_t event) noexcept nogil:
        self.cnt[C_APP_EVENTS] += 1
        if proto < XDPFW_APP_PROTO_MAX:
            self.app_events[proto] += 1
            if event < 64:
                self._event_rules(proto, event)

    cdef inline void _event_rules(self, uint32_t proto, uint32_t event) noexcept nogil:
        """Rules on this decoder event become candidates of the packet."""
        cdef uint32_t k = proto * 64 + event, i
        for i in range(self.rs.ev_first[k], self.rs.ev_first[k + 1]):
            self.app_nfired = self._add(self.app_fired, self.rs.ev_list[i], self.app_nfired)

    cdef bint _event_alerts_unflowed(self, const xdpfw_pkt *p, uint32_t side) noexcept nogil:
        """Decode-event rules on a frame the decoder could not finish (no flow): their
        static header is checked on what was decoded, they alert; True when one of them
        drops (inline)."""
        cdef uint32_t i, sig
        cdef bint drop = False
        for i in range(self.app_nfired):
            sig = self.app_fired[i]
            if not self._static_ok(&self.rs.sigs[sig], p):
                continue
            if self.rs.sigs[sig].action == XDPFW_ACT_PASS:
                return False
            if self.ips and (self.rs.sigs[sig].action == XDPFW_ACT_DROP or
                             self.rs.sigs[sig].action == XDPFW_ACT_REJECT):
                drop = True
        for i in range(self.app_nfired):
            sig = self.app_fired[i]
            if self._static_ok(&self.rs.sigs[sig], p) and not self.rs.sigs[sig].noalert:
                self._alert(sig, self.rs.sigs[sig].action, p, NULL, XDPFW_DIR_TOSERVER, side, drop)
        self.app_nfired = 0
        return drop

    cdef void _piece(self, uint32_t slot, int direction, uint32_t buf, const uint8_t *data, uint32_t n,
                     uint32_t flags) noexcept nogil:
        """One piece of a buffer instance (the decoder's sink), for both variants."""
        if buf >= XDPFW_APP_BUFFER_MAX:
            return
        if (flags & XDPFW_APP_START) and (APP_TX_START[buf] >> (direction & 1)) & 1:
            # the decoder's first piece of a transaction (ops.tx_start; HTTP: the method of
            # a request, the protocol of a response): a new transaction in this direction
            self._tx_reset(slot, direction)
        if self.rs.abuf[buf].active:
            self._vpiece(slot, direction, buf, data, n, flags, False)
        if self.rs.abuf[buf + XDPFW_APP_BUFFER_MAX].active:
            self._vpiece(slot, direction, buf + XDPFW_APP_BUFFER_MAX, data, n, flags, True)

    cdef void _vpiece(self, uint32_t slot, int direction, uint32_t buf, const uint8_t *data, uint32_t n,
                      uint32_t flags, bint dot) noexcept nogil:
        """One piece of an instance of (variant) buffer `buf`; dot: the dotprefix variant,
        a "." scanned before the instance's first byte."""
        cdef app_buf_rt *b = &self.rs.abuf[buf]
        cdef app_inst *base
        cdef app_inst *ip = NULL
        cdef app_inst *free_ = NULL
        cdef uint32_t i, sig
        cdef bint end = (flags & XDPFW_APP_END) != 0
        cdef uint8_t dot_byte = 46   # "."
        base = &self.ainst[(<size_t>slot * 2 + direction) * APP_INST]
        for i in range(APP_INST):
            if base[i].used and base[i].buf == buf:
                ip = &base[i]
            elif not base[i].used and free_ == NULL:
                free_ = &base[i]
        if flags & XDPFW_APP_START:
            if ip != NULL:          # the decoder restarted it: the old instance is over
                if ip.st.flags & XDPFW_MSTREAM_OPEN:
                    b.ops.close(b.pool, self.rs.scratch, &ip.st, NULL)
            else:
                ip = free_
            if ip == NULL:
                self.cnt[C_APP_INST_FULL] += 1
                return
            memset(ip, 0, sizeof(app_inst))
            if b.db != NULL and b.ops.open(b.pool, &ip.st) != 0:
                self.cnt[C_STREAM_POOL_EMPTY] += 1
                return
            ip.used = 1
            ip.buf = <uint8_t>buf
        elif ip == NULL:
            return                  # an instance that was not opened (no room, a swap)
        self.amb.count = 0
        if dot and (flags & XDPFW_APP_START):
            ip.len += 1
            if b.db != NULL and b.ops.scan(b.db, self.rs.scratch, &ip.st, &dot_byte, 1, &self.amb) < 0:
                self.cnt[C_MATCHER_ERRORS] += 1
        ip.len += n
        if b.db != NULL:
            if n:
                self.cnt[C_SCANNED_BYTES] += n
                if b.ops.scan(b.db, self.rs.scratch, &ip.st, data, n, &self.amb) < 0:
                    self.cnt[C_MATCHER_ERRORS] += 1
            if end and b.ops.close(b.pool, self.rs.scratch, &ip.st, &self.amb) < 0:
                self.cnt[C_MATCHER_ERRORS] += 1
        self.cnt[C_MATCHES] += self.amb.count
        for i in range(self.amb.count):
            if self.amrec[i].id >= b.nreport or b.report[self.amrec[i].id] == NO_SIG:
                continue
            sig = b.report[self.amrec[i].id]       # a signature, or PART_FLAG | part
            if not self._has_len_check(sig):
                self._holds(slot, direction, sig)
            elif end:
                if self._len_passes(sig, ip.len):
                    self._holds(slot, direction, sig)
            elif ip.npending < APP_PENDING:
                ip.pending[ip.npending] = sig   # decided when the length is known
                ip.npending += 1
            else:
                self.cnt[C_APP_PENDING_FULL] += 1
        if end:
            for i in range(ip.npending):
                if self._len_passes(ip.pending[i], ip.len):
                    self._holds(slot, direction, ip.pending[i])
            for i in range(b.nevery):   # rules with only a length check on this buffer
                if _len_ok(&self.rs.sigs[b.every[i]], ip.len):
                    self.app_nfired = self._add(self.app_fired, b.every[i], self.app_nfired)
            for i in range(b.nevery_parts):
                if self._len_passes(PART_FLAG | b.every_parts[i], ip.len):
                    self._holds(slot, direction, PART_FLAG | b.every_parts[i])
            ip.used = 0

    cdef inline bint _has_len_check(self, uint32_t v) noexcept nogil:
        if v & PART_FLAG:
            return self.rs.part_op[v & ~PART_FLAG] != XDPFW_DSIZE_NONE
        return self.rs.sigs[v].blen_op != XDPFW_DSIZE_NONE

    cdef inline bint _len_passes(self, uint32_t v, uint32_t n) noexcept nogil:
        cdef uint32_t k
        if not (v & PART_FLAG):
            return _len_ok(&self.rs.sigs[v], n)
        k = v & ~PART_FLAG
        if self.rs.part_op[k] == XDPFW_DSIZE_RANGE:
            return self.rs.part_lo[k] <= n <= self.rs.part_hi[k]
        if self.rs.part_op[k] == XDPFW_DSIZE_NOT:
            return not (self.rs.part_lo[k] <= n <= self.rs.part_hi[k])
        return True

    cdef void _holds(self, uint32_t slot, int direction, uint32_t v) noexcept nogil:
        """A rule (or a part of multi-buffer rules) holds on this instance. A part joins
        the parts this direction's transaction holds; each rule using it whose other parts
        are all held fires - once per transaction, as a part joins once."""
        cdef uint64_t *held
        cdef uint32_t k, i, j, m, q
        cdef bint all_held
        if not (v & PART_FLAG):
            self.app_nfired = self._add(self.app_fired, v, self.app_nfired)
            return
        k = v & ~PART_FLAG
        held = &self.rs.ptx[(<size_t>slot * 2 + direction) * self.rs.ptx_words]
        if held[k >> 6] & (1ULL << (k & 63)):
            return                      # held already in this transaction
        held[k >> 6] |= 1ULL << (k & 63)
        for i in range(self.rs.part_rfirst[k], self.rs.part_rfirst[k + 1]):
            m = self.rs.part_rlist[i]
            all_held = True
            for j in range(self.rs.m_pfirst[m], self.rs.m_pfirst[m + 1]):
                q = self.rs.m_plist[j]
                if not (held[q >> 6] & (1ULL << (q & 63))):
                    all_held = False
                    break
            if all_held:
                self.app_nfired = self._add(self.app_fired, self.rs.m_sig[m], self.app_nfired)

    cdef inline void _tx_reset(self, uint32_t slot, int direction) noexcept nogil:
        if self.rs.ptx_words:
            memset(&self.rs.ptx[(<size_t>slot * 2 + direction) * self.rs.ptx_words], 0,
                   self.rs.ptx_words * sizeof(uint64_t))

    cdef inline bint _header_ok(self, const xdpfw_sig *s, const xdpfw_pkt *p, const xdpfw_flow *f,
                                int direction) noexcept nogil:
        return self._static_ok(s, p) and self._dynamic_ok(s, p, f, direction)

    cdef bint _dynamic_ok(self, const xdpfw_sig *s, const xdpfw_pkt *p, const xdpfw_flow *f,
                          int direction) noexcept nogil:
        """The parts of a rule's header that change during a flow: flow state, dsize, the
        detected application protocol."""
        cdef bint est
        if s.app_proto and f.app_proto != s.app_proto:
            return False
        if s.flow:
            if f.key.proto == 6:
                est = f.tcp_state == XDPFW_TCP_ESTABLISHED or f.tcp_state == XDPFW_TCP_CLOSING
            else:
                est = f.dir[0].packets > 0 and f.dir[1].packets > 0
            if (s.flow & XDPFW_SIGF_ESTABLISHED) and not est:
                return False
            if (s.flow & XDPFW_SIGF_NOT_ESTABLISHED) and est:
                return False
            if (s.flow & XDPFW_SIGF_TO_SERVER) and direction != XDPFW_DIR_TOSERVER:
                return False
            if (s.flow & XDPFW_SIGF_TO_CLIENT) and direction != XDPFW_DIR_TOCLIENT:
                return False
        if s.dsize_op == XDPFW_DSIZE_RANGE:
            if p.payload_len < s.dsize_lo or p.payload_len > s.dsize_hi:
                return False
        elif s.dsize_op == XDPFW_DSIZE_NOT:
            if s.dsize_lo <= p.payload_len <= s.dsize_hi:
                return False
        return True

    cdef bint _static_ok(self, const xdpfw_sig *s, const xdpfw_pkt *p) noexcept nogil:
        """The parts fixed for a flow direction: protocol, addresses, ports, `<>`."""
        cdef uint64_t shi, slo, dhi, dlo
        if s.proto != XDPFW_SIG_PROTO_ANY and s.proto != p.l4_proto and \
                not (s.proto == 1 and p.l4_proto == 58):
            return False
        shi, slo = _be64(p.src), _be64(p.src + 8)
        dhi, dlo = _be64(p.dst), _be64(p.dst + 8)
        if _addr_in(self.rs.addrs, &s.src, shi, slo) and _addr_in(self.rs.addrs, &s.dst, dhi, dlo) \
                and _port_in(self.rs.ports, &s.sport, p.sport) and _port_in(self.rs.ports, &s.dport, p.dport):
            return True
        if s.bidir and _addr_in(self.rs.addrs, &s.src, dhi, dlo) and _addr_in(self.rs.addrs, &s.dst, shi, slo) \
                and _port_in(self.rs.ports, &s.sport, p.dport) and _port_in(self.rs.ports, &s.dport, p.sport):
            return True
        return False

    cdef int _policy_drop(self, const xdpfw_pkt *p, const xdpfw_flow *f, int direction, uint32_t side,
                          uint32_t why, uint32_t *reason) noexcept nogil:
        """Drop by the engine's own policy (not a rule): the reason for the worker, and a
        record for an EVE drop event (the ring's loss counter covers a burst)."""
        reason[0] = why
        self._alert(XDPFW_NO_SIG, XDPFW_ACT_DROP, p, f, direction, side, True, <uint8_t>(why + 1))
        return XDPFW_VERDICT_DROP

    cdef void _alert(self, uint32_t sig, uint8_t action, const xdpfw_pkt *p, const xdpfw_flow *f,
                     int direction, uint32_t side, bint blocked, uint8_t policy=0) noexcept nogil:
        cdef unsigned int head = self.ring_head
        cdef xdpfw_alert_rec *r
        cdef timespec ts
        if head - xdpfw_load_acq(&self.ring_tail) > self.ring_mask:
            self.cnt[C_ALERT_RING_FULL] += 1   # the reader is behind: count, never wait
            return
        r = &self.ring[head & self.ring_mask]
        if self.pkt_ts_ns:
            r.ts_ns = self.pkt_ts_ns
        else:
            clock_gettime(CLOCK_REALTIME, &ts)
            r.ts_ns = <uint64_t>ts.tv_sec * 1000000000ULL + <uint64_t>ts.tv_nsec
        r.pkt_num = self.pkt_num
        r.has_flow = f != NULL
        r.policy_reason = policy
        if f != NULL:
            r.flow_id = f.flow_id
            # Live, the flow clock is monotonic; in replay it is the capture's (wall time).
            r.flow_start_ns = f.first_ns if self.pkt_ts_ns else f.first_ns + self.mono_to_real
            r.flow_pkts[0] = f.dir[0].packets
            r.flow_pkts[1] = f.dir[1].packets
            r.flow_bytes[0] = f.dir[0].bytes
            r.flow_bytes[1] = f.dir[1].bytes
        else:
            r.flow_id = r.flow_start_ns = 0
            r.flow_pkts[0] = r.flow_pkts[1] = r.flow_bytes[0] = r.flow_bytes[1] = 0
        memcpy(r.src, p.src, 16)
        memcpy(r.dst, p.dst, 16)
        r.sport = p.sport
        r.dport = p.dport
        r.sig = sig
        r.proto = p.l4_proto
        r.ip_version = p.ip_version
        r.action = action          # the rule's, or its rate_filter's while active
        r.blocked = blocked
        r.direction = direction
        r.side = side
        r.gen = self.generation & 0xFFFF
        r.app_proto = f.app_proto if f != NULL else 0
        r.vlan_depth = p.vlan_depth
        r.vlan[0] = p.vlan_id[0]
        r.vlan[1] = p.vlan_id[1]
        xdpfw_store_rel(&self.ring_head, head + 1)
        if not policy:
            self.cnt[C_ALERTS] += 1

    # ---- control plane and tests (Python objects allowed) ---------------------------------
    def inspect_frame(self, frame, int side=0, uint64_t now_ns=0, *,
                      uint64_t ts_ns=0, uint64_t pkt_num=0):
        """Inspect one frame (replay and tests). Returns (verdict, drop reason or None);
        verdict "reply", "reply_peer" or "reply_both" when the engine built replies (then in
        last_reply, and last_extra for reply_both). The frame is copied first, with room
        for a reply longer than it (as a UMEM chunk has): the engine may rewrite it."""
        cdef uint32_t n = len(frame)
        cdef bytearray buf = bytearray(frame) + bytearray(256)
        cdef uint8_t[:] view = buf
        cdef uint32_t reason = 0, reply_len = n + 256
        cdef int v
        self.pkt_ts_ns = ts_ns
        self.pkt_num = pkt_num
        self.extra_len = 0
        v = self.inspect(&view[0], n, side, now_ns, &reason, &reply_len)
        self.pkt_ts_ns = 0
        self.pkt_num = 0
        replied = v == XDPFW_VERDICT_REPLY or v == XDPFW_VERDICT_REPLY_PEER or v == XDPFW_VERDICT_REPLY_BOTH
        self.last_reply = bytes(buf[:reply_len]) if replied else None
        self.last_extra = bytes(self.extra[:self.extra_len]) if v == XDPFW_VERDICT_REPLY_BOTH else None
        return (("pass", "drop", "reply", "reply_peer", "reply_both")[v],
                None if v == XDPFW_VERDICT_PASS else reason)

    def replay_pcap(self, const uint8_t[:] data, int side=0, *, size_t resume=0,
                    uint64_t packets_before=0):
        """Inspect the frames of a classic pcap file held in memory, in order, with the
        capture's timestamps as the clock (flow timeouts follow capture time). The loop is
        C: no Python object per packet. Alerts wait in the ring with pkt_num = the 1-based
        packet index (EVE pcap_cnt). The loop returns early, before the ring can overflow,
        with done=False: drain_alerts() and call again with resume=offset and
        packets_before=packets, so a replay never loses an alert."""
        cdef size_t n = data.shape[0], off = resume if resume else 24
        cdef const uint8_t *b = &data[0] if n else NULL
        cdef uint32_t magic, incl, linktype, reason, rlen = 0
        cdef uint64_t ts, scale, packets = packets_before, dropped = 0, truncated = 0
        cdef unsigned int room = self.ring_mask + 1 - MAX_FIRED
        cdef bint done = True
        cdef bint swap
        if self.replies:
            raise ValueError("replay_pcap with replies enabled would rewrite the capture")
        if n < 24:
            raise ValueError("not a pcap file: shorter than its global header")
        magic = _le32(b)
        if magic == 0xa1b2c3d4 or magic == 0xa1b23c4d:
            swap = False
        elif magic == 0xd4c3b2a1 or magic == 0x4d3cb2a1:
            swap = True
        else:
            raise ValueError("not a classic pcap file (pcapng is read by xdpfw.ref.pcap)")
        scale = 1 if (magic == 0xa1b23c4d or magic == 0x4d3cb2a1) else 1000
        linktype = _rd32(b + 20, swap) & 0x0FFFFFFF
        if linktype != 1:
            raise ValueError(f"link type {linktype} is not Ethernet (1)")
        with nogil:
            while off + 16 <= n:
                if self.ring_head - xdpfw_load_acq(&self.ring_tail) >= room:
                    done = False  # the next packet could overflow the alert ring
                    break
                ts = <uint64_t>_rd32(b + off, swap) * 1000000000ULL + <uint64_t>_rd32(b + off + 4, swap) * scale
                incl = _rd32(b + off + 8, swap)
                off += 16
                if incl > n - off:
                    truncated += 1
                    break
                packets += 1
                self.pkt_num = packets
                self.pkt_ts_ns = ts
                reason = 0
                # replay never has `replies` set: the capture's bytes are never rewritten
                if self.inspect(<uint8_t *>(b + off), incl, side, ts, &reason, &rlen) != XDPFW_VERDICT_PASS:
                    dropped += 1
                off += incl
            self.pkt_num = 0
            self.pkt_ts_ns = 0
        return {"packets": packets, "dropped": dropped, "truncated": truncated, "offset": off,
                "done": done}

    def drain_alerts(self, int max_records=1 << 30, *, bint policy_drops=False):
        """Records the worker has pushed since the last drain, as dicts (control plane).
        policy_drops: also the records of packets the engine dropped by policy (no rule:
        "rule" None, "policy_reason" the XDPFW_DROP_* reason), else they are consumed
        silently."""
        cdef unsigned int tail = self.ring_tail
        cdef unsigned int head = xdpfw_load_acq(&self.ring_head)
        cdef xdpfw_alert_rec *r
        out = []
        while tail != head and len(out) < max_records:
            r = &self.ring[tail & self.ring_mask]
            if r.policy_reason and not policy_drops:
                tail += 1
                continue
            out.append({"ts_ns": r.ts_ns, "flow_id": r.flow_id, "pkt_num": r.pkt_num,
                        "flow_start_ns": r.flow_start_ns, "flow_pkts": (r.flow_pkts[0], r.flow_pkts[1]),
                        "flow_bytes": (r.flow_bytes[0], r.flow_bytes[1]),
                        "src": bytes(r.src[:16]), "dst": bytes(r.dst[:16]), "sport": r.sport,
                        "dport": r.dport, "sig": r.sig, "proto": r.proto, "ip_version": r.ip_version,
                        "action": ("pass", "drop", "reject", "alert")[r.action],
                        "blocked": bool(r.blocked),
                        "direction": "to_server" if r.direction == XDPFW_DIR_TOSERVER else "to_client",
                        "side": r.side, "gen": r.gen, "has_flow": bool(r.has_flow),
                        "policy_reason": r.policy_reason - 1 if r.policy_reason else None, "vlan": tuple(r.vlan[i] for i in range(min(r.vlan_depth, 2))),
                        "app_proto": APP_PROTO_NAMES[r.app_proto] if XDPFW_APP_UNKNOWN < r.app_proto < XDPFW_APP_FAILED
                        else None,
                        "rule": self._rule_of(r.gen, r.sig) if r.sig != XDPFW_NO_SIG else None})
            tail += 1
        xdpfw_store_rel(&self.ring_tail, tail)
        return out

    cdef _rule_of(self, uint16_t gen, uint32_t sig):
        rules = self._rules_by_gen.get(gen)
        return rules[sig] if rules is not None and sig < len(rules) else None

    @property
    def app_state_bytes(self):
        """Per flow: decoder state and protocol detection bytes, the open buffer instances
        of both directions, and both directions' transaction part bitmaps."""
        return sizeof(app_flow) + 2 * APP_INST * sizeof(app_inst) + 2 * 8 * self.rs.ptx_words

    @property
    def combination_state_bytes(self):
        """Per stream (flow direction): the bitmap of operands seen and combinations fired."""
        return self.rs.opwords * 8

    def counters(self):
        c = {name: self.cnt[i] for i, name in enumerate(COUNTER_NAMES)}
        c["decode_events"] = [self.decode_events[i] for i in range(64)]
        c["app_events_by_proto"] = {APP_PROTO_NAMES[i]: self.app_events[i] for i in range(XDPFW_APP_PROTO_MAX)
                                    if self.app_events[i]}
        c["flows"] = self.flows.counters()
        return c

    @property
    def flow_table(self):
        return self.flows

    def inspector(self):
        """A capsule of the C entry point (xdpfw_inspect_fn) for QueuePair.bind_engine()."""
        return PyCapsule_New(<void *>_inspect_entry, b"xdpfw_inspect_fn", NULL)


cdef uint32_t _pow2_at_least(uint32_t n):
    """The table size for n entries: a power of two, at least 64 (index with & (size - 1))."""
    cdef uint32_t size = 64
    while size < n:
        size <<= 1
    return size


cdef uint32_t *_csr(lists, uint32_t **first) except NULL:
    """Lists of ints as one array and the offsets of each list (len(lists) + 1)."""
    cdef uint32_t n = 0, i, j
    cdef uint32_t total = sum(len(x) for x in lists)
    cdef uint32_t *flat = <uint32_t *>PyMem_Calloc(max(1, total), sizeof(uint32_t))
    first[0] = <uint32_t *>PyMem_Calloc(len(lists) + 1, sizeof(uint32_t))
    if flat == NULL or first[0] == NULL:
        PyMem_Free(flat)
        raise MemoryError()
    for i, xs in enumerate(lists):
        first[0][i] = n
        for j in xs:
            flat[n] = j
            n += 1
    first[0][len(lists)] = n
    return flat


cdef uint32_t *_u32_array(values, uint32_t *n) except NULL:
    cdef uint32_t i
    n[0] = len(values)
    cdef uint32_t *a = <uint32_t *>PyMem_Calloc(max(1, n[0]), sizeof(uint32_t))
    if a == NULL:
        raise MemoryError()
    for i in range(n[0]):
        a[i] = values[i]
    return a


cdef uint32_t *_report_array(report, uint32_t *n) except NULL:
    """A dense id -> signature array (NO_SIG where an id reports nothing)."""
    cdef uint32_t i
    n[0] = max(report.keys(), default=-1) + 1
    cdef uint32_t *a = <uint32_t *>PyMem_Calloc(max(1, n[0]), sizeof(uint32_t))
    if a == NULL:
        raise MemoryError()
    for i in range(n[0]):
        a[i] = NO_SIG
    for mid, sig in report.items():
        a[mid] = sig
    return a


cdef const uint8_t *_extra_entry(void *engine, uint32_t *length) noexcept nogil:
    length[0] = (<Engine>engine).extra_len
    return (<Engine>engine).extra


cdef void _between_entry(void *engine) noexcept nogil:
    (<Engine>engine)._between()


cdef bint _prog_eval(const uint32_t *prog, uint32_t n, const uint64_t *bits) noexcept nogil:
    """A combination's postfix program over the stream's operand bitmap."""
    cdef uint8_t stack[PROG_STACK]
    cdef uint32_t sp = 0, i, op, arg, j
    cdef uint8_t v
    for i in range(n):
        op = prog[i] >> 30
        arg = prog[i] & 0x3FFFFFFF
        if op == OPC_PUSH:
            stack[sp] = (bits[arg >> 6] >> (arg & 63)) & 1
            sp += 1
        elif op == OPC_NOT:
            stack[sp - 1] ^= 1
        else:
            v = 1 if op == OPC_AND else 0
            for j in range(sp - arg, sp):
                if op == OPC_AND:
                    v &= stack[j]
                else:
                    v |= stack[j]
            sp -= arg
            stack[sp] = v
            sp += 1
    return stack[0] != 0


cdef object _build_combos(ruleset *r, combos, report, uint32_t slots):
    """Lay the stream combinations out for _combos (see "Combinations"); returns the report
    map extended with their ids."""
    cdef uint32_t i
    if not combos:
        return report
    operands: dict[int, int] = {}
    progs = []

    def emit(tree, out, depth):
        if isinstance(tree, int):
            out.append((int(OPC_PUSH) << 30) | operands.setdefault(tree, len(operands)))
            return depth + 1
        op, *args = tree
        peak = depth
        for n, a in enumerate(args):
            peak = max(peak, emit(a, out, depth + n))
        if op == "not":
            out.append(int(OPC_NOT) << 30)
        else:
            out.append((int(OPC_AND if op == "and" else OPC_OR) << 30) | len(args))
        return peak

    for sig, tree in combos:
        prog = []
        if emit(tree, prog, 0) > PROG_STACK:
            raise ValueError(f"signature {sig}: formula too deep for the engine's evaluator")
        progs.append(prog)
    r.nops, r.ncombos = len(operands), len(combos)
    r.nop_of = max(operands) + 1
    r.combo_base = max(max(report, default=-1), r.nop_of - 1) + 1
    owners = [[] for _ in range(r.nops)]
    for c, prog in enumerate(progs):
        for k in dict.fromkeys(x & 0x3FFFFFFF for x in prog if x >> 30 == int(OPC_PUSH)):
            owners[k].append(c)
    r.op_of = <uint32_t *>PyMem_Calloc(r.nop_of, sizeof(uint32_t))
    r.op_first = <uint32_t *>PyMem_Calloc(r.nops + 1, sizeof(uint32_t))
    r.op_list = <uint32_t *>PyMem_Calloc(max(1, sum(map(len, owners))), sizeof(uint32_t))
    r.prog_first = <uint32_t *>PyMem_Calloc(r.ncombos + 1, sizeof(uint32_t))
    r.prog = <uint32_t *>PyMem_Calloc(max(1, sum(map(len, progs))), sizeof(uint32_t))
    r.opwords = (r.nops + r.ncombos + 63) // 64
    r.opbits = <uint64_t *>PyMem_Calloc(<size_t>slots * r.opwords, sizeof(uint64_t))
    if not (r.op_of and r.op_first and r.op_list and r.prog_first and r.prog and r.opbits):
        raise MemoryError()
    for i in range(r.nop_of):
        r.op_of[i] = NO_SIG
    for pid, k in operands.items():
        r.op_of[pid] = k
    n = 0
    for k, cs in enumerate(owners):
        r.op_first[k] = n
        for c in cs:
            r.op_list[n] = c
            n += 1
    r.op_first[r.nops] = n
    n = 0
    for c, prog in enumerate(progs):
        r.prog_first[c] = n
        for x in prog:
            r.prog[n] = x
            n += 1
    r.prog_first[r.ncombos] = n
    report = dict(report)
    for c, (sig, _) in enumerate(combos):
        report[r.combo_base + c] = sig
    return report


cdef void _free_ruleset(ruleset *r) noexcept:
    """Free what _build allocated (the matcher handles belong to their Python owners)."""
    PyMem_Free(r.sigs)
    PyMem_Free(r.addrs)
    PyMem_Free(r.ports)
    PyMem_Free(r.report_sig)
    PyMem_Free(r.breport_sig)
    PyMem_Free(r.hdr_only)
    PyMem_Free(r.op_of)
    PyMem_Free(r.op_first)
    PyMem_Free(r.op_list)
    PyMem_Free(r.prog_first)
    PyMem_Free(r.prog)
    PyMem_Free(r.opbits)
    cdef int b
    for b in range(APP_VBUF_MAX):
        PyMem_Free(r.abuf[b].report)
        PyMem_Free(r.abuf[b].every)
        PyMem_Free(r.abuf[b].every_parts)
    PyMem_Free(r.part_lo)
    PyMem_Free(r.part_hi)
    PyMem_Free(r.part_op)
    PyMem_Free(r.part_rfirst)
    PyMem_Free(r.part_rlist)
    PyMem_Free(r.m_sig)
    PyMem_Free(r.m_pfirst)
    PyMem_Free(r.m_plist)
    PyMem_Free(r.ptx)
    PyMem_Free(r.ev_first)
    PyMem_Free(r.ev_list)
    memset(r, 0, sizeof(ruleset))


cdef int _inspect_entry(void *engine, uint8_t *frame, uint32_t length, uint32_t side,
                        uint64_t now_ns, uint32_t *reason, uint32_t *reply_len) noexcept nogil:
    return (<Engine>engine).inspect(frame, length, side, now_ns, reason, reply_len)


cdef inline void _put16(uint8_t *p, uint32_t v) noexcept nogil:
    p[0] = (v >> 8) & 0xFF
    p[1] = v & 0xFF


cdef inline void _put32(uint8_t *p, uint32_t v) noexcept nogil:
    p[0] = (v >> 24) & 0xFF
    p[1] = (v >> 16) & 0xFF
    p[2] = (v >> 8) & 0xFF
    p[3] = v & 0xFF


cdef inline uint32_t _sum16(const uint8_t *p, uint32_t n, uint32_t acc) noexcept nogil:
    cdef uint32_t i
    for i in range(0, n - 1, 2):
        acc += (<uint32_t>p[i] << 8) | p[i + 1]
    if n & 1:
        acc += <uint32_t>p[n - 1] << 8
    return acc


cdef inline uint16_t _fold(uint32_t acc) noexcept nogil:
    while acc >> 16:
        acc = (acc & 0xFFFF) + (acc >> 16)
    return <uint16_t>(~acc & 0xFFFF)


cdef uint32_t _icmp_unreach_in_place(uint8_t *frame, uint32_t length, uint32_t room,
                                     const xdpfw_pkt *p) noexcept nogil:
    """Rewrite a (non-TCP) packet into the ICMP port unreachable its sender gets back
    (ICMPv6 destination unreachable, port unreachable, for IPv6): new IP and ICMP headers
    in front of the original IP header and the first 8 bytes after it (RFC 792 / RFC 4443;
    the quote is moved forward in place: header bytes only). Returns the reply's length,
    or 0 for what must not be answered (an ICMP error, a non-first fragment, a multicast
    or broadcast destination) or does not fit in `room`."""
    cdef uint8_t tmp[6]
    cdef uint8_t *ip = frame + p.l3_off
    cdef uint8_t *ic
    cdef uint32_t avail = length - p.l3_off, ihl, q, acc
    if p.frag_off:
        return 0
    if p.ip_version == 4:
        if (p.l4_proto == 1 and p.icmp_type in (3, 4, 5, 11, 12)) or ip[16] >= 224 or \
                (ip[16] == 255 and ip[17] == 255 and ip[18] == 255 and ip[19] == 255):
            return 0
        ihl = p.l4_off - p.l3_off
        q = ihl + (8 if avail >= ihl + 8 else avail - ihl)
        if p.l3_off + 28 + q > room:
            return 0
        memmove(ip + 28, ip, q)       # the quote: original IP header + 8 bytes
        ic = ip + 20
        ip[0] = 0x45
        ip[1] = 0
        _put16(ip + 2, 28 + q)
        _put16(ip + 4, 0)
        _put16(ip + 6, 0)
        ip[8] = 64
        ip[9] = 1
        memcpy(ip + 12, ip + 28 + 16, 4)   # from: the original destination
        memcpy(ip + 16, ip + 28 + 12, 4)   # to: the original source
        _put16(ip + 10, 0)
        _put16(ip + 10, _fold(_sum16(ip, 20, 0)))
        ic[0] = 3                     # destination unreachable
        ic[1] = 3                     # port unreachable
        memset(ic + 2, 0, 6)
        _put16(ic + 2, _fold(_sum16(ic, 8 + q, 0)))
        q += 28
    else:
        if (p.l4_proto == 58 and p.icmp_type < 128) or ip[24] == 0xFF:
            return 0
        q = 48 if avail >= 48 else avail
        if p.l3_off + 48 + q > room:
            return 0
        memmove(ip + 48, ip, q)       # the quote: original IPv6 header + 8 bytes
        ic = ip + 40
        ip[0] = 0x60
        ip[1] = ip[2] = ip[3] = 0
        _put16(ip + 4, 8 + q)
        ip[6] = 58
        ip[7] = 64
        memcpy(ip + 8, ip + 48 + 24, 16)
        memcpy(ip + 24, ip + 48 + 8, 16)
        ic[0] = 1                     # destination unreachable
        ic[1] = 4                     # port unreachable
        memset(ic + 2, 0, 6)
        acc = _sum16(ip + 8, 32, 0) + 8 + q + 58   # pseudo-header
        _put16(ic + 2, _fold(_sum16(ic, 8 + q, acc)))
        q += 48
    memcpy(tmp, frame, 6)             # Ethernet: swap destination and source
    memcpy(frame, frame + 6, 6)
    memcpy(frame + 6, tmp, 6)
    return p.l3_off + q


cdef uint32_t _tcp_rst(uint8_t *frame, const xdpfw_pkt *p, bint to_sender) noexcept nogil:
    """Rewrite a TCP segment's headers (in the frame, or a copy of them) into a RST.
    to_sender: the RST its sender gets back (RFC 9293 3.10.7.1 for a reset answering a
    segment): MACs, addresses and ports swapped. Else the RST the destination gets in its
    place (rejectdst): same MACs, addresses and ports, at the segment's own sequence
    number (the next byte the receiver expects, since the segment itself never arrives).
    No payload, checksums recomputed. Returns the reply's length, or 0 when the frame
    cannot carry one (IPv6 with extension headers). Never longer than the headers."""
    cdef uint8_t tmp[16]
    cdef uint8_t *ip = frame + p.l3_off
    cdef uint8_t *th = frame + p.l4_off
    cdef uint32_t seq, ack, acc, hlen
    cdef uint8_t flags
    if to_sender:
        memcpy(tmp, frame, 6)        # Ethernet: swap destination and source
        memcpy(frame, frame + 6, 6)
        memcpy(frame + 6, tmp, 6)
    if p.ip_version == 4:
        hlen = p.l4_off - p.l3_off
        if to_sender:
            memcpy(tmp, ip + 12, 4)
            memcpy(ip + 12, ip + 16, 4)
            memcpy(ip + 16, tmp, 4)
        _put16(ip + 2, hlen + 20)    # total length: header + bare TCP header
        _put16(ip + 4, 0)            # id
        _put16(ip + 6, 0x4000)       # DF, no fragment
        ip[8] = 64                   # TTL
        _put16(ip + 10, 0)
        _put16(ip + 10, _fold(_sum16(ip, hlen, 0)))
    else:
        if p.l4_off != p.l3_off + 40:
            return 0
        if to_sender:
            memcpy(tmp, ip + 8, 16)
            memcpy(ip + 8, ip + 24, 16)
            memcpy(ip + 24, tmp, 16)
        _put16(ip + 4, 20)           # payload length
        ip[7] = 64                   # hop limit
    if not to_sender:                # in the segment's place, at its sequence number
        seq = p.tcp_seq
        ack = p.tcp_ack if p.tcp_flags & 0x10 else 0
        flags = 0x14 if p.tcp_flags & 0x10 else 0x04
    elif p.tcp_flags & 0x10:         # it carried an ACK: our RST takes that sequence number
        seq = p.tcp_ack
        ack = 0
        flags = 0x04
    else:                            # no ACK: acknowledge what it sent instead
        seq = 0
        ack = p.tcp_seq + p.payload_len + (1 if p.tcp_flags & 0x02 else 0) + (1 if p.tcp_flags & 0x01 else 0)
        flags = 0x14
    _put16(th, p.dport if to_sender else p.sport)
    _put16(th + 2, p.sport if to_sender else p.dport)
    _put32(th + 4, seq)
    _put32(th + 8, ack)
    th[12] = 5 << 4                  # data offset 5: no options
    th[13] = flags
    _put16(th + 14, 0)               # window
    _put16(th + 16, 0)               # checksum, below
    _put16(th + 18, 0)               # urgent pointer
    if p.ip_version == 4:
        acc = _sum16(ip + 12, 8, 0)  # pseudo-header: addresses, protocol, TCP length
    else:
        acc = _sum16(ip + 8, 32, 0)
    acc += 6 + 20
    _put16(th + 16, _fold(_sum16(th, 20, acc)))
    return p.l4_off + 20


cdef void _fill_sig(xdpfw_sig *d, s):
    cdef int w
    for w in range(2):
        d.fb.isset[w], d.fb.isnotset[w] = s.fb_isset[w], s.fb_isnotset[w]
        d.fb.set[w], d.fb.unset[w], d.fb.toggle[w] = s.fb_set[w], s.fb_unset[w], s.fb_toggle[w]
    d.fb.isset_any, d.fb.isnotset_any = s.fb_isset_any, s.fb_isnotset_any
    d.fb.checks = bool(any(s.fb_isset) or any(s.fb_isnotset))
    d.thr_type, d.thr_track, d.thr_count, d.thr_seconds = s.thr_type, s.thr_track, s.thr_count, s.thr_seconds
    d.supp = s.supp
    d.supp_addrs.first, d.supp_addrs.count, d.supp_addrs.any = s.supp_addrs
    d.src.first, d.src.count, d.src.any = s.src
    d.dst.first, d.dst.count, d.dst.any = s.dst
    d.sport.first, d.sport.count, d.sport.any = s.sport
    d.dport.first, d.dport.count, d.dport.any = s.dport
    d.action = s.action
    d.proto = s.proto
    d.bidir = s.bidir
    d.flow = s.flow
    d.dsize_op = s.dsize_op
    d.dsize_lo = s.dsize_lo
    d.dsize_hi = s.dsize_hi
    d.noalert = s.noalert
    d.rf, d.rf_track, d.rf_action, d.reject = s.rf, s.rf_track, s.rf_action, s.reject
    d.app_proto, d.blen_op, d.blen_lo, d.blen_hi = s.app_proto, s.blen_op, s.blen_lo, s.blen_hi
    d.rf_count, d.rf_seconds, d.rf_timeout = s.rf_count, s.rf_seconds, s.rf_timeout


ACT_PASS, ACT_DROP, ACT_REJECT, ACT_ALERT = XDPFW_ACT_PASS, XDPFW_ACT_DROP, XDPFW_ACT_REJECT, XDPFW_ACT_ALERT
REJECT_SRC, REJECT_DST = XDPFW_REJECT_SRC, XDPFW_REJECT_DST
SIGF_ESTABLISHED, SIGF_NOT_ESTABLISHED = XDPFW_SIGF_ESTABLISHED, XDPFW_SIGF_NOT_ESTABLISHED
SIGF_TO_SERVER, SIGF_TO_CLIENT = XDPFW_SIGF_TO_SERVER, XDPFW_SIGF_TO_CLIENT
DSIZE_NONE, DSIZE_RANGE, DSIZE_NOT = XDPFW_DSIZE_NONE, XDPFW_DSIZE_RANGE, XDPFW_DSIZE_NOT
THR_NONE, THR_LIMIT, THR_THRESHOLD, THR_BOTH, THR_DETECTION = (
    XDPFW_THR_NONE, XDPFW_THR_LIMIT, XDPFW_THR_THRESHOLD, XDPFW_THR_BOTH, XDPFW_THR_DETECTION)
TRACK_SRC, TRACK_DST, TRACK_RULE, TRACK_BOTH, TRACK_FLOW = (
    XDPFW_TRACK_SRC, XDPFW_TRACK_DST, XDPFW_TRACK_RULE, XDPFW_TRACK_BOTH, XDPFW_TRACK_FLOW)
SUPP_NONE, SUPP_ALL, SUPP_SRC, SUPP_DST, SUPP_EITHER = (
    XDPFW_SUPP_NONE, XDPFW_SUPP_ALL, XDPFW_SUPP_SRC, XDPFW_SUPP_DST, XDPFW_SUPP_EITHER)
