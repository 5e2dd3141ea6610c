"""The inspection engine end to end on frames: decode, flows, TCP order, streaming match,
header checks, verdicts and alert records (xdpfw._fast.engine)."""
from __future__ import annotations

import ipaddress

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Dot1Q, Ether

from xdpfw._fast import engine as E
from xdpfw._fast import match_hs
from xdpfw._fast.match import Pattern
from xdpfw.detect.sigtables import SigTables
from xdpfw.rules import parse_rule

S = 1_000_000_000
ETH = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
CLI, SRV = "198.18.0.1", "198.18.0.2"


def build(rule_texts, contents, **kw):
    """rule_texts: rules; contents: {rule position: literal} for rules with one content
    (the rule-to-expression compiler is tested elsewhere; here the report map is given)."""
    t = SigTables()
    patterns = []
    for i, text in enumerate(rule_texts):
        r = parse_rule(text)
        idx = t.add(r, has_payload=i in contents)
        if i in contents:
            patterns.append(Pattern(100 + i, contents[i]))
            t.report[100 + i] = idx
            t.block_report[100 + i] = idx
    stream = match_hs.Database.compile(patterns, mode="stream") if patterns else None
    block = match_hs.Database.compile(patterns, mode="block") if patterns else None
    return E.Engine(t, stream_db=stream, block_db=block, flow_capacity=1024, **kw), t


class Tcp:
    def __init__(self, eng, sport=40000, dport=80, cli=CLI, srv=SRV, vlan=None):
        self.e, self.sport, self.dport, self.cli, self.srv, self.vlan = eng, sport, dport, cli, srv, vlan
        self.cseq, self.sseq, self.now = 1000, 5000, S

    def _frame(self, src, dst, sport, dport, seq, flags, data, ack=0):
        ipl = IP(src=src, dst=dst) if ":" not in src else IPv6(src=src, dst=dst)
        l2 = ETH / Dot1Q(vlan=self.vlan) if self.vlan else ETH
        return bytes(l2 / ipl / TCP(sport=sport, dport=dport, seq=seq, ack=ack & 0xFFFFFFFF, flags=flags) / data)

    def c(self, data=b"", flags="PA", seq=None, ack=None):
        """A client segment; it acknowledges everything the server sent (ack=None)."""
        self.now += 1000
        s = self.cseq if seq is None else seq
        v = self.e.inspect_frame(self._frame(self.cli, self.srv, self.sport, self.dport, s, flags, data,
                                             self.sseq if ack is None else ack), 0, self.now)
        if seq is None:
            self.cseq += len(data) + (1 if "S" in flags or "F" in flags else 0)
        return v

    def s(self, data=b"", flags="PA", seq=None, ack=None):
        self.now += 1000
        s = self.sseq if seq is None else seq
        v = self.e.inspect_frame(self._frame(self.srv, self.cli, self.dport, self.sport, s, flags, data,
                                             self.cseq if ack is None else ack), 1, self.now)
        if seq is None:
            self.sseq += len(data) + (1 if "S" in flags or "F" in flags else 0)
        return v

    def handshake(self):
        return [self.c(flags="S"), self.s(flags="SA"), self.c(flags="A")]


PASS = ("pass", None)
RULE_DROP = ("drop", 2)       # XDPFW_DROP_RULE
OOO_DROP = ("drop", 5)        # XDPFW_DROP_TCP_OUT_OF_ORDER
INS_DROP = ("drop", 9)        # XDPFW_DROP_TCP_INSERTION


def sids(eng, t):
    return [t.rules[a["sig"]].sid for a in eng.drain_alerts()]


def test_pattern_split_across_segments_alerts_once():
    eng, t = build(['alert tcp any any -> any 80 (msg:"evil"; content:"EVILPAYLOAD"; sid:1;)'],
                   {0: b"EVILPAYLOAD"})
    c = Tcp(eng)
    assert c.handshake() == [PASS] * 3
    assert c.c(b"GET /EVILPA") == PASS
    assert sids(eng, t) == []
    assert c.c(b"YLOAD HTTP/1.0\r\n") == PASS
    alerts = eng.drain_alerts()
    assert sids(eng, t) == []  # drained already
    c2 = Tcp(eng, sport=40001)
    c2.handshake()
    for b in b"xxEVILPAYLOADxx":  # one byte per segment
        c2.c(bytes([b]))
    assert [t.rules[a["sig"]].sid for a in eng.drain_alerts()] == [1]
    assert len(alerts) == 1
    a = alerts[0]
    assert a["action"] == "alert" and not a["blocked"] and a["direction"] == "to_server"
    assert (a["sport"], a["dport"], a["proto"], a["ip_version"]) == (40000, 80, 6, 4)
    assert ipaddress.ip_address(a["src"]).ipv4_mapped == ipaddress.ip_address(CLI)


def test_drop_rule_drops_the_packet_and_the_rest_of_the_flow():
    eng, t = build(['drop tcp any any -> any 80 (msg:"x"; content:"attack"; sid:7;)'], {0: b"attack"})
    c = Tcp(eng)
    c.handshake()
    assert c.c(b"hello") == PASS
    assert c.c(b"an attack!") == RULE_DROP
    assert c.c(b"more") == RULE_DROP
    assert c.s(b"reply") == RULE_DROP
    alerts = eng.drain_alerts()
    assert len(alerts) == 1 and alerts[0]["blocked"] and alerts[0]["action"] == "drop"
    assert eng.counters()["flow_dropped"] == 2
    other = Tcp(eng, sport=40002)
    other.handshake()
    assert other.c(b"fine") == PASS


def test_out_of_order_segment_dropped_then_retransmission_alerts_exactly_once():
    eng, t = build(['alert tcp any any -> any any (msg:"x"; content:"SECRET"; sid:3;)'], {0: b"SECRET"})
    c = Tcp(eng)
    c.handshake()
    base = c.cseq
    assert c.c(b"RET", seq=base + 3) == OOO_DROP          # second half first: a gap
    assert c.c(b"SEC") == PASS                              # first half in order
    assert c.c(b"RET") == PASS                              # retransmitted second half
    assert c.c(b"SECRET", seq=base) == PASS                 # old data again: retransmission
    assert sids(eng, t) == [3]
    assert eng.counters()["tcp_dropped"] == 1


def test_halves_in_two_flows_or_two_directions_do_not_alert():
    eng, t = build(['alert tcp any any -> any any (msg:"x"; content:"SPLITME"; sid:4;)'], {0: b"SPLITME"})
    a, b = Tcp(eng, sport=1111), Tcp(eng, sport=2222)
    a.handshake()
    b.handshake()
    a.c(b"SPL")
    b.c(b"ITME")
    c = Tcp(eng, sport=3333)
    c.handshake()
    c.c(b"SPL")
    c.s(b"ITME")
    assert sids(eng, t) == []


def tcp_result(eng, label):
    from xdpfw.service.metrics import TCP_RESULT_LABELS
    return eng.counters()["flows"]["tcp"][TCP_RESULT_LABELS.index(label)]


def test_partial_overlap_inspects_only_new_bytes():
    rule = ['alert tcp any any -> any any (msg:"x"; content:"ABCDEF"; sid:5;)']
    # Inline: the old part of an overlap must be what was inspected there.
    eng, t = build(rule, {0: b"ABCDEF"})
    c = Tcp(eng)
    c.handshake()
    base = c.cseq
    c.c(b"xx")
    c.c(b"ABC")
    assert c.c(b"ZZZDEF", seq=base + 2) == INS_DROP         # other bytes where ABC was inspected
    assert tcp_result(eng, "retransmit_conflict") == 1 and sids(eng, t) == []
    assert c.c(b"xABCDEF", seq=base + 1) == INS_DROP        # starts inside an inspected segment
    assert tcp_result(eng, "retransmit_unverifiable") == 1
    assert c.c(b"ABCDEF", seq=base + 2) == PASS             # the same bytes, and three new ones
    assert sids(eng, t) == [5]
    # IDS: which copy the host kept is unknowable; the stream keeps what was inspected, the
    # new bytes are inspected, the difference is counted.
    eng, t = build(rule, {0: b"ABCDEF"}, ips=False)
    c = Tcp(eng)
    c.handshake()
    base = c.cseq
    c.c(b"xxABC")
    assert c.c(b"ZZZDEF", seq=base + 2) == PASS
    assert sids(eng, t) == [5] and tcp_result(eng, "retransmit_unverifiable") == 1


@pytest.mark.parametrize("cli,srv", [(CLI, SRV), ("2001:db8::1", "2001:db8::2")])
def test_insertion_by_retransmission_is_dropped_inline(cli, srv):
    """Ptacek & Newsham insertion: a benign copy the host never gets (TTL, checksum, window),
    then the attack at the same sequence numbers. The attack must not reach the host."""
    eng, t = build(['drop tcp any any -> any any (msg:"x"; content:"ATTACK"; sid:8;)'], {0: b"ATTACK"})
    c = Tcp(eng, cli=cli, srv=srv)
    c.handshake()
    base = c.cseq
    assert c.c(b"BENIGN") == PASS                                 # inspected, lost past the appliance
    assert c.c(b"ATTACK", seq=base) == INS_DROP                   # never inspected as ATTACK
    assert c.c(b"ATT", seq=base) == INS_DROP                      # a prefix cannot be compared
    assert c.c(b"BENIGN", seq=base) == PASS                       # the real retransmission
    assert c.c(b"BENIGN_AND_ATTACK", seq=base) == RULE_DROP and sids(eng, t) == [8]  # the same + new
    eng.drain_alerts()
    # Coalesced retransmissions compare with the sum of the segments they cover.
    d = Tcp(eng, sport=40010, cli=cli, srv=srv)
    d.handshake()
    base = d.cseq
    for part in (b"one ", b"two ", b"three"):
        assert d.c(part) == PASS
    assert d.c(b"one two three", seq=base) == PASS
    assert d.c(b"one twoXthree", seq=base) == INS_DROP
    assert d.c(b"two three", seq=base + 4) == PASS
    # What the peer acknowledged it has: copies of it are discarded there, not read.
    assert d.s(b"ok") == PASS                                     # acknowledges all 13 bytes
    assert d.c(b"ATTACK ATTACK", seq=base) == PASS
    assert tcp_result(eng, "retransmit_conflict") == 2
    assert tcp_result(eng, "retransmit_unverifiable") == 1
    # IDS: not inspected, not blocked, counted as a would-be drop.
    eng, t = build(['drop tcp any any -> any any (msg:"x"; content:"ATTACK"; sid:8;)'], {0: b"ATTACK"},
                   ips=False)
    c = Tcp(eng, cli=cli, srv=srv)
    c.handshake()
    c.c(b"BENIGN")
    assert c.c(b"ATTACK", seq=c.cseq - 6) == PASS
    assert tcp_result(eng, "retransmit_conflict") == 1 and eng.counters()["ids_would_drop"] == 1


def test_acknowledgements_release_records_only_for_what_was_forwarded():
    eng, t = build(['drop tcp any any -> any any (msg:"x"; content:"ATTACK"; sid:8;)'], {0: b"ATTACK"})
    c = Tcp(eng)
    c.handshake()
    base = c.cseq
    c.c(b"BENIGN")
    # an ACK beyond what was forwarded acknowledges nothing (the sender ignores it too)
    assert c.s(b"", flags="A", ack=base + 100) == PASS
    assert c.c(b"ATTACK", seq=base) == INS_DROP
    # an ACK from the sender's own direction is not the receiver's
    assert c.c(b"", flags="A", ack=base + 6) == PASS
    assert c.c(b"ATTACK", seq=base) == INS_DROP


def test_vlan_ipv6_flow():
    eng, t = build(['alert tcp any any -> any any (msg:"x"; content:"v6payload"; sid:6;)'], {0: b"v6payload"})
    c = Tcp(eng, cli="2001:db8::1", srv="2001:db8::2", vlan=42)
    c.handshake()
    c.c(b"v6pay")
    c.c(b"load")
    alerts = eng.drain_alerts()
    assert [t.rules[a["sig"]].sid for a in alerts] == [6] and alerts[0]["ip_version"] == 6


def test_header_only_rules_and_action_order():
    eng, t = build([
        'drop udp 198.18.0.66 any -> any any (msg:"blocked host"; sid:10;)',
        'pass udp 198.18.0.66 any -> any 53 (msg:"dns ok"; sid:11;)',
        'alert udp any any -> any 9999 (msg:"probe"; sid:12;)',
    ], {})
    udp = lambda src, dport: bytes(ETH / IP(src=src, dst=SRV) / UDP(sport=5, dport=dport) / b"x")
    assert eng.inspect_frame(udp("198.18.0.66", 53), 0, S) == PASS      # pass beats drop
    assert sids(eng, t) == []
    assert eng.inspect_frame(udp("198.18.0.66", 54), 0, S) == RULE_DROP
    assert sids(eng, t) == [10]
    assert eng.inspect_frame(udp(CLI, 9999), 0, S) == PASS
    assert sids(eng, t) == [12]


def test_negated_ipv4_inside_a_list_with_any_keeps_the_exclusion():
    """`[!224.0.0.1,any]`: every address but 224.0.0.1, IPv6 included. The IPv6 part of
    `any` (::/0) covers the engine's IPv4-mapped space and used to re-admit 224.0.0.1."""
    eng, t = build(['alert udp [!224.0.0.1,any] any -> any any (msg:"not mcast src"; sid:30;)',
                    'alert udp any any -> [!2001:db8::1,any] any (msg:"not that v6 dst"; sid:31;)'], {})
    v4 = lambda src: bytes(ETH / IP(src=src, dst=SRV) / UDP(sport=5, dport=7) / b"x")
    v6 = lambda src, dst: bytes(ETH / IPv6(src=src, dst=dst) / UDP(sport=5, dport=7) / b"x")
    eng.inspect_frame(v4("224.0.0.1"), 0, S)
    assert sids(eng, t) == [31]
    eng.inspect_frame(v4("198.18.0.7"), 0, S)
    assert sorted(sids(eng, t)) == [30, 31]
    eng.inspect_frame(v6("2001:db8::5", "2001:db8::1"), 0, S)
    assert sids(eng, t) == [30]
    eng.inspect_frame(v6("2001:db8::5", "2001:db8::2"), 0, S)
    assert sorted(sids(eng, t)) == [30, 31]


def test_flow_keywords_and_dsize():
    eng, t = build([
        'alert tcp any any -> any any (msg:"est"; flow:established,to_server; content:"ping"; sid:20;)',
        'alert tcp any any -> any any (msg:"toclient"; flow:to_client; content:"pong"; sid:21;)',
        'alert udp any any -> any any (msg:"big"; dsize:>100; sid:22;)',
    ], {0: b"ping", 1: b"pong"})
    c = Tcp(eng)
    c.c(b"ping", flags="S")            # SYN with data: not established yet
    assert sids(eng, t) == []
    c.s(flags="SA")
    c.c(flags="A")
    c.c(b"ping")
    c.s(b"pong")
    c.c(b"pong")                       # wrong direction for sid 21
    assert sids(eng, t) == [20, 21]
    small = bytes(ETH / IP(src=CLI, dst=SRV) / UDP() / (b"a" * 100))
    big = bytes(ETH / IP(src=CLI, dst=SRV) / UDP() / (b"a" * 101))
    eng.inspect_frame(small, 0, S)
    eng.inspect_frame(big, 0, S)
    assert sids(eng, t) == [22]


def test_udp_payload_block_match_and_bidirectional_header():
    eng, t = build(['alert udp 198.18.0.9 any <> any 53 (msg:"x"; content:"evil.example"; sid:30;)'],
                   {0: b"evil.example"})
    q = bytes(ETH / IP(src="198.18.0.9", dst=SRV) / UDP(sport=3333, dport=53) / b"\x00evil.example\x00")
    r = bytes(ETH / IP(src=SRV, dst="198.18.0.9") / UDP(sport=53, dport=3333) / b"\x00evil.example\x00")
    other = bytes(ETH / IP(src="198.18.0.8", dst=SRV) / UDP(sport=3333, dport=53) / b"evil.example")
    for f in (q, r, other):
        eng.inspect_frame(f, 0, S)
    assert sids(eng, t) == [30, 30]


def test_malformed_frames_never_crash_and_follow_policy():
    eng, t = build(['alert ip any any -> any any (msg:"any"; sid:40;)'], {})
    good = bytes(ETH / IP(src=CLI, dst=SRV) / TCP() / b"data")
    for n in range(len(good)):
        eng.inspect_frame(good[:n], 0, S)
    assert eng.counters()["decode_errors"] > 0
    eng.drain_alerts()
    eng.decode_error_policy = E.POLICY_DROP
    assert eng.inspect_frame(good[:20], 0, S) == ("drop", 3)  # XDPFW_DROP_DECODE_ERROR


def test_policy_drop_records_are_limited_per_reason_per_second_not_the_drops():
    """A flood the policy drops costs at most policy_drop_records EVE records a second per
    reason; every packet is still dropped, the rest counted. 0 (replay, tests): all."""
    eng, t = build(['alert ip any any -> any any (msg:"any"; sid:40;)'], {}, check_sides=True)
    eng.decode_error_policy = E.POLICY_DROP
    bad = bytes(ETH / IP(src=CLI, dst=SRV) / TCP() / b"data")[:20]
    assert all(eng.inspect_frame(bad, 0, S + i) == ("drop", 3) for i in range(30))
    assert len(eng.drain_alerts(policy_drops=True)) == 30 and eng.counters()["drop_records_limited"] == 0
    eng.policy_drop_records = 5
    for sec in (2, 3):
        assert all(eng.inspect_frame(bad, 0, sec * S + i) == ("drop", 3) for i in range(30))
        recs = eng.drain_alerts(policy_drops=True)
        assert [r["policy_reason"] for r in recs] == [3] * 5
    assert eng.counters()["drop_records_limited"] == 50
    # another reason has its own allowance: decode errors past theirs, a spoofed segment
    # (the client's flow, from the server's NIC) still gets its record
    assert all(eng.inspect_frame(bad, 0, 4 * S + i) == ("drop", 3) for i in range(6))
    syn = bytes(ETH / IP(src=CLI, dst=SRV) / TCP(sport=4000, dport=80, flags="S"))
    spoof = bytes(ETH / IP(src=CLI, dst=SRV) / TCP(sport=4000, dport=80, flags="PA") / b"x")
    assert eng.inspect_frame(syn, 0, 4 * S + 10)[0] == "pass"
    assert eng.inspect_frame(spoof, 1, 4 * S + 11) == ("drop", 11)   # XDPFW_DROP_WRONG_SIDE
    assert [r["policy_reason"] for r in eng.drain_alerts(policy_drops=True)
            if r.get("policy_reason") is not None] == [3] * 5 + [11]
    assert eng.counters()["drop_records_limited"] == 51


def test_alert_ring_full_is_counted_not_blocking():
    eng, t = build(['alert udp any any -> any any (msg:"x"; sid:50;)'], {}, alert_ring=64)
    f = bytes(ETH / IP(src=CLI, dst=SRV) / UDP() / b"x")
    for _ in range(100):
        assert eng.inspect_frame(f, 0, S) == PASS
    assert len(eng.drain_alerts()) == 64
    assert eng.counters()["alert_ring_full"] == 36
    eng.inspect_frame(f, 0, S)
    assert len(eng.drain_alerts()) == 1


@pytest.mark.parametrize("pool", [1])
def test_stream_pool_exhaustion_is_counted(pool):
    eng, t = build(['alert tcp any any -> any any (msg:"x"; content:"zz"; sid:60;)'], {0: b"zz"},
                   stream_pool=pool)
    a, b = Tcp(eng, sport=1), Tcp(eng, sport=2)
    a.handshake()
    b.handshake()
    a.c(b"zz")
    b.c(b"zz")
    assert eng.counters()["stream_pool_empty"] == 1
    assert sids(eng, t) == [60]


def _pcap(frames, tmp_path):
    from scapy.utils import wrpcap
    path = tmp_path / "t.pcap"
    wrpcap(str(path), frames)
    return path.read_bytes()


def test_replay_pcap_in_c_matches_frame_by_frame(tmp_path):
    rules = ['alert tcp any any -> any any (msg:"x"; content:"NEEDLE"; sid:70;)',
             'alert udp any any -> any any (msg:"u"; sid:71;)']
    frames = []
    seq = 1000
    frames.append(ETH / IP(src=CLI, dst=SRV) / TCP(sport=5, dport=80, flags="S", seq=seq))
    frames.append(ETH / IP(src=SRV, dst=CLI) / TCP(sport=80, dport=5, flags="SA", seq=9))
    frames.append(ETH / IP(src=CLI, dst=SRV) / TCP(sport=5, dport=80, flags="A", seq=seq + 1))
    frames.append(ETH / IP(src=CLI, dst=SRV) / TCP(sport=5, dport=80, flags="PA", seq=seq + 1) / b"xxNEE")
    frames.append(ETH / IP(src=CLI, dst=SRV) / TCP(sport=5, dport=80, flags="PA", seq=seq + 6) / b"DLExx")
    frames += [ETH / IP(src=CLI, dst=SRV) / UDP() / b"u"] * 3
    for i, f in enumerate(frames):
        f.time = 1700000000 + i * 0.5
    data = _pcap(frames, tmp_path)
    eng, t = build(rules, {0: b"NEEDLE"})
    res = eng.replay_pcap(data)
    assert res == {"packets": 8, "dropped": 0, "truncated": 0, "offset": len(data), "done": True}
    alerts = eng.drain_alerts()
    assert [(t.rules[a["sig"]].sid, a["pkt_num"]) for a in alerts] == [(70, 5), (71, 6), (71, 7), (71, 8)]
    assert alerts[0]["ts_ns"] == 1700000002 * 10**9  # the capture's clock, packet 5


def test_replay_stops_before_the_ring_overflows_and_resumes(tmp_path):
    frames = [ETH / IP(src=CLI, dst=SRV) / UDP() / b"u"] * 300
    data = _pcap(frames, tmp_path)
    eng, t = build(['alert udp any any -> any any (msg:"u"; sid:80;)'], {}, alert_ring=128)
    got, res = [], {"offset": 0, "packets": 0, "done": False}
    rounds = 0
    while not res["done"]:
        res = eng.replay_pcap(data, resume=res["offset"], packets_before=res["packets"])
        got += eng.drain_alerts()
        rounds += 1
    assert rounds > 1 and len(got) == 300
    assert [a["pkt_num"] for a in got] == list(range(1, 301))
    assert eng.counters()["alert_ring_full"] == 0


def test_replay_rejects_what_it_cannot_read(tmp_path):
    eng, _ = build([], {})
    with pytest.raises(ValueError, match="not a classic pcap"):
        eng.replay_pcap(b"\x0a\x0d\x0d\x0a" + b"\x00" * 40)
    with pytest.raises(ValueError, match="shorter"):
        eng.replay_pcap(b"\xd4\xc3")
    data = _pcap([ETH / IP() / UDP()], tmp_path)
    res = eng.replay_pcap(data[:-3])  # last record cut short
    assert res["packets"] == 0 and res["truncated"] == 1


def test_gap_resync_restarts_the_stream_in_replay_mode():
    eng, t = build(['alert tcp any any -> any any (msg:"x"; content:"ABCDEF"; sid:90;)'], {0: b"ABCDEF"},
                   gap_resync=2)
    c = Tcp(eng)
    c.handshake()
    base = c.cseq
    c.c(b"xxABC")                                      # inspected
    assert c.c(b"zz", seq=base + 100) == OOO_DROP      # first gap: dropped, waiting
    assert c.c(b"DE", seq=base + 102) == OOO_DROP       # second gap, the hole only ms old: waiting
    c.now += 2 * S                                      # the hole is older than 1 s of flow time
    assert c.c(b"DEF", seq=base + 102) == PASS          # a gap again: resync, fresh stream
    assert sids(eng, t) == []                           # "ABC" + hole + "DEF" is no match
    c.c(b"ABCDEF", seq=base + 105)
    assert sids(eng, t) == [90]


def test_ids_mode_alerts_on_drop_rules_but_blocks_nothing():
    eng, t = build(['drop tcp any any -> any 80 (msg:"x"; content:"attack"; sid:95;)'], {0: b"attack"}, ips=False)
    c = Tcp(eng)
    c.handshake()
    assert c.c(b"an attack") == PASS
    assert c.c(b"more") == PASS
    assert c.c(b"zz", seq=c.cseq + 50) == PASS   # a gap is not inspected, and not blocked
    alerts = eng.drain_alerts()
    assert len(alerts) == 1 and not alerts[0]["blocked"] and alerts[0]["action"] == "drop"


def test_header_only_rules_are_cached_per_flow_direction_not_per_verdict():
    eng, t = build(['alert tcp any any -> any 80 (msg:"est"; flow:established,to_server; sid:96;)',
                    'alert tcp 198.18.0.2 any -> any any (msg:"from server"; sid:97;)'], {})
    c = Tcp(eng)
    c.c(flags="S")                 # sid 96 matches statically, not yet dynamically
    assert sids(eng, t) == []
    c.s(flags="SA")                # server direction: sid 97
    assert sids(eng, t) == [97]
    c.c(flags="A")
    assert sids(eng, t) == [96]    # established now: the cached "some rules" state let it fire
    other = Tcp(eng, sport=5555, dport=443)
    other.handshake()
    assert sids(eng, t) == [97]    # port 443: only the server-side rule


def test_alert_record_carries_flow_counters_and_start():
    eng, t = build(['alert tcp any any -> any any (msg:"x"; content:"zz"; sid:98;)'], {0: b"zz"})
    c = Tcp(eng)
    c.handshake()
    c.s(b"hello")
    c.c(b"xzz")
    (a,) = eng.drain_alerts()
    assert a["flow_pkts"] == (3, 2)
    assert a["flow_bytes"][0] > a["flow_bytes"][1] > 0
    import time
    # live: the flow's monotonic start (the handshake's first `now`) moved to wall-clock time
    expected = time.time_ns() - time.monotonic_ns() + S + 1000
    assert abs(a["flow_start_ns"] - expected) < 10**9


def test_flowbits_across_packets_and_within_one():
    eng, t = build([
        'alert tcp any any -> any any (msg:"login"; content:"USER admin"; flowbits:set,admin; flowbits:noalert; sid:101;)',
        'alert tcp any any -> any any (msg:"cmd as admin"; content:"DELETE"; flowbits:isset,admin; sid:102;)',
        'alert tcp any any -> any any (msg:"cmd not admin"; content:"DELETE"; flowbits:isnotset,admin; sid:103;)',
        'alert tcp any any -> any any (msg:"logout"; content:"QUIT"; flowbits:unset,admin; sid:104;)',
        'alert tcp any any -> any any (msg:"either"; content:"PING"; flowbits:isset,admin|other; sid:105;)',
    ], {0: b"USER admin", 1: b"DELETE", 2: b"DELETE", 3: b"QUIT", 4: b"PING"})
    c = Tcp(eng)
    c.handshake()
    c.c(b"DELETE x")
    assert sids(eng, t) == [103]
    c.c(b"PING")
    assert sids(eng, t) == []
    c.c(b"USER admin")                    # noalert setter: no alert, bit set
    assert sids(eng, t) == []
    c.c(b"DELETE y PING")
    assert sorted(sids(eng, t)) == [102, 105]
    c.c(b"QUIT")
    assert sids(eng, t) == [104]
    c.c(b"DELETE z")
    assert sids(eng, t) == [103]
    d = Tcp(eng, sport=41000)
    d.handshake()
    d.c(b"USER admin DELETE")             # set and test on one packet: the setter goes first
    assert sids(eng, t) == [102]
    e = Tcp(eng, sport=42000)             # another flow does not see the bit
    e.handshake()
    e.c(b"DELETE")
    assert sids(eng, t) == [103]


def test_flowbits_toggle_and_name_limit():
    from xdpfw.detect.sigtables import NotEngineRule
    eng, t = build(['alert tcp any any -> any any (msg:"t"; content:"T"; flowbits:toggle,x; flowbits:noalert; sid:110;)',
                    'alert tcp any any -> any any (msg:"x set"; content:"?"; flowbits:isset,x; sid:111;)'],
                   {0: b"T", 1: b"?"})
    c = Tcp(eng)
    c.handshake()
    c.c(b"T")
    c.c(b"?")
    assert sids(eng, t) == [111]
    c.c(b"T")
    c.c(b"?")
    assert sids(eng, t) == []
    tables = SigTables()
    with pytest.raises(NotEngineRule, match="more than 128"):
        for i in range(129):
            tables.add(parse_rule(f'alert tcp any any -> any any (flowbits:set,b{i}; sid:{i + 1};)'), has_payload=False)


def _udp(src=CLI, dst=SRV, sport=1000, dport=9, payload=b"x"):
    return bytes(ETH / IP(src=src, dst=dst) / UDP(sport=sport, dport=dport) / payload)


@pytest.mark.parametrize("opt,alerting_hits", [
    ("threshold:type limit, track by_src, count 2, seconds 60;", [1, 2]),
    ("threshold:type threshold, track by_src, count 3, seconds 60;", [3, 6]),
    ("threshold:type both, track by_src, count 3, seconds 60;", [3]),
    ("detection_filter:track by_src, count 2, seconds 60;", [3, 4, 5, 6, 7]),
])
def test_rate_control_per_window(opt, alerting_hits):
    eng, t = build([f'alert udp any any -> any 9 (msg:"x"; {opt} sid:120;)'], {})
    got = []
    for hit in range(1, 8):
        eng.inspect_frame(_udp(sport=1000 + hit), 0, S + hit)   # a new flow each time
        if eng.drain_alerts():
            got.append(hit)
    assert got == alerting_hits
    # another source has its own tracker; after the window the count starts again
    eng.inspect_frame(_udp(src="198.18.0.9"), 0, S + 10)
    assert len(eng.drain_alerts()) == (1 if alerting_hits[0] == 1 else 0)
    later = S + 61 * S
    eng.inspect_frame(_udp(sport=5000), 0, later)
    assert len(eng.drain_alerts()) == (1 if alerting_hits[0] == 1 else 0)


def test_detection_filter_gates_the_drop_itself():
    eng, t = build(['drop udp any any -> any 9 (msg:"flood"; detection_filter:track by_src, count 3, seconds 10; sid:121;)'], {})
    verdicts = [eng.inspect_frame(_udp(sport=2000 + i), 0, S + i)[0] for i in range(5)]
    assert verdicts == ["pass", "pass", "pass", "drop", "drop"]


def test_threshold_limit_mutes_the_alert_not_the_drop():
    eng, t = build(['drop udp any any -> any 9 (msg:"x"; threshold:type limit, track by_rule, count 1, seconds 60; sid:122;)'], {})
    verdicts = [eng.inspect_frame(_udp(sport=3000 + i), 0, S + i)[0] for i in range(3)]
    assert verdicts == ["drop"] * 3
    assert len(eng.drain_alerts()) == 1
    assert eng.counters()["alerts_thresholded"] == 2


def test_threshold_config_suppress_and_event_filter(tmp_path):
    rules = tmp_path / "t.rules"
    rules.write_text('alert udp any any -> any 9 (msg:"a"; sid:130;)\n'
                     'alert udp any any -> any 9 (msg:"b"; sid:131;)\n'
                     'alert udp any any -> any 9 (msg:"c"; flowbits:set,seen; sid:132;)\n'
                     'alert udp any any -> any 9 (msg:"d"; flowbits:isset,seen; sid:133;)\n')
    thr = tmp_path / "threshold.config"
    thr.write_text("suppress gen_id 1, sig_id 130, track by_src, ip 198.18.0.9\n"
                   "event_filter gen_id 1, sig_id 131, type limit, track by_dst, count 1, seconds 60\n"
                   "suppress gen_id 1, sig_id 132\n")
    from xdpfw.rules import load_ruleset
    rs = load_ruleset([str(rules)], threshold=str(thr))
    assert not rs.errors
    tables = SigTables()
    for r in rs.rules:
        tables.add(r, has_payload=False)
    eng = E.Engine(tables, flow_capacity=64)
    eng.inspect_frame(_udp(src="198.18.0.9"), 0, S)
    got = sorted(tables.rules[a["sig"]].sid for a in eng.drain_alerts())
    assert got == [131, 133]          # 130 suppressed for this source; 132 silent but set the bit
    eng.inspect_frame(_udp(src=CLI, sport=7), 0, S + 1)
    got = sorted(tables.rules[a["sig"]].sid for a in eng.drain_alerts())
    assert got == [130, 133]          # 131: one alert per destination per minute


@pytest.mark.parametrize("v6", [False, True])
def test_reject_rewrites_the_segment_into_the_senders_rst(v6):
    eng, t = build(['reject tcp any any -> any 80 (msg:"x"; content:"evil"; sid:140;)'], {0: b"evil"},
                   replies=True)
    cli, srv = ("2001:db8::1", "2001:db8::2") if v6 else (CLI, SRV)
    c = Tcp(eng, cli=cli, srv=srv, vlan=7)
    c.handshake()
    ack = 5001
    frame = c._frame(cli, srv, 40000, 80, c.cseq, "PA", b"GET /evil")
    pkt = Ether(frame)
    pkt[TCP].ack = ack
    del pkt[TCP].chksum
    verdict, reason = eng.inspect_frame(bytes(pkt), 0, S + 10**6)
    assert (verdict, reason) == ("reply", 2)
    rst = Ether(eng.last_reply)
    assert (rst.src, rst.dst) == (pkt.dst, pkt.src) and rst[Dot1Q].vlan == 7
    ipl = rst[IPv6] if v6 else rst[IP]
    assert (ipl.src, ipl.dst) == (srv, cli)
    assert (rst[TCP].sport, rst[TCP].dport, rst[TCP].seq, str(rst[TCP].flags)) == (80, 40000, ack, "R")
    assert len(rst[TCP].payload) == 0 or bytes(rst[TCP].payload) == b""
    # checksums as scapy computes them
    again = Ether(bytes(rst))
    for layer in ([IPv6] if v6 else [IP]) + [TCP]:
        if hasattr(again[layer], "chksum"):
            del again[layer].chksum
    assert bytes(Ether(bytes(again))) == eng.last_reply
    assert eng.counters()["rejects_sent"] == 1
    assert c.c(b"more") == ("drop", 2)  # the rest of the flow is dropped (no second RST)


def test_reject_rules_the_worker_cannot_answer_are_refused():
    from xdpfw.detect.sigtables import NotEngineRule
    tables = SigTables()
    for text in ('rejectdst udp any any -> any 53 (sid:1;)', 'rejectboth icmp any any -> any any (sid:2;)'):
        with pytest.raises(NotEngineRule, match="rejectdst/rejectboth need tcp"):
            tables.add(parse_rule(text), has_payload=False)
    tables.add(parse_rule('reject udp any any -> any 53 (sid:3;)'), has_payload=False)  # ICMP


def _rechecksummed(raw: bytes, layers) -> bytes:
    """The packet with the given layers' checksums recomputed by scapy."""
    again = Ether(raw)
    for layer in layers:
        if again.haslayer(layer) and hasattr(again[layer], "chksum"):
            del again[layer].chksum
        if again.haslayer(layer) and hasattr(again[layer], "cksum"):
            del again[layer].cksum
    return bytes(Ether(bytes(again)))


@pytest.mark.parametrize("v6", [False, True])
def test_rejectboth_resets_the_sender_and_the_destination(v6):
    eng, t = build(['rejectboth tcp any any -> any 80 (msg:"x"; content:"evil"; sid:141;)'], {0: b"evil"},
                   replies=True)
    cli, srv = ("2001:db8::1", "2001:db8::2") if v6 else (CLI, SRV)
    c = Tcp(eng, cli=cli, srv=srv)
    c.handshake()
    pkt = Ether(c._frame(cli, srv, 40000, 80, c.cseq, "PA", b"GET /evil"))
    pkt[TCP].ack = 5001
    del pkt[TCP].chksum
    assert eng.inspect_frame(bytes(pkt), 0, S) == ("reply_both", 2)
    to_sender, to_dest = Ether(eng.last_reply), Ether(eng.last_extra)
    ipl = IPv6 if v6 else IP
    assert (to_sender[ipl].src, to_sender[ipl].dst, to_sender[TCP].seq, str(to_sender[TCP].flags)) == \
        (srv, cli, 5001, "R")
    # the destination gets a reset in the segment's place: same endpoints, its sequence number
    assert (to_dest.src, to_dest.dst) == (pkt.src, pkt.dst)
    assert (to_dest[ipl].src, to_dest[ipl].dst, to_dest[TCP].sport, to_dest[TCP].dport) == (cli, srv, 40000, 80)
    assert (to_dest[TCP].seq, to_dest[TCP].ack, str(to_dest[TCP].flags)) == (pkt[TCP].seq, 5001, "RA")
    assert len(to_dest[TCP].payload) == 0
    for raw in (eng.last_reply, eng.last_extra):
        assert _rechecksummed(raw, [IP, IPv6, TCP]) == raw
    assert eng.counters()["rejects_sent"] == 2


def test_rejectdst_forwards_a_reset_in_place_of_the_segment():
    eng, t = build(['rejectdst tcp any any -> any 80 (msg:"x"; content:"evil"; sid:142;)'], {0: b"evil"},
                   replies=True)
    c = Tcp(eng)
    c.handshake()
    frame = c._frame(CLI, SRV, 40000, 80, c.cseq, "PA", b"GET /evil")
    assert eng.inspect_frame(frame, 0, S) == ("reply_peer", 2)
    rst = Ether(eng.last_reply)
    assert (rst[IP].src, rst[IP].dst, rst[TCP].seq, rst[TCP].flags.R) == (CLI, SRV, Ether(frame)[TCP].seq, True)
    assert _rechecksummed(eng.last_reply, [IP, TCP]) == eng.last_reply


@pytest.mark.parametrize("v6", [False, True])
def test_reject_on_udp_answers_with_icmp_port_unreachable(v6):
    from scapy.layers.inet import ICMP, IPerror, UDPerror
    from scapy.layers.inet6 import ICMPv6DestUnreach, IPerror6

    eng, t = build(['reject udp any any -> any 53 (msg:"x"; content:"evil"; sid:143;)'], {0: b"evil"},
                   replies=True)
    cli, srv = ("2001:db8::1", "2001:db8::2") if v6 else (CLI, SRV)
    ipl = IPv6(src=cli, dst=srv) if v6 else IP(src=cli, dst=srv, id=4242)
    orig = ETH / Dot1Q(vlan=9) / ipl / UDP(sport=5353, dport=53) / (b"evil" + b"x" * 300)
    assert eng.inspect_frame(bytes(orig), 0, S) == ("reply", 2)
    rep = Ether(eng.last_reply)
    assert (rep.src, rep.dst, rep[Dot1Q].vlan) == (orig.dst, orig.src, 9)
    if v6:
        assert (rep[IPv6].src, rep[IPv6].dst, rep[IPv6].nh) == (srv, cli, 58)
        assert (rep[ICMPv6DestUnreach].type, rep[ICMPv6DestUnreach].code) == (1, 4)
        quoted = rep[IPerror6]
        assert (quoted.src, quoted.dst) == (cli, srv)
        assert len(rep[IPv6].payload) == 8 + 48       # ICMPv6 header + IPv6 header + 8 bytes
        from scapy.layers.inet6 import in6_chksum
        icmp = bytearray(bytes(rep[IPv6].payload))
        want = int.from_bytes(icmp[2:4], "big")
        icmp[2:4] = b"\0\0"
        assert in6_chksum(58, rep[IPv6], bytes(icmp)) == want
        return
    else:
        assert (rep[IP].src, rep[IP].dst, rep[IP].proto) == (srv, cli, 1)
        assert (rep[ICMP].type, rep[ICMP].code) == (3, 3)
        assert (rep[IPerror].src, rep[IPerror].dst, rep[IPerror].id) == (cli, srv, 4242)
        assert (rep[UDPerror].sport, rep[UDPerror].dport) == (5353, 53)
        assert rep[IP].len == 20 + 8 + 20 + 8
    assert _rechecksummed(eng.last_reply, [IP, IPv6, ICMP, ICMPv6DestUnreach]) == eng.last_reply


def test_icmp_errors_and_multicast_are_never_answered():
    from scapy.layers.inet import ICMP
    eng, t = build(['reject icmp any any -> any any (msg:"x"; sid:144;)',
                    'reject udp any any -> any any (msg:"y"; sid:145;)'], {}, replies=True)
    err = ETH / IP(src=CLI, dst=SRV) / ICMP(type=3, code=1) / IP(src=SRV, dst=CLI) / UDP()
    assert eng.inspect_frame(bytes(err), 0, S) == ("drop", 2)     # dropped, not answered
    echo = ETH / IP(src="198.18.0.7", dst=SRV) / ICMP(type=8)   # another flow: the first was dropped
    assert eng.inspect_frame(bytes(echo), 0, S)[0] == "reply"
    mc = ETH / IP(src=CLI, dst="239.1.2.3") / UDP(dport=5000) / b"x"
    assert eng.inspect_frame(bytes(mc), 0, S) == ("drop", 2)


def test_tcp_fragments_are_dropped_inline_and_inspected_alone_in_ids():
    from scapy.layers.inet import fragment
    seg = ETH / IP(src=CLI, dst=SRV, id=77) / TCP(sport=1, dport=80, flags="PA", seq=5) / (b"A" * 64 + b"EVIL" + b"B" * 64)
    frags = [ETH / f for f in fragment(seg[IP], fragsize=64)]
    assert len(frags) >= 2
    for ips, verdict in ((True, ("drop", 8)), (False, ("pass", None))):   # 8: ip_fragment
        eng, t = build(['alert tcp any any -> any any (msg:"x"; content:"EVIL"; sid:150;)'], {0: b"EVIL"}, ips=ips)
        assert [eng.inspect_frame(bytes(f), 0, S) for f in frags] == [verdict] * len(frags)
        assert eng.counters()["tcp_fragments"] == len(frags)
    udp = ETH / IP(src=CLI, dst=SRV, id=78) / UDP(sport=1, dport=53) / (b"x" * 200)
    eng, t = build([], {})
    assert all(eng.inspect_frame(bytes(ETH / f), 0, S)[0] == "pass" for f in fragment(udp[IP], fragsize=64))


def _rate_engine(tmp_path, rule, rate_line, **kw):
    from xdpfw.detect.ruleset import load_detection
    (tmp_path / "r.rules").write_text(rule + "\n")
    (tmp_path / "threshold.config").write_text(rate_line + "\n")
    det = load_detection([str(tmp_path / "r.rules")], [], kernel_acl=False,
                         threshold=str(tmp_path / "threshold.config"))
    return det.engine_factory(flow_capacity=256, **kw)()


def test_rate_filter_changes_the_action_for_its_timeout(tmp_path):
    eng = _rate_engine(tmp_path, 'alert udp any any -> any 9 (msg:"knock"; sid:700;)',
                       "rate_filter gen_id 1, sig_id 700, track by_src, count 3, seconds 60, "
                       "new_action drop, timeout 10")
    v = [eng.inspect_frame(_udp(), 0, t * S) for t in (1, 2, 3, 4, 12)]
    # hits 1-2 alert only; the 3rd activates the filter (dropped), the 4th is within the
    # 10 s timeout (dropped); at 12 s... the flow was condemned by the drop: dropped too
    assert v[:2] == [PASS, PASS] and v[2] == RULE_DROP and v[3] == RULE_DROP
    recs = eng.drain_alerts()
    assert [r["action"] for r in recs] == ["alert", "alert", "drop"]   # then the flow is dropped
    assert eng.counters()["rate_filter_activations"] == 1
    # another source has its own count
    assert eng.inspect_frame(_udp(src="198.18.0.9"), 0, 5 * S) == PASS


def test_rate_filter_times_out_and_counting_starts_again(tmp_path):
    # new_action alert on a drop rule: past the rate, matches are only alerted (no flow drop)
    eng = _rate_engine(tmp_path, 'drop udp any any -> any 9 (msg:"x"; content:"z"; sid:701;)',
                       "rate_filter gen_id 1, sig_id 701, track by_rule, count 2, seconds 60, "
                       "new_action alert, timeout 5", ips=True)
    frames = [(_udp(sport=1000 + i, payload=b"z"), t) for i, t in enumerate((1, 2, 3, 9, 10))]
    v = [eng.inspect_frame(f, 0, t * S) for f, t in frames]
    # 1st: drop; 2nd activates (alert only); 3rd within 5 s: alert; at 9 s the filter has
    # timed out, counting restarts: drop; 10 s: 2nd hit of the new window: alert again
    assert v == [RULE_DROP, PASS, PASS, RULE_DROP, PASS]
    assert [r["action"] for r in eng.drain_alerts()] == ["drop", "alert", "alert", "drop", "alert"]


def test_rate_filter_reject_answers_the_sender(tmp_path):
    eng = _rate_engine(tmp_path, 'alert udp any any -> any 9 (msg:"x"; sid:702;)',
                       "rate_filter gen_id 1, sig_id 702, track by_rule, count 2, seconds 60, "
                       "new_action reject, timeout 5", replies=True)
    assert eng.inspect_frame(_udp(), 0, S) == PASS
    assert eng.inspect_frame(_udp(sport=1001), 0, 2 * S) == ("reply", 2)   # ICMP unreachable


def test_decode_events_are_counted_per_event():
    from xdpfw.service.metrics import DECODE_EVENT_LABELS
    eng, t = build([], {})
    bad = bytearray(bytes(ETH / IP(src=CLI, dst=SRV) / UDP(sport=1, dport=2) / b"x"))
    bad[14] = 0x44                                # IHL 4: header shorter than 20 bytes
    eng.inspect_frame(bytes(bad), 0, S)
    eng.inspect_frame(bytes(bad), 0, S)
    ev = eng.counters()["decode_events"]
    assert ev[DECODE_EVENT_LABELS.index("ipv4.hlen_too_small")] == 2
    assert sum(ev) == 2


def test_forged_out_of_sequence_rst_does_not_end_the_connection():
    # A reset the host answers with a challenge ACK (RFC 5961: not at the next expected
    # byte), then a SYN on the same 5-tuple: neither may restart the appliance's view of
    # the live connection, so content split around them is still matched as one stream.
    eng, t = build(['drop tcp any any -> any 80 (msg:"evil"; content:"EVILPAYLOAD"; sid:1;)'],
                   {0: b"EVILPAYLOAD"})
    c = Tcp(eng)
    c.handshake()
    assert c.c(b"GET /EVILPA") == PASS
    assert c.c(flags="R", seq=c.cseq + 1000) == PASS     # forwarded: the host ignores it
    assert c.c(flags="S", seq=90000) == PASS             # host: challenge ACK, no new connection
    assert c.c(b"YLOAD HTTP/1.0\r\n") == RULE_DROP
    assert sids(eng, t) == [1]
    # A reset at the next expected byte does close the flow, and a new SYN starts a new one.
    c2 = Tcp(eng, sport=40001)
    c2.handshake()
    c2.c(b"GET /EVILPA")
    assert c2.c(flags="R") == PASS
    assert c2.c(flags="S", seq=90000) == PASS
    c2.cseq = 90001
    assert c2.c(b"YLOAD HTTP/1.0\r\n") == PASS           # a new stream: no half-pattern carried
    assert sids(eng, t) == []


CSUM_DROP = ("drop", 10)      # XDPFW_DROP_BAD_CHECKSUM


@pytest.mark.parametrize("cli,srv", [(CLI, SRV), ("2001:db8::1", "2001:db8::2")])
def test_segment_with_a_wrong_checksum_is_dropped_before_anything_of_it_counts(cli, srv):
    """Checksum insertion: the host drops such a segment, so inline the engine must not
    inspect it, record it, or let it change the connection's state."""
    rule = ['drop tcp any any -> any any (msg:"x"; content:"ATTACK"; sid:8;)']
    eng, t = build(rule, {0: b"ATTACK"}, verify_checksums=True)
    c = Tcp(eng, cli=cli, srv=srv)
    assert c.handshake() == [PASS] * 3
    good = c._frame(cli, srv, c.sport, c.dport, c.cseq, "PA", b"BENIGN", c.sseq)
    tcp_at = len(good) - 6 - 20
    bad = bytearray(good)
    bad[tcp_at + 16] ^= 0x01                               # the TCP checksum
    assert eng.inspect_frame(bytes(bad), 0, S) == CSUM_DROP
    assert eng.counters()["bad_checksum"] == 1
    assert c.c(b"ATTACK") == RULE_DROP                     # the bytes the host reads are inspected
    rst = bytearray(c._frame(cli, srv, c.sport, c.dport, c.cseq, "R", b"", 0))
    rst[-4] ^= 0x40                                        # a RST at the next byte, wrong checksum
    assert eng.inspect_frame(bytes(rst), 0, S) == CSUM_DROP
    if ":" not in cli:
        hdr = bytearray(good)
        hdr[14 + 10] ^= 0x01                               # the IPv4 header checksum
        assert eng.inspect_frame(bytes(hdr), 0, S) == CSUM_DROP
    # off (replay's default): a wrong checksum is not the engine's business
    eng, t = build(rule, {0: b"ATTACK"})
    c = Tcp(eng, cli=cli, srv=srv)
    c.handshake()
    assert eng.inspect_frame(bytes(bad), 0, S) == PASS


@pytest.mark.parametrize("cli,srv", [(CLI, SRV), ("2001:db8::1", "2001:db8::2")])
def test_segment_with_a_low_ttl_leaves_with_its_directions_ttl(cli, srv):
    """TTL insertion and the TTL-limited RST: a segment that would expire past the appliance
    is sent on with the highest TTL its direction has shown, so the host sees what the
    engine saw."""
    from scapy.layers.inet import IP as IP4

    eng, t = build(['alert tcp any any -> any any (msg:"x"; content:"Q"; sid:1;)'], {0: b"Q"},
                   normalize_ttl=True)
    v6 = ":" in cli
    ipl = (lambda ttl: IPv6(src=cli, dst=srv, hlim=ttl)) if v6 else (lambda ttl: IP4(src=cli, dst=srv, ttl=ttl))
    frame = lambda ttl, flags, seq, data=b"": bytes(ETH / ipl(ttl) / TCP(sport=40000, dport=80, seq=seq, ack=5001,
                                                                           flags=flags) / data)
    assert eng.inspect_frame(frame(60, "S", 1000), 0, S) == PASS
    assert eng.inspect_frame(bytes(ETH / (IPv6(src=srv, dst=cli, hlim=3) if v6 else IP4(src=srv, dst=cli, ttl=3))
                                   / TCP(sport=80, dport=40000, seq=5000, ack=1001, flags="SA")), 1, S) == PASS
    assert eng.inspect_frame(frame(60, "A", 1001), 0, S) == PASS
    assert eng.inspect_frame(frame(1, "PA", 1001, b"hello"), 0, S) == PASS
    out = Ether(eng.last_frame)
    assert (out[IPv6].hlim if v6 else out[IP4].ttl) == 60
    if not v6:                                             # the header checksum still holds
        fixed = IP4(bytes(out[IP4]))
        del fixed.chksum
        assert IP4(bytes(fixed)).chksum == out[IP4].chksum
    assert out[TCP].payload.load == b"hello"
    assert eng.inspect_frame(frame(64, "PA", 1006, b"more"), 0, S) == PASS   # a higher one is kept
    assert eng.inspect_frame(frame(2, "PA", 1010, b"!"), 0, S) == PASS
    out = Ether(eng.last_frame)
    assert (out[IPv6].hlim if v6 else out[IP4].ttl) == 64
    assert eng.counters()["ttl_raised"] == 2
    # the other direction has its own: the server's TTL 3 is left as it is
    assert eng.inspect_frame(bytes(ETH / (IPv6(src=srv, dst=cli, hlim=3) if v6 else IP4(src=srv, dst=cli, ttl=3))
                                   / TCP(sport=80, dport=40000, seq=5001, ack=1011, flags="PA") / b"ok"), 1, S) == PASS
    assert eng.counters()["ttl_raised"] == 2


@pytest.mark.parametrize("nrules", [1, 7, 8, 20])
def test_header_only_rules_kept_per_flow_direction(nrules):
    """The header-only rules whose protocol, addresses and ports hold are worked out once
    per flow direction and kept (up to seven; more are scanned per packet): their flow
    state and dsize are still checked on every packet, either way, and a flow with other
    ports keeps its own list."""
    texts = [f'alert tcp any any -> any 80 (msg:"d{n}"; flow:established,to_server; dsize:{n}; sid:{100 + n};)'
             for n in range(1, nrules + 1)]
    texts.append('alert tcp any any -> any 81 (msg:"other port"; dsize:3; sid:99;)')
    eng, t = build(texts, {})
    c = Tcp(eng)
    assert c.handshake() == [PASS] * 3
    assert sids(eng, t) == []              # dsize 0 fits none; the SYN is not established
    for n in (1, nrules, 3, 1, nrules + 1):
        c.c(b"x" * n)
        assert sids(eng, t) == ([100 + n] if n <= nrules else []), n
    c.s(b"x")                               # to_client: none of them
    assert sids(eng, t) == []
    o = Tcp(eng, sport=40002, dport=81)
    o.handshake()
    o.c(b"abc")
    o.c(b"a")
    assert sids(eng, t) == [99]


def test_header_only_rules_index_by_address_agrees_with_every_rule():
    """Header-only rules are found through an index by address segments (the side that
    narrows each most; `<>` and any-any rules always checked): random blocklist-style
    rules - overlapping nets, single hosts, negations, IPv6, `<>` - against random
    packets, each a new flow, fire exactly as their addresses say."""
    import ipaddress
    import random

    from scapy.layers.inet import UDP

    rnd = random.Random(7)
    pool4 = [f"198.18.{a}.{b}" for a in range(4) for b in (1, 2, 9, 77, 200)]
    pool6 = ["2001:db8::1", "2001:db8::2", "2001:db8:1::5"]
    nets = ["198.18.0.0/24", "198.18.1.0/25", "198.18.0.0/22", "198.18.2.9", "198.18.3.77",
            "2001:db8::/64", "2001:db8::2", "198.18.1.200"]

    def aset():
        k = rnd.random()
        if k < 0.2:
            return "any"
        picked = rnd.sample(nets, rnd.randint(1, 3))
        s = "[" + ",".join(picked) + "]"
        return ("!" + s) if k > 0.85 else s

    rules, texts = [], []
    for n in range(60):
        src, dst = aset(), aset()
        arrow = "<>" if n % 11 == 0 else "->"
        rules.append((src, dst, arrow))
        texts.append(f'alert udp {src} any {arrow} {dst} any (msg:"r{n}"; sid:{1000 + n};)')
    eng, t = build(texts, {})
    idx = eng.header_rule_index
    always = sum(1 for src, dst, arrow in rules if arrow == "<>" or (src == "any" and dst == "any"))
    # `<>` and any-any rules are checked always, and so are sets too wide to list (most
    # negations); the rest are listed
    assert idx["rules"] == 60 and always <= idx["always"] < 30 and min(idx["segments"]) > 0, idx

    def inset(a, s):
        if s == "any":
            return True
        neg = s.startswith("!")
        nets_ = s.lstrip("!")[1:-1].split(",")
        ip = ipaddress.ip_address(a)
        fam = [ipaddress.ip_network(x, strict=False) for x in nets_]
        hit = any(ip.version == n.version and ip in n for n in fam)
        if neg:   # the complement within the address families the set names
            return not hit and any(ip.version == n.version for n in fam)
        return hit

    sport = 1000
    for _ in range(150):
        v6 = rnd.random() < 0.2
        src, dst = rnd.sample(pool6 if v6 else pool4, 2)
        sport += 1
        ipl = IPv6(src=src, dst=dst) if v6 else IP(src=src, dst=dst)
        eng.inspect_frame(bytes(ETH / ipl / UDP(sport=sport, dport=53) / b"x"), 0, S + sport)
        want = sorted(1000 + n for n, (rs, rd, arrow) in enumerate(rules)
                      if (inset(src, rs) and inset(dst, rd)) or
                      (arrow == "<>" and inset(dst, rs) and inset(src, rd)))
        assert sorted(sids(eng, t)) == want, (src, dst)
