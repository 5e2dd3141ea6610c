# IPv4 (RFC 791): the header, its options, fragmentation fields; then the upper layer.
# The total length bounds everything after the header: bytes past it are link padding.

# Option types validated (the set Suricata knows); any other type is ipv4.opt_invalid.
cdef enum:
    IPOPT_EOL = 0
    IPOPT_NOP = 1
    IPOPT_QS = 25      # Quick-Start, RFC 4782: length 8
    IPOPT_TS = 68      # timestamp, RFC 791: length >= 4, pointer >= 5
    IPOPT_RR = 7       # record route: length >= 3, pointer >= 4, multiple of 4
    IPOPT_SEC = 130    # security, RFC 1108: length 11
    IPOPT_LSRR = 131
    IPOPT_CIPSO = 134  # CIPSO (draft-ietf-cipso-ipsecurity): length >= 6; tags not walked
    IPOPT_SID = 136    # stream id: length 4
    IPOPT_SSRR = 137
    IPOPT_RTRALT = 148 # router alert, RFC 2113: length 4


cdef inline uint32_t _ipv4_opt_bit(uint8_t t) noexcept nogil:
    # One bit per known option type, to see duplicates; 0 for an unknown type.
    if t == IPOPT_RR:
        return 1 << 0
    if t == IPOPT_TS:
        return 1 << 1
    if t == IPOPT_QS:
        return 1 << 2
    if t == IPOPT_SEC:
        return 1 << 3
    if t == IPOPT_LSRR:
        return 1 << 4
    if t == IPOPT_CIPSO:
        return 1 << 5
    if t == IPOPT_SID:
        return 1 << 6
    if t == IPOPT_SSRR:
        return 1 << 7
    if t == IPOPT_RTRALT:
        return 1 << 8
    return 0


cdef inline void _ipv4_opt_check(const uint8_t *o, uint32_t olen, xdpfw_pkt *pkt) noexcept nogil:
    # One known option, `olen` bytes (>= 2, inside the header), type o[0].
    cdef uint8_t t = o[0]
    cdef uint32_t ptr, rec
    if t == IPOPT_RR or t == IPOPT_LSRR or t == IPOPT_SSRR:
        if olen < 3:
            _event(pkt, XDPFW_EV_IPV4_OPT_INVALID_LEN)
            return
        ptr = o[2]  # 1-based, to the next free 4-byte address slot
        if ptr < 4 or ptr % 4 or ptr > olen + 1:
            _event(pkt, XDPFW_EV_IPV4_OPT_MALFORMED)
    elif t == IPOPT_TS:
        if olen < 4:
            _event(pkt, XDPFW_EV_IPV4_OPT_INVALID_LEN)
            return
        ptr = o[2]
        # flag (low nibble of byte 3): 1 and 3 record address + time, others time only
        rec = 8 if (o[3] & 0x0f) == 1 or (o[3] & 0x0f) == 3 else 4
        if ptr < 5 or (ptr - 5) % rec or ptr > olen + 1:
            _event(pkt, XDPFW_EV_IPV4_OPT_MALFORMED)
    elif ((t == IPOPT_QS and olen != 8) or (t == IPOPT_SEC and olen != 11)
          or (t == IPOPT_CIPSO and olen < 6) or (t == IPOPT_SID and olen != 4)
          or (t == IPOPT_RTRALT and olen != 4)):
        _event(pkt, XDPFW_EV_IPV4_OPT_INVALID_LEN)


cdef inline void _ipv4_options(const uint8_t *o, uint32_t n, xdpfw_pkt *pkt) noexcept nogil:
    # Options are non-fatal: the header length is already known to be sound, so a bad
    # option cannot move L4. A length that breaks the walk ends it.
    cdef uint32_t i = 0, olen, bit, seen = 0
    while i < n:
        if o[i] == IPOPT_EOL:
            break
        if o[i] == IPOPT_NOP:
            i += 1
            continue
        if n - i < 2:
            _event(pkt, XDPFW_EV_IPV4_OPT_EOL_REQUIRED)
            break
        olen = o[i + 1]
        if olen < 2 or olen > n - i:
            _event(pkt, XDPFW_EV_IPV4_OPT_INVALID_LEN)
            break
        bit = _ipv4_opt_bit(o[i])
        if bit == 0:
            _event(pkt, XDPFW_EV_IPV4_OPT_INVALID)
        elif seen & bit:
            _event(pkt, XDPFW_EV_IPV4_OPT_DUPLICATE)
        else:
            seen |= bit
            _ipv4_opt_check(o + i, olen, pkt)
        i += olen


cdef int _decode_ipv4(const uint8_t *frame, uint32_t length, xdpfw_pkt *pkt) noexcept nogil:
    # The header at pkt.l3_off; `length`: where the enclosing data ends (the frame, or the
    # payload of the packet this one is tunnelled in).
    cdef uint32_t off = pkt.l3_off
    cdef uint32_t avail = length - off
    cdef const uint8_t *ip = frame + off
    cdef uint32_t hlen, total, l4_len
    cdef uint16_t fo
    if avail < 20:
        return _fatal(pkt, XDPFW_EV_IPV4_PKT_TOO_SMALL, XDPFW_LAYER_L3)
    if ip[0] >> 4 != 4:
        return _fatal(pkt, XDPFW_EV_IPV4_WRONG_IP_VERSION, XDPFW_LAYER_L3)
    hlen = (ip[0] & 0x0f) * 4
    if hlen < 20:
        return _fatal(pkt, XDPFW_EV_IPV4_HLEN_TOO_SMALL, XDPFW_LAYER_L3)
    total = _be16(ip + 2)
    if total < hlen:
        return _fatal(pkt, XDPFW_EV_IPV4_IPLEN_SMALLER_THAN_HLEN, XDPFW_LAYER_L3)
    if total > avail:  # also covers a header longer than the frame, since total >= hlen
        return _fatal(pkt, XDPFW_EV_IPV4_TRUNC_PKT, XDPFW_LAYER_L3)

    pkt.ip_version = 4
    pkt.tos = ip[1]
    pkt.ip_id = _be16(ip + 4)
    fo = _be16(ip + 6)
    pkt.frag_off = (fo & 0x1fff) * 8
    if fo & 0x8000:
        pkt.ip_flags |= XDPFW_IP_RF
    if fo & 0x4000:
        pkt.ip_flags |= XDPFW_IP_DF
    if fo & 0x2000:
        pkt.ip_flags |= XDPFW_IP_MF
    if pkt.frag_off or fo & 0x2000:
        pkt.ip_flags |= XDPFW_IP_FRAG
    pkt.ttl = ip[8]
    pkt.l4_proto = ip[9]
    # IPv4-mapped IPv6 (::ffff:a.b.c.d, RFC 4291 2.5.5.2): one address layout for both
    # families, so flow hashing and address rules need no branch on the version.
    pkt.src[10] = 0xff
    pkt.src[11] = 0xff
    pkt.dst[10] = 0xff
    pkt.dst[11] = 0xff
    memcpy(&pkt.src[12], ip + 12, 4)  # constant size: one load and store each
    memcpy(&pkt.dst[12], ip + 16, 4)
    if hlen > 20:
        _ipv4_options(ip + 20, hlen - 20, pkt)
    pkt.layers |= XDPFW_LAYER_L3

    l4_len = total - hlen
    if pkt.ip_flags & XDPFW_IP_FRAG:
        # Every fragment but the last carries a multiple of 8 bytes (offsets count
        # 8-byte units); the reassembled datagram must fit the 16-bit total length.
        if pkt.ip_flags & XDPFW_IP_MF and l4_len % 8:
            _event(pkt, XDPFW_EV_IPV4_FRAG_INVALID_LENGTH)
        if pkt.frag_off + hlen + l4_len > 65535:
            _event(pkt, XDPFW_EV_IPV4_FRAG_PKT_TOO_LARGE)
    if pkt.l4_proto == P_ICMPV6:
        _event(pkt, XDPFW_EV_IPV4_WITH_ICMPV6)
    return _decode_l4(frame, off + hlen, l4_len, pkt)
