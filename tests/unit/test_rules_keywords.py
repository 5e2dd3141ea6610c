"""Every registry keyword gets a parse test (its ``parse`` called on a prepared context)
and a whole-rule test (a complete rule through ``parse_rule``), Suricata's habit
(src/tests/detect-template.c). Registry-driven: a keyword added without cases makes
``test_every_keyword_has_cases`` fail.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

from xdpfw.rules import RuleError, Variables, parse_rule
from xdpfw.rules.classification import DEFAULT_CLASSIFICATIONS
from xdpfw.rules.context import ParseContext
from xdpfw.rules.keywords import all_keywords, lookup
from xdpfw.rules.keywords.base import Kind, Value
from xdpfw.rules.keywords.buffers import BUFFERS, buffer_of
from xdpfw.rules.keywords.pcre import FLAG_BUFFERS, set_pcre_validator
from xdpfw.rules.model import (PAYLOAD, Bsize, FastPattern, Flow, Flowbit, IntMatch, IsDataAt, Pcre,
                               RawOption, Reference, Rule, Threshold, UriLen)
from xdpfw.rules.parser import _parse_header, _parse_options, _Where
from xdpfw.rules.protocols import PROTOCOLS

ROOT = Path(__file__).resolve().parents[2]


def ctx_after(options: str = "", proto: str = "tcp") -> ParseContext:
    """A parse context as it stands after ``options`` of an ``alert <proto>`` rule."""
    where = _Where("<test>", 1, 0)
    rule = _parse_header(f"alert {proto} any any -> any any", where, Variables())
    ctx = ParseContext(rule, DEFAULT_CLASSIFICATIONS)
    _parse_options(options, 0, ctx, where)
    return ctx


def call(keyword: str, value: str | None, ctx: ParseContext) -> Any:
    spec = lookup(keyword)
    assert spec is not None and spec.parse is not None
    ctx.keyword = keyword
    ctx.col = 99
    return spec.parse(value, ctx)


def rule(options: str, proto: str = "tcp") -> Rule:
    return parse_rule(f"alert {proto} any any -> any any ({options} sid:1;)", allow_unsupported=True)


@dataclass
class Case:
    """``setup`` options, then ``keyword:value``; ``check_parse(result, ctx)``.
    ``rule_options`` is a whole rule body; ``check_rule(rule)``."""

    setup: str
    value: str | None
    check_parse: Callable[[Any, ParseContext], None]
    rule_options: str
    check_rule: Callable[[Rule], None]
    proto: str = "tcp"


def _ok(outcome: Any) -> None:
    """Checks raise on mismatch (``_fields``) or evaluate to False; tuples hold several."""
    for part in outcome if isinstance(outcome, (tuple, list)) else (outcome,):
        assert part is not False


def _fields(obj: Any, **expected: Any) -> None:
    for k, v in expected.items():
        assert getattr(obj, k) == v, (k, getattr(obj, k), v)


HAND: dict[str, Case] = {
    "msg": Case("", r'"hello \"world\"\; ok"', lambda r, c: (_fields(c.rule, msg='hello "world"; ok')),
                'msg:"ET TEST x";', lambda r: _fields(r, msg="ET TEST x")),
    "sid": Case("", "2100498", lambda r, c: (r == 2100498 and _fields(c.rule, sid=2100498)),
                'msg:"x";', lambda r: _fields(r, sid=1, rev=1, gid=1)),
    "rev": Case("", "7", lambda r, c: _fields(c.rule, rev=7), "rev:3;", lambda r: _fields(r, rev=3)),
    "gid": Case("", "3", lambda r, c: _fields(c.rule, gid=3), "gid:5;", lambda r: _fields(r, gid=5)),
    "classtype": Case("", "trojan-activity", lambda r, c: _fields(c.rule, classtype="trojan-activity", priority=1),
                      "classtype:misc-activity;", lambda r: _fields(r, classtype="misc-activity", priority=3)),
    "priority": Case("", "2", lambda r, c: _fields(c.rule, priority=2),
                     "priority:1; classtype:misc-activity;", lambda r: _fields(r, priority=1)),
    "metadata": Case("", "created_at 2010_09_23, former_category MALWARE, flag",
                     lambda r, c: _fields(c.rule, metadata=[("created_at", "2010_09_23"),
                                                            ("former_category", "MALWARE"), ("flag", "")]),
                     "metadata:a 1; metadata: b 2, c 3;", lambda r: _fields(r, metadata=[("a", "1"), ("b", "2"),
                                                                                          ("c", "3")])),
    "reference": Case("", "url,example.com/a,b", lambda r, c: _fields(c.rule, references=[
        Reference("url", "example.com/a,b")]),
        "reference:cve,2021-1234; reference:md5,abc;",
        lambda r: _fields(r, references=[Reference("cve", "2021-1234"), Reference("md5", "abc")])),
    "target": Case("", "dest_ip", lambda r, c: _fields(c.rule, target="dest_ip"),
                   "target:src_ip;", lambda r: _fields(r, target="src_ip")),
    "content": Case("", '!"GET |20 2f|x\\;"', lambda r, c: _fields(r, pattern=b"GET  /x;", negated=True,
                                                                   buffer=PAYLOAD),
                    'content:"|00 01|A|7C|";', lambda r: _fields(r.contents[0], pattern=b"\x00\x01A|")),
    "uricontent": Case("", '"/cgi-bin/"', lambda r, c: _fields(r, pattern=b"/cgi-bin/", buffer="http.uri",
                                                               legacy_modifier="uricontent"),
                       'uricontent:"/a";', lambda r: (_fields(r.contents[0], buffer="http.uri"),
                                                     _fields(r, app_proto="http"))),
    "nocase": Case('content:"abc";', None, lambda r, c: _fields(c.last_content, nocase=True),
                   'content:"a"; content:"b"; nocase;',
                   lambda r: [_fields(x, nocase=n) for x, n in zip(r.contents, (False, True))]),
    "offset": Case('content:"abc";', "4", lambda r, c: _fields(c.last_content, offset=4),
                   'content:"ab"; offset:2; depth:5;', lambda r: _fields(r.contents[0], offset=2, depth=5)),
    "depth": Case('content:"abc";', "3", lambda r, c: _fields(c.last_content, depth=3),
                  'content:"ab"; depth:10;', lambda r: _fields(r.contents[0], depth=10, offset=None)),
    "distance": Case('content:"a"; content:"b";', "-1", lambda r, c: _fields(c.last_content, distance=-1),
                     'content:"a"; content:"b"; distance:0;',
                     lambda r: (_fields(r.contents[1], distance=0), _fields(r.contents[1], relative=True))),
    "within": Case('content:"a"; content:"bc";', "2", lambda r, c: _fields(c.last_content, within=2),
                   'content:"a"; content:"bc"; distance:1; within:10;',
                   lambda r: _fields(r.contents[1], distance=1, within=10)),
    "startswith": Case('content:"GET";', None, lambda r, c: _fields(c.last_content, startswith=True),
                       'http.method; content:"GET"; startswith;',
                       lambda r: _fields(r.contents[0], startswith=True, buffer="http.method")),
    "endswith": Case('content:".exe";', None, lambda r, c: _fields(c.last_content, endswith=True),
                     'http.uri; content:".exe"; endswith;', lambda r: _fields(r.contents[0], endswith=True)),
    "rawbytes": Case('content:"a";', None, lambda r, c: _fields(c.last_content, rawbytes=True),
                     'content:"a"; rawbytes;', lambda r: _fields(r.contents[0], rawbytes=True)),
    "fast_pattern": Case('content:"abcdef";', "1,3", lambda r, c: (
        r == FastPattern(offset=1, length=3) and _fields(c.last_content, fast_pattern=FastPattern(False, 1, 3))),
        'content:"a"; content:"bcd"; fast_pattern:only;',
        lambda r: (_fields(r.contents[1], fast_pattern=FastPattern(only=True)),
                   _fields(r.contents[0], fast_pattern=None))),
    "pcre": Case('http.uri; content:"/a";', r'"/^\/a\d+$/iR, flow:x/y"', lambda r, c: _fields(
        r, regex=r"^\/a\d+$", flags="iR", caseless=True, relative=True, buffer="http.uri",
        captures=(("flow", "x/y"),)),
        r'content:"/x"; http_uri; pcre:!"/y[0-9]/UGsmxAEO";',
        lambda r: _fields(r.pcres[0], negated=True, buffer="http.uri", buffer_flag="U", ungreedy=True,
                          dotall=True, multiline=True, extended=True, anchored=True, dollar_endonly=True,
                          match_limit_override=True)),
    "bsize": Case("dns.query;", "<=20", lambda r, c: (r == Bsize(IntMatch("<=", 20), "dns.query")),
                  'tls.sni; content:"a.com"; bsize:5;', lambda r: _fields(r, bsize=[Bsize(IntMatch("=", 5), "tls.sni")]),
                  proto="tls"),
    "isdataat": Case('content:"x"; http_uri;', "!1,relative", lambda r, c: (
        r == IsDataAt(1, negated=True, relative=True, buffer="http.uri")),
        'content:"a"; isdataat:100;', lambda r: _fields(r, isdataat=[IsDataAt(100)])),
    "dsize": Case("", "10<>20", lambda r, c: (r == IntMatch("<>", 10, 20) and _fields(c.rule, dsize=r)),
                  "dsize:!9;", lambda r: _fields(r, dsize=IntMatch("!=", 9))),
    "urilen": Case("", " > 3 ,raw", lambda r, c: (r == UriLen(IntMatch(">", 3), raw=True)),
                   "urilen:5<>10;", lambda r: (_fields(r, urilen=UriLen(IntMatch("<>", 5, 10))),
                                               _fields(r, app_proto="http")), proto="http"),
    "flow": Case("", "from_server, ESTABLISHED,no_stream", lambda r, c: (
        r == Flow("established", "to_client", "no_stream", None)),
        "flow:to_server,not_established,only_frag;",
        lambda r: (_fields(r, flow=Flow("not_established", "to_server", None, "only_frag")),
                   _fields(r.flow, to_server=True, established=False))),
    "flowbits": Case("", "isset,a|b", lambda r, c: (r == Flowbit("isset", ("a", "b"), "any")),
                     "flowbits:set,x; flowbits:noalert; flowbits:toggle,y&z;",
                     lambda r: (_fields(r, flowbits=[Flowbit("set", ("x",)), Flowbit("toggle", ("y", "z"), "all")],
                                        noalert=True))),
    "noalert": Case("", None, lambda r, c: _fields(c.rule, noalert=True), "noalert;",
                    lambda r: _fields(r, noalert=True)),
    "decode-event": Case("", "ipv4.hlen_too_small",
                         lambda r, c: _fields(c.rule, events=[("decode", "ipv4.hlen_too_small")]),
                         "decode-event:tcp.hlen_too_small;",
                         lambda r: _fields(r, events=[("decode", "tcp.hlen_too_small")])),
    "app-layer-event": Case("", "http.request_field_missing_colon",
                            lambda r, c: _fields(c.rule, events=[("http", "http.request_field_missing_colon")]),
                            "app-layer-event:dns.malformed_data;",
                            lambda r: _fields(r, events=[("dns", "dns.malformed_data")]), proto="dns"),
    "threshold": Case("", "type both,track by_dst, count 3, seconds 60", lambda r, c: (
        r == Threshold("threshold", "both", "by_dst", 3, 60)),
        "threshold: seconds 5, count 1, track by_src, type limit;",
        lambda r: _fields(r, threshold=Threshold("threshold", "limit", "by_src", 1, 5))),
    "detection_filter": Case("", "track by_rule, count 10, seconds 1", lambda r, c: (
        r == Threshold("detection_filter", None, "by_rule", 10, 1)),
        "detection_filter:track by_flow,count 2,seconds 3;",
        lambda r: _fields(r, threshold=Threshold("detection_filter", None, "by_flow", 2, 3))),
    "dotprefix": Case("dns.query;", None, lambda r, c: _fields(c, transforms=("dotprefix",)),
                      'dns.query; dotprefix; content:".example.com"; endswith;',
                      lambda r: _fields(r.contents[0], transforms=("dotprefix",), buffer="dns.query"), proto="dns"),
    "byte_extract": Case('content:"a";', "2,0,len.x,relative", lambda r, c: (
        r == RawOption("2,0,len.x,relative") and "len.x" in c.byte_vars),
        'content:"a"; byte_extract:1,0,n; content:"b"; distance:n; within:n;',
        lambda r: _fields(r.contents[1], distance="n", within="n")),
    "byte_math": Case('content:"a";', "bytes 2, offset 0, oper +, rvalue 1, result r1",
                      lambda r, c: ("r1" in c.byte_vars),
                      'content:"a"; byte_math:bytes 1,offset 0,oper *,rvalue 2,result m; isdataat:m,relative;',
                      lambda r: _fields(r.isdataat[0], offset="m", relative=True)),
}


def _generic_case(spec) -> Case:
    """Cases for table-driven keyword families."""
    name = spec.name
    if spec.kind is Kind.BUFFER:
        buf = buffer_of(name)
        assert buf is not None
        proto = "http" if "http" in buf.protos else "tls" if "tls" in buf.protos else \
            "dns" if "dns" in buf.protos else "ssh" if "ssh" in buf.protos else "tcp"
        if buf.name == PAYLOAD:
            return Case('http.uri; content:"a";', None, lambda r, c: _fields(c, buffer=PAYLOAD, sticky_keyword=None),
                        'http.uri; content:"a"; pkt_data; content:"b";',
                        lambda r: [_fields(x, buffer=b) for x, b in zip(r.contents, ("http.uri", PAYLOAD))],
                        proto="http")
        return Case("", None, lambda r, c: _fields(c, buffer=buf.name, sticky_keyword=name),
                    f'{name}; content:"x";', lambda r: _fields(r.contents[0], buffer=buf.name, legacy_modifier=None),
                    proto=proto)
    if spec.kind is Kind.MODIFIER:
        buf = buffer_of(name)
        assert buf is not None
        return Case('content:"x";', None, lambda r, c: _fields(c.last_content, buffer=buf.name, legacy_modifier=name),
                    f'content:"y"; {name}; content:"z";',
                    lambda r: [_fields(x, buffer=b) for x, b in zip(r.contents, (buf.name, PAYLOAD))], proto="http")
    if spec.kind is Kind.TRANSFORM:
        value = "x" if spec.value is Value.REQUIRED else None
        opt = f"{name}:{value};" if value else f"{name};"
        return Case("http.uri;", value, lambda r, c: _fields(c, transforms=(name,)),
                    f'http.uri; content:"a"; {opt}',
                    lambda r: _fields(r.contents[0], transforms=(name,)), proto="http")
    value = "1,2, abc"
    return Case('content:"q";', value, lambda r, c: (r == RawOption(value)),
                f'content:"q"; {name}:{value};',
                lambda r: ([o.parsed for o in r.options if o.keyword == name] == [RawOption(value)]))


def _cases() -> dict[str, Case]:
    out: dict[str, Case] = {}
    for spec in all_keywords():
        if spec.kind is Kind.PROTOCOL:
            continue
        out[spec.name] = HAND.get(spec.name) or _generic_case(spec)
        for alias in spec.aliases:
            out[alias] = HAND.get(alias) or _generic_case(dataclasses.replace(spec, name=alias))
    return out


CASES = _cases()


def test_every_keyword_has_cases():
    names = {n for s in all_keywords() if s.kind is not Kind.PROTOCOL for n in (s.name, *s.aliases)}
    assert names == set(CASES)
    assert len(names) > 150


@pytest.mark.parametrize("keyword", sorted(CASES))
def test_keyword_parse(keyword):
    case = CASES[keyword]
    ctx = ctx_after(case.setup, case.proto)
    result = call(keyword, case.value, ctx)
    _ok(case.check_parse(result, ctx))


@pytest.mark.parametrize("keyword", sorted(CASES))
def test_keyword_whole_rule(keyword):
    case = CASES[keyword]
    r = rule(case.rule_options, case.proto)
    _ok(case.check_rule(r))
    spec = lookup(keyword)
    assert spec is not None
    assert (keyword in r.unsupported) == (not spec.supported)
    assert any(o.keyword == keyword for o in r.options)


@pytest.mark.parametrize("proto", sorted(PROTOCOLS))
def test_protocol_header(proto):
    """Header protocols: the 'parse' is the header parser; whole rule: skip or load."""
    r = parse_rule(f"alert {proto.upper()} any any -> any any (sid:1;)", allow_unsupported=True)
    assert r.proto == proto
    assert r.app_proto == PROTOCOLS[proto][0]
    supported = PROTOCOLS[proto][1]
    assert (r.unsupported == ()) == supported
    assert r.is_ip_only() == (proto in ("ip", "tcp", "udp", "icmp"))


# --- validation, as Suricata does it --------------------------------------------------

@pytest.mark.parametrize("options,message", [
    ('content:"abc"; depth:2;', "keyword 'depth': depth 2 is smaller than the pattern length 3"),
    ('content:"a"; content:"abc"; within:2;', "keyword 'within': within 2 is smaller than the pattern length 3"),
    ('content:"a"; content:"b"; within:0;', "within cannot be 0"),
    ('content:"a"; distance:1; depth:4;', "keyword 'depth': absolute position cannot be mixed"),
    ('content:"a"; offset:1; within:4;', "keyword 'within': relative position cannot be mixed"),
    ('content:"a"; startswith; offset:1;', "keyword 'offset': cannot be combined with 'startswith'"),
    ('content:"a"; depth:3; startswith;', "keyword 'startswith': cannot be combined with offset/depth"),
    ('content:"a"; depth:3; depth:4;', "keyword 'depth': given more than once"),
    ('content:"a"; nocase; nocase;', "keyword 'nocase': given more than once"),
    ('content:"a"; distance:2000000;', "keyword 'distance': value 2000000 out of range"),
    ('content:"a"; offset:-1;', "keyword 'offset': value -1 out of range 0-65535"),
    ('depth:3;', "keyword 'depth': needs a preceding content"),
    ('content:"a"; fast_pattern:only; depth:3;', "cannot be used on a content with 'fast_pattern:only'"),
    ('content:"a"; depth:3; fast_pattern:only;', "'fast_pattern:only' cannot be used on a content with"),
    ('content:!"a"; fast_pattern:only;', "'fast_pattern:only' cannot be used on a negated content"),
    ('content:!"a"; depth:4; fast_pattern;', "negated content with offset/depth/distance/within"),
    ('content:"ab"; fast_pattern:1,2;', "slice 1,2 exceeds the pattern length 2"),
    ('content:"a"; fast_pattern; content:"b"; fast_pattern;', "only one content per rule"),
    ('content:"a"; fast_pattern; fast_pattern;', "given more than once for the same content"),
    ('content:"";', "keyword 'content': empty pattern"),
    ('content:"|4|";', "odd number of hex digits"),
    ('content:"|4G|";', "invalid character 'G' in hex block"),
    ('content:"a|41";', "unterminated hex block"),
    ('content:"a\\nb";', "invalid escape '\\n'"),
    ('content:"a"b";', "unescaped double quote"),
    ('content:abc;', "value must be enclosed in double quotes"),
    ('content:"abc;', "unbalanced double quotes"),
    ('http.uri; content:"a"; http_header;', "keyword 'http_header': cannot be used while sticky buffer 'http.uri'"),
    ('content:"a"; http_uri; http_header;', "content already moved to 'http.uri' by 'http_uri'"),
    ('content:"a"; rawbytes; http_uri;', "cannot be used on a content with 'rawbytes'"),
    ('content:"a"; http_uri; rawbytes;', "keyword 'rawbytes': cannot be used on a content in buffer 'http.uri'"),
    ('http.uri; uricontent:"a";', "keyword 'uricontent': cannot be used while sticky buffer"),
    ('http.uri; http.method; content:"GET";', "sticky buffer 'http.uri' (column 31) is not followed"),
    ('content:"a"; http.uri;', "sticky buffer 'http.uri' (column 44) is not followed"),
    ('dotprefix; content:"a";', "keyword 'dotprefix': must follow a sticky buffer"),
    ('bsize:3;', "keyword 'bsize': must follow a sticky buffer"),
    ('http.uri; bsize:3; bsize:4;', "keyword 'bsize': given more than once for buffer 'http.uri'"),
    ('http.uri; content:"abcdef"; bsize:<5;', "keyword 'bsize': content of 6 bytes can never match"),
    ('http.host; content:"Example.com";', "pattern has upper-case letters but http.host"),
    ('content:"Example.com"; http_host;', "pattern has upper-case letters but http.host"),
    ('pcre:"/a/Q7";', "keyword 'pcre': unknown flag '7'"),
    ('pcre:"/a/UI";', "flags 'U' and 'I' both select a buffer"),
    ('pcre:"/a/ii";', "flag 'i' given twice"),
    ('pcre:"/a/BU";', "flag 'U' is inconsistent with 'B'"),
    ('pcre:"/Host/W";', "needs an all lower-case regex"),
    ('pcre:"/a/R";', "flag 'R' needs a preceding content or pcre in the same buffer"),
    ('content:"x"; http_uri; pcre:"/a/R";', "flag 'R' needs a preceding content or pcre in the same buffer"),
    ('http.method; content:"GET"; pcre:"/a/U";', "buffer flag 'U' (http.uri) cannot be used while sticky"),
    ('pcre:"a/i";', "regex must start with '/'"),
    ('pcre:"/abc";', "regex is not closed"),
    ('pcre:"//";', "empty regex"),
    ('flow:established,stateless;', "keyword 'flow': option 'stateless' contradicts 'established'"),
    ('flow:to_server,from_server;', "option 'from_server' contradicts 'to_server'"),
    ('flow:no_stream,only_stream;', "option 'only_stream' contradicts 'no_stream'"),
    ('flow:only_frag,no_frag;', "option 'no_frag' contradicts 'only_frag'"),
    ('flow:to_server,from_client;', "option 'from_client' repeats 'to_server'"),
    ('flow:established; flow:to_server;', "'flow' given more than once"),
    ('flow:sideways;', "unknown option 'sideways'"),
    ('flowbits:isset,a; flowbits:isnotset,a;', "'isnotset,a' contradicts 'isset,a'"),
    ('flowbits:set,a|b;', "'|' (any of) is only valid with isset and isnotset"),
    ('flowbits:isset,a|b&c;', "'|' and '&' cannot be mixed"),
    ('flowbits:noalert,x;', "'noalert' takes no name"),
    ('flowbits:set;', "'set' needs a flowbit name"),
    ('flowbits:set,a b;', "flowbit names cannot contain spaces"),
    ('flowbits:flip,a;', "unknown command 'flip'"),
    ('threshold:type limit, track by_src, count 1;', "keyword 'threshold': missing seconds"),
    ('threshold:type sometimes, track by_src, count 1, seconds 1;', "type 'sometimes' must be one of"),
    ('threshold:type limit, track by_sky, count 1, seconds 1;', "track 'by_sky' must be one of"),
    ('threshold:type limit, track by_src, count x, seconds 1;', "count 'x' is not an integer"),
    ('detection_filter:type limit, track by_src, count 1, seconds 1;', "unknown field 'type'"),
    ('threshold:type limit,track by_src,count 1,seconds 1; detection_filter:track by_src,count 1,seconds 1;',
     "only one threshold or detection_filter per rule (already has 'threshold')"),
    ('dsize:>70000;', "keyword 'dsize': value 70000 out of range 0-65535"),
    ('dsize:5<>6;', "range 5<>6 is empty"),
    ('dsize:abc;', "is not a number or comparison"),
    ('dsize:1; dsize:2;', "'dsize' given more than once"),
    ('urilen:5,weird;', "second argument 'weird' must be raw or norm"),
    ('isdataat:1,sideways;', "unexpected option 'sideways'"),
    ('isdataat:x;', "offset 'x' is not an integer"),
    ('byte_extract:1,0,v; content:"a"; depth:w;', "value 'w' is not an integer or a byte_extract variable"),
    ('classtype:no-such-class;', "unknown classtype 'no-such-class'"),
    ('priority:0;', "keyword 'priority': value 0 out of range 1-255"),
    ('target:both;', "value 'both' must be src_ip or dest_ip"),
    ('reference:cve;', "expected 'type,value'"),
    ('msg:"a"; msg:"b";', "'msg' given more than once"),
])
def test_validation_errors(options, message):
    with pytest.raises(RuleError) as ei:
        parse_rule(f"alert tcp any any -> any any ({options} sid:1;)")
    assert message in str(ei.value)
    assert ei.value.severity == "error"


@pytest.mark.parametrize("text,message", [
    ('alert udp any any -> any any (tls.sni; content:"a"; sid:1;)',
     "keyword 'tls.sni' (tls.sni) cannot be used in a rule for protocol udp"),
    ('alert icmp any any -> any any (content:"a"; http_uri; sid:1;)',
     "keyword 'http_uri' (http.uri) cannot be used in a rule for protocol icmp"),
    ('alert dns any any -> any any (http.host; content:"a"; sid:1;)', "cannot be used in a rule for protocol dns"),
    ('alert tcp any any -> any any (http.uri; content:"a"; tls.sni; content:"b"; sid:1;)',
     "keywords 'http.uri' (http) and 'tls.sni' (tls) need different application protocols"),
    ('alert http any any -> any any (urilen:3; dns.query; content:"x"; sid:1;)',
     "cannot be used in a rule for protocol http"),
])
def test_protocol_consistency(text, message):
    with pytest.raises(RuleError) as ei:
        parse_rule(text)
    assert message in ei.value.message


def test_protocol_consistency_accepts_compatible_rules():
    assert parse_rule('alert tcp any any -> any any (http.uri; content:"a"; sid:1;)').app_proto == "http"
    assert parse_rule('alert ip any any -> any any (tls.sni; content:"a"; sid:1;)').app_proto == "tls"
    assert parse_rule('alert udp any any -> any any (dns.query; content:"a"; sid:1;)').app_proto == "dns"
    assert parse_rule('alert tcp any any -> any any (content:"a"; sid:1;)').app_proto is None
    # flow direction on ICMP is fine: Suricata tracks ICMP flows too
    assert parse_rule("alert icmp any any -> any any (flow:to_server; sid:1;)").flow == Flow(direction="to_server")


def test_sticky_buffer_semantics():
    r = parse_rule('alert http any any -> any any (content:"a"; http.uri; content:"b"; content:"c"; distance:0; '
                   'pcre:"/d/R"; pkt_data; content:"e"; content:"g"; http_user_agent; isdataat:!1,relative; '
                   'http.host; content:"f"; sid:1;)')
    assert [(c.pattern, c.buffer) for c in r.contents] == [
        (b"a", PAYLOAD), (b"b", "http.uri"), (b"c", "http.uri"), (b"e", PAYLOAD), (b"g", "http.user_agent"),
        (b"f", "http.host")]
    assert r.pcres[0].buffer == "http.uri" and r.pcres[0].relative
    assert r.isdataat[0].buffer == "http.user_agent"  # relative isdataat follows the previous match
    groups = r.buffers()
    assert [type(m).__name__ for m in groups["http.uri"]] == ["Content", "Content", "Pcre"]
    assert [m.pattern for m in groups[PAYLOAD]] == [b"a", b"e"]  # type: ignore[union-attr]
    assert r.matches()[0] is r.contents[0]


def test_transforms_apply_to_whole_sticky_instance():
    # Suricata attaches transforms to the buffer instance, even for contents before them.
    r = parse_rule('alert dns any any -> any any (dns.query; content:"rs-"; startswith; pcre:"/x/R"; '
                   'dotprefix; content:".example.com"; endswith; sid:1;)')
    assert [c.transforms for c in r.contents] == [("dotprefix",), ("dotprefix",)]
    assert r.pcres[0].transforms == ("dotprefix",)


def test_same_sticky_twice_and_redundant_pcre_flag():
    r = parse_rule('alert http any any -> any any (file_data; file_data; content:"x"; pcre:"/y/Q"; sid:1;)',
                   allow_unsupported=True)
    assert r.contents[0].buffer == "file.data" and r.pcres[0].buffer == "file.data"
    r = parse_rule('alert http any any -> any any (http.uri; content:"/a"; pcre:"/b/UR"; sid:1;)')
    assert r.pcres[0].buffer == "http.uri" and r.pcres[0].buffer_flag == "U"


@pytest.mark.parametrize("flag", sorted(FLAG_BUFFERS))
def test_pcre_buffer_flags(flag):
    regex = "/x/" + flag
    r = parse_rule(f'alert http any any -> any any (pcre:"{regex}"; sid:1;)', allow_unsupported=True)
    buf = FLAG_BUFFERS[flag]
    assert r.pcres[0].buffer == buf and r.pcres[0].buffer_flag == flag and r.app_proto == "http"
    supported = next(b.supported for b in BUFFERS if b.name == buf)
    assert (r.unsupported == ()) == supported


def test_pcre_regex_splitting_and_validator():
    r = parse_rule(r'alert tcp any any -> any any (pcre:"/a\/b/c/i"; sid:1;)')
    assert r.pcres[0].regex == r"a\/b/c" and r.pcres[0].flags == "i"
    seen: list[Pcre] = []

    def validator(p: Pcre) -> str | None:
        seen.append(p)
        return "lookbehind not supported by Hyperscan" if "(?<=" in p.regex else None

    set_pcre_validator(validator)
    try:
        parse_rule('alert tcp any any -> any any (pcre:"/ok/"; sid:1;)')
        with pytest.raises(RuleError) as ei:
            parse_rule('alert tcp any any -> any any (pcre:"/(?<=a)b/"; sid:1;)')
        assert "keyword 'pcre': lookbehind not supported by Hyperscan" in ei.value.message
    finally:
        set_pcre_validator(None)
    assert [p.regex for p in seen] == ["ok", "(?<=a)b"]


def test_is_ip_only():
    assert parse_rule('drop ip [1.2.3.4,5.6.7.0/24] any -> $HOME_NET any (msg:"x"; reference:url,a; '
                      'classtype:misc-attack; metadata:a b; target:dest_ip; priority:1; rev:2; gid:1; sid:1;)'
                      ).is_ip_only()
    with_threshold = parse_rule("alert ip 1.2.3.4 any -> any any "
                                "(threshold:type limit,track by_src,count 1,seconds 60; sid:1;)")
    assert not with_threshold.is_ip_only() and with_threshold.is_ip_only(allow=("threshold",))
    assert not parse_rule("alert tcp any any -> any 80 (flow:established; sid:1;)").is_ip_only()
    assert not parse_rule('alert tcp any any -> any 80 (content:"a"; sid:1;)').is_ip_only()
    assert not parse_rule("alert dns any any -> any any (sid:1;)").is_ip_only()


def test_int_match_semantics():
    assert [IntMatch("<>", 6, 15).matches(n) for n in (6, 7, 14, 15)] == [False, True, True, False]
    assert IntMatch("!=", 3).matches(4) and not IntMatch("!=", 3).matches(3)
    assert IntMatch("<", 5).max_value(100) == 4 and IntMatch("=", 500).max_value(100) == -1
    assert IntMatch(">=", 5).max_value(100) == 100 and IntMatch("<>", 1, 10).max_value(100) == 9


def _anchors(markdown: str) -> set[str]:
    out = set()
    for line in markdown.splitlines():
        m = re.match(r"#+\s+(.*)", line)
        if m:
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            out.add(slug)
    return out


def test_doc_urls_resolve_into_rules_md():
    """Like Suricata's check_keyword_doc_links.py: every DOC_URL names a real heading."""
    doc = ROOT / "docs" / "RULES.md"
    anchors = _anchors(doc.read_text(encoding="utf-8"))
    for spec in all_keywords():
        path, _, anchor = spec.doc_url.partition("#")
        assert path == "docs/RULES.md", spec.name
        assert anchor in anchors, f"{spec.name}: #{anchor} missing in docs/RULES.md"


def test_every_module_exports_its_interface():
    from xdpfw.rules.keywords import MODULES
    for mod in MODULES:
        for attr in ("NAMES", "DESC", "DOC_URL", "parse", "KEYWORDS"):
            assert hasattr(mod, attr), (mod.__name__, attr)
        assert set(mod.NAMES) == {s.name for s in mod.KEYWORDS}, mod.__name__
        assert "\n" not in mod.DESC and mod.DESC
