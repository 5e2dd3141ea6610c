"""Property: through the whole engine (rule text -> compiler -> streaming database ->
TCP tracker -> matcher -> rule checks), the rules that alert on a TCP stream cut into any
segments (1-byte ones included, out of order and retransmitted) are exactly the rules
whose literal occurs in the whole payload."""
from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from xdpfw.detect.ruleset import build_detection
from xdpfw.rules import parse_rule

ETH = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
S = 1_000_000_000

literal = st.binary(min_size=1, max_size=6)


def hexed(b: bytes) -> str:
    return "|" + " ".join(f"{x:02x}" for x in b) + "|"


@st.composite
def scenario(draw):
    lits = draw(st.lists(literal, min_size=1, max_size=5, unique=True))
    nocase = [draw(st.booleans()) for _ in lits]
    noise = draw(st.binary(min_size=0, max_size=200))
    # put some of the literals (maybe in another case) into the payload at random places
    payload = bytearray(noise)
    rnd = random.Random(draw(st.integers(0, 2**32)))
    for lit in lits:
        if rnd.random() < 0.6:
            pos = rnd.randrange(len(payload) + 1)
            ins = bytes(lit).swapcase() if rnd.random() < 0.3 else lit
            payload[pos:pos] = ins
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(payload) - 1)), max_size=30))))
    if draw(st.booleans()):
        cuts = list(range(1, len(payload)))  # one byte per segment
    return lits, nocase, bytes(payload), cuts, draw(st.booleans())


def expected(lits, nocase, payload):
    out = set()
    for i, (lit, nc) in enumerate(zip(lits, nocase)):
        hay, needle = (payload.lower(), lit.lower()) if nc else (payload, lit)
        if needle in hay:
            out.add(i + 1)
    return out


def frame(src, dst, sport, dport, seq, flags, data=b""):
    return bytes(ETH / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, seq=seq, flags=flags) / data)


@pytest.mark.parametrize("matcher", ["hs", "ac"])
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sc=scenario())
def test_stream_alerts_equal_whole_payload_search(matcher, sc):
    lits, nocase, payload, cuts, shuffle = sc
    rules = [parse_rule(f'alert tcp any any -> any any (msg:"r{i}"; content:"{hexed(lit)}";'
                        f'{" nocase;" if nc else ""} sid:{i + 1};)')
             for i, (lit, nc) in enumerate(zip(lits, nocase))]
    det = build_detection(rules, kernel_acl=False, matcher=matcher)
    assert not det.problems, det.problems
    eng = det.engine_factory(flow_capacity=64, ips=True)()
    c, s = ("198.18.0.1", "198.18.0.2")
    now = S
    isn = 1000
    eng.inspect_frame(frame(c, s, 40000, 80, isn, "S"), 0, now)
    eng.inspect_frame(frame(s, c, 80, 40000, 9000, "SA"), 1, now + 1)
    eng.inspect_frame(frame(c, s, 40000, 80, isn + 1, "A"), 0, now + 2)
    bounds = [0] + cuts + [len(payload)]
    segs = [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1) if bounds[i] < bounds[i + 1]]
    order = list(segs)
    if shuffle:
        random.Random(len(payload)).shuffle(order)
    # The sender's view: what is not yet delivered is sent again, in order, after the
    # out-of-order attempts (the appliance dropped those: in-order enforcement).
    for lo, hi in order:
        eng.inspect_frame(frame(c, s, 40000, 80, isn + 1 + lo, "PA", payload[lo:hi]), 0, now + 3)
    for lo, hi in segs:
        eng.inspect_frame(frame(c, s, 40000, 80, isn + 1 + lo, "PA", payload[lo:hi]), 0, now + 4)
    got = [det.tables.rules[a["sig"]].sid for a in eng.drain_alerts()]
    assert len(got) == len(set(got))              # once per stream, however it was cut
    assert set(got) == expected(lits, nocase, payload)
