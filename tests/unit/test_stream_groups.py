"""Stream groups (xdpfw/detect/streamgroups.py, engine.pyx _scan_stream): each flow direction
is scanned with the stream rules its direction and addresses can match; the alerts are the
whole stream database's, on every kind of direction, across segments, for IPv4 and IPv6,
after a reload and from the compile cache."""
from __future__ import annotations

import itertools

import pytest

from xdpfw.detect import cache as C
from xdpfw.detect import streamgroups as G
from xdpfw.detect.ruleset import build_detection, load_detection
from xdpfw.rules import parse_rule

from tests.unit.test_engine import Tcp

VARS = {"HOME_NET": "[198.18.0.0/24,2001:db8:1::/48]", "EXTERNAL_NET": "!$HOME_NET",
        "HTTP_SERVERS": "198.18.0.5"}
RULES = [
    'alert tcp $HOME_NET any -> $EXTERNAL_NET any (msg:"out"; flow:to_server; content:"outbound1"; sid:1;)',
    'alert tcp $EXTERNAL_NET any -> $HOME_NET any (msg:"in"; flow:to_server; content:"inbound1"; sid:2;)',
    'alert tcp $EXTERNAL_NET any -> $HOME_NET any (msg:"dl"; flow:to_client; content:"download"; sid:3;)',
    'alert tcp any any -> any any (msg:"all"; content:"everywhere"; sid:4;)',
    'alert tcp $HOME_NET any <> $EXTERNAL_NET any (msg:"bi"; content:"bidir"; sid:5;)',
    'alert tcp $HTTP_SERVERS any -> $EXTERNAL_NET any (msg:"srv"; flow:to_client; content:"served"; sid:6;)',
    'alert tcp $EXTERNAL_NET any -> $HOME_NET any (msg:"span"; flow:to_server; content:"alpha"; '
    'content:"omega"; distance:0; sid:7;)',
    'alert tcp $HOME_NET any -> $HOME_NET any (msg:"neg"; content:"keep"; content:!"notthis"; sid:8;)',
]
HOME4, HOME6, SRV4 = "198.18.0.10", "2001:db8:1::10", "198.18.0.5"
EXT4, EXT6 = "198.19.0.20", "2001:db8:2::20"
WORDS = [b"outbound1", b"inbound1", b"download", b"everywhere", b"bidir", b"served", b"alpha", b"omega",
         b"keep"]


@pytest.fixture(autouse=True)
def split_small_sets(monkeypatch):
    """These rule sets are small: split them anyway (the default threshold leaves a buffer
    of fewer than MIN_PATTERNS patterns whole; test_small_buffers_are_not_split)."""
    monkeypatch.setattr(G, "MIN_PATTERNS", 0)


def parse(texts):
    return [parse_rule(t, VARS) for t in texts]


def detection(texts=RULES):
    det = build_detection(parse(texts), kernel_acl=False)
    assert not det.problems, det.problems
    return det


def engines(det):
    on = det.engine_factory(flow_capacity=256)()
    groups, det.stream_groups = det.stream_groups, None
    off = det.engine_factory(flow_capacity=256)()
    det.stream_groups = groups
    return on, off


def sids(eng):
    return sorted(eng.rules[a["sig"]].sid for a in eng.drain_alerts())


def converse(eng, cli, srv, chunks_c, chunks_s, sport):
    t = Tcp(eng, sport=sport, dport=8080, cli=cli, srv=srv)
    t.handshake()
    for a, b in itertools.zip_longest(chunks_c, chunks_s):
        if a:
            t.c(a)
        if b:
            t.s(b)
    return sids(eng)


def test_rule_groups_follow_direction_and_addresses():
    home = G.engine_ranges(parse_rule("alert tcp $HOME_NET any -> any any (sid:1;)", VARS).src)
    g = lambda text: {G.group_name(x) for x in G.rule_groups(parse_rule(text, VARS), home)}
    assert g(RULES[0]) == {"to_server src in dst out"}
    assert g(RULES[2]) == {"to_client src out dst in"}
    assert len(g(RULES[3])) == 8                                   # any, no direction: every group
    assert g(RULES[4]) == {f"{d} src {a} dst {b}" for d in G.DIRS for a, b in (("in", "out"), ("out", "in"))}
    assert g(RULES[5]) == {"to_client src in dst out"}             # a set inside H counts as H
    part = 'alert tcp [198.18.0.1,198.19.0.1] any -> any any (flow:to_server; sid:9;)'
    assert g(part) == {f"to_server src {a} dst {b}" for a in ("in", "out") for b in ("in", "out")}
    six = 'alert tcp 2001:db8:1::/64 any -> 2001:db8:2::/64 any (flow:to_server; sid:10;)'
    assert g(six) == {"to_server src in dst out"}
    assert G.rule_groups(parse_rule(RULES[0], VARS), None) == {G.group_index(0, 0, 0)}


def test_home_is_the_set_the_rules_name_most_and_only_if_enough_do():
    home = G.choose_home(parse(RULES))
    assert home in (G.engine_ranges(parse(RULES)[0].src), G.engine_ranges(parse(RULES)[0].dst))
    assert G.choose_home(parse(['alert tcp any any -> any any (content:"x"; sid:1;)'] * 3 +
                               ['alert tcp 198.18.0.1 any -> any any (content:"x"; sid:2;)'])) is None


@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_same_alerts_as_the_whole_stream_database_in_every_kind_of_direction(fam):
    det = detection()
    assert det.stream_groups is not None and det.stream_groups.home is not None
    summary = det.stream_groups.summary()
    assert summary["split_by_address"] and summary["rules"]["to_server src in dst out"] < len(RULES)
    on, off = engines(det)
    home, ext = (HOME4, EXT4) if fam == "v4" else (HOME6, EXT6)
    payload = b" ".join(WORDS) + b" notthis"
    pairs = [(home, ext), (ext, home), (home, SRV4 if fam == "v4" else home), (ext, ext), (SRV4, ext)]
    got = []
    for n, (cli, srv) in enumerate(pairs):
        if ":" in cli and ":" not in srv or ":" in srv and ":" not in cli:
            continue
        # whole, and cut at every word boundary (matches across segments)
        for cut in (None, 7, 31):
            chunks = [payload] if cut is None else [payload[:cut], payload[cut:]]
            a = converse(on, cli, srv, chunks, chunks, 41000 + 10 * n + (cut or 0))
            b = converse(off, cli, srv, chunks, chunks, 41000 + 10 * n + (cut or 0))
            assert a == b, (cli, srv, cut)
            got.append(((cli, srv, cut), a))
    by = dict(got)
    # the expected alerts, not only agreement
    # home client: out (to the server), download (from it), all and bidir both ways
    assert by[(home, ext, None)] == [1, 3, 4, 4, 5, 5]
    # external client: in and span (to the server); its replies are home -> external,
    # to_client: no download (external -> home) there
    assert by[(ext, home, None)] == [2, 4, 4, 5, 5, 7]
    assert by[(ext, home, 7)] == by[(ext, home, None)]


def test_a_group_no_rule_can_match_is_not_scanned():
    det = detection(RULES[:2])                       # to_server rules only
    assert all(det.stream_groups.dbs[G.group_index(1, a, b)] is None for a in (0, 1) for b in (0, 1))
    on, off = engines(det)
    converse(on, HOME4, EXT4, [b"outbound1"], [b"a server's reply" * 10], 42000)
    converse(off, HOME4, EXT4, [b"outbound1"], [b"a server's reply" * 10], 42000)
    assert on.counters()["scanned_bytes"] == len(b"outbound1")   # the server's bytes: no rule, no scan
    assert off.counters()["scanned_bytes"] > on.counters()["scanned_bytes"]


def test_reload_carries_the_groups():
    det = detection()
    on, _ = engines(det)
    det2 = detection([RULES[2], RULES[3]])
    assert det2.stream_groups is not None
    det2.stage(on)
    on.apply_staged()
    assert converse(on, HOME4, EXT4, [b"outbound1 inbound1"], [b"download everywhere"], 43000) == [3, 4]


def test_a_cached_rule_set_carries_its_groups(tmp_path):
    rules = tmp_path / "r.rules"
    rules.write_text("\n".join(RULES) + "\n")
    var_items = [f"{k}={v}" for k, v in VARS.items()]
    built = load_detection([str(rules)], var_items, kernel_acl=False, cache=C.CompileCache(str(tmp_path / "c")))
    hit = load_detection([str(rules)], var_items, kernel_acl=False, cache=C.CompileCache(str(tmp_path / "c")))
    assert not built.cached and hit.cached
    assert hit.stream_groups is not None and hit.stream_groups.summary() == built.stream_groups.summary()
    got = []
    for det in (built, hit):
        eng = det.engine_factory(flow_capacity=256)()
        got.append(converse(eng, EXT4, HOME4, [b"inbound1 alpha"], [b"download"], 44000) +
                   converse(eng, HOME4, EXT4, [b"omega outbound1"], [b"download"], 44001))
    assert got[0] == got[1] == [2, 1, 3]


def test_ac_matcher_has_no_groups_and_scans_everything():
    det = build_detection(parse([RULES[0], RULES[2]]), kernel_acl=False, matcher="ac")
    assert det.stream_groups is None and det.stream_db is not None
    eng = det.engine_factory(flow_capacity=256)()
    assert converse(eng, HOME4, EXT4, [b"outbound1"], [b"download"], 45000) == [1, 3]
    assert converse(eng, EXT4, HOME4, [b"outbound1"], [b"download"], 45001) == []


HTTP_RULES = [
    'alert http $HOME_NET any -> $EXTERNAL_NET any (msg:"client uri"; flow:to_server; http.uri; '
    'content:"/beacon"; sid:21;)',
    'alert http $EXTERNAL_NET any -> $HOME_NET any (msg:"server uri"; flow:to_server; http.uri; '
    'content:"/admin.php"; sid:22;)',
    'alert http $EXTERNAL_NET any -> $HOME_NET any (msg:"response body"; flow:to_client; file.data; '
    'content:"payload"; sid:23;)',
    # two rules of different headers sharing the http.method part
    'alert http $HOME_NET any -> $EXTERNAL_NET any (msg:"post out"; flow:to_server; http.method; '
    'content:"POST"; http.uri; content:"/up"; sid:24;)',
    'alert http $EXTERNAL_NET any -> $HOME_NET any (msg:"post in"; flow:to_server; http.method; '
    'content:"POST"; http.uri; content:"/cgi"; sid:25;)',
    'alert http any any -> any any (msg:"any host"; http.host; content:"example"; sid:26;)',
]
REQS = [b"GET /beacon?x=1 HTTP/1.1\r\nHost: example.org\r\n\r\n",
        b"GET /admin.php HTTP/1.1\r\nHost: example.org\r\n\r\n",
        b"POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
        b"POST /cgi HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"]
RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\npayload!!!!"


def test_app_buffers_are_grouped_too_with_the_same_alerts():
    det = detection(HTTP_RULES)
    assert det.app.home is not None
    grouped = [ab for ab in det.app.buffers if ab.groups is not None]
    assert grouped                                     # http.uri: client and server rules apart
    on = det.engine_factory(flow_capacity=256)()
    saved = [(ab, ab.groups) for ab in det.app.buffers]
    for ab, _ in saved:
        ab.groups = None
    off = det.engine_factory(flow_capacity=256)()
    for ab, g in saved:
        ab.groups = g
    got = {}
    for n, (cli, srv) in enumerate([(HOME4, EXT4), (EXT4, HOME4), (HOME4, HOME4), (HOME6, EXT6)]):
        for k, req in enumerate(REQS):
            for cut in (None, 9):
                chunks = [req] if cut is None else [req[:cut], req[cut:]]
                port = 46000 + 100 * n + 10 * k + (cut or 0)
                a = converse(on, cli, srv, chunks, [RESP], port)
                b = converse(off, cli, srv, chunks, [RESP], port)
                assert a == b, (cli, srv, req, cut)
                got[(cli, srv, k, cut)] = a
    # a home client: its uri rule, the external server's response body (23), any host
    assert got[(HOME4, EXT4, 0, None)] == [21, 23, 26] and got[(HOME4, EXT4, 1, None)] == [23, 26]
    # an external client: the server-side rules only, no response-body rule (home -> external)
    assert got[(EXT4, HOME4, 0, None)] == [26] and got[(EXT4, HOME4, 1, 9)] == [22, 26]
    assert got[(HOME4, EXT4, 2, 9)] == [23, 24] and got[(EXT4, HOME4, 3, None)] == [25]
    assert got[(EXT4, HOME4, 2, None)] == [] and got[(HOME4, HOME4, 1, None)] == [26]
    assert got[(HOME6, EXT6, 0, 9)] == [21, 23, 26]


def test_small_buffers_are_not_split_and_near_whole_groups_are_the_whole_database(monkeypatch):
    monkeypatch.setattr(G, "MIN_PATTERNS", 64)
    det = detection()
    assert det.stream_groups is None                  # 9 patterns: scanned whole everywhere
    assert det.engine_factory(flow_capacity=256)() is not None
    many = [f'alert tcp $HOME_NET any -> $EXTERNAL_NET any (msg:"o{i}"; flow:to_server; content:"out{i:03d}"; '
            f'sid:{100 + i};)' for i in range(70)] + \
        [f'alert tcp any any -> any any (msg:"a{i}"; content:"any{i:03d}"; sid:{300 + i};)' for i in range(3)]
    det = detection(many)
    g = det.stream_groups
    assert g is not None
    out = G.group_index(0, 1, 0)
    assert g.dbs[out] is det.stream_db                # 73 of 73 patterns: the whole database
    others = {id(d) for i, d in enumerate(g.dbs) if i != out}
    assert id(det.stream_db) not in others and len(others) == 1   # the 3 any-rules, shared
    on = det.engine_factory(flow_capacity=256)()
    assert converse(on, HOME4, EXT4, [b"out042 any001"], [b"any002"], 47000) == [142, 301, 302]
    assert converse(on, EXT4, HOME4, [b"out042 any001"], [b"x"], 47001) == [301]
