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

One compilation unit, one file per concern (included below, so calls between them stay
plain C calls): this file holds the Engine class and the per-packet pipeline in order;
the concerns are module-level functions taking the typed engine (Cython allows no
`include` inside a class body):

  engine_app.pxi      application layer: detection, decoders, app buffers (its methods
                      stay in the class, marked below)
  engine_ruleset.pxi  rule sets: build, stage, swap between batches, free
  engine_frag.pxi     IP fragments
  engine_rate.pxi     threshold / detection_filter / rate_filter trackers, suppress
  engine_combo.pxi    combinations: postfix programs over operand bitmaps
  engine_alerts.pxi   the alert ring: writer and reader
  engine_reject.pxi   reject replies: TCP RST, ICMP / ICMPv6 port unreachable
  engine_testapi.pxi  frames from Python: inspect_frame, replay_pcap, reject_reply
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
from xdpfw._fast.includes.engine cimport *
from xdpfw._fast.includes.pkt cimport (XDPFW_DECODE_EVENT_MAX, XDPFW_EV_WORDS, XDPFW_IP_FRAG, XDPFW_IP_MF,
                                       XDPFW_LAYER_L4, xdpfw_pkt)
from xdpfw._fast.includes.shared cimport *
from xdpfw._fast.match cimport (Database, Scratch, StreamPool, XDPFW_MATCH_EPOOL,
                                XDPFW_MSTREAM_OPEN, xdpfw_match, xdpfw_match_buf,
                                xdpfw_match_push, xdpfw_matcher_ops, xdpfw_mstream)

cdef extern from "xdpfw_bypass.h" nogil:
    struct xdpfw_bypass_key:
        uint8_t src[16]
        uint8_t dst[16]
        uint16_t sport
        uint16_t dport
        uint16_t vlan
        uint8_t proto
        uint8_t pad
    int xdpfw_bypass_flow(int map_fd, xdpfw_bypass_key *k, uint32_t side)

cdef extern from "xdpfw_norm.h" nogil:
    int xdpfw_tcp_checksums_ok(const uint8_t *frame, const xdpfw_pkt *p)
    void xdpfw_raise_ttl(uint8_t *frame, const xdpfw_pkt *p, uint8_t ttl)

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

# Engine counters: the XDPFW_ENGINE_COUNTERS X-macro (xdpfw_engine.h) as the C compiler
# saw it, (C name, label) in Engine.cnt[] order; the labels name the metrics.
COUNTERS = [(xdpfw_engine_counter_name(i).decode(), xdpfw_engine_counter_label(i).decode())
            for i in range(C_MAX)]
COUNTER_NAMES = tuple(label for _, label in COUNTERS)
COUNTER_MAX = C_MAX

cdef uint32_t NO_SIG = 0xFFFFFFFF   # report map entry with no signature

include "engine_app.pxi"

# The EVE app_proto names: the XDPFW_APP_PROTOS X-macro (xdpfw_app.h), XDPFW_APP_* order.
cdef extern from *:
    """
    #include "xdpfw_app.h"
    #define XDPFW__ENGINE_APP_LABEL(name, label) case name: return label;
    static inline const char *xdpfw_engine_app_proto_label(unsigned int p)
    {
        switch (p) {
        XDPFW_APP_PROTOS(XDPFW__ENGINE_APP_LABEL)
        }
        return (const char *)0;
    }
    """
    const char *xdpfw_engine_app_proto_label(unsigned int p)
APP_PROTO_NAMES = tuple(xdpfw_engine_app_proto_label(i).decode() for i in range(XDPFW_APP_PROTO_MAX))

cdef enum:
    HDR_UNKNOWN = 0
    HDR_NONE = 1
    HDR_SOME = 2
    # Per flow direction, the header-only rules whose fixed part (protocol, addresses,
    # ports) holds are remembered, up to HDR_KEEP of them: later packets check only their
    # flow state, dsize and flowbits. More than that: the list is scanned per packet.
    HDR_KEEP = 7
    HDR_MANY = 0xFF

cdef enum:
    EV_STRIDE = 128       # event-rule table: events per decoder (L2-L4: 64 * XDPFW_EV_WORDS)
    MAX_FIRED = 64        # distinct rules that can fire on one packet
    MATCH_CAP = 1024      # matcher reports kept per scan (more are counted, not kept)
    PRE_CAP = 128         # distinct prefilter literals kept per datagram (more: bdb scanned whole)

# Encryption handling (Suricata's app-layer.protocols.tls.encryption-handling, its enum
# order): what the engine does once a decoder reports the flow's payload encrypted
# (xdpfw_app.h XDPFW_APP_CTL_ENCRYPTED, TLS application data).
#  default - no more content matching on the flow (its raw bytes are ciphertext; stream and
#            packet rules could only match noise), while header, flow and app-layer rules,
#            the TCP tracker and the decoder (record framing, heartbeat events) go on;
#  bypass  - nothing more: the flow's packets are forwarded uninspected (counted);
#  full    - inspect as any other flow.
cdef enum:
    ENC_DEFAULT_ = 0
    ENC_BYPASS_ = 1
    ENC_FULL_ = 2
ENC_DEFAULT, ENC_BYPASS, ENC_FULL = ENC_DEFAULT_, ENC_BYPASS_, ENC_FULL_
ENCRYPTION_HANDLING = {"default": ENC_DEFAULT_, "bypass": ENC_BYPASS_, "full": ENC_FULL_}

# Policies (the `exception-policy` values that apply per packet).
cdef enum:
    POLICY_PASS_ = 0
    POLICY_DROP_ = 1
POLICY_PASS, POLICY_DROP = POLICY_PASS_, POLICY_DROP_


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


cdef inline uint64_t _be64(const uint8_t *p) noexcept nogil:
    return ((<uint64_t>p[0] << 56) | (<uint64_t>p[1] << 48) | (<uint64_t>p[2] << 40) |
            (<uint64_t>p[3] << 32) | (<uint64_t>p[4] << 24) | (<uint64_t>p[5] << 16) |
            (<uint64_t>p[6] << 8) | <uint64_t>p[7])


cdef uint32_t _pow2_at_least(uint32_t n):
    """The table size for n entries: a power of two, at least 64 (index with & (size - 1))."""
    cdef uint32_t size = 64
    while size < n:
        size <<= 1
    return size


include "engine_ruleset.pxi"
include "engine_frag.pxi"
include "engine_rate.pxi"
include "engine_combo.pxi"
include "engine_alerts.pxi"
include "engine_reject.pxi"
include "engine_testapi.pxi"


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
    cdef uint8_t *mgroup             # the stream group each stream slot was opened in
    cdef xdpfw_match *mrec
    cdef xdpfw_match_buf mbuf
    cdef xdpfw_pkt pkt
    cdef xdpfw_alert_rec *ring
    cdef uint32_t ring_mask
    cdef unsigned int ring_head      # written by the worker
    cdef unsigned int ring_tail      # written by the reader
    cdef uint64_t cnt[C_MAX]         # by XDPFW_ENGINE_COUNTERS (xdpfw_engine.h): C_* indices
    cdef uint32_t fired[MAX_FIRED]
    cdef uint32_t cand[MAX_FIRED]    # rules whose conditions but flowbits hold on this packet
    cdef bint quiet[MAX_FIRED]       # fired[i] matched but rate control or suppress mutes its alert
    cdef uint8_t act[MAX_FIRED]      # fired[i]'s action on this packet (a rate_filter may change it)
    cdef app_flow *aflow             # per flow slot: decoder state, protocol detection bytes
    cdef uint32_t *hdr_keep          # per flow slot and direction: HDR_KEEP header-only rules (HDR_SOME)
    cdef uint8_t *hdr_kept           # ... how many (HDR_MANY: more than HDR_KEEP)
    cdef app_inst *ainst             # per flow slot: 2 x APP_INST open buffer instances
    cdef xdpfw_app_sink sink
    cdef app_ctx actx
    cdef xdpfw_match amrec[APP_MATCH_CAP]
    cdef xdpfw_match_buf amb
    cdef xdpfw_match prec[PRE_CAP]   # block prefilter: the literals one datagram holds
    cdef xdpfw_match_buf pbuf
    cdef uint32_t app_fired[MAX_FIRED]   # rules an app buffer completed on this packet
    cdef uint32_t app_nfired
    cdef uint64_t app_events[XDPFW_APP_PROTO_MAX]
    cdef uint64_t decode_events[128] # per decode event (xdpfw_pkt.h), frames that had it
    cdef const uint8_t *cur_frame    # the frame being inspected (alerts read a tunnel's outer header)
    cdef frag_entry *frags           # datagrams being fragmented (fixed capacity, per worker)
    cdef uint32_t frag_mask
    cdef uint64_t frag_timeout_ns
    cdef xdpfw_thr_entry *thr        # rate-control trackers (fixed capacity, per worker)
    cdef uint32_t thr_mask
    cdef uint64_t thr_seed
    cdef public int decode_error_policy
    cdef public int no_flow_policy
    cdef public uint32_t policy_drop_records  # EVE records of policy drops per reason per second (0: all)
    cdef uint64_t pd_window[XDPFW_DROP_REASON_MAX]  # per drop reason: the second its records are counted in
    cdef uint32_t pd_count[XDPFW_DROP_REASON_MAX]   # ... and how many it had
    cdef uint64_t cur_now            # the packet being inspected: its clock (inspect's now)
    cdef public bint ips             # False (IDS): drop/reject rules only alert, nothing blocks
    cdef public bint replies         # reject rules answer with a TCP RST (live workers only)
    cdef public bint verify_checksums  # inline: drop TCP segments with a wrong checksum (xdpfw_norm.h)
    cdef public bint normalize_ttl     # inline: raise a TCP segment's TTL to its direction's highest
    cdef public int encryption_handling  # ENC_*: what an encrypted flow still gets inspected for
    cdef int bypass_fd               # the XDP program's bypass_map, or -1 (set_bypass_map)
    cdef uint32_t cur_side           # the NIC of the frame being inspected
    cdef readonly bytes last_reply   # inspect_frame(): the reply the engine built, if any
    cdef readonly bytes last_extra   # inspect_frame(): the extra reply of REPLY_BOTH, if any
    cdef readonly bytes last_frame   # inspect_frame(): the frame as forwarded (normalised in place)
    cdef uint8_t extra[REJECT_EXTRA] # REPLY_BOTH: the reset for the destination
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
        self.mgroup = NULL
        self.mrec = NULL
        self.cur_frame = NULL
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
        PyMem_Free(self.hdr_keep)
        PyMem_Free(self.hdr_kept)
        PyMem_Free(self.mstream_owner)
        PyMem_Free(self.mgroup)
        PyMem_Free(self.mrec)
        PyMem_Free(self.ring)
        PyMem_Free(self.thr)

    def __init__(self, tables, *, Database stream_db=None, Database block_db=None,
                 uint32_t flow_capacity=65536, uint32_t stream_pool=0,
                 uint32_t alert_ring=4096, rules=None, bint midstream=True, uint32_t gap_resync=0,
                 bint ips=True, uint32_t thresholds=16384, bint replies=False,
                 Database frag_db=None, uint32_t fragments=4096, app=None,
                 bint verify_checksums=False, bint normalize_ttl=False, bint check_sides=False,
                 encryption_handling="default", block_pre=None, stream_groups=None):
        """tables: an xdpfw.detect.sigtables.SigTables (signature, address and port arrays and
        the matcher report map). Databases are shared, read-only; everything else is this
        worker's. check_sides: inline, each packet's NIC (`side`) is checked against its
        flow's (flow-table admission); off for replay, which has no NICs and trusts the
        addresses. encryption_handling: "default", "bypass" or "full" (ENC_* above).
        block_pre: the block database's prefilter (xdpfw.detect.prefilter.BlockPrefilter),
        or None to scan block_db whole on every datagram. stream_groups: the stream rules'
        groups (xdpfw.detect.streamgroups.StreamGroups), each flow direction scanned with
        its group's database; None: stream_db everywhere."""
        cdef uint32_t i, ring
        if encryption_handling not in ENCRYPTION_HANDLING:
            raise ValueError(f"encryption_handling: {encryption_handling!r} is not one of "
                             f"{', '.join(ENCRYPTION_HANDLING)}")
        self.flows = FlowTable(flow_capacity, midstream=midstream, gap_resync=gap_resync, enforce=ips,
                               sides=check_sides)
        self.stream_pool_size = stream_pool or self.flows.capacity * 2
        self.mstream_slots = self.flows.capacity * 2
        self.mstreams = <xdpfw_mstream *>PyMem_Calloc(self.mstream_slots, sizeof(xdpfw_mstream))
        self.mstream_owner = <uint64_t *>PyMem_Calloc(self.mstream_slots, sizeof(uint64_t))
        self.mgroup = <uint8_t *>PyMem_Calloc(self.mstream_slots, 1)
        if self.mstreams == NULL or self.mstream_owner == NULL or self.mgroup == NULL:
            raise MemoryError()
        ring = _pow2_at_least(fragments)
        self.frags = <frag_entry *>PyMem_Calloc(ring, sizeof(frag_entry))
        if self.frags == NULL:
            raise MemoryError()
        self.frag_mask = ring - 1
        self.frag_timeout_ns = FRAG_TIMEOUT_NS
        self.aflow = <app_flow *>PyMem_Calloc(self.flows.capacity, sizeof(app_flow))
        self.ainst = <app_inst *>PyMem_Calloc(<size_t>self.mstream_slots * APP_INST, sizeof(app_inst))
        self.hdr_keep = <uint32_t *>PyMem_Calloc(<size_t>self.flows.capacity * 2 * HDR_KEEP, sizeof(uint32_t))
        self.hdr_kept = <uint8_t *>PyMem_Calloc(<size_t>self.flows.capacity * 2, 1)
        if self.aflow == NULL or self.ainst == NULL or self.hdr_keep == NULL or self.hdr_kept == NULL:
            raise MemoryError()
        self.actx.engine = <void *>self
        self.sink.ctx = &self.actx
        self.sink.data = _app_data
        self.sink.event = _app_event
        self.sink.control = _app_control
        self.amb.rec = self.amrec
        self.amb.capacity = APP_MATCH_CAP
        self.amb.count = 0
        self.amb.overflow = 0
        memset(self.app_events, 0, sizeof(self.app_events))
        memset(self.decode_events, 0, sizeof(self.decode_events))
        self._rules_by_gen = {}
        self.pbuf.rec = self.prec
        self.pbuf.capacity = PRE_CAP
        self.pbuf.count = 0
        self.pbuf.overflow = 0
        self._live_refs = _build(self, &self.rs, tables, stream_db, block_db, frag_db, app, block_pre, stream_groups)
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
        self.decode_error_policy = POLICY_DROP_
        self.no_flow_policy = POLICY_DROP_ if ips else POLICY_PASS_
        self.ips = ips
        self.replies = replies
        self.verify_checksums = verify_checksums
        self.normalize_ttl = normalize_ttl
        self.encryption_handling = ENCRYPTION_HANDLING[encryption_handling]
        self.bypass_fd = -1

    # ---- rule sets (engine_ruleset.pxi) ---------------------------------------------------
    def stage_rules(self, tables, *, Database stream_db=None, Database block_db=None, rules=None,
                    Database frag_db=None, app=None, block_pre=None, stream_groups=None):
        """Build a new rule set aside (matcher scratch and stream pool included) and hand
        it to the worker, which swaps it in between batches. Returns the generation the
        swap will produce; wait for it with finish_swap(). Raises if a swap is pending."""
        return _stage(self, tables, stream_db, block_db, rules, frag_db, app, block_pre, stream_groups)

    def apply_staged(self):
        """Swap a staged set in now: only for an engine no worker runs (replay, tests)."""
        _between(self)
        _collect_retired(self)

    def finish_swap(self, double timeout=5.0):
        """Wait (GIL released) until the worker swapped the staged set in, then free the old
        one. Returns True when done, False on timeout (the swap stays pending)."""
        return _finish_swap(self, timeout)

    @property
    def rules_generation(self):
        """Rule sets swapped in since the engine was built (0: the one it was built with)."""
        return xdpfw_load_acq(&self.generation)

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
        cdef uint32_t nstatic, j, w = 0
        cdef size_t kslot
        cdef uint32_t *keep
        cdef const uint32_t *lst[3]
        cdef uint32_t nl[3]
        cdef uint32_t pos[3]
        cdef uint32_t how
        cdef frag_entry *fe
        cdef uint64_t ev
        cdef uint8_t *top
        self.cnt[C_PACKETS] += 1
        self.app_nfired = 0
        self.cur_side = side
        self.cur_now = now
        res = xdpfw_decode(frame, length, p)
        self.cur_frame = frame
        for i in range(XDPFW_EV_WORDS):
            ev = p.events[i]
            while ev:                   # usually none: one branch per word per frame
                self.decode_events[i * 64 + _ctz64(ev)] += 1
                ev &= ev - 1
            ev = p.events[i] & self.rs.dev_mask[i]
            while ev:                   # decode-event rules (checked with the others below)
                self._event_rules(0, i * 64 + _ctz64(ev))
                ev &= ev - 1
        if res != 0 and self.app_nfired:
            # decoding stopped: no flow; event rules are checked on what was decoded
            if self._event_alerts_unflowed(p, side):
                return self._policy_drop(p, NULL, direction, side, XDPFW_DROP_DECODE_ERROR, reason)
        if res != 0:
            # Not inspectable past the layer that stopped decoding (a truncated header, an
            # extension header or tunnel it cannot see through): inline, forwarding it
            # would hand the host bytes no rule looked at, so drop is the default; `pass`
            # is the operator's explicit choice. IDS: counted as a would-drop.
            self.cnt[C_DECODE_ERRORS] += 1
            if self.decode_error_policy == POLICY_DROP_:
                if self.ips:
                    return self._policy_drop(p, NULL, direction, side, XDPFW_DROP_DECODE_ERROR, reason)
                self.cnt[C_IDS_WOULD_DROP] += 1
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
            elif _frag_track(self, p, now, &fe) == FRAG_REFUSED:
                if self.ips:
                    return self._policy_drop(p, NULL, direction, side, XDPFW_DROP_IP_FRAGMENT, reason)
                self.cnt[C_IDS_WOULD_DROP] += 1
                fe = NULL   # IDS: inspected alone

        if self.verify_checksums and p.l4_proto == 6 and (p.layers & XDPFW_LAYER_L4) and \
                xdpfw_tcp_checksums_ok(frame, p) == 0:
            # the host drops it: inspecting (or recording) it would judge bytes the host
            # never reads, and let the copy it does read differ
            self.cnt[C_BAD_CHECKSUM] += 1
            return self._policy_drop(p, NULL, direction, side, XDPFW_DROP_BAD_CHECKSUM, reason)

        f = self.flows.lookup(p.src, p.dst, p.sport, p.dport, p.l4_proto,
                              p.vlan_id[0] if p.vlan_depth else 0, now, &direction, side)
        if f == NULL:
            self.cnt[C_NO_FLOW] += 1
            if self.no_flow_policy == POLICY_DROP_:
                return self._policy_drop(p, NULL, direction, side,
                                         XDPFW_DROP_FLOW_SOURCE_SHARE if self.flows.refused == XDPFW_FLOW_SHARE_REFUSED
                                         else XDPFW_DROP_FLOW_TABLE_FULL, reason)
            return XDPFW_VERDICT_PASS
        # flow-table admission: inline, the NIC must be the one this direction's sender
        # sends from (FlowTable.admit); a spoofed packet changes nothing of the flow
        if self.flows.admit(f, &direction, side, p.tcp_flags if p.l4_proto == 6 else 0,
                            p.tcp_ack if p.l4_proto == 6 else 0, now) != 0:
            if not self.ips:
                self.cnt[C_IDS_WOULD_DROP] += 1
                return XDPFW_VERDICT_PASS   # IDS: not inspected, not blocked
            return self._policy_drop(p, f, direction, side, XDPFW_DROP_WRONG_SIDE, reason)
        if p.l4_proto == 6 and self.flows.reuses(f, direction, p.tcp_seq, p.tcp_flags):
            # a new connection on the 5-tuple of a finished one: a new flow (the old one's
            # matcher streams, flowbits, drop mark and protocol do not carry over)
            direction = self.flows.restart(f, direction, now)
        f.dir[direction].packets += 1
        f.dir[direction].bytes += length
        if f.drop:
            self.cnt[C_FLOW_DROPPED] += 1
            reason[0] = XDPFW_DROP_RULE
            return XDPFW_VERDICT_DROP
        if f.settled & XDPFW_FLOW_S_BYPASS:
            return self._bypassed(f, p, direction, length)

        data = frame + p.payload_off
        dlen = p.payload_len
        self.mbuf.count = 0
        rmap, rmax = self.rs.report_sig, self.rs.nreport
        if p.l4_proto == 6 and (p.layers & XDPFW_LAYER_L4):
            if self.normalize_ttl:
                top = self.flows.dir_ttl(f, direction)
                if p.ttl > top[0]:
                    top[0] = p.ttl
                elif p.ttl < top[0]:
                    # it would expire where the direction's other segments do not: past
                    # the appliance, before the host (or a RST the host never sees)
                    xdpfw_raise_ttl(frame, p, top[0])
                    self.cnt[C_TTL_RAISED] += 1
            res = self.flows.tcp_track(f, direction, p.tcp_seq, p.tcp_ack, p.tcp_flags, data, dlen,
                                       &skip)
            if res == XDPFW_SEG_GAP or res == XDPFW_SEG_WINDOW or res == XDPFW_SEG_CONFLICT or \
                    res == XDPFW_SEG_UNVERIFIABLE:
                self.cnt[C_TCP_DROPPED] += 1
                if not self.ips:
                    self.cnt[C_IDS_WOULD_DROP] += 1
                    return XDPFW_VERDICT_PASS  # IDS: not inspected, not blocked
                return self._policy_drop(p, f, direction, side, XDPFW_DROP_TCP_OUT_OF_ORDER if
                                         res == XDPFW_SEG_GAP or res == XDPFW_SEG_WINDOW else
                                         XDPFW_DROP_TCP_INSERTION, reason)
            if (res == XDPFW_SEG_IN_ORDER or res == XDPFW_SEG_OVERLAP or res == XDPFW_SEG_MIDSTREAM
                    or res == XDPFW_SEG_RESYNC) and dlen > skip:
                # the decoder first: a segment that begins the flow's encrypted records
                # (XDPFW_APP_CTL_ENCRYPTED) is not content-matched either, as in Suricata,
                # whose app layer parses a segment before detection sees it
                if self.rs.app_on:
                    self._app(f, p, direction, data + skip, dlen - skip,
                              XDPFW_APP_F_GAP if res == XDPFW_SEG_RESYNC else 0)
                if self.rs.sdb != NULL and not f.settled & XDPFW_FLOW_S_NO_PAYLOAD:
                    self._scan_stream(f, direction, data + skip, dlen - skip, res == XDPFW_SEG_RESYNC)
            if self.rs.app_on and (p.tcp_flags & 0x05) and res != XDPFW_SEG_RETRANSMIT \
                    and res != XDPFW_SEG_RST_IGNORED:
                self._app_end(f, direction)   # FIN or RST: the direction's open instances end
        elif fe != NULL:
            rmap, rmax = self.rs.breport_sig, self.rs.nbreport
            _scan_fragment(self, fe, p, data, dlen)
        elif dlen:
            rmap, rmax = self.rs.breport_sig, self.rs.nbreport
            # the decoder first, as for TCP: the block prefilter checks a candidate's
            # header (its app_proto too) before verifying it
            if self.rs.app_on and p.l4_proto == 17 and not (p.ip_flags & XDPFW_IP_FRAG):
                self._app(f, p, direction, data, dlen, XDPFW_APP_F_DATAGRAM)
            if self.rs.bops != NULL:
                self.cnt[C_SCANNED_BYTES] += dlen
                self._scan_block(p, f, direction, data, dlen)

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
        # Rules without payload conditions: which of them can match this flow direction's
        # protocol, addresses and ports is fixed for the flow, so it is worked out once:
        # most packets skip the list (an IP blocklist rarely matches), and a direction with
        # a few such rules checks only those (HDR_KEEP).
        if f.hdr_rules[direction] != HDR_NONE and self.rs.nhdr_only:
            kslot = <size_t>(f - self.flows.flows) * 2 + <size_t>direction
            keep = &self.hdr_keep[kslot * HDR_KEEP]
            if f.hdr_rules[direction] == HDR_SOME and self.hdr_kept[kslot] != HDR_MANY:
                for i in range(self.hdr_kept[kslot]):
                    if self._dynamic_ok(&self.rs.sigs[keep[i]], p, f, direction):
                        ncand = self._add(self.cand, keep[i], ncand)
            else:
                # the always-checked rules and those listed under the source's and the
                # destination's address segments, merged in rule order
                nstatic = 0
                lst[0] = self.rs.hdr_always
                nl[0] = self.rs.nhdr_always
                lst[1] = _hdr_listed(&self.rs, 0, _be64(p.src), _be64(p.src + 8), &nl[1])
                lst[2] = _hdr_listed(&self.rs, 1, _be64(p.dst), _be64(p.dst + 8), &nl[2])
                pos[0] = pos[1] = pos[2] = 0
                while True:
                    i = NO_SIG
                    for j in range(3):
                        if pos[j] < nl[j] and lst[j][pos[j]] < i:
                            i = lst[j][pos[j]]
                            w = j
                    if i == NO_SIG:
                        break
                    pos[w] += 1
                    sig = self.rs.hdr_only[i]
                    if self._static_ok(&self.rs.sigs[sig], p):
                        if nstatic < HDR_KEEP:
                            keep[nstatic] = sig
                        nstatic += 1
                        if self._dynamic_ok(&self.rs.sigs[sig], p, f, direction):
                            ncand = self._add(self.cand, sig, ncand)
                self.hdr_kept[kslot] = <uint8_t>nstatic if nstatic <= HDR_KEEP else HDR_MANY
                f.hdr_rules[direction] = HDR_SOME if nstatic else HDR_NONE
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
            for i in range(nfired):
                if self.act[i] == XDPFW_ACT_PASS and self._pass_applies_to_flow(&self.rs.sigs[self.fired[i]], p):
                    self._settle_passed(f, direction)
                    break
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
                return _reject(self, frame, length, p, how, reply_len)
            return XDPFW_VERDICT_DROP
        return XDPFW_VERDICT_PASS

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
            hits = _thr_hit(self, sig, s.thr_track, s.thr_seconds, p, f, now).count
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
        if not quiet and s.supp != XDPFW_SUPP_NONE and _suppressed(self, s, p):
            quiet = True
            self.cnt[C_ALERTS_SUPPRESSED] += 1
        if s.rf:
            action = _rate(self, sig, s, p, f, now)
        n = self._add(self.fired, sig, nfired)
        if n != nfired:
            self.quiet[nfired] = quiet
            self.act[nfired] = action
            _fb_apply(&s.fb, f)
        return n

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

    cdef void _scan_block(self, const xdpfw_pkt *p, const xdpfw_flow *f, int direction,
                          const uint8_t *data, uint32_t dlen) noexcept nogil:
        """A datagram's payload against the block rules, reports into mbuf. With the
        prefilter (detect/prefilter.py): its literals first; each rule one of them
        selects, once, if its header holds, has its own expressions scanned; then the
        rules without a literal. Without it, or when the literals overflow pbuf, the
        whole block database."""
        cdef ruleset *rs = &self.rs
        cdef uint32_t i, j, k, v, gen
        if rs.pdb != NULL:
            self.pbuf.count = 0
            self.pbuf.overflow = 0
            if rs.bops.scan_block(rs.pdb, rs.scratch, data, dlen, &self.pbuf) < 0:
                self.cnt[C_MATCHER_ERRORS] += 1
            elif not self.pbuf.overflow:
                self.cnt[C_PREFILTER_HITS] += self.pbuf.count
                rs.vgen += 1
                if rs.vgen == 0:          # wrapped: no stale stamp may equal a new one
                    memset(rs.vstamp, 0, rs.nverify * sizeof(uint32_t))
                    rs.vgen = 1
                gen = rs.vgen
                for i in range(self.pbuf.count):
                    k = self.prec[i].id
                    if k >= rs.npre:
                        continue
                    for j in range(rs.pre_first[k], rs.pre_first[k + 1]):
                        v = rs.pre_list[j]
                        if rs.vstamp[v] == gen:
                            continue
                        rs.vstamp[v] = gen
                        if not self._header_ok(&rs.sigs[rs.vsig[v]], p, f, direction):
                            continue
                        self.cnt[C_PREFILTER_VERIFIED] += 1
                        if rs.bops.scan_block(rs.vdb[v], rs.scratch, data, dlen, &self.mbuf) < 0:
                            self.cnt[C_MATCHER_ERRORS] += 1
                if rs.rdb != NULL and rs.bops.scan_block(rs.rdb, rs.scratch, data, dlen, &self.mbuf) < 0:
                    self.cnt[C_MATCHER_ERRORS] += 1
                return
            else:
                self.cnt[C_PREFILTER_OVERFLOW] += 1
        if rs.bops.scan_block(rs.bdb, rs.scratch, data, dlen, &self.mbuf) < 0:
            self.cnt[C_MATCHER_ERRORS] += 1

    cdef inline uint32_t _sgroup(self, const xdpfw_flow *f, int direction) noexcept nogil:
        """The stream group of a flow direction (streamgroups.group_index): its sender and
        receiver from the flow's key (the initiator sends to_server), not from a packet, so
        a decoder ending the other direction's instances gets that direction's group."""
        cdef const uint8_t *ini
        cdef const uint8_t *rsp
        if not self.rs.sg_by_addr:
            return <uint32_t>direction * 4
        ini = &f.key.addr_a[0] if f.init_is_a else &f.key.addr_b[0]
        rsp = &f.key.addr_b[0] if f.init_is_a else &f.key.addr_a[0]
        if direction != XDPFW_DIR_TOSERVER:
            ini, rsp = rsp, ini
        return <uint32_t>direction * 4 + \
            <uint32_t>_addr_in(self.rs.sg_home, &self.rs.sg_home_ref, _be64(ini), _be64(ini + 8)) * 2 + \
            <uint32_t>_addr_in(self.rs.sg_home, &self.rs.sg_home_ref, _be64(rsp), _be64(rsp + 8))

    cdef void _scan_stream(self, xdpfw_flow *f, int direction, const uint8_t *data,
                           uint32_t dlen, bint restart) noexcept nogil:
        cdef uint32_t slot = <uint32_t>(f - self.flows.flows)
        cdef size_t k = <size_t>slot * 2 + <size_t>direction
        cdef xdpfw_mstream *st = &self.mstreams[k]
        cdef uint64_t *bits = NULL
        cdef uint32_t first = self.mbuf.count
        cdef uint32_t g = self._sgroup(f, direction)
        cdef int rc
        if self.rs.opwords:
            bits = &self.rs.opbits[<uint64_t>k * self.rs.opwords]
            if self.mstream_owner[k] != f.flow_id or restart:
                memset(bits, 0, self.rs.opwords * sizeof(uint64_t))
        if self.mstream_owner[k] != f.flow_id or self.mgroup[k] != g:
            # The slot holds a new flow (or its direction turned into another group, as a
            # flow reversed at its SYN-ACK may): give the old stream back, take one of the
            # group's; a group no stream rule can match has none, and is not scanned.
            if st.flags & XDPFW_MSTREAM_OPEN:
                self.rs.sops.close(self.rs.sgpool[self.mgroup[k]], self.rs.scratch, st, NULL)
            self.mstream_owner[k] = f.flow_id
            self.mgroup[k] = <uint8_t>g
            if self.rs.sgdb[g] == NULL:
                return
            rc = self.rs.sops.open(self.rs.sgpool[g], st)
            if rc != 0:
                self.mstream_owner[k] = 0      # tried again on the next segment
                self.cnt[C_STREAM_POOL_EMPTY if rc == XDPFW_MATCH_EPOOL else C_MATCHER_ERRORS] += 1
                return
        elif self.rs.sgdb[g] == NULL:
            return
        elif restart:
            self.rs.sops.reset(self.rs.sgdb[g], st)  # no match may span the skipped hole
        self.cnt[C_SCANNED_BYTES] += dlen
        if self.rs.sops.scan(self.rs.sgdb[g], self.rs.scratch, st, data, dlen, &self.mbuf) < 0:
            self.cnt[C_MATCHER_ERRORS] += 1
        if bits != NULL and self.mbuf.count > first:
            _combos(self, bits, first)

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
            if ip[i].used and (ip[i].st.flags & XDPFW_MSTREAM_OPEN):
                self.rs.abuf[ip[i].buf].ops.close(self.rs.abuf[ip[i].buf].gpool[ip[i].grp], self.rs.scratch,
                                                  &ip[i].st, NULL)
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

    cdef int _bypassed(self, xdpfw_flow *f, const xdpfw_pkt *p, int direction, uint32_t length) noexcept nogil:
        """A packet of a flow the engine is done with (encryption-handling bypass):
        forwarded uninspected. Only what the flow table needs for its timeouts is kept: a RST,
        or FINs both ways, close the connection."""
        self.cnt[C_BYPASSED_PACKETS] += 1
        self.cnt[C_BYPASSED_BYTES] += length
        if p.l4_proto == 6 and (p.layers & XDPFW_LAYER_L4):
            if p.tcp_flags & 0x04:
                f.tcp_state = XDPFW_TCP_CLOSED
            elif p.tcp_flags & 0x01:
                f.dir[direction].fin_seen = 1
                f.tcp_state = XDPFW_TCP_CLOSED if f.dir[direction ^ 1].fin_seen else XDPFW_TCP_CLOSING
        return XDPFW_VERDICT_PASS

    cdef void _app_ctl(self, uint32_t slot, int direction, uint32_t what) noexcept nogil:
        """A decoder's sink->control (xdpfw_app.h): the flow's payload is encrypted from
        here on; the encryption-handling policy decides what is still inspected."""
        cdef xdpfw_flow *f = &self.flows.flows[slot]
        if what != XDPFW_APP_CTL_ENCRYPTED or f.settled or self.encryption_handling == ENC_FULL_:
            return
        if self.encryption_handling == ENC_BYPASS_:
            f.settled = XDPFW_FLOW_S_BYPASS | XDPFW_FLOW_S_NO_PAYLOAD
            self.cnt[C_BYPASSED_FLOWS] += 1
            if self.bypass_fd >= 0:
                self._offload(f, direction)
        else:
            f.settled = XDPFW_FLOW_S_NO_PAYLOAD
            self.cnt[C_ENCRYPTED_FLOWS] += 1

    cdef inline bint _pass_applies_to_flow(self, const xdpfw_sig *s, const xdpfw_pkt *p) noexcept nogil:
        """Suricata 7 applies a pass rule to the whole flow when its match was in the
        stream or the app layer, or the rule has no payload condition; a packet-only match
        (dsize, a UDP/ICMP payload) passes that packet alone."""
        if s.dsize_op != XDPFW_DSIZE_NONE:
            return False
        return s.hdr_only or s.app_proto != 0 or p.l4_proto == 6

    cdef void _settle_passed(self, xdpfw_flow *f, int direction) noexcept nogil:
        """A pass rule settled the flow: every later packet is forwarded uninspected
        (_bypassed), inline with the XDP program's help where the flow bypass is on."""
        if f.settled & XDPFW_FLOW_S_BYPASS:
            return
        f.settled = XDPFW_FLOW_S_BYPASS | XDPFW_FLOW_S_NO_PAYLOAD
        self.cnt[C_PASSED_FLOWS] += 1
        if self.bypass_fd >= 0:
            self._offload(f, direction)

    cdef void _offload(self, xdpfw_flow *f, int direction) noexcept nogil:
        """Hand a bypassed flow to the XDP program (xdpfw_bypass.h): both directions'
        entries, keyed as the XDP program reads the frame (xdpfw_shared.h). Only frames it
        can look up: no tunnel, at most two VLAN tags, not a fragment, TCP. Frames of the
        flow that still reach the worker are forwarded by _bypassed."""
        cdef const xdpfw_pkt *p = &self.pkt
        cdef xdpfw_bypass_key k
        if p.l4_proto != 6 or p.tunnel_depth or p.vlan_depth > 2 or p.ip_flags & XDPFW_IP_FRAG:
            self.cnt[C_BYPASS_OFFLOAD_FAILED] += 1
            return
        memset(&k, 0, sizeof(k))
        memcpy(k.src, p.src, 16)
        memcpy(k.dst, p.dst, 16)
        k.sport, k.dport, k.proto = p.sport, p.dport, 6
        k.vlan = p.vlan_id[0] if p.vlan_depth else 0
        if xdpfw_bypass_flow(self.bypass_fd, &k, self.cur_side) == 0:
            self.cnt[C_BYPASS_OFFLOADED] += 1
        else:
            self.cnt[C_BYPASS_OFFLOAD_FAILED] += 1

    def set_bypass_map(self, int fd):
        """The XDP program's bypass_map (its fd, kept open by its owner), or -1: bypassed
        flows are then forwarded by the worker only. Set before the worker starts."""
        self.bypass_fd = fd

    cdef void _app_event_count(self, uint32_t proto, uint32_t event) noexcept nogil:
        self.cnt[C_APP_EVENTS] += 1
        if proto < XDPFW_APP_PROTO_MAX:
            self.app_events[proto] += 1
            if event < 64:
                self._event_rules(proto, event)

    cdef inline void _event_rules(self, uint32_t proto, uint32_t event) noexcept nogil:
        """Rules on this decoder event become candidates of the packet."""
        cdef uint32_t k = proto * EV_STRIDE + event, i
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
        cdef uint32_t g
        cdef const void *gdb
        base = &self.ainst[(<size_t>slot * 2 + direction) * APP_INST]
        for i in range(APP_INST):
            if base[i].used and base[i].buf == buf:
                ip = &base[i]
            elif not base[i].used and free_ == NULL:
                free_ = &base[i]
        if flags & XDPFW_APP_START:
            if ip != NULL:          # the decoder restarted it: the old instance is over
                if ip.st.flags & XDPFW_MSTREAM_OPEN:
                    b.ops.close(b.gpool[ip.grp], self.rs.scratch, &ip.st, NULL)
            else:
                ip = free_
            if ip == NULL:
                self.cnt[C_APP_INST_FULL] += 1
                return
            memset(ip, 0, sizeof(app_inst))
            # the instance's database: its flow direction's group's
            g = self._sgroup(&self.flows.flows[slot], direction)
            ip.grp = <uint8_t>g
            if b.gdb[g] != NULL and b.ops.open(b.gpool[g], &ip.st) != 0:
                self.cnt[C_STREAM_POOL_EMPTY] += 1
                return
            ip.used = 1
            ip.buf = <uint8_t>buf
        elif ip == NULL:
            return                  # an instance that was not opened (no room, a swap)
        self.amb.count = 0
        gdb = b.gdb[ip.grp]
        if dot and (flags & XDPFW_APP_START):
            ip.len += 1
            if gdb != NULL and b.ops.scan(gdb, self.rs.scratch, &ip.st, &dot_byte, 1, &self.amb) < 0:
                self.cnt[C_MATCHER_ERRORS] += 1
        ip.len += n
        if gdb != NULL:
            if n:
                self.cnt[C_SCANNED_BYTES] += n
                if b.ops.scan(gdb, self.rs.scratch, &ip.st, data, n, &self.amb) < 0:
                    self.cnt[C_MATCHER_ERRORS] += 1
            if end and b.ops.close(b.gpool[ip.grp], self.rs.scratch, &ip.st, &self.amb) < 0:
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
        cdef uint64_t sec
        reason[0] = why
        if self.policy_drop_records:
            # A flood the policy drops (one host's new flows past its share, spoofed
            # frames) must not cost a record, a clock read and an EVE line per packet:
            # at most policy_drop_records a second per reason, the rest counted.
            sec = self.cur_now // 1000000000ULL
            if self.pd_window[why] != sec:
                self.pd_window[why] = sec
                self.pd_count[why] = 0
            if self.pd_count[why] >= self.policy_drop_records:
                self.cnt[C_DROP_RECORDS_LIMITED] += 1
                return XDPFW_VERDICT_DROP
            self.pd_count[why] += 1
        self._alert(XDPFW_NO_SIG, XDPFW_ACT_DROP, p, f, direction, side, True, <uint8_t>(why + 1))
        return XDPFW_VERDICT_DROP

    cdef void _alert(self, uint32_t sig, uint8_t action, const xdpfw_pkt *p, const xdpfw_flow *f,
                     int direction, uint32_t side, bint blocked, uint8_t policy=0) noexcept nogil:
        """An alert record into the ring (engine_alerts.pxi); policy: an engine-policy drop
        (its XDPFW_DROP_* reason + 1), recorded for EVE but not counted as an alert."""
        _alert_push(self, sig, action, p, f, direction, side, blocked, policy)

    # ---- control plane and tests (Python objects allowed) ---------------------------------
    def inspect_frame(self, frame, int side=0, uint64_t now_ns=0, *,
                      uint64_t ts_ns=0, uint64_t pkt_num=0):
        """Inspect one frame (replay and tests). Returns (verdict, drop reason or None);
        verdict "reply", "reply_peer" or "reply_both" when the engine built replies (then in
        last_reply, and last_extra for reply_both). The frame is copied first, with room
        for a reply longer than it (as a UMEM chunk has): the engine may rewrite it."""
        return _inspect_frame(self, frame, side, now_ns, ts_ns, pkt_num)

    def replay_pcap(self, const uint8_t[:] data, int side=0, *, size_t resume=0,
                    uint64_t packets_before=0):
        """Inspect the frames of a classic pcap file held in memory, in order, with the
        capture's timestamps as the clock (flow timeouts follow capture time). The loop is
        C: no Python object per packet. Alerts wait in the ring with pkt_num = the 1-based
        packet index (EVE pcap_cnt). The loop returns early, before the ring can overflow,
        with done=False: drain_alerts() and call again with resume=offset and
        packets_before=packets, so a replay never loses an alert."""
        return _replay_pcap(self, data, side, resume, packets_before)

    def drain_alerts(self, int max_records=1 << 30, *, bint policy_drops=False):
        """Records the worker has pushed since the last drain, as dicts (control plane).
        policy_drops: also the records of packets the engine dropped by policy (no rule:
        "rule" None, "policy_reason" the XDPFW_DROP_* reason), else they are consumed
        silently."""
        return _drain_alerts(self, max_records, policy_drops)

    @property
    def app_state_bytes(self):
        """Per flow: decoder state and protocol detection bytes, the open buffer instances
        of both directions, and both directions' transaction part bitmaps."""
        return sizeof(app_flow) + 2 * APP_INST * sizeof(app_inst) + 2 * 8 * self.rs.ptx_words

    @property
    def header_rule_index(self):
        """The header-only rules' index (engine_ruleset.pxi _build_hdr_index): rules in
        all, checked always, address segments by source and by destination."""
        return {"rules": self.rs.nhdr_only, "always": self.rs.nhdr_always,
                "segments": (self.rs.nhseg[0], self.rs.nhseg[1])}

    @property
    def header_rule_state_bytes(self):
        """Per flow: both directions' kept header-only rules (HDR_KEEP)."""
        return 2 * (HDR_KEEP * sizeof(uint32_t) + 1)

    @property
    def combination_state_bytes(self):
        """Per stream (flow direction): the bitmap of operands seen and combinations fired."""
        return self.rs.opwords * 8

    def counters(self):
        c = {name: self.cnt[i] for i, name in enumerate(COUNTER_NAMES)}
        c["decode_events"] = [self.decode_events[i] for i in range(XDPFW_DECODE_EVENT_MAX)]
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

    def extra_reply(self):
        """A capsule of the extra-reply function (xdpfw_extra_fn) for the worker."""
        return PyCapsule_New(<void *>_extra_entry, b"xdpfw_extra_fn", NULL)

    def between_batches(self):
        """A capsule of the between-batches function (xdpfw_batch_fn) for the worker."""
        return PyCapsule_New(<void *>_between_entry, b"xdpfw_batch_fn", NULL)


cdef int _inspect_entry(void *engine, uint8_t *frame, uint32_t length, uint32_t side,
                        uint64_t now_ns, uint32_t *reason, uint32_t *reply_len) noexcept nogil:
    return (<Engine>engine).inspect(frame, length, side, now_ns, reason, reply_len)


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
