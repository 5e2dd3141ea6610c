# IPv6 (RFC 8200): the fixed header, then the extension-header chain: hop-by-hop (0),
# routing (43), fragment (44), destination options (60) and AH (51, RFC 4302), in any
# order, as many as the payload length holds (each is at least 8 bytes: the walk is
# bounded by the frame); more than XDPFW_IPV6_MAX_EXTHDRS is only an event. ESP (50) is
# not walked (what follows is encrypted): it is the upper layer, like any other next
# header, except the extension headers this decoder does not walk (_ipv6_ext_unknown),
# which are fatal. The payload length bounds everything after the fixed header: bytes
# past it are link padding.


cdef inline bint _ipv6_ext_unknown(uint8_t nh) noexcept nogil:
    # IANA "IPv6 Extension Header Types" not walked here: mobility (135), HIP (139),
    # shim6 (140), experimental (253, 254). A host may walk past them to an upper layer
    # the engine would then never see, so the frame is not inspectable.
    return nh == 135 or nh == 139 or nh == 140 or nh == 253 or nh == 254

# Option types of hop-by-hop / destination options assigned in the IANA registry
# ("Destination Options and Hop-by-Hop Options", deprecated ones left out); any other
# type is reported as unknown.
cdef inline bint _ipv6_opt_known(uint8_t t) noexcept nogil:
    return (t == 0x00 or t == 0x01 or t == 0x04 or t == 0x05 or t == 0x07 or t == 0x08
            or t == 0x0F or t == 0x11 or t == 0x12 or t == 0x26 or t == 0x30 or t == 0x31
            or t == 0x63 or t == 0x6D or t == 0x8B or t == 0x8C or t == 0xC2 or t == 0xC9
            or t == 0xEE)


cdef inline void _ipv6_options(const uint8_t *o, uint32_t n, bint hop, xdpfw_pkt *pkt) noexcept nogil:
    # The TLVs of a hop-by-hop or destination options header (after its 2-byte head).
    # Non-fatal: the header's own length is sound, so a bad TLV cannot move L4.
    cdef uint32_t i = 0, olen
    cdef uint8_t t
    cdef bint padding = False, other = False
    while i < n:
        t = o[i]
        if t == 0x00:  # Pad1
            padding = True
            i += 1
            continue
        if n - i < 2 or o[i + 1] > n - i - 2:
            _event(pkt, XDPFW_EV_IPV6_EXTHDR_INVALID_OPTLEN)
            return
        olen = o[i + 1]
        if t == 0x01:  # PadN
            padding = True
            if olen == 0:
                _event(pkt, XDPFW_EV_IPV6_ZERO_LEN_PADN)
        else:
            other = True
            if not _ipv6_opt_known(t):
                _event(pkt, XDPFW_EV_IPV6_HOPOPTS_UNKNOWN_OPT if hop else XDPFW_EV_IPV6_DSTOPTS_UNKNOWN_OPT)
            elif ((t == 0x04 and olen != 1) or (t == 0x05 and olen != 2)
                  or (t == 0xC2 and olen != 4) or (t == 0xC9 and olen != 16)):
                # tunnel encapsulation limit, router alert, jumbo payload, home address
                _event(pkt, XDPFW_EV_IPV6_EXTHDR_INVALID_OPTLEN)
        i += 2 + olen
    if padding and not other:
        _event(pkt, XDPFW_EV_IPV6_HOPOPTS_ONLY_PADDING if hop else XDPFW_EV_IPV6_DSTOPTS_ONLY_PADDING)


cdef int _decode_ipv6(const uint8_t *frame, uint32_t length, xdpfw_pkt *pkt) noexcept nogil:
    cdef uint32_t off = pkt.l3_off
    cdef uint32_t avail = length - off
    cdef const uint8_t *ip = frame + off
    cdef uint32_t cur, end, size, nexthdrs = 0
    cdef uint8_t nh, ext = 0, flags = 0
    cdef uint16_t fo, foff = 0
    cdef uint32_t fid = 0
    cdef bint dst_since_rh = False
    if avail < 40:
        return _fatal(pkt, XDPFW_EV_IPV6_PKT_TOO_SMALL, XDPFW_LAYER_L3)
    if ip[0] >> 4 != 6:
        return _fatal(pkt, XDPFW_EV_IPV6_WRONG_IP_VERSION, XDPFW_LAYER_L3)
    if _be16(ip + 4) > avail - 40:
        return _fatal(pkt, XDPFW_EV_IPV6_TRUNC_PKT, XDPFW_LAYER_L3)

    # The fixed header is sound: keep its fields even if the chain turns out fatal, so
    # a decode-error alert can still name the addresses.
    pkt.ip_version = 6
    pkt.tos = ((ip[0] & 0x0f) << 4) | (ip[1] >> 4)
    pkt.ttl = ip[7]
    memcpy(pkt.src, ip + 8, 16)
    memcpy(pkt.dst, ip + 24, 16)

    cur = off + 40
    end = cur + _be16(ip + 4)
    nh = ip[6]
    while (nh == P_HOPOPTS or nh == P_ROUTING or nh == P_DSTOPTS or nh == P_FRAGMENT
           or nh == P_AH):
        if nexthdrs == XDPFW_IPV6_MAX_EXTHDRS:
            _event(pkt, XDPFW_EV_IPV6_EXTHDR_TOO_MANY)  # unusual, not a reason to stop
        nexthdrs += 1
        if end - cur < 8:  # every extension header is at least 8 bytes
            return _fatal(pkt, XDPFW_EV_IPV6_TRUNC_EXTHDR, XDPFW_LAYER_L3)

        if nh == P_FRAGMENT:
            if ext & XDPFW_EXT_FRAG:
                _event(pkt, XDPFW_EV_IPV6_EXTHDR_DUPL_FH)
            ext |= XDPFW_EXT_FRAG
            fo = _be16(frame + cur + 2)
            if frame[cur + 1] or fo & 0x0006:
                _event(pkt, XDPFW_EV_IPV6_FH_NON_ZERO_RESERVED_FIELD)
            # A later fragment header overrides an earlier one (the event says so).
            fid = _be32(frame + cur + 4)
            foff = fo & 0xfff8
            nh = frame[cur]
            cur += 8
            if foff == 0 and not fo & 1:
                # Atomic fragment (RFC 6946): a whole datagram, not a fragment.
                _event(pkt, XDPFW_EV_IPV6_EXTHDR_USELESS_FH)
                flags = 0
                continue
            flags = XDPFW_IP_FRAG | (XDPFW_IP_MF if fo & 1 else 0)
            if fo & 1 and (end - cur) % 8:
                _event(pkt, XDPFW_EV_IPV6_FRAG_INVALID_LENGTH)
            if foff + end - cur > 65535:
                _event(pkt, XDPFW_EV_IPV6_FRAG_PKT_TOO_LARGE)
            if foff:
                break  # the rest is the middle of a datagram: no more headers here
            continue

        if nh == P_AH:
            size = (<uint32_t>frame[cur + 1] + 2) * 4
            if size < 12 or size > end - cur:  # 12: next header .. sequence number
                return _fatal(pkt, XDPFW_EV_IPV6_TRUNC_EXTHDR, XDPFW_LAYER_L3)
            if ext & XDPFW_EXT_AH:
                _event(pkt, XDPFW_EV_IPV6_EXTHDR_DUPL_AH)
            ext |= XDPFW_EXT_AH
            if _be16(frame + cur + 2):
                _event(pkt, XDPFW_EV_IPV6_EXTHDR_AH_RES_NOT_NULL)
        else:
            size = (<uint32_t>frame[cur + 1] + 1) * 8
            if size > end - cur:
                return _fatal(pkt, XDPFW_EV_IPV6_TRUNC_EXTHDR, XDPFW_LAYER_L3)
            if nh == P_HOPOPTS:
                if ext & XDPFW_EXT_HOPOPTS:
                    _event(pkt, XDPFW_EV_IPV6_EXTHDR_DUPL_HH)
                ext |= XDPFW_EXT_HOPOPTS
                _ipv6_options(frame + cur + 2, size - 2, True, pkt)
            elif nh == P_DSTOPTS:
                # Legal twice: once before a routing header, once at the end.
                if dst_since_rh:
                    _event(pkt, XDPFW_EV_IPV6_EXTHDR_DUPL_DH)
                dst_since_rh = True
                ext |= XDPFW_EXT_DSTOPTS
                _ipv6_options(frame + cur + 2, size - 2, False, pkt)
            else:
                if ext & XDPFW_EXT_ROUTING:
                    _event(pkt, XDPFW_EV_IPV6_EXTHDR_DUPL_RH)
                ext |= XDPFW_EXT_ROUTING
                dst_since_rh = False
                if frame[cur + 2] == 0:
                    _event(pkt, XDPFW_EV_IPV6_RH_TYPE_0)
        nh = frame[cur]
        cur += size

    if foff == 0 and _ipv6_ext_unknown(nh):
        return _fatal(pkt, XDPFW_EV_IPV6_UNKNOWN_NEXT_HEADER, XDPFW_LAYER_L3)
    pkt.ipv6_exthdrs = ext
    pkt.ip_id = fid
    pkt.frag_off = foff
    pkt.ip_flags = flags
    pkt.l4_proto = nh
    pkt.layers |= XDPFW_LAYER_L3
    if nh == P_NONE and foff == 0 and end > cur:
        _event(pkt, XDPFW_EV_IPV6_DATA_AFTER_NONE_HEADER)
    if nh == P_ICMP:
        _event(pkt, XDPFW_EV_IPV6_WITH_ICMPV4)
    return _decode_l4(frame, cur, end - cur, pkt)
