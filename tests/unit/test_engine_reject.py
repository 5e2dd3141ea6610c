"""The reject-frame builders on plain bytes (engine.reject_reply, engine_reject.pxi).

Frames are built here with struct, and every reply is read back with struct (and the
reference decoder, xdpfw/ref/decode.py) and its checksums recomputed here: nothing of
the engine's own code checks the engine. The end-to-end path (a reject rule, the verdict,
the counters) is in test_engine.py.
"""
from __future__ import annotations

import ipaddress
import struct

import pytest

from xdpfw._fast import engine as E
from xdpfw.ref.decode import decode_to_dict

MAC_C, MAC_S = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")
V4_C, V4_S = ipaddress.ip_address("192.0.2.1").packed, ipaddress.ip_address("198.51.100.2").packed
V6_C, V6_S = ipaddress.ip_address("2001:db8::1").packed, ipaddress.ip_address("2001:db8::2").packed
SRC, DST, BOTH = E.REJECT_SRC, E.REJECT_DST, E.REJECT_SRC | E.REJECT_DST
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def csum(data: bytes) -> int:
    """RFC 1071: the one's complement of the one's complement sum of 16-bit words."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def eth(payload: bytes, ethertype: int, dst=MAC_S, src=MAC_C, vlan=None) -> bytes:
    tag = struct.pack("!HH", 0x8100, vlan) if vlan is not None else b""
    return dst + src + tag + struct.pack("!H", ethertype) + payload


def ipv4(l4: bytes, proto: int, src=V4_C, dst=V4_S, ident=7, frag=0, options=b"", ttl=55) -> bytes:
    ihl = 5 + len(options) // 4
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, ihl * 4 + len(l4), ident, frag, ttl, proto, 0,
                      src, dst) + options
    return hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:] + l4


def ipv6(l4: bytes, nh: int, src=V6_C, dst=V6_S) -> bytes:
    return struct.pack("!IHBB16s16s", 0x60000000, len(l4), nh, 55, src, dst) + l4


def pseudo4(src, dst, proto, n):
    return src + dst + struct.pack("!BBH", 0, proto, n)


def pseudo6(src, dst, nh, n):
    return src + dst + struct.pack("!IxxxB", n, nh)


def tcp(seq, ack, flags, payload=b"", sport=40000, dport=80, pseudo=None) -> bytes:
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 29200, 0, 0)
    c = csum(pseudo(len(hdr) + len(payload)) + hdr + payload) if pseudo else 0
    return hdr[:16] + struct.pack("!H", c) + hdr[18:] + payload


def udp(payload=b"evil", sport=5353, dport=53, pseudo=None) -> bytes:
    hdr = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    c = csum(pseudo(8 + len(payload)) + hdr + payload) if pseudo else 0
    return hdr[:6] + struct.pack("!H", c) + payload


def tcp4(seq=1000, ack=5000, flags=PSH | ACK, payload=b"evil", **ip) -> bytes:
    src, dst = ip.get("src", V4_C), ip.get("dst", V4_S)
    seg = tcp(seq, ack, flags, payload, pseudo=lambda n: pseudo4(src, dst, 6, n))
    return eth(ipv4(seg, 6, **ip), 0x0800)


def tcp6(seq=1000, ack=5000, flags=PSH | ACK, payload=b"evil") -> bytes:
    seg = tcp(seq, ack, flags, payload, pseudo=lambda n: pseudo6(V6_C, V6_S, 6, n))
    return eth(ipv6(seg, 6), 0x86DD)


def udp4(payload=b"evil", **ip) -> bytes:
    src, dst = ip.get("src", V4_C), ip.get("dst", V4_S)
    return eth(ipv4(udp(payload, pseudo=lambda n: pseudo4(src, dst, 17, n)), 17, **ip), 0x0800)


def udp6(payload=b"evil", dst=V6_S) -> bytes:
    return eth(ipv6(udp(payload, pseudo=lambda n: pseudo6(V6_C, dst, 17, n)), 17, dst=dst), 0x86DD)


def icmp4(icmp_type, code=0, body=b"\0" * 4 + b"quoted bytes") -> bytes:
    msg = struct.pack("!BBH", icmp_type, code, 0) + body
    msg = msg[:2] + struct.pack("!H", csum(msg)) + msg[4:]
    return eth(ipv4(msg, 1), 0x0800)


def icmp6(icmp_type, code=0, body=b"\0" * 4 + b"quoted bytes") -> bytes:
    msg = struct.pack("!BBH", icmp_type, code, 0) + body
    c = csum(pseudo6(V6_C, V6_S, 58, len(msg)) + msg)
    return eth(ipv6(msg[:2] + struct.pack("!H", c) + msg[4:], 58), 0x86DD)


def check_ipv4(ip: bytes, proto: int, src: bytes, dst: bytes, length: int):
    ver_ihl, _, total, ident, frag, ttl, p, _, s, d = struct.unpack("!BBHHHBBH4s4s", ip[:20])
    ihl = (ver_ihl & 15) * 4
    assert ver_ihl >> 4 == 4 and total == length and (ttl, p) == (64, proto) and (s, d) == (src, dst)
    assert csum(ip[:ihl]) == 0, "IPv4 header checksum"
    return ihl, ident, frag


def check_ipv6(ip: bytes, nh: int, src: bytes, dst: bytes, plen: int):
    vtf, n, h, hop, s, d = struct.unpack("!IHBB16s16s", ip[:40])
    assert vtf >> 28 == 6 and (n, h, hop, s, d) == (plen, nh, 64, src, dst)


def check_tcp(seg: bytes, pseudo: bytes, sport, dport, seq, ack, flags):
    sp, dp, sq, ak, off, fl, win, _, urg = struct.unpack("!HHIIBBHHH", seg)
    assert (sp, dp, sq, ak, fl) == (sport, dport, seq, ack, flags)
    assert (off >> 4, win, urg) == (5, 0, 0)
    assert csum(pseudo + seg) == 0, "TCP checksum"


# ---- TCP resets -----------------------------------------------------------------------

@pytest.mark.parametrize("vlan", [None, 42])
def test_tcp_rst_to_the_sender_of_a_segment_with_ack(vlan):
    frame = tcp4()
    if vlan is not None:
        frame = frame[:12] + struct.pack("!HH", 0x8100, vlan) + frame[12:]
    verdict, reply, extra = E.reject_reply(frame, SRC)
    assert (verdict, extra) == ("reply", None)
    l3 = 14 + (4 if vlan is not None else 0)
    assert len(reply) == l3 + 40                       # headers only, the payload gone
    assert reply[:12] == MAC_C + MAC_S                 # back to the sender
    assert reply[12:l3] == frame[12:l3]                # VLAN tag and ethertype kept
    ihl, ident, frag = check_ipv4(reply[l3:], 6, V4_S, V4_C, 40)
    assert (ihl, ident, frag) == (20, 0, 0x4000)       # DF, no fragment
    # RFC 9293 3.10.7.1: it carried an ACK, so the reset takes that sequence number
    check_tcp(reply[l3 + 20:], pseudo4(V4_S, V4_C, 6, 20), 80, 40000, 5000, 0, RST)
    d = decode_to_dict(reply)
    assert d["events"] == [] and d["payload_len"] == 0 and d["vlan_id"][0] == (vlan or 0)


@pytest.mark.parametrize("flags,payload,ack", [(SYN, b"", 1001), (SYN, b"evil", 1005),
                                               (FIN | PSH, b"evil", 1005), (PSH, b"evil", 1004)])
def test_tcp_rst_to_the_sender_of_a_segment_without_ack(flags, payload, ack):
    # no ACK: the reset has sequence 0 and acknowledges what the segment occupied
    # (its payload, and SYN and FIN one each)
    verdict, reply, _ = E.reject_reply(tcp4(seq=1000, ack=0, flags=flags, payload=payload), SRC)
    assert verdict == "reply"
    check_ipv4(reply[14:], 6, V4_S, V4_C, 40)
    check_tcp(reply[34:54], pseudo4(V4_S, V4_C, 6, 20), 80, 40000, 0, ack, RST | ACK)


def test_tcp_rst_to_the_destination_takes_the_segments_place():
    frame = tcp4(seq=1000, ack=5000)
    verdict, reply, extra = E.reject_reply(frame, DST)
    assert (verdict, extra) == ("reply_peer", None)
    assert reply[:12] == frame[:12]                    # on towards the destination
    check_ipv4(reply[14:], 6, V4_C, V4_S, 40)
    # at the segment's own sequence number: the next byte the receiver expects
    check_tcp(reply[34:54], pseudo4(V4_C, V4_S, 6, 20), 40000, 80, 1000, 5000, RST | ACK)
    verdict, reply, _ = E.reject_reply(tcp4(seq=1000, ack=0, flags=SYN, payload=b""), DST)
    check_tcp(reply[34:54], pseudo4(V4_C, V4_S, 6, 20), 40000, 80, 1000, 0, RST)


def test_tcp_rst_to_both():
    frame = tcp4(seq=1000, ack=5000)
    verdict, reply, extra = E.reject_reply(frame, BOTH)
    assert verdict == "reply_both"
    assert (reply, None) == E.reject_reply(frame, SRC)[1:]
    assert (extra, None) == E.reject_reply(frame, DST)[1:]


def test_tcp_rst_keeps_ipv4_options_in_the_header():
    opts = b"\x01\x01\x01\x00"                         # NOP NOP NOP EOL: a 24-byte header
    frame = tcp4(options=opts)
    _, reply, _ = E.reject_reply(frame, SRC)
    assert len(reply) == 14 + 24 + 20
    ihl, _, _ = check_ipv4(reply[14:], 6, V4_S, V4_C, 44)
    assert ihl == 24 and reply[34:38] == opts
    check_tcp(reply[38:], pseudo4(V4_S, V4_C, 6, 20), 80, 40000, 5000, 0, RST)


def test_tcp_rst_over_ipv6():
    frame = tcp6(seq=1000, ack=5000)
    verdict, reply, extra = E.reject_reply(frame, BOTH)
    assert verdict == "reply_both" and len(reply) == len(extra) == 14 + 40 + 20
    assert reply[:12] == MAC_C + MAC_S and extra[:12] == MAC_S + MAC_C
    check_ipv6(reply[14:], 6, V6_S, V6_C, 20)
    check_tcp(reply[54:], pseudo6(V6_S, V6_C, 6, 20), 80, 40000, 5000, 0, RST)
    check_ipv6(extra[14:], 6, V6_C, V6_S, 20)
    check_tcp(extra[54:], pseudo6(V6_C, V6_S, 6, 20), 40000, 80, 1000, 5000, RST | ACK)
    assert decode_to_dict(reply)["events"] == decode_to_dict(extra)["events"] == []


def test_tcp_over_ipv6_extension_headers_is_not_answered():
    seg = tcp(1000, 5000, PSH | ACK, b"evil", pseudo=lambda n: pseudo6(V6_C, V6_S, 6, n))
    dstopts = struct.pack("!BB", 6, 0) + b"\x01\x04\0\0\0\0"   # next: TCP; PadN
    frame = eth(ipv6(dstopts + seg, 60), 0x86DD)
    assert decode_to_dict(frame)["l4_proto"] == 6
    for how in (SRC, DST, BOTH):
        assert E.reject_reply(frame, how) == ("drop", None, None)


# ---- ICMP port unreachable --------------------------------------------------------------

@pytest.mark.parametrize("payload", [b"", b"evil", b"x" * 600])
def test_icmp_port_unreachable_to_the_sender(payload):
    frame = udp4(payload)
    verdict, reply, extra = E.reject_reply(frame, SRC)
    assert (verdict, extra) == ("reply", None)
    quote = frame[14:14 + 20 + 8]                      # the original IP header + 8 bytes
    assert len(reply) == 14 + 20 + 8 + len(quote)
    assert reply[:12] == MAC_C + MAC_S
    check_ipv4(reply[14:], 1, V4_S, V4_C, 20 + 8 + len(quote))
    icmp = reply[34:]
    assert icmp[:2] == b"\x03\x03" and icmp[4:8] == b"\0" * 4   # unreachable, port; unused
    assert csum(icmp) == 0, "ICMP checksum"
    assert icmp[8:] == quote
    d = decode_to_dict(reply)
    assert (d["icmp_type"], d["icmp_code"], d["events"]) == (3, 3, [])


def test_icmp_quote_of_a_header_with_options():
    opts = b"\x01\x01\x01\x00"
    frame = udp4(options=opts)
    _, reply, _ = E.reject_reply(frame, SRC)
    quote = frame[14:14 + 24 + 8]
    assert reply[42:] == quote and len(reply) == 14 + 28 + 32
    check_ipv4(reply[14:], 1, V4_S, V4_C, 28 + 32)
    assert csum(reply[34:]) == 0


@pytest.mark.parametrize("payload", [b"", b"evil", b"x" * 600])
def test_icmpv6_port_unreachable_to_the_sender(payload):
    frame = udp6(payload)
    verdict, reply, _ = E.reject_reply(frame, SRC)
    assert verdict == "reply"
    quote = frame[14:14 + 48]                          # the IPv6 header + 8 bytes
    assert len(reply) == 14 + 40 + 8 + len(quote)
    assert reply[:12] == MAC_C + MAC_S
    check_ipv6(reply[14:], 58, V6_S, V6_C, 8 + len(quote))
    icmp = reply[54:]
    assert icmp[:2] == b"\x01\x04" and icmp[4:8] == b"\0" * 4   # unreachable, port; unused
    assert csum(pseudo6(V6_S, V6_C, 58, len(icmp)) + icmp) == 0, "ICMPv6 checksum"
    assert icmp[8:] == quote
    d = decode_to_dict(reply)
    assert (d["icmp_type"], d["icmp_code"], d["events"]) == (1, 4, [])


def test_icmp_informational_messages_are_answered():
    verdict, reply, _ = E.reject_reply(icmp4(8), SRC)        # echo request
    assert verdict == "reply" and reply[34:36] == b"\x03\x03" and csum(reply[34:]) == 0
    verdict, reply, _ = E.reject_reply(icmp6(128), SRC)      # echo request
    assert verdict == "reply" and reply[54:56] == b"\x01\x04"
    assert csum(pseudo6(V6_S, V6_C, 58, len(reply) - 54) + reply[54:]) == 0


# ---- what is never answered -------------------------------------------------------------

@pytest.mark.parametrize("icmp_type", [3, 4, 5, 11, 12])
def test_an_icmp_error_is_never_answered(icmp_type):
    assert E.reject_reply(icmp4(icmp_type), SRC) == ("drop", None, None)


@pytest.mark.parametrize("icmp_type", [1, 2, 3, 4, 127])
def test_an_icmpv6_error_is_never_answered(icmp_type):
    assert E.reject_reply(icmp6(icmp_type), SRC) == ("drop", None, None)


def test_a_non_first_fragment_is_never_answered():
    frame = udp4(b"x" * 16, frag=3)                    # offset 24 bytes
    assert decode_to_dict(frame)["frag_off"] == 24
    assert E.reject_reply(frame, SRC) == ("drop", None, None)
    assert E.reject_reply(udp4(b"x" * 16, frag=0x2000), SRC)[0] == "reply"   # the first one is


@pytest.mark.parametrize("dst", ["224.0.0.251", "239.255.255.250", "255.255.255.255"])
def test_multicast_and_broadcast_are_never_answered(dst):
    assert E.reject_reply(udp4(dst=ipaddress.ip_address(dst).packed), SRC) == ("drop", None, None)


def test_ipv6_multicast_is_never_answered():
    frame = udp6(dst=ipaddress.ip_address("ff02::fb").packed)
    assert E.reject_reply(frame, SRC) == ("drop", None, None)


def test_a_reply_that_does_not_fit_is_not_sent():
    frame = udp4(b"")                                  # 42 bytes; the reply needs 70
    assert E.reject_reply(frame, SRC, room=len(frame)) == ("drop", None, None)
    assert E.reject_reply(frame, SRC, room=70)[0] == "reply"
    assert E.reject_reply(frame, SRC, room=69) == ("drop", None, None)
    frame = udp6(b"")                                  # the IPv6 reply needs 14 + 48 + 48
    assert E.reject_reply(frame, SRC, room=110)[0] == "reply"
    assert E.reject_reply(frame, SRC, room=109) == ("drop", None, None)


def test_frames_no_rule_applies_to_are_refused():
    for frame in (b"", b"\0" * 10, eth(b"\0" * 28, 0x0806)):   # too short; ARP
        with pytest.raises(ValueError):
            E.reject_reply(frame, SRC)
