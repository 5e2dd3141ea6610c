# TCP (RFC 9293): the fixed header and its options. Option kinds recorded: MSS, window
# scale, SACK-permitted, SACK (RFC 2018), timestamps (RFC 7323), MD5 (RFC 2385), AO
# (RFC 5925), MPTCP (RFC 8684), Fast Open (RFC 7413).

cdef enum:
    TCPOPT_EOL = 0
    TCPOPT_NOP = 1
    TCPOPT_MSS = 2
    TCPOPT_WSCALE = 3
    TCPOPT_SACK_PERM = 4
    TCPOPT_SACK = 5
    TCPOPT_TS = 8
    TCPOPT_MD5 = 19
    TCPOPT_AO = 29
    TCPOPT_MPTCP = 30
    TCPOPT_FASTOPEN = 34


cdef inline void _tcp_options(const uint8_t *o, uint32_t n, xdpfw_pkt *pkt) noexcept nogil:
    # Non-fatal: the data offset is already known to be sound, so a bad option cannot
    # move the payload. A length that breaks the walk ends it.
    cdef uint32_t i = 0, olen, bit
    cdef uint8_t k
    cdef bint ok
    while i < n:
        k = o[i]
        if k == TCPOPT_EOL:
            break
        if k == TCPOPT_NOP:
            i += 1
            continue
        if n - i < 2:
            _event(pkt, XDPFW_EV_TCP_OPT_INVALID_LEN)
            break
        olen = o[i + 1]
        if olen < 2 or olen > n - i:
            _event(pkt, XDPFW_EV_TCP_OPT_INVALID_LEN)
            break
        bit = 0
        ok = False
        if k == TCPOPT_MSS:
            bit, ok = XDPFW_TCPOPT_MSS, olen == 4
        elif k == TCPOPT_WSCALE:
            bit, ok = XDPFW_TCPOPT_WSCALE, olen == 3
        elif k == TCPOPT_SACK_PERM:
            bit, ok = XDPFW_TCPOPT_SACK_PERM, olen == 2
        elif k == TCPOPT_SACK:
            bit, ok = XDPFW_TCPOPT_SACK, olen >= 10 and (olen - 2) % 8 == 0
        elif k == TCPOPT_TS:
            bit, ok = XDPFW_TCPOPT_TS, olen == 10
        elif k == TCPOPT_MD5:
            bit, ok = XDPFW_TCPOPT_MD5, olen == 18
        elif k == TCPOPT_AO:
            bit, ok = XDPFW_TCPOPT_AO, olen >= 4
        elif k == TCPOPT_MPTCP:
            bit, ok = XDPFW_TCPOPT_MPTCP, olen >= 3
        elif k == TCPOPT_FASTOPEN:
            # a cookie request (no cookie) or a 4..16-byte cookie of even length
            bit, ok = XDPFW_TCPOPT_FASTOPEN, olen == 2 or (6 <= olen <= 18 and olen % 2 == 0)
        if bit:
            # MPTCP puts several options (subtypes) in one segment; the others appear once.
            if pkt.tcp_opts & bit and bit != XDPFW_TCPOPT_MPTCP:
                _event(pkt, XDPFW_EV_TCP_OPT_DUPLICATE)
            elif not ok:
                _event(pkt, XDPFW_EV_TCP_OPT_INVALID_LEN)
            else:
                pkt.tcp_opts |= bit
                if k == TCPOPT_MSS:
                    pkt.tcp_mss = _be16(o + i + 2)
                elif k == TCPOPT_WSCALE:
                    pkt.tcp_wscale = o[i + 2]
                elif k == TCPOPT_TS:
                    pkt.tcp_tsval = _be32(o + i + 2)
                    pkt.tcp_tsecr = _be32(o + i + 6)
        i += olen


cdef int _decode_tcp(const uint8_t *frame, uint32_t off, uint32_t avail, xdpfw_pkt *pkt) noexcept nogil:
    cdef const uint8_t *th = frame + off
    cdef uint32_t hlen
    if avail < 20:
        return _fatal(pkt, XDPFW_EV_TCP_PKT_TOO_SMALL, XDPFW_LAYER_L4)
    hlen = (th[12] >> 4) * 4
    if hlen < 20:
        return _fatal(pkt, XDPFW_EV_TCP_HLEN_TOO_SMALL, XDPFW_LAYER_L4)
    if hlen > avail:
        return _fatal(pkt, XDPFW_EV_TCP_INVALID_OPTLEN, XDPFW_LAYER_L4)
    pkt.sport = _be16(th)
    pkt.dport = _be16(th + 2)
    pkt.tcp_seq = _be32(th + 4)
    pkt.tcp_ack = _be32(th + 8)
    pkt.tcp_doff = th[12] >> 4
    pkt.tcp_flags = th[13]
    pkt.tcp_window = _be16(th + 14)
    if hlen > 20:
        _tcp_options(th + 20, hlen - 20, pkt)
    pkt.layers |= XDPFW_LAYER_L4
    pkt.payload_off = <uint16_t>(off + hlen)
    pkt.payload_len = avail - hlen
    return 0
