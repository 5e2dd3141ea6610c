"""The XDP program on packet fixtures through BPF_PROG_TEST_RUN (Katran-style tables).

Each fixture: a description, a scapy frame, the expected XDP return code and the
expected action counter. The program is configured with the two ends of a veth pair in a
namespace of the test's own as sides A and B (test runs and devmap updates resolve
ifindexes in the caller's namespace, so those calls run in it). No socket is in the
XSKMAP, so frames that pass the ACL take the fail-mode path: ACL verdicts and fail modes
are told apart by both the return code and the per-action counter.
"""
from __future__ import annotations

import base64
import ipaddress
import os
import socket

import pytest
from pyroute2 import IPRoute, netns
from scapy.layers.inet import GRE, ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop
from scapy.layers.ipsec import AH
from scapy.layers.l2 import ARP, Dot1AD, Dot1Q, Ether

from bpfrun import ACTION_NAMES, XDP_DROP, XDP_PASS, XDP_REDIRECT, run_xdp
from xdpfw.dataplane import shared
from xdpfw.detect.acl import fold_covering
from xdpfw.dataplane.bpfload import AclTables, XdpProgram
from xdpfw.tools.netns import call_in_netns


N = ipaddress.ip_network
TCP_, UDP_, ICMP_, ANY = shared.PROTO_TCP, shared.PROTO_UDP, shared.PROTO_ICMP, shared.PROTO_ANY

ACL = AclTables(
    src=fold_covering({N("198.18.7.0/24"): ANY, N("198.18.7.9/32"): TCP_, N("2001:db8:bad::/48"): ANY}),
    dst=fold_covering({N("198.19.0.66/32"): UDP_, N("2001:db8::66/128"): ICMP_}),
    sport={},
    dport={23: TCP_, 69: UDP_},
)

E = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
V4 = dict(src="198.18.0.1", dst="198.18.0.2")
V6 = dict(src="2001:db8::1", dst="2001:db8::2")

def _dstopts(n):
    pkt = IPv6ExtHdrDestOpt()
    for _ in range(n - 1):
        pkt = pkt / IPv6ExtHdrDestOpt()
    return pkt


def _padded4():
    f = bytearray((E / IP(**V4) / TCP(dport=23)).build())
    f[16:18] = (20).to_bytes(2, "big")     # total length: the header alone
    return bytes(f)


def _padded6():
    f = bytearray((E / IPv6(**V6) / TCP(dport=23)).build())
    f[18:20] = (0).to_bytes(2, "big")      # payload length 0
    return bytes(f)


# description, frame, expected return code (fail-open mode), expected action
FIXTURES = [
    ("plain TCP passes the ACL", E / IP(**V4) / TCP(dport=80), XDP_REDIRECT, "fail_open"),
    ("ARP is never ACL'd", E / ARP(pdst="198.18.0.2"), XDP_REDIRECT, "fail_open"),
    ("source in denied /24 (any proto)", E / IP(src="198.18.7.5", dst="198.18.0.2") / UDP(), XDP_DROP, "acl_drop"),
    ("/32 inside denied /24 inherits its mask (UDP)", E / IP(src="198.18.7.9", dst="198.18.0.2") / UDP(),
     XDP_DROP, "acl_drop"),
    ("/32 TCP-only entry denies TCP", E / IP(src="198.18.7.9", dst="198.18.0.2") / TCP(), XDP_DROP, "acl_drop"),
    ("neighbour of denied /24 passes", E / IP(src="198.18.8.5", dst="198.18.0.2") / TCP(), XDP_REDIRECT,
     "fail_open"),
    ("dst deny is UDP only: TCP passes", E / IP(src="198.18.0.1", dst="198.19.0.66") / TCP(), XDP_REDIRECT,
     "fail_open"),
    ("dst deny is UDP only: UDP dropped", E / IP(src="198.18.0.1", dst="198.19.0.66") / UDP(), XDP_DROP, "acl_drop"),
    ("dst port 23/tcp denied", E / IP(**V4) / TCP(dport=23), XDP_DROP, "acl_drop"),
    ("dst port 23/udp allowed (rule is tcp)", E / IP(**V4) / UDP(dport=23), XDP_REDIRECT, "fail_open"),
    ("dst port 69/udp denied", E / IP(**V4) / UDP(dport=69), XDP_DROP, "acl_drop"),
    ("port deny behind one VLAN tag", E / Dot1Q(vlan=10) / IP(**V4) / TCP(dport=23), XDP_DROP, "acl_drop"),
    ("port deny behind QinQ", E / Dot1AD(vlan=20) / Dot1Q(vlan=10) / IP(**V4) / TCP(dport=23), XDP_DROP,
     "acl_drop"),
    ("address deny behind QinQ", E / Dot1AD(vlan=20) / Dot1Q(vlan=10) / IP(src="198.18.7.1", dst="198.18.0.2")
     / ICMP(), XDP_DROP, "acl_drop"),
    ("IPv4 options do not hide the port", E / IP(options=b"\x01\x01\x01\x00", **V4) / TCP(dport=23), XDP_DROP,
     "acl_drop"),
    ("later IPv4 fragment has no ports: passes to the worker", E / IP(frag=100, proto=6, **V4) / (b"\x00\x17" * 10),
     XDP_REDIRECT, "fail_open"),
    ("later IPv4 fragment from denied source: dropped", E / IP(src="198.18.7.1", dst="198.18.0.2", frag=100, proto=17)
     / (b"x" * 16), XDP_DROP, "acl_drop"),
    ("IPv6 source in denied /48", E / IPv6(src="2001:db8:bad:1::1", dst="2001:db8::2") / TCP(), XDP_DROP, "acl_drop"),
    ("IPv6 dst deny is ICMP only: ICMPv6 dropped", E / IPv6(src="2001:db8::1", dst="2001:db8::66")
     / ICMPv6EchoRequest(), XDP_DROP, "acl_drop"),
    ("IPv6 dst deny is ICMP only: TCP passes", E / IPv6(src="2001:db8::1", dst="2001:db8::66") / TCP(),
     XDP_REDIRECT, "fail_open"),
    ("IPv6 port deny through hop-by-hop header", E / IPv6(**V6) / IPv6ExtHdrHopByHop() / TCP(dport=23), XDP_DROP,
     "acl_drop"),
    ("IPv6 first fragment carries ports", E / IPv6(**V6) / IPv6ExtHdrFragment(offset=0, m=1) / TCP(dport=23),
     XDP_DROP, "acl_drop"),
    ("IPv6 later fragment: no ports", E / IPv6(**V6) / IPv6ExtHdrFragment(offset=8, nh=6) / (b"\x00\x17" * 10),
     XDP_REDIRECT, "fail_open"),
    ("truncated IPv4 header goes to the worker", (E / IP(**V4) / TCP(dport=23)).build()[:14 + 12], XDP_REDIRECT,
     "fail_open"),
    ("truncated TCP header: address checks only", (E / IP(**V4) / TCP(dport=23)).build()[:14 + 20 + 3],
     XDP_REDIRECT, "fail_open"),
    ("Ethernet header alone, claiming IPv4", (E / IP()).build()[:14], XDP_REDIRECT, "fail_open"),
    ("VLAN tag cut short", (E / Dot1Q(vlan=10) / IP()).build()[:16], XDP_REDIRECT, "fail_open"),
    # Issue 11, family 2: what the program cannot see through goes to the worker (which
    # decodes it fully and enforces the same rules on the innermost packet); no ACL
    # decision is taken on a header that is not the real one.
    ("third VLAN tag: not seen through, to the worker", E / Dot1AD(vlan=20) / Dot1Q(vlan=10) / Dot1Q(vlan=5)
     / IP(src="198.18.7.1", dst="198.18.0.2") / TCP(dport=23), XDP_REDIRECT, "fail_open"),
    ("IPv6 chain longer than the walk: no port decision", E / IPv6(**V6) / _dstopts(9) / TCP(dport=23),
     XDP_REDIRECT, "fail_open"),
    ("IPv6 chain longer than the walk: address rules on ip still apply", E / IPv6(src="2001:db8:bad::1", dst="2001:db8::2")
     / _dstopts(9) / TCP(dport=80), XDP_DROP, "acl_drop"),
    ("IPv6 AH is not walked: no port decision", E / IPv6(**V6) / AH(nh=6, payloadlen=4, icv=bytes(12)) / TCP(dport=23),
     XDP_REDIRECT, "fail_open"),
    ("IPv6 later fragment: its data is not walked as headers", E / IPv6(src="2001:db8::1", dst="2001:db8::66")
     / IPv6ExtHdrFragment(offset=8, nh=60) / (bytes([58, 0]) + bytes(6) + bytes(ICMPv6EchoRequest())),
     XDP_REDIRECT, "fail_open"),
    ("IPv4 ports in link padding (total length 20) are not read", _padded4(), XDP_REDIRECT, "fail_open"),
    ("IPv6 ports in link padding (payload length 0) are not read", _padded6(), XDP_REDIRECT, "fail_open"),
    ("GRE: the outer source is judged", E / IP(src="198.18.7.1", dst="198.18.0.2") / GRE() / IP(**V4) / TCP(dport=80),
     XDP_DROP, "acl_drop"),
    ("GRE: inner ports are the worker's", E / IP(**V4) / GRE() / IP(**V4) / TCP(dport=23), XDP_REDIRECT, "fail_open"),
    ("IP-in-IP: inner addresses are the worker's", E / IP(proto=4, **V4) / IP(src="198.18.7.1", dst="198.18.0.2")
     / TCP(dport=23), XDP_REDIRECT, "fail_open"),
]


@pytest.fixture(scope="module")
def ns():
    name = f"xtp{os.getpid()}"
    netns.create(name)
    try:
        with IPRoute(netns=name) as ipr:
            ipr.link("add", ifname="v0", kind="veth", peer={"ifname": "v1"})
            for ifname in ("v0", "v1", "lo"):
                ipr.link("set", index=ipr.link_lookup(ifname=ifname)[0], state="up")
        yield name
    finally:
        netns.remove(name)


@pytest.fixture(scope="module")
def ifx(ns):
    """ifindexes inside the test namespace: side A, side B, and lo (neither side)."""
    return call_in_netns(ns, lambda: (socket.if_nametoindex("v0"), socket.if_nametoindex("v1"),
                                      socket.if_nametoindex("lo")))


def configured(ns, a, b, fail_open, acl) -> XdpProgram:
    p = XdpProgram()
    call_in_netns(ns, p.configure, a, b, fail_open, acl)
    return p


@pytest.fixture(scope="module")
def prog(ns, ifx):
    return configured(ns, ifx[0], ifx[1], True, ACL)


@pytest.fixture(scope="module")
def xdp_run(ns, ifx):
    def run(p, raw, ifindex=None):
        return call_in_netns(ns, run_xdp, p.fn.fd, raw, ifx[0] if ifindex is None else ifindex)
    return run


def _counter(prog, side, action):
    return prog.action_counters()[side][shared.XDP_ACTION_LABELS.index(action)][0]


def _describe(frame) -> str:
    raw = frame if isinstance(frame, bytes) else frame.build()
    return f"{frame!r}\nbase64: {base64.b64encode(raw).decode()}"


@pytest.mark.parametrize("desc,frame,expect_rc,expect_action", FIXTURES, ids=[f[0] for f in FIXTURES])
def test_fixture(prog, xdp_run, desc, frame, expect_rc, expect_action):
    raw = frame if isinstance(frame, bytes) else frame.build()
    before = _counter(prog, shared.SIDE_A, expect_action)
    rc, out = xdp_run(prog, raw)
    assert rc == expect_rc, f"{desc}: got {ACTION_NAMES.get(rc, rc)}, want {ACTION_NAMES[expect_rc]}\n{_describe(frame)}"
    assert _counter(prog, shared.SIDE_A, expect_action) == before + 1, desc
    assert out == raw  # the program never rewrites frames


def test_fail_closed_drops_when_no_socket(prog, xdp_run):
    before = _counter(prog, shared.SIDE_A, "fail_closed")
    prog.set_fail_open(False)
    try:
        rc, _ = xdp_run(prog, (E / IP(**V4) / TCP(dport=80)).build())
    finally:
        prog.set_fail_open(True)
    assert rc == XDP_DROP
    assert _counter(prog, shared.SIDE_A, "fail_closed") == before + 1


def test_unknown_ingress_interface_is_passed_to_the_stack(ns, ifx, xdp_run):
    p = configured(ns, ifx[0], ifx[1], False, AclTables.empty())
    rc, _ = xdp_run(p, (E / IP(**V4) / TCP()).build(), ifindex=ifx[2])
    assert rc == XDP_PASS
    assert _counter(p, shared.SIDE_A, "unknown_if") == 1


def test_empty_acl_skips_lookups_and_counts_bytes(ns, ifx, xdp_run):
    p = configured(ns, ifx[0], ifx[1], True, AclTables.empty())
    frame = (E / IP(src="198.18.7.5", dst="198.18.0.2") / TCP(dport=23)).build()
    rc, _ = xdp_run(p, frame)
    assert rc == XDP_REDIRECT
    pk, by = p.action_counters()[shared.SIDE_A][shared.XDP_ACTION_LABELS.index("fail_open")]
    assert (pk, by) == (1, len(frame))


def test_side_b_counts_separately(prog, ifx, xdp_run):
    before = _counter(prog, shared.SIDE_B, "acl_drop")
    rc, _ = xdp_run(prog, (E / IP(**V4) / TCP(dport=23)).build(), ifindex=ifx[1])
    assert rc == XDP_DROP
    assert _counter(prog, shared.SIDE_B, "acl_drop") == before + 1


def test_acl_reload_replaces_entries(prog, xdp_run):
    frame = (E / IP(src="198.18.0.1", dst="198.18.0.2") / TCP(dport=8080)).build()
    assert xdp_run(prog, frame)[0] == XDP_REDIRECT
    prog.load_acl(AclTables({}, {}, {}, {8080: TCP_}))
    try:
        assert xdp_run(prog, frame)[0] == XDP_DROP
        # the old /24 source deny is gone
        old = (E / IP(src="198.18.7.5", dst="198.18.0.2") / UDP()).build()
        assert xdp_run(prog, old)[0] == XDP_REDIRECT
    finally:
        prog.load_acl(ACL)
