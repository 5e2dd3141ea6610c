# Ethernet II and its VLAN tags (802.1Q 0x8100, 802.1ad 0x88a8, in any order, as many as
# the frame holds: a switch with stacked tags forwards them, so an IPS that stopped at a
# fixed depth would leave the rest of the frame uninspected). The VIDs of the first
# XDPFW_MAX_VLAN tags are recorded; more tags are vlan.too_many_layers, not fatal. An
# ethertype below 0x0600 is an 802.3 length: the frame carries no IP and is reported as is.

cdef enum:
    ETH_HLEN = 14
    VLAN_HLEN = 4
    ETH_P_IP = 0x0800
    ETH_P_IPV6 = 0x86DD
    ETH_P_8021Q = 0x8100
    ETH_P_8021AD = 0x88A8
    ETH_P_TEB = 0x6558     # transparent Ethernet bridging (GRE, RFC 1701)
    ETH_P_MPLS_UC = 0x8847
    ETH_P_MPLS_MC = 0x8848


cdef inline int _eth_walk(const uint8_t *frame, uint32_t *offp, uint32_t end, uint16_t *vid,
                          uint32_t *ntags, uint16_t *etypep) noexcept nogil:
    # The Ethernet header at *offp and its VLAN tags, up to `end`: *offp moves past them,
    # *etypep is the inner ethertype, *ntags the tags walked, vid[] (if not NULL) the
    # first XDPFW_MAX_VLAN VIDs. Returns 0, 1 (header cut short), 2 (a tag cut short).
    cdef uint32_t off = offp[0], depth = 0
    cdef uint16_t etype
    if end - off < ETH_HLEN:
        return 1
    etype = _be16(frame + off + 12)
    off += ETH_HLEN
    while etype == ETH_P_8021Q or etype == ETH_P_8021AD:
        if end - off < VLAN_HLEN:
            return 2
        if vid != NULL and depth < XDPFW_MAX_VLAN:
            vid[depth] = _be16(frame + off) & 0x0fff
        depth += 1
        etype = _be16(frame + off + 2)
        off += VLAN_HLEN
    offp[0] = off
    ntags[0] = depth
    etypep[0] = etype
    return 0


cdef inline int _decode_eth(const uint8_t *frame, uint32_t length, xdpfw_pkt *pkt) noexcept nogil:
    cdef uint32_t off = 0, depth = 0
    cdef uint16_t etype = 0
    cdef uint16_t vid[XDPFW_MAX_VLAN]
    cdef int rc = _eth_walk(frame, &off, length, vid, &depth, &etype)
    if rc == 1:
        return _fatal(pkt, XDPFW_EV_ETHERNET_PKT_TOO_SMALL, XDPFW_LAYER_L2)
    if rc == 2:
        return _fatal(pkt, XDPFW_EV_VLAN_HEADER_TOO_SMALL, XDPFW_LAYER_L2)
    # Only now: a fatal L2 anomaly leaves every L2 field zero.
    if depth > XDPFW_MAX_VLAN:
        _event(pkt, XDPFW_EV_VLAN_TOO_MANY_LAYERS)
    if depth > 0:
        pkt.vlan_id[0] = vid[0]
    if depth > 1:
        pkt.vlan_id[1] = vid[1]
    pkt.vlan_depth = <uint8_t>(depth if depth < 255 else 255)
    pkt.ethertype = etype
    pkt.l3_off = <uint16_t>off
    pkt.layers = XDPFW_LAYER_L2
    return 0
