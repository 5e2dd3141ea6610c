"""Encryption handling (engine.pyx ENC_*, Suricata's app-layer.protocols.tls.encryption-handling):
once a TLS flow's application data starts, `default` stops content matching on the flow
(header, flow and TLS rules go on), `bypass` stops everything, `full` inspects as before.
The TLS decoder's signal (xdpfw_app.h XDPFW_APP_CTL_ENCRYPTED) is checked on its own, 0-RTT
early data included."""
from __future__ import annotations

import pytest

from xdpfw._fast.app_registry import AppDecoder
from xdpfw.detect.ruleset import build_detection
from xdpfw.rules import parse_rule

from tests.unit.test_app_tls import CCS, SERVER_HELLO_DONE, client_hello, ext_sni, record, server_hello
from tests.unit.test_engine import PASS, RULE_DROP, Tcp

RULES = [
    'drop tcp any any -> any any (msg:"raw"; flow:to_server; content:"EVILPAYLOAD"; sid:1;)',
    'alert tls any any -> any any (msg:"sni"; tls.sni; content:"example.org"; sid:2;)',
    'drop tcp any any -> any 443 (msg:"hdr"; flow:to_server,established; dsize:>1000; sid:3;)',
    'alert tcp any any -> any any (msg:"raw toclient"; flow:to_client; content:"SERVERSECRET"; sid:4;)',
]


def engine(mode, *texts, **kw):
    det = build_detection([parse_rule(t) for t in (texts or RULES)], kernel_acl=False)
    assert not det.problems, det.problems
    return det.engine_factory(flow_capacity=256, encryption_handling=mode, **kw)()


def sids(eng):
    return sorted(eng.rules[a["sig"]].sid for a in eng.drain_alerts())


def handshake_to_app_data(t):
    """TCP and TLS 1.2 handshakes, then the first application-data record each way."""
    assert t.handshake() == [PASS] * 3
    assert t.c(record(22, client_hello(exts=ext_sni(b"www.example.org")))) == PASS
    assert t.s(record(22, server_hello() + SERVER_HELLO_DONE)) == PASS
    assert t.c(record(22, b"\x10\x00\x00\x02\x00\x00") + CCS + record(22, b"\x99" * 40)) == PASS
    assert t.s(CCS + record(22, b"\x98" * 40)) == PASS


@pytest.mark.parametrize("mode", ["default", "bypass", "full"])
def test_content_in_application_data_by_mode(mode):
    eng = engine(mode)
    t = Tcp(eng, dport=443)
    handshake_to_app_data(t)
    assert sids(eng) == [2]
    # the record that begins the application data, and the next one: ciphertext
    v1 = t.c(record(23, b"x" * 20 + b"EVILPAYLOAD"))
    v2 = t.c(record(23, b"EVILPAYLOAD" + b"y" * 20))
    v3 = t.s(record(23, b"SERVERSECRET"))
    got = sids(eng)
    c = eng.counters()
    if mode == "full":
        assert (v1, got) == (RULE_DROP, [1])   # the first one drops the flow
        return
    assert (v1, v2, v3, got) == (PASS, PASS, PASS, [])
    if mode == "default":
        assert c["encrypted_flows"] == 1 and c["bypassed_flows"] == 0
        # header rules still hold for the flow
        assert t.c(record(23, b"z" * 1200)) == RULE_DROP and sids(eng) == [3]
    else:
        assert c["bypassed_flows"] == 1 and c["encrypted_flows"] == 0
        assert c["bypassed_packets"] == 2   # v2, v3: v1 was inspected as it settled the flow
        assert t.c(record(23, b"z" * 1200)) == PASS and sids(eng) == []
        assert eng.counters()["bypassed_packets"] == 3


def test_clear_bytes_before_the_application_data_are_inspected():
    eng = engine("default")
    t = Tcp(eng, dport=443)
    assert t.handshake() == [PASS] * 3
    assert t.c(record(22, client_hello(exts=ext_sni(b"a.example.org")))) == PASS
    # a handshake record carrying the content: not encrypted yet, matched
    assert t.c(record(22, b"\x99" * 4 + b"EVILPAYLOAD")) == RULE_DROP
    assert sids(eng) == [1, 2]


def test_a_new_connection_on_the_same_ports_is_inspected_again():
    eng = engine("bypass")
    t = Tcp(eng, dport=443)
    handshake_to_app_data(t)
    assert t.c(record(23, b"EVILPAYLOAD")) == PASS
    assert t.c(flags="RA") == PASS
    t.cseq += 100000
    t.sseq += 100000
    assert t.handshake() == [PASS] * 3
    assert t.c(b"plain EVILPAYLOAD") == RULE_DROP


def test_not_tls_is_not_settled():
    """Application-data records without the hellos before them settle nothing: a stream
    shaped like TLS records both ways is still inspected."""
    eng = engine("bypass")
    t = Tcp(eng, dport=443)
    assert t.handshake() == [PASS] * 3
    assert t.c(b"\x17\x03\x03\x00\x05hello") == PASS
    assert t.s(b"\x17\x03\x03\x00\x05hello") == PASS
    assert t.c(b"EVILPAYLOAD") == RULE_DROP
    assert eng.counters()["bypassed_flows"] == 0


def test_garbage_after_the_handshake_without_application_data_is_inspected():
    """A ClientHello, then plaintext that breaks the record framing: the decoder gives up,
    the flow is never settled and the plaintext is matched."""
    eng = engine("bypass")
    t = Tcp(eng, dport=443)
    assert t.handshake() == [PASS] * 3
    assert t.c(record(22, client_hello())) == PASS
    assert t.s(record(22, server_hello() + SERVER_HELLO_DONE)) == PASS
    assert t.c(b"GET /EVILPAYLOAD HTTP/1.1\r\n\r\n") == RULE_DROP


def test_decoder_signals_once_after_the_server_answered():
    d = AppDecoder("tls")
    d.feed(0, record(22, client_hello()))
    d.feed(0, record(23, b"early data"))          # 0-RTT: the handshake goes on in clear
    assert d.controls == []
    d.feed(1, record(22, server_hello()))
    assert d.controls == []
    d.feed(1, record(23, b"encrypted"))
    assert d.controls == ["encrypted"]
    d.feed(0, record(23, b"more"))
    assert d.controls == ["encrypted"]


@pytest.mark.parametrize("cut", range(1, 6))
def test_decoder_signal_with_the_record_header_split(cut):
    d = AppDecoder("tls")
    d.feed(0, record(22, client_hello()))
    d.feed(1, record(22, server_hello()))
    rec = record(23, b"abc")
    d.feed(0, rec[:cut])
    assert d.controls == ([] if cut < 5 else ["encrypted"])
    d.feed(0, rec[cut:])
    assert d.controls == ["encrypted"]


def test_engine_rejects_an_unknown_mode():
    with pytest.raises(ValueError, match="encryption_handling"):
        engine("sometimes")


def test_a_pass_rule_settles_a_tcp_flow_as_suricata_7_does():
    """Suricata 7 applies a pass rule to the flow when it matched in the stream or the app
    layer or has no payload condition: the rest of the flow is not inspected. A
    packet-only match (dsize) passes that packet alone."""
    rules = ['pass tcp any any -> any 80 (msg:"trusted"; flow:to_server; content:"X-Trusted-Backup"; sid:10;)',
             'drop tcp any any -> any any (msg:"attack"; content:"EVILPAYLOAD"; sid:11;)',
             'pass tcp any any -> any 81 (msg:"small"; dsize:<8; sid:12;)']
    eng = engine("default", *rules)
    t = Tcp(eng, dport=80)
    assert t.handshake() == [PASS] * 3
    assert t.c(b"GET / HTTP/1.1\r\nX-Trusted-Backup: 1\r\n\r\n") == PASS
    assert t.c(b"EVILPAYLOAD") == PASS and t.s(b"EVILPAYLOAD") == PASS
    c = eng.counters()
    assert c["passed_flows"] == 1 and c["bypassed_packets"] == 2
    # a dsize pass passes its packet only: the flow is still inspected
    u = Tcp(eng, sport=40123, dport=81)
    assert u.handshake() == [PASS] * 3
    assert u.c(b"tiny") == PASS
    assert u.c(b"EVILPAYLOAD and more") == RULE_DROP
    assert eng.counters()["passed_flows"] == 1
