"""Block prefilter and verify (xdpfw/detect/prefilter.py, engine.pyx _scan_block): the same
alerts as the whole block database, with fewer rule scans; the overflow fallback; rules
without a literal; the literal choice."""
from __future__ import annotations

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from xdpfw.detect import cache as C
from xdpfw.detect.prefilter import fast_literal
from xdpfw.detect.ruleset import build_detection, load_detection
from xdpfw.rules import parse_rule

ETH = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
CLI, SRV = "198.18.0.10", "198.18.1.20"
RULES = [
    'alert udp any any -> any 53 (msg:"a"; content:"evil"; content:"zone"; distance:0; sid:1;)',
    'alert udp any any -> any 5353 (msg:"same literal, other port"; content:"evil"; content:"zone"; sid:2;)',
    'alert udp any any -> any any (msg:"nocase"; content:"MiXeD"; nocase; sid:3;)',
    'alert udp any any -> any any (msg:"pcre only"; pcre:"/ab+c\\d{3}/"; sid:4;)',
    'alert udp any any -> any any (msg:"negated"; content:"keep"; content:!"notthis"; sid:5;)',
    'alert udp any any -> any any (msg:"offset"; content:"|de ad|"; offset:0; depth:2; sid:6;)',
    'alert udp any any -> any any (msg:"marked"; content:"longerpattern"; content:"fp"; fast_pattern; sid:7;)',
]


def engines(rules=RULES):
    det = build_detection([parse_rule(t) for t in rules], kernel_acl=False)
    assert not det.problems, det.problems
    assert det.block_pre is not None
    on = det.engine_factory(flow_capacity=256)()
    pre, det.block_pre = det.block_pre, None
    off = det.engine_factory(flow_capacity=256)()
    det.block_pre = pre
    return det, on, off


def udp(payload, dport=53, sport=4000):
    return bytes(ETH / IP(src=CLI, dst=SRV) / UDP(sport=sport, dport=dport) / payload)


def sids(eng):
    return [eng.rules[a["sig"]].sid for a in eng.drain_alerts()]


PAYLOADS = [
    (b"xxevil.zone", 53), (b"xxevil.zone", 5353), (b"zone evil", 53), (b"zone evil", 5353),
    (b"a mixed b", 9), (b"abbbc123", 9), (b"ac123", 9), (b"keep it", 9), (b"keep notthis", 9),
    (b"\xde\xadxx", 9), (b"x\xde\xad", 9), (b"longerpattern fp", 9), (b"fp longerpattern", 9),
    (b"fp", 9), (b"", 9), (b"evil zone MIXED abc999 keep \xde\xad", 53),
]


def test_same_alerts_as_the_whole_block_database():
    _, on, off = engines()
    for i, (payload, port) in enumerate(PAYLOADS):
        a = on.inspect_frame(udp(payload, port, 4000 + i), 0, 10**9 + i)
        b = off.inspect_frame(udp(payload, port, 4000 + i), 0, 10**9 + i)
        assert a == b
        assert sorted(sids(on)) == sorted(sids(off)), payload
    c = on.counters()
    assert c["prefilter_hits"] > 0 and c["prefilter_overflow"] == 0
    # the expected sids, not only agreement: the prefilter path must find them
    on2 = engines()[1]
    got = {}
    for i, (payload, port) in enumerate(PAYLOADS):
        on2.inspect_frame(udp(payload, port, 5000 + i), 0, 10**9 + i)
        got[(payload, port)] = sorted(sids(on2))
    assert got[(b"xxevil.zone", 53)] == [1] and got[(b"xxevil.zone", 5353)] == [2]
    assert got[(b"zone evil", 53)] == [] and got[(b"zone evil", 5353)] == [2]   # sid 1: zone after evil
    assert got[(b"a mixed b", 9)] == [3]
    assert got[(b"abbbc123", 9)] == [4] and got[(b"ac123", 9)] == []
    assert got[(b"keep it", 9)] == [5] and got[(b"keep notthis", 9)] == []
    assert got[(b"\xde\xadxx", 9)] == [6] and got[(b"x\xde\xad", 9)] == []
    assert got[(b"longerpattern fp", 9)] == [7] and got[(b"fp", 9)] == []


def test_header_is_checked_before_a_rule_is_verified():
    _, on, _ = engines()
    on.inspect_frame(udp(b"evil.zone", 9999), 0, 10**9)
    c = on.counters()
    assert c["prefilter_hits"] == 1                  # "evil" (and "zone", no rule's literal)
    assert c["prefilter_verified"] == 0              # sid 1 wants port 53, sid 2 port 5353
    on.inspect_frame(udp(b"evil.zone", 53), 0, 10**9 + 1)
    assert on.counters()["prefilter_verified"] == 1  # sid 1 only
    assert sids(on) == [1]


def test_rules_without_a_literal_are_scanned_whole():
    det, on, _ = engines()
    assert 4 in det.block_pre.residual_sids and det.block_pre.residual is not None
    on.inspect_frame(udp(b"zzabbbbc777", 9), 0, 10**9)
    assert sids(on) == [4]
    assert on.counters()["prefilter_verified"] == 0


def test_overflow_scans_the_whole_database():
    rules = [f'alert udp any any -> any any (msg:"r{i}"; content:"L{i:03d}x"; sid:{100 + i};)' for i in range(200)]
    det, on, off = engines(rules)
    assert det.block_pre.summary()["literals"] == 200
    payload = b"".join(b"L%03dx" % i for i in range(200))
    on.inspect_frame(udp(payload, 9), 0, 10**9)
    off.inspect_frame(udp(payload, 9), 0, 10**9)
    a, b = sids(on), sids(off)
    assert a == b and len(a) == 64                      # MAX_FIRED rules fire on one packet
    assert on.counters()["prefilter_overflow"] == 1


def test_fast_literal_choice():
    r = parse_rule('alert udp any any -> any any (content:"ab"; content:"longest"; content:!"neverthis"; sid:1;)')
    assert fast_literal(r) == (b"longest", False)
    r = parse_rule('alert udp any any -> any any (content:"longest"; content:"fp"; fast_pattern; sid:1;)')
    assert fast_literal(r) == (b"fp", False)
    r = parse_rule('alert udp any any -> any any (content:"ABCD"; nocase; content:"abcd"; sid:1;)')
    assert fast_literal(r) == (b"abcd", False)           # case-sensitive preferred at equal length
    r = parse_rule('alert udp any any -> any any (content:!"x"; pcre:"/y/"; sid:1;)')
    assert fast_literal(r) is None


def test_reload_carries_the_prefilter():
    det, on, _ = engines()
    det2 = build_detection([parse_rule(RULES[2]), parse_rule(RULES[5])], kernel_acl=False)
    assert det2.block_pre is not None
    det2.stage(on)
    on.apply_staged()
    on.inspect_frame(udp(b"xxevil.zone MIXED", 53), 0, 10**9)
    assert sids(on) == [3]
    assert on.counters()["prefilter_verified"] == 1


def test_a_cached_rule_set_carries_its_prefilter(tmp_path):
    """The compile cache stores the prefilter's databases with the rule set: a start from
    the cache runs the same prefilter and raises the same alerts."""
    rules = tmp_path / "r.rules"
    rules.write_text("\n".join(RULES) + "\n")
    built = load_detection([str(rules)], [], kernel_acl=False, cache=C.CompileCache(str(tmp_path / "c")))
    hit = load_detection([str(rules)], [], kernel_acl=False, cache=C.CompileCache(str(tmp_path / "c")))
    assert not built.cached and hit.cached
    assert hit.block_pre is not None and hit.block_pre.summary() == built.block_pre.summary()
    assert hit.block_pre.literals == built.block_pre.literals
    got = []
    for det in (built, hit):
        eng = det.engine_factory(flow_capacity=256)()
        for i, (payload, port) in enumerate(PAYLOADS):
            eng.inspect_frame(udp(payload, port, 6000 + i), 0, 10**9 + i)
        got.append((sorted(sids(eng)), eng.counters()["prefilter_verified"]))
    assert got[0] == got[1] and got[0][1] > 0
