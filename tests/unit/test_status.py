"""The metrics collector (over a fake appliance), the catalogue in docs/OPERATIONS.md, and
`xdpfw status` against a fake metrics endpoint."""
from __future__ import annotations

import io
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest

from metrics_fake import FakeAppliance, exported_metric_names, exposition, registry
from xdpfw.tools import status as S
from xdpfw.service.metrics import ControlStats

ROOT = Path(__file__).resolve().parents[2]


# -- the collector -------------------------------------------------------------------------

def test_batch_histogram_is_cumulative_in_seconds():
    from xdpfw._fast.xsk import BATCH_NS_BOUNDS

    buckets = [0] * (len(BATCH_NS_BOUNDS) + 1)
    buckets[0], buckets[2], buckets[-1] = 3, 5, 1          # <=1us: 3, (2us,5us]: 5, > last bound: 1
    reg = registry(FakeAppliance(batch_buckets=buckets, batch_sum_ns=40_000_000))
    get = reg.get_sample_value
    assert get("xdpfw_batch_duration_seconds_bucket", {"queue": "0", "le": "1e-06"}) == 3
    assert get("xdpfw_batch_duration_seconds_bucket", {"queue": "0", "le": "2e-06"}) == 3
    assert get("xdpfw_batch_duration_seconds_bucket", {"queue": "0", "le": "5e-06"}) == 8
    assert get("xdpfw_batch_duration_seconds_bucket", {"queue": "0", "le": "0.02"}) == 8
    assert get("xdpfw_batch_duration_seconds_bucket", {"queue": "0", "le": "+Inf"}) == 9
    assert get("xdpfw_batch_duration_seconds_count", {"queue": "0"}) == 9
    assert get("xdpfw_batch_duration_seconds_sum", {"queue": "0"}) == pytest.approx(0.04)
    assert get("xdpfw_worker_batches_total", {"queue": "0"}) == 9


def test_drops_merge_xdp_and_worker_reasons_and_every_reason_exists():
    from xdpfw.dataplane import shared

    xdp = [[(0, 0)] * len(shared.XDP_ACTION_LABELS) for _ in range(2)]
    xdp[0][shared.XdpAction.ACL_DROP] = (7, 700)
    xdp[1][shared.XdpAction.FAIL_CLOSED] = (2, 200)
    reg = registry(FakeAppliance(xdp=xdp, drops={(0, "rule"): 4, (1, "ring_full"): 3}))
    get = reg.get_sample_value
    assert get("xdpfw_dropped_packets_total", {"device": "a0", "reason": "acl"}) == 7
    assert get("xdpfw_dropped_packets_total", {"device": "b0", "reason": "fail_mode"}) == 2
    assert get("xdpfw_dropped_packets_total", {"device": "a0", "reason": "rule"}) == 4
    assert get("xdpfw_dropped_packets_total", {"device": "b0", "reason": "ring_full"}) == 3
    assert get("xdpfw_dropped_bytes_total", {"device": "a0", "reason": "acl"}) == 700
    for dev in ("a0", "b0"):
        for reason in shared.DROP_REASON_LABELS:
            assert get("xdpfw_dropped_packets_total", {"device": dev, "reason": reason}) is not None


def test_control_stats_rules_alerts_and_reloads():
    det = SimpleNamespace(summary="2 rule files processed. 12 rules successfully loaded, 0 rules failed, "
                                  "0 rules skipped", in_kernel=[1, 2, 3], engine_rules=9)
    sink = SimpleNamespace(alerts=10, blocked=4)
    c = ControlStats(sink=sink)
    c.set_detection(det)
    get = registry(control=c).get_sample_value
    assert get("xdpfw_rules_loaded") == 12 and get("xdpfw_rules_failed") == 0
    assert get("xdpfw_rules_placed", {"placement": "kernel_acl"}) == 3
    assert get("xdpfw_rules_placed", {"placement": "engine"}) == 9
    assert get("xdpfw_alerts_total", {"action": "allowed"}) == 6
    assert get("xdpfw_alerts_total", {"action": "blocked"}) == 4
    assert get("xdpfw_ruleset_reloads_total") == 0 and get("xdpfw_ruleset_last_reload_success") == 1
    c.reload_done(False, when=1000.0)
    det2 = SimpleNamespace(summary="1 rule files processed. 5 rules successfully loaded, 0 rules failed, "
                                   "0 rules skipped", in_kernel=[], engine_rules=5)
    get = registry(control=c).get_sample_value
    assert get("xdpfw_ruleset_reloads_total") == 1 and get("xdpfw_ruleset_reload_failures_total") == 1
    assert get("xdpfw_ruleset_last_reload_success") == 0
    assert get("xdpfw_ruleset_last_reload_timestamp_seconds") == 1000.0
    assert get("xdpfw_rules_loaded") == 12          # a failed reload keeps the running set's counts
    c.reload_done(True, det2, when=2000.0)
    get = registry(control=c).get_sample_value
    assert get("xdpfw_ruleset_reloads_total") == 2 and get("xdpfw_ruleset_reload_failures_total") == 1
    assert get("xdpfw_ruleset_last_reload_success") == 1 and get("xdpfw_rules_loaded") == 5


def test_rules_by_state_metric_from_a_set_with_skipped_rules(tmp_path):
    """xdpfw_rules{state} counts what load_detection decided: the set check reports."""
    from xdpfw.detect.ruleset import load_detection

    f = tmp_path / "r.rules"
    f.write_text('alert tcp any any -> any any (msg:"ok"; content:"a"; sid:1;)\n'
                 'alert tcp any any -> any any (msg:"br"; pcre:"/(a)\\1/"; sid:2;)\n'
                 'alert tcp any any -> any any (msg:"lua"; luajit:x.lua; sid:3;)\n'
                 'alert tcp any any -> any any (msg:"bad"; content:; sid:4;)\n')
    det = load_detection([str(f)], [], kernel_acl=True)
    assert det.counts() == {"loaded": 1, "skipped": 2, "failed": 1}
    assert det.skipped[0].startswith(f"{f}:2:") and det.skipped[1].startswith(f"{f}:3:")  # file order
    c = ControlStats()
    c.set_detection(det)
    text = exposition(control=c)
    get = registry(control=c).get_sample_value
    assert get("xdpfw_rules", {"state": "loaded"}) == 1
    assert get("xdpfw_rules", {"state": "skipped"}) == 2 and get("xdpfw_rules_skipped") == 2
    assert get("xdpfw_rules", {"state": "failed"}) == 1 and get("xdpfw_rules_failed") == 1
    b = S.Snapshot.parse(text, 1.0)
    assert "NOT RUNNING 3: 2 skipped, 1 failed" in S._not_running(b)
    assert S._not_running(S.Snapshot.parse(exposition(control=ControlStats()), 1.0)) == ""


def test_alert_sink_counts_blocked_as_eve_alert_action():
    """AlertSink.blocked follows EVE alert.action: drop rules in IPS and rejects are
    "blocked", an alert rule is "allowed" even when another rule dropped the packet."""
    from xdpfw.service.alerts import AlertSink
    from xdpfw.rules import parse_rule

    rules = [parse_rule('alert tcp any any -> any any (msg:"a"; sid:1;)'),
             parse_rule('drop tcp any any -> any any (msg:"d"; sid:2;)'),
             parse_rule('reject tcp any any -> any any (msg:"r"; sid:3;)')]
    rec = dict(ts_ns=1_700_000_000_000_000_000, ip_version=4, src=bytes(10) + b"\xff\xff" + bytes([198, 18, 0, 1]),
               dst=bytes(10) + b"\xff\xff" + bytes([198, 18, 0, 2]), proto=6, sport=1234, dport=80, side=0,
               pkt_num=0, flow_id=1, direction="to_server", flow_pkts=(1, 0), flow_bytes=(60, 0), flow_start_ns=0,
               blocked=True)

    class Eng:
        def drain_alerts(self, **kw):
            return [dict(rec, sig=i, action=a) for i, a in enumerate(("alert", "drop", "reject"))]

    lines = []
    sink = AlertSink(rules, lines.append, ips=True)
    assert sink.drain(Eng()) == 3
    assert sink.alerts == 3 and sink.blocked == 2
    actions = [re.search(r'"action":"(\w+)"', x).group(1) for x in lines if '"event_type":"alert"' in x]
    assert actions == ["allowed", "blocked", "blocked"]
    c = ControlStats(sink=sink)
    assert c.alerts_by_action() == {"allowed": 1, "blocked": 2}


def test_xdp_attached_compares_the_kernel_program_id(tmp_path, monkeypatch):
    import xdpfw.service.metrics as M

    monkeypatch.setattr(M, "our_prog_id", lambda app: 41)
    reg = registry(attach=lambda devs: {"a0": 41, "b0": 77})   # b0: someone else's program
    assert reg.get_sample_value("xdpfw_xdp_attached", {"device": "a0"}) == 1
    assert reg.get_sample_value("xdpfw_xdp_attached", {"device": "b0"}) == 0
    reg = registry(attach=lambda devs: {"a0": 0, "b0": 41})    # a0: nothing attached
    assert reg.get_sample_value("xdpfw_xdp_attached", {"device": "a0"}) == 0
    assert reg.get_sample_value("xdpfw_xdp_attached", {"device": "b0"}) == 1


def test_our_prog_id_reads_fdinfo():
    import os

    from xdpfw.service.metrics import our_prog_id

    assert our_prog_id(FakeAppliance()) is None                 # no program
    r, w = os.pipe()
    try:
        app = SimpleNamespace(prog=SimpleNamespace(fn=SimpleNamespace(fd=r)))
        assert our_prog_id(app) is None                          # an fd, but not a BPF program's
    finally:
        os.close(r)
        os.close(w)


def test_xdp_attached_needs_the_kernel_to_agree():
    reg = registry(attach=lambda devs: {"a0": True, "b0": False})
    assert reg.get_sample_value("xdpfw_xdp_attached", {"device": "a0"}) == 1
    assert reg.get_sample_value("xdpfw_xdp_attached", {"device": "b0"}) == 0
    reg = registry(FakeAppliance(attached=False), attach=lambda devs: {d: True for d in devs})
    assert reg.get_sample_value("xdpfw_xdp_attached", {"device": "a0"}) == 0


def test_a_failing_section_is_reported_and_the_rest_served():
    class Broken(FakeAppliance):
        def xsk_statistics(self):
            raise OSError(9, "Bad file descriptor")
    reg = registry(Broken(rx=(5, 6)))
    get = reg.get_sample_value
    assert get("xdpfw_scrape_collector_success", {"collector": "xsk"}) == 0
    assert get("xdpfw_scrape_collector_success", {"collector": "workers"}) == 1
    assert get("xdpfw_xsk_rx_dropped_total", {"device": "a0"}) is None
    assert get("xdpfw_received_packets_total", {"device": "b0"}) == 6


def test_engine_section_without_engines_exports_zeros():
    get = registry().get_sample_value
    assert get("xdpfw_inspected_packets_total") == 0
    assert get("xdpfw_flow_table_entries_max") == 0
    assert get("xdpfw_ip_fragment_events_total", {"event": "overlap"}) == 0


def test_labels_are_bounded():
    """No label takes a value outside its closed set (never an address, port or SID)."""
    from xdpfw.dataplane import shared
    from xdpfw.service.metrics import (APP_PROTO_LABELS, COLLECTORS, DECODE_EVENT_LABELS, FLOW_EVENT_LABELS,
                                       FRAG_EVENTS, TCP_RESULT_LABELS)
    from xdpfw.detect.cache import KINDS as CACHE_KINDS
    from xdpfw.detect.cache import STAT_NAMES as CACHE_EVENTS

    allowed = {
        "device": {"a0", "b0"}, "reason": set(shared.DROP_REASON_LABELS), "action": set(shared.XDP_ACTION_LABELS)
        | {"allowed", "blocked"}, "event": set(FLOW_EVENT_LABELS) | set(FRAG_EVENTS.values())
        | set(DECODE_EVENT_LABELS) | set(CACHE_EVENTS), "proto": set(APP_PROTO_LABELS), "kind": set(CACHE_KINDS),
        "result": set(TCP_RESULT_LABELS), "place": {"free", "fill", "tx"}, "mode": {"open", "closed"},
        "placement": {"kernel_acl", "engine"}, "state": {"loaded", "skipped", "failed"}, "collector": set(COLLECTORS), "queue": {"0"},
        "le": None, "version": None, "bcc_version": None, "kernel": None,
    }
    for fam in registry().collect():
        for s in fam.samples:
            for k, v in s.labels.items():
                assert k in allowed, (s.name, k)
                if allowed[k] is not None:
                    assert v in allowed[k], (s.name, k, v)


# -- the catalogue ---------------------------------------------------------------------------

def _doc_catalogue() -> dict[str, str]:
    text = (ROOT / "docs" / "OPERATIONS.md").read_text()
    section = text.split("### Catalogue", 1)[1].split("\n## ", 1)[0]
    out = {}
    for line in section.splitlines():
        m = re.match(r"\| `(xdpfw_\w+)` \| (\w+) \|", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def test_docs_catalogue_matches_the_exported_metrics():
    doc = _doc_catalogue()
    exported = exported_metric_names()
    assert set(doc) == exported, (f"undocumented: {sorted(exported - set(doc))}; "
                                  f"documented but not exported: {sorted(set(doc) - exported)}")
    types = {}
    for line in exposition().splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split()
            types[name] = typ
    for name, typ in doc.items():
        assert types[name] == typ, name


# -- xdpfw status ------------------------------------------------------------------------------

class _Endpoint:
    """A fake metrics endpoint serving whatever text `self.text` holds."""

    def __init__(self):
        self.text = ""
        self.hits = 0
        ep = self

        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                ep.hits += 1
                body = ep.text() if callable(ep.text) else ep.text
                body = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_port}/metrics"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint():
    ep = _Endpoint()
    yield ep
    ep.close()


def test_status_once_against_a_fake_endpoint(endpoint):
    from xdpfw._fast.xsk import BATCH_NS_BOUNDS

    state = {"n": 0}
    c = ControlStats(sink=SimpleNamespace(alerts=3, blocked=1), rules_loaded=3, rules_kernel=2, rules_engine=1)

    def text():
        # Each scrape: +1000 frames received and +990 forwarded on a0, +10 rule drops.
        state["n"] += 1
        n = state["n"]
        buckets = [0] * (len(BATCH_NS_BOUNDS) + 1)
        buckets[3] = 100 * n                       # all batches in (5us, 10us]
        app = FakeAppliance(rx=(1000 * n, 500 * n), fwd=(990 * n, 500 * n), drops={(0, "rule"): 10 * n},
                            batch_buckets=buckets, batch_sum_ns=100 * n * 8000)
        return exposition(app, c)

    endpoint.text = text
    out = io.StringIO()
    args = SimpleNamespace(metrics=endpoint.url, interval=0.5, once=True)
    assert S.run(args, out) == 0
    screen = out.getvalue()
    assert endpoint.hits == 2
    rows = {line.split()[0]: line.split() for line in screen.splitlines() if line.startswith(("a0", "b0"))}
    assert rows["a0"][1] == "attached"
    # ~1000 frames in ~0.5 s on a0: about 2k frames/s; totals from the second scrape
    rate = float(rows["a0"][2].rstrip("k")) * (1000 if rows["a0"][2].endswith("k") else 1)
    assert 1200 < rate < 2200, screen
    assert rows["a0"][7] == "2.0k" and rows["a0"][8] == "2.0k"    # 2000 received, 1980 forwarded
    assert rows["b0"][7] == "1.0k" and rows["b0"][-1] == "0"
    assert rows["a0"][-1] == "20", screen                   # 2 scrapes x 10 rule drops
    assert "drops by reason: rule 20" in screen
    assert "alerts: allowed 2" in screen and "blocked 1" in screen
    assert "rules 3 (kernel 2, engine 1)" in screen
    assert "batch time: p50" in screen and "us" in screen
    p50 = float(re.search(r"p50 (\d+) us", screen).group(1))
    assert 5 <= p50 <= 10                                    # inside the (5us, 10us] bucket
    assert "FAIL MODE" not in screen


def test_status_shows_fail_mode_and_detached(endpoint):
    from xdpfw.dataplane import shared

    state = {"n": 0}

    def text():
        state["n"] += 1
        xdp = [[(0, 0)] * len(shared.XDP_ACTION_LABELS) for _ in range(2)]
        xdp[0][shared.XdpAction.FAIL_OPEN] = (500 * state["n"], 0)
        return exposition(FakeAppliance(xdp=xdp), attach=lambda devs: {"a0": False, "b0": True})

    endpoint.text = text
    out = io.StringIO()
    assert S.run(SimpleNamespace(metrics=endpoint.url, interval=0.2, once=True), out) == 0
    screen = out.getvalue()
    assert re.search(r"^a0\s+DETACHED", screen, re.M) and re.search(r"^b0\s+attached", screen, re.M)
    assert "FAIL MODE ENGAGED: fail_open" in screen


def test_status_unreachable_endpoint_is_a_clear_error(capsys):
    assert S.run(SimpleNamespace(metrics="127.0.0.1:1", interval=0.1, once=True), io.StringIO()) == 1
    err = capsys.readouterr().err
    assert "cannot read http://127.0.0.1:1/metrics" in err and "is xdpfw running" in err


def test_status_garbage_endpoint_is_a_clear_error(endpoint, capsys):
    endpoint.text = "this is { not prometheus\n"
    assert S.run(SimpleNamespace(metrics=endpoint.url, interval=0.1, once=True), io.StringIO()) == 1
    assert "cannot parse the metrics" in capsys.readouterr().err


def test_status_counter_reset_counts_from_zero():
    a = S.Snapshot.parse('xdpfw_received_packets_total{device="a0"} 5000\n', 0.0)
    b = S.Snapshot.parse('xdpfw_received_packets_total{device="a0"} 100\n', 1.0)
    assert S._rate(a, b, "xdpfw_received_packets_total", device="a0") == 100


def test_quantile_interpolates_like_promql():
    buckets = [(0.001, 50.0), (0.002, 100.0), (float("inf"), 100.0)]
    assert S._quantile(0.5, buckets) == pytest.approx(0.001)
    assert S._quantile(0.75, buckets) == pytest.approx(0.0015)
    assert S._quantile(0.5, [(float("inf"), 0.0)]) is None


def test_concurrent_scrapes_do_not_mix_drop_totals():
    """The endpoint serves scrapes from several threads; each sees consistent totals."""
    from prometheus_client import generate_latest

    reg = registry(FakeAppliance(drops={(0, "rule"): 4}))
    results, errors = [], []

    def scrape():
        try:
            for _ in range(30):
                text = generate_latest(reg).decode()
                results.append(re.search(r'xdpfw_dropped_packets_total\{device="a0",reason="rule"\} (\S+)', text).group(1))
        except Exception as e:  # noqa: BLE001
            errors.append(e)
    import sys

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)          # switch threads often: without the lock this mixes totals
    try:
        threads = [threading.Thread(target=scrape) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert not errors and len(results) == 120 and set(results) == {"4.0"}
