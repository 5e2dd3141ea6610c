# cython: language_level=3, embedsignature=True, boundscheck=False, wraparound=False, cdivision=True
"""DNS decoder: a resumable state machine over one direction of a flow (xdpfw_app.h).

It walks each message field by field as bytes arrive (header, questions, resource
records) and reports every question name of a query as a dns.query instance, in pieces
that point into the bytes it was given (the '.' separators come from a constant byte).
What is decoded, the caps and the give-up policy are in xdpfw_app_dns.h; the pure-Python
reference that defines the same output from a whole message is xdpfw/ref/app_dns.py.

The module exports its registry entry, dns_app_ops() (xdpfw_app.h: struct xdpfw_app_ops);
tests drive it through the generic wrapper xdpfw._fast.app_registry.AppDecoder("dns").
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t
from libc.string cimport memset

from xdpfw._fast.includes.app cimport (XDPFW_APP_DNS, XDPFW_APP_END, XDPFW_APP_F_DATAGRAM,
                                       XDPFW_APP_F_GAP, XDPFW_APP_START, XDPFW_BUF_DNS_QUERY,
                                       XDPFW_APP_L4_TCP, XDPFW_APP_L4_UDP, XDPFW_APP_O_TX_PER_FEED,
                                       XDPFW_APP_BUFFER_MAX, XDPFW_PROBE_MORE, XDPFW_PROBE_NO,
                                       XDPFW_PROBE_YES, xdpfw_app_end_fn, xdpfw_app_feed_fn,
                                       xdpfw_app_init_fn, xdpfw_app_ops, xdpfw_app_ops_set,
                                       xdpfw_app_sink)

cdef extern from "xdpfw_flow.h" nogil:
    enum:
        XDPFW_DIR_TOSERVER

cdef extern from *:
    """
    #include "xdpfw_app_dns.h"
    #define XDPFW__DNS_EV_LABEL(name, label) label,
    static const char *xdpfw_dns_event_names[] = { XDPFW_DNS_EVENTS(XDPFW__DNS_EV_LABEL) };
    static const unsigned char xdpfw_dns_dot[1] = { '.' };
    """
    const char *const xdpfw_dns_event_names[]
    const uint8_t xdpfw_dns_dot[1]

# Where a direction is (struct xdpfw_dns_dir.phase).
cdef enum:
    PH_IDLE = 0     # between messages (TCP: the first length byte is next)
    PH_LEN1         # TCP: the second length byte is next (the first is in acc)
    PH_HDR          # header bytes into hdr[]
    PH_NAME         # a label length, a pointer's first byte or the terminating 0
    PH_LABEL        # count bytes of label content
    PH_PTR          # a pointer's second byte (the first's low 6 bits are in acc)
    PH_QTAIL        # count bytes of a question's type and class
    PH_RRFIX        # count bytes of a record's type, class, ttl, rdlength
    PH_RDATA        # count bytes of rdata
    PH_SKIP         # the rest of the message: done, or given up
    PH_DEAD         # the direction is given up (TCP gap)

cdef enum:
    NO_EVENT = XDPFW_DNS_EV_MAX
    # _follow results
    WALK_END = 0        # the terminating 0 was reached
    WALK_CUT = 1        # the name was ended by a cap or loop; the message goes on
    WALK_FAIL = 2       # the message was given up


# ---- hot path -------------------------------------------------------------------------

cdef inline void _event(const xdpfw_app_sink *sink, uint32_t ev) noexcept nogil:
    sink.event(sink.ctx, XDPFW_APP_DNS, ev)


cdef inline bint _emitting(const xdpfw_dns_dir *d) noexcept nogil:
    # a question name of a query
    return (d.mflags & (XDPFW_DNS_M_QUERY | XDPFW_DNS_M_RR)) == XDPFW_DNS_M_QUERY


cdef void _emit(xdpfw_dns_dir *d, const xdpfw_app_sink *sink, const uint8_t *p, uint32_t k) noexcept nogil:
    """Report k rendered bytes of the current name, within XDPFW_DNS_NAME_MAX."""
    cdef uint32_t room, fl = 0
    if k == 0 or d.mflags & XDPFW_DNS_M_CAPPED:
        return
    room = XDPFW_DNS_NAME_MAX - d.name_len
    if k > room:
        k = room
        d.mflags |= XDPFW_DNS_M_CAPPED
    if k:
        if not d.mflags & XDPFW_DNS_M_OPEN:
            fl = XDPFW_APP_START
            d.mflags |= XDPFW_DNS_M_OPEN
        sink.data(sink.ctx, XDPFW_BUF_DNS_QUERY, p, k, fl)
        d.name_len += <uint16_t>k
    if d.mflags & XDPFW_DNS_M_CAPPED:
        _event(sink, XDPFW_DNS_EV_NAME_TOO_LONG)


cdef inline void _sep(xdpfw_dns_dir *d, const xdpfw_app_sink *sink) noexcept nogil:
    # a label begins: its separator from the previous one
    if d.name_len:
        _emit(d, sink, xdpfw_dns_dot, 1)


cdef void _close(xdpfw_dns_dir *d, const xdpfw_app_sink *sink) noexcept nogil:
    """End the open instance, if any."""
    if d.mflags & XDPFW_DNS_M_OPEN:
        d.mflags &= ~XDPFW_DNS_M_OPEN
        sink.data(sink.ctx, XDPFW_BUF_DNS_QUERY, xdpfw_dns_dot, 0, XDPFW_APP_END)


cdef void _name_done(xdpfw_dns_dir *d, const xdpfw_app_sink *sink, bint terminated) noexcept nogil:
    """The current name ended; a reported name that reached its terminating 0 with no
    byte reported is the root name, an empty instance."""
    if not _emitting(d):
        return
    if d.mflags & XDPFW_DNS_M_OPEN:
        _close(d, sink)
    elif terminated:
        sink.data(sink.ctx, XDPFW_BUF_DNS_QUERY, xdpfw_dns_dot, 0, XDPFW_APP_START | XDPFW_APP_END)


cdef void _fail(xdpfw_dns_dir *d, const xdpfw_app_sink *sink, uint32_t ev) noexcept nogil:
    """Give up the message: its event, dns.malformed_data, and skip the rest."""
    if ev != NO_EVENT:
        _event(sink, ev)
    _event(sink, XDPFW_DNS_EV_MALFORMED_DATA)
    _close(d, sink)
    d.mflags |= XDPFW_DNS_M_FAILED
    d.phase = PH_SKIP


cdef void _next_item(xdpfw_dns_dir *d) noexcept nogil:
    d.mflags &= ~(XDPFW_DNS_M_RR | XDPFW_DNS_M_CAPPED)
    d.name_len = 0
    d.steps = 0
    if d.qd_left:
        d.qd_left -= 1
        d.phase = PH_NAME
    elif d.rr_left:
        d.rr_left -= 1
        d.mflags |= XDPFW_DNS_M_RR
        d.phase = PH_NAME
    else:
        d.phase = PH_SKIP


cdef inline void _after_name(xdpfw_dns_dir *d) noexcept nogil:
    if d.mflags & XDPFW_DNS_M_RR:
        d.count = 10
        d.phase = PH_RRFIX
    else:
        d.count = 4
        d.phase = PH_QTAIL


cdef void _header(xdpfw_dns_dir *d, int direction, const xdpfw_app_sink *sink) noexcept nogil:
    cdef uint32_t fl = (<uint32_t>d.hdr[2] << 8) | d.hdr[3]
    cdef uint32_t opcode = (fl >> 11) & 0xF
    cdef bint qr = (fl & 0x8000) != 0
    cdef bint to_server = direction == XDPFW_DIR_TOSERVER
    if to_server and qr:
        _event(sink, XDPFW_DNS_EV_NOT_REQUEST)
    elif not to_server and not qr:
        _event(sink, XDPFW_DNS_EV_NOT_RESPONSE)
    if fl & 0x0040:
        _event(sink, XDPFW_DNS_EV_Z_FLAG_SET)
    if opcode == 3 or opcode >= 7:
        _event(sink, XDPFW_DNS_EV_INVALID_OPCODE)
    if to_server and not qr:
        d.mflags |= XDPFW_DNS_M_QUERY
    d.qd_left = (<uint16_t>d.hdr[4] << 8) | d.hdr[5]
    d.rr_left = (((<uint32_t>d.hdr[6] << 8) | d.hdr[7]) + ((<uint32_t>d.hdr[8] << 8) | d.hdr[9])
                 + ((<uint32_t>d.hdr[10] << 8) | d.hdr[11]))
    _next_item(d)


cdef int _follow(xdpfw_dns_dir *d, const xdpfw_app_sink *sink, const uint8_t *base,
                 uint32_t pos) noexcept nogil:
    """Walk the rest of a reported name from a pointer target, inside the whole message
    at base (a datagram). Bounded by XDPFW_DNS_MAX_STEPS: every turn takes a step."""
    cdef uint32_t b, t
    while True:
        if pos >= d.msg_len:
            _fail(d, sink, NO_EVENT)
            return WALK_FAIL
        b = base[pos]
        if b == 0:
            return WALK_END
        if b < 0x40 or b >= 0xC0:
            d.steps += 1
            if d.steps > XDPFW_DNS_MAX_STEPS:
                _event(sink, XDPFW_DNS_EV_TOO_MANY_LABELS)
                return WALK_CUT
        if b < 0x40:
            if pos + 1 + b > d.msg_len:
                _fail(d, sink, NO_EVENT)
                return WALK_FAIL
            _sep(d, sink)
            _emit(d, sink, base + pos + 1, b)
            pos += 1 + b
        elif b >= 0xC0:
            if pos + 1 >= d.msg_len:
                _fail(d, sink, NO_EVENT)
                return WALK_FAIL
            t = ((b & 0x3F) << 8) | base[pos + 1]
            if t >= d.msg_len:
                _fail(d, sink, XDPFW_DNS_EV_INVALID_POINTER)
                return WALK_FAIL
            if t == pos:
                _event(sink, XDPFW_DNS_EV_INFINITE_LOOP)
                return WALK_CUT
            pos = t
        else:
            _fail(d, sink, XDPFW_DNS_EV_LABEL_TOO_LONG)
            return WALK_FAIL


cdef void _name_byte(xdpfw_dns_dir *d, uint8_t b, uint32_t rem, const uint8_t *base,
                     const xdpfw_app_sink *sink) noexcept nogil:
    """A byte where a label, a pointer or the end of a name starts; rem: message bytes
    after it. base: the whole message (datagram) or NULL (stream)."""
    if b == 0:
        _name_done(d, sink, True)
        _after_name(d)
        return
    if b < 0x40 or b >= 0xC0:
        d.steps += 1
        if d.steps > XDPFW_DNS_MAX_STEPS:  # no pointer followed yet: the name's end is unknown
            _fail(d, sink, XDPFW_DNS_EV_TOO_MANY_LABELS)
            return
    if b < 0x40:
        if b > rem:
            _fail(d, sink, NO_EVENT)
            return
        if _emitting(d):
            _sep(d, sink)
        d.count = b
        d.phase = PH_LABEL
    elif b >= 0xC0:
        if base == NULL and _emitting(d):
            _event(sink, XDPFW_DNS_EV_POINTER_IN_STREAM)
            _close(d, sink)
            d.mflags |= XDPFW_DNS_M_FAILED
            d.phase = PH_SKIP
            return
        d.acc = (b & 0x3F) << 8
        d.phase = PH_PTR
    else:
        _fail(d, sink, XDPFW_DNS_EV_LABEL_TOO_LONG)


cdef void _pointer(xdpfw_dns_dir *d, uint8_t b, uint32_t rem, const uint8_t *base,
                   const xdpfw_app_sink *sink) noexcept nogil:
    """A pointer's second byte; rem: message bytes after it."""
    cdef uint32_t t = d.acc | b
    cdef uint32_t at = d.msg_len - rem - 2  # where the pointer is
    cdef int r = WALK_END
    if t >= d.msg_len:
        _fail(d, sink, XDPFW_DNS_EV_INVALID_POINTER)
        return
    if t == at:
        _event(sink, XDPFW_DNS_EV_INFINITE_LOOP)
        r = WALK_CUT
    elif _emitting(d):  # base != NULL: a stream pointer never gets here
        r = _follow(d, sink, base, t)
        if r == WALK_FAIL:
            return
    _name_done(d, sink, r == WALK_END)
    _after_name(d)


cdef uint32_t _run(xdpfw_dns_dir *d, int direction, const uint8_t *p, uint32_t n, const uint8_t *base,
                   const xdpfw_app_sink *sink) noexcept nogil:
    """Consume the first min(n, msg_left) bytes of p, all of the current message."""
    cdef uint32_t m = n if n < d.msg_left else d.msg_left
    cdef uint32_t left0 = d.msg_left
    cdef uint32_t i = 0, k, j
    cdef uint8_t ph, b
    while i < m:
        ph = d.phase
        if ph == PH_SKIP:
            i = m
        elif ph == PH_HDR:
            k = XDPFW_DNS_HDR_LEN - d.hdr_pos
            if k > m - i:
                k = m - i
            for j in range(k):
                d.hdr[d.hdr_pos + j] = p[i + j]
            d.hdr_pos += <uint8_t>k
            i += k
            if d.hdr_pos == XDPFW_DNS_HDR_LEN:
                _header(d, direction, sink)
        elif ph == PH_NAME:
            b = p[i]
            i += 1
            _name_byte(d, b, left0 - i, base, sink)
        elif ph == PH_LABEL:
            k = d.count if d.count < m - i else m - i
            if _emitting(d):
                _emit(d, sink, p + i, k)
            i += k
            d.count -= <uint16_t>k
            if d.count == 0:
                d.phase = PH_NAME
        elif ph == PH_PTR:
            b = p[i]
            i += 1
            _pointer(d, b, left0 - i, base, sink)
        elif ph == PH_RRFIX:
            b = p[i]
            i += 1
            d.count -= 1
            if d.count == 1:
                d.acc = <uint16_t>b << 8
            elif d.count == 0:
                d.count = d.acc | b
                if d.count:
                    d.phase = PH_RDATA
                else:
                    _next_item(d)
        else:  # PH_QTAIL, PH_RDATA
            k = d.count if d.count < m - i else m - i
            i += k
            d.count -= <uint16_t>k
            if d.count == 0:
                _next_item(d)
    d.msg_left = left0 - m
    return m


cdef inline void _msg_start(xdpfw_dns_dir *d, uint32_t length) noexcept nogil:
    d.msg_len = length
    d.msg_left = length
    d.hdr_pos = 0
    d.mflags = 0
    d.phase = PH_HDR


cdef void _msg_end(xdpfw_dns_dir *d, const xdpfw_app_sink *sink) noexcept nogil:
    """The message's last byte was consumed: anything not walked to its end is malformed."""
    if d.phase != PH_SKIP:
        _fail(d, sink, NO_EVENT)
    d.mflags = 0
    d.phase = PH_IDLE


cdef void dns_init(xdpfw_dns_state *s) noexcept nogil:
    memset(s, 0, sizeof(xdpfw_dns_state))


cdef int dns_probe(const uint8_t *p, uint32_t n, int direction, uint32_t flags) noexcept nogil:
    """A DNS header whose QR bit fits the direction, an assigned opcode, 1 to
    XDPFW_DNS_PROBE_MAX_QD questions, counts that fit the message, and a first name that
    starts with a label or the root (a message's first name cannot be a pointer)."""
    cdef uint32_t off = 0, length = n, fl, qd, rr, need
    if not flags & XDPFW_APP_F_DATAGRAM:
        if n < 2:
            return XDPFW_PROBE_MORE
        length = (<uint32_t>p[0] << 8) | p[1]
        off = 2
    if length < XDPFW_DNS_HDR_LEN + 5:
        return XDPFW_PROBE_NO
    if n < off + XDPFW_DNS_HDR_LEN + 1:
        return XDPFW_PROBE_MORE
    p += off
    fl = (<uint32_t>p[2] << 8) | p[3]
    if ((fl & 0x8000) != 0) != (direction != XDPFW_DIR_TOSERVER):
        return XDPFW_PROBE_NO
    if ((fl >> 11) & 0xF) == 3 or ((fl >> 11) & 0xF) >= 7:
        return XDPFW_PROBE_NO
    if direction == XDPFW_DIR_TOSERVER and fl & 0xF:  # a query carries no rcode
        return XDPFW_PROBE_NO
    qd = (<uint32_t>p[4] << 8) | p[5]
    rr = ((<uint32_t>p[6] << 8) | p[7]) + ((<uint32_t>p[8] << 8) | p[9]) + ((<uint32_t>p[10] << 8) | p[11])
    if qd < 1 or qd > XDPFW_DNS_PROBE_MAX_QD:
        return XDPFW_PROBE_NO
    need = XDPFW_DNS_HDR_LEN + 5 * qd + 11 * rr  # smallest question 5 bytes, record 11
    if need > length:
        return XDPFW_PROBE_NO
    if p[XDPFW_DNS_HDR_LEN] >= 0x40:
        return XDPFW_PROBE_NO
    return XDPFW_PROBE_YES


cdef void dns_feed(xdpfw_dns_state *s, int direction, const uint8_t *p, uint32_t n, uint32_t flags,
                   const xdpfw_app_sink *sink) noexcept nogil:
    cdef xdpfw_dns_dir *d = &s.dir[direction & 1]
    cdef uint32_t i = 0
    if flags & XDPFW_APP_F_DATAGRAM:  # one whole message; a gap means nothing here
        _close(d, sink)
        _msg_start(d, n)
        _run(d, direction, p, n, p, sink)
        _msg_end(d, sink)
        return
    if d.phase == PH_DEAD:
        return
    if flags & XDPFW_APP_F_GAP:
        _close(d, sink)
        _event(sink, XDPFW_DNS_EV_GAP)
        d.phase = PH_DEAD
        return
    while i < n:
        if d.phase == PH_IDLE:
            d.acc = <uint16_t>p[i] << 8
            d.phase = PH_LEN1
            i += 1
            continue
        if d.phase == PH_LEN1:
            _msg_start(d, d.acc | p[i])
            i += 1
        else:
            i += _run(d, direction, p + i, n - i, NULL, sink)
        if d.msg_left == 0:
            _msg_end(d, sink)


cdef void dns_end(xdpfw_dns_state *s, int direction, const xdpfw_app_sink *sink) noexcept nogil:
    cdef xdpfw_dns_dir *d = &s.dir[direction & 1]
    if d.phase == PH_IDLE or d.phase == PH_DEAD:
        return
    if not d.mflags & XDPFW_DNS_M_FAILED:
        _event(sink, XDPFW_DNS_EV_TRUNCATED)
    _close(d, sink)
    d.phase = PH_IDLE


# ---- registry entry ---------------------------------------------------------------------

# DNS on port 53 only (as Suricata's default config), over UDP and TCP; each feed (a
# datagram, a segment) starts a new transaction (a message).
cdef xdpfw_app_ops DNS_OPS
xdpfw_app_ops_set(&DNS_OPS, b"dns", XDPFW_APP_DNS, sizeof(xdpfw_dns_state), 53,
                  XDPFW_APP_L4_TCP | XDPFW_APP_L4_UDP, XDPFW_APP_O_TX_PER_FEED, XDPFW_APP_BUFFER_MAX,
                  XDPFW_APP_BUFFER_MAX, XDPFW_DNS_EV_MAX, xdpfw_dns_event_names, dns_probe,
                  <xdpfw_app_init_fn>dns_init, <xdpfw_app_feed_fn>dns_feed, <xdpfw_app_end_fn>dns_end)


cdef const xdpfw_app_ops *dns_app_ops() noexcept nogil:
    return &DNS_OPS


EVENTS = tuple(xdpfw_dns_event_names[i].decode() for i in range(<int>XDPFW_DNS_EV_MAX))
"""Event names by id (xdpfw_app_dns.h)."""
STATE_SIZE = sizeof(xdpfw_dns_state)
NAME_MAX = XDPFW_DNS_NAME_MAX
MAX_STEPS = XDPFW_DNS_MAX_STEPS
