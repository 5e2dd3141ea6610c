"""Header tricks and encapsulation through the whole engine (issue 11, family 2): every
layout the host accepts is either decoded and inspected (rules see the innermost packet's
addresses and ports) or dropped inline by the decode-error policy; non-IP frames pass;
the kernel ACL's rules are enforced by the engine on what the kernel cannot see through;
a reject on a tunnelled packet never answers from the wrong layer."""
from __future__ import annotations

import socket
import struct

import pytest
from scapy.layers.inet import GRE, IP, TCP, UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrDestOpt
from scapy.contrib.geneve import GENEVE
from scapy.contrib.mpls import MPLS
from scapy.layers.l2 import ARP, LLC, STP, Dot1Q, Dot3, Ether
from scapy.layers.vxlan import VXLAN

from xdpfw._fast import engine as E
from xdpfw.detect.ruleset import build_detection
from xdpfw.rules import parse_rule

S = 1_000_000_000
ETH = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
OUT_A, OUT_B = "198.18.0.1", "198.18.0.2"          # tunnel endpoints
IN_C, IN_S = "198.19.1.1", "198.19.2.2"            # the hosts inside
RULES = [
    'drop udp any any -> any 53 (msg:"attack payload"; content:"ATTACK"; sid:1;)',
    'drop tcp any any -> 198.19.2.2 8080 (msg:"inner port"; sid:2;)',
    'drop ip any any -> 198.19.9.9 any (msg:"blocked inner host"; sid:3;)',
    'reject tcp any any -> any 23 (msg:"telnet"; sid:4;)',
]
PASS = ("pass", None)
RULE_DROP = ("drop", 2)      # XDPFW_DROP_RULE
DECODE_ERROR = ("drop", 3)   # XDPFW_DROP_DECODE_ERROR


def engine(*, ips=True, kernel_acl=False, rules=RULES):
    det = build_detection([parse_rule(t) for t in rules], kernel_acl=kernel_acl)
    assert not det.problems, det.problems
    return det, det.engine_factory(flow_capacity=1024, ips=ips, replies=True)()


def fired(eng):
    return sorted(a["rule"].sid for a in eng.drain_alerts())


def dstopts_udp(n, payload, sport=5000):
    """The bypass of issue 11: n destination options headers before UDP."""
    pkt = IPv6(src="2001:db8::1", dst="2001:db8::2")
    for _ in range(n):
        pkt = pkt / IPv6ExtHdrDestOpt()
    return bytes(ETH / pkt / UDP(sport=sport, dport=53) / payload)


@pytest.mark.parametrize("n", [1, 8, 9, 20, 150])
def test_destination_options_chains_are_inspected(n):
    _, eng = engine()
    frame = dstopts_udp(n, b"xxATTACKxx")
    assert len(frame) <= 1514
    assert eng.inspect_frame(frame, 0, S) == RULE_DROP
    assert fired(eng) == [1]
    # another flow (a drop marks its flow: the first one's later packets are dropped too)
    assert eng.inspect_frame(dstopts_udp(n, b"clean", sport=5001), 0, S) == PASS
    assert eng.counters()["decode_errors"] == 0


def test_unknown_next_header_is_a_decode_error_dropped_inline_counted_in_ids():
    frame = bytes(ETH / IPv6(src="2001:db8::1", dst="2001:db8::2", nh=135)) + bytes([17, 0]) + bytes(6) \
        + bytes(UDP(sport=5000, dport=53) / b"ATTACK")
    f = bytearray(frame)
    struct.pack_into("!H", f, 18, len(frame) - 54)
    _, eng = engine()
    assert eng.inspect_frame(bytes(f), 0, S) == DECODE_ERROR
    c = eng.counters()
    assert c["decode_errors"] == 1 and c["decode_events"][eng_event("ipv6.unknown_next_header")] == 1
    _, ids = engine(ips=False)
    assert ids.inspect_frame(bytes(f), 0, S) == PASS
    c = ids.counters()
    assert c["decode_errors"] == 1 and c["ids_would_drop"] == 1


def eng_event(label):
    from xdpfw.ref import pkt_h as H
    return H.EVENT_BIT[label]


def test_decode_error_policy_pass_is_an_explicit_choice():
    _, eng = engine()
    truncated = bytes(ETH / IP(src=OUT_A, dst=OUT_B) / TCP())[:40]
    assert eng.decode_error_policy == E.POLICY_DROP
    assert eng.inspect_frame(truncated, 0, S) == DECODE_ERROR
    eng.decode_error_policy = E.POLICY_PASS
    assert eng.inspect_frame(truncated, 0, S) == PASS
    assert eng.counters()["decode_errors"] == 2


@pytest.mark.parametrize("frame", [
    bytes(Ether() / ARP()),
    bytes(Ether(dst="01:80:c2:00:00:0e", type=0x88CC) / (b"\x02\x07\x04" + bytes(7) + bytes(30))),   # LLDP
    bytes(Dot3(dst="01:80:c2:00:00:00") / LLC() / STP()),
    bytes(Ether() / Dot1Q(vlan=5) / ARP()),
], ids=["arp", "lldp", "stp", "vlan-arp"])
def test_non_ip_frames_pass(frame):
    _, eng = engine()
    assert eng.inspect_frame(frame, 0, S) == PASS
    c = eng.counters()
    assert c["decode_errors"] == 0 and c["non_ip"] == 1


def stacked(n, inner):
    l2 = ETH
    for i in range(n):
        l2 = l2 / Dot1Q(vlan=10 + i)
    return bytes(l2 / inner)


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_stacked_vlan_tags_are_inspected(n):
    _, eng = engine()
    assert eng.inspect_frame(stacked(n, IP(src=OUT_A, dst=IN_S) / UDP(dport=53) / b"ATTACK"), 0, S) == RULE_DROP
    assert eng.inspect_frame(stacked(n, IP(src=OUT_A, dst=IN_S) / UDP(sport=7, dport=53) / b"fine"), 0, S) == PASS


TUNNELS = {
    "ipip": lambda inner: ETH / IP(src=OUT_A, dst=OUT_B, proto=4) / inner,
    "gre": lambda inner: ETH / IP(src=OUT_A, dst=OUT_B) / GRE(proto=0x0800) / inner,
    "gre-key-seq": lambda inner: ETH / IP(src=OUT_A, dst=OUT_B) / GRE(proto=0x0800, key_present=1, key=7,
                                                                        seqnum_present=1, sequence_number=3) / inner,
    "gre-eth": lambda inner: ETH / IP(src=OUT_A, dst=OUT_B) / GRE(proto=0x6558) / Ether() / Dot1Q(vlan=9) / inner,
    "gre-over-ipv6": lambda inner: ETH / IPv6(src="2001:db8::a", dst="2001:db8::b") / GRE(proto=0x0800) / inner,
    "ip4-in-ip6": lambda inner: ETH / IPv6(src="2001:db8::a", dst="2001:db8::b", nh=4) / inner,
    "vxlan": lambda inner: ETH / IP(src=OUT_A, dst=OUT_B) / UDP(sport=51000, dport=4789) / VXLAN(vni=42)
    / Ether() / inner,
    "geneve-eth": lambda inner: ETH / IP(src=OUT_A, dst=OUT_B) / UDP(sport=51000, dport=6081)
    / GENEVE(proto=0x6558, vni=7) / Ether() / inner,
    "geneve-ip": lambda inner: ETH / IP(src=OUT_A, dst=OUT_B) / UDP(sport=51000, dport=6081)
    / GENEVE(proto=0x0800, vni=7) / inner,
    "mpls": lambda inner: Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02", type=0x8847)
    / MPLS(label=100, s=0) / MPLS(label=200, s=1) / inner,
    "gre-mpls": lambda inner: ETH / IP(src=OUT_A, dst=OUT_B) / GRE(proto=0x8847) / MPLS(label=16, s=1) / inner,
    "nested": lambda inner: ETH / IP(src=OUT_A, dst=OUT_B, proto=4) / IP(src="198.18.5.5", dst="198.18.6.6")
    / GRE(proto=0x0800) / inner,
}


@pytest.mark.parametrize("kind", list(TUNNELS))
def test_rules_see_the_inner_packet(kind):
    wrap = TUNNELS[kind]
    _, eng = engine()
    attacks = [
        (IP(src=IN_C, dst=IN_S) / UDP(sport=4000, dport=53) / b"..ATTACK..", 1),   # payload
        (IP(src=IN_C, dst=IN_S) / TCP(sport=4000, dport=8080, flags="S"), 2),      # inner port
        (IP(src=IN_C, dst="198.19.9.9") / UDP(sport=4000, dport=9) / b"x", 3),     # inner address
    ]
    for inner, sid in attacks:
        assert eng.inspect_frame(bytes(wrap(inner)), 0, S)[0] == "drop", sid
        assert fired(eng) == [sid]
        recs = eng.counters()
    clean = IP(src=IN_C, dst=IN_S) / UDP(sport=4001, dport=53) / b"query"
    assert eng.inspect_frame(bytes(wrap(clean)), 0, S) == PASS
    assert fired(eng) == []
    assert recs["decode_errors"] == 0


def test_alerts_carry_the_inner_addresses():
    _, eng = engine()
    eng.inspect_frame(bytes(TUNNELS["gre"](IP(src=IN_C, dst=IN_S) / UDP(sport=4000, dport=53) / b"ATTACK")), 0, S)
    (a,) = eng.drain_alerts()
    mapped = bytes(10) + b"\xff\xff"
    assert (a["src"], a["dst"], a["sport"], a["dport"]) == (
        mapped + socket.inet_aton(IN_C), mapped + socket.inet_aton(IN_S), 4000, 53)
    assert a["tunnel"] == {"depth": 1, "ip_version": 4, "proto": 47, "src": mapped + socket.inet_aton(OUT_A),
                           "dst": mapped + socket.inet_aton(OUT_B)}
    # IPv6 outside, two levels
    eng.inspect_frame(bytes(ETH / IPv6(src="2001:db8::a", dst="2001:db8::b") / IP(src=OUT_A, dst=OUT_B, proto=4)
                            / IP(src=IN_C, dst=IN_S) / UDP(sport=4002, dport=53) / b"ATTACK"), 0, S)
    (a,) = eng.drain_alerts()
    assert a["tunnel"] == {"depth": 2, "ip_version": 6, "proto": 4, "src": socket.inet_pton(socket.AF_INET6, "2001:db8::a"),
                           "dst": socket.inet_pton(socket.AF_INET6, "2001:db8::b")}
    # no tunnel, or a bare MPLS stack (no outer IP header): none
    eng.inspect_frame(bytes(ETH / IP(src=IN_C, dst=IN_S) / UDP(sport=4003, dport=53) / b"ATTACK"), 0, S)
    eng.inspect_frame(bytes(TUNNELS["mpls"](IP(src=IN_C, dst=IN_S) / UDP(sport=4004, dport=53) / b"ATTACK")), 0, S)
    assert [a["tunnel"] for a in eng.drain_alerts()] == [None, None]


def test_tunnels_beyond_the_bound_and_undecodable_tunnels_are_dropped_inline():
    _, eng = engine()
    inner = IP(src=IN_C, dst=IN_S) / UDP(dport=53) / b"ATTACK"
    deep = inner
    for i in range(5):
        deep = IP(src=f"198.18.{i}.1", dst=f"198.18.{i}.2", proto=4) / deep
    assert eng.inspect_frame(bytes(ETH / deep), 0, S) == DECODE_ERROR
    for bad in [
        ETH / IP(src=OUT_A, dst=OUT_B) / GRE(proto=0x880B, version=1) / bytes(8) / inner,   # PPTP GRE
        ETH / IP(src=OUT_A, dst=OUT_B) / GRE(proto=0x88BE) / bytes(8) / inner,                  # ERSPAN
        ETH / IP(src=OUT_A, dst=OUT_B, proto=4, flags="MF") / inner,                            # fragment
    ]:
        assert eng.inspect_frame(bytes(bad), 0, S) == DECODE_ERROR
    assert eng.counters()["decode_errors"] == 4


def test_kernel_acl_rules_are_enforced_by_the_engine_on_inner_packets():
    # `xdpfw run`: rule 3 (IP-only, one address list) goes to the kernel ACL, which sees
    # the outer header only; the engine holds it too and drops the tunnelled packet.
    det, eng = engine(kernel_acl=True)
    assert [r.sid for r in det.in_kernel] == [3]
    assert det.engine_rules == 3 and det.loaded == 4
    frame = bytes(TUNNELS["gre"](IP(src=IN_C, dst="198.19.9.9") / UDP(dport=9) / b"x"))
    assert eng.inspect_frame(frame, 0, S) == RULE_DROP
    assert fired(eng) == [3]


def test_reject_on_a_tunnelled_packet_is_a_plain_drop():
    _, eng = engine()
    inner = IP(src=IN_C, dst=IN_S) / TCP(sport=4000, dport=23, flags="S")
    assert eng.inspect_frame(bytes(TUNNELS["gre"](inner)), 0, S) == RULE_DROP
    assert eng.last_reply is None
    assert eng.counters()["rejects_sent"] == 0
    # not tunnelled (another flow: the first one is marked dropped): the RST goes out
    inner[TCP].sport = 4001
    assert eng.inspect_frame(bytes(ETH / inner), 0, S)[0] == "reply"


def test_teredo_inner_ipv6_is_inspected():
    det, eng = engine(rules=['drop tcp any any -> 2001:db8:2::2 80 (msg:"teredo inner"; content:"ATTACK"; sid:9;)'])
    def frame(data, sport):
        inner = IPv6(src="2001:db8:1::1", dst="2001:db8:2::2") / TCP(sport=sport, dport=80, flags="PA") / data
        return bytes(ETH / IP(src=OUT_A, dst=OUT_B) / UDP(sport=40001, dport=3544) / inner)
    assert eng.inspect_frame(frame(b"..ATTACK..", 1000), 0, S) == RULE_DROP
    assert fired(eng) == [9]
    assert eng.inspect_frame(frame(b"hello", 1001), 0, S) == PASS
