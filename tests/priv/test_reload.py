"""Live rule reload of a running `xdpfw run -c FILE` in the namespace lab, under traffic.

A numbered UDP stream crosses the appliance while the rules are reloaded several times
(control socket and both signals): every datagram arrives (sent == received, and the
workers forwarded every frame they took, with no drop and no accounting error); the
new rules take effect (a TCP payload the new set drops no longer gets through, the one
only the old set dropped does, a kernel ACL rule moves in); a broken rule file is
refused with path:line and the keyword while the running set keeps working; the
reload metrics and the EVE output (alert, drop, stats; schema-validated) follow.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from xdpfw.tools.lab import ApplianceProcess, metric, ping, tcp_transfer
from xdpfw.tools.netns import popen_in

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from eve_check import assert_eve_valid  # noqa: E402

pytestmark = pytest.mark.priv

OLD = "OLD-PATTERN-1234"
NEW = "NEW-PATTERN-5678"
ACL_HOST = "198.18.0.77"

RULES_V1 = f"""\
drop tcp any any -> any any (msg:"old payload"; content:"{OLD}"; sid:1000001; rev:1;)
alert udp any any -> any 9 (msg:"udp discard"; content:"never-sent"; sid:1000002; rev:1;)
"""
RULES_V2 = f"""\
drop tcp any any -> any any (msg:"new payload"; content:"{NEW}"; sid:1000003; rev:1;)
alert udp any any -> any 9 (msg:"udp discard"; content:"never-sent"; sid:1000002; rev:1;)
drop ip {ACL_HOST} any -> any any (msg:"blocked host"; sid:1000004; rev:1;)
"""
# line 3 carries a keyword xdpfw does not know in an alert rule: left out and reported
RULES_SKIP = f"""\
drop tcp any any -> any any (msg:"new payload"; content:"{NEW}"; sid:1000003; rev:1;)
alert udp any any -> any 9 (msg:"udp discard"; content:"never-sent"; sid:1000002; rev:1;)
alert tcp any any -> any any (msg:"typo"; conten:"zzz"; sid:1000005; rev:1;)
drop ip {ACL_HOST} any -> any any (msg:"blocked host"; sid:1000004; rev:1;)
"""
# ... in a drop rule: the whole reload must be refused (an IPS never silently does not drop)
RULES_BROKEN = RULES_SKIP.replace("alert tcp any any -> any any (msg:\"typo\"", "drop tcp any any -> any any (msg:\"typo\"")

UDP_RECV = textwrap.dedent("""
    import json, socket, sys, time
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind(("0.0.0.0", int(sys.argv[1])))
    s.settimeout(float(sys.argv[2]))
    print(json.dumps({"listening": True}), flush=True)
    seen = set()
    try:
        while True:
            data = s.recv(2048)
            if data == b"END":
                break
            seen.add(int(data[:10]))
    except socket.timeout:
        pass
    print(json.dumps({"received": len(seen), "max": max(seen) if seen else -1}), flush=True)
""")

UDP_SEND = textwrap.dedent("""
    import json, socket, sys, time
    host, port, pps, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    n = int(pps * seconds)
    t0 = time.monotonic()
    for i in range(n):
        s.sendto(b"%010d" % i + b"x" * 100, (host, port))
        delay = t0 + (i + 1) / pps - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    time.sleep(0.3)
    for _ in range(5):
        s.sendto(b"END", (host, port))
        time.sleep(0.05)
    print(json.dumps({"sent": n}), flush=True)
""")


def _reload_cli(cfg: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "xdpfw", "reload", "-c", str(cfg), "--timeout", "60"],
                          capture_output=True, text=True, timeout=90)


def _wait_metric(app, name: str, value: float, timeout: float = 20.0, **labels) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        m = app.metrics()
        if metric(m, name, **labels) >= value or time.monotonic() > deadline:
            return m
        time.sleep(0.2)


def _side_totals(m: dict, dev: str) -> tuple[float, float, dict[str, float]]:
    drops = {dict(labels)["reason"]: v for (n, labels), v in m.items()
             if n == "xdpfw_dropped_packets_total" and dict(labels).get("device") == dev}
    return (metric(m, "xdpfw_received_packets_total", device=dev),
            metric(m, "xdpfw_forwarded_packets_total", device=dev), drops)


def test_reload_under_traffic_loses_nothing_and_swaps_rules(lab, tmp_path):
    lab.add_address(lab.client, f"{ACL_HOST}/24")
    rules = tmp_path / "local.rules"
    rules.write_text(RULES_V1)
    eve = tmp_path / "eve.json"
    sock = tmp_path / "run" / "xdpfw.sock"
    cfg = tmp_path / "xdpfw.yaml"
    cfg.write_text(textwrap.dedent(f"""\
        interfaces:
          inline: [{lab.side_a}, {lab.side_b}]
        queues: 1
        rules:
          default-rule-path: {tmp_path}
          rule-files: [local.rules]
        vars:
          address-groups:
            HOME_NET: "[198.18.0.0/24]"
        flows:
          capacity: 4096
        control:
          socket: {sock}
        outputs:
          eve:
            - filename: {eve}
              types: [alert, drop, stats]
              stats-interval: 0.5
        """))
    app = ApplianceProcess(lab, "-c", str(cfg), metrics_port=9651)
    app.start()
    try:
        st = os.stat(sock)
        assert oct(st.st_mode & 0o777) == "0o600"  # root-only control socket

        # -- the first set decides
        assert ping(lab, lab.client.ns, lab.server.ip, count=2) == 2
        t = tcp_transfer(lab, lab.client.ns, lab.server.ns, lab.server.ip, 1 << 20, port=7101,
                         timeout=4, prefix="hello " + OLD)
        assert not t.ok and t.bytes == 0
        assert ping(lab, lab.client.ns, lab.server.ip, count=2, source=ACL_HOST) == 2  # not blocked yet

        # -- numbered UDP stream through the appliance while reloading 4 times
        m0 = app.metrics()
        py = [sys.executable, "-c"]
        recv = popen_in(lab.server.ns, py + [UDP_RECV, "9000", "30"], stdout=subprocess.PIPE, text=True)
        assert "listening" in recv.stdout.readline()
        send = popen_in(lab.client.ns, py + [UDP_SEND, lab.server.ip, "9000", "2000", "8"],
                        stdout=subprocess.PIPE, text=True)
        reloads = []
        time.sleep(1.0)
        rules.write_text(RULES_V2)
        reloads.append(_reload_cli(cfg))                      # xdpfw reload (control socket)
        time.sleep(0.8)
        app.proc.send_signal(signal.SIGHUP)                     # systemd's ExecReload
        time.sleep(1.5)
        app.proc.send_signal(signal.SIGUSR2)                    # Suricata's reload signal
        time.sleep(1.5)
        reloads.append(_reload_cli(cfg))
        sent = json.loads(send.communicate(timeout=60)[0].strip().splitlines()[-1])["sent"]
        got = json.loads(recv.communicate(timeout=60)[0].strip().splitlines()[-1])
        for r in reloads:
            assert r.returncode == 0, r.stdout + r.stderr
            assert "reload OK" in r.stdout and "3 rules (1 in the kernel ACL, 2 in the engine)" in r.stdout
        m1 = _wait_metric(app, "xdpfw_ruleset_reloads_total", 4)
        print(f"reload under traffic: {sent} UDP datagrams sent, {got['received']} received, 4 reloads")
        assert sent == 16000
        assert got["received"] == sent, f"lost {sent - got['received']} of {sent} datagrams during reloads"
        assert metric(m1, "xdpfw_ruleset_reloads_total") - metric(m0, "xdpfw_ruleset_reloads_total") == 4
        assert metric(m1, "xdpfw_ruleset_reload_failures_total") == 0
        assert metric(m1, "xdpfw_ruleset_last_reload_success") == 1
        assert metric(m1, "xdpfw_ruleset_last_reload_timestamp_seconds") > time.time() - 60
        # the workers' own accounting: every frame they took on side A was forwarded or
        # dropped by a rule (retransmissions of the TCP connection dropped above: its flow
        # stays condemned); no drop for any other reason (ring full, policies...)
        rx0, fw0, dr0 = _side_totals(m0, lab.side_a)
        rx1, fw1, dr1 = _side_totals(m1, lab.side_a)
        dropped = {r: dr1.get(r, 0) - dr0.get(r, 0) for r in dr1}
        assert rx1 - rx0 >= sent, (rx0, rx1)
        assert rx1 - rx0 == (fw1 - fw0) + sum(dropped.values()), (rx0, fw0, dr0, rx1, fw1, dr1)
        assert all(v == 0 for r, v in dropped.items() if r != "rule"), dropped
        assert dropped.get("rule", 0) <= 5, dropped
        assert metric(m1, "xdpfw_frame_accounting_errors_total") == 0

        # -- the new set decides: NEW is dropped, OLD passes, the ACL host is blocked in XDP
        t = tcp_transfer(lab, lab.client.ns, lab.server.ns, lab.server.ip, 1 << 20, port=7102,
                         timeout=4, prefix="hello " + NEW)
        assert not t.ok and t.bytes == 0
        t = tcp_transfer(lab, lab.client.ns, lab.server.ns, lab.server.ip, 1 << 20, port=7103, prefix="hello " + OLD)
        assert t.ok, t.detail
        acl_before = metric(app.metrics(), "xdpfw_dropped_packets_total", device=lab.side_a, reason="acl")
        assert ping(lab, lab.client.ns, lab.server.ip, count=2, source=ACL_HOST) == 0
        assert metric(app.metrics(), "xdpfw_dropped_packets_total", device=lab.side_a, reason="acl") >= acl_before + 2

        # -- an alert rule it cannot run: the reload goes on without it, reported and counted
        rules.write_text(RULES_SKIP)
        r = _reload_cli(cfg)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "3 rules successfully loaded, 0 rules failed, 1 rules skipped" in r.stdout, r.stdout
        assert "1 alert rule(s) not running (1 skipped, 0 failed)" in r.stderr, r.stderr
        m1 = app.metrics()
        assert metric(m1, "xdpfw_rules", state="skipped") == 1 and metric(m1, "xdpfw_rules", state="loaded") == 3
        t = tcp_transfer(lab, lab.client.ns, lab.server.ns, lab.server.ip, 1 << 20, port=7106,
                         timeout=4, prefix="hello " + NEW)
        assert not t.ok and t.bytes == 0

        # -- a broken file is refused: path:line and the keyword; the running set stays
        rules.write_text(RULES_BROKEN)
        r = _reload_cli(cfg)
        assert r.returncode == 1, r.stdout + r.stderr
        assert f"{rules}:3:" in r.stderr and "conten" in r.stderr, r.stderr
        assert "running rule set" in r.stderr and "kept" in r.stderr
        m2 = app.metrics()
        assert metric(m2, "xdpfw_ruleset_reload_failures_total") == 1
        assert metric(m2, "xdpfw_ruleset_last_reload_success") == 0
        t = tcp_transfer(lab, lab.client.ns, lab.server.ns, lab.server.ip, 1 << 20, port=7104,
                         timeout=4, prefix="hello " + NEW)
        assert not t.ok and t.bytes == 0
        assert ping(lab, lab.client.ns, lab.server.ip, count=2, source=ACL_HOST) == 0

        # -- back to the first set: the ACL entry goes, OLD is dropped again
        rules.write_text(RULES_V1)
        r = _reload_cli(cfg)
        assert r.returncode == 0 and "2 rules (0 in the kernel ACL, 2 in the engine)" in r.stdout, r.stdout + r.stderr
        assert ping(lab, lab.client.ns, lab.server.ip, count=2, source=ACL_HOST) == 2
        t = tcp_transfer(lab, lab.client.ns, lab.server.ns, lab.server.ip, 1 << 20, port=7105,
                         timeout=4, prefix="hello " + OLD)
        assert not t.ok and t.bytes == 0
        time.sleep(1.2)  # a stats record and the last alerts drained
    finally:
        rc = app.stop()
    out = "\n".join(app.output)
    assert rc == 0, out
    assert "frame accounting broken" not in out
    assert not sock.exists()  # removed at stop

    events = assert_eve_valid(eve, min_lines=3)
    alerts = [(e["alert"]["signature_id"], e["alert"]["signature"]) for e in events if e["event_type"] == "alert"]
    assert (1000001, "old payload") in alerts and (1000003, "new payload") in alerts
    assert any(e["event_type"] == "drop" and e["alert"]["signature_id"] == 1000003 for e in events)
    stats = [e["stats"] for e in events if e["event_type"] == "stats"]
    assert len(stats) >= 4
    last = stats[-1]
    assert last["ips"]["accepted"] >= 16000 and last["xdpfw"]["dropped"]["rule"] >= 3
    assert last["detect"]["engines"][0]["id"] == 6  # 6 reloads succeeded: generation 6
    assert last["decoder"]["pkts"] >= last["ips"]["accepted"]
