"""HTTP/1.x decoder (xdpfw/_fast/app_http.pyx, rules in docs/APP_HTTP.md).

Every hand-written case goes through check(), which feeds the conversation whole, one
byte at a time, split at every position (and at every pair of positions when short), and
requires the same instances and events each time; it also requires the pure-Python
reference decoder (xdpfw/ref/app_http.py) to produce the same instances and events from
the whole streams. The tests then assert the buffers and events they are about, written
out by hand from the rules. The corpus test does the differential comparison on every
HTTP flow of the shared captures; a hypothesis test on generated requests and
segmentations; a fuzz test on random bytes.
"""
from __future__ import annotations

import collections
import csv
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import appcheck

from xdpfw._fast import app_http as fast
from xdpfw._fast.app_registry import AppDecoder, probe
from xdpfw._fast import decode as l4
from xdpfw.ref import app_http as ref
from xdpfw.ref.app_pieces import END, START, assemble, by_buffer
from xdpfw.ref.pcap import LINKTYPE_ETHERNET, read_packets

REQ, RESP = 0, 1
ROOT = Path(__file__).resolve().parents[2]
PCAPS = ROOT.parent / "shared" / "corpus" / "pcaps"
HTTP_BUFFERS = {b for b in fast.BUFFER_NAMES if b.startswith("http.")} | {"file.data"}


# ---------------------------------------------------------------------------------------
# Harness

def run(conv, split=None):
    """Feed a conversation [(direction, bytes), ...] in order, each chunk cut by split(),
    then end both directions. Returns (instances, events, pieces), each per direction."""
    pieces, events = appcheck.run("http", conv, split=split)
    return {d: assemble(pieces[d]) for d in (REQ, RESP)}, events, pieces


bytewise = appcheck.bytewise


def assert_same_as_reference(conv, inst, events):
    appcheck.assert_same_as_reference("http", conv, 0, inst, events)


def check(conv, *, pair_limit=48):
    """The instances and events of a conversation, after checking they do not depend on
    segmentation and that the reference agrees (appcheck.check). Every split position is
    tried when the conversation is under 4 KB (the cases over the 8 KB line cap sample 40).
    Returns ({dir: {buffer: [instances]}}, {dir: [events]})."""
    every_split = sum(len(x) for _, x in conv) < 4096
    inst, events = appcheck.check("http", conv, splits="all" if every_split else 40, pair_limit=pair_limit)
    return {d: by_buffer(inst[d]) for d in (REQ, RESP)}, events


def request(*lines, body=b""):
    return b"".join(line + b"\r\n" for line in lines) + b"\r\n" + body


# ---------------------------------------------------------------------------------------
# Request buffers

def test_request_line_and_headers():
    req = request(b"GET /index.html HTTP/1.1", b"User-Agent: Mozilla/5.0", b"Host: suricata.io")
    b, ev = check([(REQ, req)])
    assert b[REQ] == {
        "http.method": [b"GET"],
        "http.uri": [b"/index.html"],
        "http.uri.raw": [b"/index.html"],
        "http.protocol": [b"HTTP/1.1"],
        "http.request_line": [b"GET /index.html HTTP/1.1"],
        "http.user_agent": [b"Mozilla/5.0"],
        "http.host": [b"suricata.io"],
        "http.host.raw": [b"suricata.io"],
        "http.header": [b"User-Agent: Mozilla/5.0\r\nHost: suricata.io\r\n"],
        "http.header.raw": [b"User-Agent: Mozilla/5.0\r\nHost: suricata.io\r\n\r\n"],
        "http.header_names": [b"\r\nUser-Agent\r\nHost\r\n\r\n"],
        "http.start": [b"GET /index.html HTTP/1.1\r\nUser-Agent: Mozilla/5.0\r\nHost: suricata.io\r\n\r\n"],
    }
    assert ev == {REQ: [], RESP: []}


def test_single_header_buffers():
    req = request(b"POST /f HTTP/1.1", b"Host: x", b"Cookie: a=1; b=2", b"Content-Type: text/plain",
                  b"Content-Length: 3", b"Referer: http://r/", b"Accept: */*", b"Accept-Encoding: gzip",
                  b"Accept-Language: en-us", b"Connection: keep-alive", body=b"abc")
    b, ev = check([(REQ, req)])
    assert {k: v for k, v in b[REQ].items() if k not in (
        "http.header", "http.header.raw", "http.header_names", "http.start", "http.request_line")} == {
        "http.method": [b"POST"], "http.uri": [b"/f"], "http.uri.raw": [b"/f"], "http.protocol": [b"HTTP/1.1"],
        "http.host": [b"x"], "http.host.raw": [b"x"], "http.cookie": [b"a=1; b=2"],
        "http.content_type": [b"text/plain"], "http.content_len": [b"3"], "http.referer": [b"http://r/"],
        "http.accept": [b"*/*"], "http.accept_enc": [b"gzip"], "http.accept_lang": [b"en-us"],
        "http.connection": [b"keep-alive"], "http.request_body": [b"abc"],
    }
    assert ev[REQ] == []


def test_repeated_headers_are_joined_like_suricata():
    # the examples of Suricata's http.user_agent and http.host documentation
    b, ev = check([(REQ, request(b"GET /test.html HTTP/1.1", b"User-Agent: SuriTester/0.8",
                                 b"User-Agent: GGGG", b"Host: ABC.com", b"Accept: */*", b"Host: efg.net"))])
    assert b[REQ]["http.user_agent"] == [b"SuriTester/0.8, GGGG"]
    assert b[REQ]["http.host"] == [b"abc.com, efg.net"]
    assert b[REQ]["http.host.raw"] == [b"ABC.com, efg.net"]
    assert ev[REQ] == ["http.host_header_ambiguous"]


def test_host_normalisation():
    b, ev = check([(REQ, request(b"GET / HTTP/1.1", b"Host:   WWW.Example.COM.:8080  "))])
    assert b[REQ]["http.host"] == [b"www.example.com"]
    assert b[REQ]["http.host.raw"] == [b"WWW.Example.COM.:8080"]
    b, ev = check([(REQ, request(b"GET / HTTP/1.1", b"Host: [2001:DB8::1]:80"))])
    assert b[REQ]["http.host"] == [b"[2001:db8::1]"]
    b, ev = check([(REQ, request(b"GET / HTTP/1.1", b"Host: a.b:99999"))])
    assert b[REQ]["http.host"] == [b"a.b"]
    assert ev[REQ] == ["http.request_header_host_invalid"]


def test_cookie_and_set_cookie_stay_out_of_http_header():
    req = request(b"GET / HTTP/1.1", b"Host: h", b"COOKIE: s=1", b"Cookies: not-a-cookie", b"Cook: x")
    resp = request(b"HTTP/1.1 200 OK", b"Set-Cookie: id=2", b"Content-Length: 0")
    b, ev = check([(REQ, req), (RESP, resp)])
    assert b[REQ]["http.header"] == [b"Host: h\r\nCookies: not-a-cookie\r\nCook: x\r\n"]
    assert b[REQ]["http.cookie"] == [b"s=1"]
    assert b[REQ]["http.header_names"] == [b"\r\nHost\r\nCOOKIE\r\nCookies\r\nCook\r\n\r\n"]
    assert b[REQ]["http.start"] == [req]
    assert b[RESP]["http.header"] == [b"Content-Length: 0\r\n"]
    assert b[RESP]["http.cookie"] == [b"id=2"]
    assert ev == {REQ: [], RESP: []}


def test_header_values_are_trimmed_inner_whitespace_kept():
    b, ev = check([(REQ, request(b"GET / HTTP/1.1", b"Host: h", b"X-A:  \t two  words \t "))])
    assert b[REQ]["http.header"] == [b"Host: h\r\nX-A: two  words\r\n"]
    assert b[REQ]["http.header.raw"] == [b"Host: h\r\nX-A:  \t two  words \t \r\n\r\n"]


def test_whitespace_before_colon_is_invalid_and_dropped():
    b, ev = check([(REQ, request(b"GET / HTTP/1.1", b"Host : h"))])
    assert b[REQ]["http.header"] == [b"Host: h\r\n"]
    assert b[REQ]["http.host"] == [b"h"]
    assert ev[REQ] == ["http.request_header_invalid"]


def test_long_whitespace_run_is_cut():
    value = b"a" + b" " * 70 + b"b"
    b, ev = check([(REQ, request(b"GET / HTTP/1.1", b"Host: h", b"User-Agent: " + value))])
    assert b[REQ]["http.user_agent"] == [b"a" + b" " * fast.WS_MAX + b"b"]
    assert ev[REQ] == ["http.whitespace_run_too_long"]


@pytest.mark.parametrize("raw,norm,events", [
    (b"/a/./b", b"/a/b", []),
    # Expected values checked against Suricata 7.0.10 (default libhtp configuration).
    (b"/a//b///c", b"/a//b///c", []),                    # "//" kept
    (b"/a\\b", b"/a\\b", []),                            # '\\' kept
    (b"/%41%42c", b"/ABc", []),
    (b"/a%3Cscript%3Eb", b"/a<script>b", []),
    (b"/mc%3c%3E", b"/mc<>", []),                        # either hex case
    (b"/a%2fb%20c", b"/a%2fb c", []),                    # %2F stays encoded in the path
    (b"/p%2Fetc%2fpasswd", b"/p%2Fetc%2fpasswd", []),    # as sent (letter case kept)
    (b"/p2%2f..%2fz", b"/p2%2f..%2fz", []),
    (b"/bs%5cx", b"/bs\\x", []),
    (b"/nul%00X", b"/nul\x00X", []),
    (b"/ov%c0%afY", b"/ov\xc0\xafY", []),                # overlong UTF-8: bytes, no UTF-8 decoding
    (b"/ub%c3%a9", b"/ub\xc3\xa9", []),
    (b"/u1%u0041Z", b"/u1%u0041Z", ["http.uri_invalid_encoding"]),  # %u not decoded
    (b"/qm%3Fa?b", b"/qm?a?b", []),                      # a decoded '?' starts no query
    (b"/sl//%2e/x", b"/sl//x", []),
    (b"/ca/%2e%2e/z", b"/ca/../z", ["http.uri_dot_dot_segment"]),  # Suricata: /z
    (b"/e%", b"/e%", ["http.uri_invalid_encoding"]),
    (b"/pl+x", b"/pl+x", []),
    (b"/x?q=%3Cscript%3E", b"/x?q=<script>", []),        # the query is %-decoded too
    (b"/qq?x=%2e%2e/..%2fz", b"/qq?x=../../z", []),      # all of it, %2F included, no dot removal
    (b"/qb?a\\b//c/./d", b"/qb?a\\b//c/./d", []),
    (b"/q?a+b&c=%2B", b"/q?a+b&c=+", []),               # '+' is not a space
    (b"/qn?n%00m", b"/qn?n\x00m", []),
    (b"/qz?z%zz", b"/qz?z%zz", ["http.uri_invalid_encoding"]),
    (b"/qe?%", b"/qe?%", ["http.uri_invalid_encoding"]),
    (b"/qe?%4", b"/qe?%4", ["http.uri_invalid_encoding"]),
    (b"/qu?%u0041", b"/qu?%u0041", ["http.uri_invalid_encoding"]),
    (b"/%2e%2e/etc/passwd", b"/etc/passwd", []),        # ".." at the root goes
    (b"/../../x", b"/x", []),
    (b"/a/../b", b"/a/../b", ["http.uri_dot_dot_segment"]),  # kept: the segment was reported
    (b"/a/..", b"/a/..", ["http.uri_dot_dot_segment"]),
    (b"/.", b"/", []),
    (b"/...", b"/...", []),
    (b"/%25%34%31", b"/%41", []),                        # one decoding pass only
    (b"/a%zz", b"/a%zz", ["http.uri_invalid_encoding"]),
    (b"/a%4", b"/a%4", ["http.uri_invalid_encoding"]),
    (b"/p?a=%41&b=/../c//d", b"/p?a=A&b=/../c//d", []),  # the query decoded, not dot-normalised
    (b"?q", b"?q", []),
    (b"index.html", b"index.html", []),
    (b"./a/b", b"a/b", []),
    (b"*", b"*", []),
    (b"http://Example.COM:8080/p/./q?x", b"/p/q?x", []),
    (b"HTTPS://h", b"/", []),
    (b"http://h?x=1", b"/?x=1", []),
    (b"http://h.example/ab%41?c%41", b"/abA?cA", []),
    (b"http:/x", b"http:/x", []),
])
def test_uri_normalisation(raw, norm, events):
    b, ev = check([(REQ, request(b"GET " + raw + b" HTTP/1.1", b"Host: h"))])
    assert b[REQ]["http.uri"] == [norm]
    assert b[REQ]["http.uri.raw"] == [raw]
    assert b[REQ]["http.request_line"] == [b"GET " + raw + b" HTTP/1.1"]
    assert ev[REQ] == events


def test_absolute_uri_host_wins_over_host_header():
    b, ev = check([(REQ, request(b"GET http://Proxy.Example.:3128/x HTTP/1.1", b"Host: other.example"))])
    assert b[REQ]["http.host"] == [b"proxy.example"]
    assert b[REQ]["http.host.raw"] == [b"Proxy.Example."]
    assert b[REQ]["http.header"] == [b"Host: other.example\r\n"]
    assert ev[REQ] == []


def test_userinfo_in_absolute_uri():
    b, ev = check([(REQ, request(b"GET http://user:pw@host.example/x HTTP/1.1"))])
    assert b[REQ]["http.host"] == [b"user", b"host.example"]
    assert b[REQ]["http.host.raw"] == [b"user", b"host.example"]
    assert b[REQ]["http.uri"] == [b"/x"]
    assert ev[REQ] == ["http.uri_userinfo"]


def test_invalid_authority_port():
    b, ev = check([(REQ, request(b"GET http://h:8x/ HTTP/1.1"))])
    assert b[REQ]["http.host"] == [b"h"]
    assert ev[REQ] == ["http.invalid_authority_port"]


# ---------------------------------------------------------------------------------------
# Messages, bodies, responses

def test_pipelined_keep_alive_with_head():
    reqs = (request(b"GET /1 HTTP/1.1", b"Host: a") + request(b"HEAD /2 HTTP/1.1", b"Host: a")
            + request(b"POST /3 HTTP/1.1", b"Host: a", b"Content-Length: 4", body=b"data"))
    resps = (request(b"HTTP/1.1 200 OK", b"Content-Length: 2", body=b"ok")
             + request(b"HTTP/1.1 200 OK", b"Content-Length: 1000")     # HEAD: no body follows
             + request(b"HTTP/1.1 201 Created", b"Transfer-Encoding: chunked", body=b"4\r\ndone\r\n0\r\n\r\n"))
    b, ev = check([(REQ, reqs), (RESP, resps)])
    assert b[REQ]["http.method"] == [b"GET", b"HEAD", b"POST"]
    assert b[REQ]["http.uri"] == [b"/1", b"/2", b"/3"]
    assert b[REQ]["http.request_body"] == [b"data"]
    assert b[RESP]["http.stat_code"] == [b"200", b"200", b"201"]
    assert b[RESP]["http.stat_msg"] == [b"OK", b"OK", b"Created"]
    assert b[RESP]["http.response_body"] == [b"ok", b"done"]
    assert b[RESP]["file.data"] == [b"ok", b"done"]
    assert b[RESP]["http.content_len"] == [b"2", b"1000"]
    assert ev == {REQ: [], RESP: []}


def test_response_line_and_start():
    resp = request(b"HTTP/1.1 404 Not Found", b"Server: nginx/0.8.54", b"Location: /x", b"Content-Length: 0")
    b, ev = check([(REQ, request(b"GET / HTTP/1.1", b"Host: h")), (RESP, resp)])
    assert b[RESP] == {
        "http.protocol": [b"HTTP/1.1"], "http.stat_code": [b"404"], "http.stat_msg": [b"Not Found"],
        "http.response_line": [b"HTTP/1.1 404 Not Found"],
        "http.server": [b"nginx/0.8.54"], "http.location": [b"/x"], "http.content_len": [b"0"],
        "http.header": [b"Server: nginx/0.8.54\r\nLocation: /x\r\nContent-Length: 0\r\n"],
        "http.header.raw": [b"Server: nginx/0.8.54\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n"],
        "http.header_names": [b"\r\nServer\r\nLocation\r\nContent-Length\r\n\r\n"],
        "http.start": [resp],
    }


def test_empty_status_message():
    b, ev = check([(REQ, request(b"GET / HTTP/1.1", b"Host: h")),
                   (RESP, request(b"HTTP/1.1 200", b"Content-Length: 0"))])
    assert b[RESP]["http.stat_msg"] == [b""]
    assert ev[RESP] == []


def test_chunked_request_body_is_dechunked():
    body = b"5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
    req = request(b"POST /u HTTP/1.1", b"Host: h", b"Transfer-Encoding: chunked", body=body)
    b, ev = check([(REQ, req + request(b"GET /next HTTP/1.1", b"Host: h"))])
    assert b[REQ]["http.request_body"] == [b"hello world"]
    assert b[REQ]["http.uri"] == [b"/u", b"/next"]
    assert ev[REQ] == ["http.request_chunk_extension"]


def test_response_body_until_close_and_no_body_statuses():
    conv = [(REQ, request(b"GET /a HTTP/1.1", b"Host: h") * 4),
            (RESP, request(b"HTTP/1.1 100 Continue") + request(b"HTTP/1.1 204 No Content", b"Content-Length: 5")
             + request(b"HTTP/1.1 304 Not Modified", b"Content-Length: 5") + request(b"HTTP/1.1 200 OK")
             + b"the rest until the connection closes")]
    b, ev = check(conv)
    assert b[RESP]["http.stat_code"] == [b"100", b"204", b"304", b"200"]
    assert b[RESP]["http.response_body"] == [b"the rest until the connection closes"]
    assert ev[RESP] == []


def test_http09():
    b, ev = check([(REQ, b"GET /old\r\n"), (RESP, b"<html>no status line</html>")])
    assert b[REQ]["http.uri"] == [b"/old"]
    assert "http.protocol" not in b[REQ]
    assert b[REQ]["http.start"] == [b"GET /old\r\n"]
    assert b[RESP] == {"http.response_body": [b"<html>no status line</html>"],
                       "file.data": [b"<html>no status line</html>"]}
    assert ev[REQ] == ["http.request_line_missing_protocol"]


def test_http09_response_with_a_status_line():
    """libhtp reads a status line in the answer to an HTTP/0.9 request when there is one
    (zeek http_methods.pcap: `GET /HTTP/1.1` answered `HTTP/1.0 403 Forbidden`)."""
    b, ev = check([(REQ, b"GET /HTTP/1.1\nHost: www.google.com\n\n"),
                   (RESP, b"HTTP/1.0 403 Forbidden\r\nContent-Length: 3\r\n\r\nabc")])
    assert b[REQ]["http.uri"][0] == b"/HTTP/1.1"
    assert b[RESP]["http.stat_code"] == [b"403"]
    assert b[RESP]["http.protocol"] == [b"HTTP/1.0"]
    assert b[RESP]["http.response_body"] == [b"abc"]
    for body in (b"HTTX/1.0 200", b"HTT", b"H", b"\r\nHTTP/1.0 200 OK\r\n\r\n"):
        b, ev = check([(REQ, b"GET /old\r\n"), (RESP, body)])
        assert b[RESP] == {"http.response_body": [body], "file.data": [body]}


def test_connect_tunnel_is_not_decoded():
    conv = [(REQ, request(b"CONNECT example.com:443 HTTP/1.1", b"Host: example.com:443")),
            (RESP, request(b"HTTP/1.1 200 Connection established")),
            (REQ, b"\x16\x03\x01\x02\x00GET / HTTP/1.1\r\n\r\n"), (RESP, b"\x16\x03\x03 HTTP/1.1 200\r\n\r\n")]
    b, ev = check(conv)
    assert b[REQ]["http.method"] == [b"CONNECT"]
    assert b[REQ]["http.uri"] == [b"example.com:443"]
    assert b[REQ]["http.host"] == [b"example.com"]
    assert b[REQ]["http.host.raw"] == [b"example.com"]
    assert b[RESP]["http.stat_code"] == [b"200"]
    assert "http.response_body" not in b[RESP]
    assert ev == {REQ: [], RESP: []}


def test_connect_refused_goes_on_with_http():
    conv = [(REQ, request(b"CONNECT example.com:443 HTTP/1.1", b"Host: example.com")),
            (RESP, request(b"HTTP/1.1 407 Proxy Authentication Required", b"Content-Length: 0")),
            (REQ, request(b"GET /after HTTP/1.1", b"Host: h"))]
    b, ev = check(conv)
    assert b[REQ]["http.uri"] == [b"example.com:443", b"/after"]


def test_upgrade_101_is_a_tunnel():
    conv = [(REQ, request(b"GET /chat HTTP/1.1", b"Host: h", b"Upgrade: websocket", b"Connection: Upgrade")),
            (RESP, request(b"HTTP/1.1 101 Switching Protocols", b"Upgrade: websocket")),
            (REQ, b"\x81\x85websocket frame"), (RESP, b"\x81\x05hello")]
    b, ev = check(conv)
    assert b[REQ]["http.uri"] == [b"/chat"]
    assert b[RESP]["http.stat_code"] == [b"101"]
    assert "http.response_body" not in b[RESP]
    assert ev == {REQ: [], RESP: []}


def test_obs_fold_reads_as_one_space():
    b, ev = check([(REQ, request(b"GET / HTTP/1.1", b"Host: h", b"X-Long: one", b"  \t two", b"\tthree"))])
    assert b[REQ]["http.header"] == [b"Host: h\r\nX-Long: one two three\r\n"]
    assert b[REQ]["http.header.raw"] == [b"Host: h\r\nX-Long: one\r\n  \t two\r\n\tthree\r\n\r\n"]
    assert ev[REQ] == ["http.obs_fold", "http.obs_fold"]


def test_fold_without_a_header_to_continue():
    b, ev = check([(REQ, request(b"GET / HTTP/1.1", b" orphan", b"Host: h"))])
    assert b[REQ]["http.header"] == [b"Host: h\r\n"]
    assert b[REQ]["http.header.raw"] == [b" orphan\r\nHost: h\r\n\r\n"]
    assert ev[REQ] == ["http.invalid_request_field_folding"]


def test_header_without_colon():
    b, ev = check([(REQ, request(b"GET / HTTP/1.1", b"Host: h", b"NoColonHere"))])
    assert b[REQ]["http.header"] == [b"Host: h\r\nNoColonHere: \r\n"]
    assert b[REQ]["http.header_names"] == [b"\r\nHost\r\nNoColonHere\r\n\r\n"]
    assert ev[REQ] == ["http.request_field_missing_colon"]


def test_lf_only_line_ends_and_bare_cr():
    b, ev = check([(REQ, b"GET /a\rb HTTP/1.1\nHost: h\n\n")])
    assert b[REQ]["http.uri.raw"] == [b"/a\rb"]
    assert b[REQ]["http.start"] == [b"GET /a\rb HTTP/1.1\r\nHost: h\r\n\r\n"]
    assert b[REQ]["http.header.raw"] == [b"Host: h\n\n"]
    assert ev[REQ] == ["http.bare_cr"]


# ---------------------------------------------------------------------------------------
# Events that do not stop the decoder

@pytest.mark.parametrize("conv,direction,events", [
    ([(REQ, request(b"GET / HTTP/1.1"))], REQ, ["http.missing_host_header"]),
    ([(REQ, request(b"GET / HTTP/1.0"))], REQ, []),
    ([(REQ, request(b"GET\t/ HTTP/1.1", b"Host: h"))], REQ, ["http.method_delim_non_compliant"]),
    ([(REQ, request(b"GET /\tHTTP/1.1", b"Host: h"))], REQ, ["http.uri_delim_non_compliant"]),
    ([(REQ, b"\r\n  " + request(b"GET / HTTP/1.1", b"Host: h"))], REQ, ["http.request_line_leading_whitespace"]),
    ([(REQ, request(b"GET / HTTP/1.1 junk", b"Host: h"))], REQ, ["http.request_line_invalid"]),
    ([(REQ, request(b"GET / HTTP/1.1.1", b"Host: h"))], REQ, ["http.request_line_invalid"]),
    ([(REQ, request(b"GET / HTTP/1.1", b"Host: h", b"Content-Length: 3", b"Content-Length: 3", body=b"abc"))],
     REQ, []),
    ([(REQ, request(b"POST / HTTP/1.1", b"Host: h", b"Content-Length: 9", b"Transfer-Encoding: chunked",
                    body=b"1\r\nx\r\n0\r\n\r\n"))], REQ, ["http.content_length_and_chunked_in_request"]),
    ([(REQ, request(b"GET / HTTP/1.1", b"Host: h")),
      (RESP, request(b"HTTP/1.0 200 OK", b"Transfer-Encoding: chunked", body=b"0\r\n\r\n"))],
     RESP, ["http.response_chunked_old_proto"]),
    ([(REQ, request(b"GET / HTTP/1.1", b"Host: h")),
      (RESP, request(b"HTTP/1.1 2x0 OK", b"Content-Length: 0"))], RESP, ["http.response_invalid_status"]),
    ([(REQ, request(b"GET / HTTP/1.1", b"Host: h")),
      (RESP, request(b"HTTP/1.x 200 OK", b"Content-Length: 0"))], RESP, ["http.response_invalid_protocol"]),
    ([(RESP, request(b"HTTP/1.1 200 OK", b"Content-Length: 0"))], RESP,
     ["http.unable_to_match_response_to_request"]),
    ([(REQ, request(b"GET / HTTP/1.1", b"Host: h")),
      (RESP, request(b"HTTP/1.1 200 OK", b"Transfer-Encoding: gzip") + b"raw")], RESP,
     ["http.invalid_transfer_encoding_value_in_response"]),
    ([(REQ, request(b"GET / HTTP/1.1", b"Host: h")),
      (RESP, request(b"HTTP/1.1 200 OK", b"Transfer-Encoding: chunked", body=b"2;x\r\nab\r\n0\r\n\r\n"))],
     RESP, ["http.response_chunk_extension"]),
    ([(REQ, request(b"GET / HTTP/1.1", b"Host: h")),
      (RESP, request(b"HTTP/1.1 200 OK", b"Bad Header: x", b"Content-Length: 0"))],
     RESP, ["http.response_header_invalid"]),
    ([(REQ, request(b"GET / HTTP/1.1", b"Host: h")),
      (RESP, request(b"HTTP/1.1 200 OK", b"X", b"Content-Length: 0"))], RESP,
     ["http.response_field_missing_colon"]),
    ([(REQ, b"GET /partial-line")], REQ, ["http.request_line_incomplete"]),
])
def test_events(conv, direction, events):
    b, ev = check(conv)
    assert ev[direction] == events
    assert ev[1 - direction] == []


def test_response_body_framing_after_events():
    # an invalid status still reads as a final response: its body by Content-Length
    b, ev = check([(REQ, request(b"GET / HTTP/1.1", b"Host: h") * 2),
                   (RESP, request(b"HTTP/1.1 2x0 X", b"Content-Length: 2", body=b"ab")
                    + request(b"HTTP/1.1 200 OK", b"Content-Length: 1", body=b"c"))])
    assert b[RESP]["http.response_body"] == [b"ab", b"c"]


def test_line_too_long_is_reported_once_and_decoded_on():
    uri = b"/" + b"a" * (fast.LINE_MAX + 100)
    b, ev = check([(REQ, request(b"GET " + uri + b" HTTP/1.1", b"Host: h"))], pair_limit=0)
    assert b[REQ]["http.uri"] == [uri]
    assert b[REQ]["http.host"] == [b"h"]
    assert ev[REQ] == ["http.request_field_too_long"]


def test_line_at_the_cap_is_not_too_long():
    line = b"GET /" + b"a" * (fast.LINE_MAX - len(b"GET / HTTP/1.1")) + b" HTTP/1.1"
    assert len(line) == fast.LINE_MAX
    b, ev = check([(REQ, request(line, b"Host: h"))], pair_limit=0)
    assert ev[REQ] == []


def test_too_many_headers():
    lines = [b"X-%d: v" % i for i in range(fast.MAX_HEADERS)] + [b"Host: h"]
    b, ev = check([(REQ, request(b"GET / HTTP/1.1", *lines))], pair_limit=0)
    assert ev[REQ] == ["http.request_too_many_headers"]
    assert b[REQ]["http.host"] == [b"h"]


def test_pending_request_fifo_overflow():
    n = fast.FIFO + 1
    reqs = request(b"HEAD / HTTP/1.1", b"Host: h") * n
    resps = request(b"HTTP/1.1 200 OK", b"Content-Length: 3") * n + b"abc"
    inst, ev, _ = run([(REQ, reqs), (RESP, resps)])
    assert ev[REQ] == ["http.too_many_pending_requests"]
    # the first FIFO responses answer a recorded HEAD (no body); the last one answers a
    # request the FIFO could not record, read as a GET: its body is the 3 bytes
    assert by_buffer(inst[RESP])["http.response_body"] == [b"abc"]
    assert ev[RESP] == []
    # fed in turn, the same flow needs no more than one slot
    conv = []
    for _ in range(n):
        conv += [(REQ, request(b"HEAD / HTTP/1.1", b"Host: h")),
                 (RESP, request(b"HTTP/1.1 200 OK", b"Content-Length: 3"))]
    inst, ev, _ = run(conv)
    assert ev == {REQ: [], RESP: []}
    assert "http.response_body" not in by_buffer(inst[RESP])


# ---------------------------------------------------------------------------------------
# Spaces inside the URI: it runs to the whitespace before a token starting "HTTP/"

@pytest.mark.parametrize("line,raw,uri,proto,events", [
    (b"GET /uri with space afterspace HTTP/1.1", b"/uri with space afterspace", None, b"HTTP/1.1", []),
    (b"GET /a\tb  c HTTP/1.1", b"/a\tb  c", None, b"HTTP/1.1", []),          # HT inside: no event
    (b"GET /a b\tHTTP/1.1", b"/a b", None, b"HTTP/1.1", ["http.uri_delim_non_compliant"]),
    (b"GET /a HTTP HTTP/1.1", b"/a HTTP", None, b"HTTP/1.1", []),           # a prefix of "HTTP/"
    (b"GET /a HTTPX HTTP/1.1", b"/a HTTPX", None, b"HTTP/1.1", []),
    (b"GET /a HTT", b"/a HTT", None, None, ["http.request_line_missing_protocol"]),
    (b"GET /a%20b c%41?d e%42 HTTP/1.0", b"/a%20b c%41?d e%42", b"/a b cA?d eB", b"HTTP/1.0", []),
    (b"GET /a ", b"/a", None, None, ["http.request_line_missing_protocol"]),  # trailing whitespace
    (b"GET /a b", b"/a b", None, None, ["http.request_line_missing_protocol"]),
    (b"GET http://h.example/p q?r s HTTP/1.1", b"http://h.example/p q?r s", b"/p q?r s", b"HTTP/1.1", []),
    (b"GET /a" + b" " * 64 + b"b HTTP/1.1", b"/a" + b" " * 64 + b"b", None, b"HTTP/1.1", []),
    (b"GET / HTXP/1.1", b"/ HTXP/1.1", None, None, ["http.request_line_missing_protocol"]),
])
def test_uri_with_spaces(line, raw, uri, proto, events):
    """libhtp-rs (Suricata 8; suricata-verify http-uri-spaces) takes the URI to the last
    whitespace before the protocol; xdpfw to the last one before a token starting "HTTP/"
    (streaming: the whitespace and such a prefix are held, not the whole line)."""
    b, ev = check([(REQ, request(line, b"Host: h"))])
    assert b[REQ]["http.uri.raw"][0] == raw      # HTTP/0.9: then "Host: h" is a request
    assert b[REQ]["http.uri"][0] == (uri or raw)
    assert b[REQ].get("http.protocol") == ([proto] if proto else None)
    assert b[REQ]["http.request_line"][0] == line
    assert ev[REQ][:len(events)] == events


@pytest.mark.parametrize("line,method,uri", [
    (b"TRACE/ HTTP/1.1", b"TRACE/", b"HTTP/1.1"),        # zeek http_methods.pcap
    (b"DELETE/ HTTP/1.1", b"DELETE/", b"HTTP/1.1"),
    (b"TRACE/HTTP/1.1", b"TRACE/HTTP/1.1", None),         # no whitespace: the method only
])
def test_method_runs_to_the_whitespace(line, method, uri):
    """libhtp's method is what precedes the first whitespace: a visible non-token byte in
    it is reported (request_line_invalid) and kept in http.method."""
    b, ev = check([(REQ, request(line, b"Host: h"))])
    assert b[REQ]["http.method"][0] == method
    assert ev[REQ][0] == "http.request_line_invalid"
    if uri:
        assert b[REQ]["http.uri"][0] == uri


def test_uri_whitespace_run_over_the_cap_ends_it():
    """A run of more than XDPFW_HTTP_WS_MAX whitespace bytes is the delimiter: what follows
    is the protocol, and one that is not HTTP/ gives the direction up."""
    b, ev = check([(REQ, request(b"GET /a" + b" " * 65 + b"HTTP/1.1", b"Host: h"))])
    assert b[REQ]["http.uri"] == [b"/a"] and b[REQ]["http.protocol"] == [b"HTTP/1.1"]
    b, ev = check([(REQ, request(b"GET /a" + b" " * 65 + b"b HTTP/1.1", b"Host: h"))])
    assert b[REQ]["http.uri"] == [b"/a"] and ev[REQ] == ["http.request_line_invalid"]


def test_uri_with_spaces_incomplete():
    b, ev = check([(REQ, b"GET /a b HTTP/")])
    assert b[REQ]["http.uri"] == [b"/a b"] and b[REQ]["http.protocol"] == [b"HTTP/"]
    b, ev = check([(REQ, b"GET /a b HTT")])
    assert b[REQ]["http.uri"] == [b"/a b HTT"] and "http.protocol" not in b[REQ]
    assert ev[REQ] == ["http.request_line_incomplete"]
    b, ev = check([(REQ, b"GET /a b\t ")])
    assert b[REQ]["http.uri"] == [b"/a b"]
    assert sorted(ev[REQ]) == ["http.request_line_incomplete", "http.uri_delim_non_compliant"]


def test_uri_with_spaces_whole_is_one_raw_piece():
    _, _, pieces = run([(REQ, request(b"GET /a b c HTTP/1.1", b"Host: h"))])
    count = collections.Counter(buf for buf, _, _ in pieces[REQ])
    assert count["http.uri.raw"] == 1 and count["http.protocol"] == 1


# ---------------------------------------------------------------------------------------
# Input the decoder cannot follow: an event, then nothing

@pytest.mark.parametrize("conv,direction,event", [
    ([(REQ, b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03")], REQ, "http.request_line_invalid"),
    ([(REQ, request(b"GET /" + b" " * 65 + b"HTXP/1.1", b"Host: h"))], REQ, "http.request_line_invalid"),
    ([(REQ, request(b"GE\x01T / HTTP/1.1", b"Host: h"))], REQ, "http.request_line_invalid"),
    ([(REQ, request(b"GET", b"Host: h"))], REQ, "http.request_line_invalid"),
    ([(REQ, request(b"POST / HTTP/1.1", b"Host: h", b"Transfer-Encoding: gzip", body=b"xx"))], REQ,
     "http.invalid_transfer_encoding_value_in_request"),
    ([(REQ, request(b"POST / HTTP/1.1", b"Host: h", b"Transfer-Encoding: chunked", body=b"zz\r\n"))], REQ,
     "http.invalid_request_chunk_len"),
    ([(REQ, request(b"POST / HTTP/1.1", b"Host: h", b"Transfer-Encoding: chunked",
                    body=b"1" * 17 + b"\r\n"))], REQ, "http.invalid_request_chunk_len"),
    ([(REQ, request(b"POST / HTTP/1.1", b"Host: h", b"Transfer-Encoding: chunked", body=b"2\r\nabX\r\n"))],
     REQ, "http.invalid_request_chunk_len"),
    ([(REQ, request(b"POST / HTTP/1.1", b"Host: h", b"Content-Length: 1x"))], REQ,
     "http.invalid_content_length_field_in_request"),
    ([(REQ, request(b"POST / HTTP/1.1", b"Host: h", b"Content-Length: 1", b"Content-Length: 2"))], REQ,
     "http.duplicate_content_length_field_in_request"),
    ([(REQ, request(b"GET / HTTP/1.1", b"Host: h")), (RESP, b"SSH-2.0-OpenSSH\r\n")], RESP,
     "http.response_invalid_protocol"),
    ([(REQ, request(b"GET / HTTP/1.1", b"Host: h")),
      (RESP, request(b"HTTP/1.1 200 OK", b"Transfer-Encoding: chunked", body=b"3\r\nabc\r\n;\r\n"))], RESP,
     "http.invalid_response_chunk_len"),
])
def test_gives_up(conv, direction, event):
    follow = request(b"GET /after HTTP/1.1", b"Host: h") if direction == REQ else request(
        b"HTTP/1.1 200 OK", b"Content-Length: 0")
    conv = conv + [(direction, follow)]
    b, ev = check(conv, pair_limit=24)
    assert ev[direction][-1] == event
    assert b[direction].get("http.uri", []).count(b"/after") == 0
    assert len(b[direction].get("http.stat_code", [])) <= 1


def test_chunk_size_line_too_long_gives_up():
    body = b"1;" + b"e" * fast.LINE_MAX + b"\r\nx\r\n0\r\n\r\n"
    b, ev = check([(REQ, request(b"POST / HTTP/1.1", b"Host: h", b"Transfer-Encoding: chunked", body=body))],
                  pair_limit=0)
    assert ev[REQ] == ["http.request_chunk_extension", "http.request_field_too_long"]
    assert "http.request_body" not in b[REQ]


def test_gap_gives_up_and_closes_open_instances():
    dec = AppDecoder("http")
    pieces, ev = dec.feed(REQ, b"GET /a-long-uri")
    more, ev2 = dec.feed(REQ, b"b HTTP/1.1\r\n\r\n", 2)        # XDPFW_APP_F_GAP
    rest, ev3 = dec.feed(REQ, request(b"GET /after HTTP/1.1"))
    inst = by_buffer(assemble(pieces + more + rest))
    assert inst["http.uri.raw"] == [b"/a-long-uri"]
    assert inst["http.method"] == [b"GET"]
    assert ev + ev2 + ev3 == ["http.gap"]
    assert fast.given_up(dec.state) == (True, False)
    assert dec.end(REQ) == ([], [])


def test_end_closes_open_instances():
    inst, ev, pieces = run([(REQ, b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc"),
                            (RESP, b"HTTP/1.1 200 OK\r\nServer: ng")])
    assert by_buffer(inst[REQ])["http.request_body"] == [b"abc"]
    assert by_buffer(inst[RESP])["http.server"] == [b"ng"]
    assert by_buffer(inst[RESP])["http.start"] == [b"HTTP/1.1 200 OK\r\nServer: ng"]


# ---------------------------------------------------------------------------------------
# Probe, pieces, state

@pytest.mark.parametrize("data,direction,result", [
    (b"GET / HTTP/1.1\r\n", REQ, 1), (b"PROPFIND /d", REQ, 1), (b"MKCALENDAR ", REQ, 1),
    (b"PATCH /", REQ, 1), (b"GE", REQ, 2), (b"", REQ, 2), (b"GET", REQ, 2), (b"OPTIONS", REQ, 2),
    (b"GETX /", REQ, 0), (b"get / HTTP/1.1", REQ, 0), (b"\x16\x03\x01", REQ, 0), (b"SSH-2.0", REQ, 0),
    (b"TRACE/ HTTP/1.1", REQ, 1), (b"DELETE/HTTP/1.1", REQ, 1), (b"GET\t/", REQ, 0),  # method then "/"
    (b"HTTP/1.1 200 OK", RESP, 1), (b"HTT", RESP, 2), (b"HTTPS", RESP, 0), (b"GET / ", RESP, 0),
])
def test_probe(data, direction, result):
    assert probe("http", data, direction) == result


def test_probe_refuses_datagrams():
    assert probe("http", b"GET / HTTP/1.1\r\n", REQ, 1) == 0


def test_raw_buffers_are_one_piece_per_run():
    """A request fed whole gives one piece per raw buffer instance (pieces point into the
    input: no per-byte reporting), normalised pieces are at most XDPFW_APP_SCRATCH bytes."""
    uri = b"/" + b"x" * 1000
    _, _, pieces = run([(REQ, request(b"GET " + uri + b" HTTP/1.1", b"Host: h", b"User-Agent: " + b"u" * 500))])
    count = collections.Counter(buf for buf, _, _ in pieces[REQ])
    for buf in ("http.method", "http.uri.raw", "http.request_line", "http.protocol", "http.header.raw"):
        assert count[buf] == 1, (buf, count[buf])
    # a single-header buffer stays open to the end of the header block (a repeated header
    # would append ", value"): its value piece, then an empty END piece there
    ua = [p for p in pieces[REQ] if p[0] == "http.user_agent"]
    assert ua == [("http.user_agent", b"u" * 500, START), ("http.user_agent", b"", END)]
    assert all(len(data) <= fast.SCRATCH for buf, data, _ in pieces[REQ] if buf in ("http.uri", "http.host"))
    assert count["http.uri"] == -(-len(uri) // fast.SCRATCH)


def test_piece_flags():
    _, _, pieces = run([(REQ, request(b"GET / HTTP/1.1", b"Host: h"))])
    method = [p for p in pieces[REQ] if p[0] == "http.method"]
    assert method == [("http.method", b"GET", START | END)]


def test_state_and_tables():
    assert fast.STATE_SIZE == 208
    assert len(fast.EVENT_NAMES) == len(set(fast.EVENT_NAMES)) == 44
    assert all(e.startswith("http.") for e in fast.EVENT_NAMES)
    header = (ROOT / "xdpfw" / "_fast" / "xdpfw_app_http.h").read_text()
    assert "208 bytes" in header and "96 bytes" in header
    assert fast.BUFFER_NAMES[0] == "http.method"


def test_decode_count_counts_what_the_sink_gets():
    conv = [(REQ, request(b"POST /a%41 HTTP/1.1", b"Host: h", b"Content-Length: 2", body=b"xy")),
            (RESP, request(b"HTTP/1.1 200 OK", b"Transfer-Encoding: chunked", body=b"1\r\nz\r\n0\r\n\r\n")),
            (REQ, b"GET")]
    _, events, pieces = run(conv)
    allp = pieces[REQ] + pieces[RESP]
    assert fast.decode_count(conv) == (len(allp), sum(len(d) for _, d, _ in allp),
                                       len(events[REQ]) + len(events[RESP]))


def test_feed_refuses_a_bad_direction():
    with pytest.raises(ValueError):
        AppDecoder("http").feed(2, b"x")


# ---------------------------------------------------------------------------------------
# Generated input

SEGMENTS = st.sampled_from([b"a", b".", b"..", b"", b"%2e", b"%2F", b"b%41", b"x\\y", b"%zz", b"%4",
                            b"...", b"q?", b"%25", b"\xc3\xa9"])
NAMES = st.sampled_from([b"Host", b"host", b"User-Agent", b"Cookie", b"COOKIE", b"Cook", b"Content-Type",
                         b"Accept", b"X-Any", b"Referer", b"Bad Name", b"Connection", b"Set-Cookie"])
VALUES = st.binary(max_size=12).map(lambda v: v.replace(b"\r", b"").replace(b"\n", b"")) | st.sampled_from(
    [b"v", b"  a  b  ", b"EX.com.:80", b"[::1]:8", b"a" + b" " * 66 + b"b", b""])


@st.composite
def flows(draw):
    reqs, resps = [], []
    for _ in range(draw(st.integers(1, 3))):
        method = draw(st.sampled_from([b"GET", b"POST", b"HEAD", b"PUT", b"OPTIONS"]))
        path = b"/" + b"/".join(draw(st.lists(SEGMENTS, max_size=5)))
        prefix = draw(st.sampled_from([b"", b"", b"http://User@Ex.com:8080", b"https://h"]))
        lines = [method + b" " + prefix + path + b" HTTP/1." + draw(st.sampled_from([b"0", b"1"]))]
        for _ in range(draw(st.integers(0, 4))):
            lines.append(draw(NAMES) + b":" + draw(st.sampled_from([b"", b" ", b"\t"])) + draw(VALUES))
            if draw(st.integers(0, 9)) == 0:
                lines.append(b" " + draw(VALUES))
        body = b""
        if method in (b"POST", b"PUT"):
            data = draw(st.binary(max_size=20))
            if draw(st.booleans()):
                lines.append(b"Content-Length: %d" % len(data))
                body = data
            else:
                lines.append(b"Transfer-Encoding: chunked")
                body = (b"%x\r\n" % len(data) + data + b"\r\n" if data else b"") + b"0\r\n\r\n"
        eol = draw(st.sampled_from([b"\r\n", b"\n"]))
        reqs.append(b"".join(line + eol for line in lines) + eol + body)
        status = draw(st.sampled_from([b"200", b"204", b"304", b"404", b"100"]))
        rbody = draw(st.binary(max_size=10))
        head = [b"HTTP/1.1 " + status + b" X", b"Content-Length: %d" % len(rbody)]
        head += [draw(NAMES) + b": " + draw(VALUES) for _ in range(draw(st.integers(0, 2)))]
        resp = b"".join(line + b"\r\n" for line in head) + b"\r\n"
        if status not in (b"204", b"304", b"100") and method != b"HEAD":
            resp += rbody
        resps.append(resp)
    conv = []
    for q, r in zip(reqs, resps):
        conv += [(REQ, q), (RESP, r)]
    return conv


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conv=flows(), cuts=st.lists(st.integers(1, 400), max_size=6), data=st.data())
def test_generated_flows_split_anywhere_match_the_reference(conv, cuts, data):
    whole = run(conv)[:2]

    def split(b):
        pos = sorted({c % len(b) for c in cuts if len(b) > 1} - {0})
        return [b[i:j] for i, j in zip([0] + pos, pos + [len(b)])]
    assert run(conv, split=split)[:2] == whole
    if data.draw(st.booleans()):
        assert run(conv, split=bytewise)[:2] == whole
    assert_same_as_reference(conv, *whole)


CONTRACT_SAMPLES = [
    ([(REQ, request(b"GET /a/../b%41?q=1 HTTP/1.1", b"Host: Ex.COM.:80", b"User-Agent: x  y", b"Cookie: c=1")),
      (RESP, b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nServer: s\r\n\r\nabc")], 0),
    ([(REQ, request(b"POST /up HTTP/1.1", b"Host: h", b"Transfer-Encoding: chunked", body=b"3\r\nabc\r\n0\r\n\r\n")),
      (RESP, b"HTTP/1.0 404 Not Found\r\nLocation: /x\r\n\r\n")], 0),
    # %-encodings in path and query (a %XX split anywhere decodes the same)
    ([(REQ, request(b"GET /a%3Cscript%3E/%2e%2e/x%2Fy%zz//.\\%c0%af%00?q=%3c%2F+%2B%4&r=%u0041% HTTP/1.1",
                    b"Host: h")),
      (RESP, b"HTTP/1.1 204 No Content\r\n\r\n")], 0),
    ([(REQ, request(b"GET http://h.example/%41b%2f?c%41%42%4 HTTP/1.1", b"Host: h")),
      (REQ, request(b"GET /e% HTTP/1.1", b"Host: h"))], 0),
    # spaces inside the URI (the held whitespace and "HTTP/" prefix split anywhere)
    ([(REQ, request(b"GET /a b%41 \tHTTP c?d HTTP/1.1", b"Host: h")),
      (REQ, request(b"GET /x  HTTP/1.0")), (REQ, b"GET /y HT\r\n\r\nGET /z HT")], 0),
    # HTTP/0.9 requests answered by a status line and by a body that starts like one
    ([(REQ, b"GET /a\r\nGET /b\r\n"), (RESP, b"HTTP/1.0 403 Forbidden\r\nContent-Length: 1\r\n\r\nxHTTP")], 0),
]
"""(conversation, flags) the contract suite runs through the HTTP decoder."""


def test_random_bytes_never_break_the_protocol():
    rnd = random.Random(4)
    prefixes = [b"", b"GET ", b"GET /x HTTP/1.1\r\n", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                b"HTTP/1.1 200 OK\r\n", b"GET http://"]
    for i in range(3000):
        conv = []
        for _ in range(rnd.randint(1, 4)):
            d = rnd.randint(0, 1)
            alphabet = b"\r\n :%/.\t\\?@[]0123456789abcdefHTPGE;,x"
            body = bytes(rnd.choice(alphabet) if rnd.random() < 0.7 else rnd.randrange(256)
                         for _ in range(rnd.randint(0, 120)))
            conv.append((d, rnd.choice(prefixes) + body))
        inst, events, pieces = run(conv, split=lambda b: [b[i:i + 7] for i in range(0, len(b), 7)] or [b])
        for d in (REQ, RESP):
            assert {buf for buf, _, _ in pieces[d]} <= HTTP_BUFFERS
            assert set(events[d]) <= set(fast.EVENT_NAMES)
            assert all(flags & ~(START | END) == 0 for _, _, flags in pieces[d])
        if i % 10 == 0:
            assert_same_as_reference(conv, inst, events)


# ---------------------------------------------------------------------------------------
# Every HTTP flow of the shared captures

def _inventory():
    path = PCAPS / "pcap-inventory.tsv"
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return [r["file"] for r in csv.DictReader(f, delimiter="\t") if r["dlt"] == "1"]


def _tcp_conversations(path):
    """Each TCP flow of a capture as [(direction, new in-order bytes), ...] in packet
    order (direction 0 from the SYN sender, or toward port 80/8080 for a flow caught
    midstream), or None for a flow with a gap."""
    flows: dict = {}
    for linktype, frame in read_packets(path):
        if linktype != LINKTYPE_ETHERNET:
            continue
        d = l4.decode_to_dict(frame)
        if d["l4_proto"] != 6 or d["invalid_layer"] or d["frag_off"]:
            continue
        a, b = (d["src"], d["sport"]), (d["dst"], d["dport"])
        key = (a, b) if a < b else (b, a)
        payload = frame[d["payload_off"]:d["payload_off"] + d["payload_len"]]
        flows.setdefault(key, []).append((a, d["tcp_seq"], d["tcp_flags"], payload))
    for segs in flows.values():
        ends = {a for a, *_ in segs}
        client = next((a for a, _, fl, _ in segs if fl & 0x02 and not fl & 0x10), None)
        if client is None:
            server = next((a for a in ends if a[1] in (80, 8080)), None)
            client = next((a for a in ends if a != server), None) if server else None
        ports = {a[1] for a in ends}
        nxt, conv, gap = {}, [], False
        for a, seq, flags, payload in segs:
            d = 0 if a == client else 1
            if flags & 0x02:                       # SYN
                nxt[d] = (seq + 1) & 0xFFFFFFFF
                continue
            if flags & 0x04:                       # RST
                continue
            nxt.setdefault(d, seq)
            off = (seq - nxt[d]) & 0xFFFFFFFF
            if off >= 0x80000000:                  # starts before the next byte expected
                back = 0x100000000 - off
                if back >= len(payload):
                    continue
                payload, off = payload[back:], 0
            if off:
                gap = True
                break
            if payload:
                conv.append((d, bytes(payload)))
                nxt[d] = (nxt[d] + len(payload)) & 0xFFFFFFFF
            if flags & 0x01:                       # FIN
                nxt[d] = (nxt[d] + 1) & 0xFFFFFFFF
        yield ports, client, (None if gap else conv)


def test_corpus_http_flows_match_the_reference():
    files = _inventory()
    assert files, f"the shared corpus is missing: {PCAPS}"
    stats = collections.Counter()
    for name in files:
        for ports, client, conv in _tcp_conversations(PCAPS / name):
            by_port = bool(ports & {80, 8080})
            if conv is None or client is None:
                stats["skipped (gap or no client side)"] += by_port
                continue
            to_server = b"".join(x for d, x in conv if d == REQ)
            if not by_port and probe("http", to_server[:16], REQ) != 1:
                continue
            stats["compared"] += 1
            stats["probe-detected"] += not by_port
            inst, events, _ = run(conv)
            assert_same_as_reference(conv, inst, events)
            stats["requests"] += sum(1 for b, _ in inst[REQ] if b == "http.method")
            stats["responses"] += sum(1 for b, _ in inst[RESP] if b == "http.stat_code")
            stats["bytes"] += sum(len(x) for _, x in conv)
    print(dict(stats))
    assert stats["compared"] >= 600 and stats["requests"] >= 900 and stats["responses"] >= 800, dict(stats)
