"""Decoder events as rules: decode-event / app-layer-event keywords, the engine firing them,
and the generated rule files shipped in rules/ (reserved SID range)."""
from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from xdpfw.detect.ruleset import build_detection, load_detection
from xdpfw.rules import parse_rule
from xdpfw.rules.eventrules import render

from tests.unit.test_engine import CLI, PASS, S, SRV, Tcp

ROOT = Path(__file__).resolve().parents[2]
ETH = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")


@pytest.mark.parametrize("kind,name", [("decode", "decoder-events.rules"), ("app", "app-layer-events.rules")])
def test_shipped_event_rules_are_what_the_generator_makes_and_all_run(kind, name):
    path = ROOT / "rules" / name
    assert path.read_text() == render(kind), f"regenerate: python -m xdpfw.rules.eventrules {kind} > rules/{name}"
    det = load_detection([str(path)], [], kernel_acl=False)    # raises if one cannot run
    assert len(det.tables.event_rules) == len(det.tables.sigs) > 30


def engine(*texts, **kw):
    det = build_detection([parse_rule(t) for t in texts], kernel_acl=False)
    assert not det.problems, det.problems
    return det.engine_factory(flow_capacity=64, **kw)()


def test_fatal_decode_event_rule_alerts_without_a_flow_and_can_drop():
    bad = bytearray(bytes(ETH / IP(src=CLI, dst=SRV) / UDP(sport=1, dport=2) / b"x"))
    bad[14] = 0x44                               # IHL 4: decoding stops at IPv4
    eng = engine('alert pkthdr any any -> any any (msg:"short hdr"; decode-event:ipv4.hlen_too_small; sid:1;)')
    assert eng.inspect_frame(bytes(bad), 0, S) == ("drop", 3)   # the inline default: drop
    assert [(r["rule"].sid, r["has_flow"]) for r in eng.drain_alerts()] == [(1, False)]
    eng.decode_error_policy = 0                  # POLICY_PASS, the operator's explicit choice
    assert eng.inspect_frame(bytes(bad), 0, S) == PASS
    recs = eng.drain_alerts()
    assert [(r["rule"].sid, r["has_flow"]) for r in recs] == [(1, False)]
    eng = engine('drop pkthdr any any -> any any (msg:"short hdr"; decode-event:ipv4.hlen_too_small; sid:1;)')
    assert eng.inspect_frame(bytes(bad), 0, S) == ("drop", 3)       # XDPFW_DROP_DECODE_ERROR
    assert [r["rule"].sid for r in eng.drain_alerts()] == [1]


def test_non_fatal_decode_event_rule_runs_with_the_flow_and_its_header():
    # UDP length shorter than the IP payload: an event, decoding goes on
    pkt = bytearray(bytes(ETH / IP(src=CLI, dst=SRV) / UDP(sport=7, dport=9) / b"abcdef"))
    pkt[14 + 20 + 4:14 + 20 + 6] = (8 + 2).to_bytes(2, "big")
    eng = engine('alert udp any any -> any 9 (msg:"udp len"; decode-event:udp.hlen_invalid; sid:2;)',
                 'alert udp any any -> any 99 (msg:"other port"; decode-event:udp.hlen_invalid; sid:3;)')
    eng.inspect_frame(bytes(pkt), 0, S)
    recs = eng.drain_alerts()
    assert [(r["rule"].sid, r["has_flow"], r["dport"]) for r in recs] == [(2, True, 9)]
    eng.inspect_frame(bytes(ETH / IP(src=CLI, dst=SRV) / UDP(sport=7, dport=9) / b"fine"), 0, S)
    assert eng.drain_alerts() == []


def test_app_layer_event_rule_fires_on_the_packet_reporting_it():
    eng = engine('alert http any any -> any any (msg:"no colon"; '
                 'app-layer-event:http.request_field_missing_colon; sid:4;)')
    c = Tcp(eng, sport=42000)
    c.handshake()
    c.c(b"GET / HTTP/1.1\r\nHost: a\r\n")
    assert eng.drain_alerts() == []
    c.c(b"BrokenHeaderLine\r\n\r\n")
    recs = eng.drain_alerts()
    assert [(r["rule"].sid, r["app_proto"]) for r in recs] == [(4, "http")]
    assert eng.counters()["app_events_by_proto"]["http"] >= 1


def test_event_rules_refused_with_reasons():
    det = build_detection([parse_rule(t) for t in [
        'alert pkthdr any any -> any any (msg:"a"; decode-event:ipv4.hlen_too_small; content:"x"; sid:5;)',
        'alert pkthdr any any -> any any (msg:"b"; decode-event:ipv4.hlen_too_small; '
        'decode-event:ipv4.pkt_too_small; sid:6;)',
    ]], kernel_acl=False)
    text = "\n".join(det.problems)
    assert "sid:5 an event with payload" in text and "sid:6 2 event keywords" in text
