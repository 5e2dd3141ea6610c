# Frames from Python (included by engine.pyx): inspect_frame (tests: one frame, replies
# kept), replay_pcap (replay, bench and tests: a classic pcap held in memory, the loop in
# C) and reject_reply (tests: the reject-frame builders on plain bytes, no rule needed).

VERDICT_NAMES = ("pass", "drop", "reply", "reply_peer", "reply_both")   # XDPFW_VERDICT_* order

cdef object _inspect_frame(Engine self, frame, int side, uint64_t now_ns, uint64_t ts_ns,
                           uint64_t pkt_num):
    """Engine.inspect_frame."""
    cdef uint32_t n = len(frame)
    cdef bytearray buf = bytearray(frame) + bytearray(256)
    cdef uint8_t[:] view = buf
    cdef uint32_t reason = 0, reply_len = n + 256
    cdef int v
    self.pkt_ts_ns = ts_ns
    self.pkt_num = pkt_num
    self.extra_len = 0
    v = self.inspect(&view[0], n, side, now_ns, &reason, &reply_len)
    self.pkt_ts_ns = 0
    self.pkt_num = 0
    replied = v == XDPFW_VERDICT_REPLY or v == XDPFW_VERDICT_REPLY_PEER or v == XDPFW_VERDICT_REPLY_BOTH
    self.last_reply = bytes(buf[:reply_len]) if replied else None
    self.last_extra = bytes(self.extra[:self.extra_len]) if v == XDPFW_VERDICT_REPLY_BOTH else None
    self.last_frame = bytes(buf[:n]) if v == XDPFW_VERDICT_PASS else None
    return (VERDICT_NAMES[v], None if v == XDPFW_VERDICT_PASS else reason)


cdef object _replay_pcap(Engine self, const uint8_t[:] data, int side, size_t resume,
                         uint64_t packets_before):
    """Engine.replay_pcap."""
    cdef size_t n = data.shape[0], off = resume if resume else 24
    cdef const uint8_t *b = &data[0] if n else NULL
    cdef uint32_t magic, incl, linktype, reason, rlen = 0
    cdef uint64_t ts, scale, packets = packets_before, dropped = 0, truncated = 0
    cdef unsigned int room = self.ring_mask + 1 - MAX_FIRED
    cdef bint done = True
    cdef bint swap
    if self.replies:
        raise ValueError("replay_pcap with replies enabled would rewrite the capture")
    if n < 24:
        raise ValueError("not a pcap file: shorter than its global header")
    magic = _le32(b)
    if magic == 0xa1b2c3d4 or magic == 0xa1b23c4d:
        swap = False
    elif magic == 0xd4c3b2a1 or magic == 0x4d3cb2a1:
        swap = True
    else:
        raise ValueError("not a classic pcap file (pcapng is read by xdpfw.ref.pcap)")
    scale = 1 if (magic == 0xa1b23c4d or magic == 0x4d3cb2a1) else 1000
    linktype = _rd32(b + 20, swap) & 0x0FFFFFFF
    if linktype != 1:
        raise ValueError(f"link type {linktype} is not Ethernet (1)")
    with nogil:
        while off + 16 <= n:
            if self.ring_head - xdpfw_load_acq(&self.ring_tail) >= room:
                done = False  # the next packet could overflow the alert ring
                break
            ts = <uint64_t>_rd32(b + off, swap) * 1000000000ULL + <uint64_t>_rd32(b + off + 4, swap) * scale
            incl = _rd32(b + off + 8, swap)
            off += 16
            if incl > n - off:
                truncated += 1
                break
            packets += 1
            self.pkt_num = packets
            self.pkt_ts_ns = ts
            reason = 0
            # replay never has `replies` set: the capture's bytes are never rewritten
            if self.inspect(<uint8_t *>(b + off), incl, side, ts, &reason, &rlen) != XDPFW_VERDICT_PASS:
                dropped += 1
            off += incl
        self.pkt_num = 0
        self.pkt_ts_ns = 0
    return {"packets": packets, "dropped": dropped, "truncated": truncated, "offset": off,
            "done": done}


cdef inline uint32_t _le32(const uint8_t *p) noexcept nogil:
    return <uint32_t>p[0] | (<uint32_t>p[1] << 8) | (<uint32_t>p[2] << 16) | (<uint32_t>p[3] << 24)


cdef inline uint32_t _rd32(const uint8_t *p, bint swap) noexcept nogil:
    """A pcap header field: little-endian file unless the magic said otherwise."""
    if swap:
        return (<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | <uint32_t>p[3]
    return _le32(p)


def reject_reply(frame, uint32_t how=XDPFW_REJECT_SRC, room=None):
    """The replies a reject rule sends for `frame` (an Ethernet frame, bytes), built by the
    engine's own code (_reject_build) on a copy: no engine, no rule. how: REJECT_SRC and/or
    REJECT_DST (a rule's reject bits: reject/rejectsrc, rejectdst, rejectboth; TCP only
    answers the destination). room: the bytes the reply may take in the frame's buffer
    (default: the frame's length + 256, as inspect_frame gives). Returns (verdict, reply,
    extra) as inspect_frame's verdict and last_reply / last_extra: "drop" (not answered:
    reply None), "reply" (to the sender), "reply_peer" (to the destination) or
    "reply_both" (reply to the sender, extra to the destination). ValueError for a frame
    the decoder rejects or that is not IP (no rule would have fired on it)."""
    cdef xdpfw_pkt p
    cdef uint32_t n = len(frame)
    cdef uint32_t cap = n + 256 if room is None else room
    cdef bytearray buf = bytearray(frame) + bytearray(cap - n if cap > n else 0)
    cdef uint8_t extra[REJECT_EXTRA]
    cdef uint32_t reply_len = cap, extra_len = 0
    cdef uint8_t[:] view = buf
    cdef int v
    if n == 0 or xdpfw_decode(&view[0], n, &p) != 0 or p.ip_version == 0:
        raise ValueError("not a frame the engine would apply a rule to (decode error or not IP)")
    v = _reject_build(&view[0], n, &p, how, &reply_len, extra, &extra_len)
    return (VERDICT_NAMES[v], bytes(buf[:reply_len]) if v != XDPFW_VERDICT_DROP else None,
            bytes(extra[:extra_len]) if v == XDPFW_VERDICT_REPLY_BOTH else None)
