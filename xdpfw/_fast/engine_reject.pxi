# The replies of reject rules (included by engine.pyx): a TCP RST to the sender and/or the
# destination, an ICMP / ICMPv6 port unreachable to the sender; built in the frame itself
# (or, for the destination's RST of rejectboth, from a copy of its headers), no payload
# copied. _reject_build needs no engine: reject_reply (engine_testapi.pxi) runs it on
# plain bytes.

cdef enum:
    REJECT_EXTRA = 256     # Engine.extra: the headers of rejectboth's reset for the destination


cdef int _reject(Engine self, uint8_t *frame, uint32_t length, const xdpfw_pkt *p, uint32_t how,
                 uint32_t *reply_len) noexcept nogil:
    """The replies of a reject (the packet is dropped whatever happens here), built by
    _reject_build (the destination's reset of REPLY_BOTH in Engine.extra) and counted."""
    cdef int v
    v = _reject_build(frame, length, p, how, reply_len, self.extra, &self.extra_len)
    if v == XDPFW_VERDICT_REPLY_BOTH:
        self.cnt[C_REJECTS_SENT] += 2
    elif v != XDPFW_VERDICT_DROP:
        self.cnt[C_REJECTS_SENT] += 1
    return v


cdef int _reject_build(uint8_t *frame, uint32_t length, const xdpfw_pkt *p, uint32_t how,
                       uint32_t *reply_len, uint8_t *extra, uint32_t *extra_len) noexcept nogil:
    """The replies of a reject for a decoded frame with reply_len[0] bytes of room. TCP: a
    RST to the sender rewritten in place (REPLY), to the destination (REPLY_PEER), or both
    (the destination's built first in `extra`, REJECT_EXTRA bytes, from a copy of the
    headers: REPLY_BOTH). Other protocols: an ICMP port unreachable to the sender, in
    place. Sets reply_len[0] (and extra_len[0]) to the replies' lengths; DROP with 0
    length: a plain drop (no room, an ICMP error or non-first fragment is never
    answered, a tunnelled packet...)."""
    cdef uint32_t room = reply_len[0], n
    reply_len[0] = 0
    if p.tunnel_depth:
        # The decoded packet is an inner one: a reply rewritten at its offsets would go
        # out inside the outer headers unchanged (the tunnel endpoint's addresses the
        # wrong way round, stale lengths and checksums). Encapsulating a reply correctly
        # is not done: a plain drop.
        return XDPFW_VERDICT_DROP
    if p.l4_proto == 6 and (p.layers & XDPFW_LAYER_L4):
        if how & XDPFW_REJECT_DST:
            if how & XDPFW_REJECT_SRC:
                if p.l4_off + 20 > REJECT_EXTRA:
                    return XDPFW_VERDICT_DROP
                memcpy(extra, frame, p.l4_off + 20)   # headers only
                extra_len[0] = _tcp_rst(extra, p, False)
                n = _tcp_rst(frame, p, True)
                if n == 0 or extra_len[0] == 0:
                    return XDPFW_VERDICT_DROP
                reply_len[0] = n
                return XDPFW_VERDICT_REPLY_BOTH
            n = _tcp_rst(frame, p, False)
            if n:
                reply_len[0] = n
                return XDPFW_VERDICT_REPLY_PEER
            return XDPFW_VERDICT_DROP
        n = _tcp_rst(frame, p, True)
    else:
        n = _icmp_unreach_in_place(frame, length, room, p)
    if n:
        reply_len[0] = n
        return XDPFW_VERDICT_REPLY
    return XDPFW_VERDICT_DROP


cdef const uint8_t *_extra_entry(void *engine, uint32_t *length) noexcept nogil:
    """The worker's extra-reply function (Engine.extra_reply): rejectboth's second reset."""
    length[0] = (<Engine>engine).extra_len
    return (<Engine>engine).extra


cdef uint32_t _tcp_rst(uint8_t *frame, const xdpfw_pkt *p, bint to_sender) noexcept nogil:
    """Rewrite a TCP segment's headers (in the frame, or a copy of them) into a RST.
    to_sender: the RST its sender gets back (RFC 9293 3.10.7.1 for a reset answering a
    segment): MACs, addresses and ports swapped. Else the RST the destination gets in its
    place (rejectdst): same MACs, addresses and ports, at the segment's own sequence
    number (the next byte the receiver expects, since the segment itself never arrives).
    No payload, checksums recomputed. Returns the reply's length, or 0 when the frame
    cannot carry one (IPv6 with extension headers). Never longer than the headers."""
    cdef uint8_t tmp[16]
    cdef uint8_t *ip = frame + p.l3_off
    cdef uint8_t *th = frame + p.l4_off
    cdef uint32_t seq, ack, acc, hlen
    cdef uint8_t flags
    if to_sender:
        memcpy(tmp, frame, 6)        # Ethernet: swap destination and source
        memcpy(frame, frame + 6, 6)
        memcpy(frame + 6, tmp, 6)
    if p.ip_version == 4:
        hlen = p.l4_off - p.l3_off
        if to_sender:
            memcpy(tmp, ip + 12, 4)
            memcpy(ip + 12, ip + 16, 4)
            memcpy(ip + 16, tmp, 4)
        _put16(ip + 2, hlen + 20)    # total length: header + bare TCP header
        _put16(ip + 4, 0)            # id
        _put16(ip + 6, 0x4000)       # DF, no fragment
        ip[8] = 64                   # TTL
        _put16(ip + 10, 0)
        _put16(ip + 10, _fold(_sum16(ip, hlen, 0)))
    else:
        if p.l4_off != p.l3_off + 40:
            return 0
        if to_sender:
            memcpy(tmp, ip + 8, 16)
            memcpy(ip + 8, ip + 24, 16)
            memcpy(ip + 24, tmp, 16)
        _put16(ip + 4, 20)           # payload length
        ip[7] = 64                   # hop limit
    if not to_sender:                # in the segment's place, at its sequence number
        seq = p.tcp_seq
        ack = p.tcp_ack if p.tcp_flags & 0x10 else 0
        flags = 0x14 if p.tcp_flags & 0x10 else 0x04
    elif p.tcp_flags & 0x10:         # it carried an ACK: our RST takes that sequence number
        seq = p.tcp_ack
        ack = 0
        flags = 0x04
    else:                            # no ACK: acknowledge what it sent instead
        seq = 0
        ack = p.tcp_seq + p.payload_len + (1 if p.tcp_flags & 0x02 else 0) + (1 if p.tcp_flags & 0x01 else 0)
        flags = 0x14
    _put16(th, p.dport if to_sender else p.sport)
    _put16(th + 2, p.sport if to_sender else p.dport)
    _put32(th + 4, seq)
    _put32(th + 8, ack)
    th[12] = 5 << 4                  # data offset 5: no options
    th[13] = flags
    _put16(th + 14, 0)               # window
    _put16(th + 16, 0)               # checksum, below
    _put16(th + 18, 0)               # urgent pointer
    if p.ip_version == 4:
        acc = _sum16(ip + 12, 8, 0)  # pseudo-header: addresses, protocol, TCP length
    else:
        acc = _sum16(ip + 8, 32, 0)
    acc += 6 + 20
    _put16(th + 16, _fold(_sum16(th, 20, acc)))
    return p.l4_off + 20


cdef uint32_t _icmp_unreach_in_place(uint8_t *frame, uint32_t length, uint32_t room,
                                     const xdpfw_pkt *p) noexcept nogil:
    """Rewrite a (non-TCP) packet into the ICMP port unreachable its sender gets back
    (ICMPv6 destination unreachable, port unreachable, for IPv6): new IP and ICMP headers
    in front of the original IP header and the first 8 bytes after it (RFC 792 / RFC 4443;
    the quote is moved forward in place: header bytes only). Returns the reply's length,
    or 0 for what must not be answered (an ICMP error, a non-first fragment, a multicast
    or broadcast destination) or does not fit in `room`."""
    cdef uint8_t tmp[6]
    cdef uint8_t *ip = frame + p.l3_off
    cdef uint8_t *ic
    cdef uint32_t avail = length - p.l3_off, ihl, q, acc
    if p.frag_off:
        return 0
    if p.ip_version == 4:
        if (p.l4_proto == 1 and p.icmp_type in (3, 4, 5, 11, 12)) or ip[16] >= 224 or \
                (ip[16] == 255 and ip[17] == 255 and ip[18] == 255 and ip[19] == 255):
            return 0
        ihl = p.l4_off - p.l3_off
        q = ihl + (8 if avail >= ihl + 8 else avail - ihl)
        if p.l3_off + 28 + q > room:
            return 0
        memmove(ip + 28, ip, q)       # the quote: original IP header + 8 bytes
        ic = ip + 20
        ip[0] = 0x45
        ip[1] = 0
        _put16(ip + 2, 28 + q)
        _put16(ip + 4, 0)
        _put16(ip + 6, 0)
        ip[8] = 64
        ip[9] = 1
        memcpy(ip + 12, ip + 28 + 16, 4)   # from: the original destination
        memcpy(ip + 16, ip + 28 + 12, 4)   # to: the original source
        _put16(ip + 10, 0)
        _put16(ip + 10, _fold(_sum16(ip, 20, 0)))
        ic[0] = 3                     # destination unreachable
        ic[1] = 3                     # port unreachable
        memset(ic + 2, 0, 6)
        _put16(ic + 2, _fold(_sum16(ic, 8 + q, 0)))
        q += 28
    else:
        if (p.l4_proto == 58 and p.icmp_type < 128) or ip[24] == 0xFF:
            return 0
        q = 48 if avail >= 48 else avail
        if p.l3_off + 48 + q > room:
            return 0
        memmove(ip + 48, ip, q)       # the quote: original IPv6 header + 8 bytes
        ic = ip + 40
        ip[0] = 0x60
        ip[1] = ip[2] = ip[3] = 0
        _put16(ip + 4, 8 + q)
        ip[6] = 58
        ip[7] = 64
        memcpy(ip + 8, ip + 48 + 24, 16)
        memcpy(ip + 24, ip + 48 + 8, 16)
        ic[0] = 1                     # destination unreachable
        ic[1] = 4                     # port unreachable
        memset(ic + 2, 0, 6)
        acc = _sum16(ip + 8, 32, 0) + 8 + q + 58   # pseudo-header
        _put16(ic + 2, _fold(_sum16(ic, 8 + q, acc)))
        q += 48
    memcpy(tmp, frame, 6)             # Ethernet: swap destination and source
    memcpy(frame, frame + 6, 6)
    memcpy(frame + 6, tmp, 6)
    return p.l3_off + q


cdef inline void _put16(uint8_t *p, uint32_t v) noexcept nogil:
    p[0] = (v >> 8) & 0xFF
    p[1] = v & 0xFF


cdef inline void _put32(uint8_t *p, uint32_t v) noexcept nogil:
    p[0] = (v >> 24) & 0xFF
    p[1] = (v >> 16) & 0xFF
    p[2] = (v >> 8) & 0xFF
    p[3] = v & 0xFF


cdef inline uint32_t _sum16(const uint8_t *p, uint32_t n, uint32_t acc) noexcept nogil:
    cdef uint32_t i
    for i in range(0, n - 1, 2):
        acc += (<uint32_t>p[i] << 8) | p[i + 1]
    if n & 1:
        acc += <uint32_t>p[n - 1] << 8
    return acc


cdef inline uint16_t _fold(uint32_t acc) noexcept nogil:
    while acc >> 16:
        acc = (acc & 0xFFFF) + (acc >> 16)
    return <uint16_t>(~acc & 0xFFFF)
