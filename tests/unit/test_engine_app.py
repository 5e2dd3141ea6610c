"""The engine's application layer with the DNS decoder: protocol detection, dns.query
rules (pieces across datagrams and TCP segments), length checks, app_proto on rules and
in alert records, swaps."""
from __future__ import annotations

import struct

import pytest
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

from xdpfw.detect.ruleset import build_detection
from xdpfw.rules import parse_rule

from tests.unit.test_engine import CLI, PASS, RULE_DROP, S, SRV, Tcp

ETH = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")

RULES = [
    'drop dns any any -> any any (msg:"evil"; dns.query; content:"evil.example"; nocase; endswith; sid:1;)',
    'alert dns any any -> any any (msg:"long"; dns.query; bsize:>30; sid:2;)',
    'alert dns any any -> any any (msg:"any dns"; sid:3;)',
    'alert dns any any -> any any (msg:"starts"; dns.query; content:"mail."; startswith; '
    'content:"bank"; sid:4;)',
]


def engine(*texts, **kw):
    det = build_detection([parse_rule(t) for t in (texts or RULES)], kernel_acl=False)
    assert not det.problems, det.problems
    return det.engine_factory(flow_capacity=256, **kw)()


def query(name: str, sport=3333, dport=53, qid=7) -> bytes:
    return bytes(ETH / IP(src=CLI, dst=SRV) / UDP(sport=sport, dport=dport) /
                 DNS(id=qid, rd=1, qd=DNSQR(qname=name)))


def sids(eng):
    return sorted(a["rule"].sid for a in eng.drain_alerts())


def test_dns_query_rules_over_udp():
    eng = engine()
    assert eng.inspect_frame(query("www.EVIL.example"), 0, S) == RULE_DROP
    assert sids(eng) == [1, 3]
    eng.inspect_frame(query("a-rather-long-name.for-the-bsize.example.org", sport=3334), 0, S)
    assert sids(eng) == [2, 3]
    eng.inspect_frame(query("mail.mybank.example", sport=3335), 0, S)
    assert sids(eng) == [3, 4]
    eng.inspect_frame(query("webmail.mybank.example", sport=3336), 0, S)   # not at the start
    assert sids(eng) == [3]
    c = eng.counters()
    assert c["app_detected"] == 4 and c["app_detection_failed"] == 0


def test_alert_records_carry_app_proto():
    eng = engine()
    eng.inspect_frame(query("evil.example"), 0, S)
    recs = eng.drain_alerts()
    assert {r["app_proto"] for r in recs} == {"dns"}


def test_not_dns_on_port_53_or_dns_elsewhere_is_not_dns():
    eng = engine()
    junk = bytes(ETH / IP(src=CLI, dst=SRV) / UDP(sport=4444, dport=53) / (b"\xff" * 40))
    assert eng.inspect_frame(junk, 0, S) == PASS
    assert eng.inspect_frame(query("evil.example", dport=5300), 0, S) == PASS   # port 53 only
    assert sids(eng) == []
    c = eng.counters()
    assert c["app_detection_failed"] == 2


def dns_tcp(name: str, qid=9) -> bytes:
    msg = bytes(DNS(id=qid, rd=1, qd=DNSQR(qname=name)))
    return struct.pack("!H", len(msg)) + msg


@pytest.mark.parametrize("cut", [None, 1, 2, 5, 14, 20])
def test_dns_over_tcp_split_anywhere(cut):
    eng = engine()
    c = Tcp(eng, sport=40000, dport=53)
    c.handshake()
    data = dns_tcp("host.evil.example") + dns_tcp("second.example", qid=10)
    if cut is None:
        segs = [bytes([b]) for b in data]          # one byte per segment
    else:
        segs = [data[:cut], data[cut:]]
    verdicts = [c.c(s) for s in segs]
    assert RULE_DROP in verdicts                   # the segment completing the name is dropped
    assert 1 in sids(eng)


def test_header_only_app_rule_needs_the_detected_protocol():
    eng = engine('alert dns any any -> any any (msg:"any dns"; sid:3;)')
    eng.inspect_frame(query("x.example"), 0, S)
    assert sids(eng) == [3]
    other = bytes(ETH / IP(src=CLI, dst=SRV) / UDP(sport=5555, dport=9999) / b"hello")
    eng.inspect_frame(other, 0, S)
    assert sids(eng) == []


def test_rules_on_undetected_protocols_and_unsupported_shapes_are_refused():
    det = build_detection([parse_rule(t) for t in [
        'alert dns any any -> any any (msg:"m"; dns.query; content:"x"; pkt_data; content:"y"; sid:12;)',
    ]], kernel_acl=False)
    text = "\n".join(det.problems)
    assert "sid:12 mixes packet payload" in text
    assert det.tables.sigs == []


def test_swap_in_new_app_rules_while_flows_live():
    eng = engine()
    eng.inspect_frame(query("evil.example"), 0, S)
    assert sids(eng) == [1, 3]
    det = build_detection([parse_rule('alert dns any any -> any any (msg:"n"; dns.query; content:"new"; sid:20;)')],
                          kernel_acl=False)
    det.stage(eng)
    eng.apply_staged()
    eng.inspect_frame(query("brand-new.example", sport=3400), 0, S)
    eng.inspect_frame(query("evil.example", sport=3401), 0, S)
    assert sids(eng) == [20]


def test_corpus_dns_traffic_runs_through_the_decoder():
    """Every DNS flow of a public capture: detected, decoded, no decoder gave up."""
    from pathlib import Path

    from xdpfw.service.replay import replay_files

    pcap = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "pcaps" / "bench" / "mixed-realistic.pcap"
    det = build_detection([parse_rule('alert dns any any -> any any (msg:"q"; dns.query; bsize:>0; sid:30;)')],
                          kernel_acl=False)
    out = []
    st = replay_files([str(pcap)], det, out.append)
    e = st["engine"]
    assert e["app_detected"] > 100 and st["alerts"] > 100
    assert e["app_instances_full"] == 0 and e["matcher_errors"] == 0


def test_dotprefix_matches_the_name_and_its_subdomains_only():
    eng = engine('alert dns any any -> any any (msg:"d"; dns.query; dotprefix; content:".evil.example"; '
                 'endswith; sid:40;)',
                 'alert dns any any -> any any (msg:"plain"; dns.query; content:"evil.example"; endswith; sid:41;)',
                 'alert dns any any -> any any (msg:"len"; dns.query; dotprefix; content:".x"; startswith; '
                 'bsize:2; sid:42;)')   # bsize counts the prefixed dot
    for i, (name, want) in enumerate([("evil.example", [40, 41]), ("www.evil.example", [40, 41]),
                                      ("notevil.example", [41]), ("x", [42]), ("xy", [])]):
        eng.inspect_frame(query(name, sport=4000 + i), 0, S)
        assert sids(eng) == want, name


HTTP_RULES = [
    'drop http any any -> any any (msg:"post php"; flow:to_server; http.method; content:"POST"; '
    'http.uri; content:"/gate.php"; endswith; sid:50;)',
    'alert http any any -> any any (msg:"ua+host"; http.user_agent; content:"curl/"; startswith; '
    'http.host; content:"example"; bsize:<20; sid:51;)',
    'alert http any any -> any any (msg:"uri"; http.uri; content:"/admin"; sid:52;)',
]


def test_http_rules_on_one_and_several_buffers_of_a_transaction():
    eng = engine(*HTTP_RULES)
    c = Tcp(eng, sport=41000, dport=8080)
    c.handshake()
    v = c.c(b"GET /admin HTTP/1.1\r\nHost: a.example\r\nUser-Agent: curl/8.0\r\n\r\n")
    assert v == PASS and sids(eng) == [51, 52]
    # POST with /gate.php: the request line completes both parts: dropped on that segment
    d = Tcp(eng, sport=41001, dport=80)
    d.handshake()
    assert d.c(b"POST /ga") == PASS
    assert d.c(b"te.php HTTP/1.1\r\nHost: b\r\n\r\n") == RULE_DROP
    assert sids(eng) == [50]


def test_parts_do_not_join_across_pipelined_transactions():
    eng = engine(*HTTP_RULES)
    c = Tcp(eng, sport=41002)
    c.handshake()
    c.c(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"
        b"GET /gate.php HTTP/1.1\r\nHost: a\r\n\r\n")
    assert sids(eng) == []                     # POST in one request, the URI in the next
    c.c(b"POST /gate.php HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
    assert sids(eng) == [50]


def test_a_multi_buffer_rule_fires_once_per_transaction_and_length_checks_hold():
    eng = engine(*HTTP_RULES)
    c = Tcp(eng, sport=41003)
    c.handshake()
    c.c(b"GET / HTTP/1.1\r\nHost: www.example.invalid.long.name\r\nUser-Agent: curl/8\r\n\r\n")
    assert sids(eng) == []                     # host longer than bsize:<20
    c.c(b"GET / HTTP/1.1\r\nHost: example\r\nUser-Agent: curl/8\r\n\r\n")
    c.c(b"GET / HTTP/1.1\r\nHost: example\r\nUser-Agent: curl/8\r\n\r\n")
    assert sids(eng) == [51, 51]               # once per request


def test_engine_app_proto_names_follow_the_header():
    from xdpfw._fast import engine as E
    from xdpfw.detect.apprules import PROTOS

    assert list(E.APP_PROTO_NAMES) == PROTOS
