"""Stream rules of several independent expressions (combinations) are evaluated by the
engine when an operand is first seen, so the packet completing the rule is the one that
alerts or is dropped (engine.pyx "Combinations")."""
from __future__ import annotations

import random

import pytest

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xdpfw.detect.ruleset import build_detection
from xdpfw.rules import parse_rule

from tests.unit.test_engine import PASS, RULE_DROP, Tcp
from tests.unit.test_engine_property import hexed


def engine(*texts, ips=True, matcher="hs"):
    det = build_detection([parse_rule(t) for t in texts], kernel_acl=False, matcher=matcher)
    assert not det.problems, det.problems
    assert det.tables.stream_combos, "these rules must be combinations"
    return det.engine_factory(flow_capacity=256, ips=ips)()


def sids(eng):
    return [a["rule"].sid for a in eng.drain_alerts()]


AND = 'drop tcp any any -> any 80 (msg:"and"; content:"ALPHA"; content:"OMEGA"; sid:1;)'
NOT = 'alert tcp any any -> any 80 (msg:"not"; content:"ALPHA"; content:!"VETO"; sid:2;)'


def test_the_packet_completing_a_combination_is_the_one_dropped():
    eng = engine(AND)
    c = Tcp(eng)
    c.handshake()
    assert c.c(b"..OMEGA..") == PASS
    assert c.c(b"..ALP") == PASS
    assert c.c(b"HA..") == RULE_DROP     # completes ALPHA: both operands seen
    assert sids(eng) == [1]
    assert c.c(b"more") == RULE_DROP     # the flow stays dropped
    assert sids(eng) == []


def test_operands_in_two_directions_or_two_flows_do_not_combine():
    eng = engine(AND)
    c = Tcp(eng)
    c.handshake()
    c.c(b"ALPHA")
    assert c.s(b"OMEGA") == PASS
    d = Tcp(eng, sport=40001)
    d.handshake()
    assert d.c(b"OMEGA") == PASS
    assert sids(eng) == []


def test_negated_operand_means_not_seen_in_the_stream_so_far():
    eng = engine(NOT)
    c = Tcp(eng)
    c.handshake()
    c.c(b"xx ALPHA yy")
    assert sids(eng) == [2]
    c2 = Tcp(eng, sport=40002)
    c2.handshake()
    c2.c(b"VETO first")
    c2.c(b"then ALPHA")
    assert sids(eng) == []
    c3 = Tcp(eng, sport=40003)
    c3.handshake()
    c3.c(b"ALPHA and VETO in one packet")
    assert sids(eng) == []


def test_a_combination_fires_once_per_stream_and_again_in_a_new_flow():
    eng = engine(AND.replace("drop", "alert"))
    c = Tcp(eng)
    c.handshake()
    c.c(b"ALPHA OMEGA")
    c.c(b"ALPHA OMEGA again")
    assert sids(eng) == [1]
    d = Tcp(eng, sport=40010)
    d.handshake()
    d.c(b"OMEGA ALPHA")
    assert sids(eng) == [1]


def test_combinations_and_single_rules_share_operands_and_a_reload_keeps_working():
    single = 'alert tcp any any -> any 80 (msg:"single"; content:"ALPHA"; sid:3;)'
    eng = engine(AND.replace("drop", "alert"), single, NOT)
    c = Tcp(eng)
    c.handshake()
    c.c(b"ALPHA")
    assert sorted(sids(eng)) == [2, 3]
    c.c(b"OMEGA")
    assert sids(eng) == [1]
    det = build_detection([parse_rule(AND.replace("sid:1", "sid:9"))], kernel_acl=False)
    det.stage(eng)
    eng.apply_staged()
    c.c(b"ALPHA OMEGA")   # the flow's operand bits start afresh with the new set
    assert sids(eng) == [9]


@pytest.mark.parametrize("matcher", ["hs", "ac"])
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lits=st.lists(st.binary(min_size=1, max_size=5), min_size=2, max_size=4, unique=True),
       noise=st.binary(max_size=120), seed=st.integers(0, 2 ** 32), one_byte=st.booleans())
def test_positive_combinations_alert_like_a_search_of_the_whole_payload(matcher, lits, noise, seed, one_byte):
    """Rules "content:A; content:B;" over random segmentations alert exactly when both
    literals occur somewhere in the whole payload."""
    rnd = random.Random(seed)
    payload = bytearray(noise)
    for lit in lits:
        if rnd.random() < 0.7:
            pos = rnd.randrange(len(payload) + 1)
            payload[pos:pos] = lit
    payload = bytes(payload)
    pairs = [(a, b) for i, a in enumerate(lits) for b in lits[i + 1:]]
    rules = [f'alert tcp any any -> any 80 (msg:"p{i}"; content:"{hexed(a)}"; content:"{hexed(b)}"; sid:{i + 1};)'
             for i, (a, b) in enumerate(pairs)]
    det = build_detection([parse_rule(r) for r in rules], kernel_acl=False, matcher=matcher)
    assert not det.problems, det.problems
    eng = det.engine_factory(flow_capacity=64)()
    c = Tcp(eng)
    c.handshake()
    cuts = sorted(set(rnd.randrange(1, max(2, len(payload))) for _ in range(rnd.randrange(0, 12))))
    if one_byte:
        cuts = list(range(1, len(payload)))
    bounds = [0] + [x for x in cuts if 0 < x < len(payload)] + [len(payload)]
    for lo, hi in zip(bounds, bounds[1:]):
        if lo < hi:
            c.c(payload[lo:hi])
    got = sids(eng)
    assert len(got) == len(set(got))
    assert set(got) == {i + 1 for i, (a, b) in enumerate(pairs) if a in payload and b in payload}
