"""IP fragments: one datagram's fragments are a small stream in offset order, scanned in
place; out-of-order, overlapping and later fragments of a bad datagram follow the stated
policy (engine.pyx, FRAG_*): dropped inline, inspected alone in IDS mode."""
from __future__ import annotations

import pytest
from scapy.layers.inet import IP, UDP, TCP, fragment
from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment, fragment6
from scapy.layers.l2 import Dot1Q, Ether

from xdpfw.detect.ruleset import build_detection
from xdpfw.rules import parse_rule

ETH = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
CLI, SRV = "198.18.0.1", "198.18.0.2"
CLI6, SRV6 = "2001:db8::1", "2001:db8::2"
PASS = ("pass", None)
RULE_DROP = ("drop", 2)   # XDPFW_DROP_RULE
FRAG_DROP = ("drop", 8)   # XDPFW_DROP_IP_FRAGMENT

RULES = [
    'drop udp any any -> any 9999 (msg:"split"; content:"EVILPAYLOAD"; sid:1;)',
    'drop udp any any -> any 9999 (msg:"tail"; content:"TAIL"; endswith; sid:2;)',
    'alert udp any any -> any 7777 (msg:"port"; content:"MARKER"; sid:3;)',
]


def engine(ips=True, **kw):
    det = build_detection([parse_rule(r) for r in RULES], kernel_acl=False)
    assert det.frag_db is not None
    return det.engine_factory(flow_capacity=256, ips=ips, **kw)()


def frags4(payload: bytes, dport=9999, ip_id=77, size=24, vlan=None):
    pkt = IP(src=CLI, dst=SRV, id=ip_id) / UDP(sport=5000, dport=dport) / payload
    l2 = ETH / Dot1Q(vlan=vlan) if vlan else ETH
    return [bytes(l2 / f) for f in fragment(pkt, fragsize=size)]


def frags6(payload: bytes, dport=9999, ident=99):
    pkt = IPv6(src=CLI6, dst=SRV6) / IPv6ExtHdrFragment(id=ident) / UDP(sport=5000, dport=dport) / payload
    return [bytes(ETH / f) for f in fragment6(pkt, 96)]


def run(eng, frames, start=1):
    return [eng.inspect_frame(f, 0, (start + i) * 1000) for i, f in enumerate(frames)]


def sids(eng):
    return [a["rule"].sid for a in eng.drain_alerts()]


def test_pattern_split_across_fragments_is_dropped_at_the_fragment_completing_it():
    payload = b"A" * 20 + b"EVILPAYLOAD" + b"B" * 30   # 8 + 20 + 11 + 30: spans fragments
    fr = frags4(payload)
    assert len(fr) >= 3
    eng = engine()
    verdicts = run(eng, fr)
    # the fragment that completes the match is dropped; the flow is then dropped whole
    assert RULE_DROP in verdicts and verdicts[0] == PASS
    assert verdicts.index(RULE_DROP) > 0
    assert sids(eng) == [1]
    c = eng.counters()
    assert c["frag_datagrams"] == 1


def test_clean_fragmented_datagram_passes_and_completes():
    eng = engine()
    assert run(eng, frags4(b"x" * 100)) == [PASS] * len(frags4(b"x" * 100))
    c = eng.counters()
    assert (c["frag_datagrams"], c["frag_completed"], c["frag_out_of_order"]) == (1, 1, 0)
    assert sids(eng) == []


def test_halves_in_two_datagrams_do_not_join():
    a = frags4(b"C" * 16 + b"EVILPA", ip_id=1)
    b = frags4(b"YLOAD" + b"D" * 40, ip_id=2)
    eng = engine()
    assert all(v == PASS for v in run(eng, a + b))
    assert sids(eng) == []


def test_end_anchored_rule_sees_the_datagram_end_not_a_fragment_end():
    eng = engine()
    v = run(eng, frags4(b"z" * 40 + b"TAIL"))
    assert v[-1] == RULE_DROP and sids(eng) == [2]
    eng = engine()
    # TAIL ends the first fragment's payload (16 bytes after the UDP header), not the datagram
    assert all(x == PASS for x in run(eng, frags4(b"y" * 12 + b"TAIL" + b"w" * 40)))
    assert sids(eng) == []


def test_later_fragments_carry_the_first_fragments_ports():
    eng = engine()
    fr = frags4(b"q" * 30 + b"MARKER" + b"r" * 10, dport=7777)
    run(eng, fr)
    recs = eng.drain_alerts()
    assert [r["rule"].sid for r in recs] == [3]
    assert (recs[0]["sport"], recs[0]["dport"]) == (5000, 7777)


def test_out_of_order_fragment_is_dropped_inline_and_inspected_alone_in_ids():
    fr = frags4(b"A" * 20 + b"EVILPAYLOAD" + b"B" * 30)
    reordered = [fr[1], fr[0]] + fr[2:]
    eng = engine()
    v = run(eng, reordered)
    assert v[0] == FRAG_DROP            # no first fragment yet
    # the first fragment opens the datagram; the next expected offset never arrives in order
    assert v[2] == FRAG_DROP
    c = eng.counters()
    assert c["frag_out_of_order"] >= 2
    ids = engine(ips=False)
    assert all(x == PASS for x in run(ids, reordered))
    assert ids.counters()["frag_out_of_order"] >= 1


def test_overlap_or_repeat_makes_the_datagram_bad_and_its_rest_is_dropped():
    fr = frags4(b"k" * 80)
    eng = engine()
    v = run(eng, [fr[0], fr[1], fr[1]] + fr[2:])
    assert v[:2] == [PASS, PASS]
    assert v[2:] == [FRAG_DROP] * (len(fr) - 1)
    c = eng.counters()
    assert c["frag_overlaps"] == 1 and c["frag_after_bad"] == len(fr) - 2
    # a second first fragment (same key) is an overlap too
    eng = engine()
    assert run(eng, [fr[0], fr[0]]) == [PASS, FRAG_DROP]


def test_ipv6_and_vlan_fragments():
    eng = engine()
    fr = frags6(b"A" * 100 + b"EVILPAYLOAD" + b"B" * 60)
    assert len(fr) >= 2
    v = run(eng, fr)
    assert RULE_DROP in v and v.index(RULE_DROP) > 0 and sids(eng) == [1]
    eng = engine()
    v = run(eng, frags4(b"A" * 20 + b"EVILPAYLOAD" + b"B" * 30, vlan=42))
    assert RULE_DROP in v and sids(eng) == [1]


def test_tcp_fragments_are_dropped_inline_and_counted():
    seg = IP(src=CLI, dst=SRV, id=5) / TCP(sport=40000, dport=80, flags="PA", seq=1) / (b"x" * 64)
    fr = [bytes(ETH / f) for f in fragment(seg, fragsize=32)]
    eng = engine()
    assert run(eng, fr) == [FRAG_DROP] * len(fr)
    assert eng.counters()["tcp_fragments"] == len(fr)


def test_fragment_table_full_evicts_the_oldest_and_timeouts_free_entries():
    eng = engine(fragments=64)
    firsts = [frags4(b"p" * 60, ip_id=i)[0] for i in range(200)]
    assert all(x == PASS for x in run(eng, firsts))
    c = eng.counters()
    assert c["frag_datagrams"] == 200 and c["frag_evicted"] > 0
    # a datagram whose first fragment was evicted: its next fragment is refused inline
    assert eng.inspect_frame(frags4(b"p" * 60, ip_id=0)[1], 0, 10 ** 6) == FRAG_DROP
    # after the reassembly timeout a new first fragment finds room without evicting
    before = eng.counters()["frag_evicted"]
    later = 40 * 10 ** 9
    assert eng.inspect_frame(frags4(b"p" * 60, ip_id=1000)[0], 0, later) == PASS
    assert eng.counters()["frag_evicted"] == before


@pytest.mark.parametrize("seed", range(5))
def test_random_fragment_orders_never_crash_and_never_pass_split_content_inline(seed):
    import random

    rnd = random.Random(seed)
    fr = frags4(b"A" * rnd.randrange(0, 40) + b"EVILPAYLOAD" + b"B" * 30, size=8 * rnd.randrange(1, 4))
    order = fr[:]
    rnd.shuffle(order)
    order += [rnd.choice(fr) for _ in range(3)]   # duplicates
    eng = engine()
    v = run(eng, order)
    # the receiver could only reassemble the datagram if every fragment passed: that never
    # happens while it holds the pattern
    passed = {f for f, x in zip(order, v) if x == PASS}
    assert not set(fr) <= passed
