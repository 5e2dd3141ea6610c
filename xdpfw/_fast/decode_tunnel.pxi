# Encapsulations decoded through (Suricata decodes the same set by default): IP-in-IP
# (IPv4 or IPv6 as protocol 4 or 41 over IPv4 or IPv6; RFC 2003, 4213, 2473), GRE
# (protocol 47, RFC 2784 with RFC 2890's key and sequence number) carrying IPv4, IPv6,
# Ethernet (transparent bridging, 0x6558) or MPLS, VXLAN (UDP destination port 4789, RFC
# 7348), Geneve (UDP destination port 6081, RFC 8926), Teredo (UDP port 3544 either way,
# RFC 4380) and MPLS label stacks (ethertypes 0x8847/0x8848, RFC 3032). The packet inside
# becomes the one the struct describes: its L3/L4 fields replace the outer ones
# (xdpfw_pkt.h), `tunnel_depth` and `tunnels` record what was passed through.
#
# What the tunnel endpoint would deliver is what the engine must see. Anything here that
# claims to be a tunnel and cannot be decoded through is fatal, so the decode-error policy
# (drop inline) applies instead of the frame going on with only its outer header
# inspected: GRE versions or payload types other than these (PPTP's GRE v1, ERSPAN, WCCP,
# ...), the RFC 1701 routing bit (Linux refuses it too), Geneve or MPLS payloads not
# decodable, more than XDPFW_MAX_TUNNELS levels, and an outer IP fragment carrying a
# tunnel (the endpoint reassembles before decapsulating; one fragment alone does not hold
# a decodable inner packet). A UDP datagram on a tunnel port that is not that tunnel by
# its own header (VXLAN without the I flag, Geneve of another version, a Teredo port
# without an IPv6 packet after Teredo's optional headers: what endpoints refuse) stays a
# plain UDP datagram, inspected as such.

cdef enum:
    GRE_F_CSUM = 0x8000
    GRE_F_ROUTING = 0x4000
    GRE_F_KEY = 0x2000
    GRE_F_SEQ = 0x1000
    GRE_VERSION = 0x0007
    PORT_VXLAN = 4789
    PORT_GENEVE = 6081
    PORT_TEREDO = 3544


cdef inline void _tunnel_enter(xdpfw_pkt *pkt, uint32_t off, uint16_t etype, uint8_t kind,
                               uint8_t layers) noexcept nogil:
    # Forget the enclosing packet's L3/L4 fields (its L2 stays): the inner packet at
    # `off` is decoded into them. No L4 header but UDP's was decoded for a tunnel, so the
    # TCP/ICMP fields are still zero.
    if pkt.ip_version and pkt.l3_off == pkt.outer_l3_off:   # leaving the outermost IP header
        pkt.outer_proto = pkt.l4_proto
    pkt.tunnel_depth += 1
    pkt.tunnels |= kind
    pkt.layers = layers
    pkt.ip_version = 0
    pkt.l4_proto = 0
    pkt.ttl = 0
    pkt.tos = 0
    pkt.ip_flags = 0
    pkt.ip_id = 0
    pkt.frag_off = 0
    pkt.ipv6_exthdrs = 0
    pkt.sport = 0
    pkt.dport = 0
    pkt.l4_off = 0
    pkt.payload_off = 0
    pkt.payload_len = 0
    memset(pkt.src, 0, 16)
    memset(pkt.dst, 0, 16)
    pkt.l3_off = <uint16_t>off
    pkt.ethertype = etype


cdef int _enter_ethernet(const uint8_t *frame, uint32_t off, uint32_t end, uint8_t kind,
                                xdpfw_pkt *pkt) noexcept nogil:
    # A whole Ethernet frame inside a tunnel: its VLAN tags are walked, not recorded (the
    # flow keeps the outer frame's VLAN). 1, or -layer when it is cut short.
    cdef uint32_t ntags = 0
    cdef uint16_t etype = 0
    _tunnel_enter(pkt, off, 0, kind, 0)
    if _eth_walk(frame, &off, end, NULL, &ntags, &etype):
        return -_fatal(pkt, XDPFW_EV_INNER_ETHERNET_PKT_TOO_SMALL, XDPFW_LAYER_L2)
    pkt.layers = XDPFW_LAYER_L2
    pkt.l3_off = <uint16_t>off
    pkt.ethertype = etype
    return 1


cdef inline int _teredo_inner(const uint8_t *frame, uint32_t off, uint32_t end) noexcept nogil:
    # Where Teredo's IPv6 packet starts, after the optional authentication (0x0001) and
    # origin indication (0x0000) headers, or -1 when this is not a Teredo packet carrying
    # data: no IPv6 header, one longer than the datagram, or a bubble (no next header,
    # empty payload: nothing to inspect).
    cdef uint32_t hl
    if end - off >= 4 and frame[off] == 0 and frame[off + 1] == 1:
        hl = 13 + <uint32_t>frame[off + 2] + frame[off + 3]   # ids, nonce, confirmation
        if end - off < hl:
            return -1
        off += hl
    if end - off >= 2 and frame[off] == 0 and frame[off + 1] == 0:
        if end - off < 8:
            return -1
        off += 8
    if end - off < 40 or frame[off] >> 4 != 6 or 40 + <uint32_t>_be16(frame + off + 4) > end - off:
        return -1
    if frame[off + 6] == P_NONE and _be16(frame + off + 4) == 0:
        return -1
    return <int>off


cdef inline int _udp_fatal(xdpfw_pkt *pkt, int ev) noexcept nogil:
    # A datagram on a tunnel port that cannot be decoded through: its UDP layer counts as
    # the one that failed (xdpfw_pkt.h: the invalid layer's fields stay zero).
    pkt.layers &= ~XDPFW_LAYER_L4
    pkt.sport = 0
    pkt.dport = 0
    return _fatal(pkt, ev, XDPFW_LAYER_L4)


cdef int _decode_udp_tunnel(const uint8_t *frame, uint32_t *endp, xdpfw_pkt *pkt) noexcept nogil:
    # A UDP datagram on a tunnel port: see _decode_tunnel for the return values.
    cdef uint32_t off = pkt.payload_off
    cdef uint32_t end = off + pkt.payload_len, hlen
    cdef uint16_t etype
    cdef int inner
    if pkt.ip_flags & XDPFW_IP_FRAG:
        return -_udp_fatal(pkt, XDPFW_EV_DECODER_TUNNEL_FRAGMENT)
    if pkt.tunnel_depth == XDPFW_MAX_TUNNELS:
        return -_udp_fatal(pkt, XDPFW_EV_DECODER_TOO_MANY_LAYERS)
    if pkt.dport == PORT_VXLAN:
        if end - off < 8:
            return -_udp_fatal(pkt, XDPFW_EV_VXLAN_PKT_TOO_SMALL)
        if not frame[off] & 0x08:   # the I flag: a VNI follows; Linux drops without it
            return 0
        endp[0] = end
        return _enter_ethernet(frame, off + 8, end, XDPFW_TUN_VXLAN, pkt)
    if pkt.dport == PORT_GENEVE:
        if end - off < 8:
            return -_udp_fatal(pkt, XDPFW_EV_GENEVE_PKT_TOO_SMALL)
        if frame[off] >> 6 != 0:    # version 0 is the only one
            return 0
        hlen = 8 + 4 * <uint32_t>(frame[off] & 0x3f)
        if end - off < hlen:
            return -_udp_fatal(pkt, XDPFW_EV_GENEVE_PKT_TOO_SMALL)
        etype = _be16(frame + off + 2)
        endp[0] = end
        if etype == ETH_P_TEB:
            return _enter_ethernet(frame, off + hlen, end, XDPFW_TUN_GENEVE, pkt)
        if etype == ETH_P_IP or etype == ETH_P_IPV6:
            _tunnel_enter(pkt, off + hlen, etype, XDPFW_TUN_GENEVE, XDPFW_LAYER_L2)
            return 1
        return -_udp_fatal(pkt, XDPFW_EV_GENEVE_UNKNOWN_PAYLOAD_TYPE)
    inner = _teredo_inner(frame, off, end)
    if inner < 0:
        return 0
    _tunnel_enter(pkt, <uint32_t>inner, ETH_P_IPV6, XDPFW_TUN_TEREDO, XDPFW_LAYER_L2)
    endp[0] = end
    return 1


cdef inline int _decode_tunnel(const uint8_t *frame, uint32_t *endp, xdpfw_pkt *pkt) noexcept nogil:
    # After an IP level decoded without a fatal anomaly: 1 when its payload is a tunnel
    # whose inner packet is now to be decoded (l3_off, ethertype and *endp set for it),
    # 0 when this is the innermost packet, -layer for a fatal anomaly. The test for "not
    # a tunnel" is inlined into the decoder's loop; the tunnels themselves are calls.
    cdef uint8_t proto = pkt.l4_proto
    if pkt.layers & XDPFW_LAYER_L4:
        if proto == P_UDP and (pkt.dport == PORT_VXLAN or pkt.dport == PORT_GENEVE
                               or pkt.dport == PORT_TEREDO or pkt.sport == PORT_TEREDO):
            return _decode_udp_tunnel(frame, endp, pkt)
        return 0
    if proto == P_IPIP or proto == P_IPV6 or proto == P_GRE:
        return _decode_ip_tunnel(frame, endp, pkt)
    return 0


cdef int _decode_ip_tunnel(const uint8_t *frame, uint32_t *endp, xdpfw_pkt *pkt) noexcept nogil:
    # IP-in-IP or GRE: see _decode_tunnel for the return values.
    cdef uint8_t proto = pkt.l4_proto
    cdef uint32_t off, end, hlen
    cdef uint16_t flags, etype
    if pkt.ip_flags & XDPFW_IP_FRAG:
        return -_fatal(pkt, XDPFW_EV_DECODER_TUNNEL_FRAGMENT, XDPFW_LAYER_L4)
    if pkt.tunnel_depth == XDPFW_MAX_TUNNELS:
        return -_fatal(pkt, XDPFW_EV_DECODER_TOO_MANY_LAYERS, XDPFW_LAYER_L4)
    off = pkt.payload_off
    end = off + pkt.payload_len
    endp[0] = end
    if proto == P_IPIP:
        _tunnel_enter(pkt, off, ETH_P_IP, XDPFW_TUN_IPIP, XDPFW_LAYER_L2)
        return 1
    if proto == P_IPV6:
        _tunnel_enter(pkt, off, ETH_P_IPV6, XDPFW_TUN_IPIP, XDPFW_LAYER_L2)
        return 1
    if end - off < 4:
        return -_fatal(pkt, XDPFW_EV_GRE_PKT_TOO_SMALL, XDPFW_LAYER_L4)
    flags = _be16(frame + off)
    etype = _be16(frame + off + 2)
    if flags & (GRE_VERSION | GRE_F_ROUTING):
        return -_fatal(pkt, XDPFW_EV_GRE_WRONG_VERSION, XDPFW_LAYER_L4)
    hlen = 4
    if flags & GRE_F_CSUM:
        hlen += 4     # checksum and reserved1
    if flags & GRE_F_KEY:
        hlen += 4
    if flags & GRE_F_SEQ:
        hlen += 4
    if end - off < hlen:
        return -_fatal(pkt, XDPFW_EV_GRE_PKT_TOO_SMALL, XDPFW_LAYER_L4)
    off += hlen
    if etype == ETH_P_IP or etype == ETH_P_IPV6 or etype == ETH_P_MPLS_UC or etype == ETH_P_MPLS_MC:
        _tunnel_enter(pkt, off, etype, XDPFW_TUN_GRE, XDPFW_LAYER_L2)
        return 1
    if etype == ETH_P_TEB:
        return _enter_ethernet(frame, off, end, XDPFW_TUN_GRE_ETH, pkt)
    return -_fatal(pkt, XDPFW_EV_GRE_UNKNOWN_PAYLOAD_TYPE, XDPFW_LAYER_L4)


cdef int _decode_mpls(const uint8_t *frame, uint32_t end, xdpfw_pkt *pkt) noexcept nogil:
    # An MPLS label stack at l3_off (after Ethernet, or in GRE), to its bottom-of-stack
    # entry, as far as `end` allows; then what the first nibble says: IPv4, IPv6, or 0 for
    # a pseudowire control word followed by Ethernet (RFC 4385). One tunnel level for the
    # whole stack. Same return values as _decode_tunnel (never 0: the stack is not an
    # innermost packet).
    cdef uint32_t off = pkt.l3_off
    cdef uint8_t nib
    if pkt.tunnel_depth == XDPFW_MAX_TUNNELS:
        return -_fatal(pkt, XDPFW_EV_DECODER_TOO_MANY_LAYERS, XDPFW_LAYER_L3)
    while True:
        if end - off < 4:
            return -_fatal(pkt, XDPFW_EV_MPLS_HEADER_TOO_SMALL, XDPFW_LAYER_L3)
        off += 4
        if frame[off - 2] & 0x01:   # S: bottom of stack
            break
    if end - off < 1:
        return -_fatal(pkt, XDPFW_EV_MPLS_UNKNOWN_PAYLOAD_TYPE, XDPFW_LAYER_L3)
    nib = frame[off] >> 4
    if nib == 4:
        _tunnel_enter(pkt, off, ETH_P_IP, XDPFW_TUN_MPLS, XDPFW_LAYER_L2)
        return 1
    if nib == 6:
        _tunnel_enter(pkt, off, ETH_P_IPV6, XDPFW_TUN_MPLS, XDPFW_LAYER_L2)
        return 1
    if nib == 0 and end - off >= 4:
        return _enter_ethernet(frame, off + 4, end, XDPFW_TUN_MPLS, pkt)
    return -_fatal(pkt, XDPFW_EV_MPLS_UNKNOWN_PAYLOAD_TYPE, XDPFW_LAYER_L3)
