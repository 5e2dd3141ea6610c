# UDP (RFC 768). The length field bounds the payload: bytes after it inside the IP
# payload are not UDP data (what the receiving stack would deliver, so the engine sees
# the same bytes as the endpoint).

cdef int _decode_udp(const uint8_t *frame, uint32_t off, uint32_t avail, xdpfw_pkt *pkt) noexcept nogil:
    cdef const uint8_t *uh = frame + off
    cdef uint32_t ulen, plen
    if avail < 8:
        return _fatal(pkt, XDPFW_EV_UDP_HLEN_TOO_SMALL, XDPFW_LAYER_L4)
    ulen = _be16(uh + 4)
    if pkt.ip_flags & XDPFW_IP_MF:
        # First fragment: the length covers the reassembled datagram, not this fragment.
        plen = avail - 8
    else:
        if ulen < 8:
            return _fatal(pkt, XDPFW_EV_UDP_HLEN_INVALID, XDPFW_LAYER_L4)
        if ulen > avail:
            return _fatal(pkt, XDPFW_EV_UDP_PKT_TOO_SMALL, XDPFW_LAYER_L4)
        if ulen < avail:
            _event(pkt, XDPFW_EV_UDP_HLEN_INVALID)
        plen = ulen - 8
    pkt.sport = _be16(uh)
    pkt.dport = _be16(uh + 2)
    pkt.layers |= XDPFW_LAYER_L4
    pkt.payload_off = <uint16_t>(off + 8)
    pkt.payload_len = plen
    return 0
