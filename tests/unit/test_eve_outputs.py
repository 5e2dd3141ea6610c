"""The daemon's EVE outputs (files and unix sockets, by event type), its periodic stats
records, and its reload path (xdpfw/service/daemon.py, reload.py) with real engines whose "worker"
is a thread calling the between-batches hook. Every line written is schema-validated."""
from __future__ import annotations

import os
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from xdpfw.dataplane import shared
from xdpfw.dataplane.bpfload import AclTables
from xdpfw.service.config import Config, EveOutput
from xdpfw.service.daemon import Daemon
from xdpfw.service.eve import Stats, stats_counters
from xdpfw.service.metrics import FLOW_EVENT_LABELS, TCP_RESULT_LABELS
from xdpfw.service.outputs import EveOutputs
from xdpfw.service.reload import acl_union

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from eve_check import assert_eve_valid, check_eve  # noqa: E402
from tests.unit.test_engine import Tcp, _udp  # noqa: E402

ALERT = '{"timestamp":"2026-05-04T10:12:33.104512+0000","flow_id":1,"event_type":"alert","src_ip":"192.0.2.1","src_port":1,"dest_ip":"192.0.2.2","dest_port":2,"proto":"TCP","pkt_src":"wire/pcap","alert":{"action":"allowed","gid":1,"signature_id":1,"rev":1,"signature":"x","category":"","severity":3},"direction":"to_server"}'


def _listener(path: str, kind: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM if kind == "dgram" else socket.SOCK_STREAM)
    s.bind(path)
    if kind == "stream":
        s.listen(1)
    s.settimeout(2)
    return s


def test_outputs_route_each_event_type_to_the_outputs_that_want_it(tmp_path):
    dg, st = str(tmp_path / "dg.sock"), str(tmp_path / "st.sock")
    dl, sl = _listener(dg, "dgram"), _listener(st, "stream")
    outs = EveOutputs([EveOutput("regular", str(tmp_path / "all.json"), ("alert", "drop", "stats"), 1.0),
                       EveOutput("regular", str(tmp_path / "alerts.json"), ("alert",)),
                       EveOutput("unix_dgram", dg, ("stats",), 1.0),
                       EveOutput("unix_stream", st, ("alert", "stats"), 1.0)])
    conn, _ = sl.accept()
    stats = Stats(start_ns=0).format({"decoder.pkts": 5}, ts_ns=10**9)
    outs.write_event("alert", ALERT)
    outs.write_event("drop", ALERT.replace('"alert"', '"drop"', 1))  # routing only looks at the kind
    for w in outs.stats_due(time.monotonic() + 1.5):
        w.write(stats)
    outs.flush()
    assert [ln.count("event_type") for ln in (tmp_path / "all.json").read_text().splitlines()] == [1, 1, 1]
    assert len((tmp_path / "alerts.json").read_text().splitlines()) == 1
    assert dl.recv(65536).decode() == stats + "\n"
    got = b""
    while got.count(b"\n") < 2:
        got += conn.recv(65536)
    assert got.decode() == ALERT + "\n" + stats + "\n"
    assert check_eve(tmp_path / "alerts.json") == []
    assert outs.counters() == {"written": 7, "dropped": 0, "errors": 0}
    outs.close()
    conn.close()


def test_stats_interval_per_output(tmp_path):
    outs = EveOutputs([EveOutput("regular", str(tmp_path / "a.json"), ("stats",), 2.0),
                       EveOutput("regular", str(tmp_path / "b.json"), ("stats",), 5.0),
                       EveOutput("regular", str(tmp_path / "c.json"), ("alert",), 0.1)])
    t0 = time.monotonic()
    assert outs.stats_due(t0) == []
    assert [w.path for w in outs.stats_due(t0 + 2.1)] == [str(tmp_path / "a.json")]
    assert outs.stats_due(t0 + 2.2) == []
    assert len(outs.stats_due(t0 + 5.1)) == 2
    assert outs.wants_stats()
    outs.close()


def test_no_output_configured_means_alerts_and_drops_on_stdout(capsys):
    outs = EveOutputs([], stdout=sys.stdout)
    outs.write_event("alert", ALERT)
    outs.write_event("stats", "{}")
    assert capsys.readouterr().out == ALERT + "\n"
    assert not outs.wants_stats()


def test_file_output_reopens_after_rotation_and_on_request(tmp_path):
    path = tmp_path / "eve.json"
    outs = EveOutputs([EveOutput("regular", str(path), ("alert",))])
    (_, w), = outs.outputs
    w.check_interval = 0.0
    w._next_check = 0.0  # check the path on every write
    outs.write_event("alert", ALERT)
    path.rename(tmp_path / "eve.json.1")  # logrotate, `create`
    path.touch()
    outs.write_event("alert", ALERT)
    outs.request_reopen()                  # SIGHUP
    outs.write_event("alert", ALERT)
    assert len((tmp_path / "eve.json.1").read_text().splitlines()) == 1
    assert len(path.read_text().splitlines()) == 2 and w.reopens == 2
    assert_eve_valid(path, min_lines=2)
    outs.close()


def test_an_output_that_cannot_open_fails_start(tmp_path):
    with pytest.raises(OSError):
        EveOutputs([EveOutput("regular", str(tmp_path / "no" / "dir" / "eve.json"), ("alert",))])


# -- stats records from real counters ---------------------------------------------------------

class FakeAppliance:
    """What Daemon.stats_line and the reload path read from an Appliance, with real engines
    and no kernel: XDP, worker and socket counters as the C structs report them."""

    def __init__(self, engines, if_a="a0", if_b="b0"):
        self._engines = engines
        self.if_a, self.if_b = if_a, if_b
        self.acl = AclTables.empty()
        self.prog = None
        nr = len(shared.DROP_REASON_LABELS)
        drops = [[0] * nr, [0] * nr]
        drops[0][shared.DROP_REASON_LABELS.index("rule")] = 2
        drops[1][shared.DROP_REASON_LABELS.index("ring_full")] = 1
        self.workers = [{"rx_packets": [10, 7], "rx_bytes": [1000, 700], "fwd_packets": [8, 6],
                         "fwd_bytes": [800, 600], "drop_packets": drops, "replies": [1, 0]}]
        na = len(shared.XDP_ACTION_LABELS)
        self.xdp = [[(0, 0)] * na, [(0, 0)] * na]
        self.xdp[0][shared.XdpAction.TO_WORKER] = (10, 1000)
        self.xdp[0][shared.XdpAction.ACL_DROP] = (4, 400)
        self.xdp[1][shared.XdpAction.TO_WORKER] = (7, 700)

    def engines(self):
        return list(self._engines)

    def xdp_counters(self):
        return self.xdp

    def worker_counters(self):
        return [(0, w) for w in self.workers]

    def xsk_statistics(self):
        return [[{"rx_dropped": 1, "rx_ring_full": 2}, {"rx_dropped": 0, "rx_ring_full": 0}]]


RULES = 'drop tcp any any -> any 80 (msg:"old"; content:"OLDBAD"; sid:1;)\n'


def _daemon(tmp_path, rules_text=RULES, eve_types=("alert", "drop", "stats")):
    rules = tmp_path / "local.rules"
    rules.write_text(rules_text)
    cfg = Config(path=str(tmp_path / "x.yaml"), inline=("a0", "b0"), rule_files=[str(rules)],
                 eve=[EveOutput("regular", str(tmp_path / "eve.json"), eve_types, 1.0)], flow_capacity=256)
    d = Daemon(cfg)
    d.det = d.load()
    eng = d._engine_factory(d.det)()
    d.app = FakeAppliance([eng])
    d.outputs = EveOutputs(cfg.eve)
    from xdpfw.service.alerts import AlertSink
    from xdpfw.service.metrics import ControlStats

    d.sink = AlertSink(d.det.tables.rules, lambda line: None, write_event=d.outputs.write_event,
                       in_iface=lambda side: ("a0", "b0")[side], classifications=d.det.classifications)
    d.control = ControlStats(sink=d.sink)
    return d, eng, rules


def test_stats_record_maps_our_counters_onto_suricata_names(tmp_path):
    d, eng, _ = _daemon(tmp_path)
    c = Tcp(eng)
    c.handshake()
    c.c(b"xx OLDBAD")
    eng.inspect_frame(_udp(), 0, 5)
    d._drain()
    line = d.stats_line(Stats(start_ns=time.time_ns() - 3 * 10**9))
    (ev,) = assert_eve_valid([line])
    s = ev["stats"]
    assert s["uptime"] == 3
    assert s["capture"] == {"kernel_packets": 21, "kernel_drops": 3}
    assert s["decoder"]["pkts"] == 5 and s["decoder"]["bytes"] == 1700 and s["decoder"]["invalid"] == 0
    assert s["flow"]["total"] == 2 and s["flow"]["active"] == 2 and s["flow"]["memcap"] == 0
    assert s["tcp"] == {"midstream_pickups": 0, "reassembly_gap": 0}
    assert s["detect"]["alert"] == 1 and s["detect"]["alert_queue_overflow"] == 0
    assert s["detect"]["engines"] == [{"id": 0, "last_reload": s["detect"]["engines"][0]["last_reload"],
                                       "rules_loaded": 1, "rules_failed": 0, "rules_skipped": 0}]
    assert s["ips"] == {"accepted": 14, "blocked": 3, "rejected": 1}
    assert s["xdpfw"]["dropped"]["rule"] == 2 and s["xdpfw"]["dropped"]["ring_full"] == 1
    assert s["xdpfw"]["dropped"]["acl"] == 4 and s["xdpfw"]["dropped"]["fail_mode"] == 0
    assert s["xdpfw"]["tcp"]["in_order"] >= 1
    assert s["xdpfw"]["eve"] == {"written": 2, "dropped": 0, "errors": 0}  # the alert and its drop
    d.outputs.close()
    assert_eve_valid(tmp_path / "eve.json", min_lines=2)


def test_stats_counters_without_engines_or_kernel():
    out = dict(stats_counters(workers=[{"rx_packets": [3, 4], "rx_bytes": [30, 40], "fwd_packets": [3, 4],
                                        "drop_packets": [[0], [0]]}], drop_reason_labels=["rule"]))
    assert out["decoder.pkts"] == 7 and out["ips.accepted"] == 7 and "flow.total" not in out
    assert out["capture.kernel_packets"] == 0 and out["xdpfw.dropped.rule"] == 0
    assert check_eve([Stats(start_ns=0).format(out, ts_ns=0)]) == []


# -- the reload path ----------------------------------------------------------------------------

def _worker(engines):
    """A thread swapping staged sets in, as the worker loop does between batches."""
    stop = threading.Event()

    def loop():
        while not stop.wait(0.005):
            for e in engines:
                e.apply_staged()

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    return stop, t


def test_reload_swaps_a_new_set_in_and_alerts_name_the_right_rules(tmp_path):
    d, eng, rules = _daemon(tmp_path)
    stop, t = _worker([eng])
    try:
        c = Tcp(eng)
        c.handshake()
        c.c(b"OLDBAD")                                  # alert from generation 0, still queued
        rules.write_text('drop tcp any any -> any 80 (msg:"new"; content:"NEWBAD"; sid:2;)\n'
                         'drop ip 198.18.0.66 any -> any any (msg:"acl"; sid:3;)\n')
        res = d.reload()
        assert res.ok and res.generation == 1 and (res.rules, res.rules_in_kernel, res.rules_in_engine) == (2, 1, 1)
        assert eng.rules_generation == 1 and "2 rules successfully loaded" in res.summary
        assert d.app.acl.flags() == d.det.acl.flags() and len(d.app.acl) == 1
        c2 = Tcp(eng, sport=40200)
        c2.handshake()
        c2.c(b"NEWBAD")
        d._drain()
    finally:
        stop.set()
        t.join()
    d.outputs.close()
    events = assert_eve_valid(tmp_path / "eve.json", min_lines=4)
    assert [(e["event_type"], e["alert"]["signature"]) for e in events] == \
        [("alert", "old"), ("drop", "old"), ("alert", "new"), ("drop", "new")]
    assert d.control.reloads == 1 and d.control.reload_failures == 0 and d.control.rules_kernel == 1


def test_reload_skips_alert_rules_it_cannot_run_and_reports_them(tmp_path, caplog):
    d, eng, rules = _daemon(tmp_path)
    stop, t = _worker([eng])
    try:
        rules.write_text('drop tcp any any -> any 80 (msg:"a"; content:"x"; sid:5;)\n'
                         'alert tcp any any -> any any (msg:"b"; conten:"y"; sid:6;)\n'
                         'alert http any any -> any any (msg:"c"; content:"q"; http.uri; content:"/z"; sid:7;)\n')
        with caplog.at_level("WARNING", logger="xdpfw"):
            res = d.reload()
    finally:
        stop.set()
        t.join()
    assert res.ok and res.generation == 1 and res.counts == {"loaded": 1, "skipped": 2, "failed": 0}
    assert "1 rules successfully loaded, 0 rules failed, 2 rules skipped" in res.summary
    msg = res.message()
    assert msg["rules"] == 1 and msg["rules_skipped"] == 2 and msg["rules_failed"] == 0
    assert res.skipped[0].startswith(f"{rules}:2:") and "'conten'" in res.skipped[0]
    assert res.skipped[1].startswith(f"{rules}:3:") and "sid:7" in res.skipped[1]
    stats = d._cmd_ruleset_stats({})[1]
    assert (stats["rules_loaded"], stats["rules_skipped"], stats["rules_failed"]) == (1, 2, 0)
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(f"{rules}:3: warning: sid:7" in w for w in warned), warned
    assert any("2 rule(s) not running (2 skipped, 0 failed); 1 loaded" in w for w in warned), warned
    d.outputs.close()


def test_failed_reload_keeps_the_running_set_and_reports_every_error(tmp_path):
    d, eng, rules = _daemon(tmp_path)
    before = d.det
    rules.write_text('drop tcp any any -> any 80 (msg:"a"; content:"x"; sid:5;)\n'
                     'drop tcp any any -> any any (msg:"b"; conten:"y"; sid:6;)\n'
                     'drop http any any -> any any (msg:"c"; content:"q"; http.uri; content:"/z"; sid:7;)\n'
                     'alert http any any -> any any (msg:"d"; content:"q"; http.uri; content:"/z"; sid:8;)\n')
    res = d.reload()
    assert not res.ok and res.generation == 0 and d.det is before and eng.rules_generation == 0
    assert len(res.errors) == 3, res.errors
    assert res.errors[0].startswith(f"{rules}:2:") and "'conten'" in res.errors[0]
    assert res.errors[1].startswith(f"{rules}:3:") and "sid:7" in res.errors[1]
    assert res.errors[2].startswith(f"{rules}:4:") and "sid:8" in res.errors[2]   # reported too
    assert "1 rules skipped" in res.summary and "2 rule(s) that must run exactly" in res.summary
    assert "nothing loaded" in res.summary
    msg = res.message()
    assert msg["errors"] == res.errors and "rules" not in msg
    assert d.control.reloads == 1 and d.control.reload_failures == 1 and not d.control.last_reload_success
    rules.unlink()
    res = d.reload()
    assert not res.ok and any("local.rules" in e for e in res.errors)
    d.outputs.close()


def test_reload_waits_for_every_worker_or_reports_the_stuck_one(tmp_path):
    d, eng, rules = _daemon(tmp_path)
    d.SWAP_TIMEOUT = 0.2
    rules.write_text(RULES.replace("OLDBAD", "OTHER"))
    res = d.reload()  # nobody runs the worker loop
    assert not res.ok and "did not swap the new rule set in" in res.errors[0]
    res = d.reload()  # the previous set is still pending in that engine
    assert not res.ok and "pending" in res.errors[0]
    eng.apply_staged()  # the worker turns at last
    res = d.reload()
    assert not res.ok  # staged again, nobody swaps
    d.outputs.close()


def test_reload_requests_are_served_by_the_reload_thread(tmp_path):
    d, eng, rules = _daemon(tmp_path)
    stop, t = _worker([eng])
    rt = threading.Thread(target=d._reloader, daemon=True)
    rt.start()
    try:
        d.request_reload()                     # a signal: does not wait
        res = d.request_reload(wait=True, timeout=30)
        assert res is not None and res.ok
        assert d.generation in (1, 2) and eng.rules_generation == d.generation
        ok, msg = d._cmd_reload({"command": "reload"})
        assert ok and msg["generation"] == d.generation
        ok, st = d._cmd_ruleset_stats({})
        assert ok and st["generation"] == d.generation and st["engine_generations"] == [d.generation]
        assert st["last_reload"]["ok"] is True and st["rules_in_engine"] == 1
    finally:
        d._stop.set()
        rt.join(5)
        stop.set()
        t.join()
        d.outputs.close()
    assert not rt.is_alive()


def test_acl_union_keeps_every_entry_of_both_sets_and_refolds():
    import ipaddress as ip

    n = ip.ip_network
    old = AclTables({n("10.0.0.0/8"): 1}, {}, {22: 1}, {})
    new = AclTables({n("10.1.0.0/16"): 2, n("10.0.0.0/8"): 4}, {}, {22: 2}, {80: 1})
    u = acl_union(old, new)
    assert u.src == {n("10.0.0.0/8"): 5, n("10.1.0.0/16"): 7}
    assert u.sport == {22: 3} and u.dport == {80: 1}
    assert u.flags() == old.flags() | new.flags()


def test_eve_output_counters_are_exported_as_metrics(tmp_path):
    from prometheus_client import CollectorRegistry

    from xdpfw.service.metrics import ApplianceCollector

    d, eng, _ = _daemon(tmp_path)
    d.control.eve_outputs = d.outputs
    d.outputs.write_event("alert", ALERT)
    d.outputs.write_event("stats", "{}")  # this output takes stats too
    (_, w), = d.outputs.outputs
    os.close(w._fd)  # the next write fails (EBADF): counted, never raised
    w._fd = 10**6
    d.outputs.write_event("alert", ALERT)
    reg = CollectorRegistry(auto_describe=False)
    reg.register(ApplianceCollector(d.app, d.control))
    assert reg.get_sample_value("xdpfw_eve_lines_written_total") == 2
    assert reg.get_sample_value("xdpfw_eve_lines_dropped_total") == 1
    assert reg.get_sample_value("xdpfw_eve_write_errors_total") >= 1


def test_reload_cli_answer_warns_when_rules_are_not_running():
    from xdpfw.service.ctl import format_reload

    base = {"generation": 3, "rules": 5, "rules_in_kernel": 1, "rules_in_engine": 4, "seconds": 0.1,
            "summary": "1 rule files processed. 5 rules successfully loaded, 1 rules failed, 2 rules skipped"}
    out, err = format_reload(True, base | {"rules_skipped": 2, "rules_failed": 1})
    assert out.startswith("reload OK: generation 3, 5 rules") and "2 rules skipped" in out
    assert "3 alert rule(s) not running (2 skipped, 1 failed)" in err
    assert format_reload(True, base | {"rules_skipped": 0, "rules_failed": 0})[1] == ""
