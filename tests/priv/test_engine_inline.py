"""The inspection engine bound to live workers: content rules drop inline, in the lab."""
from __future__ import annotations

from xdpfw._fast import engine as E
from xdpfw._fast import match_hs
from xdpfw._fast.match import Pattern
from prometheus_client import CollectorRegistry

from xdpfw.dataplane.appliance import Appliance, ApplianceConfig
from xdpfw.service.metrics import ApplianceCollector
from xdpfw.tools.lab import ping, tcp_transfer
from xdpfw.tools.netns import call_in_netns, run_in
from xdpfw.detect.sigtables import SigTables
from xdpfw.rules import parse_rule

SIG = "ATTACK-SIGNATURE-42"


def engine_factory():
    t = SigTables()
    idx = t.add(parse_rule(f'drop tcp any any -> any any (msg:"lab attack"; content:"{SIG}"; sid:9000100;)'),
                has_payload=True)
    t.report[1] = idx
    stream = match_hs.Database.compile([Pattern(1, SIG.encode())], mode="stream")
    return lambda: E.Engine(t, stream_db=stream, flow_capacity=4096, stream_pool=1024)


def test_content_drop_rule_inline(lab):
    run_in(lab.fw_ns, ["ip", "link", "set", "lo", "up"])
    cfg = ApplianceConfig(lab.side_a, lab.side_b, engine_factory=engine_factory())
    app = call_in_netns(lab.fw_ns, lambda: (lambda a: (a.start(), a)[1])(Appliance(cfg)))
    try:
        assert ping(lab, lab.client.ns, lab.server.ip, count=3) == 3
        clean = tcp_transfer(lab, lab.client.ns, lab.server.ns, lab.server.ip, 8 << 20, port=7001)
        assert clean.ok, clean.detail
        attack = tcp_transfer(lab, lab.client.ns, lab.server.ns, lab.server.ip, 1 << 20, port=7002,
                              timeout=4, prefix="hello " + SIG)
        assert not attack.ok
        assert attack.bytes == 0  # the segment carrying the signature never arrived
        again = tcp_transfer(lab, lab.server.ns, lab.client.ns, lab.client.ip, 4 << 20, port=7003)
        assert again.ok, again.detail
        eng = app.engines()[0]
        alerts = eng.drain_alerts()
        assert alerts and {a["sig"] for a in alerts} == {0}
        assert all(a["blocked"] and a["direction"] == "to_server" and a["dport"] == 7002 for a in alerts)
        c = eng.counters()
        assert c["dropped_by_rule"] >= 1
        per_side = app.worker_counters()[0][1]["drop_packets"][0]
        assert per_side[2] >= 1  # XDPFW_DROP_RULE counted by the worker on side A
        reg = CollectorRegistry(auto_describe=False)
        reg.register(ApplianceCollector(app))
        assert reg.get_sample_value("xdpfw_dropped_packets_total", {"device": lab.side_a, "reason": "rule"}) >= 1
        assert reg.get_sample_value("xdpfw_inspected_packets_total") >= 5000
        assert reg.get_sample_value("xdpfw_tcp_segments_total", {"result": "in_order"}) > 1000
        assert reg.get_sample_value("xdpfw_flow_events_total", {"event": "created"}) >= 4
        assert reg.get_sample_value("xdpfw_flows_active") >= 1
    finally:
        call_in_netns(lab.fw_ns, app.stop)
    assert all(acc["consistent"] for acc in app.final_accounting)


def test_worker_swaps_a_staged_rule_set_between_batches_even_when_idle(lab):
    """The worker loop applies a staged rule set at its next turn: no traffic needed, and
    the next connection is judged by the new rules."""
    from xdpfw.detect.ruleset import build_detection

    def det(sig_text):
        return build_detection([parse_rule(f'drop tcp any any -> any any (msg:"m"; content:"{sig_text}"; sid:9000200;)')],
                               kernel_acl=False)

    d1 = det(SIG)
    cfg = ApplianceConfig(lab.side_a, lab.side_b, engine_factory=d1.engine_factory(flow_capacity=4096, stream_pool=1024))
    app = call_in_netns(lab.fw_ns, lambda: (lambda a: (a.start(), a)[1])(Appliance(cfg)))
    try:
        eng = app.engines()[0]
        assert det("SWAPPED-IN-RULE").stage(eng) == 1
        assert eng.finish_swap(timeout=2.0)  # idle worker: the loop turns at least every 100 ms
        assert eng.rules_generation == 1
        old = tcp_transfer(lab, lab.client.ns, lab.server.ns, lab.server.ip, 1 << 20, port=7011,
                           prefix="hello " + SIG)
        assert old.ok, old.detail
        new = tcp_transfer(lab, lab.client.ns, lab.server.ns, lab.server.ip, 1 << 20, port=7012, timeout=4,
                           prefix="hello SWAPPED-IN-RULE")
        assert not new.ok and new.bytes == 0
        assert [a["rule"].sid for a in eng.drain_alerts()][:1] == [9000200]
    finally:
        call_in_netns(lab.fw_ns, app.stop)
    assert all(acc["consistent"] for acc in app.final_accounting)


def test_http_uri_rule_drops_inline_and_other_requests_pass(lab):
    """The application layer on live workers: an HTTP request whose URI matches a drop
    rule never reaches the server; other HTTP requests and plain TCP pass."""
    from xdpfw.detect.ruleset import build_detection

    det = build_detection([parse_rule('drop http any any -> any any (msg:"bad uri"; http.uri; '
                                      'content:"/cgi-bin/evil.sh"; endswith; sid:9000300;)')], kernel_acl=False)
    assert not det.problems, det.problems
    cfg = ApplianceConfig(lab.side_a, lab.side_b, engine_factory=det.engine_factory(flow_capacity=4096, stream_pool=1024))
    app = call_in_netns(lab.fw_ns, lambda: (lambda a: (a.start(), a)[1])(Appliance(cfg)))
    try:
        ok = tcp_transfer(lab, lab.client.ns, lab.server.ns, lab.server.ip, 1 << 20, port=7021,
                          prefix="GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n")
        assert ok.ok, ok.detail
        bad = tcp_transfer(lab, lab.client.ns, lab.server.ns, lab.server.ip, 1 << 20, port=7022, timeout=4,
                           prefix="GET /cgi-bin/evil.sh HTTP/1.1\r\nHost: x\r\n\r\n")
        assert not bad.ok and bad.bytes == 0
        eng = app.engines()[0]
        recs = eng.drain_alerts()
        assert recs and {(r["rule"].sid, r["app_proto"], r["blocked"]) for r in recs} == {(9000300, "http", True)}
        assert eng.counters()["app_detected"] >= 2
    finally:
        call_in_netns(lab.fw_ns, app.stop)
    assert all(acc["consistent"] for acc in app.final_accounting)
