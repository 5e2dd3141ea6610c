# Ethernet II and up to XDPFW_MAX_VLAN VLAN tags (802.1Q 0x8100, 802.1ad 0x88a8, in any
# order, as the XDP program accepts them). An ethertype below 0x0600 is an 802.3 length:
# the frame carries no IP and is reported as is.

cdef enum:
    ETH_HLEN = 14
    VLAN_HLEN = 4
    ETH_P_IP = 0x0800
    ETH_P_IPV6 = 0x86DD
    ETH_P_8021Q = 0x8100
    ETH_P_8021AD = 0x88A8


cdef inline int _decode_eth(const uint8_t *frame, uint32_t length, xdpfw_pkt *pkt) noexcept nogil:
    cdef uint32_t off = ETH_HLEN
    cdef uint16_t etype
    cdef uint16_t vid[XDPFW_MAX_VLAN]
    cdef uint8_t depth = 0
    if length < ETH_HLEN:
        return _fatal(pkt, XDPFW_EV_ETHERNET_PKT_TOO_SMALL, XDPFW_LAYER_L2)
    etype = _be16(frame + 12)
    while etype == ETH_P_8021Q or etype == ETH_P_8021AD:
        # A third tag is one too many, whether or not it is complete.
        if depth == XDPFW_MAX_VLAN:
            return _fatal(pkt, XDPFW_EV_VLAN_TOO_MANY_LAYERS, XDPFW_LAYER_L2)
        if length - off < VLAN_HLEN:
            return _fatal(pkt, XDPFW_EV_VLAN_HEADER_TOO_SMALL, XDPFW_LAYER_L2)
        vid[depth] = _be16(frame + off) & 0x0fff
        depth += 1
        etype = _be16(frame + off + 2)
        off += VLAN_HLEN
    # Only now: a fatal L2 anomaly leaves every L2 field zero.
    if depth > 0:
        pkt.vlan_id[0] = vid[0]
    if depth > 1:
        pkt.vlan_id[1] = vid[1]
    pkt.vlan_depth = depth
    pkt.ethertype = etype
    pkt.l3_off = <uint16_t>off
    pkt.layers = XDPFW_LAYER_L2
    return 0
