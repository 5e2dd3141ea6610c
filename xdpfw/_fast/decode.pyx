# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""L2-L4 decoder: one frame in UMEM -> one struct xdpfw_pkt, in place.

`xdpfw_decode(frame, length, &pkt)` (cimport it from xdpfw._fast.decode) reads Ethernet
with its VLAN tags, IPv4 with options or IPv6 with its extension-header chain, through
IP-in-IP, GRE, VXLAN, Geneve, Teredo and MPLS to the innermost packet, then TCP with options, UDP,
ICMP or ICMPv6, and records offsets, fields and decode events
in the struct defined by xdpfw_pkt.h (which also states the rules every decoder follows).
It copies no payload, allocates nothing and touches no Python object; every read is
checked against `length` before it happens, so no input can make it read past the frame.

One file per protocol, included here so that the calls between layers stay plain C calls
the compiler can inline: decode_eth.pxi, decode_ipv4.pxi, decode_ipv6.pxi,
decode_tcp.pxi, decode_udp.pxi, decode_icmp.pxi, decode_tunnel.pxi. The pure-Python reference decoder
(xdpfw/ref/decode.py) implements the same contract independently; the tests compare both
on tables, fuzzed input and real captures.

Fragments are not reassembled: the first fragment's L4 header is decoded from what the
fragment holds (a UDP length then describes the whole datagram, so it is not checked),
and a later fragment is L3 plus payload.

The Python functions at the end (decode_to_dict, checksum checks, decode_frames) are for
tests and tools; they create objects and are not per-packet code.
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset

from xdpfw._fast.includes.pkt cimport *

# IP protocol numbers (IANA) the decoder branches on.
cdef enum:
    P_HOPOPTS = 0
    P_ICMP = 1
    P_IPIP = 4
    P_TCP = 6
    P_UDP = 17
    P_IPV6 = 41
    P_GRE = 47
    P_ROUTING = 43
    P_FRAGMENT = 44
    P_AH = 51
    P_ICMPV6 = 58
    P_NONE = 59
    P_DSTOPTS = 60


cdef inline uint16_t _be16(const uint8_t *p) noexcept nogil:
    return (<uint16_t>p[0] << 8) | p[1]


cdef inline uint32_t _be32(const uint8_t *p) noexcept nogil:
    return (<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | p[3]


cdef inline void _event(xdpfw_pkt *pkt, int ev) noexcept nogil:
    pkt.events[ev >> 6] |= (<uint64_t>1) << (ev & 63)


cdef inline int _fatal(xdpfw_pkt *pkt, int ev, uint8_t layer) noexcept nogil:
    # A fatal anomaly: the event, the layer that stopped decoding, no payload.
    pkt.events[ev >> 6] |= (<uint64_t>1) << (ev & 63)
    pkt.invalid_layer = layer
    pkt.payload_off = 0
    pkt.payload_len = 0
    return layer


include "decode_eth.pxi"
include "decode_ipv4.pxi"
include "decode_ipv6.pxi"
include "decode_tcp.pxi"
include "decode_udp.pxi"
include "decode_icmp.pxi"
include "decode_tunnel.pxi"


cdef inline int _decode_l4(const uint8_t *frame, uint32_t off, uint32_t avail,
                           xdpfw_pkt *pkt) noexcept nogil:
    # `avail` is the IP-bounded length of what follows the IP headers at `off`.
    pkt.l4_off = <uint16_t>off
    if pkt.frag_off == 0:
        if pkt.l4_proto == P_TCP:
            return _decode_tcp(frame, off, avail, pkt)
        if pkt.l4_proto == P_UDP:
            return _decode_udp(frame, off, avail, pkt)
        if pkt.l4_proto == P_ICMP and pkt.ip_version == 4:
            return _decode_icmpv4(frame, off, avail, pkt)
        if pkt.l4_proto == P_ICMPV6 and pkt.ip_version == 6:
            return _decode_icmpv6(frame, off, avail, pkt)
    # Not parsed here (or a later fragment, which carries no L4 header): all payload.
    pkt.payload_off = <uint16_t>off
    pkt.payload_len = avail
    return 0


cdef int xdpfw_decode(const uint8_t *frame, uint32_t length, xdpfw_pkt *pkt) noexcept nogil:
    # One IP level per turn: the outer packet, then each encapsulated one (decode_tunnel.pxi),
    # each bounded by the payload of the level around it.
    cdef int rc
    cdef uint32_t end = length
    memset(pkt, 0, sizeof(xdpfw_pkt))  # constant size: a few vector stores, no call
    pkt.frame_len = length
    rc = _decode_eth(frame, length, pkt)
    if rc:
        return rc
    while True:
        if pkt.ethertype == ETH_P_IP or pkt.ethertype == ETH_P_IPV6:
            if pkt.outer_l3_off == 0:
                pkt.outer_l3_off = pkt.l3_off
            if pkt.ethertype == ETH_P_IP:
                rc = _decode_ipv4(frame, end, pkt)
            else:
                rc = _decode_ipv6(frame, end, pkt)
            if rc:
                return rc
            rc = _decode_tunnel(frame, &end, pkt)
        elif pkt.ethertype == ETH_P_MPLS_UC or pkt.ethertype == ETH_P_MPLS_MC:
            rc = _decode_mpls(frame, end, pkt)
        else:
            return 0
        if rc <= 0:
            return -rc


# ---- checksums (RFC 1071), for an optional checksum-validation policy ------------------

cdef inline uint64_t _sum16(const uint8_t *p, uint32_t n, uint64_t acc) noexcept nogil:
    # Big-endian 16-bit words; an odd last byte is the high half of a zero-padded word.
    cdef uint32_t i = 0
    while i + 1 < n:
        acc += (<uint32_t>p[i] << 8) | p[i + 1]
        i += 2
    if i < n:
        acc += <uint32_t>p[i] << 8
    return acc


cdef inline uint32_t _fold(uint64_t acc) noexcept nogil:
    while acc >> 16:
        acc = (acc & 0xffff) + (acc >> 16)
    return <uint32_t>acc


cdef int xdpfw_ipv4_csum_ok(const uint8_t *frame, const xdpfw_pkt *pkt) noexcept nogil:
    if pkt.ip_version != 4 or not (pkt.layers & XDPFW_LAYER_L3):
        return -1
    return _fold(_sum16(frame + pkt.l3_off, pkt.l4_off - pkt.l3_off, 0)) == 0xffff


cdef int xdpfw_l4_csum_ok(const uint8_t *frame, const xdpfw_pkt *pkt) noexcept nogil:
    # The checksum covers the whole datagram, so a fragment cannot be checked alone. The
    # IPv6 pseudo-header uses the header's destination, which is the final one unless a
    # routing header still has segments left (then this reports a mismatch).
    cdef uint32_t n
    cdef uint64_t acc = 0
    if not (pkt.layers & XDPFW_LAYER_L4) or pkt.ip_flags & XDPFW_IP_FRAG:
        return -1
    n = pkt.payload_off + pkt.payload_len - pkt.l4_off
    if pkt.l4_proto == P_UDP and _be16(frame + pkt.l4_off + 6) == 0:
        return pkt.ip_version == 4  # "no checksum" is allowed over IPv4 only (RFC 8200 8.1)
    if pkt.l4_proto != P_ICMP:
        if pkt.ip_version == 4:
            acc = _sum16(pkt.src + 12, 4, acc)
            acc = _sum16(pkt.dst + 12, 4, acc)
        else:
            acc = _sum16(pkt.src, 16, acc)
            acc = _sum16(pkt.dst, 16, acc)
            acc += n >> 16
        acc += (n & 0xffff) + pkt.l4_proto
    return _fold(_sum16(frame + pkt.l4_off, n, acc)) == 0xffff


# ---- Python entry points for tests and tools (not per-packet code) --------------------

EVENTS = [(xdpfw_decode_event_name(i).decode(), xdpfw_decode_event_label(i).decode())
          for i in range(XDPFW_DECODE_EVENT_MAX)]
"""(C name, label) of every decode event, in bit order, as the C compiler saw the table."""
PKT_SIZE = sizeof(xdpfw_pkt)
MAX_VLAN = XDPFW_MAX_VLAN
IPV6_MAX_EXTHDRS = XDPFW_IPV6_MAX_EXTHDRS
MAX_TUNNELS = XDPFW_MAX_TUNNELS
_LABELS = [label for _, label in EVENTS]


cdef inline const uint8_t *_ptr(const uint8_t[::1] frame) noexcept:
    return &frame[0] if frame.shape[0] else NULL


cdef uint32_t _length(const uint8_t[::1] frame, length) except? 0:
    if length is None:
        return <uint32_t>frame.shape[0]
    if not 0 <= length <= frame.shape[0]:
        raise ValueError(f"length {length} outside 0..{frame.shape[0]}")
    return length


def decode_to_dict(const uint8_t[::1] frame not None, length=None):
    """Decode the first `length` bytes (default: all) of `frame`; the struct as a dict.

    Keys and values match xdpfw.ref.decode.decode_to_dict: the struct's fields, with
    `events` as the list of labels that fired (in table order), `vlan_id` as a list and
    the addresses as 16-byte strings.
    """
    cdef xdpfw_pkt pkt
    cdef uint32_t n = _length(frame, length)
    cdef int rc = xdpfw_decode(_ptr(frame), n, &pkt)
    if rc != pkt.invalid_layer:
        raise AssertionError(f"xdpfw_decode returned {rc}, invalid_layer {pkt.invalid_layer}")
    return {
        "frame_len": pkt.frame_len,
        "layers": pkt.layers,
        "invalid_layer": pkt.invalid_layer,
        "events": [_LABELS[i] for i in range(XDPFW_DECODE_EVENT_MAX) if (pkt.events[i >> 6] >> (i & 63)) & 1],
        "l3_off": pkt.l3_off,
        "l4_off": pkt.l4_off,
        "payload_off": pkt.payload_off,
        "payload_len": pkt.payload_len,
        "ethertype": pkt.ethertype,
        "vlan_depth": pkt.vlan_depth,
        "vlan_id": [pkt.vlan_id[0], pkt.vlan_id[1]],
        "ip_version": pkt.ip_version,
        "src": (<const char *>pkt.src)[:16],
        "dst": (<const char *>pkt.dst)[:16],
        "l4_proto": pkt.l4_proto,
        "ttl": pkt.ttl,
        "tos": pkt.tos,
        "ip_flags": pkt.ip_flags,
        "ip_id": pkt.ip_id,
        "frag_off": pkt.frag_off,
        "ipv6_exthdrs": pkt.ipv6_exthdrs,
        "sport": pkt.sport,
        "dport": pkt.dport,
        "tcp_seq": pkt.tcp_seq,
        "tcp_ack": pkt.tcp_ack,
        "tcp_flags": pkt.tcp_flags,
        "tcp_window": pkt.tcp_window,
        "tcp_doff": pkt.tcp_doff,
        "tcp_opts": pkt.tcp_opts,
        "tcp_mss": pkt.tcp_mss,
        "tcp_wscale": pkt.tcp_wscale,
        "tcp_tsval": pkt.tcp_tsval,
        "tcp_tsecr": pkt.tcp_tsecr,
        "icmp_type": pkt.icmp_type,
        "icmp_code": pkt.icmp_code,
        "icmp_inner_off": pkt.icmp_inner_off,
        "icmp_id": pkt.icmp_id,
        "icmp_seq": pkt.icmp_seq,
        "outer_l3_off": pkt.outer_l3_off,
        "tunnel_depth": pkt.tunnel_depth,
        "tunnels": pkt.tunnels,
        "outer_proto": pkt.outer_proto,
    }


def ipv4_csum_ok(const uint8_t[::1] frame not None):
    """xdpfw_ipv4_csum_ok on the decoded frame: True, False, or None (not applicable)."""
    cdef xdpfw_pkt pkt
    xdpfw_decode(_ptr(frame), <uint32_t>frame.shape[0], &pkt)
    cdef int rc = xdpfw_ipv4_csum_ok(_ptr(frame), &pkt)
    return None if rc < 0 else bool(rc)


def l4_csum_ok(const uint8_t[::1] frame not None):
    """xdpfw_l4_csum_ok on the decoded frame: True, False, or None (not applicable)."""
    cdef xdpfw_pkt pkt
    xdpfw_decode(_ptr(frame), <uint32_t>frame.shape[0], &pkt)
    cdef int rc = xdpfw_l4_csum_ok(_ptr(frame), &pkt)
    return None if rc < 0 else bool(rc)


def decode_frames(const uint8_t[::1] buf not None, const uint32_t[::1] offsets not None,
                  const uint32_t[::1] lengths not None, int rounds=1):
    """Decode frame i = buf[offsets[i]:offsets[i] + lengths[i]] for every i, `rounds`
    times, in one loop without the GIL (the worker's situation). Returns the number of
    frames with a fatal anomaly per round, so the work cannot be optimised away."""
    cdef Py_ssize_t i, n = offsets.shape[0]
    cdef int r
    cdef uint64_t invalid = 0
    cdef xdpfw_pkt pkt
    _check_frames(buf, offsets, lengths)
    with nogil:
        for r in range(rounds):
            for i in range(n):
                if xdpfw_decode(&buf[offsets[i]], lengths[i], &pkt):
                    invalid += 1
    return invalid // rounds if rounds > 0 else 0


def touch_frames(const uint8_t[::1] buf not None, const uint32_t[::1] offsets not None,
                 const uint32_t[::1] lengths not None, int rounds=1):
    """The benchmark's floor: the same loop as decode_frames, reading only the first and
    last byte of each frame (what any per-frame work costs in memory traffic)."""
    cdef Py_ssize_t i, n = offsets.shape[0]
    cdef int r
    cdef uint64_t acc = 0
    _check_frames(buf, offsets, lengths)
    with nogil:
        for r in range(rounds):
            for i in range(n):
                if lengths[i]:
                    acc += buf[offsets[i]] + buf[offsets[i] + lengths[i] - 1]
    return acc


cdef _check_frames(const uint8_t[::1] buf, const uint32_t[::1] offsets,
                   const uint32_t[::1] lengths):
    cdef Py_ssize_t i
    if offsets.shape[0] != lengths.shape[0]:
        raise ValueError("offsets and lengths differ in length")
    for i in range(offsets.shape[0]):
        if <Py_ssize_t>offsets[i] + lengths[i] > buf.shape[0]:
            raise ValueError(f"frame {i} lies outside the buffer")
