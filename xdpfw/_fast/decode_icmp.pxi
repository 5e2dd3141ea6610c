# ICMP (RFC 792) and ICMPv6 (RFC 4443): type, code, echo identifier and sequence, and
# for error messages the offset of the quoted IP header (after the 8-byte ICMP header),
# once it is known to hold a whole fixed header of the right version.

cdef inline int _icmpv4_max_code(uint8_t t) noexcept nogil:
    # Highest code defined for a type (IANA "ICMP Parameters"), -1 for an unknown type.
    if t == 0 or t == 4 or t == 8 or t == 10 or (13 <= t <= 18) or t == 42:
        return 0   # echo, source quench, router solicitation, timestamp, info, mask, ext. echo
    if t == 3:
        return 15  # destination unreachable (RFC 792, 1122, 1812)
    if t == 5:
        return 3   # redirect
    if t == 9:
        return 16  # router advertisement: 0 or 16 (RFC 2002), checked by the caller
    if t == 11:
        return 1   # time exceeded
    if t == 12:
        return 2   # parameter problem
    if t == 40:
        return 5   # Photuris (RFC 2521)
    if t == 43:
        return 4   # extended echo reply (RFC 8335)
    return -1


cdef int _decode_icmpv4(const uint8_t *frame, uint32_t off, uint32_t avail, xdpfw_pkt *pkt) noexcept nogil:
    cdef const uint8_t *ic = frame + off
    cdef uint8_t t, c
    cdef int max_code
    if avail < 8:
        return _fatal(pkt, XDPFW_EV_ICMPV4_PKT_TOO_SMALL, XDPFW_LAYER_L4)
    t = ic[0]
    c = ic[1]
    pkt.icmp_type = t
    pkt.icmp_code = c
    max_code = _icmpv4_max_code(t)
    if max_code < 0:
        _event(pkt, XDPFW_EV_ICMPV4_UNKNOWN_TYPE)
    elif c > max_code or (t == 9 and c != 0 and c != 16):
        _event(pkt, XDPFW_EV_ICMPV4_UNKNOWN_CODE)
    if t == 0 or t == 8:
        pkt.icmp_id = _be16(ic + 4)
        pkt.icmp_seq = _be16(ic + 6)
    elif t == 3 or t == 4 or t == 5 or t == 11 or t == 12:
        if avail - 8 < 20:
            _event(pkt, XDPFW_EV_ICMPV4_IPV4_TRUNC_PKT)
        elif ic[8] >> 4 != 4:
            _event(pkt, XDPFW_EV_ICMPV4_IPV4_UNKNOWN_VER)
        else:
            pkt.icmp_inner_off = <uint16_t>(off + 8)
    pkt.layers |= XDPFW_LAYER_L4
    pkt.payload_off = <uint16_t>(off + 8)
    pkt.payload_len = avail - 8
    return 0


cdef inline int _icmpv6_max_code(uint8_t t) noexcept nogil:
    # Highest code defined for a type whose codes are checked (IANA "ICMPv6 Parameters"),
    # -1 when the codes of the type are not checked.
    if t == 1:
        return 8   # destination unreachable (RFC 4443, 7112, 8883)
    if t == 2:
        return 0   # packet too big
    if t == 3:
        return 1   # time exceeded
    if t == 4:
        return 10  # parameter problem (RFC 4443, 7112, 8754, 8883)
    if 128 <= t <= 137:
        return 0   # echo, MLD, neighbour discovery, redirect
    return -1


cdef int _decode_icmpv6(const uint8_t *frame, uint32_t off, uint32_t avail, xdpfw_pkt *pkt) noexcept nogil:
    cdef const uint8_t *ic = frame + off
    cdef uint8_t t, c
    cdef int max_code
    if avail < 8:
        return _fatal(pkt, XDPFW_EV_ICMPV6_PKT_TOO_SMALL, XDPFW_LAYER_L4)
    t = ic[0]
    c = ic[1]
    pkt.icmp_type = t
    pkt.icmp_code = c
    if t == 100 or t == 101 or t == 200 or t == 201:
        _event(pkt, XDPFW_EV_ICMPV6_EXPERIMENTATION_TYPE)   # RFC 4443 private experimentation
    elif t == 0 or t == 127 or t == 255:
        _event(pkt, XDPFW_EV_ICMPV6_UNKNOWN_TYPE)           # reserved
    elif not (1 <= t <= 4 or 128 <= t <= 161):
        _event(pkt, XDPFW_EV_ICMPV6_UNASSIGNED_TYPE)
    else:
        max_code = _icmpv6_max_code(t)
        if max_code >= 0 and c > max_code:
            _event(pkt, XDPFW_EV_ICMPV6_UNKNOWN_CODE)
    # MLD messages are link-local: a hop limit other than 1 means they were routed or
    # forged (RFC 2710 3, RFC 3810 5).
    if (t == 130 or t == 131 or t == 132 or t == 143) and pkt.ttl != 1:
        _event(pkt, XDPFW_EV_ICMPV6_MLD_MESSAGE_WITH_INVALID_HL)
    if t == 128 or t == 129:
        pkt.icmp_id = _be16(ic + 4)
        pkt.icmp_seq = _be16(ic + 6)
    elif 1 <= t <= 4:
        if avail - 8 < 40:
            _event(pkt, XDPFW_EV_ICMPV6_IPV6_TRUNC_PKT)
        elif ic[8] >> 4 != 6:
            _event(pkt, XDPFW_EV_ICMPV6_IPV6_UNKNOWN_VERSION)
        else:
            pkt.icmp_inner_off = <uint16_t>(off + 8)
    pkt.layers |= XDPFW_LAYER_L4
    pkt.payload_off = <uint16_t>(off + 8)
    pkt.payload_len = avail - 8
    return 0
