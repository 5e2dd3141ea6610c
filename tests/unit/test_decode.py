"""The L2-L4 decoder: Cython (xdpfw._fast.decode) and the pure-Python reference
(xdpfw.ref.decode) against the same tables, against each other, and against fuzzed input.

Every table test is written once in _DecodeCases and bound to both implementations
(TestDecodeFast, TestDecodeRef). Frames are built by scapy where a well-formed packet is
wanted (an independent builder), and by the small annotated helpers below where a field
must be wrong on purpose.
"""
from __future__ import annotations

import array
import ast
import random
import re
import socket
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import (ICMPv6DestUnreach, ICMPv6EchoReply, ICMPv6EchoRequest, IPv6,
                                IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop, RouterAlert)
from scapy.layers.ipsec import AH
from scapy.layers.l2 import ARP, Dot1AD, Dot1Q, Ether

from xdpfw._fast import decode as fast
from xdpfw.ref import decode as ref
from xdpfw.ref import pkt_h as H

L2, L3, L4 = H.LAYER_L2, H.LAYER_L3, H.LAYER_L4
ALL = L2 | L3 | L4
MAPPED = bytes(10) + b"\xff\xff"


# ---- frame builders for malformed input (checksums are left zero: not verified) ------

MACS = bytes.fromhex("020000000002" "020000000001")  # dst, src


def eth(ethertype: int, body: bytes) -> bytes:
    return MACS + struct.pack("!H", ethertype) + body


def vlan(vid: int, ethertype: int) -> bytes:
    """A VLAN tag's last 4 bytes: TCI (PCP 0, DEI 0, VID) and the next ethertype."""
    return struct.pack("!HH", vid, ethertype)


def ipv4(payload: bytes = b"", proto: int = 6, opts: bytes = b"", *, src="198.18.0.1",
         dst="198.18.0.2", ttl=64, ident=0x1234, frag=0, tos=0, total=None, ver_ihl=None) -> bytes:
    """IPv4 header (+ options, a multiple of 4 bytes) + payload. `frag`: flags|offset/8."""
    hlen = 20 + len(opts)
    return struct.pack("!BBHHHBBH4s4s", 0x40 | hlen // 4 if ver_ihl is None else ver_ihl, tos,
                       hlen + len(payload) if total is None else total, ident, frag, ttl, proto, 0,
                       socket.inet_aton(src), socket.inet_aton(dst)) + opts + payload


def ipv6(payload: bytes = b"", nh: int = 6, *, src="2001:db8::1", dst="2001:db8::2",
         hlim=64, tclass=0, plen=None, version=6) -> bytes:
    word0 = version << 28 | tclass << 20 | 0x12345  # flow label 0x12345
    return struct.pack("!IHBB16s16s", word0, len(payload) if plen is None else plen, nh, hlim,
                       socket.inet_pton(socket.AF_INET6, src),
                       socket.inet_pton(socket.AF_INET6, dst)) + payload


def ext(nh: int, body: bytes) -> bytes:
    """Hop-by-hop / routing / destination options header: next header, length in 8-byte
    units beyond the first 8, then `body` (len(body) + 2 must be a multiple of 8)."""
    assert (len(body) + 2) % 8 == 0
    return bytes([nh, (len(body) + 2) // 8 - 1]) + body


def routing(nh: int, rtype: int) -> bytes:
    """Routing header of `rtype` carrying one address, segments left 0."""
    return ext(nh, bytes([rtype, 0]) + bytes(4) + socket.inet_pton(socket.AF_INET6, "2001:db8::99"))


def frag6(nh: int, offset: int, more: bool, ident=0xABCDEF01, reserved=0, res_bits=0) -> bytes:
    return struct.pack("!BBHI", nh, reserved, offset | res_bits << 1 | int(more), ident)


def ah(nh: int, icv: bytes = b"", reserved=0) -> bytes:
    """AH (RFC 4302): length field = header length in 4-byte units minus 2."""
    return struct.pack("!BBHII", nh, (12 + len(icv)) // 4 - 2, reserved, 0x1000, 1) + icv


def tcp(payload: bytes = b"", opts: bytes = b"", *, sport=40000, dport=80, seq=1000, ack=2000,
        flags=0x18, window=512, doff=None) -> bytes:
    hlen = 20 + len(opts)
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, (hlen // 4 if doff is None else doff) << 4,
                       flags, window, 0, 0) + opts + payload


def udp(payload: bytes = b"", *, sport=40000, dport=53, ulen=None) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload) if ulen is None else ulen, 0) + payload


def icmp(itype: int, code: int = 0, rest: bytes = bytes(4), payload: bytes = b"") -> bytes:
    """ICMP or ICMPv6 header (type, code, checksum, 4 type-specific bytes) + payload."""
    return struct.pack("!BBH", itype, code, 0) + rest + payload


def gre(ptype: int, body: bytes = b"", *, csum=False, key=None, seq=None, flags=0) -> bytes:
    """GRE (RFC 2784/2890): flags and version, protocol type, then the optional checksum
    (+ reserved1), key and sequence number words the flags announce."""
    f = flags | (0x8000 if csum else 0) | (0x2000 if key is not None else 0) | (0x1000 if seq is not None else 0)
    opt = (bytes(4) if csum else b"") + (struct.pack("!I", key) if key is not None else b"") \
        + (struct.pack("!I", seq) if seq is not None else b"")
    return struct.pack("!HH", f, ptype) + opt + body


def vxlan(body: bytes, vni=42, flags=0x08) -> bytes:
    return struct.pack("!B3sI", flags, bytes(3), vni << 8) + body


def geneve(ptype: int, body: bytes, opts: bytes = b"", ver=0, vni=7) -> bytes:
    assert len(opts) % 4 == 0
    return struct.pack("!BBHI", ver << 6 | len(opts) // 4, 0, ptype, vni << 8) + opts + body


def mpls(*labels, body: bytes = b"") -> bytes:
    """Label stack entries (label, TC 0, S on the last, TTL 64) + body."""
    return b"".join(struct.pack("!I", lab << 12 | (0x100 if i == len(labels) - 1 else 0) | 64)
                    for i, lab in enumerate(labels)) + body


def teredo(inner: bytes, origin=False, auth: tuple[int, int] | None = None) -> bytes:
    head = b""
    if auth is not None:   # authentication: 0x0001, id-len, au-len, ids, nonce, confirmation
        head += bytes([0, 1, auth[0], auth[1]]) + bytes(auth[0] + auth[1]) + bytes(9)
    if origin:             # origin indication: 0x0000, port, address (obfuscated)
        head += bytes([0, 0]) + bytes(6)
    return head + inner


INNER4 = dict(src="198.19.1.1", dst="198.19.2.2")
INNER6 = dict(src="2001:db8:1::1", dst="2001:db8:2::2")


def v4(payload: bytes, proto: int = 6, **kw) -> bytes:
    return eth(0x0800, ipv4(payload, proto, **kw))


def v6(payload: bytes, nh: int = 6, **kw) -> bytes:
    return eth(0x86DD, ipv6(payload, nh, **kw))


RA4 = b"\x94\x04\x00\x00"  # IPv4 router alert option
PAD6 = b"\x01\x04\x00\x00\x00\x00"  # IPv6 PadN of 4: fills a minimal options header
RA6 = b"\x05\x02\x00\x00\x01\x00"   # IPv6 router alert (MLD) and a PadN of 0, as Linux sends
ICMP_QUOTE4 = ipv4(udp(b"abcd"), 17)
ICMP_QUOTE6 = ipv6(udp(b"abcd"), 17)

# One frame per decode event, and the layer the event stops decoding at (0: non-fatal).
EVENT_CASES = {
    "ethernet.pkt_too_small": (MACS[:10], L2),
    "vlan.header_too_small": (eth(0x8100, b"\x00\x05"), L2),
    "vlan.too_many_layers": (eth(0x88A8, vlan(5, 0x8100) + vlan(6, 0x8100) + vlan(7, 0x0800) + ipv4(tcp())), 0),
    "ipv4.pkt_too_small": (eth(0x0800, ipv4()[:19]), L3),
    "ipv4.hlen_too_small": (v4(tcp(), ver_ihl=0x44), L3),
    "ipv4.iplen_smaller_than_hlen": (v4(tcp(), total=19), L3),
    "ipv4.trunc_pkt": (v4(tcp(), total=100), L3),
    "ipv4.wrong_ip_version": (v4(tcp(), ver_ihl=0x65), L3),
    "ipv4.opt_invalid": (v4(tcp(), opts=b"\x9e\x04\x00\x00"), 0),        # type 0x9e unknown
    "ipv4.opt_invalid_len": (v4(tcp(), opts=b"\x94\x01\x00\x00"), 0),    # length 1
    "ipv4.opt_malformed": (v4(tcp(), opts=b"\x07\x07\x03" + bytes(5)), 0),  # RR pointer 3
    "ipv4.opt_eol_required": (v4(tcp(), opts=b"\x01\x01\x01\x94"), 0),   # a type in the last byte
    "ipv4.opt_duplicate": (v4(tcp(), opts=RA4 + RA4), 0),
    "ipv4.icmpv6": (v4(icmp(128), 58), 0),
    "ipv4.frag_pkt_too_large": (v4(bytes(16), 17, frag=0x1FFF), 0),       # offset 65528
    "ipv4.frag_invalid_length": (v4(bytes(7), 17, frag=0x2001), 0),       # MF, 7 bytes
    "ipv6.pkt_too_small": (eth(0x86DD, ipv6()[:39]), L3),
    "ipv6.trunc_pkt": (v6(tcp(), plen=100), L3),
    "ipv6.wrong_ip_version": (v6(tcp(), version=4), L3),
    "ipv6.trunc_exthdr": (v6(b"\x06\x01" + PAD6, 0), L3),                 # says 16, holds 8
    "ipv6.exthdr_too_many": (v6(b"".join(ext(60, PAD6) for _ in range(8)) + ext(6, PAD6) + tcp(), 60), 0),
    "ipv6.exthdr_dupl_fh": (v6(frag6(44, 0, True) + frag6(17, 0, True) + udp(bytes(16)), 44), 0),
    "ipv6.exthdr_useless_fh": (v6(frag6(17, 0, False) + udp(b"x"), 44), 0),
    "ipv6.exthdr_dupl_rh": (v6(routing(43, 2) + routing(6, 2) + tcp(), 43), 0),
    "ipv6.exthdr_dupl_hh": (v6(ext(0, RA6) + ext(6, RA6) + tcp(), 0), 0),
    "ipv6.exthdr_dupl_dh": (v6(ext(60, PAD6) + ext(6, PAD6) + tcp(), 60), 0),
    "ipv6.exthdr_dupl_ah": (v6(ah(51) + ah(6) + tcp(), 51), 0),
    "ipv6.exthdr_invalid_optlen": (v6(ext(6, b"\x01\x07" + bytes(4)) + tcp(), 0), 0),  # PadN past the end
    "ipv6.exthdr_ah_res_not_null": (v6(ah(6, reserved=1) + tcp(), 51), 0),
    "ipv6.hopopts_unknown_opt": (v6(ext(6, b"\x3e\x04" + bytes(4)) + tcp(), 0), 0),
    "ipv6.hopopts_only_padding": (v6(ext(6, PAD6) + tcp(), 0), 0),
    "ipv6.dstopts_unknown_opt": (v6(ext(6, b"\x3e\x04" + bytes(4)) + tcp(), 60), 0),
    "ipv6.dstopts_only_padding": (v6(ext(6, PAD6) + tcp(), 60), 0),
    "ipv6.rh_type_0": (v6(routing(6, 0) + tcp(), 43), 0),
    "ipv6.zero_len_padn": (v6(ext(58, RA6) + icmp(143, payload=bytes(4)), 0, hlim=1), 0),
    "ipv6.fh_non_zero_reserved_field": (v6(frag6(17, 0, True, reserved=1) + udp(bytes(8)), 44), 0),
    "ipv6.data_after_none_header": (v6(b"junk", 59), 0),
    "ipv6.icmpv4": (v6(icmp(8), 1), 0),
    "ipv6.frag_pkt_too_large": (v6(frag6(17, 65528, False) + bytes(16), 44), 0),
    "ipv6.frag_invalid_length": (v6(frag6(17, 0, True) + udp(bytes(5)), 44), 0),
    "tcp.pkt_too_small": (v4(tcp()[:19]), L4),
    "tcp.hlen_too_small": (v4(tcp(doff=4)), L4),
    "tcp.invalid_optlen": (v4(tcp(doff=15)), L4),
    "tcp.opt_invalid_len": (v4(tcp(opts=b"\x02\x05\x05\xb4\x00\x00\x00\x00")), 0),  # MSS of 5 bytes
    "tcp.opt_duplicate": (v4(tcp(opts=b"\x02\x04\x05\xb4" * 2)), 0),
    "udp.pkt_too_small": (v4(udp(b"abcd", ulen=100), 17), L4),
    "udp.hlen_too_small": (v4(udp()[:7], 17), L4),
    "udp.hlen_invalid": (v4(udp(b"abcd", ulen=8), 17), 0),
    "icmpv4.pkt_too_small": (v4(icmp(8)[:7], 1), L4),
    "icmpv4.unknown_type": (v4(icmp(99), 1), 0),
    "icmpv4.unknown_code": (v4(icmp(8, 1), 1), 0),
    "icmpv4.ipv4_trunc_pkt": (v4(icmp(3, 3, payload=ICMP_QUOTE4[:10]), 1), 0),
    "icmpv4.ipv4_unknown_ver": (v4(icmp(3, 3, payload=b"\x65" + ICMP_QUOTE4[1:]), 1), 0),
    "icmpv6.pkt_too_small": (v6(icmp(128)[:7], 58), L4),
    "icmpv6.unknown_type": (v6(icmp(0), 58), 0),
    "icmpv6.unknown_code": (v6(icmp(128, 1), 58), 0),
    "icmpv6.ipv6_trunc_pkt": (v6(icmp(1, 4, payload=ICMP_QUOTE6[:20]), 58), 0),
    "icmpv6.ipv6_unknown_version": (v6(icmp(1, 4, payload=b"\x45" + ICMP_QUOTE6[1:]), 58), 0),
    "icmpv6.mld_message_with_invalid_hl": (v6(icmp(130, payload=bytes(16)), 58), 0),
    "icmpv6.unassigned_type": (v6(icmp(50), 58), 0),
    "icmpv6.experimentation_type": (v6(icmp(200), 58), 0),
    "ipv6.unknown_next_header": (v6(ext(6, PAD6) + tcp(), 135), L3),   # mobility header
    "decoder.too_many_layers": (v4(ipv4(ipv4(ipv4(ipv4(ipv4(tcp()), 4), 4), 4), 4), 4), L4),
    "decoder.tunnel_fragment": (v4(ipv4(tcp(), **INNER4)[:24], 4, frag=0x2000), L4),
    "gre.pkt_too_small": (v4(gre(0x0800, key=7)[:6], 47), L4),
    "gre.wrong_version": (v4(gre(0x880B, flags=1) + bytes(8), 47), L4),   # PPTP's enhanced GRE
    "gre.unknown_payload_type": (v4(gre(0x88BE) + bytes(20), 47), L4),    # ERSPAN
    "decoder.inner_ethernet_too_small": (v4(gre(0x6558, MACS), 47), L2),
    "vxlan.pkt_too_small": (v4(udp(b"\x08\x00\x00", dport=4789), 17), L4),
    "geneve.pkt_too_small": (v4(udp(geneve(0x6558, b"", opts=bytes(8))[:12], dport=6081), 17), L4),
    "geneve.unknown_payload_type": (v4(udp(geneve(0x88BE, bytes(20)), dport=6081), 17), L4),
    "mpls.header_too_small": (eth(0x8847, mpls(16, 17)[:6]), L3),
    "mpls.unknown_payload_type": (eth(0x8847, mpls(16, body=b"\x95" + bytes(30))), L3),
}


# Well-formed frames (and a few edge cases) shared by the table tests, the direct
# comparison and the fuzzer's seeds.
TCP_OPTS = [("MSS", 1460), ("NOP", None), ("WScale", 7), ("SAckOK", b""), ("Timestamp", (123, 456))]
CASES = {
    "tcp4": bytes(Ether() / IP(src="198.18.0.1", dst="198.18.0.2", tos=0x28, ttl=33, id=0x1234, flags="DF")
                   / TCP(sport=40000, dport=443, seq=0x01020304, ack=0x0A0B0C0D, flags="PA", window=1234,
                         options=TCP_OPTS) / b"GET / HTTP/1.1\r\n"),
    "tcp6": bytes(Ether() / IPv6(src="2001:db8::1", dst="2001:db8::2", tc=0xB8, hlim=7)
                   / TCP(sport=5555, dport=22, seq=7, ack=9, flags="S", window=64240, options=TCP_OPTS)),
    "udp4": bytes(Ether() / IP(src="198.18.0.3", dst="198.18.0.4") / UDP(sport=5353, dport=53) / b"query"),
    "udp6": bytes(Ether() / IPv6() / UDP(sport=1000, dport=2000) / b"0123456789"),
    "icmp4_echo": bytes(Ether() / IP() / ICMP(type=8, id=0x4242, seq=7) / b"ping"),
    "icmp4_unreach": bytes(Ether() / IP() / ICMP(type=3, code=3) / IP(src="10.0.0.1") / UDP() / b"xx"),
    "icmp6_echo": bytes(Ether() / IPv6() / ICMPv6EchoRequest(id=0x99, seq=3, data=b"pong")),
    "icmp6_reply": bytes(Ether() / IPv6() / ICMPv6EchoReply(id=1, seq=2)),
    "icmp6_unreach": bytes(Ether() / IPv6() / ICMPv6DestUnreach(code=4) / IPv6() / UDP()),
    "vlan": bytes(Ether() / Dot1Q(vlan=100) / IP() / UDP()),
    "qinq": bytes(Ether() / Dot1AD(vlan=10) / Dot1Q(vlan=20) / IPv6() / TCP()),
    "arp": bytes(Ether() / ARP()),
    "llc": MACS + struct.pack("!H", 38) + bytes.fromhex("424203") + bytes(35),  # 802.3 + STP LLC
    "padded_tcp4": bytes(Ether() / IP() / TCP(flags="A")) + bytes(6),  # 54 -> 60 bytes on the wire
    "padded_udp6": bytes(Ether() / IPv6() / UDP() / b"ab") + b"\xee" * 4,
    "ipv4_options": v4(tcp(b"data"), opts=bytes.fromhex(
        "07 07 04 00000000"              # record route, 1 slot, pointer 4 (empty)
        "01"                             # NOP
        "44 0c 05 01 00000000 00000000"  # timestamp, flag 1 (address + time), pointer 5
        "94 04 0000"                     # router alert
        "00 000000")),                   # EOL and padding: 28 bytes of options
    "ipv6_chain": v6(ext(60, RA6) + ext(43, PAD6) + routing(44, 2)
                     + frag6(51, 0, True, ident=0x55) + ah(60, icv=bytes(12))
                     + ext(6, b"\xc9\x10" + bytes(16) + bytes(4))
                     + tcp(b"payload-1234", flags=0x02), 0, hlim=1),
    "ipv6_chain_scapy": bytes(Ether() / IPv6() / IPv6ExtHdrHopByHop(options=[RouterAlert()]) / IPv6ExtHdrDestOpt()
                               / IPv6ExtHdrFragment(m=1, id=0xABCDEF01) / TCP()),
    "ipv6_ah_scapy": bytes(Ether() / IPv6() / AH(nh=6, payloadlen=4, spi=7, icv=bytes(12)) / TCP()),
    "ipv4_frag_first": v4(tcp(b"A" * 12), frag=0x2000, ident=0x77),
    "ipv4_frag_middle": v4(b"B" * 16, frag=0x2000 | 185, ident=0x77),  # offset 1480
    "ipv4_frag_last": v4(b"C" * 5, frag=370, ident=0x77),  # offset 2960
    "ipv4_udp_first_frag": v4(udp(b"D" * 16, ulen=1000), 17, frag=0x2000),
    "ipv6_frag_first": v6(frag6(6, 0, True, ident=0x1234567) + tcp(b"E" * 12), 44),
    "ipv6_frag_middle": v6(frag6(6, 1448, True, ident=0x1234567) + b"F" * 24, 44),
    "ipv6_frag_last": v6(frag6(6, 2896, False, ident=0x1234567) + b"G" * 3, 44),
    "ipv6_esp": v6(bytes.fromhex("00001000 00000001") + b"encrypted", 50),
    "gre4": v4(gre(0x0800, ipv4(tcp(b"inner"), **INNER4)), 47),
    "gre6_key_seq_csum": v6(gre(0x86DD, ipv6(udp(b"q", dport=53), 17, **INNER6), csum=True, key=9, seq=3), 47),
    "gre_eth_vlan": v4(gre(0x6558, MACS + b"\x81\x00" + vlan(42, 0x0800) + ipv4(tcp(dport=443), **INNER4)), 47),
    "gre_eth_arp": v4(gre(0x6558, bytes(Ether() / ARP())), 47),
    "ipip": v4(ipv4(udp(b"x"), 17, **INNER4), 4),
    "ip6in4": v4(ipv6(tcp(b"y"), **INNER6), 41),
    "ip4in6": v6(ipv4(icmp(8, rest=b"\x00\x07\x00\x01"), 1, **INNER4), 4),
    "ip6in6_chain": v6(ext(41, PAD6) + ipv6(ext(6, PAD6) + tcp(b"z"), 60, **INNER6), 60),
    "nested_4": v4(ipv4(gre(0x86DD, ipv6(ipv4(ipv4(tcp(b"deep"), **INNER4), 4), 4)), 47), 4),
    "vxlan": v4(udp(vxlan(MACS + b"\x08\x00" + ipv4(tcp(b"vx", dport=8080), **INNER4)), sport=51000, dport=4789), 17),
    "vxlan_no_i_flag": v4(udp(vxlan(MACS + b"\x08\x00" + ipv4(tcp()), flags=0), dport=4789), 17),
    "geneve_eth_opts": v6(udp(geneve(0x6558, MACS + b"\x86\xdd" + ipv6(udp(b"gn", dport=53), 17, **INNER6),
                                    opts=bytes.fromhex("0102 0301 00000000")), dport=6081), 17),
    "geneve_ip": v4(udp(geneve(0x0800, ipv4(udp(b"g4", dport=53), 17, **INNER4)), dport=6081), 17),
    "geneve_v1": v4(udp(geneve(0x0800, ipv4(udp(b"g4", dport=53), 17, **INNER4), ver=1), dport=6081), 17),
    "teredo": v4(udp(teredo(ipv6(tcp(b"td", dport=80), **INNER6)), sport=3544, dport=40001), 17),
    "teredo_auth_origin": v4(udp(teredo(ipv6(udp(b"ta", dport=53), 17, **INNER6), origin=True, auth=(2, 3)),
                                 sport=40001, dport=3544), 17),
    "teredo_bubble": v4(udp(teredo(ipv6(b"", 59)), sport=3544, dport=40001), 17),
    "teredo_not_ipv6": v4(udp(b"\x45" + bytes(60), sport=3544, dport=40001), 17),
    "mpls_ipv4": eth(0x8847, mpls(100, 200, body=ipv4(tcp(b"mp", dport=8080), **INNER4))),
    "mpls_ipv6_mc": eth(0x8848, mpls(300, body=ipv6(udp(b"m6"), 17, **INNER6))),
    "mpls_pw_eth": eth(0x8847, mpls(400, body=bytes(4) + MACS + b"\x08\x00" + ipv4(udp(b"pw"), 17, **INNER4))),
    "gre_mpls": v4(gre(0x8847, mpls(500, body=ipv4(tcp(b"gm"), **INNER4))), 47),
    "vlan_stack4": eth(0x88A8, vlan(5, 0x8100) + vlan(6, 0x8100) + vlan(7, 0x8100) + vlan(8, 0x0800) + ipv4(tcp())),
    "tcp_all_options": v4(tcp(opts=bytes.fromhex(
        "1312" + "00" * 16            # MD5 signature, 18
        + "1d04 0102"                 # TCP-AO, 4
        + "1e04 0000" + "1e03 01"     # MPTCP twice (no duplicate event)
        + "22 02"                     # Fast Open cookie request
        + "0504" + "000000"           # SACK of length 4: wrong; then EOL
        ))),
    "tcp_eol_stops": v4(tcp(opts=bytes.fromhex("00 020405b4 000000"))),  # MSS after EOL is padding
    "icmp4_router_adv_16": v4(icmp(9, 16, rest=b"\x00\x00\x00\x00"), 1),
    "empty": b"",
}


# ---- the two implementations ----------------------------------------------------------

class FastImpl:
    decode = staticmethod(fast.decode_to_dict)


class RefImpl:
    decode = staticmethod(ref.decode_to_dict)


def check(d: dict, **expected):
    """Assert the given fields of a decoded dict, naming every mismatch at once."""
    wrong = {k: (d[k], v) for k, v in expected.items() if d[k] != v}
    assert not wrong, f"(got, expected): {wrong}"


def payload(frame: bytes, d: dict) -> bytes:
    return frame[d["payload_off"]:d["payload_off"] + d["payload_len"]]


class _DecodeCases:
    """The table tests; `self.decode` comes from FastImpl or RefImpl."""

    # -- every field of well-formed frames -------------------------------------------
    def test_tcp_ipv4_every_field(self):
        f = CASES["tcp4"]
        d = self.decode(f)
        check(d, frame_len=len(f), layers=ALL, invalid_layer=0, events=[], l3_off=14, l4_off=34,
              payload_off=34 + 40, payload_len=16, ethertype=0x0800, vlan_depth=0, vlan_id=[0, 0],
              ip_version=4, src=MAPPED + bytes([198, 18, 0, 1]), dst=MAPPED + bytes([198, 18, 0, 2]),
              l4_proto=6, ttl=33, tos=0x28, ip_flags=H.IP_DF, ip_id=0x1234, frag_off=0, ipv6_exthdrs=0,
              sport=40000, dport=443, tcp_seq=0x01020304, tcp_ack=0x0A0B0C0D, tcp_flags=0x18,
              tcp_window=1234, tcp_doff=10,
              tcp_opts=H.TCPOPT_MSS | H.TCPOPT_WSCALE | H.TCPOPT_SACK_PERM | H.TCPOPT_TS,
              tcp_mss=1460, tcp_wscale=7, tcp_tsval=123, tcp_tsecr=456,
              icmp_type=0, icmp_code=0, icmp_inner_off=0, icmp_id=0, icmp_seq=0)
        assert payload(f, d) == b"GET / HTTP/1.1\r\n"

    def test_tcp_ipv6_every_field(self):
        f = CASES["tcp6"]
        d = self.decode(f)
        check(d, layers=ALL, invalid_layer=0, events=[], l3_off=14, l4_off=54, payload_off=94,
              payload_len=0, ethertype=0x86DD, ip_version=6,
              src=socket.inet_pton(socket.AF_INET6, "2001:db8::1"),
              dst=socket.inet_pton(socket.AF_INET6, "2001:db8::2"), l4_proto=6, ttl=7, tos=0xB8,
              ip_flags=0, ip_id=0, ipv6_exthdrs=0, sport=5555, dport=22, tcp_seq=7, tcp_ack=9,
              tcp_flags=0x02, tcp_window=64240, tcp_doff=10, tcp_mss=1460, tcp_wscale=7,
              tcp_tsval=123, tcp_tsecr=456)

    def test_udp(self):
        f = CASES["udp4"]
        d = self.decode(f)
        check(d, layers=ALL, events=[], l4_proto=17, sport=5353, dport=53, l4_off=34, payload_off=42,
              payload_len=5, src=MAPPED + bytes([198, 18, 0, 3]))
        assert payload(f, d) == b"query"
        f = CASES["udp6"]
        d = self.decode(f)
        check(d, layers=ALL, events=[], ip_version=6, l4_proto=17, sport=1000, dport=2000,
              payload_off=62, payload_len=10)
        assert payload(f, d) == b"0123456789"

    def test_icmp_echo(self):
        d = self.decode(CASES["icmp4_echo"])
        check(d, layers=ALL, events=[], l4_proto=1, icmp_type=8, icmp_code=0, icmp_id=0x4242,
              icmp_seq=7, sport=0, dport=0, payload_off=42, payload_len=4, icmp_inner_off=0)
        d = self.decode(CASES["icmp6_echo"])
        check(d, layers=ALL, events=[], l4_proto=58, icmp_type=128, icmp_id=0x99, icmp_seq=3,
              payload_off=62, payload_len=4)
        check(self.decode(CASES["icmp6_reply"]), events=[], icmp_type=129, icmp_id=1, icmp_seq=2)

    def test_icmp_errors_point_at_the_quoted_header(self):
        f = CASES["icmp4_unreach"]
        d = self.decode(f)
        check(d, layers=ALL, events=[], icmp_type=3, icmp_code=3, icmp_inner_off=42, icmp_id=0)
        assert f[42] >> 4 == 4 and f[42 + 12:42 + 16] == bytes([10, 0, 0, 1])
        f = CASES["icmp6_unreach"]
        d = self.decode(f)
        check(d, layers=ALL, events=[], icmp_type=1, icmp_code=4, icmp_inner_off=62)
        assert f[62] >> 4 == 6

    def test_vlan_and_qinq(self):
        d = self.decode(CASES["vlan"])
        check(d, layers=ALL, vlan_depth=1, vlan_id=[100, 0], ethertype=0x0800, l3_off=18, l4_off=38)
        d = self.decode(CASES["qinq"])
        check(d, layers=ALL, vlan_depth=2, vlan_id=[10, 20], ethertype=0x86DD, l3_off=22, l4_off=62)
        # the VID is the low 12 bits of the TCI: priority and DEI bits are not part of it
        d = self.decode(eth(0x8100, vlan(0xE000 | 0x1000 | 4095, 0x0800) + ipv4(tcp())))
        check(d, layers=ALL, vlan_id=[4095, 0])

    def test_stacked_vlan_tags_are_walked_to_the_end_of_the_frame(self):
        # Three, four, and as many tags as a 1500-byte frame holds: decoded and inspected,
        # the first two VIDs recorded, vlan.too_many_layers only as an event.
        for n in (3, 4, 300, 360):
            tags = b"".join(vlan(10 + i, 0x8100 if i < n - 1 else 0x0800) for i in range(n))
            f = eth(0x8100, tags + ipv4(tcp(b"hidden")))
            d = self.decode(f)
            check(d, layers=ALL, invalid_layer=0, vlan_depth=min(n, 255), vlan_id=[10, 11],
                  ethertype=0x0800, l3_off=14 + 4 * n, events=["vlan.too_many_layers"], dport=80)
            assert payload(f, d) == b"hidden"
        d = self.decode(CASES["vlan_stack4"])
        check(d, layers=ALL, vlan_depth=4, vlan_id=[5, 6], events=["vlan.too_many_layers"])

    def test_vlan_anomalies_are_fatal_and_leave_l2_fields_zero(self):
        d = self.decode(eth(0x88A8, vlan(5, 0x8100) + vlan(6, 0x8100) + b"\x00\x07"))  # third tag cut short
        check(d, layers=0, invalid_layer=L2, vlan_depth=0, vlan_id=[0, 0], ethertype=0, l3_off=0,
              events=["vlan.header_too_small"])
        d = self.decode(eth(0x8100, vlan(5, 0x8100) + b"\x00"))  # second tag cut short
        check(d, layers=0, invalid_layer=L2, vlan_depth=0, events=["vlan.header_too_small"])

    def test_non_ip_frames_decode_l2_only(self):
        for name, ethertype in (("arp", 0x0806), ("llc", 38)):
            d = self.decode(CASES[name])
            check(d, layers=L2, invalid_layer=0, events=[], ethertype=ethertype, l3_off=14,
                  ip_version=0, l4_off=0, payload_off=0, payload_len=0)

    def test_ethernet_padding_is_not_payload(self):
        f = CASES["padded_tcp4"]
        assert len(f) == 60
        check(self.decode(f), layers=ALL, events=[], payload_off=54, payload_len=0, frame_len=60)
        f = CASES["padded_udp6"]
        d = self.decode(f)
        check(d, layers=ALL, events=[], payload_len=2)
        assert payload(f, d) == b"ab"

    def test_unparsed_upper_layers_are_payload(self):
        f = CASES["ipv6_esp"]
        d = self.decode(f)
        check(d, layers=L2 | L3, invalid_layer=0, events=[], l4_proto=50, l4_off=54, payload_off=54,
              payload_len=17)
        # A protocol number that is neither an extension header nor decoded: payload.
        d = self.decode(v6(b"ospf", 89))
        check(d, layers=L2 | L3, events=[], l4_proto=89, payload_len=4)
        d = self.decode(v6(b"junk", 59))
        check(d, layers=L2 | L3, l4_proto=59, payload_len=4, events=["ipv6.data_after_none_header"])
        check(self.decode(v6(b"", 59)), layers=L2 | L3, l4_proto=59, payload_len=0, events=[])

    # -- IPv4 --------------------------------------------------------------------------
    def test_ipv4_options_are_skipped_and_validated(self):
        f = CASES["ipv4_options"]
        d = self.decode(f)
        check(d, layers=ALL, events=[], l4_off=14 + 20 + 28, payload_len=4)
        assert payload(f, d) == b"data"

    def test_ipv4_option_checks(self):
        for opts, events in [
            (b"\x07\x07\x08" + bytes(4) + b"\x00", []),             # RR full: pointer = length + 1
            (b"\x07\x07\x09" + bytes(4) + b"\x00", ["ipv4.opt_malformed"]),
            (b"\x07\x02\x00\x00", ["ipv4.opt_invalid_len"]),        # RR with no pointer
            (b"\x44\x0c\x05\x00" + bytes(8), []),                   # timestamps only
            (b"\x44\x0c\x09\x01" + bytes(8), ["ipv4.opt_malformed"]),  # addr+time: records of 8
            (b"\x44\x03\x05\x00", ["ipv4.opt_invalid_len"]),
            (b"\x82\x0b" + bytes(9) + b"\x00", []),                 # security, 11 bytes
            (b"\x82\x0a" + bytes(8) + b"\x00\x00", ["ipv4.opt_invalid_len"]),
            (b"\x88\x04\x00\x01", []),                              # stream id
            (b"\x88\x03\x00\x00", ["ipv4.opt_invalid_len"]),
            (b"\x19\x08" + bytes(6), []),                           # quick-start
            (b"\x86\x06\x00\x00\x00\x01\x00\x00", []),              # CIPSO, DOI only
            (b"\x86\x05\x00\x00\x00\x00\x00\x00", ["ipv4.opt_invalid_len"]),
            (b"\x94\x09\x00\x00", ["ipv4.opt_invalid_len"]),        # runs past the header
            (b"\x00\x94\x01\x99", []),                              # after EOL: padding, unread
            (b"\x9e\x04\x00\x00\x9e\x04\x00\x00", ["ipv4.opt_invalid"]),  # unknown twice: not a duplicate
        ]:
            d = self.decode(v4(tcp(), opts=opts))
            check(d, layers=ALL, events=events, l4_off=34 + len(opts))

    def test_ipv4_fragments(self):
        d = self.decode(CASES["ipv4_frag_first"])
        check(d, layers=ALL, events=[], ip_flags=H.IP_FRAG | H.IP_MF, frag_off=0, ip_id=0x77,
              sport=40000, dport=80, payload_len=12)
        f = CASES["ipv4_frag_middle"]
        d = self.decode(f)
        check(d, layers=L2 | L3, events=[], ip_flags=H.IP_FRAG | H.IP_MF, frag_off=1480, l4_proto=6,
              l4_off=34, payload_off=34, payload_len=16, sport=0, tcp_seq=0)
        assert payload(f, d) == b"B" * 16
        d = self.decode(CASES["ipv4_frag_last"])
        check(d, layers=L2 | L3, events=[], ip_flags=H.IP_FRAG, frag_off=2960, payload_len=5)
        # The first fragment of a UDP datagram: the UDP length is the whole datagram's.
        d = self.decode(CASES["ipv4_udp_first_frag"])
        check(d, layers=ALL, events=[], sport=40000, dport=53, payload_len=16)
        # A tiny first fragment (RFC 1858) cannot hold the TCP header: fatal.
        check(self.decode(v4(tcp()[:8], frag=0x2000)), invalid_layer=L4, events=["tcp.pkt_too_small"])

    def test_ipv4_flag_bits(self):
        check(self.decode(v4(tcp(), frag=0x8000)), ip_flags=H.IP_RF, events=[])
        check(self.decode(v4(tcp(), frag=0x4000)), ip_flags=H.IP_DF, events=[])

    def test_ipv4_fatal_anomalies_leave_l3_empty(self):
        for label in ("ipv4.pkt_too_small", "ipv4.hlen_too_small", "ipv4.iplen_smaller_than_hlen",
                      "ipv4.trunc_pkt", "ipv4.wrong_ip_version"):
            d = self.decode(EVENT_CASES[label][0])
            check(d, layers=L2, invalid_layer=L3, events=[label], ip_version=0, src=bytes(16),
                  l4_proto=0, l4_off=0, payload_off=0, payload_len=0, l3_off=14)

    # -- IPv6 --------------------------------------------------------------------------
    def test_ipv6_extension_chain(self):
        f = CASES["ipv6_chain"]
        d = self.decode(f)
        # hop-by-hop (8: router alert, PadN of 0), destination options (8: padding only),
        # routing type 2 (24), fragment (8, first), AH (24), destination options again
        # after the routing header (24: home address), then TCP.
        check(d, layers=ALL, invalid_layer=0,
              events=["ipv6.dstopts_only_padding", "ipv6.zero_len_padn"],
              ipv6_exthdrs=H.EXT_HOPOPTS | H.EXT_DSTOPTS | H.EXT_ROUTING | H.EXT_FRAG | H.EXT_AH,
              ip_flags=H.IP_FRAG | H.IP_MF, ip_id=0x55, frag_off=0, l4_proto=6,
              l4_off=54 + 8 + 8 + 24 + 8 + 24 + 24, payload_len=12, tcp_flags=0x02)
        assert payload(f, d) == b"payload-1234"

    def test_ipv6_extension_chain_frombytes(self):
        d = self.decode(CASES["ipv6_chain_scapy"])
        check(d, layers=ALL, ipv6_exthdrs=H.EXT_HOPOPTS | H.EXT_DSTOPTS | H.EXT_FRAG,
              events=["ipv6.dstopts_only_padding", "ipv6.zero_len_padn", "ipv6.frag_invalid_length"],
              ip_flags=H.IP_FRAG | H.IP_MF, ip_id=0xABCDEF01, l4_off=54 + 24, sport=20, dport=80)
        d = self.decode(CASES["ipv6_ah_scapy"])
        check(d, layers=ALL, events=[], ipv6_exthdrs=H.EXT_AH, l4_off=54 + 24, dport=80)

    def test_ipv6_fragments(self):
        d = self.decode(CASES["ipv6_frag_first"])
        check(d, layers=ALL, events=[], ip_flags=H.IP_FRAG | H.IP_MF, ip_id=0x1234567, frag_off=0,
              ipv6_exthdrs=H.EXT_FRAG, l4_off=62, payload_len=12, dport=80)
        f = CASES["ipv6_frag_middle"]
        d = self.decode(f)
        check(d, layers=L2 | L3, events=[], ip_flags=H.IP_FRAG | H.IP_MF, frag_off=1448, l4_proto=6,
              l4_off=62, payload_off=62, payload_len=24, dport=0)
        assert payload(f, d) == b"F" * 24
        d = self.decode(CASES["ipv6_frag_last"])
        check(d, layers=L2 | L3, events=[], ip_flags=H.IP_FRAG, frag_off=2896, payload_len=3)
        # An atomic fragment is a whole datagram: decoded through, not flagged a fragment.
        d = self.decode(EVENT_CASES["ipv6.exthdr_useless_fh"][0])
        check(d, layers=ALL, ip_flags=0, frag_off=0, ipv6_exthdrs=H.EXT_FRAG, sport=40000,
              events=["ipv6.exthdr_useless_fh"])
        # Headers after the fragment header of a first fragment are still walked.
        d = self.decode(v6(frag6(60, 0, True) + ext(17, PAD6) + udp(bytes(16)), 44))
        check(d, layers=ALL, ipv6_exthdrs=H.EXT_FRAG | H.EXT_DSTOPTS, l4_proto=17,
              events=["ipv6.dstopts_only_padding"])

    def test_ipv6_destination_options_before_and_after_routing(self):
        d = self.decode(v6(ext(43, PAD6) + routing(60, 2) + ext(6, PAD6) + tcp(), 60))
        check(d, layers=ALL, events=["ipv6.dstopts_only_padding"])

    def test_ipv6_exthdr_chains_of_any_length(self):
        chain = b"".join(ext(60 if i < 7 else 6, b"\xc9\x10" + bytes(20)) for i in range(8))
        d = self.decode(v6(chain + tcp(), 60))  # exactly XDPFW_IPV6_MAX_EXTHDRS: no event
        assert d["layers"] == ALL and "ipv6.exthdr_too_many" not in d["events"]
        # 9, 20, and as many 8-byte destination options headers as a 1500-byte frame holds
        # (each with a PadN: the bypass of issue 11 was nine of them before UDP).
        for n in (9, 20, (1500 - 14 - 40 - 8 - 6) // 8):
            f = v6(b"".join(ext(60 if i < n - 1 else 17, PAD6) for i in range(n)) + udp(b"ATTACK", dport=53), 60)
            d = self.decode(f)
            check(d, layers=ALL, invalid_layer=0, l4_proto=17, dport=53, l4_off=54 + 8 * n,
                  ipv6_exthdrs=H.EXT_DSTOPTS,
                  events=["ipv6.exthdr_too_many", "ipv6.exthdr_dupl_dh", "ipv6.dstopts_only_padding"])
            assert payload(f, d) == b"ATTACK"
            assert len(f) <= 1514
        # a chain running past the payload length is still truncation
        d = self.decode(v6(b"".join(ext(60, PAD6) for _ in range(12)), 60))
        check(d, layers=L2, invalid_layer=L3, ip_version=6, l4_proto=0, ipv6_exthdrs=0, payload_len=0)
        assert "ipv6.trunc_exthdr" in d["events"]

    def test_ipv6_atomic_fragment_is_decoded_through(self):
        # RFC 6946: offset 0, M clear; also after other headers, also twice.
        f = v6(ext(44, PAD6) + frag6(44, 0, False) + frag6(17, 0, False) + udp(b"atomic"), 60)
        d = self.decode(f)
        check(d, layers=ALL, ip_flags=0, frag_off=0, l4_proto=17, ipv6_exthdrs=H.EXT_FRAG | H.EXT_DSTOPTS,
              events=["ipv6.exthdr_dupl_fh", "ipv6.exthdr_useless_fh", "ipv6.dstopts_only_padding"])
        assert payload(f, d) == b"atomic"

    def test_ipv6_unknown_next_header_is_fatal(self):
        for nh in (135, 139, 140, 253, 254):
            for frame in (v6(ext(6, PAD6) + tcp(), nh), v6(ext(nh, PAD6) + ext(6, PAD6) + tcp(), 60)):
                d = self.decode(frame)
                check(d, layers=L2, invalid_layer=L3, ip_version=6, l4_proto=0, payload_len=0)
                assert "ipv6.unknown_next_header" in d["events"]
        # in a later fragment the next header describes data, not a header: not fatal
        d = self.decode(v6(frag6(135, 8, False) + bytes(8), 44))
        check(d, layers=L2 | L3, invalid_layer=0, l4_proto=135, frag_off=8)

    # -- encapsulation -----------------------------------------------------------------
    def test_gre_ipv4_inner_packet_is_the_one_decoded(self):
        f = CASES["gre4"]
        d = self.decode(f)
        check(d, layers=ALL, invalid_layer=0, events=[], tunnel_depth=1, tunnels=H.TUN_GRE,
              outer_l3_off=14, outer_proto=47, l3_off=14 + 20 + 4, l4_off=14 + 20 + 4 + 20, ip_version=4, l4_proto=6,
              src=MAPPED + socket.inet_aton("198.19.1.1"), dst=MAPPED + socket.inet_aton("198.19.2.2"),
              sport=40000, dport=80, ethertype=0x0800)
        assert payload(f, d) == b"inner"

    def test_gre_optional_fields_and_ipv6(self):
        f = CASES["gre6_key_seq_csum"]
        d = self.decode(f)
        check(d, layers=ALL, tunnel_depth=1, tunnels=H.TUN_GRE, outer_l3_off=14, l3_off=14 + 40 + 16,
              ip_version=6, l4_proto=17, dport=53, ethertype=0x86DD,
              src=socket.inet_pton(socket.AF_INET6, "2001:db8:1::1"))
        assert payload(f, d) == b"q"

    def test_gre_bridged_ethernet(self):
        d = self.decode(CASES["gre_eth_vlan"])
        # the inner frame's VLAN tag is walked; the VLAN fields stay the outer frame's
        check(d, layers=ALL, tunnel_depth=1, tunnels=H.TUN_GRE_ETH, vlan_depth=0, vlan_id=[0, 0],
              l3_off=14 + 20 + 4 + 18, dport=443, src=MAPPED + socket.inet_aton("198.19.1.1"))
        d = self.decode(CASES["gre_eth_arp"])   # non-IP inside: like a non-IP frame
        check(d, layers=L2, invalid_layer=0, tunnel_depth=1, ip_version=0, ethertype=0x0806, events=[])

    def test_ip_in_ip_all_four_ways(self):
        check(self.decode(CASES["ipip"]), layers=ALL, tunnel_depth=1, tunnels=H.TUN_IPIP, ip_version=4,
              l4_proto=17, dport=53, l3_off=34, src=MAPPED + socket.inet_aton("198.19.1.1"))
        check(self.decode(CASES["ip6in4"]), layers=ALL, tunnel_depth=1, ip_version=6, l4_proto=6,
              l3_off=34, ethertype=0x86DD)
        check(self.decode(CASES["ip4in6"]), layers=ALL, tunnel_depth=1, ip_version=4, l4_proto=1,
              icmp_type=8, icmp_id=7, l3_off=54)
        d = self.decode(CASES["ip6in6_chain"])
        check(d, layers=ALL, tunnel_depth=1, ip_version=6, l3_off=62, l4_off=62 + 48, ipv6_exthdrs=H.EXT_DSTOPTS,
              events=["ipv6.dstopts_only_padding"])

    def test_vxlan(self):
        f = CASES["vxlan"]
        d = self.decode(f)
        check(d, layers=ALL, invalid_layer=0, tunnel_depth=1, tunnels=H.TUN_VXLAN, outer_l3_off=14,
              l3_off=14 + 20 + 8 + 8 + 14, ip_version=4, l4_proto=6, dport=8080, sport=40000,
              src=MAPPED + socket.inet_aton("198.19.1.1"), events=[])
        assert payload(f, d) == b"vx"
        # no I flag: not VXLAN (a Linux VTEP drops it), a plain UDP datagram
        check(self.decode(CASES["vxlan_no_i_flag"]), layers=ALL, tunnel_depth=0, l4_proto=17, dport=4789)

    def test_geneve(self):
        f = CASES["geneve_eth_opts"]
        d = self.decode(f)
        check(d, layers=ALL, tunnel_depth=1, tunnels=H.TUN_GENEVE, l3_off=14 + 40 + 8 + 16 + 14,
              ip_version=6, l4_proto=17, dport=53, src=socket.inet_pton(socket.AF_INET6, "2001:db8:1::1"))
        assert payload(f, d) == b"gn"
        d = self.decode(CASES["geneve_ip"])
        check(d, layers=ALL, tunnel_depth=1, tunnels=H.TUN_GENEVE, l3_off=14 + 20 + 8 + 8, ip_version=4)
        check(self.decode(CASES["geneve_v1"]), layers=ALL, tunnel_depth=0, dport=6081)

    def test_teredo(self):
        f = CASES["teredo"]
        d = self.decode(f)
        check(d, layers=ALL, tunnel_depth=1, tunnels=H.TUN_TEREDO, l3_off=42, ip_version=6, l4_proto=6,
              dport=80, ethertype=0x86DD)
        assert payload(f, d) == b"td"
        d = self.decode(CASES["teredo_auth_origin"])
        check(d, layers=ALL, tunnel_depth=1, l3_off=42 + 4 + 5 + 9 + 8, l4_proto=17, dport=53)
        for name in ("teredo_bubble", "teredo_not_ipv6"):   # inspected as the UDP they are
            check(self.decode(CASES[name]), layers=ALL, tunnel_depth=0, l4_proto=17, sport=3544)
        # an IPv6 packet longer than the datagram is not Teredo data either
        check(self.decode(v4(udp(teredo(ipv6(tcp(), plen=100)), dport=3544), 17)), layers=ALL, tunnel_depth=0)

    def test_mpls(self):
        f = CASES["mpls_ipv4"]
        d = self.decode(f)
        check(d, layers=ALL, tunnel_depth=1, tunnels=H.TUN_MPLS, l3_off=22, outer_l3_off=22, outer_proto=0, ip_version=4,
              dport=8080, ethertype=0x0800)
        assert payload(f, d) == b"mp"
        check(self.decode(CASES["mpls_ipv6_mc"]), layers=ALL, tunnel_depth=1, l3_off=18, ip_version=6)
        check(self.decode(CASES["mpls_pw_eth"]), layers=ALL, tunnel_depth=1, l3_off=18 + 4 + 14, ip_version=4,
              l4_proto=17)
        d = self.decode(CASES["gre_mpls"])
        check(d, layers=ALL, tunnel_depth=2, tunnels=H.TUN_GRE | H.TUN_MPLS, outer_l3_off=14, outer_proto=47,
              l3_off=14 + 20 + 4 + 4, dport=80)
        # a stack of 300 labels is walked as far as it goes
        d = self.decode(eth(0x8847, mpls(*range(16, 316), body=ipv4(udp(b"deep"), 17))))
        check(d, layers=ALL, tunnel_depth=1, l3_off=14 + 1200)

    def test_nesting_up_to_the_bound(self):
        d = self.decode(CASES["nested_4"])   # IPv4 in IPv4, in GRE, IPv6, IPv4, IPv4: four levels
        check(d, layers=ALL, tunnel_depth=4, tunnels=H.TUN_IPIP | H.TUN_GRE, ip_version=4, dport=80)
        assert H.MAX_TUNNELS == 4
        d = self.decode(EVENT_CASES["decoder.too_many_layers"][0])  # five
        check(d, layers=L2 | L3, invalid_layer=L4, tunnel_depth=4, l4_proto=4, payload_len=0)

    def test_tunnel_fatal_anomalies(self):
        # an outer fragment carrying a tunnel: the inner packet is not in one fragment
        d = self.decode(EVENT_CASES["decoder.tunnel_fragment"][0])
        check(d, layers=L2 | L3, invalid_layer=L4, tunnel_depth=0, l4_proto=4, payload_len=0)
        d = self.decode(v4(b"x" * 16, 47, frag=0x0004))   # a later fragment of GRE
        check(d, layers=L2 | L3, invalid_layer=L4, events=["decoder.tunnel_fragment"])
        # GRE with the routing bit (RFC 1701; Linux drops it) or version 1
        check(self.decode(v4(gre(0x0800, flags=0x4000) + bytes(24), 47)), invalid_layer=L4,
              events=["gre.wrong_version"])
        # the inner IP header is checked like an outer one; the outer one's fields are gone
        d = self.decode(v4(gre(0x0800, ipv4(tcp())[:19]), 47))
        check(d, layers=L2, invalid_layer=L3, tunnel_depth=1, ip_version=0, src=bytes(16),
              events=["ipv4.pkt_too_small"])
        # the inner packet is bounded by the outer one's length, not by the frame
        inner = ipv4(tcp(b"abc"), **INNER4)
        d = self.decode(v4(gre(0x0800, inner), 47, total=20 + 4 + len(inner) - 1) + b"\x00")
        check(d, layers=L2, invalid_layer=L3, tunnel_depth=1, events=["ipv4.trunc_pkt"])

    def test_truncated_tunnels_at_every_byte(self):
        for name in ("gre4", "gre6_key_seq_csum", "gre_eth_vlan", "ip6in4", "nested_4", "vxlan", "geneve_eth_opts",
                     "geneve_ip", "mpls_ipv4", "mpls_pw_eth", "gre_mpls"):
            frame = CASES[name]
            full = self.decode(frame)
            for n in range(len(frame)):
                d = self.decode(frame[:n])
                assert d["invalid_layer"], (name, n)   # every cut is a decode error
                assert d["payload_len"] == 0, (name, n)
            # and the IP length cut at every byte of the outer payload
            outer_l3 = full["outer_l3_off"]
            for cut in range(outer_l3 + (40 if frame[12:14] == b"\x86\xdd" else 20), len(frame)):
                f = bytearray(frame[:cut])
                if full["ethertype"] == 0x86DD and frame[12:14] == b"\x86\xdd":
                    struct.pack_into("!H", f, outer_l3 + 4, cut - outer_l3 - 40)
                elif frame[12:14] == b"\x08\x00":
                    struct.pack_into("!H", f, outer_l3 + 2, cut - outer_l3)
                else:
                    continue
                d = self.decode(bytes(f) + bytes(64))  # padding after the cut is never inner data
                assert d["invalid_layer"], (name, cut)

    def test_ipv6_fatal_chain_keeps_fixed_header(self):
        d = self.decode(EVENT_CASES["ipv6.trunc_exthdr"][0])
        check(d, layers=L2, invalid_layer=L3, events=["ipv6.trunc_exthdr"], ip_version=6, ttl=64,
              src=socket.inet_pton(socket.AF_INET6, "2001:db8::1"), l4_proto=0, l4_off=0, payload_len=0)
        # AH shorter than its fixed fields
        d = self.decode(v6(b"\x06\x00" + bytes(6) + tcp(), 51))
        check(d, invalid_layer=L3, events=["ipv6.trunc_exthdr"])

    def test_ipv6_option_lengths(self):
        for opts, events in [
            (b"\x05\x02\x00\x00\x01\x00", ["ipv6.zero_len_padn"]),          # router alert + PadN(0)
            (b"\x05\x03\x00\x00\x00\x00", ["ipv6.exthdr_invalid_optlen"]),  # router alert of 3
            (b"\xc2\x04\x00\x01\x00\x00", []),                             # jumbo payload
            (b"\x04\x01\x04\x01\x01\x00", []),                          # tunnel encap limit, PadN(1)
            (b"\x00\x00\x00\x00\x00\x00", ["ipv6.hopopts_only_padding"]),   # Pad1 x 6
        ]:
            check(self.decode(v6(ext(6, opts) + tcp(), 0)), layers=ALL, events=events)
        # A TLV head at the very end of the header (no room for its length byte).
        d = self.decode(v6(ext(6, b"\x00\x00\x00\x00\x00\x05") + tcp(), 0))
        check(d, layers=ALL, events=["ipv6.exthdr_invalid_optlen"])

    def test_mld_hop_limit(self):
        d = self.decode(EVENT_CASES["ipv6.zero_len_padn"][0])  # a well-formed MLDv2 report
        check(d, layers=ALL, events=["ipv6.zero_len_padn"], icmp_type=143, ttl=1)
        d = self.decode(EVENT_CASES["icmpv6.mld_message_with_invalid_hl"][0])
        check(d, events=["icmpv6.mld_message_with_invalid_hl"], icmp_type=130, ttl=64)

    # -- TCP, UDP, ICMP ------------------------------------------------------------------
    def test_tcp_options(self):
        d = self.decode(CASES["tcp_all_options"])
        check(d, layers=ALL, events=["tcp.opt_invalid_len"],
              tcp_opts=H.TCPOPT_MD5 | H.TCPOPT_AO | H.TCPOPT_MPTCP | H.TCPOPT_FASTOPEN)
        d = self.decode(CASES["tcp_eol_stops"])
        check(d, layers=ALL, events=[], tcp_opts=0, tcp_mss=0)
        for opts, events, bits in [
            (b"\x05\x0a" + bytes(8) + b"\x01\x01", [], H.TCPOPT_SACK),       # one SACK block
            (b"\x05\x0b" + bytes(9) + b"\x00", ["tcp.opt_invalid_len"], 0),  # 9 bytes of blocks
            (b"\x03\x03\x0e\x00", [], H.TCPOPT_WSCALE),
            (b"\x08\x0a" + bytes(8) + b"\x08\x0a" + bytes(8), ["tcp.opt_duplicate"], H.TCPOPT_TS),
            (b"\x22\x04\x00\x00", ["tcp.opt_invalid_len"], 0),              # cookie of 2 bytes
            (b"\x22\x06\x00\x00\x00\x00\x00\x00", [], H.TCPOPT_FASTOPEN),
            (b"\x01\x01\x01\x02", ["tcp.opt_invalid_len"], 0),              # no room for a length
            (b"\x02\x01\x00\x00", ["tcp.opt_invalid_len"], 0),              # length 1
            (b"\x02\x00\x00\x00", ["tcp.opt_invalid_len"], 0),              # length 0
            (b"\xfe\x04\x00\x00", [], 0),                                  # unknown kind: skipped
        ]:
            check(self.decode(v4(tcp(opts=opts))), layers=ALL, events=events, tcp_opts=bits)

    def test_udp_length_field(self):
        f = v6(udp(b"abcd", ulen=10) + b"tail", 17)  # 2 of 4 bytes are UDP data
        d = self.decode(f)
        check(d, layers=ALL, events=["udp.hlen_invalid"], payload_len=2)
        assert payload(f, d) == b"ab"
        check(self.decode(v4(udp(b"abcd", ulen=7), 17)), invalid_layer=L4, events=["udp.hlen_invalid"],
              sport=0, payload_len=0)

    def test_icmp_types_and_codes(self):
        for frame, events in [
            (CASES["icmp4_router_adv_16"], []),
            (v4(icmp(9, 8), 1), ["icmpv4.unknown_code"]),
            (v4(icmp(3, 15, payload=ICMP_QUOTE4), 1), []),
            (v4(icmp(3, 16, payload=ICMP_QUOTE4), 1), ["icmpv4.unknown_code"]),
            (v4(icmp(43, 4), 1), []),
            (v6(icmp(4, 10, payload=ICMP_QUOTE6), 58), []),
            (v6(icmp(4, 11, payload=ICMP_QUOTE6), 58), ["icmpv6.unknown_code"]),
            (v6(icmp(161, 7), 58), []),            # extended echo reply: codes not checked
            (v6(icmp(162), 58), ["icmpv6.unassigned_type"]),
            (v6(icmp(255), 58), ["icmpv6.unknown_type"]),
            (v6(icmp(101), 58), ["icmpv6.experimentation_type"]),
        ]:
            check(self.decode(frame), layers=ALL, events=events)

    # -- every event, and what each one stops --------------------------------------------
    @pytest.mark.parametrize("label", list(EVENT_CASES))
    def test_event(self, label):
        frame, fatal_layer = EVENT_CASES[label]
        d = self.decode(frame)
        assert label in d["events"], d["events"]
        assert d["invalid_layer"] == fatal_layer
        if fatal_layer:
            assert not d["layers"] & fatal_layer and d["payload_len"] == 0
            assert d["layers"] == fatal_layer - 1  # every layer below it decoded
        else:
            assert d["layers"] & (L2 | L3) == L2 | L3

    def test_empty_and_tiny_frames(self):
        for n in range(14):
            check(self.decode(b"\xff" * n), layers=0, invalid_layer=L2, frame_len=n,
                  events=["ethernet.pkt_too_small"])

    # -- truncation: never past the end, always the right event ----------------------------
    def test_truncated_tcp_ipv6_frame_at_every_byte(self):
        frame = TRUNC_V6
        for n in range(len(frame) + 1):
            d = self.decode(frame[:n])
            if n < 14:
                want, layer = ["ethernet.pkt_too_small"], L2
            elif n < 54:
                want, layer = ["ipv6.pkt_too_small"], L3
            elif n < len(frame):
                want, layer = ["ipv6.trunc_pkt"], L3
            else:
                want, layer = TRUNC_V6_EVENTS, 0
            check(d, events=want, invalid_layer=layer, frame_len=n)

    def test_ip_length_cut_at_every_byte_of_tcp_ipv6(self):
        # The frame shrinks with the IPv6 payload length: the cut lands in each header.
        for plen in range(TRUNC_V6_PLEN + 1):
            body = TRUNC_V6[54:54 + plen]
            d = self.decode(v6(body, 0))
            in_tcp = plen - TRUNC_V6_EXT
            if in_tcp < 0:  # the hop-by-hop header (8 bytes) may already be decoded
                check(d, events=["ipv6.trunc_exthdr"] + (TRUNC_V6_EVENTS if plen >= 8 else []),
                      invalid_layer=L3, layers=L2)
            elif in_tcp < 20:
                check(d, events=TRUNC_V6_EVENTS + ["tcp.pkt_too_small"], invalid_layer=L4, layers=L2 | L3)
            elif in_tcp < TRUNC_V6_TCP_HLEN:
                check(d, events=TRUNC_V6_EVENTS + ["tcp.invalid_optlen"], invalid_layer=L4, layers=L2 | L3)
            else:
                check(d, events=TRUNC_V6_EVENTS, invalid_layer=0, layers=ALL,
                      payload_len=in_tcp - TRUNC_V6_TCP_HLEN)

    def test_truncated_vlan_tcp_ipv4_frame_at_every_byte(self):
        frame = bytes(Ether() / Dot1Q(vlan=3) / IP() / TCP(options=TCP_OPTS) / b"xyz")
        for n in range(len(frame) + 1):
            d = self.decode(frame[:n])
            want = (["ethernet.pkt_too_small"] if n < 14 else ["vlan.header_too_small"] if n < 18
                    else ["ipv4.pkt_too_small"] if n < 38 else ["ipv4.trunc_pkt"] if n < len(frame) else [])
            assert d["events"] == want, n

    def test_bytes_past_the_length_are_never_read(self):
        # Same decode whatever follows the frame in memory.
        for frame in [TRUNC_V6, CASES["ipv4_options"], CASES["qinq"], CASES["icmp6_unreach"]]:
            for n in range(len(frame) + 1):
                expected = self.decode(frame[:n])
                for junk in (b"\x00" * 64, b"\xff" * 64, frame):
                    assert self.decode(frame[:n] + junk, n) == expected, n


# A TCP/IPv6 frame with extension headers, TCP options and payload, for truncation.
TRUNC_V6_CHAIN = ext(60, RA6) + ext(43, b"\xc9\x10" + bytes(20)) + routing(6, 2)
TRUNC_V6_TCP = tcp(b"0123456789", opts=bytes.fromhex("020405b4 0402 080a0000000100000002 01 030307"))
TRUNC_V6 = v6(TRUNC_V6_CHAIN + TRUNC_V6_TCP, 0, hlim=1)
TRUNC_V6_PLEN = len(TRUNC_V6) - 54
TRUNC_V6_EXT = len(TRUNC_V6_CHAIN)
TRUNC_V6_TCP_HLEN = 20 + 20
TRUNC_V6_EVENTS = ["ipv6.zero_len_padn"]


class TestDecodeFast(_DecodeCases, FastImpl):
    pass


class TestDecodeRef(_DecodeCases, RefImpl):
    pass


# ---- contract, comparison, fuzzing ----------------------------------------------------

def test_event_table_matches_the_header_and_is_covered():
    assert fast.EVENTS == H.EVENTS  # as the C compiler and the Python reader see it
    labels = [label for _, label in H.EVENTS]
    assert len(labels) == len(set(labels)) <= 64 * H.EV_WORDS
    assert all(re.fullmatch(r"[a-z0-9]+\.[a-z0-9_]+", label) for label in labels)
    assert all(name.startswith("XDPFW_EV_") for name, _ in H.EVENTS)
    assert set(EVENT_CASES) == set(labels), "every decode event needs a case in EVENT_CASES"


def test_struct_layout():
    assert fast.PKT_SIZE == 128
    assert fast.MAX_VLAN == H.MAX_VLAN == 2
    assert fast.IPV6_MAX_EXTHDRS == H.IPV6_MAX_EXTHDRS
    assert fast.MAX_TUNNELS == H.MAX_TUNNELS
    assert list(fast.decode_to_dict(b"")) == list(ref.FIELDS)


def _all_frames():
    yield from CASES.items()
    for label, (frame, _) in EVENT_CASES.items():
        yield label, frame
    yield "trunc_v6", TRUNC_V6


@pytest.mark.parametrize("name,frame", list(_all_frames()))
def test_fast_equals_reference(name, frame):
    assert fast.decode_to_dict(frame) == ref.decode_to_dict(frame)


def _mutants(rng: random.Random, seeds: list[bytes], n: int):
    """Valid frames with bytes overwritten, inserted, deleted, and cut short."""
    for _ in range(n):
        f = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 6)):
            op = rng.random()
            if op < 0.6 and f:
                f[rng.randrange(len(f))] = rng.randrange(256)
            elif op < 0.8:
                f.insert(rng.randrange(len(f) + 1), rng.randrange(256))
            elif f:
                del f[rng.randrange(len(f))]
        if rng.random() < 0.3:
            del f[rng.randrange(len(f) + 1):]
        yield bytes(f)


def _random_frames(rng: random.Random, n: int):
    """Random bytes behind an Ethernet header whose type leads somewhere, and raw noise."""
    starts = [b"\x08\x00\x45", b"\x08\x00\x46", b"\x08\x00\x4f", b"\x86\xdd\x60", b"\x81\x00\x00\x01\x08\x00\x45",
              b"\x88\xa8\x00\x01\x81\x00\x00\x02\x86\xdd\x60", b""]
    # valid outer headers announcing a tunnel, random bytes after them
    starts += [b"\x08\x00" + ipv4(bytes(8), proto)[:20] for proto in (4, 41, 47)]
    starts += [b"\x86\xdd" + ipv6(bytes(8), nh)[:40] for nh in (4, 41, 47)]
    starts += [b"\x08\x00" + ipv4(gre(0x6558), 47)[:24], b"\x08\x00" + ipv4(gre(0x86DD, key=1), 47)[:28]]
    starts += [b"\x08\x00" + ipv4(udp(dport=port), 17)[:28] for port in (4789, 6081, 3544)]
    starts += [b"\x08\x00" + ipv4(udp(b"\x08" + bytes(7), dport=4789), 17)[:36], b"\x88\x47", b"\x88\x48\x00\x00\x01"]
    for _ in range(n):
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 160)))
        yield MACS + rng.choice(starts) + body if rng.random() < 0.8 else body[:rng.randrange(0, 40)]


def test_fuzz_fast_equals_reference():
    rng = random.Random(20241122)
    seeds = [f for _, f in _all_frames() if len(f) >= 14]
    n = 0
    for frame in list(_mutants(rng, seeds, 4000)) + list(_random_frames(rng, 2000)):
        a, b = fast.decode_to_dict(frame), ref.decode_to_dict(frame)
        assert a == b, f"frame {frame.hex()}: " + str({k: (a[k], b[k]) for k in a if a[k] != b[k]})
        n += 1
    assert n == 6000


GUARD_PAGE = r"""
import ctypes, mmap, sys
from xdpfw._fast.decode import decode_to_dict
page = mmap.PAGESIZE
mm = mmap.mmap(-1, 2 * page)
libc = ctypes.CDLL(None, use_errno=True)
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
base = ctypes.addressof(ctypes.c_char.from_buffer(mm))
assert libc.mprotect(base + page, page, 0) == 0, ctypes.get_errno()   # PROT_NONE
view = memoryview(mm)
count = 0
for line in sys.stdin:
    frame = bytes.fromhex(line.strip())
    for n in range(len(frame) + 1):   # the frame ends exactly where the guard page starts
        view[page - n:page] = frame[:n]
        decode_to_dict(view[page - n:page])
        count += 1
print(count)
"""


def test_fast_decoder_never_reads_past_the_frame():
    # Each prefix of each frame is placed flush against an inaccessible page: one byte
    # read past the end would kill the child with SIGSEGV.
    rng = random.Random(7)
    seeds = [f for _, f in _all_frames() if len(f) >= 14]
    frames = [f for _, f in _all_frames()] + list(_mutants(rng, seeds, 300))
    stdin = "\n".join(f.hex() for f in frames if len(f) <= 4096) + "\n"
    proc = subprocess.run([sys.executable, "-c", GUARD_PAGE], input=stdin, capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parents[2], timeout=120)
    assert proc.returncode == 0, f"decoder crashed (rc {proc.returncode}): {proc.stderr[-2000:]}"
    assert int(proc.stdout) == sum(len(f) + 1 for f in frames)


# ---- checksum helpers (Cython only: the reference decoder does not verify) --------------

class TestChecksums:
    def _corrupt(self, frame: bytes, off: int) -> bytes:
        return frame[:off] + bytes([frame[off] ^ 0x01]) + frame[off + 1:]

    @pytest.mark.parametrize("pkt", [
        Ether() / IP(src="198.18.0.1", dst="198.18.0.2") / TCP(options=TCP_OPTS) / b"odd length!",
        Ether() / IP(options=[]) / UDP() / b"data",
        Ether() / IP() / ICMP() / b"ping",
        Ether() / IPv6(src="2001:db8::1", dst="2001:db8::2") / TCP() / b"x",
        Ether() / IPv6() / UDP() / b"yz",
        Ether() / IPv6() / ICMPv6EchoRequest(data=b"abc"),
        Ether() / Dot1Q(vlan=9) / IPv6() / IPv6ExtHdrDestOpt() / UDP() / b"ext",
    ], ids=["tcp4", "udp4", "icmp4", "tcp6", "udp6", "icmp6", "udp6-ext"])
    def test_valid_then_corrupted(self, pkt):
        frame = bytes(pkt)
        d = fast.decode_to_dict(frame)
        assert fast.l4_csum_ok(frame) is True
        assert fast.l4_csum_ok(self._corrupt(frame, len(frame) - 1)) is False       # payload byte
        assert fast.l4_csum_ok(self._corrupt(frame, d["l4_off"] + 1)) is False      # header byte
        if d["ip_version"] == 4:
            assert fast.ipv4_csum_ok(frame) is True
            assert fast.ipv4_csum_ok(self._corrupt(frame, d["l3_off"] + 8)) is False  # TTL
            if d["l4_proto"] != 1:  # the pseudo-header covers the addresses
                assert fast.l4_csum_ok(self._corrupt(frame, d["l3_off"] + 19)) is False
        else:
            assert fast.ipv4_csum_ok(frame) is None
            assert fast.l4_csum_ok(self._corrupt(frame, d["l3_off"] + 39)) is False

    def test_udp_zero_checksum(self):
        v4frame = bytes(Ether() / IP() / UDP(chksum=0) / b"a")
        assert fast.l4_csum_ok(v4frame) is True     # "not computed" is legal over IPv4
        v6frame = bytes(Ether() / IPv6() / UDP(chksum=0) / b"a")
        assert fast.l4_csum_ok(v6frame) is False    # but not over IPv6 (RFC 8200 8.1)

    def test_not_applicable(self):
        assert fast.l4_csum_ok(CASES["ipv4_frag_first"]) is None   # covers the whole datagram
        assert fast.l4_csum_ok(CASES["arp"]) is None
        assert fast.ipv4_csum_ok(CASES["arp"]) is None
        assert fast.l4_csum_ok(CASES["ipv6_esp"]) is None
        assert fast.l4_csum_ok(EVENT_CASES["tcp.pkt_too_small"][0]) is None


# ---- tools entry points ----------------------------------------------------------------

def test_decode_frames_and_touch_frames():
    frames = [f for _, f in _all_frames()]
    buf = b"".join(frames)
    offsets, pos = [], 0
    for f in frames:
        offsets.append(pos)
        pos += len(f)
    off = array.array("I", offsets)
    lens = array.array("I", [len(f) for f in frames])
    invalid = sum(1 for f in frames if fast.decode_to_dict(f)["invalid_layer"])
    assert fast.decode_frames(buf, off, lens, 3) == invalid
    assert fast.touch_frames(buf, off, lens, 2) == 2 * sum(f[0] + f[-1] for f in frames if f)
    with pytest.raises(ValueError):
        fast.decode_frames(buf, off, array.array("I", [len(buf) + 1] * len(frames)))
    with pytest.raises(ValueError):
        fast.decode_to_dict(b"abc", 4)

