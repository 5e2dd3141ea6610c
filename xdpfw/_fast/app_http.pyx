# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""HTTP/1.x decoder: a resumable state machine over each direction of a flow, to the
contract of xdpfw_app.h (state, caps and events: xdpfw_app_http.h; docs/APP_HTTP.md).

http_feed() takes each in-order run of bytes and reports pieces of the HTTP rule buffers
through the sink; it may stop at any byte and resume with the next run. Nothing of the
stream is kept: a raw buffer's piece points into the caller's bytes (one piece per
buffer per contiguous run, not per byte), the two normalised buffers that transform bytes
(http.uri, http.host) go through a scratch array on the stack, and constant separators
(": ", "\\r\\n", ", ") come from static strings. What a normalisation must hold back
across a run boundary is kept as counts and bits in the per-direction state: a half-read
%XX, the dots at the start of a path segment, trailing dots of a host, a whitespace run
that may turn out to be trailing (<= XDPFW_HTTP_WS_MAX bytes as bits), the prefix of a
header name that may turn out to be Cookie (its case bits), a CR that may be followed by
LF.

Every per-byte decision is one switch on the phase; a byte is handed to the set of
buffers that take it unchanged (`_route`), which extends or cuts the raw runs, so the
common case costs a comparison. Bodies are consumed in bulk.

The module exports its registry entry, http_app_ops() (xdpfw_app.h: struct
xdpfw_app_ops); tests drive it through the generic wrapper
xdpfw._fast.app_registry.AppDecoder("http").
"""
from libc.stdint cimport int8_t, int32_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memset

from xdpfw._fast.includes.app cimport *

cdef extern from *:
    """
    #include "xdpfw_app_http.h"
    #define XDPFW__HTTP_EV_LABEL(name, label) label,
    static const char *const xdpfw_http_event_names[] = { XDPFW_HTTP_EVENTS(XDPFW__HTTP_EV_LABEL) };
    #define xdpfw_http_ctz(x) ((uint32_t)__builtin_ctz(x))
    #define XDPFW_HTTP_U32_MAX 0xffffffffu
    static const unsigned char xdpfw_http_crlf[2] = {'\\r', '\\n'};
    static const unsigned char xdpfw_http_colsp[2] = {':', ' '};
    static const unsigned char xdpfw_http_comsp[2] = {',', ' '};
    static const unsigned char xdpfw_http_empty[1] = {0};
    static const unsigned char xdpfw_http_sptab[2] = {' ', '\t'};
    static const char *const xdpfw_http_hdr_names[14] = {
        "host", "user-agent", "cookie", "set-cookie", "content-type", "content-length",
        "referer", "accept", "accept-encoding", "accept-language", "connection",
        "location", "server", "transfer-encoding"};
    /* Request methods the probe accepts (followed by a space): RFC 9110, PATCH (RFC 5789),
     * WebDAV (RFC 4918, 3253, 4791, 5323). */
    static const char *const xdpfw_http_probe_methods[23] = {
        "GET ", "POST ", "HEAD ", "PUT ", "DELETE ", "OPTIONS ", "CONNECT ", "TRACE ",
        "PATCH ", "PROPFIND ", "PROPPATCH ", "MKCOL ", "COPY ", "MOVE ", "LOCK ", "UNLOCK ",
        "SEARCH ", "REPORT ", "MKCALENDAR ", "ACL ", "MKACTIVITY ", "CHECKOUT ", "MERGE "};
    static const char xdpfw_http_s_proto[] = "HTTP/";
    static const char xdpfw_http_s_http[] = "http://";
    static const char xdpfw_http_s_https[] = "https://";
    static const char xdpfw_http_s_head[] = "HEAD";
    static const char xdpfw_http_s_connect[] = "CONNECT";
    static const char xdpfw_http_s_chunked[] = "chunked";
    """
    uint32_t xdpfw_http_ctz(uint32_t x) nogil
    const uint32_t XDPFW_HTTP_U32_MAX
    const char *const xdpfw_http_event_names[]
    const uint8_t xdpfw_http_crlf[2]
    const uint8_t xdpfw_http_colsp[2]
    const uint8_t xdpfw_http_comsp[2]
    const uint8_t xdpfw_http_empty[1]
    const uint8_t xdpfw_http_sptab[2]
    const char *const xdpfw_http_hdr_names[14]
    const char *const xdpfw_http_probe_methods[23]
    const char xdpfw_http_s_proto[]
    const char xdpfw_http_s_http[]
    const char xdpfw_http_s_https[]
    const char xdpfw_http_s_head[]
    const char xdpfw_http_s_connect[]
    const char xdpfw_http_s_chunked[]

# Phases. Line phases first, then the bulk body phases, then the terminal ones.
cdef enum:
    PH_IDLE = 0       # before a message (empty lines are skipped)
    PH_METHOD
    PH_RL_SP1         # whitespace after the method
    PH_URI
    PH_URI_WS         # whitespace after URI bytes: inside the URI or its end (held)
    PH_URI_TOK        # then a prefix of "HTTP/" (held): the protocol or more URI
    PH_RL_SP2
    PH_PROTO
    PH_RL_TAIL        # after the protocol, up to the end of the line
    PH_ST_PROTO       # status line
    PH_ST_SP1
    PH_ST_CODE
    PH_ST_SP2
    PH_ST_MSG
    PH_HDR_START      # first byte of a header line (or the empty line)
    PH_HDR_NAME
    PH_HDR_LWS        # whitespace before a value (or a folded continuation)
    PH_HDR_VALUE
    PH_HDR_SKIP       # a folded line with nothing to continue: header.raw only
    PH_CHUNK_SIZE
    PH_CHUNK_EXT
    PH_CHUNK_END      # the CRLF after chunk data
    PH_TRAILER
    PH_09_PROBE       # response to HTTP/0.9: a prefix of "HTTP/" held (a status line or body)
    PH_BODY_CL        # bulk phases
    PH_BODY_CLOSE
    PH_CHUNK_DATA
    PH_GAVE_UP        # terminal phases
    PH_TUNNEL
    PH_ENDED

# URI parts (umode)
cdef enum:
    U_BEGIN = 0
    U_SCHEME          # matching "http://" or "https://"
    U_AUTH            # authority of an absolute URI: host
    U_PORT            # its port
    U_PATH
    U_QUERY
    U_CONN_HOST       # CONNECT authority-form: host
    U_CONN_PORT

# lflags (per line)
cdef enum:
    L_TOO_LONG = 1
    L_BARE_CR = 2
    L_HDR_INVALID = 4
    L_DEFER = 8       # the name may still be Cookie/Set-Cookie: held from http.header
    L_NAME_WS = 16    # whitespace inside/after the name
    L_CR = 32         # the previous run ended on a CR
    L_CR_RAW = 64     # ... which went to http.header.raw
    L_MISC = 128      # request_line_invalid sent (request line); whitespace seen (chunk line)

# mflags (per message)
cdef enum:
    M_LEAD_WS = 1
    M_HDR_LINE = 2    # a header line was read
    M_PEND_CRLF = 4   # a header line ended: "\r\n" owed to http.start (and http.header)
    M_PEND_HDR = 8
    M_HAS_CL = 16
    M_CL_BAD = 32
    M_TE = 64
    M_TE_CHUNKED = 128
    M_URI_HOST = 256  # http.host came from the request URI
    M_TOO_MANY = 512
    M_NOHDR = 1024    # the current header is Cookie/Set-Cookie: not in http.header
    M_TE_ANY = 2048   # the current transfer coding has bytes
    M_TE_TOKEND = 4096

# uflags (per URI)
cdef enum:
    UF_ENC_EV = 1
    UF_DOTDOT_EV = 2
    UF_SLASH = 4      # the last byte reported to http.uri's path was '/'
    UF_HTTPS = 8
    UF_USERINFO_EV = 16

# hflags (host normalisation)
cdef enum:
    H_ACTIVE = 1
    H_DONE = 2        # past the host: the port
    H_BRACKET = 4     # inside an IPv6 literal
    H_PORT_BAD = 8
    H_PORT_DIGIT = 16

cdef enum:
    SP = 0x20
    HT = 0x09
    CR = 0x0d
    LF = 0x0a
    NONE8 = 0xff

# Known header names (index = bit in name_cand / seen).
cdef enum:
    HN_HOST = 0
    HN_USER_AGENT
    HN_COOKIE
    HN_SET_COOKIE
    HN_CONTENT_TYPE
    HN_CONTENT_LENGTH
    HN_REFERER
    HN_ACCEPT
    HN_ACCEPT_ENCODING
    HN_ACCEPT_LANGUAGE
    HN_CONNECTION
    HN_LOCATION
    HN_SERVER
    HN_TRANSFER_ENCODING
    HN_COUNT
    NAME_MAXLEN = 18

cdef enum:
    B_METHOD = 1u << XDPFW_BUF_HTTP_METHOD
    B_URI = 1u << XDPFW_BUF_HTTP_URI
    B_URI_RAW = 1u << XDPFW_BUF_HTTP_URI_RAW
    B_PROTOCOL = 1u << XDPFW_BUF_HTTP_PROTOCOL
    B_REQ_LINE = 1u << XDPFW_BUF_HTTP_REQUEST_LINE
    B_RESP_LINE = 1u << XDPFW_BUF_HTTP_RESPONSE_LINE
    B_STAT_CODE = 1u << XDPFW_BUF_HTTP_STAT_CODE
    B_STAT_MSG = 1u << XDPFW_BUF_HTTP_STAT_MSG
    B_HEADER = 1u << XDPFW_BUF_HTTP_HEADER
    B_HEADER_RAW = 1u << XDPFW_BUF_HTTP_HEADER_RAW
    B_HEADER_NAMES = 1u << XDPFW_BUF_HTTP_HEADER_NAMES
    B_START = 1u << XDPFW_BUF_HTTP_START
    B_HOST = 1u << XDPFW_BUF_HTTP_HOST
    B_HOST_RAW = 1u << XDPFW_BUF_HTTP_HOST_RAW
    B_REQ_BODY = 1u << XDPFW_BUF_HTTP_REQUEST_BODY
    B_RESP_BODY = 1u << XDPFW_BUF_HTTP_RESPONSE_BODY
    B_FILE_DATA = 1u << XDPFW_BUF_FILE_DATA

# Lookup tables, filled once at import.
cdef uint32_t _cand_tab[NAME_MAXLEN][256]  # names whose byte at position i is c (lower case)
cdef uint32_t _len_mask[NAME_MAXLEN + 1]   # names of length n
cdef uint32_t _dir_cand[2]                 # names that mean something in each direction
cdef uint8_t _hdr_buf[2][14]               # header -> its single-header buffer, NONE8 none
cdef uint8_t _tok[256]                     # RFC 9110 tchar
cdef uint8_t _lower[256]
cdef int8_t _hex[256]


cdef void _build_tables() noexcept:
    cdef int i, j, k
    cdef const char *nm
    memset(_cand_tab, 0, sizeof(_cand_tab))
    memset(_len_mask, 0, sizeof(_len_mask))
    for i in range(256):
        _lower[i] = i + 32 if 65 <= i <= 90 else i
        _tok[i] = 1 if (48 <= i <= 57 or 65 <= i <= 90 or 97 <= i <= 122
                        or i in b"!#$%&'*+-.^_`|~") else 0
        _hex[i] = (i - 48 if 48 <= i <= 57 else i - 87 if 97 <= i <= 102
                   else i - 55 if 65 <= i <= 70 else -1)
    for j in range(HN_COUNT):
        nm = xdpfw_http_hdr_names[j]
        k = 0
        while nm[k]:
            _cand_tab[k][<uint8_t>nm[k]] |= 1u << j
            k += 1
        _len_mask[k] |= 1u << j
    _dir_cand[0] = ((1u << HN_HOST) | (1u << HN_USER_AGENT) | (1u << HN_COOKIE)
                    | (1u << HN_CONTENT_TYPE) | (1u << HN_CONTENT_LENGTH) | (1u << HN_REFERER)
                    | (1u << HN_ACCEPT) | (1u << HN_ACCEPT_ENCODING) | (1u << HN_ACCEPT_LANGUAGE)
                    | (1u << HN_CONNECTION) | (1u << HN_TRANSFER_ENCODING))
    _dir_cand[1] = ((1u << HN_SET_COOKIE) | (1u << HN_CONTENT_TYPE) | (1u << HN_CONTENT_LENGTH)
                    | (1u << HN_LOCATION) | (1u << HN_SERVER) | (1u << HN_TRANSFER_ENCODING))
    for i in range(2):
        for j in range(HN_COUNT):
            _hdr_buf[i][j] = NONE8
    _hdr_buf[0][HN_HOST] = XDPFW_BUF_HTTP_HOST_RAW
    _hdr_buf[0][HN_USER_AGENT] = XDPFW_BUF_HTTP_USER_AGENT
    _hdr_buf[0][HN_COOKIE] = XDPFW_BUF_HTTP_COOKIE
    _hdr_buf[1][HN_SET_COOKIE] = XDPFW_BUF_HTTP_COOKIE
    _hdr_buf[0][HN_CONTENT_TYPE] = _hdr_buf[1][HN_CONTENT_TYPE] = XDPFW_BUF_HTTP_CONTENT_TYPE
    _hdr_buf[0][HN_CONTENT_LENGTH] = _hdr_buf[1][HN_CONTENT_LENGTH] = XDPFW_BUF_HTTP_CONTENT_LEN
    _hdr_buf[0][HN_REFERER] = XDPFW_BUF_HTTP_REFERER
    _hdr_buf[0][HN_ACCEPT] = XDPFW_BUF_HTTP_ACCEPT
    _hdr_buf[0][HN_ACCEPT_ENCODING] = XDPFW_BUF_HTTP_ACCEPT_ENC
    _hdr_buf[0][HN_ACCEPT_LANGUAGE] = XDPFW_BUF_HTTP_ACCEPT_LANG
    _hdr_buf[0][HN_CONNECTION] = XDPFW_BUF_HTTP_CONNECTION
    _hdr_buf[1][HN_LOCATION] = XDPFW_BUF_HTTP_LOCATION
    _hdr_buf[1][HN_SERVER] = XDPFW_BUF_HTTP_SERVER


_build_tables()


# Per-call context: where we are in the caller's bytes, the raw runs in progress, the
# scratch array. Lives on the stack of http_feed/http_end.
cdef struct hctx:
    const uint8_t *p
    uint32_t n
    uint32_t i            # the byte being handled
    uint32_t dend         # end of the current field's data (the terminator at an EOL)
    uint32_t eol_len      # bytes of the terminator being handled
    const xdpfw_app_sink *sink
    xdpfw_http_state *s
    xdpfw_http_dir *d
    int dir
    uint32_t active       # buffers with a raw run in progress
    bint virt             # handling a CR held from the previous run (not in p)
    uint32_t virt_skip    # buffers that already got that CR
    const uint8_t *vbyte  # the byte a virtual (held) byte reports: that CR, or held URI bytes
    int32_t tok_start     # first byte in p of a held "HTTP/" prefix, -1 none
    int32_t uri_stop      # end in p of http.uri.raw's run held at a whitespace, -1 none
    int32_t ws_start      # first byte in p of the whitespace run held, -1 none
    int32_t name_start    # first byte in p of a held header name, -1 none
    uint32_t name_carried # bytes of the held name reported before this call
    uint32_t sn           # scratch bytes
    uint32_t sbuf         # buffer the scratch belongs to
    uint32_t start[32]    # raw run start per buffer
    uint8_t scratch[XDPFW_APP_SCRATCH]


# ---------------------------------------------------------------------------------------
# Reporting: pieces, raw runs, scratch, instances

cdef inline void _event(hctx *c, uint32_t ev) noexcept nogil:
    c.sink.event(c.sink.ctx, XDPFW_APP_HTTP, ev)


cdef inline void _emit(hctx *c, uint32_t b, const uint8_t *q, uint32_t k, uint32_t fl) noexcept nogil:
    cdef uint32_t bit = 1u << b
    if not (c.d.started & bit):
        fl |= XDPFW_APP_START
        c.d.started |= bit
    c.sink.data(c.sink.ctx, b, q, k, fl)


cdef inline void _flush_run(hctx *c, uint32_t b, uint32_t end) noexcept nogil:
    cdef uint32_t st = c.start[b]
    c.active &= ~(1u << b)
    if end > st:
        _emit(c, b, c.p + st, end - st, 0)


cdef inline void _put(hctx *c, uint32_t b, const uint8_t *q, uint32_t k) noexcept nogil:
    """Report k bytes at q to buffer b before the current byte (a raw run of b is cut
    there and goes on after them)."""
    cdef uint32_t bit = 1u << b
    if c.active & bit:
        _flush_run(c, b, c.i)
        c.start[b] = c.i
        c.active |= bit
    if k:
        _emit(c, b, q, k, 0)


cdef void _putm(hctx *c, uint32_t mask, const uint8_t *q, uint32_t k) noexcept nogil:
    cdef uint32_t j
    while mask:
        j = xdpfw_http_ctz(mask)
        mask &= mask - 1
        _put(c, j, q, k)


cdef inline void _route(hctx *c, uint32_t S) noexcept nogil:
    """The current byte goes unchanged to the buffers in S: runs of the others end
    before it, runs of S start at it unless already going."""
    cdef uint32_t m, j
    if c.virt:
        _putm(c, S & ~c.virt_skip, c.vbyte, 1)
        return
    if S == c.active:
        return
    m = c.active & ~S
    while m:
        j = xdpfw_http_ctz(m)
        m &= m - 1
        _flush_run(c, j, c.i)
    m = S & ~c.active
    while m:
        j = xdpfw_http_ctz(m)
        m &= m - 1
        c.start[j] = c.i
    c.active = S


cdef inline void _sflush(hctx *c) noexcept nogil:
    if c.sn:
        _emit(c, c.sbuf, c.scratch, c.sn, 0)
        c.sn = 0


cdef inline void _sput(hctx *c, uint32_t b, uint8_t x) noexcept nogil:
    """A normalised byte of buffer b (http.uri or http.host) into the scratch array."""
    if c.sn and c.sbuf != b:
        _sflush(c)
    c.sbuf = b
    c.scratch[c.sn] = x
    c.sn += 1
    if c.sn == XDPFW_APP_SCRATCH:
        _sflush(c)


cdef inline void _open(hctx *c, uint32_t b) noexcept nogil:
    c.d.open |= 1u << b
    c.d.started &= ~(1u << b)


cdef void _close(hctx *c, uint32_t b) noexcept nogil:
    cdef uint32_t bit = 1u << b, st
    if not (c.d.open & bit):
        return
    if c.sn and c.sbuf == b:
        _emit(c, b, c.scratch, c.sn, XDPFW_APP_END)
        c.sn = 0
    elif c.active & bit:
        st = c.start[b]
        c.active &= ~bit
        if c.i > st:
            _emit(c, b, c.p + st, c.i - st, XDPFW_APP_END)
        else:
            _emit(c, b, xdpfw_http_empty, 0, XDPFW_APP_END)
    else:
        _emit(c, b, xdpfw_http_empty, 0, XDPFW_APP_END)
    c.d.open &= ~bit


cdef void _close_mask(hctx *c, uint32_t mask) noexcept nogil:
    cdef uint32_t j
    mask &= c.d.open
    while mask:
        j = xdpfw_http_ctz(mask)
        mask &= mask - 1
        _close(c, j)


cdef void _give_up(hctx *c, uint32_t ev) noexcept nogil:
    if ev != XDPFW_HTTP_U32_MAX:
        _event(c, ev)
    _ws_drop(c)
    c.d.hflags = 0
    _close_mask(c, c.d.open)
    c.d.phase = PH_GAVE_UP


# ---------------------------------------------------------------------------------------
# Whitespace runs held back (they are dropped if they end a name or a value)

cdef inline bint _ws_pending(hctx *c) noexcept nogil:
    return c.d.ws_len != 0 or c.ws_start >= 0


cdef inline void _ws_drop(hctx *c) noexcept nogil:
    c.d.ws_len = 0
    c.d.ws_bits = 0
    c.ws_start = -1


cdef inline void _ws_note(hctx *c) noexcept nogil:
    if c.ws_start < 0:
        c.ws_start = <int32_t>c.i


cdef void _ws_resolve(hctx *c, uint32_t sinks, bint host) noexcept nogil:
    """A non-whitespace byte follows the held run: report the run to `sinks` (and to
    the host normalisation) before it, cut at XDPFW_HTTP_WS_MAX bytes."""
    cdef xdpfw_http_dir *d = c.d
    cdef uint8_t tmp[XDPFW_HTTP_WS_MAX]
    cdef uint32_t k, j, rem, inlen = 0, take, bit
    cdef uint64_t total = d.ws_len
    if c.ws_start >= 0:
        inlen = c.i - <uint32_t>c.ws_start
        total += inlen
    k = d.ws_len if d.ws_len < XDPFW_HTTP_WS_MAX else XDPFW_HTTP_WS_MAX
    if k:
        for j in range(k):
            tmp[j] = HT if (d.ws_bits >> j) & 1 else SP
        _putm(c, sinks, tmp, k)
        if host:
            for j in range(k):
                _host_push(c, tmp[j])
    rem = XDPFW_HTTP_WS_MAX - k
    if inlen:
        take = inlen if inlen < rem else rem
        if total <= XDPFW_HTTP_WS_MAX:
            j = sinks & ~c.active
            while j:
                bit = xdpfw_http_ctz(j)
                j &= j - 1
                c.start[bit] = <uint32_t>c.ws_start
                c.active |= 1u << bit
        elif take:
            _putm(c, sinks, c.p + c.ws_start, take)
        if host:
            for j in range(<uint32_t>c.ws_start, <uint32_t>c.ws_start + take):
                _host_push(c, c.p[j])
    if total > XDPFW_HTTP_WS_MAX:
        _event(c, XDPFW_HTTP_EV_WHITESPACE_RUN_TOO_LONG)
    _ws_drop(c)


# ---------------------------------------------------------------------------------------
# Host normalisation: lower case, no port, no trailing dots (http.host)

cdef void _host_push(hctx *c, uint8_t x) noexcept nogil:
    cdef xdpfw_http_dir *d = c.d
    cdef uint8_t hf = d.hflags
    if not (hf & H_ACTIVE):
        return
    if hf & H_DONE:
        if 48 <= x <= 57:
            d.port = d.port * 10 + (x - 48) if d.port < 100000 else d.port
            d.hflags = hf | H_PORT_DIGIT
        else:
            d.hflags = hf | H_PORT_BAD
        return
    if x == 0x5b:       # '['
        d.hflags = hf | H_BRACKET
    elif x == 0x5d:     # ']'
        d.hflags = hf & ~H_BRACKET
    elif x == 0x3a and not (hf & H_BRACKET):
        d.hdots = 0
        d.port = 0
        d.hflags = hf | H_DONE
        return
    if x == 0x2e:
        if d.hdots < XDPFW_HTTP_U32_MAX:
            d.hdots += 1
        return
    while d.hdots:
        _sput(c, XDPFW_BUF_HTTP_HOST, 0x2e)
        d.hdots -= 1
    _sput(c, XDPFW_BUF_HTTP_HOST, _lower[x])


cdef void _host_end(hctx *c, uint32_t ev) noexcept nogil:
    cdef xdpfw_http_dir *d = c.d
    cdef uint8_t hf = d.hflags
    if (hf & H_ACTIVE) and (hf & H_DONE) and ((hf & H_PORT_BAD) or
                                              ((hf & H_PORT_DIGIT) and (d.port == 0 or d.port > 65535))):
        _event(c, ev)
    d.hdots = 0
    d.hflags = 0


# ---------------------------------------------------------------------------------------
# URI normalisation (http.uri), libhtp's defaults in Suricata 7: path %XX-decoded except
# %2F (kept as sent), '\' and '//' kept, "/./" removed, "/../" removed at the root and
# kept elsewhere; the query %XX-decoded (all of them, '+' kept).

cdef void _path_out(hctx *c, uint8_t x) noexcept nogil:
    """A decoded path byte."""
    cdef xdpfw_http_dir *d = c.d
    if x == 0x2f:
        if d.dots == 1:
            d.dots = 0          # "/./" -> "/"
            return
        if d.dots == 2:
            d.dots = 0
            if d.segs == 0:     # "/../" at the root -> "/"
                return
            _sput(c, XDPFW_BUF_HTTP_URI, 0x2e)
            _sput(c, XDPFW_BUF_HTTP_URI, 0x2e)
            if not (d.uflags & UF_DOTDOT_EV):
                d.uflags |= UF_DOTDOT_EV
                _event(c, XDPFW_HTTP_EV_URI_DOT_DOT_SEGMENT)
            _sput(c, XDPFW_BUF_HTTP_URI, 0x2f)
            return
        _sput(c, XDPFW_BUF_HTTP_URI, 0x2f)
        d.uflags |= UF_SLASH
        return
    if x == 0x2e and (d.uflags & UF_SLASH) and d.dots < 2:
        d.dots += 1
        return
    while d.dots:
        _sput(c, XDPFW_BUF_HTTP_URI, 0x2e)
        d.dots -= 1
    _sput(c, XDPFW_BUF_HTTP_URI, x)
    if d.uflags & UF_SLASH:
        d.uflags &= ~UF_SLASH
        if d.segs < 255:
            d.segs += 1


cdef inline void _pct_bad(hctx *c) noexcept nogil:
    if not (c.d.uflags & UF_ENC_EV):
        c.d.uflags |= UF_ENC_EV
        _event(c, XDPFW_HTTP_EV_URI_INVALID_ENCODING)


cdef inline void _dec_out(hctx *c, uint8_t x, bint query) noexcept nogil:
    if query:
        _sput(c, XDPFW_BUF_HTTP_URI, x)
    else:
        _path_out(c, x)


cdef void _pct_in(hctx *c, uint8_t x, bint query) noexcept nogil:
    """A raw path (query=0) or query byte: %XX decoding, then _path_out (path) or as it
    is (query). In the path %2F stays encoded (libhtp decodes no path separator by
    default); in the query every %XX is decoded."""
    cdef xdpfw_http_dir *d = c.d
    cdef int v
    if d.pct == 1:
        if _hex[x] >= 0:
            d.pct_hi = x
            d.pct = 2
            return
        d.pct = 0
        _pct_bad(c)
        _dec_out(c, 0x25, query)
    elif d.pct == 2:
        d.pct = 0
        if _hex[x] >= 0:
            v = _hex[d.pct_hi] * 16 + _hex[x]
            if v == 0x2f and not query:
                _path_out(c, 0x25)
                _path_out(c, d.pct_hi)
                _path_out(c, x)
            else:
                _dec_out(c, <uint8_t>v, query)
            return
        _pct_bad(c)
        _dec_out(c, 0x25, query)
        _dec_out(c, d.pct_hi, query)
    if x == 0x25:
        d.pct = 1
        return
    _dec_out(c, x, query)


cdef void _pct_flush(hctx *c, bint query) noexcept nogil:
    """End of the path or query: a pending '%' (and digit) is literal."""
    cdef xdpfw_http_dir *d = c.d
    if d.pct:
        _pct_bad(c)
        _dec_out(c, 0x25, query)
        if d.pct == 2:
            _dec_out(c, d.pct_hi, query)
        d.pct = 0


cdef inline void _path_in(hctx *c, uint8_t x) noexcept nogil:
    _pct_in(c, x, 0)


cdef void _path_end(hctx *c) noexcept nogil:
    cdef xdpfw_http_dir *d = c.d
    _pct_flush(c, 0)
    if d.dots == 2 and d.segs:
        _sput(c, XDPFW_BUF_HTTP_URI, 0x2e)
        _sput(c, XDPFW_BUF_HTTP_URI, 0x2e)
        if not (d.uflags & UF_DOTDOT_EV):
            d.uflags |= UF_DOTDOT_EV
            _event(c, XDPFW_HTTP_EV_URI_DOT_DOT_SEGMENT)
    d.dots = 0


cdef void _scheme_replay(hctx *c) noexcept nogil:
    """The URI started like "http://" but is not: its bytes are a relative path."""
    cdef xdpfw_http_dir *d = c.d
    cdef const char *t = &xdpfw_http_s_http[0]
    if d.uflags & UF_HTTPS:
        t = &xdpfw_http_s_https[0]
    cdef uint32_t j, k = d.scheme_pos
    cdef uint8_t x
    d.scheme_pos = 0
    for j in range(k):
        x = <uint8_t>t[j]
        if (d.scheme_case >> j) & 1:
            x -= 32
        _path_in(c, x)


cdef void _auth_open(hctx *c) noexcept nogil:
    _open(c, XDPFW_BUF_HTTP_HOST)
    _open(c, XDPFW_BUF_HTTP_HOST_RAW)
    c.d.hflags = H_ACTIVE
    c.d.hdots = 0
    c.d.port = 0


cdef void _auth_end(hctx *c) noexcept nogil:
    _host_end(c, XDPFW_HTTP_EV_INVALID_AUTHORITY_PORT)
    _close(c, XDPFW_BUF_HTTP_HOST)
    _close(c, XDPFW_BUF_HTTP_HOST_RAW)


cdef void _userinfo(hctx *c) noexcept nogil:
    """'@' in the authority: what came before was userinfo, a new host instance starts."""
    if not (c.d.uflags & UF_USERINFO_EV):
        c.d.uflags |= UF_USERINFO_EV
        _event(c, XDPFW_HTTP_EV_URI_USERINFO)
    c.d.hflags = 0
    _close(c, XDPFW_BUF_HTTP_HOST)
    _close(c, XDPFW_BUF_HTTP_HOST_RAW)
    _auth_open(c)
    c.d.umode = U_AUTH


cdef void _uri_start(hctx *c) noexcept nogil:
    cdef xdpfw_http_dir *d = c.d
    _open(c, XDPFW_BUF_HTTP_URI_RAW)
    _open(c, XDPFW_BUF_HTTP_URI)
    d.uflags = 0
    d.pct = 0
    d.dots = 0
    d.segs = 0
    d.scheme_pos = 0
    d.scheme_case = 0
    if d.kind == XDPFW_HTTP_KIND_CONNECT:
        d.umode = U_CONN_HOST
        _auth_open(c)
        d.mflags |= M_URI_HOST
    else:
        d.umode = U_BEGIN


cdef inline void _path_byte(hctx *c, uint8_t x) noexcept nogil:
    """A raw byte of the path part: the first '?' starts the query."""
    if x == 0x3f:
        _path_end(c)
        c.d.umode = U_QUERY
        _sput(c, XDPFW_BUF_HTTP_URI, x)
    else:
        c.d.umode = U_PATH
        _path_in(c, x)


cdef void _uri_byte(hctx *c, uint8_t x) noexcept nogil:
    cdef xdpfw_http_dir *d = c.d
    cdef uint32_t base = B_URI_RAW | B_REQ_LINE | B_START
    cdef uint8_t m = d.umode, pos, want
    if m == U_BEGIN:
        _route(c, base)
        if x == 0x2f:
            d.umode = U_PATH
            _path_in(c, x)
        elif _lower[x] == 0x68:    # 'h'
            d.umode = U_SCHEME
            d.scheme_pos = 1
            d.scheme_case = 1 if x == 0x48 else 0
        else:
            d.uflags |= UF_SLASH   # relative: a leading "./" or "../" goes
            _path_byte(c, x)
    elif m == U_SCHEME:
        _route(c, base)
        pos = d.scheme_pos
        if pos == 4 and _lower[x] == 0x73 and not (d.uflags & UF_HTTPS):
            d.uflags |= UF_HTTPS
            want = 0x73
        elif d.uflags & UF_HTTPS:
            want = <uint8_t>xdpfw_http_s_https[pos]
        else:
            want = <uint8_t>xdpfw_http_s_http[pos]
        if _lower[x] == want:
            if x != want:
                d.scheme_case |= 1u << pos
            d.scheme_pos = pos + 1
            if d.scheme_pos == (8 if d.uflags & UF_HTTPS else 7):
                d.scheme_pos = 0
                d.umode = U_AUTH
                d.mflags |= M_URI_HOST
                _auth_open(c)
        else:
            d.uflags |= UF_SLASH
            _scheme_replay(c)
            _path_byte(c, x)
    elif m == U_AUTH or m == U_PORT:
        if x == 0x2f or x == 0x3f:
            _auth_end(c)
            _route(c, base)
            d.umode = U_PATH
            if x == 0x2f:
                _path_in(c, x)
            else:
                _sput(c, XDPFW_BUF_HTTP_URI, 0x2f)
                d.umode = U_QUERY
                _sput(c, XDPFW_BUF_HTTP_URI, x)
        elif x == 0x40:
            _userinfo(c)
            _route(c, base)
        elif m == U_AUTH and not (x == 0x3a and not (d.hflags & H_BRACKET)):
            _route(c, base | B_HOST_RAW)
            _host_push(c, x)
        else:
            _route(c, base)
            d.umode = U_PORT
            _host_push(c, x)
    elif m == U_PATH:
        _route(c, base)
        _path_byte(c, x)
    elif m == U_QUERY:
        _route(c, base)
        _pct_in(c, x, 1)
    elif m == U_CONN_HOST and not (x == 0x3a and not (d.hflags & H_BRACKET)):
        _route(c, base | B_URI | B_HOST_RAW)
        _host_push(c, x)
    else:
        _route(c, base | B_URI)
        d.umode = U_CONN_PORT
        _host_push(c, x)


cdef inline void _uri_stop_flush(hctx *c, uint32_t fl) noexcept nogil:
    cdef uint32_t st = c.start[XDPFW_BUF_HTTP_URI_RAW]
    if c.uri_stop >= 0:
        _emit(c, XDPFW_BUF_HTTP_URI_RAW, c.p + st, <uint32_t>c.uri_stop - st, fl)
        c.uri_stop = -1


cdef void _uri_end(hctx *c) noexcept nogil:
    cdef xdpfw_http_dir *d = c.d
    cdef uint8_t m = d.umode
    if m == U_SCHEME:
        d.uflags |= UF_SLASH
        _scheme_replay(c)
        _path_end(c)
    elif m == U_AUTH or m == U_PORT:
        _auth_end(c)
        _sput(c, XDPFW_BUF_HTTP_URI, 0x2f)
    elif m == U_PATH:
        _path_end(c)
    elif m == U_QUERY:
        _pct_flush(c, 1)
    elif m == U_CONN_HOST or m == U_CONN_PORT:
        _auth_end(c)
    _close(c, XDPFW_BUF_HTTP_URI)
    if c.uri_stop >= 0:         # the run held at the whitespace that ended the URI
        _uri_stop_flush(c, XDPFW_APP_END)
        d.open &= ~B_URI_RAW
    else:
        _close(c, XDPFW_BUF_HTTP_URI_RAW)


# Spaces inside the URI (libhtp-rs, Suricata 8: the URI runs to the last whitespace before
# the protocol). A whitespace run after URI bytes is held (d.ws_bits/ws_len, at most
# XDPFW_HTTP_WS_MAX bytes), then a prefix of "HTTP/" (d.proto_pos): "HTTP/" complete, the
# run ended the URI and the protocol has begun; anything else, the held bytes were URI
# bytes and are reported to it (from constants: they may be in an earlier segment).
# http.request_line and http.start get every byte as it comes.

cdef void _uri_hold_ws(hctx *c, uint8_t x) noexcept nogil:
    cdef xdpfw_http_dir *d = c.d
    d.ws_len = 1
    d.ws_bits = 1 if x == HT else 0
    d.proto_pos = 0
    d.phase = PH_URI_WS
    if c.active & B_URI_RAW:    # the run stops here unless the URI goes on (held)
        c.active &= ~B_URI_RAW
        c.uri_stop = <int32_t>c.i
    _route(c, B_REQ_LINE | B_START)


cdef void _uri_commit(hctx *c) noexcept nogil:
    """The held whitespace run ends the URI."""
    cdef xdpfw_http_dir *d = c.d
    if d.ws_bits & 1:
        _event(c, XDPFW_HTTP_EV_URI_DELIM_NON_COMPLIANT)
    d.ws_len = 0
    d.ws_bits = 0
    _uri_end(c)


cdef void _uri_replay(hctx *c) noexcept nogil:
    """The held whitespace run and "HTTP/" prefix are URI bytes: report them to the URI
    buffers (not to http.request_line and http.start, which have them)."""
    cdef xdpfw_http_dir *d = c.d
    cdef uint32_t j, n = d.ws_len, k = d.proto_pos
    cdef uint64_t bits = d.ws_bits
    cdef bint virt = c.virt
    cdef uint32_t skip = c.virt_skip
    cdef const uint8_t *vb = c.vbyte
    d.ws_len = 0
    d.ws_bits = 0
    d.proto_pos = 0
    c.tok_start = -1
    c.virt = 1
    c.virt_skip = B_REQ_LINE | B_START
    if c.uri_stop >= 0:         # the held bytes are in p: the raw run goes on
        c.uri_stop = -1
        c.active |= B_URI_RAW
        c.virt_skip |= B_URI_RAW
    for j in range(n):
        c.vbyte = &xdpfw_http_sptab[(bits >> j) & 1]
        _uri_byte(c, c.vbyte[0])
    for j in range(k):
        c.vbyte = <const uint8_t *>&xdpfw_http_s_proto[j]
        _uri_byte(c, c.vbyte[0])
    c.virt = virt
    c.virt_skip = skip
    c.vbyte = vb


# ---------------------------------------------------------------------------------------
# Messages, request line, status line

cdef void _msg_start(hctx *c) noexcept nogil:
    cdef xdpfw_http_dir *d = c.d
    d.seen = 0
    d.hdr_count = 0
    d.cl = 0
    d.cl_cur = 0
    d.clst = 0
    d.status = 0
    d.digits = 0
    d.cur = NONE8
    d.te_pos = 0
    d.hflags = 0
    d.version = 0
    d.proto_pos = 0
    d.umode = U_BEGIN
    d.name_pos = 0
    d.body_left = 0


cdef void _msg_done(hctx *c) noexcept nogil:
    c.d.mflags = 0
    c.d.cur = NONE8
    c.d.phase = PH_IDLE


cdef uint32_t _proto_step(hctx *c, uint8_t x) noexcept nogil:
    """Match "HTTP/d.d"; 1 when the first five bytes already differ."""
    cdef xdpfw_http_dir *d = c.d
    cdef uint8_t pos = d.proto_pos
    if pos == NONE8:
        return 0
    if pos < 5:
        if x != <uint8_t>xdpfw_http_s_proto[pos]:
            return 1
    elif pos == 5 or pos == 7:
        if 48 <= x <= 57:
            d.version = (d.version << 4) | (x - 48)
        else:
            pos = NONE8 - 1
    elif pos == 6:
        if x != 0x2e:
            pos = NONE8 - 1
    else:
        pos = NONE8 - 1
    d.proto_pos = pos + 1
    return 0


cdef uint32_t _proto_end(hctx *c, uint32_t soft_ev) noexcept nogil:
    """The protocol ended: 1 if it cannot be HTTP (fewer than "HTTP/"), else 0 after
    reporting a malformed version once."""
    cdef xdpfw_http_dir *d = c.d
    _close(c, XDPFW_BUF_HTTP_PROTOCOL)
    if d.proto_pos < 5:
        return 1
    if d.proto_pos != 8:
        d.version = 0
        if not (d.lflags & L_MISC):
            d.lflags |= L_MISC
            _event(c, soft_ev)
    return 0


cdef void _fifo_push(hctx *c, uint8_t kind) noexcept nogil:
    cdef xdpfw_http_state *s = c.s
    cdef uint32_t idx
    if s.fifo_lost or s.fifo_n >= XDPFW_HTTP_FIFO:
        if s.fifo_lost < 0xffff:
            s.fifo_lost += 1
        _event(c, XDPFW_HTTP_EV_TOO_MANY_PENDING_REQUESTS)
        return
    idx = (s.fifo_head + s.fifo_n) & (XDPFW_HTTP_FIFO - 1)
    s.fifo = (s.fifo & ~(<uint64_t>3 << (2 * idx))) | (<uint64_t>kind << (2 * idx))
    s.fifo_n += 1


cdef uint8_t _fifo_pop(hctx *c) noexcept nogil:
    cdef xdpfw_http_state *s = c.s
    cdef uint8_t k
    if s.fifo_n:
        k = (s.fifo >> (2 * s.fifo_head)) & 3
        s.fifo_head = (s.fifo_head + 1) & (XDPFW_HTTP_FIFO - 1)
        s.fifo_n -= 1
        return k
    if s.fifo_lost:
        s.fifo_lost -= 1
        return XDPFW_HTTP_KIND_OTHER
    _event(c, XDPFW_HTTP_EV_UNMATCHED_RESPONSE)
    return XDPFW_HTTP_KIND_OTHER


cdef void _rl_done(hctx *c, bint v09) noexcept nogil:
    """End of the request line (the terminator consumed)."""
    _close(c, XDPFW_BUF_HTTP_REQUEST_LINE)
    _put(c, XDPFW_BUF_HTTP_START, xdpfw_http_crlf, 2)
    if v09:
        _event(c, XDPFW_HTTP_EV_REQUEST_LINE_MISSING_PROTOCOL)
        _fifo_push(c, XDPFW_HTTP_KIND_09)
        _close(c, XDPFW_BUF_HTTP_START)
        _msg_done(c)
    else:
        _fifo_push(c, c.d.kind)
        c.d.phase = PH_HDR_START


cdef void _status_done(hctx *c) noexcept nogil:
    cdef xdpfw_http_dir *d = c.d
    _close(c, XDPFW_BUF_HTTP_RESPONSE_LINE)
    _put(c, XDPFW_BUF_HTTP_START, xdpfw_http_crlf, 2)
    if not (100 <= d.status < 200):
        d.kind = _fifo_pop(c)
    d.phase = PH_HDR_START


cdef void _code_end(hctx *c) noexcept nogil:
    _close(c, XDPFW_BUF_HTTP_STAT_CODE)
    if c.d.digits != 3:
        c.d.status = 0
        _event(c, XDPFW_HTTP_EV_RESPONSE_INVALID_STATUS)


cdef void _idle_byte(hctx *c, uint8_t x) noexcept nogil:
    cdef xdpfw_http_dir *d = c.d
    if c.dir == 0:
        if x == SP or x == HT:
            _route(c, 0)
            if not (d.mflags & M_LEAD_WS):
                d.mflags |= M_LEAD_WS
                _event(c, XDPFW_HTTP_EV_REQUEST_LINE_LEADING_WHITESPACE)
            return
        if not _tok[x]:
            _give_up(c, XDPFW_HTTP_EV_REQUEST_LINE_INVALID)
            return
        _msg_start(c)
        _open(c, XDPFW_BUF_HTTP_START)
        _open(c, XDPFW_BUF_HTTP_REQUEST_LINE)
        _open(c, XDPFW_BUF_HTTP_METHOD)
        d.kind = 3          # HEAD and CONNECT candidates
        d.phase = PH_METHOD
        _method_byte(c, x)
    else:
        if x != 0x48:       # 'H'
            _give_up(c, XDPFW_HTTP_EV_RESPONSE_INVALID_PROTOCOL)
            return
        _msg_start(c)
        _open(c, XDPFW_BUF_HTTP_START)
        _open(c, XDPFW_BUF_HTTP_RESPONSE_LINE)
        _open(c, XDPFW_BUF_HTTP_PROTOCOL)
        d.phase = PH_ST_PROTO
        _proto_step(c, x)
        _route(c, B_PROTOCOL | B_RESP_LINE | B_START)


cdef void _09_body(hctx *c) noexcept nogil:
    """The response to an HTTP/0.9 request does not start "HTTP/": all body, the held
    prefix of "HTTP/" included."""
    cdef xdpfw_http_dir *d = c.d
    cdef uint32_t S = _body_bufs(c), j, m = S & ~d.open
    d.kind = _fifo_pop(c)
    d.phase = PH_BODY_CLOSE
    if d.proto_pos:
        while m:
            j = xdpfw_http_ctz(m)
            m &= m - 1
            _open(c, j)
        _putm(c, S, <const uint8_t *>xdpfw_http_s_proto, d.proto_pos)
        d.proto_pos = 0


cdef void _09_status(hctx *c) noexcept nogil:
    """It starts "HTTP/" (libhtp reads a status line there too): the held "HTTP" goes
    through the status line as virtual bytes, the request is popped at its end."""
    cdef uint32_t j
    c.d.phase = PH_IDLE
    c.virt = 1
    c.virt_skip = 0
    for j in range(4):
        c.vbyte = <const uint8_t *>&xdpfw_http_s_proto[j]
        _data_byte(c, c.vbyte[0])
    c.virt = 0
    c.vbyte = &xdpfw_http_crlf[0]


cdef void _method_byte(hctx *c, uint8_t x) noexcept nogil:
    cdef xdpfw_http_dir *d = c.d
    cdef uint8_t pos = d.name_pos, m = d.kind
    if _tok[x] or 0x21 <= x <= 0x7e:
        if not _tok[x] and not (d.lflags & L_MISC):
            d.lflags |= L_MISC          # "TRACE/": libhtp's method runs to the whitespace
            _event(c, XDPFW_HTTP_EV_REQUEST_LINE_INVALID)
        if not (pos < 4 and x == <uint8_t>xdpfw_http_s_head[pos]):
            m &= ~1
        if not (pos < 7 and x == <uint8_t>xdpfw_http_s_connect[pos]):
            m &= ~2
        d.kind = m
        if pos < 255:
            d.name_pos = pos + 1
        _route(c, B_METHOD | B_REQ_LINE | B_START)
    elif x == SP or x == HT:
        if x == HT:
            _event(c, XDPFW_HTTP_EV_METHOD_DELIM_NON_COMPLIANT)
        if (m & 1) and pos == 4:
            d.kind = XDPFW_HTTP_KIND_HEAD
        elif (m & 2) and pos == 7:
            d.kind = XDPFW_HTTP_KIND_CONNECT
        else:
            d.kind = XDPFW_HTTP_KIND_OTHER
        _close(c, XDPFW_BUF_HTTP_METHOD)
        _route(c, B_REQ_LINE | B_START)
        d.phase = PH_RL_SP1
    else:
        _give_up(c, XDPFW_HTTP_EV_REQUEST_LINE_INVALID)


# ---------------------------------------------------------------------------------------
# Header lines

cdef inline uint32_t _vsinks(hctx *c) noexcept nogil:
    """Buffers a byte of the current header value goes to unchanged."""
    cdef xdpfw_http_dir *d = c.d
    cdef uint32_t m = B_START
    cdef uint8_t b
    if not (d.mflags & M_NOHDR):
        m |= B_HEADER
    if d.cur != NONE8:
        if d.cur == HN_HOST:
            if not (d.mflags & M_URI_HOST):
                m |= B_HOST_RAW
        else:
            b = _hdr_buf[c.dir][d.cur]
            if b != NONE8:
                m |= 1u << b
    return m


cdef inline uint32_t _nsinks(hctx *c) noexcept nogil:
    """Buffers a byte of the current header name goes to unchanged."""
    cdef uint32_t m = B_HEADER_RAW | B_START | B_HEADER_NAMES
    if not (c.d.lflags & L_DEFER):
        m |= B_HEADER
    return m


cdef void _undefer(hctx *c) noexcept nogil:
    """The name is not Cookie/Set-Cookie after all: report what was held of it to
    http.header, then let it run with the others."""
    cdef xdpfw_http_dir *d = c.d
    cdef const char *t = xdpfw_http_hdr_names[HN_COOKIE if c.dir == 0 else HN_SET_COOKIE]
    cdef uint8_t tmp[16]
    cdef uint32_t k = c.name_carried, j, end
    d.lflags &= ~L_DEFER
    if not (d.open & B_HEADER):
        _open(c, XDPFW_BUF_HTTP_HEADER)
    if k:
        for j in range(k):
            tmp[j] = <uint8_t>t[j] - 32 if (d.name_case >> j) & 1 else <uint8_t>t[j]
        _put(c, XDPFW_BUF_HTTP_HEADER, tmp, k)
    c.name_carried = 0
    if c.name_start >= 0:
        end = <uint32_t>c.ws_start if c.ws_start >= 0 else c.dend
        if end == c.i and not c.virt:
            c.start[XDPFW_BUF_HTTP_HEADER] = <uint32_t>c.name_start
            c.active |= B_HEADER
        elif end > <uint32_t>c.name_start:
            _put(c, XDPFW_BUF_HTTP_HEADER, c.p + c.name_start, end - <uint32_t>c.name_start)
    c.name_start = -1


cdef inline void _hdr_invalid(hctx *c) noexcept nogil:
    if not (c.d.lflags & L_HDR_INVALID):
        c.d.lflags |= L_HDR_INVALID
        _event(c, XDPFW_HTTP_EV_REQUEST_HEADER_INVALID if c.dir == 0
               else XDPFW_HTTP_EV_RESPONSE_HEADER_INVALID)


cdef void _name_byte(hctx *c, uint8_t x) noexcept nogil:
    cdef xdpfw_http_dir *d = c.d
    cdef uint8_t pos
    if x == SP or x == HT:
        _ws_note(c)
        d.lflags |= L_NAME_WS
        _route(c, B_HEADER_RAW)
        return
    if _ws_pending(c):      # whitespace inside the name
        _hdr_invalid(c)
        d.name_cand = 0
        if d.lflags & L_DEFER:
            _undefer(c)
        _ws_resolve(c, _nsinks(c) & ~B_HEADER_RAW, 0)
    if not _tok[x]:
        _hdr_invalid(c)
    pos = d.name_pos
    if pos < NAME_MAXLEN:
        d.name_cand &= _cand_tab[pos][_lower[x]]
        if pos < 16 and 65 <= x <= 90:
            d.name_case |= 1u << pos
    else:
        d.name_cand = 0
    if pos < 255:
        d.name_pos = pos + 1
    if (d.lflags & L_DEFER) and not (d.name_cand & (1u << (HN_COOKIE if c.dir == 0 else HN_SET_COOKIE))):
        _undefer(c)
    _route(c, _nsinks(c))


cdef void _name_end(hctx *c, bint colon) noexcept nogil:
    """The name ended at a colon (or, without one, at the end of the line)."""
    cdef xdpfw_http_dir *d = c.d
    cdef uint32_t cand, bit
    cdef uint8_t cur = NONE8, b
    if colon and d.name_pos <= NAME_MAXLEN:
        cand = d.name_cand & _len_mask[d.name_pos]
        if cand:
            cur = <uint8_t>xdpfw_http_ctz(cand)
    if d.lflags & L_DEFER:
        if cur == (HN_COOKIE if c.dir == 0 else HN_SET_COOKIE):
            d.lflags &= ~L_DEFER
            d.mflags |= M_NOHDR
        else:
            _undefer(c)
    _ws_drop(c)
    if d.lflags & L_NAME_WS or d.name_pos == 0:
        _hdr_invalid(c)
    _route(c, c.active & B_HEADER_RAW if not colon else B_HEADER_RAW)
    _putm(c, B_START | (0 if d.mflags & M_NOHDR else B_HEADER), xdpfw_http_colsp, 2)
    _put(c, XDPFW_BUF_HTTP_HEADER_NAMES, xdpfw_http_crlf, 2)
    d.cur = cur
    if cur == NONE8:
        return
    bit = 1u << cur
    if cur == HN_HOST:
        if d.seen & bit:
            _event(c, XDPFW_HTTP_EV_HOST_HEADER_AMBIGUOUS)
        if not (d.mflags & M_URI_HOST):
            if d.seen & bit:
                _sput(c, XDPFW_BUF_HTTP_HOST, 0x2c)
                _sput(c, XDPFW_BUF_HTTP_HOST, SP)
                _put(c, XDPFW_BUF_HTTP_HOST_RAW, xdpfw_http_comsp, 2)
            else:
                _open(c, XDPFW_BUF_HTTP_HOST)
                _open(c, XDPFW_BUF_HTTP_HOST_RAW)
            d.hflags = H_ACTIVE
            d.hdots = 0
            d.port = 0
    else:
        b = _hdr_buf[c.dir][cur]
        if b != NONE8:
            if d.seen & bit:
                _put(c, b, xdpfw_http_comsp, 2)
            else:
                _open(c, b)
    d.seen |= bit
    if cur == HN_CONTENT_LENGTH:
        d.clst = 0
        d.cl_cur = 0
        d.digits = 0
    elif cur == HN_TRANSFER_ENCODING:
        d.te_pos = 0
        d.mflags &= ~(M_TE_ANY | M_TE_TOKEND)


cdef void _cl_byte(hctx *c, uint8_t x) noexcept nogil:
    """Content-Length value: digits, then only whitespace (clst 0 empty, 1 digits,
    2 trailing whitespace, 3 invalid)."""
    cdef xdpfw_http_dir *d = c.d
    if d.clst == 3:
        return
    if 48 <= x <= 57:
        if d.clst == 2 or d.digits >= XDPFW_HTTP_CL_DIGITS:
            d.clst = 3
            return
        d.cl_cur = d.cl_cur * 10 + (x - 48)
        d.digits += 1
        d.clst = 1
    elif x == SP or x == HT:
        if d.clst == 1:
            d.clst = 2
    else:
        d.clst = 3


cdef void _te_token_end(hctx *c) noexcept nogil:
    cdef xdpfw_http_dir *d = c.d
    if d.mflags & M_TE_ANY:
        if d.te_pos == 7:
            d.mflags |= M_TE_CHUNKED
        else:
            d.mflags &= ~M_TE_CHUNKED
    d.te_pos = 0
    d.mflags &= ~(M_TE_ANY | M_TE_TOKEND)


cdef void _te_byte(hctx *c, uint8_t x) noexcept nogil:
    """Transfer-Encoding: a list of codings; what matters is whether the last is
    "chunked" (case-insensitive)."""
    cdef xdpfw_http_dir *d = c.d
    if x == 0x2c:
        _te_token_end(c)
        return
    if x == SP or x == HT:
        if d.mflags & M_TE_ANY:
            d.mflags |= M_TE_TOKEND
        return
    if d.mflags & M_TE_TOKEND:
        d.te_pos = NONE8
    d.mflags |= M_TE_ANY
    if d.te_pos < 7 and _lower[x] == <uint8_t>xdpfw_http_s_chunked[d.te_pos]:
        d.te_pos += 1
    else:
        d.te_pos = NONE8


cdef inline void _value_parse(hctx *c, uint8_t x) noexcept nogil:
    if c.d.cur == HN_CONTENT_LENGTH:
        _cl_byte(c, x)
    elif c.d.cur == HN_TRANSFER_ENCODING:
        _te_byte(c, x)


cdef void _value_byte(hctx *c, uint8_t x) noexcept nogil:
    cdef xdpfw_http_dir *d = c.d
    cdef uint32_t vs
    if x == SP or x == HT:
        _ws_note(c)
        _route(c, B_HEADER_RAW)
        return
    vs = _vsinks(c)
    if _ws_pending(c):
        _ws_resolve(c, vs, d.hflags & H_ACTIVE)
        _value_parse(c, SP)
    _route(c, B_HEADER_RAW | vs)
    if d.hflags & H_ACTIVE:
        _host_push(c, x)
    _value_parse(c, x)


cdef void _commit(hctx *c) noexcept nogil:
    """The previous header line is not continued: finish its value."""
    cdef xdpfw_http_dir *d = c.d
    cdef uint8_t cur = d.cur
    if d.mflags & M_PEND_CRLF:
        _put(c, XDPFW_BUF_HTTP_START, xdpfw_http_crlf, 2)
        if d.mflags & M_PEND_HDR:
            _put(c, XDPFW_BUF_HTTP_HEADER, xdpfw_http_crlf, 2)
        d.mflags &= ~(M_PEND_CRLF | M_PEND_HDR)
    if cur == HN_CONTENT_LENGTH:
        if d.clst == 1 or d.clst == 2:
            if not (d.mflags & M_HAS_CL):
                d.mflags |= M_HAS_CL
                d.cl = d.cl_cur
            elif d.cl_cur != d.cl:
                d.mflags |= M_CL_BAD
                _event(c, XDPFW_HTTP_EV_DUPLICATE_CL_REQUEST if c.dir == 0
                       else XDPFW_HTTP_EV_DUPLICATE_CL_RESPONSE)
        else:
            d.mflags |= M_CL_BAD
            _event(c, XDPFW_HTTP_EV_INVALID_CL_REQUEST if c.dir == 0 else XDPFW_HTTP_EV_INVALID_CL_RESPONSE)
        d.digits = 0
    elif cur == HN_TRANSFER_ENCODING:
        _te_token_end(c)
        d.mflags |= M_TE
    if d.hflags & H_ACTIVE:
        _host_end(c, XDPFW_HTTP_EV_REQUEST_HEADER_HOST_INVALID)
    d.cur = NONE8
    d.mflags &= ~M_NOHDR


cdef void _hdr_start_byte(hctx *c, uint8_t x) noexcept nogil:
    cdef xdpfw_http_dir *d = c.d
    if x == SP or x == HT:
        if not (d.open & B_HEADER_RAW):
            _open(c, XDPFW_BUF_HTTP_HEADER_RAW)
        _route(c, B_HEADER_RAW)
        if d.mflags & M_HDR_LINE:
            _event(c, XDPFW_HTTP_EV_OBS_FOLD)
            d.mflags &= ~(M_PEND_CRLF | M_PEND_HDR)
            d.ws_len = 1        # the fold reads as one SP (RFC 9112 5.2)
            d.ws_bits = 0
            d.phase = PH_HDR_LWS
        else:
            _event(c, XDPFW_HTTP_EV_INVALID_REQUEST_FOLDING if c.dir == 0
                   else XDPFW_HTTP_EV_INVALID_RESPONSE_FOLDING)
            d.phase = PH_HDR_SKIP
        return
    _commit(c)
    d.mflags |= M_HDR_LINE
    if d.hdr_count < 0xffff:
        d.hdr_count += 1
    if d.hdr_count > XDPFW_HTTP_MAX_HEADERS and not (d.mflags & M_TOO_MANY):
        d.mflags |= M_TOO_MANY
        _event(c, XDPFW_HTTP_EV_REQUEST_TOO_MANY_HEADERS if c.dir == 0
               else XDPFW_HTTP_EV_RESPONSE_TOO_MANY_HEADERS)
    if not (d.open & B_HEADER_RAW):
        _open(c, XDPFW_BUF_HTTP_HEADER_RAW)
    if not (d.open & B_HEADER_NAMES):
        _open(c, XDPFW_BUF_HTTP_HEADER_NAMES)
        _put(c, XDPFW_BUF_HTTP_HEADER_NAMES, xdpfw_http_crlf, 2)
    d.name_cand = _dir_cand[c.dir]
    d.name_pos = 0
    d.name_case = 0
    d.lflags |= L_DEFER
    c.name_start = <int32_t>c.i if not c.virt else 0
    c.name_carried = 0
    d.phase = PH_HDR_NAME
    if x == 0x3a:
        _name_end(c, 1)
        d.phase = PH_HDR_LWS
    else:
        _name_byte(c, x)


cdef void _headers_end(hctx *c) noexcept nogil:
    """The empty line (consumed): close the header buffers, decide the body."""
    cdef xdpfw_http_dir *d = c.d
    cdef uint16_t st
    _commit(c)
    c.i += c.eol_len        # the empty line belongs to http.header.raw
    _close(c, XDPFW_BUF_HTTP_HEADER_RAW)
    c.i -= c.eol_len
    _put(c, XDPFW_BUF_HTTP_START, xdpfw_http_crlf, 2)
    _close(c, XDPFW_BUF_HTTP_START)
    _close(c, XDPFW_BUF_HTTP_HEADER)
    if d.open & B_HEADER_NAMES:
        _put(c, XDPFW_BUF_HTTP_HEADER_NAMES, xdpfw_http_crlf, 2)
        _close(c, XDPFW_BUF_HTTP_HEADER_NAMES)
    _close_mask(c, d.open)
    if c.dir == 0:
        if d.version == 0x11 and not (d.seen & (1u << HN_HOST)) and not (d.mflags & M_URI_HOST):
            _event(c, XDPFW_HTTP_EV_MISSING_HOST_HEADER)
        if d.mflags & M_TE:
            if d.mflags & M_TE_CHUNKED:
                if d.mflags & (M_HAS_CL | M_CL_BAD):
                    _event(c, XDPFW_HTTP_EV_CL_AND_CHUNKED_REQUEST)
                _chunk_start(c)
            else:
                _give_up(c, XDPFW_HTTP_EV_INVALID_TE_REQUEST)
        elif d.mflags & M_CL_BAD:
            _give_up(c, XDPFW_HTTP_U32_MAX)
        elif (d.mflags & M_HAS_CL) and d.cl:
            d.body_left = d.cl
            d.phase = PH_BODY_CL
        else:
            _msg_done(c)
        return
    st = d.status
    if 100 <= st < 200:
        if st == 101:
            c.s.tunnel = 1
            d.phase = PH_TUNNEL
        else:
            _msg_done(c)
        return
    if d.kind == XDPFW_HTTP_KIND_HEAD or st == 204 or st == 304:
        _msg_done(c)
    elif d.kind == XDPFW_HTTP_KIND_CONNECT and 200 <= st < 300:
        c.s.tunnel = 1
        d.phase = PH_TUNNEL
    elif d.mflags & M_TE:
        if d.mflags & M_TE_CHUNKED:
            if d.mflags & (M_HAS_CL | M_CL_BAD):
                _event(c, XDPFW_HTTP_EV_CL_AND_CHUNKED_RESPONSE)
            if d.version and d.version < 0x11:
                _event(c, XDPFW_HTTP_EV_RESPONSE_CHUNKED_OLD_PROTO)
            _chunk_start(c)
        else:
            _event(c, XDPFW_HTTP_EV_INVALID_TE_RESPONSE)
            d.phase = PH_BODY_CLOSE
    elif d.mflags & M_CL_BAD:
        _give_up(c, XDPFW_HTTP_U32_MAX)
    elif d.mflags & M_HAS_CL:
        if d.cl:
            d.body_left = d.cl
            d.phase = PH_BODY_CL
        else:
            _msg_done(c)
    else:
        d.phase = PH_BODY_CLOSE


# ---------------------------------------------------------------------------------------
# Bodies

cdef inline void _chunk_start(hctx *c) noexcept nogil:
    c.d.body_left = 0
    c.d.digits = 0
    c.d.phase = PH_CHUNK_SIZE


cdef inline uint32_t _body_bufs(hctx *c) noexcept nogil:
    return B_REQ_BODY if c.dir == 0 else (B_RESP_BODY | B_FILE_DATA)


cdef void _body(hctx *c) noexcept nogil:
    cdef xdpfw_http_dir *d = c.d
    cdef uint32_t S = _body_bufs(c), j, m
    cdef uint64_t k = c.n - c.i
    if d.phase != PH_BODY_CLOSE and d.body_left < k:
        k = d.body_left
    m = S & ~d.open
    while m:
        j = xdpfw_http_ctz(m)
        m &= m - 1
        _open(c, j)
    _route(c, S)
    c.i += <uint32_t>k
    if d.phase == PH_BODY_CLOSE:
        return
    d.body_left -= k
    if d.body_left == 0:
        if d.phase == PH_BODY_CL:
            _close_mask(c, S)
            _msg_done(c)
        else:
            d.phase = PH_CHUNK_END


cdef inline void _chunk_bad(hctx *c) noexcept nogil:
    _give_up(c, XDPFW_HTTP_EV_INVALID_REQUEST_CHUNK_LEN if c.dir == 0
             else XDPFW_HTTP_EV_INVALID_RESPONSE_CHUNK_LEN)


cdef void _chunk_size_byte(hctx *c, uint8_t x) noexcept nogil:
    cdef xdpfw_http_dir *d = c.d
    _route(c, 0)
    if _hex[x] >= 0 and not (d.lflags & L_MISC):
        if d.digits >= XDPFW_HTTP_CHUNK_DIGITS:
            _chunk_bad(c)
            return
        d.body_left = d.body_left * 16 + <uint64_t>_hex[x]
        d.digits += 1
    elif (x == SP or x == HT) and d.digits:
        d.lflags |= L_MISC
    elif x == 0x3b and d.digits:
        _event(c, XDPFW_HTTP_EV_REQUEST_CHUNK_EXTENSION if c.dir == 0
               else XDPFW_HTTP_EV_RESPONSE_CHUNK_EXTENSION)
        d.phase = PH_CHUNK_EXT
    else:
        _chunk_bad(c)


# ---------------------------------------------------------------------------------------
# Line dispatch

cdef void _data_byte(hctx *c, uint8_t x) noexcept nogil:
    """A byte of a line that is not its terminator."""
    cdef xdpfw_http_dir *d = c.d
    cdef uint8_t ph = d.phase
    cdef bint ws = x == SP or x == HT
    c.dend = c.i
    d.line_len += 1
    if d.line_len == XDPFW_HTTP_LINE_MAX + 1:
        if PH_CHUNK_SIZE <= ph <= PH_CHUNK_END:
            _give_up(c, XDPFW_HTTP_EV_REQUEST_FIELD_TOO_LONG if c.dir == 0
                     else XDPFW_HTTP_EV_RESPONSE_FIELD_TOO_LONG)
            return
        d.lflags |= L_TOO_LONG
        _event(c, XDPFW_HTTP_EV_REQUEST_FIELD_TOO_LONG if c.dir == 0 else XDPFW_HTTP_EV_RESPONSE_FIELD_TOO_LONG)
    if ph == PH_HDR_VALUE:
        _value_byte(c, x)
    elif ph == PH_HDR_NAME:
        if x == 0x3a:
            _name_end(c, 1)
            d.phase = PH_HDR_LWS
        else:
            _name_byte(c, x)
    elif ph == PH_HDR_LWS:
        if ws:
            _route(c, B_HEADER_RAW)
        else:
            d.phase = PH_HDR_VALUE
            _value_byte(c, x)
    elif ph == PH_HDR_START:
        _hdr_start_byte(c, x)
    elif ph == PH_URI:
        if ws:
            _uri_hold_ws(c, x)
        else:
            _uri_byte(c, x)
    elif ph == PH_URI_WS:
        if ws:
            if d.ws_len == XDPFW_HTTP_WS_MAX:
                _uri_commit(c)          # a longer run is the delimiter
                d.phase = PH_RL_SP2
            else:
                if x == HT:
                    d.ws_bits |= <uint64_t>1 << d.ws_len
                d.ws_len += 1
            _route(c, B_REQ_LINE | B_START)
        elif x == <uint8_t>xdpfw_http_s_proto[0]:
            d.proto_pos = 1
            c.tok_start = <int32_t>c.i if not c.virt else -1
            d.phase = PH_URI_TOK
            _route(c, B_REQ_LINE | B_START)
        else:
            _uri_replay(c)
            d.phase = PH_URI
            _uri_byte(c, x)
    elif ph == PH_URI_TOK:
        if not ws and x == <uint8_t>xdpfw_http_s_proto[d.proto_pos]:
            if d.proto_pos < 4:
                d.proto_pos += 1
                _route(c, B_REQ_LINE | B_START)
            else:
                _uri_commit(c)
                _open(c, XDPFW_BUF_HTTP_PROTOCOL)
                d.version = 0
                d.proto_pos = 5         # _proto_step's state after "HTTP/"
                d.phase = PH_PROTO
                if c.tok_start >= 0:    # "HTTP" is in p: one raw run
                    c.start[XDPFW_BUF_HTTP_PROTOCOL] = <uint32_t>c.tok_start
                    c.active |= B_PROTOCOL
                else:
                    _put(c, XDPFW_BUF_HTTP_PROTOCOL, <const uint8_t *>xdpfw_http_s_proto, 4)
                c.tok_start = -1
                _route(c, B_PROTOCOL | B_REQ_LINE | B_START)
        else:
            _uri_replay(c)
            if ws:
                _uri_hold_ws(c, x)
            else:
                d.phase = PH_URI
                _uri_byte(c, x)
    elif ph == PH_IDLE:
        _idle_byte(c, x)
    elif ph == PH_METHOD:
        _method_byte(c, x)
    elif ph == PH_RL_SP1:
        if ws:
            _route(c, B_REQ_LINE | B_START)
        else:
            _uri_start(c)
            d.phase = PH_URI
            _uri_byte(c, x)
    elif ph == PH_RL_SP2:
        if ws:
            _route(c, B_REQ_LINE | B_START)
        else:
            _open(c, XDPFW_BUF_HTTP_PROTOCOL)
            d.proto_pos = 0
            d.version = 0
            d.phase = PH_PROTO
            if _proto_step(c, x):
                _give_up(c, XDPFW_HTTP_EV_REQUEST_LINE_INVALID)
                return
            _route(c, B_PROTOCOL | B_REQ_LINE | B_START)
    elif ph == PH_PROTO:
        if ws:
            if _proto_end(c, XDPFW_HTTP_EV_REQUEST_LINE_INVALID):
                _give_up(c, XDPFW_HTTP_EV_REQUEST_LINE_INVALID)
                return
            _route(c, B_REQ_LINE | B_START)
            d.phase = PH_RL_TAIL
        else:
            if _proto_step(c, x):
                _give_up(c, XDPFW_HTTP_EV_REQUEST_LINE_INVALID)
                return
            _route(c, B_PROTOCOL | B_REQ_LINE | B_START)
    elif ph == PH_RL_TAIL:
        if not ws and not (d.lflags & L_MISC):
            d.lflags |= L_MISC
            _event(c, XDPFW_HTTP_EV_REQUEST_LINE_INVALID)
        _route(c, B_REQ_LINE | B_START)
    elif ph == PH_ST_PROTO:
        if ws:
            if _proto_end(c, XDPFW_HTTP_EV_RESPONSE_INVALID_PROTOCOL):
                _give_up(c, XDPFW_HTTP_EV_RESPONSE_INVALID_PROTOCOL)
                return
            _route(c, B_RESP_LINE | B_START)
            d.phase = PH_ST_SP1
        else:
            if _proto_step(c, x):
                _give_up(c, XDPFW_HTTP_EV_RESPONSE_INVALID_PROTOCOL)
                return
            _route(c, B_PROTOCOL | B_RESP_LINE | B_START)
    elif ph == PH_ST_SP1:
        if ws:
            _route(c, B_RESP_LINE | B_START)
        else:
            _open(c, XDPFW_BUF_HTTP_STAT_CODE)
            d.status = 0
            d.digits = 0
            d.phase = PH_ST_CODE
            _code_byte(c, x)
    elif ph == PH_ST_CODE:
        if ws:
            _code_end(c)
            _route(c, B_RESP_LINE | B_START)
            d.phase = PH_ST_SP2
        else:
            _code_byte(c, x)
    elif ph == PH_ST_SP2:
        if ws:
            _route(c, B_RESP_LINE | B_START)
        else:
            _open(c, XDPFW_BUF_HTTP_STAT_MSG)
            d.phase = PH_ST_MSG
            _route(c, B_STAT_MSG | B_RESP_LINE | B_START)
    elif ph == PH_ST_MSG:
        _route(c, B_STAT_MSG | B_RESP_LINE | B_START)
    elif ph == PH_HDR_SKIP:
        _route(c, B_HEADER_RAW)
    elif ph == PH_CHUNK_SIZE:
        _chunk_size_byte(c, x)
    elif ph == PH_CHUNK_EXT or ph == PH_TRAILER:
        _route(c, 0)
    elif ph == PH_CHUNK_END:
        _route(c, 0)
        _chunk_bad(c)


cdef inline void _code_byte(hctx *c, uint8_t x) noexcept nogil:
    cdef xdpfw_http_dir *d = c.d
    if d.digits != NONE8:
        if 48 <= x <= 57:
            if d.digits < 3:
                d.status = d.status * 10 + (x - 48)
            if d.digits < NONE8 - 1:
                d.digits += 1
        else:
            d.digits = NONE8
    _route(c, B_STAT_CODE | B_RESP_LINE | B_START)


cdef inline uint32_t _eol_raw(xdpfw_http_dir *d) noexcept nogil:
    if PH_HDR_START <= d.phase <= PH_HDR_SKIP and (d.open & B_HEADER_RAW):
        return B_HEADER_RAW
    return 0


cdef void _eol(hctx *c, uint32_t tl) noexcept nogil:
    """A line terminator of tl bytes at c.i (LF, CR LF, or the LF of a CR held from the
    previous run)."""
    cdef xdpfw_http_dir *d = c.d
    cdef uint8_t ph = d.phase
    cdef uint32_t line_len = d.line_len
    cdef uint32_t raw = _eol_raw(d)
    c.dend = c.i
    c.eol_len = tl
    if raw and not (c.active & raw):
        c.start[XDPFW_BUF_HTTP_HEADER_RAW] = c.i
        c.active |= raw
    d.line_len = 0
    if ph == PH_HDR_VALUE or ph == PH_HDR_LWS:
        _ws_drop(c)
        d.mflags |= M_PEND_CRLF | (0 if d.mflags & M_NOHDR else M_PEND_HDR)
        d.phase = PH_HDR_START
    elif ph == PH_HDR_START:
        _headers_end(c)
    elif ph == PH_HDR_NAME:
        _event(c, XDPFW_HTTP_EV_REQUEST_FIELD_MISSING_COLON if c.dir == 0
               else XDPFW_HTTP_EV_RESPONSE_FIELD_MISSING_COLON)
        _name_end(c, 0)
        d.mflags |= M_PEND_CRLF | (0 if d.mflags & M_NOHDR else M_PEND_HDR)
        d.phase = PH_HDR_START
    elif ph == PH_HDR_SKIP:
        d.phase = PH_HDR_START
    elif ph == PH_IDLE:
        pass
    elif ph == PH_METHOD or ph == PH_RL_SP1:
        _give_up(c, XDPFW_HTTP_EV_REQUEST_LINE_INVALID)
    elif ph == PH_URI:
        _uri_end(c)
        _rl_done(c, 1)
    elif ph == PH_URI_WS:
        _uri_commit(c)
        _rl_done(c, 1)
    elif ph == PH_URI_TOK:
        _uri_replay(c)
        _uri_end(c)
        _rl_done(c, 1)
    elif ph == PH_RL_SP2:
        _rl_done(c, 1)
    elif ph == PH_PROTO:
        if _proto_end(c, XDPFW_HTTP_EV_REQUEST_LINE_INVALID):
            _give_up(c, XDPFW_HTTP_EV_REQUEST_LINE_INVALID)
        else:
            _rl_done(c, 0)
    elif ph == PH_RL_TAIL:
        _rl_done(c, 0)
    elif ph == PH_ST_PROTO:
        if _proto_end(c, XDPFW_HTTP_EV_RESPONSE_INVALID_PROTOCOL):
            _give_up(c, XDPFW_HTTP_EV_RESPONSE_INVALID_PROTOCOL)
        else:
            d.status = 0
            _event(c, XDPFW_HTTP_EV_RESPONSE_INVALID_STATUS)
            _status_done(c)
    elif ph == PH_ST_SP1:
        d.status = 0
        _event(c, XDPFW_HTTP_EV_RESPONSE_INVALID_STATUS)
        _status_done(c)
    elif ph == PH_ST_CODE or ph == PH_ST_SP2:
        if ph == PH_ST_CODE:
            _code_end(c)
        _open(c, XDPFW_BUF_HTTP_STAT_MSG)
        _close(c, XDPFW_BUF_HTTP_STAT_MSG)
        _status_done(c)
    elif ph == PH_ST_MSG:
        _close(c, XDPFW_BUF_HTTP_STAT_MSG)
        _status_done(c)
    elif ph == PH_CHUNK_SIZE or ph == PH_CHUNK_EXT:
        if d.digits == 0:
            _chunk_bad(c)
        elif d.body_left == 0:
            _close_mask(c, _body_bufs(c))
            d.phase = PH_TRAILER
        else:
            d.digits = 0
            d.phase = PH_CHUNK_DATA
    elif ph == PH_CHUNK_END:
        _chunk_start(c)
    elif ph == PH_TRAILER:
        if line_len == 0:
            _msg_done(c)
    # the terminator goes to http.header.raw (if still open), nothing else
    _route(c, c.active & raw)
    c.i += tl
    if d.phase < PH_GAVE_UP:
        d.lflags = 0


cdef void _run(hctx *c) noexcept nogil:
    cdef xdpfw_http_dir *d = c.d
    cdef xdpfw_http_state *s = c.s
    cdef const uint8_t *p = c.p
    cdef uint8_t x, ph
    while c.i < c.n:
        ph = d.phase
        if ph >= PH_BODY_CL:
            if ph >= PH_GAVE_UP:
                break
            _body(c)
            continue
        if ph == PH_IDLE:
            if c.dir == 0:
                if s.tunnel:
                    d.phase = PH_TUNNEL
                    break
            elif s.fifo_n and ((s.fifo >> (2 * s.fifo_head)) & 3) == XDPFW_HTTP_KIND_09:
                d.phase = PH_09_PROBE      # a status line, or all body
                d.proto_pos = 0
                continue
        elif ph == PH_09_PROBE:
            x = p[c.i]
            if x != <uint8_t>xdpfw_http_s_proto[d.proto_pos]:
                _09_body(c)
            elif d.proto_pos < 4:
                d.proto_pos += 1
                _route(c, 0)
                c.i += 1
            else:
                _09_status(c)              # the '/' is read next, as a status line's
            continue
        x = p[c.i]
        if x == LF:
            _eol(c, 1)
            continue
        if x == CR:
            if c.i + 1 < c.n:
                if p[c.i + 1] == LF:
                    _eol(c, 2)
                    continue
                if not (d.lflags & L_BARE_CR):
                    d.lflags |= L_BARE_CR
                    _event(c, XDPFW_HTTP_EV_BARE_CR)
            else:
                # held: the next run says whether it ends the line
                c.dend = c.i
                if _eol_raw(d):
                    _route(c, B_HEADER_RAW)
                    d.lflags |= L_CR | L_CR_RAW
                else:
                    _route(c, 0)
                    d.lflags |= L_CR
                c.i += 1
                break
        _data_byte(c, x)
        c.i += 1


cdef void _ctx_init(hctx *c, xdpfw_http_state *s, int direction, const uint8_t *p, uint32_t n,
                    const xdpfw_app_sink *sink) noexcept nogil:
    c.p = p
    c.n = n
    c.i = 0
    c.dend = 0
    c.eol_len = 0
    c.sink = sink
    c.s = s
    c.d = &s.dir[direction]
    c.dir = direction
    c.active = 0
    c.virt = 0
    c.virt_skip = 0
    c.vbyte = &xdpfw_http_crlf[0]
    c.tok_start = -1
    c.uri_stop = -1
    c.ws_start = -1
    c.name_start = -1
    c.name_carried = 0
    c.sn = 0
    c.sbuf = 0
    if c.d.phase == PH_HDR_NAME and (c.d.lflags & L_DEFER):
        c.name_carried = c.d.name_pos
        c.name_start = 0


cdef void _held_cr_as_data(hctx *c) noexcept nogil:
    """The CR held from the previous run was not followed by LF: it is a data byte."""
    cdef xdpfw_http_dir *d = c.d
    c.virt_skip = B_HEADER_RAW if d.lflags & L_CR_RAW else 0
    d.lflags &= ~(L_CR | L_CR_RAW)
    if not (d.lflags & L_BARE_CR):
        d.lflags |= L_BARE_CR
        _event(c, XDPFW_HTTP_EV_BARE_CR)
    c.virt = 1
    _data_byte(c, CR)
    c.virt = 0


cdef void _ctx_finish(hctx *c) noexcept nogil:
    """End of the caller's bytes: hand over the raw runs, keep what is held."""
    cdef xdpfw_http_dir *d = c.d
    cdef uint32_t j, end, m
    if c.ws_start >= 0:
        end = c.n - 1 if d.lflags & L_CR else c.n
        for j in range(<uint32_t>c.ws_start, end):
            if d.ws_len < XDPFW_HTTP_WS_MAX and c.p[j] == HT:
                d.ws_bits |= <uint64_t>1 << d.ws_len
            if d.ws_len < XDPFW_HTTP_U32_MAX:
                d.ws_len += 1
        c.ws_start = -1
    m = c.active
    while m:
        j = xdpfw_http_ctz(m)
        m &= m - 1
        _flush_run(c, j, c.i)
    _uri_stop_flush(c, 0)
    _sflush(c)


# ---------------------------------------------------------------------------------------
# API (xdpfw_app.h)

cdef void http_init(xdpfw_http_state *s) noexcept nogil:
    memset(s, 0, sizeof(xdpfw_http_state))
    s.dir[0].cur = NONE8
    s.dir[1].cur = NONE8


cdef int http_probe(const uint8_t *p, uint32_t n, int direction, uint32_t flags) noexcept nogil:
    cdef int res = XDPFW_PROBE_NO, i
    cdef uint32_t j, k
    cdef const char *m
    if flags & XDPFW_APP_F_DATAGRAM:
        return XDPFW_PROBE_NO
    if direction != 0:
        k = n if n < 5 else 5
        for j in range(k):
            if p[j] != <uint8_t>xdpfw_http_s_proto[j]:
                return XDPFW_PROBE_NO
        return XDPFW_PROBE_YES if n >= 5 else XDPFW_PROBE_MORE
    for i in range(23):
        m = xdpfw_http_probe_methods[i]
        j = 0
        # the space after the method, or '/' ("TRACE/ HTTP/1.1": libhtp's method runs
        # to the whitespace, and Suricata detects such a flow by its response)
        while m[j] and j < n and (p[j] == <uint8_t>m[j] or (m[j + 1] == 0 and p[j] == 0x2f)):
            j += 1
        if not m[j]:
            return XDPFW_PROBE_YES
        if j == n:
            res = XDPFW_PROBE_MORE
    return res


cdef void http_feed(xdpfw_http_state *s, int direction, const uint8_t *p, uint32_t n, uint32_t flags,
                    const xdpfw_app_sink *sink) noexcept nogil:
    cdef hctx c
    cdef xdpfw_http_dir *d = &s.dir[direction]
    if d.phase >= PH_GAVE_UP:
        return
    _ctx_init(&c, s, direction, p, n, sink)
    if flags & XDPFW_APP_F_GAP:
        d.lflags = 0
        _give_up(&c, XDPFW_HTTP_EV_GAP)
        return
    if direction == 0 and s.tunnel and d.phase == PH_IDLE:
        d.phase = PH_TUNNEL
        return
    if n == 0:
        return
    if d.lflags & L_CR:
        if p[0] == LF:
            d.lflags &= ~(L_CR | L_CR_RAW)
            _eol(&c, 1)
        else:
            _held_cr_as_data(&c)
    _run(&c)
    _ctx_finish(&c)


cdef void http_end(xdpfw_http_state *s, int direction, const xdpfw_app_sink *sink) noexcept nogil:
    cdef hctx c
    cdef xdpfw_http_dir *d = &s.dir[direction]
    cdef uint8_t ph
    if d.phase >= PH_GAVE_UP:
        return
    _ctx_init(&c, s, direction, xdpfw_http_empty, 0, sink)
    if d.lflags & L_CR:
        _held_cr_as_data(&c)
    ph = d.phase
    if PH_METHOD <= ph <= PH_RL_TAIL:
        _event(&c, XDPFW_HTTP_EV_REQUEST_LINE_INCOMPLETE)
    if ph == PH_URI:
        _uri_end(&c)
    elif ph == PH_09_PROBE:
        _09_body(&c)
    elif ph == PH_URI_WS:
        _uri_commit(&c)
    elif ph == PH_URI_TOK:
        _uri_replay(&c)
        _uri_end(&c)
    elif ph == PH_HDR_NAME and (d.lflags & L_DEFER):
        _undefer(&c)
    _ws_drop(&c)
    if d.mflags & M_PEND_CRLF:
        _commit(&c)
    elif d.hflags & H_ACTIVE:
        _host_end(&c, XDPFW_HTTP_EV_REQUEST_HEADER_HOST_INVALID)
    _close_mask(&c, d.open)
    _sflush(&c)
    d.phase = PH_ENDED


# ---------------------------------------------------------------------------------------
# Registry entry

# HTTP on any TCP port: a request line is unmistakable. A request's first piece (its
# method) and a response's (its protocol) begin a new transaction in their direction.
cdef xdpfw_app_ops HTTP_OPS
xdpfw_app_ops_set(&HTTP_OPS, b"http", XDPFW_APP_HTTP, sizeof(xdpfw_http_state), 0, XDPFW_APP_L4_TCP, 0,
                  XDPFW_BUF_HTTP_METHOD, XDPFW_BUF_HTTP_PROTOCOL, XDPFW_HTTP_EV_MAX, xdpfw_http_event_names,
                  http_probe, <xdpfw_app_init_fn>http_init, <xdpfw_app_feed_fn>http_feed,
                  <xdpfw_app_end_fn>http_end)


cdef const xdpfw_app_ops *http_app_ops() noexcept nogil:
    return &HTTP_OPS


# ---------------------------------------------------------------------------------------
# Python side: names, sizes, a counting run for benchmarks (not per packet)

BUFFER_NAMES = [xdpfw_app_buffer_names[i].decode() for i in range(XDPFW_APP_BUFFER_MAX)]
"""Rule-buffer names by enum value (xdpfw_app.h)."""
EVENT_NAMES = [xdpfw_http_event_names[i].decode() for i in range(XDPFW_HTTP_EV_MAX)]
"""Decode-event names by enum value (xdpfw_app_http.h)."""
STATE_SIZE = sizeof(xdpfw_http_state)
"""Bytes of per-flow decoder state."""
LINE_MAX = XDPFW_HTTP_LINE_MAX
MAX_HEADERS = XDPFW_HTTP_MAX_HEADERS
WS_MAX = XDPFW_HTTP_WS_MAX
FIFO = XDPFW_HTTP_FIFO
SCRATCH = XDPFW_APP_SCRATCH


cdef struct _counts:
    uint64_t pieces
    uint64_t nbytes
    uint64_t events


cdef void _c_data(void *ctx, uint32_t buf, const uint8_t *p, uint32_t n, uint32_t flags) noexcept nogil:
    (<_counts *>ctx).pieces += 1
    (<_counts *>ctx).nbytes += n


cdef void _c_event(void *ctx, uint32_t proto, uint32_t ev) noexcept nogil:
    (<_counts *>ctx).events += 1


def decode_count(conversation):
    """Decode a flow [(direction, bytes), ...] fed in that order, through a sink that only
    counts (for benchmarks: no Python object per piece). Returns (pieces, piece bytes,
    events)."""
    cdef xdpfw_http_state st
    cdef _counts cnt
    cdef xdpfw_app_sink sink
    cdef bytes b
    cdef int d
    memset(&cnt, 0, sizeof(cnt))
    sink.ctx = <void *>&cnt
    sink.data = _c_data
    sink.event = _c_event
    sink.control = NULL
    http_init(&st)
    for d, b in conversation:
        http_feed(&st, d, <const uint8_t *>(<const char *>b), <uint32_t>len(b), 0, &sink)
    http_end(&st, 0, &sink)
    http_end(&st, 1, &sink)
    return cnt.pieces, cnt.nbytes, cnt.events


def given_up(state):
    """(to_server, to_client): has the direction given up? `state` is the decoder's state
    bytes (app_registry.AppDecoder("http").state)."""
    cdef bytes b = bytes(state)
    cdef const xdpfw_http_state *st
    if len(b) != sizeof(xdpfw_http_state):
        raise ValueError(f"an HTTP state is {sizeof(xdpfw_http_state)} bytes, not {len(b)}")
    st = <const xdpfw_http_state *>(<const char *>b)
    return tuple(st.dir[i].phase == PH_GAVE_UP for i in range(2))
