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


# -- flow bypass (bypass_map, xdpfw_shared.h) ---------------------------------------------

def _bypass_key(p, src, dst, sport, dport, vlan=0):
    t = p.bpf[b"bypass_map"]
    k = t.Key()
    for field, addr in (("src", src), ("dst", dst)):
        ip = ipaddress.ip_address(addr)
        raw = ip.packed if ip.version == 6 else b"\0" * 10 + b"\xff\xff" + ip.packed
        ct_buf = getattr(k, field)
        for i, b in enumerate(raw):
            ct_buf[i] = b
    k.sport, k.dport, k.vlan, k.proto = sport, dport, vlan, 6
    return t, k


def _bypass_put(p, src, dst, sport, dport, side, vlan=0):
    t, k = _bypass_key(p, src, dst, sport, dport, vlan)
    v = t.Leaf()
    v.side = side
    t[k] = v
    return k


@pytest.fixture
def bprog(ns, ifx):
    p = configured(ns, ifx[0], ifx[1], True, ACL)
    p.set_bypass(True)
    return p


def test_bypass_forwards_a_flow_direction_from_its_own_nic_only(bprog, xdp_run, ifx):
    k = _bypass_put(bprog, "198.18.0.1", "198.18.0.2", 40000, 443, shared.SIDE_A)
    ack = E / IP(**V4) / TCP(sport=40000, dport=443, flags="A") / (b"x" * 100)
    rc, _ = xdp_run(bprog, ack.build())
    assert rc == XDP_REDIRECT and _counter(bprog, shared.SIDE_A, "bypass") == 1
    v = bprog.bpf[b"bypass_map"][k]
    assert (v.packets, v.bytes) == (1, len(ack.build())) and v.last_ns > 0
    # the same direction arriving on the other NIC: the worker's to judge (wrong side)
    rc, _ = xdp_run(bprog, ack.build(), ifx[1])
    assert _counter(bprog, shared.SIDE_B, "bypass") == 0 and _counter(bprog, shared.SIDE_B, "fail_open") == 1
    # the reverse direction has no entry here: not bypassed
    back = E / IP(src=V4["dst"], dst=V4["src"]) / TCP(sport=443, dport=40000, flags="A")
    xdp_run(bprog, back.build(), ifx[1])
    assert _counter(bprog, shared.SIDE_B, "bypass") == 0


@pytest.mark.parametrize("flags", ["S", "FA", "R", "RA", "SA"])
def test_bypass_control_segments_end_the_entries_and_go_to_the_worker(bprog, xdp_run, ifx, flags):
    _bypass_put(bprog, "198.18.0.1", "198.18.0.2", 40001, 443, shared.SIDE_A)
    _bypass_put(bprog, "198.18.0.2", "198.18.0.1", 443, 40001, shared.SIDE_B)
    rc, _ = xdp_run(bprog, (E / IP(**V4) / TCP(sport=40001, dport=443, flags=flags)).build())
    assert _counter(bprog, shared.SIDE_A, "bypass") == 0 and _counter(bprog, shared.SIDE_A, "fail_open") == 1
    assert len(bprog.bpf[b"bypass_map"]) == 0      # both directions gone


def test_bypass_looks_up_only_plain_frames(bprog, xdp_run):
    _bypass_put(bprog, "198.18.0.1", "198.18.0.2", 40002, 443, shared.SIDE_A, vlan=5)
    _bypass_put(bprog, "2001:db8::1", "2001:db8::2", 40002, 443, shared.SIDE_A)
    _bypass_put(bprog, "198.18.0.1", "198.18.0.2", 40003, 443, shared.SIDE_A)
    seg = TCP(sport=40002, dport=443, flags="A") / b"data"
    cases = [
        (E / Dot1Q(vlan=5) / IP(**V4) / seg, "bypass"),           # the tagged flow's key
        (E / IP(**V4) / seg, "fail_open"),                          # untagged: another flow
        (E / Dot1Q(vlan=6) / IP(**V4) / seg, "fail_open"),
        (E / IPv6(**V6) / seg, "bypass"),
        (E / IPv6(**V6) / IPv6ExtHdrDestOpt() / seg, "fail_open"),  # extension header: the worker's
        (E / IP(flags="MF", **V4) / TCP(sport=40003, dport=443, flags="A") / b"d", "fail_open"),
        (E / IP(**V4) / UDP(sport=40003, dport=443) / b"d", "fail_open"),
    ]
    for frame, want in cases:
        before = _counter(bprog, shared.SIDE_A, want)
        xdp_run(bprog, frame.build())
        assert _counter(bprog, shared.SIDE_A, want) == before + 1, frame.summary()


def test_kernel_acl_stays_before_the_bypass(bprog, xdp_run):
    _bypass_put(bprog, "198.18.7.5", "198.18.0.2", 40004, 443, shared.SIDE_A)   # 198.18.7.0/24 is denied
    rc, _ = xdp_run(bprog, (E / IP(src="198.18.7.5", dst="198.18.0.2") / TCP(sport=40004, dport=443, flags="A")).build())
    assert rc == XDP_DROP and _counter(bprog, shared.SIDE_A, "acl_drop") == 1
    assert _counter(bprog, shared.SIDE_A, "bypass") == 0


def test_bypass_sweep_removes_idle_entries(bprog):
    k = _bypass_put(bprog, "198.18.0.1", "198.18.0.2", 40005, 443, shared.SIDE_A)
    t = bprog.bpf[b"bypass_map"]
    v = t[k]
    v.last_ns = 1000
    v.packets = 7
    t[k] = v
    _bypass_put(bprog, "198.18.0.2", "198.18.0.1", 443, 40005, shared.SIDE_B)   # last_ns 0 = idle too
    assert bprog.sweep_bypass(idle_ns=10_000, now_ns=10_500) == (1, 1, 0)   # the one from 0
    assert bprog.sweep_bypass(idle_ns=10_000, now_ns=20_000) == (0, 1, 7)
