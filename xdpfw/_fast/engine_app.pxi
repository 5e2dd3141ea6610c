# The engine's application layer (included by engine.pyx): protocol detection, the
# decoders (one module per protocol, xdpfw_app.h), and matching of the buffer pieces they
# report. Per packet, no Python object, no payload copy (the first bytes of a direction,
# at most PROBE_MAX, are kept for protocol detection).
#
# Detection. The first payload bytes of a direction (up to PROBE_MAX, across segments:
# a 1-byte-segment request is still recognised) go to each decoder's probe(); the first
# YES sets the flow's app_proto and the decoder is fed the kept bytes, then the stream as
# it arrives. All NO, or no answer after PROBE_MAX bytes: app_proto "failed", no app-layer
# rule applies to the flow. The decoders, their probe order and their port policy (DNS on
# port 53 only, as Suricata's default config; HTTP and TLS on any TCP port: a request line,
# a ClientHello record are unmistakable) come from the app-layer registry
# (app_registry.pyx, xdpfw_app.h: struct xdpfw_app_ops): the engine calls each decoder
# through its ops table, a C function pointer, and names no protocol.
#
# Matching. Every buffer a rule inspects has its own streaming database (the rules that
# inspect exactly that buffer, compiled by xdpfw/detect/apprules.py). An instance of the
# buffer (xdpfw_app.h: START .. END) takes a matcher stream from the buffer's pool at
# START, is scanned piece by piece, and is finished at END (end anchors, negations and
# Hyperscan combinations are decided there). A plain expression fires as it matches, so a
# drop takes the packet that completed it; a rule with a length check (bsize, urilen) is
# held until END, when the instance's length is known. Up to APP_INST instances are open
# per flow direction (more: counted, not inspected).

from xdpfw._fast.includes.app cimport *
from xdpfw._fast.app_registry cimport APP_REGISTRY_MAX, app_registry_at, xdpfw_app_state

cdef enum:
    # A buffer's rules come in two variants: as the buffer is, and with the dotprefix
    # transform (a "." before the first byte: `dotprefix; content:".evil.com"; endswith`
    # matches the name and its subdomains). Variant v of buffer b is slot b + v * MAX.
    APP_VBUF_MAX = XDPFW_APP_BUFFER_MAX * 2
    APP_INST = 6          # buffer instances open at once per flow direction
    APP_PENDING = 4       # rules with a length check held per instance until its end
    PROBE_MAX = 16        # first bytes of a direction kept for protocol detection
    APP_MATCH_CAP = 256   # matcher reports kept per piece
    APP_POOL = 4096       # matcher streams per buffer per worker (instances open at once)
    SG_MAX = 8            # stream groups (detect/streamgroups.py NGROUPS): direction x H x H

# A report value naming a part of a multi-buffer rule (apprules.PART_FLAG), not a signature.
cdef uint32_t PART_FLAG = 0x80000000


# The registry, copied at import: in probe order, and by XDPFW_APP_* id (feed, end).
cdef const xdpfw_app_ops *APP_PROBE[APP_REGISTRY_MAX]
cdef uint32_t APP_NPROBE = 0
cdef const xdpfw_app_ops *APP_OPS[XDPFW_APP_PROTO_MAX]
# Per buffer: bit d set when its START begins a new transaction in direction d (ops.tx_start).
cdef uint8_t APP_TX_START[XDPFW_APP_BUFFER_MAX]


cdef void _app_registry_load() except *:
    global APP_NPROBE
    cdef const xdpfw_app_ops *o
    cdef int d
    memset(APP_OPS, 0, sizeof(APP_OPS))
    memset(APP_TX_START, 0, sizeof(APP_TX_START))
    o = app_registry_at(0)
    while o != NULL:
        if o.proto <= XDPFW_APP_UNKNOWN or o.proto >= XDPFW_APP_FAILED or APP_OPS[o.proto] != NULL:
            raise ImportError(f"engine: decoder {o.name.decode()} has a bad or repeated XDPFW_APP_* id")
        APP_PROBE[APP_NPROBE] = o
        APP_NPROBE += 1
        APP_OPS[o.proto] = o
        for d in range(2):
            if o.tx_start[d] < XDPFW_APP_BUFFER_MAX:
                APP_TX_START[o.tx_start[d]] |= <uint8_t>(1 << d)
        o = app_registry_at(APP_NPROBE)


_app_registry_load()


cdef struct app_flow:     # per flow slot
    uint64_t owner        # flow_id the state belongs to
    xdpfw_app_state st    # the flow's decoder state (the registry's slab)
    uint8_t probe[2][PROBE_MAX]
    uint8_t probe_len[2]

cdef struct app_inst:     # an open buffer instance
    xdpfw_mstream st
    uint32_t len
    uint32_t pending[APP_PENDING]
    uint8_t npending
    uint8_t buf
    uint8_t used
    uint8_t grp           # the stream group it was opened in (the buffer's database for it)

cdef struct app_buf_rt:   # per buffer id, in a rule set
    const void *db        # the buffer's whole database (NULL: no rule of it has expressions)
    const void *gdb[SG_MAX]   # per stream group (_sgroup) its database, NULL: no rule can match there
    void *gpool[SG_MAX]   # this worker's stream pool for gdb[g] (one per database)
    const xdpfw_matcher_ops *ops
    uint32_t *report      # pattern id -> signature (NO_SIG)
    uint32_t nreport
    uint32_t *every       # signatures with only a length check: decided at each end
    uint32_t nevery
    uint32_t *every_parts # parts with only a length check
    uint32_t nevery_parts
    uint8_t active        # some rule inspects this buffer

cdef struct app_ctx:      # the sink's context for one feed call
    void *engine
    uint32_t slot
    int direction


cdef void _app_data(void *ctx, uint32_t buf, const uint8_t *p, uint32_t n, uint32_t flags) noexcept nogil:
    cdef app_ctx *c = <app_ctx *>ctx
    (<Engine>c.engine)._piece(c.slot, c.direction, buf, p, n, flags)


cdef void _app_event(void *ctx, uint32_t proto, uint32_t event) noexcept nogil:
    (<Engine>(<app_ctx *>ctx).engine)._app_event_count(proto, event)


cdef void _app_control(void *ctx, uint32_t what) noexcept nogil:
    cdef app_ctx *c = <app_ctx *>ctx
    (<Engine>c.engine)._app_ctl(c.slot, c.direction, what)


cdef inline bint _len_ok(const xdpfw_sig *s, uint32_t n) noexcept nogil:
    if s.blen_op == XDPFW_DSIZE_RANGE:
        return s.blen_lo <= n <= s.blen_hi
    if s.blen_op == XDPFW_DSIZE_NOT:
        return not (s.blen_lo <= n <= s.blen_hi)
    return True
