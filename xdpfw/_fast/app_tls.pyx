# cython: language_level=3, embedsignature=True, boundscheck=False, wraparound=False, cdivision=True
"""TLS decoder: a resumable state machine over one direction of a flow (xdpfw_app.h).

Three layers, each walking its fields as bytes arrive and keeping only positions and the
few values a buffer needs later (xdpfw_app_tls.h states what, the caps and the policies):

  records     type, version, length; framing is followed to the end of the direction,
              encrypted records are skipped by length
  handshake   message type and 24-bit length; a message may span records
  messages    ClientHello (tls.sni, ja3.string, ja3.hash), ServerHello (ja3s.*),
              Certificate (the leaf's DER: tls.cert_serial, tls.cert_issuer,
              tls.cert_subject)

Buffers whose bytes are in the input (the SNI, string attribute values) are reported as
pieces pointing into it; computed text (JA3 decimals, hex, attribute names) is rendered
into a scratch array on the stack of the feed call and reported from there, flushed
before the call returns. MD5 (RFC 1321) runs over the JA3 pieces as they are reported.
The pure-Python reference that defines the same output is xdpfw/ref/app_tls.py.

The module exports its registry entry, tls_app_ops() (xdpfw_app.h: struct xdpfw_app_ops);
tests drive it through the generic wrapper xdpfw._fast.app_registry.AppDecoder("tls").
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memset

from xdpfw._fast.includes.app cimport (XDPFW_APP_CTL_ENCRYPTED, XDPFW_APP_END, XDPFW_APP_F_DATAGRAM, XDPFW_APP_F_GAP,
                                       XDPFW_APP_SCRATCH, XDPFW_APP_START, XDPFW_APP_TLS, XDPFW_BUF_JA3_HASH,
                                       XDPFW_BUF_JA3_STRING, XDPFW_BUF_JA3S_HASH,
                                       XDPFW_BUF_JA3S_STRING, XDPFW_BUF_TLS_CERT_ISSUER,
                                       XDPFW_BUF_TLS_CERT_SERIAL, XDPFW_BUF_TLS_CERT_SUBJECT, XDPFW_BUF_TLS_CERTS,
                                       XDPFW_BUF_TLS_SNI, XDPFW_PROBE_MORE, XDPFW_PROBE_NO,
                                       XDPFW_PROBE_YES, XDPFW_APP_BUFFER_MAX, XDPFW_APP_L4_TCP,
                                       xdpfw_app_end_fn, xdpfw_app_feed_fn, xdpfw_app_init_fn,
                                       xdpfw_app_ops, xdpfw_app_ops_set, xdpfw_app_sink)

cdef extern from "xdpfw_flow.h" nogil:
    enum:
        XDPFW_DIR_TOSERVER

cdef extern from *:
    """
    #include "xdpfw_app_tls.h"
    #define XDPFW__TLS_EV_LABEL(name, label) label,
    static const char *const xdpfw_tls_event_names[] = { XDPFW_TLS_EVENTS(XDPFW__TLS_EV_LABEL) };
    /* MD5 (RFC 1321): sine-derived constants and per-round shifts */
    static const __u32 xdpfw_md5_k[64] = {
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
        0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
        0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
        0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
        0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
        0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
        0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
        0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391 };
    static const unsigned char xdpfw_md5_r[64] = {
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
        5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
        4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
        6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21 };
    /* attribute types named other than 2.5.4.x: domainComponent, PKCS#9 emailAddress */
    static const unsigned char xdpfw_tls_oid_dc[10] = { 0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19 };
    static const unsigned char xdpfw_tls_oid_email[9] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01 };
    static const unsigned char xdpfw_tls_hexu[16] = { '0','1','2','3','4','5','6','7','8','9','A','B','C','D','E','F' };
    static const unsigned char xdpfw_tls_hexl[16] = { '0','1','2','3','4','5','6','7','8','9','a','b','c','d','e','f' };
    """
    const char *const xdpfw_tls_event_names[]
    const uint32_t xdpfw_md5_k[64]
    const uint8_t xdpfw_md5_r[64]
    const uint8_t xdpfw_tls_oid_dc[10]
    const uint8_t xdpfw_tls_oid_email[9]
    const uint8_t xdpfw_tls_hexu[16]
    const uint8_t xdpfw_tls_hexl[16]

cdef enum:
    NO_EVENT = XDPFW_TLS_EV_MAX
    SCRATCH = 256          # XDPFW_APP_SCRATCH (checked at import)
    REC_SSL2 = 0x80        # rec_type of an SSLv2 record
    CT_HANDSHAKE = 22

# record / handshake layer phases
cdef enum:
    REC_HDR = 0
    REC_BODY = 1
    HS_HDR = 0
    HS_BODY = 1

# ClientHello phases: below CH_INT they run to a mark, from CH_INT on they read an integer
cdef enum:
    CH_RANDOM = 0
    CH_SID
    CH_COMP
    CH_EXTSKIP
    CH_SNI
    CH_TAIL
    CH_INT = 16
    CH_VER = 16
    CH_SIDLEN
    CH_CSLEN
    CH_CS
    CH_COMPLEN
    CH_EXTLEN
    CH_EXTTYPE
    CH_EXTLEN2
    CH_SNILISTLEN
    CH_SNITYPE
    CH_SNILEN
    CH_GRPLEN
    CH_GRP
    CH_PTLEN
    CH_PT

# ServerHello phases
cdef enum:
    SH_RANDOM = 0
    SH_SID
    SH_EXTSKIP
    SH_TAIL
    SH_INT = 16
    SH_VER = 16
    SH_SIDLEN
    SH_CIPHER
    SH_COMP
    SH_EXTLEN
    SH_EXTTYPE
    SH_EXTLEN2

# Certificate phases (below CT_INT: to el_end, or to the message end for CT_TAIL)
cdef enum:
    CT_SKIP = 0
    CT_SERIAL
    CT_OID
    CT_VALUE
    CT_TAIL
    CT_INT = 16
    CT_LISTLEN = 16
    CT_CERTLEN
    CT_TAG
    CT_LEN
    CT_LENX

# Certificate: the DER element expected next
cdef enum:
    S_CERT = 0
    S_TBS
    S_VERSION
    S_SERIAL
    S_SIGALG
    S_ISSUER
    S_VALIDITY
    S_SUBJECT
    S_RDN
    S_ATV
    S_OID
    S_VALUE
    S_DONE

# What one feed/end call reports through: the sink, the flow's state, the direction, and
# the scratch text not yet reported (all of it belongs to buffer pbuf).
cdef struct tctx:
    const xdpfw_app_sink *sink
    xdpfw_tls_state *s
    xdpfw_tls_dir *d
    uint32_t pbuf
    uint32_t plen
    uint8_t scratch[SCRATCH]


# ---- hot path: MD5 ------------------------------------------------------------------

cdef void _md5_init(xdpfw_tls_md5 *m) noexcept nogil:
    m.h[0] = 0x67452301
    m.h[1] = 0xefcdab89
    m.h[2] = 0x98badcfe
    m.h[3] = 0x10325476
    m.len = 0


cdef inline uint32_t _rotl(uint32_t x, uint32_t r) noexcept nogil:
    return (x << r) | (x >> (32 - r))


cdef void _md5_block(uint32_t *h, const uint8_t *b) noexcept nogil:
    cdef uint32_t m[16]
    cdef uint32_t a = h[0], bb = h[1], cc = h[2], dd = h[3], f, t
    cdef int i, g
    for i in range(16):
        m[i] = (b[4 * i] | (<uint32_t>b[4 * i + 1] << 8) | (<uint32_t>b[4 * i + 2] << 16)
                | (<uint32_t>b[4 * i + 3] << 24))
    for i in range(64):
        if i < 16:
            f = (bb & cc) | (~bb & dd)
            g = i
        elif i < 32:
            f = (dd & bb) | (~dd & cc)
            g = (5 * i + 1) & 15
        elif i < 48:
            f = bb ^ cc ^ dd
            g = (3 * i + 5) & 15
        else:
            f = cc ^ (bb | ~dd)
            g = (7 * i) & 15
        t = dd
        dd = cc
        cc = bb
        bb = bb + _rotl(a + f + xdpfw_md5_k[i] + m[g], xdpfw_md5_r[i])
        a = t
    h[0] += a
    h[1] += bb
    h[2] += cc
    h[3] += dd


cdef void _md5_update(xdpfw_tls_md5 *m, const uint8_t *p, uint32_t n) noexcept nogil:
    cdef uint32_t i, fill = m.len & 63
    m.len += n
    for i in range(n):
        m.blk[fill] = p[i]
        fill += 1
        if fill == 64:
            _md5_block(m.h, m.blk)
            fill = 0


cdef void _md5_hex(xdpfw_tls_md5 *m, uint8_t *out) noexcept nogil:
    """Finish (the state is spent) and write the digest as 32 lower-case hex digits."""
    cdef uint8_t pad[72]
    cdef uint64_t bits = <uint64_t>m.len * 8
    cdef uint32_t fill = m.len & 63, padn = 1 + ((55 - fill) & 63), i
    pad[0] = 0x80
    for i in range(1, padn):
        pad[i] = 0
    for i in range(8):
        pad[padn + i] = <uint8_t>(bits >> (8 * i))
    _md5_update(m, pad, padn + 8)
    for i in range(16):
        out[2 * i] = xdpfw_tls_hexl[(m.h[i >> 2] >> (8 * (i & 3) + 4)) & 15]
        out[2 * i + 1] = xdpfw_tls_hexl[(m.h[i >> 2] >> (8 * (i & 3))) & 15]


# ---- hot path: reporting ------------------------------------------------------------

cdef inline void _event(tctx *c, uint32_t ev) noexcept nogil:
    c.sink.event(c.sink.ctx, XDPFW_APP_TLS, ev)


cdef void _piece(tctx *c, uint32_t buf, const uint8_t *p, uint32_t n, uint32_t fl) noexcept nogil:
    cdef uint8_t bit = <uint8_t>(1 << (buf - XDPFW_BUF_TLS_SNI))
    if not c.d.open & bit:
        fl |= XDPFW_APP_START
        c.d.open |= bit
    if fl & XDPFW_APP_END:
        c.d.open &= ~bit
    if buf == XDPFW_BUF_JA3_STRING:
        _md5_update(&c.s.ch.md5, p, n)
    elif buf == XDPFW_BUF_JA3S_STRING:
        _md5_update(&c.s.tc.sh.md5, p, n)
    c.sink.data(c.sink.ctx, buf, p, n, fl)


cdef void _flush(tctx *c, uint32_t fl) noexcept nogil:
    if c.plen:
        _piece(c, c.pbuf, c.scratch, c.plen, fl)
        c.plen = 0


cdef void _text(tctx *c, uint32_t buf, const uint8_t *p, uint32_t n) noexcept nogil:
    """Rendered text of buffer buf, through the scratch array."""
    cdef uint32_t i
    if c.plen and c.pbuf != buf:
        _flush(c, 0)
    c.pbuf = buf
    for i in range(n):
        if c.plen == SCRATCH:
            _flush(c, 0)
        c.scratch[c.plen] = p[i]
        c.plen += 1


cdef void _data(tctx *c, uint32_t buf, const uint8_t *p, uint32_t n) noexcept nogil:
    """Bytes of buffer buf straight from the input."""
    _flush(c, 0)
    if n:
        _piece(c, buf, p, n, 0)


cdef void _end(tctx *c, uint32_t buf) noexcept nogil:
    """The instance of buf is complete (an empty one if nothing was reported)."""
    if c.plen and c.pbuf == buf:
        _flush(c, XDPFW_APP_END)
    else:
        _flush(c, 0)
        _piece(c, buf, c.scratch, 0, XDPFW_APP_END)


cdef void _abort(tctx *c, uint32_t buf) noexcept nogil:
    """End the instance of buf as it is, if one was begun."""
    if c.plen and c.pbuf == buf:
        _flush(c, XDPFW_APP_END)
    elif c.d.open & (1 << (buf - XDPFW_BUF_TLS_SNI)):
        _piece(c, buf, c.scratch, 0, XDPFW_APP_END)


cdef void _abort_all(tctx *c) noexcept nogil:
    cdef uint32_t buf
    for buf in range(XDPFW_BUF_TLS_SNI, XDPFW_BUF_JA3S_STRING + 1):
        _abort(c, buf)
    _chain_abort(c)


cdef void _num(tctx *c, uint32_t buf, uint32_t v) noexcept nogil:
    cdef uint8_t tmp[10]
    cdef int k = 10
    while True:
        k -= 1
        tmp[k] = <uint8_t>(48 + v % 10)
        v = v // 10
        if v == 0:
            break
    _text(c, buf, tmp + k, 10 - k)


cdef void _hash_out(tctx *c, xdpfw_tls_md5 *m, uint32_t buf) noexcept nogil:
    cdef uint8_t hexd[32]
    _md5_hex(m, hexd)
    _flush(c, 0)
    _piece(c, buf, hexd, 32, XDPFW_APP_END)


cdef inline bint _grease(uint32_t v) noexcept nogil:
    # RFC 8701: 0x0a0a, 0x1a1a, ... 0xfafa
    return (v & 0x0f0f) == 0x0a0a and (v >> 8) == (v & 0xff)


cdef void _list_item(tctx *c, uint32_t buf, uint8_t *flags, uint32_t v) noexcept nogil:
    if flags[0] & XDPFW_TLS_H_LISTED:
        _text(c, buf, <const uint8_t *>"-", 1)
    flags[0] |= XDPFW_TLS_H_LISTED
    _num(c, buf, v)


# ---- hot path: ClientHello ----------------------------------------------------------

cdef void _ch_go(xdpfw_tls_ch *h, uint8_t ph) noexcept nogil:
    h.phase = ph
    h.acc = 0
    h.need = 1 if (ph == CH_SIDLEN or ph == CH_COMPLEN or ph == CH_SNITYPE or ph == CH_PTLEN
                   or ph == CH_PT) else 2


cdef inline void _ch_skip(xdpfw_tls_ch *h, uint8_t ph, uint32_t mark) noexcept nogil:
    h.phase = ph
    h.mark = mark


cdef void _ch_fail(tctx *c, xdpfw_tls_ch *h, uint32_t ev) noexcept nogil:
    if ev != NO_EVENT:
        _event(c, ev)
    _abort(c, XDPFW_BUF_TLS_SNI)
    _abort(c, XDPFW_BUF_JA3_STRING)
    h.flags |= XDPFW_TLS_H_FAILED
    _ch_skip(h, CH_TAIL, c.d.hs_len)


cdef void _ja3_finish(tctx *c, xdpfw_tls_ch *h) noexcept nogil:
    cdef uint32_t i
    _text(c, XDPFW_BUF_JA3_STRING, <const uint8_t *>",", 1)
    for i in range(h.ngroups):
        if i:
            _text(c, XDPFW_BUF_JA3_STRING, <const uint8_t *>"-", 1)
        _num(c, XDPFW_BUF_JA3_STRING, h.groups[i])
    _text(c, XDPFW_BUF_JA3_STRING, <const uint8_t *>",", 1)
    for i in range(h.npoints):
        if i:
            _text(c, XDPFW_BUF_JA3_STRING, <const uint8_t *>"-", 1)
        _num(c, XDPFW_BUF_JA3_STRING, h.points[i])
    _end(c, XDPFW_BUF_JA3_STRING)
    _hash_out(c, &h.md5, XDPFW_BUF_JA3_HASH)
    _ch_skip(h, CH_TAIL, c.d.hs_len)


cdef void _ch_ext_next(tctx *c, xdpfw_tls_ch *h) noexcept nogil:
    cdef uint32_t pos = c.d.hs_pos
    if pos == h.ext_block_end:
        _ja3_finish(c, h)
    elif h.ext_block_end - pos < 4:
        _ch_fail(c, h, XDPFW_TLS_EV_HANDSHAKE_INVALID_LENGTH)
    else:
        _ch_go(h, CH_EXTTYPE)


cdef inline void _ch_skip_ext(xdpfw_tls_ch *h) noexcept nogil:
    _ch_skip(h, CH_EXTSKIP, h.ext_end)


cdef void _ch_mark(tctx *c, xdpfw_tls_ch *h) noexcept nogil:
    """A to-mark phase reached its mark."""
    cdef uint8_t ph = h.phase
    if ph == CH_RANDOM:
        _ch_go(h, CH_SIDLEN)
    elif ph == CH_SID:
        _ch_go(h, CH_CSLEN)
    elif ph == CH_COMP:
        if c.d.hs_pos == c.d.hs_len:  # no extensions
            _ja3_finish(c, h)
        else:
            _ch_go(h, CH_EXTLEN)
    elif ph == CH_SNI:
        _end(c, XDPFW_BUF_TLS_SNI)
        _ch_skip_ext(h)
    elif ph == CH_EXTSKIP:
        _ch_ext_next(c, h)


cdef void _ch_settle(tctx *c, xdpfw_tls_ch *h) noexcept nogil:
    while h.phase < CH_INT and h.phase != CH_TAIL and c.d.hs_pos == h.mark:
        _ch_mark(c, h)


cdef void _ch_int(tctx *c, xdpfw_tls_ch *h) noexcept nogil:
    """An integer field is complete (h.acc); the position is just after it."""
    cdef uint32_t v = h.acc, pos = c.d.hs_pos, e
    cdef uint8_t ph = h.phase
    if ph == CH_VER:
        _num(c, XDPFW_BUF_JA3_STRING, v)
        _text(c, XDPFW_BUF_JA3_STRING, <const uint8_t *>",", 1)
        _ch_skip(h, CH_RANDOM, pos + 32)
    elif ph == CH_SIDLEN:
        if v > c.d.hs_len - pos:
            _ch_fail(c, h, XDPFW_TLS_EV_HANDSHAKE_INVALID_LENGTH)
        else:
            _ch_skip(h, CH_SID, pos + v)
    elif ph == CH_CSLEN:
        if v > c.d.hs_len - pos or v & 1:
            _ch_fail(c, h, XDPFW_TLS_EV_HANDSHAKE_INVALID_LENGTH)
        else:
            h.list_end = pos + v
            h.flags &= ~XDPFW_TLS_H_LISTED
            if v:
                _ch_go(h, CH_CS)
            else:
                _text(c, XDPFW_BUF_JA3_STRING, <const uint8_t *>",", 1)
                _ch_go(h, CH_COMPLEN)
    elif ph == CH_CS:
        if not _grease(v):
            _list_item(c, XDPFW_BUF_JA3_STRING, &h.flags, v)
        if pos == h.list_end:
            _text(c, XDPFW_BUF_JA3_STRING, <const uint8_t *>",", 1)
            _ch_go(h, CH_COMPLEN)
        else:
            _ch_go(h, CH_CS)
    elif ph == CH_COMPLEN:
        if v > c.d.hs_len - pos:
            _ch_fail(c, h, XDPFW_TLS_EV_HANDSHAKE_INVALID_LENGTH)
        else:
            _ch_skip(h, CH_COMP, pos + v)
    elif ph == CH_EXTLEN:
        if v > c.d.hs_len - pos:
            _ch_fail(c, h, XDPFW_TLS_EV_HANDSHAKE_INVALID_LENGTH)
        else:
            h.ext_block_end = pos + v
            h.flags &= ~XDPFW_TLS_H_LISTED
            _ch_ext_next(c, h)
    elif ph == CH_EXTTYPE:
        h.ext_type = <uint16_t>v
        if not _grease(v):
            _list_item(c, XDPFW_BUF_JA3_STRING, &h.flags, v)
        _ch_go(h, CH_EXTLEN2)
    elif ph == CH_EXTLEN2:
        if v > h.ext_block_end - pos:
            _ch_fail(c, h, XDPFW_TLS_EV_HANDSHAKE_INVALID_LENGTH)
            return
        h.ext_end = pos + v
        if h.ext_type == 0:  # server_name
            if h.flags & XDPFW_TLS_H_SNI_SEEN:
                _event(c, XDPFW_TLS_EV_MULTIPLE_SNI_EXTENSIONS)
                _ch_skip_ext(h)
            elif v < 2:
                h.flags |= XDPFW_TLS_H_SNI_SEEN
                _event(c, XDPFW_TLS_EV_INVALID_SNI_LENGTH)
                _ch_skip_ext(h)
            else:
                h.flags |= XDPFW_TLS_H_SNI_SEEN
                _ch_go(h, CH_SNILISTLEN)
        elif h.ext_type == 10 and v >= 2:  # supported_groups
            _ch_go(h, CH_GRPLEN)
        elif h.ext_type == 11 and v >= 1:  # ec_point_formats
            _ch_go(h, CH_PTLEN)
        else:
            _ch_skip_ext(h)
    elif ph == CH_SNILISTLEN:
        if v > h.ext_end - pos or v < 3:
            _event(c, XDPFW_TLS_EV_INVALID_SNI_LENGTH)
            _ch_skip_ext(h)
        else:
            h.list_end = pos + v
            _ch_go(h, CH_SNITYPE)
    elif ph == CH_SNITYPE:
        if v != 0:
            _event(c, XDPFW_TLS_EV_INVALID_SNI_TYPE)
            _ch_skip_ext(h)
        elif h.list_end - pos < 2:
            _event(c, XDPFW_TLS_EV_INVALID_SNI_LENGTH)
            _ch_skip_ext(h)
        else:
            _ch_go(h, CH_SNILEN)
    elif ph == CH_SNILEN:
        if v == 0 or v > XDPFW_TLS_SNI_MAX or v > h.list_end - pos:
            _event(c, XDPFW_TLS_EV_INVALID_SNI_LENGTH)
            _ch_skip_ext(h)
        else:
            _ch_skip(h, CH_SNI, pos + v)
    elif ph == CH_GRPLEN:
        if v > h.ext_end - pos:
            _event(c, XDPFW_TLS_EV_HANDSHAKE_INVALID_LENGTH)
            _ch_skip_ext(h)
        else:
            h.list_end = pos + v
            if h.list_end - pos >= 2:
                _ch_go(h, CH_GRP)
            else:
                _ch_skip_ext(h)
    elif ph == CH_GRP:
        if not _grease(v):
            if h.ngroups < XDPFW_TLS_JA3_GROUPS:
                h.groups[h.ngroups] = <uint16_t>v
                h.ngroups += 1
            elif not h.flags & XDPFW_TLS_H_CAPPED:
                h.flags |= XDPFW_TLS_H_CAPPED
                _event(c, XDPFW_TLS_EV_JA3_TRUNCATED)
        if h.list_end - pos >= 2:
            _ch_go(h, CH_GRP)
        else:
            _ch_skip_ext(h)
    elif ph == CH_PTLEN:
        if v > h.ext_end - pos:
            _event(c, XDPFW_TLS_EV_HANDSHAKE_INVALID_LENGTH)
            _ch_skip_ext(h)
        else:
            h.list_end = pos + v
            if v:
                _ch_go(h, CH_PT)
            else:
                _ch_skip_ext(h)
    elif ph == CH_PT:
        if h.npoints < XDPFW_TLS_JA3_POINTS:
            h.points[h.npoints] = <uint8_t>v
            h.npoints += 1
        elif not h.flags & XDPFW_TLS_H_CAPPED:
            h.flags |= XDPFW_TLS_H_CAPPED
            _event(c, XDPFW_TLS_EV_JA3_TRUNCATED)
        if pos < h.list_end:
            _ch_go(h, CH_PT)
        else:
            _ch_skip_ext(h)


cdef void _ch_bytes(tctx *c, const uint8_t *p, uint32_t n) noexcept nogil:
    cdef xdpfw_tls_ch *h = &c.s.ch
    cdef uint32_t i = 0, k
    while i < n:
        if h.phase >= CH_INT:
            h.acc = (h.acc << 8) | p[i]
            i += 1
            c.d.hs_pos += 1
            h.need -= 1
            if h.need == 0:
                _ch_int(c, h)
        else:
            k = h.mark - c.d.hs_pos
            if k > n - i:
                k = n - i
            if h.phase == CH_SNI:
                _data(c, XDPFW_BUF_TLS_SNI, p + i, k)
            i += k
            c.d.hs_pos += k
        _ch_settle(c, h)


cdef void _ch_init(tctx *c) noexcept nogil:
    cdef xdpfw_tls_ch *h = &c.s.ch
    _md5_init(&h.md5)
    h.flags = 0
    h.ngroups = 0
    h.npoints = 0
    _ch_go(h, CH_VER)


cdef void _ch_end(tctx *c) noexcept nogil:
    if c.s.ch.phase != CH_TAIL:
        _ch_fail(c, &c.s.ch, XDPFW_TLS_EV_HANDSHAKE_INVALID_LENGTH)


# ---- hot path: ServerHello ----------------------------------------------------------

cdef void _sh_go(xdpfw_tls_sh *h, uint8_t ph) noexcept nogil:
    h.phase = ph
    h.acc = 0
    h.need = 1 if (ph == SH_SIDLEN or ph == SH_COMP) else 2


cdef void _sh_fail(tctx *c, xdpfw_tls_sh *h) noexcept nogil:
    _event(c, XDPFW_TLS_EV_HANDSHAKE_INVALID_LENGTH)
    _abort(c, XDPFW_BUF_JA3S_STRING)
    h.flags |= XDPFW_TLS_H_FAILED
    h.phase = SH_TAIL
    h.mark = c.d.hs_len


cdef void _sh_finish(tctx *c, xdpfw_tls_sh *h) noexcept nogil:
    _end(c, XDPFW_BUF_JA3S_STRING)
    _hash_out(c, &h.md5, XDPFW_BUF_JA3S_HASH)
    h.phase = SH_TAIL
    h.mark = c.d.hs_len


cdef void _sh_ext_next(tctx *c, xdpfw_tls_sh *h) noexcept nogil:
    cdef uint32_t pos = c.d.hs_pos
    if pos == h.ext_block_end:
        _sh_finish(c, h)
    elif h.ext_block_end - pos < 4:
        _sh_fail(c, h)
    else:
        _sh_go(h, SH_EXTTYPE)


cdef void _sh_settle(tctx *c, xdpfw_tls_sh *h) noexcept nogil:
    while h.phase < SH_INT and h.phase != SH_TAIL and c.d.hs_pos == h.mark:
        if h.phase == SH_RANDOM:
            _sh_go(h, SH_SIDLEN)
        elif h.phase == SH_SID:
            _sh_go(h, SH_CIPHER)
        else:  # SH_EXTSKIP
            _sh_ext_next(c, h)


cdef void _sh_int(tctx *c, xdpfw_tls_sh *h) noexcept nogil:
    cdef uint32_t v = h.acc, pos = c.d.hs_pos
    cdef uint8_t ph = h.phase
    if ph == SH_VER:
        _num(c, XDPFW_BUF_JA3S_STRING, v)
        _text(c, XDPFW_BUF_JA3S_STRING, <const uint8_t *>",", 1)
        h.phase = SH_RANDOM
        h.mark = pos + 32
    elif ph == SH_SIDLEN:
        if v > c.d.hs_len - pos:
            _sh_fail(c, h)
        else:
            h.phase = SH_SID
            h.mark = pos + v
    elif ph == SH_CIPHER:
        _num(c, XDPFW_BUF_JA3S_STRING, v)
        _text(c, XDPFW_BUF_JA3S_STRING, <const uint8_t *>",", 1)
        _sh_go(h, SH_COMP)
    elif ph == SH_COMP:
        if pos == c.d.hs_len:  # no extensions
            _sh_finish(c, h)
        else:
            _sh_go(h, SH_EXTLEN)
    elif ph == SH_EXTLEN:
        if v > c.d.hs_len - pos:
            _sh_fail(c, h)
        else:
            h.ext_block_end = pos + v
            h.flags &= ~XDPFW_TLS_H_LISTED
            _sh_ext_next(c, h)
    elif ph == SH_EXTTYPE:
        if not _grease(v):
            _list_item(c, XDPFW_BUF_JA3S_STRING, &h.flags, v)
        _sh_go(h, SH_EXTLEN2)
    elif ph == SH_EXTLEN2:
        if v > h.ext_block_end - pos:
            _sh_fail(c, h)
        else:
            h.phase = SH_EXTSKIP
            h.mark = pos + v


cdef void _sh_bytes(tctx *c, const uint8_t *p, uint32_t n) noexcept nogil:
    cdef xdpfw_tls_sh *h = &c.s.tc.sh
    cdef uint32_t i = 0, k
    while i < n:
        if h.phase >= SH_INT:
            h.acc = (h.acc << 8) | p[i]
            i += 1
            c.d.hs_pos += 1
            h.need -= 1
            if h.need == 0:
                _sh_int(c, h)
        else:
            k = h.mark - c.d.hs_pos
            if k > n - i:
                k = n - i
            i += k
            c.d.hs_pos += k
        _sh_settle(c, h)


cdef void _sh_init(tctx *c) noexcept nogil:
    cdef xdpfw_tls_sh *h = &c.s.tc.sh
    _md5_init(&h.md5)
    h.flags = 0
    _sh_go(h, SH_VER)


cdef void _sh_end(tctx *c) noexcept nogil:
    if c.s.tc.sh.phase != SH_TAIL:
        _sh_fail(c, &c.s.tc.sh)


# ---- hot path: Certificate (the leaf's DER) -----------------------------------------

cdef inline uint32_t _ct_namebuf(const xdpfw_tls_cert *ct) noexcept nogil:
    return XDPFW_BUF_TLS_CERT_ISSUER if ct.flags & XDPFW_TLS_C_ISSUER else XDPFW_BUF_TLS_CERT_SUBJECT


cdef uint32_t _ct_parent(const xdpfw_tls_cert *ct) noexcept nogil:
    """Where the element expected in the current slot must end."""
    cdef uint8_t sl = ct.slot
    if sl == S_CERT:
        return ct.cert_end
    if sl == S_TBS:
        return ct.seq_end
    if sl == S_RDN:
        return ct.name_end
    if sl == S_ATV:
        return ct.rdn_end
    if sl == S_OID or sl == S_VALUE:
        return ct.atv_end
    return ct.tbs_end


cdef void _ct_fail(tctx *c, xdpfw_tls_cert *ct, uint32_t ev) noexcept nogil:
    _event(c, ev)
    _abort(c, XDPFW_BUF_TLS_CERT_SERIAL)
    _abort(c, XDPFW_BUF_TLS_CERT_ISSUER)
    _abort(c, XDPFW_BUF_TLS_CERT_SUBJECT)
    ct.phase = CT_TAIL


cdef inline bint _der_string(uint8_t tag) noexcept nogil:
    # universal primitive string types: ObjectDescriptor, UTF8, Numeric, Printable, T61,
    # Videotex, IA5, Graphic, Visible, General, BMP
    return (tag == 0x07 or tag == 0x0C or (0x12 <= tag <= 0x16) or (0x19 <= tag <= 0x1B)
            or tag == 0x1E)


cdef bint _oid_is(const xdpfw_tls_cert *ct, const uint8_t *oid, uint32_t n) noexcept nogil:
    cdef uint32_t i
    if ct.oid_len != n:
        return False
    for i in range(n):
        if ct.oid[i] != oid[i]:
            return False
    return True


cdef bint _oid_dotted(tctx *c, uint32_t buf, const xdpfw_tls_cert *ct) noexcept nogil:
    """Render the OID as dotted decimal; False if it cannot be (too long, cut, an arc
    past 56 bits)."""
    cdef uint64_t arc = 0
    cdef uint32_t i, groups = 0
    cdef bint first = True
    if ct.oid_len == 0 or ct.oid_len > XDPFW_TLS_OID_MAX or ct.oid[ct.oid_len - 1] & 0x80:
        return False
    for i in range(ct.oid_len):  # validate before writing anything
        groups += 1
        if groups > 8:
            return False
        if not ct.oid[i] & 0x80:
            groups = 0
    for i in range(ct.oid_len):
        arc = (arc << 7) | (ct.oid[i] & 0x7F)
        if ct.oid[i] & 0x80:
            continue
        if first:
            first = False
            if arc < 40:
                _text(c, buf, <const uint8_t *>"0.", 2)
            elif arc < 80:
                _text(c, buf, <const uint8_t *>"1.", 2)
                arc -= 40
            else:
                _text(c, buf, <const uint8_t *>"2.", 2)
                arc -= 80
        else:
            _text(c, buf, <const uint8_t *>".", 1)
        _u64(c, buf, arc)
        arc = 0
    return True


cdef void _u64(tctx *c, uint32_t buf, uint64_t v) noexcept nogil:
    cdef uint8_t tmp[20]
    cdef int k = 20
    while True:
        k -= 1
        tmp[k] = <uint8_t>(48 + v % 10)
        v = v // 10
        if v == 0:
            break
    _text(c, buf, tmp + k, 20 - k)


cdef void _ct_attr(tctx *c, xdpfw_tls_cert *ct) noexcept nogil:
    """The attribute's OID is complete: its separator, name and '='."""
    cdef uint32_t buf = _ct_namebuf(ct)
    cdef const char *name = NULL
    cdef uint32_t nlen = 2
    cdef uint8_t t
    if ct.flags & XDPFW_TLS_C_RDN_ANY:
        _text(c, buf, <const uint8_t *>" + ", 3)
    elif ct.flags & XDPFW_TLS_C_NAME_ANY:
        _text(c, buf, <const uint8_t *>", ", 2)
    ct.flags |= XDPFW_TLS_C_RDN_ANY | XDPFW_TLS_C_NAME_ANY
    if ct.oid_len == 3 and ct.oid[0] == 0x55 and ct.oid[1] == 0x04:
        t = ct.oid[2]
        if t == 3:
            name = "CN"
        elif t == 6:
            name, nlen = "C", 1
        elif t == 7:
            name, nlen = "L", 1
        elif t == 8:
            name = "ST"
        elif t == 10:
            name, nlen = "O", 1
        elif t == 11:
            name = "OU"
    elif _oid_is(ct, xdpfw_tls_oid_dc, 10):
        name = "DC"
    elif _oid_is(ct, xdpfw_tls_oid_email, 9):
        name, nlen = "Email", 5
    if name != NULL:
        _text(c, buf, <const uint8_t *>name, nlen)
    elif not _oid_dotted(c, buf, ct):
        _event(c, XDPFW_TLS_EV_CERTIFICATE_UNKNOWN_ELEMENT)
        _text(c, buf, <const uint8_t *>"UNKNOWN", 7)
    _text(c, buf, <const uint8_t *>"=", 1)


cdef void _ct_settle(tctx *c, xdpfw_tls_cert *ct) noexcept nogil:
    """Complete what ended at the current position: elements read to their end, RDNs and
    names closed by their end, the element expected next checked to be there."""
    cdef uint32_t pos
    cdef uint8_t ph
    while True:
        ph = ct.phase
        pos = c.d.hs_pos
        if ph == CT_TAIL:
            return
        if ph < CT_INT:
            if pos != ct.el_end:
                return
            if ph == CT_SERIAL:
                _end(c, XDPFW_BUF_TLS_CERT_SERIAL)
                ct.slot = S_SIGALG
            elif ph == CT_OID:
                _ct_attr(c, ct)
                ct.slot = S_VALUE
            elif ph == CT_VALUE:  # skip whatever else the attribute holds
                ct.el_end = ct.atv_end
                ct.slot = S_ATV
                ct.phase = CT_SKIP
                continue
            ct.phase = CT_TAG
            continue
        if ph != CT_TAG:
            return
        if ct.slot == S_ATV and pos == ct.rdn_end:
            ct.slot = S_RDN
            continue
        if ct.slot == S_RDN and pos == ct.name_end:
            _end(c, _ct_namebuf(ct))
            ct.slot = S_VALIDITY if ct.flags & XDPFW_TLS_C_ISSUER else S_DONE
            continue
        if ct.slot == S_DONE:
            ct.phase = CT_TAIL
            return
        if pos >= _ct_parent(ct):
            _ct_fail(c, ct, XDPFW_TLS_EV_CERTIFICATE_MISSING_ELEMENT)
        return


cdef void _ct_elem(tctx *c, xdpfw_tls_cert *ct, uint32_t length) noexcept nogil:
    """A DER header (ct.tag, length) is complete; the position is at its content."""
    cdef uint32_t pos = c.d.hs_pos, pe = _ct_parent(ct), e
    cdef uint8_t t = ct.tag, sl = ct.slot
    if pos > pe or length > pe - pos:
        _ct_fail(c, ct, XDPFW_TLS_EV_CERTIFICATE_INVALID_LENGTH)
        return
    e = pos + length
    ct.phase = CT_TAG
    if sl == S_CERT and t == 0x30:
        ct.seq_end = e
        ct.slot = S_TBS
    elif sl == S_TBS and t == 0x30:
        ct.tbs_end = e
        ct.slot = S_VERSION
    elif sl == S_VERSION and t == 0xA0:
        ct.el_end = e
        ct.slot = S_SERIAL
        ct.phase = CT_SKIP
    elif (sl == S_VERSION or sl == S_SERIAL) and t == 0x02:
        if length == 0:
            _ct_fail(c, ct, XDPFW_TLS_EV_INVALID_CERTIFICATE)
            return
        ct.el_end = e
        ct.flags &= ~XDPFW_TLS_C_SERIAL_ANY
        ct.phase = CT_SERIAL
    elif sl == S_SIGALG and t == 0x30:
        ct.el_end = e
        ct.slot = S_ISSUER
        ct.phase = CT_SKIP
    elif sl == S_VALIDITY and t == 0x30:
        ct.el_end = e
        ct.slot = S_SUBJECT
        ct.phase = CT_SKIP
    elif (sl == S_ISSUER or sl == S_SUBJECT) and t == 0x30:
        ct.name_end = e
        ct.flags &= ~(XDPFW_TLS_C_ISSUER | XDPFW_TLS_C_NAME_ANY)
        if sl == S_ISSUER:
            ct.flags |= XDPFW_TLS_C_ISSUER
        ct.slot = S_RDN
    elif sl == S_RDN and t == 0x31:
        ct.rdn_end = e
        ct.flags &= ~XDPFW_TLS_C_RDN_ANY
        ct.slot = S_ATV
    elif sl == S_ATV and t == 0x30:
        ct.atv_end = e
        ct.slot = S_OID
    elif sl == S_OID and t == 0x06:
        ct.el_end = e
        ct.oid_len = 0
        ct.phase = CT_OID
    elif sl == S_VALUE:
        ct.el_end = e
        if _der_string(t):
            ct.flags |= XDPFW_TLS_C_STRING
        else:
            ct.flags &= ~XDPFW_TLS_C_STRING
        ct.phase = CT_VALUE
    else:
        _ct_fail(c, ct, XDPFW_TLS_EV_INVALID_CERTIFICATE)


cdef void _ct_byte(tctx *c, xdpfw_tls_cert *ct, uint8_t b) noexcept nogil:
    cdef uint8_t ph = ct.phase
    cdef uint32_t v, pos = c.d.hs_pos
    if ph == CT_LISTLEN or ph == CT_CERTLEN or ph == CT_LENX:
        ct.acc = (ct.acc << 8) | b
        ct.need -= 1
        if ct.need:
            return
        v = ct.acc
        if ph == CT_LENX:
            _ct_elem(c, ct, v)
        elif ph == CT_LISTLEN:
            if v > c.d.hs_len - pos:
                _ct_fail(c, ct, XDPFW_TLS_EV_HANDSHAKE_INVALID_LENGTH)
            elif v == 0:
                ct.phase = CT_TAIL
            else:
                ct.list_end = pos + v
                ct.phase = CT_CERTLEN
                ct.need = 3
                ct.acc = 0
        else:  # CT_CERTLEN: the leaf (its length field may itself pass the list's end)
            if pos > ct.list_end or v > ct.list_end - pos:
                _ct_fail(c, ct, XDPFW_TLS_EV_HANDSHAKE_INVALID_LENGTH)
            elif v == 0:
                _ct_fail(c, ct, XDPFW_TLS_EV_INVALID_CERTIFICATE)
            else:
                ct.cert_end = pos + v
                ct.slot = S_CERT
                ct.phase = CT_TAG
    elif ph == CT_TAG:
        if (b & 0x1F) == 0x1F:  # high tag numbers: not in a certificate
            _ct_fail(c, ct, XDPFW_TLS_EV_INVALID_CERTIFICATE)
        else:
            ct.tag = b
            ct.phase = CT_LEN
    else:  # CT_LEN
        if b < 0x80:
            _ct_elem(c, ct, b)
        elif b == 0x80 or b > 0x84:  # indefinite (not DER), or past 32 bits
            _ct_fail(c, ct, XDPFW_TLS_EV_CERTIFICATE_INVALID_LENGTH)
        else:
            ct.need = b & 0x7F
            ct.acc = 0
            ct.phase = CT_LENX


cdef void _ct_run(tctx *c, xdpfw_tls_cert *ct, const uint8_t *p, uint32_t k) noexcept nogil:
    """k content bytes of the element being read (CT_SERIAL, CT_OID, CT_VALUE)."""
    cdef uint32_t i, buf
    cdef uint8_t two[2]
    if ct.phase == CT_SERIAL:
        for i in range(k):
            if ct.flags & XDPFW_TLS_C_SERIAL_ANY:
                _text(c, XDPFW_BUF_TLS_CERT_SERIAL, <const uint8_t *>":", 1)
            ct.flags |= XDPFW_TLS_C_SERIAL_ANY
            two[0] = xdpfw_tls_hexu[p[i] >> 4]
            two[1] = xdpfw_tls_hexu[p[i] & 15]
            _text(c, XDPFW_BUF_TLS_CERT_SERIAL, two, 2)
    elif ct.phase == CT_OID:
        for i in range(k):
            if ct.oid_len < XDPFW_TLS_OID_MAX:
                ct.oid[ct.oid_len] = p[i]
            if ct.oid_len < 255:
                ct.oid_len += 1
    elif ct.phase == CT_VALUE:
        buf = _ct_namebuf(ct)
        if ct.flags & XDPFW_TLS_C_STRING:
            _data(c, buf, p, k)
        else:
            for i in range(k):
                two[0] = xdpfw_tls_hexu[p[i] >> 4]
                two[1] = xdpfw_tls_hexu[p[i] & 15]
                _text(c, buf, two, 2)


# ---- hot path: Certificate (the chain, tls.certs) -----------------------------------

cdef void _chain_bytes(tctx *c, xdpfw_tls_cert *ct, const uint8_t *p, uint32_t n,
                       uint32_t pos) noexcept nogil:
    """n bytes of the Certificate message from message offset pos: each certificate of the
    list is one tls.certs instance, its DER bytes straight from the input. Runs after the
    leaf's DER walk has taken the same bytes, so the leaf's instances, which all end
    inside the leaf, complete before the leaf's tls.certs instance whatever the split."""
    cdef uint32_t i = 0, k, v, fl
    cdef uint8_t ph
    while i < n:
        ph = ct.ch_phase
        if ph == XDPFW_TLS_CH_DONE:
            return
        if ph == XDPFW_TLS_CH_CERT:
            k = ct.ch_end - pos
            if k > n - i:
                k = n - i
            fl = 0
            if not ct.flags & XDPFW_TLS_C_CHAIN_OPEN:
                fl = XDPFW_APP_START
                ct.flags |= XDPFW_TLS_C_CHAIN_OPEN
            pos += k
            if pos == ct.ch_end:
                fl |= XDPFW_APP_END
                ct.flags &= ~XDPFW_TLS_C_CHAIN_OPEN
                ct.flags |= XDPFW_TLS_C_CHAIN_LATER
                ct.ch_phase = XDPFW_TLS_CH_DONE if pos == ct.ch_list_end else XDPFW_TLS_CH_CERTLEN
                ct.ch_need = 3
                ct.ch_acc = 0
            _flush(c, 0)
            c.sink.data(c.sink.ctx, XDPFW_BUF_TLS_CERTS, p + i, k, fl)
            i += k
            continue
        ct.ch_acc = (ct.ch_acc << 8) | p[i]
        i += 1
        pos += 1
        ct.ch_need -= 1
        if ct.ch_need:
            continue
        v = ct.ch_acc
        if ph == XDPFW_TLS_CH_LISTLEN:
            # a list past the message is the DER walk's event (handshake_invalid_length)
            if v == 0 or v > c.d.hs_len - pos:
                ct.ch_phase = XDPFW_TLS_CH_DONE
            else:
                ct.ch_list_end = pos + v
                ct.ch_phase = XDPFW_TLS_CH_CERTLEN
                ct.ch_need = 3
                ct.ch_acc = 0
        elif pos > ct.ch_list_end or v > ct.ch_list_end - pos:
            # the leaf's is the DER walk's event; a later one's is the chain's
            if ct.flags & XDPFW_TLS_C_CHAIN_LATER:
                _event(c, XDPFW_TLS_EV_HANDSHAKE_INVALID_LENGTH)
            ct.ch_phase = XDPFW_TLS_CH_DONE
        elif v == 0:  # an empty certificate: no instance (the leaf's is the DER walk's event)
            ct.flags |= XDPFW_TLS_C_CHAIN_LATER
            ct.ch_phase = XDPFW_TLS_CH_DONE if pos == ct.ch_list_end else XDPFW_TLS_CH_CERTLEN
            ct.ch_need = 3
            ct.ch_acc = 0
        else:
            ct.ch_end = pos + v
            ct.ch_phase = XDPFW_TLS_CH_CERT


cdef void _chain_abort(tctx *c) noexcept nogil:
    """End an open tls.certs instance as it is (the message was cut short)."""
    cdef xdpfw_tls_dir *d = c.d
    if d != &c.s.dir[1] or d.hs_type != 11 or not d.flags & XDPFW_TLS_D_PARSING:
        return
    if c.s.tc.cert.flags & XDPFW_TLS_C_CHAIN_OPEN:
        c.s.tc.cert.flags &= ~XDPFW_TLS_C_CHAIN_OPEN
        c.s.tc.cert.ch_phase = XDPFW_TLS_CH_DONE
        _flush(c, 0)
        c.sink.data(c.sink.ctx, XDPFW_BUF_TLS_CERTS, c.scratch, 0, XDPFW_APP_END)


cdef void _ct_bytes(tctx *c, const uint8_t *p, uint32_t n) noexcept nogil:
    cdef xdpfw_tls_cert *ct = &c.s.tc.cert
    cdef uint32_t i = 0, k, e, pos0 = c.d.hs_pos
    while i < n:
        if ct.phase >= CT_INT:
            c.d.hs_pos += 1
            _ct_byte(c, ct, p[i])
            i += 1
        else:
            e = c.d.hs_len if ct.phase == CT_TAIL else ct.el_end
            k = e - c.d.hs_pos
            if k > n - i:
                k = n - i
            if ct.phase != CT_SKIP and ct.phase != CT_TAIL:
                _ct_run(c, ct, p + i, k)
            i += k
            c.d.hs_pos += k
        _ct_settle(c, ct)
    _chain_bytes(c, ct, p, n, pos0)


cdef void _ct_init(tctx *c) noexcept nogil:
    cdef xdpfw_tls_cert *ct = &c.s.tc.cert
    ct.flags = 0
    ct.phase = CT_LISTLEN
    ct.need = 3
    ct.acc = 0
    ct.ch_phase = XDPFW_TLS_CH_LISTLEN
    ct.ch_need = 3
    ct.ch_acc = 0


cdef void _ct_end(tctx *c) noexcept nogil:
    if c.s.tc.cert.phase != CT_TAIL:
        _ct_fail(c, &c.s.tc.cert, XDPFW_TLS_EV_HANDSHAKE_INVALID_LENGTH)


# ---- hot path: handshake and record layers ------------------------------------------

cdef inline bint _hs_known(uint8_t t) noexcept nogil:
    # RFC 5246, 8446, 6066, 4680, 8879 handshake types
    return (t <= 6 or t == 8 or (11 <= t <= 16) or (20 <= t <= 25) or t == 254)


cdef void _hs_start(tctx *c, int direction) noexcept nogil:
    cdef xdpfw_tls_dir *d = c.d
    cdef uint8_t t = d.hs_type
    cdef bint to_server = direction == XDPFW_DIR_TOSERVER
    d.hs_phase = HS_BODY
    d.hs_pos = 0
    d.flags &= ~XDPFW_TLS_D_PARSING
    if (t == 1 and not to_server) or (t == 2 and to_server) or not _hs_known(t):
        _event(c, XDPFW_TLS_EV_INVALID_HANDSHAKE_MESSAGE)
    elif t == 1:
        _ch_init(c)
        d.flags |= XDPFW_TLS_D_PARSING | XDPFW_TLS_D_HELLO
    elif t == 2:
        _sh_init(c)
        d.flags |= XDPFW_TLS_D_PARSING | XDPFW_TLS_D_HELLO
    elif t == 11 and not to_server:
        _ct_init(c)
        d.flags |= XDPFW_TLS_D_PARSING


cdef void _hs_end(tctx *c) noexcept nogil:
    """The current handshake message's last byte was consumed."""
    cdef xdpfw_tls_dir *d = c.d
    if d.flags & XDPFW_TLS_D_PARSING:
        if d.hs_type == 1:
            _ch_end(c)
        elif d.hs_type == 2:
            _sh_end(c)
        else:
            _ct_end(c)
    d.flags &= ~XDPFW_TLS_D_PARSING
    d.hs_phase = HS_HDR
    d.hs_hpos = 0


cdef inline bint _hs_busy(const xdpfw_tls_dir *d) noexcept nogil:
    return d.hs_phase == HS_BODY or d.hs_hpos != 0


cdef void _hs_abandon(tctx *c) noexcept nogil:
    """The handshake message cannot go on (cut by another record type, or the end)."""
    _abort_all(c)
    c.d.flags &= ~XDPFW_TLS_D_PARSING
    c.d.hs_phase = HS_HDR
    c.d.hs_hpos = 0


cdef void _hs_bytes(tctx *c, int direction, const uint8_t *p, uint32_t n) noexcept nogil:
    cdef xdpfw_tls_dir *d = c.d
    cdef uint32_t i = 0, k
    cdef uint8_t t
    while i < n:
        if d.hs_phase == HS_HDR:
            if d.hs_hpos == 0:
                d.hs_type = p[i]
                d.hs_len = 0
            else:
                d.hs_len = (d.hs_len << 8) | p[i]
            i += 1
            d.hs_hpos += 1
            if d.hs_hpos == 4:
                d.hs_hpos = 0
                _hs_start(c, direction)
                if d.hs_len == 0:
                    _hs_end(c)
            continue
        k = d.hs_len - d.hs_pos
        if k > n - i:
            k = n - i
        if d.flags & XDPFW_TLS_D_PARSING:
            t = d.hs_type
            if t == 1:
                _ch_bytes(c, p + i, k)
            elif t == 2:
                _sh_bytes(c, p + i, k)
            else:
                _ct_bytes(c, p + i, k)
        else:
            d.hs_pos += k
        i += k
        if d.hs_pos == d.hs_len:
            _hs_end(c)


cdef void _die(tctx *c) noexcept nogil:
    _hs_abandon(c)
    c.d.flags |= XDPFW_TLS_D_DEAD


cdef void _rec_start(tctx *c) noexcept nogil:
    """A record header is complete."""
    cdef xdpfw_tls_dir *d = c.d
    cdef uint8_t t = d.rec_type
    if t != CT_HANDSHAKE and not d.flags & XDPFW_TLS_D_ENCRYPTED and _hs_busy(d):
        _event(c, XDPFW_TLS_EV_INVALID_HANDSHAKE_MESSAGE)
        _hs_abandon(c)
    if t == 20 or t == 23:  # ChangeCipherSpec, application data: what follows is encrypted
        d.flags |= XDPFW_TLS_D_ENCRYPTED
    if t == 23 and c.s.dir[0].flags & c.s.dir[1].flags & XDPFW_TLS_D_HELLO and \
            not (c.s.dir[0].flags | c.s.dir[1].flags) & XDPFW_TLS_D_APPDATA:
        # The handshake is over: both hellos were seen (application data before the
        # ServerHello is TLS 1.3 early data, and the handshake still follows in clear; a
        # record-shaped stream without hellos is not TLS to trust). As Suricata, the flow's
        # payload is opaque to content rules from here.
        d.flags |= XDPFW_TLS_D_APPDATA
        if c.sink.control != NULL:
            c.sink.control(c.sink.ctx, XDPFW_APP_CTL_ENCRYPTED)
    elif t == 24:
        _event(c, XDPFW_TLS_EV_HEARTBEAT_MESSAGE)
    if d.rec_left == 0 and (t == 20 or t == 21 or t == CT_HANDSHAKE):
        _event(c, XDPFW_TLS_EV_INVALID_RECORD_LENGTH)
    d.rec_phase = REC_BODY


cdef void _rec_hdr_byte(tctx *c, int direction, uint8_t b) noexcept nogil:
    cdef xdpfw_tls_dir *d = c.d
    cdef uint8_t pos = d.rec_hpos
    d.rec_hpos += 1
    if pos == 0:
        if b & 0x80 and not d.flags & XDPFW_TLS_D_STARTED and direction == XDPFW_DIR_TOSERVER:
            d.rec_type = REC_SSL2  # SSLv2-compatible ClientHello: 2-byte length, then type 1
            d.rec_left = <uint16_t>((b & 0x7F) << 8)
            return
        d.flags |= XDPFW_TLS_D_STARTED
        if b < 20 or b > 24:
            _event(c, XDPFW_TLS_EV_INVALID_RECORD_TYPE)
            _die(c)
            return
        d.rec_type = b
    elif d.rec_type == REC_SSL2:
        if pos == 1:
            d.rec_left |= b
            return
        d.flags |= XDPFW_TLS_D_STARTED
        if b != 1 or d.rec_left == 0:
            _event(c, XDPFW_TLS_EV_INVALID_SSLV2_HEADER)
            _die(c)
            return
        d.rec_left -= 1
        d.rec_hpos = 0
        d.rec_phase = REC_BODY
    elif pos == 1:
        d.rec_ver = <uint16_t>b << 8
    elif pos == 2:
        d.rec_ver |= b
        if d.rec_ver < 0x0300 or d.rec_ver > 0x0304:
            _event(c, XDPFW_TLS_EV_INVALID_RECORD_VERSION)
            _die(c)
    elif pos == 3:
        d.rec_left = <uint16_t>b << 8
    else:
        d.rec_left |= b
        d.rec_hpos = 0
        if d.rec_left > XDPFW_TLS_REC_MAX:
            _event(c, XDPFW_TLS_EV_RECORD_TOO_LONG)
            _die(c)
            return
        _rec_start(c)


cdef inline void _ctx(tctx *c, xdpfw_tls_state *s, int direction, const xdpfw_app_sink *sink) noexcept nogil:
    c.sink = sink
    c.s = s
    c.d = &s.dir[direction & 1]
    c.plen = 0
    c.pbuf = XDPFW_BUF_TLS_SNI


cdef void tls_init(xdpfw_tls_state *s) noexcept nogil:
    memset(s, 0, sizeof(xdpfw_tls_state))


cdef int tls_probe(const uint8_t *p, uint32_t n, int direction, uint32_t flags) noexcept nogil:
    """A TLS record header (type 20-23, version 0x0300-0x0304, length 1 to
    XDPFW_TLS_REC_MAX) from either side, or to the server an SSLv2-compatible
    CLIENT-HELLO (2-byte header, type 1, version 0x0002 or 0x0300-0x0304)."""
    cdef uint32_t ver, length
    if flags & XDPFW_APP_F_DATAGRAM:  # DTLS is not decoded
        return XDPFW_PROBE_NO
    if n < 1:
        return XDPFW_PROBE_MORE
    if p[0] & 0x80:
        if direction != XDPFW_DIR_TOSERVER:
            return XDPFW_PROBE_NO
        if n >= 3 and p[2] != 1:
            return XDPFW_PROBE_NO
        if n < 5:
            return XDPFW_PROBE_MORE
        length = ((<uint32_t>p[0] & 0x7F) << 8) | p[1]
        ver = (<uint32_t>p[3] << 8) | p[4]
        if length < 9 or (ver != 0x0002 and (ver < 0x0300 or ver > 0x0304)):
            return XDPFW_PROBE_NO
        return XDPFW_PROBE_YES
    if p[0] < 20 or p[0] > 23:
        return XDPFW_PROBE_NO
    if n >= 2 and p[1] != 3:
        return XDPFW_PROBE_NO
    if n >= 3 and p[2] > 4:
        return XDPFW_PROBE_NO
    if n < 5:
        return XDPFW_PROBE_MORE
    length = (<uint32_t>p[3] << 8) | p[4]
    if length == 0 or length > XDPFW_TLS_REC_MAX:
        return XDPFW_PROBE_NO
    return XDPFW_PROBE_YES


cdef void tls_feed(xdpfw_tls_state *s, int direction, const uint8_t *p, uint32_t n, uint32_t flags,
                   const xdpfw_app_sink *sink) noexcept nogil:
    cdef tctx c
    cdef xdpfw_tls_dir *d
    cdef uint32_t i = 0, k
    _ctx(&c, s, direction, sink)
    d = c.d
    if d.flags & XDPFW_TLS_D_DEAD or flags & XDPFW_APP_F_DATAGRAM:
        return
    if flags & XDPFW_APP_F_GAP:
        _event(&c, XDPFW_TLS_EV_GAP)
        _die(&c)
        return
    while i < n and not d.flags & XDPFW_TLS_D_DEAD:
        if d.rec_phase == REC_HDR:
            _rec_hdr_byte(&c, direction, p[i])
            i += 1
        else:
            k = d.rec_left
            if k > n - i:
                k = n - i
            if d.rec_type == CT_HANDSHAKE and not d.flags & XDPFW_TLS_D_ENCRYPTED:
                _hs_bytes(&c, direction, p + i, k)
            i += k
            d.rec_left -= <uint16_t>k
        if d.rec_phase == REC_BODY and d.rec_left == 0:
            d.rec_phase = REC_HDR
    _flush(&c, 0)


cdef void tls_end(xdpfw_tls_state *s, int direction, const xdpfw_app_sink *sink) noexcept nogil:
    cdef tctx c
    _ctx(&c, s, direction, sink)
    if c.d.flags & XDPFW_TLS_D_DEAD:
        return
    if not c.d.flags & XDPFW_TLS_D_ENCRYPTED and _hs_busy(c.d):
        _event(&c, XDPFW_TLS_EV_TRUNCATED)
    _die(&c)


# ---- registry entry ---------------------------------------------------------------------

# TLS on any TCP port: a ClientHello record is unmistakable.
cdef xdpfw_app_ops TLS_OPS
xdpfw_app_ops_set(&TLS_OPS, b"tls", XDPFW_APP_TLS, sizeof(xdpfw_tls_state), 0, XDPFW_APP_L4_TCP, 0,
                  XDPFW_APP_BUFFER_MAX, XDPFW_APP_BUFFER_MAX, XDPFW_TLS_EV_MAX, xdpfw_tls_event_names,
                  tls_probe, <xdpfw_app_init_fn>tls_init, <xdpfw_app_feed_fn>tls_feed,
                  <xdpfw_app_end_fn>tls_end)


cdef const xdpfw_app_ops *tls_app_ops() noexcept nogil:
    return &TLS_OPS


# ---- Python side: names, sizes, MD5 for tests ------------------------------------------

if SCRATCH != XDPFW_APP_SCRATCH:
    raise ImportError("app_tls: SCRATCH must equal XDPFW_APP_SCRATCH")

EVENTS = tuple(xdpfw_tls_event_names[i].decode() for i in range(<int>XDPFW_TLS_EV_MAX))
"""Event names by id (xdpfw_app_tls.h)."""
STATE_SIZE = sizeof(xdpfw_tls_state)
DIR_SIZE = sizeof(xdpfw_tls_dir)
CH_SIZE = sizeof(xdpfw_tls_ch)
SH_SIZE = sizeof(xdpfw_tls_sh)
CERT_SIZE = sizeof(xdpfw_tls_cert)
JA3_GROUPS = XDPFW_TLS_JA3_GROUPS
JA3_POINTS = XDPFW_TLS_JA3_POINTS
OID_MAX = XDPFW_TLS_OID_MAX


def md5_hex(data, int split=0):
    """The decoder's MD5 over data (fed in pieces of `split` bytes if > 0): for tests."""
    cdef bytes b = bytes(data)
    cdef xdpfw_tls_md5 m
    cdef uint8_t out[32]
    cdef uint32_t i = 0, n = <uint32_t>len(b), k
    cdef const uint8_t *p = <const uint8_t *>(<const char *>b)
    _md5_init(&m)
    while i < n:
        k = n - i if split <= 0 or <uint32_t>split > n - i else <uint32_t>split
        _md5_update(&m, p + i, k)
        i += k
    _md5_hex(&m, out)
    return (<const char *>out)[:32].decode()
