# Encapsulations decoded through: IP-in-IP (IPv4 or IPv6 as protocol 4 or 41 over IPv4 or
# IPv6; RFC 2003, RFC 4213, RFC 2473) and GRE (protocol 47, RFC 2784 with RFC 2890's key
# and sequence number) carrying IPv4, IPv6 or Ethernet (transparent bridging, 0x6558).
# The packet inside becomes the one the struct describes: its L3/L4 fields replace the
# outer ones (xdpfw_pkt.h), `tunnel_depth` and `tunnels` record what was passed through.
#
# What the tunnel endpoint would deliver is what the engine must see. Anything here that
# cannot be decoded through is fatal, so the decode-error policy (drop inline) applies
# instead of the frame going on with only its outer header inspected: GRE versions or
# payload types other than these (PPTP's GRE v1, ERSPAN, WCCP, ...), the RFC 1701 routing
# bit (Linux refuses it too), more than XDPFW_MAX_TUNNELS levels, and an outer IP fragment
# carrying a tunnel (the endpoint reassembles before decapsulating; one fragment alone
# does not hold a decodable inner packet).

cdef enum:
    GRE_F_CSUM = 0x8000
    GRE_F_ROUTING = 0x4000
    GRE_F_KEY = 0x2000
    GRE_F_SEQ = 0x1000
    GRE_VERSION = 0x0007


cdef inline void _tunnel_enter(xdpfw_pkt *pkt, uint32_t off, uint16_t etype, uint8_t kind,
                               uint8_t layers) noexcept nogil:
    # Forget the enclosing packet's L3/L4 fields (its L2 stays): the inner packet at
    # `off` is decoded into them. No L4 header was decoded for a tunnel protocol, so the
    # TCP/ICMP fields are still zero.
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


cdef inline int _decode_tunnel(const uint8_t *frame, uint32_t *endp, xdpfw_pkt *pkt) noexcept nogil:
    # After an IP level decoded without a fatal anomaly: 1 when its payload is a tunnel
    # whose inner packet is now to be decoded (l3_off, ethertype and *endp set for it),
    # 0 when this is the innermost packet, -layer for a fatal anomaly.
    cdef uint8_t proto = pkt.l4_proto
    cdef uint32_t off, end, hlen, ntags = 0
    cdef uint16_t flags, etype = 0
    cdef int rc
    if pkt.layers & XDPFW_LAYER_L4 or not (proto == P_IPIP or proto == P_IPV6 or proto == P_GRE):
        return 0
    if pkt.ip_flags & XDPFW_IP_FRAG:
        return -_fatal(pkt, XDPFW_EV_DECODER_TUNNEL_FRAGMENT, XDPFW_LAYER_L4)
    if pkt.tunnel_depth == XDPFW_MAX_TUNNELS:
        return -_fatal(pkt, XDPFW_EV_DECODER_TOO_MANY_LAYERS, XDPFW_LAYER_L4)
    off = pkt.payload_off
    end = off + pkt.payload_len
    if proto == P_IPIP:
        _tunnel_enter(pkt, off, ETH_P_IP, XDPFW_TUN_IPIP, XDPFW_LAYER_L2)
    elif proto == P_IPV6:
        _tunnel_enter(pkt, off, ETH_P_IPV6, XDPFW_TUN_IPIP, XDPFW_LAYER_L2)
    else:
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
        if etype == ETH_P_IP or etype == ETH_P_IPV6:
            _tunnel_enter(pkt, off, etype, XDPFW_TUN_GRE, XDPFW_LAYER_L2)
        elif etype == ETH_P_TEB:
            # A whole Ethernet frame: its VLAN tags are walked, not recorded (the flow
            # keeps the outer frame's VLAN).
            _tunnel_enter(pkt, off, 0, XDPFW_TUN_GRE_ETH, 0)
            rc = _eth_walk(frame, &off, end, NULL, &ntags, &etype)
            if rc:
                return -_fatal(pkt, XDPFW_EV_INNER_ETHERNET_PKT_TOO_SMALL, XDPFW_LAYER_L2)
            pkt.layers = XDPFW_LAYER_L2
            pkt.l3_off = <uint16_t>off
            pkt.ethertype = etype
        else:
            return -_fatal(pkt, XDPFW_EV_GRE_UNKNOWN_PAYLOAD_TYPE, XDPFW_LAYER_L4)
    endp[0] = end
    return 1
