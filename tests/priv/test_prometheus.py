"""Debian's real Prometheus against the appliance in the namespace lab.

The appliance runs inline with the lab rules and carries traffic (pings, a TCP transfer, a
payload the engine drops with an alert, a host the kernel ACL drops). Prometheus runs in
the firewall namespace with the shipped scrape config and alert rules (scrape and rule
evaluation every second, alerts' `for:` shortened to 0s, the target pointed at the
appliance; the expressions are the shipped ones, untouched). Then, through Prometheus'
HTTP API:

- every query of the Grafana dashboard returns data (Grafana's variables substituted);
- every alert rule is loaded and evaluates without error, and every metric it names has
  data;
- a reload (SIGHUP) of a broken rule file fires XdpfwReloadFailed (the running rules stay);
- detaching XDP from one side (as an operator's `ip link set DEV xdp off` would) fires
  XdpfwXdpDetached for that side, and `xdpfw status --once` shows it DETACHED.
"""
from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from xdpfw.tools.lab import ATTACK, BLOCKED_HOST, ApplianceProcess, ping, tcp_transfer
from xdpfw.tools.netns import call_in_netns, popen_in, run_in

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "xdpfw.json"
RULES = ROOT / "rules" / "lab.rules"
METRICS_PORT = 9661
PROM_PORT = 9662
METRIC_RE = re.compile(r"\b((?:xdpfw|process)_[a-z0-9_]+|up)\b")


class Prometheus:
    """A prometheus process in a namespace, with a temporary config and TSDB."""

    def __init__(self, ns: str, workdir: Path):
        self.ns = ns
        self.dir = workdir
        self.proc: subprocess.Popen | None = None
        self.log = workdir / "prometheus.log"

    def start(self, target: str) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            pytest.fail("prometheus is not installed (scripts/setup.sh installs Debian's package)", pytrace=False)
        cfg = yaml.safe_load((PROM / "prometheus.yml").read_text())
        cfg["global"].update(scrape_interval="1s", evaluation_interval="1s")
        job = cfg["scrape_configs"][0]
        assert job["job_name"] == "xdpfw"
        job.update(scrape_interval="1s", scrape_timeout="900ms")
        job["static_configs"][0]["targets"] = [target]
        rules = yaml.safe_load((PROM / "xdpfw-alerts.yml").read_text())
        for g in rules["groups"]:
            g["interval"] = "1s"
            for r in g["rules"]:
                r["for"] = "0s"
        (self.dir / "xdpfw-alerts.yml").write_text(yaml.safe_dump(rules, sort_keys=False))
        cfg["rule_files"] = [str(self.dir / "xdpfw-alerts.yml")]
        (self.dir / "prometheus.yml").write_text(yaml.safe_dump(cfg, sort_keys=False))
        argv = [binary, f"--config.file={self.dir / 'prometheus.yml'}", f"--storage.tsdb.path={self.dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{PROM_PORT}", "--log.level=warn"]
        with open(self.log, "w") as log:
            self.proc = popen_in(self.ns, argv, stdout=log, stderr=subprocess.STDOUT)
        self._wait(lambda: self.api("/-/ready", raw=True), 30, "prometheus did not become ready")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def api(self, path: str, raw: bool = False, **params):
        url = f"http://127.0.0.1:{PROM_PORT}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)

        def get():
            with urllib.request.urlopen(url, timeout=10) as r:
                return r.read().decode()
        try:
            body = call_in_netns(self.ns, get)
        except OSError:
            return None
        return body if raw else json.loads(body)

    def query(self, expr: str) -> dict:
        res = self.api("/api/v1/query", query=expr)
        assert res is not None, f"no answer for {expr}"
        return res

    def _wait(self, cond, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"prometheus exited: {self.log.read_text()}")
            v = cond()
            if v:
                return v
            time.sleep(0.5)
        raise AssertionError(f"{what} within {timeout}s; prometheus log:\n{self.log.read_text()}")


def grafana_exprs() -> list[tuple[str, str]]:
    """(panel title, PromQL) with Grafana's variables as a dashboard would substitute them."""
    dash = json.loads(DASHBOARD.read_text())
    out = []
    for p in dash["panels"]:
        for t in p.get("targets", []):
            e = t["expr"].replace("$__rate_interval", "30s").replace('"$instance"', '".*"')
            assert "$" not in e, e
            out.append((p["title"], e))
    return out


def alert_rules() -> list[dict]:
    doc = yaml.safe_load((PROM / "xdpfw-alerts.yml").read_text())
    return [r for g in doc["groups"] for r in g["rules"]]


def status_once(lab) -> str:
    res = run_in(lab.fw_ns, [sys.executable, "-m", "xdpfw", "status", "--once", "--interval", "0.5",
                             "--metrics", f"127.0.0.1:{METRICS_PORT}"], check=False)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_prometheus_dashboard_and_alerts_against_the_lab(lab):
    lab.add_address(lab.client, f"{BLOCKED_HOST}/24")
    work = Path(tempfile.mkdtemp(prefix="xdpfw-prom-"))
    eve = work / "eve.json"
    rules_file = work / "lab.rules"
    rules_file.write_text(RULES.read_text())
    app = ApplianceProcess(lab, "--rules", str(rules_file), "--eve", str(eve), "--control-socket", "",
                           metrics_port=METRICS_PORT)
    prom = Prometheus(lab.fw_ns, work)
    pinger = None
    try:
        app.start()
        prom.start(f"127.0.0.1:{METRICS_PORT}")
        # Traffic: forwarded both ways, a TCP transfer, the attack (engine drop + alert),
        # a blocked host (kernel ACL drop).
        assert ping(lab, lab.client.ns, lab.server.ip, count=3) == 3
        assert ping(lab, lab.server.ns, lab.client.ip, count=3) == 3
        assert tcp_transfer(lab, lab.client.ns, lab.server.ns, lab.server.ip, 2 << 20).ok
        t = tcp_transfer(lab, lab.client.ns, lab.server.ns, lab.server.ip, 1 << 20, port=8080, timeout=5,
                         prefix=ATTACK)
        assert not t.ok and t.bytes == 0
        assert ping(lab, lab.client.ns, lab.server.ip, count=2, source=BLOCKED_HOST) == 0
        # Keep frames flowing while Prometheus' rate() windows are queried.
        pinger = popen_in(lab.client.ns, ["ping", "-n", "-q", "-i", "0.05", "-w", "120", lab.server.ip],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        # Wait until Prometheus has scraped the appliance a few times with the traffic in.
        prom._wait(lambda: prom.query('count_over_time(up{job="xdpfw"}[1m]) >= 8')["data"]["result"], 60,
                   "8 scrapes")
        prom._wait(lambda: prom.query('xdpfw_alerts_total{action="blocked"} > 0')["data"]["result"], 30,
                   "the blocked alert in Prometheus")
        up = prom.query('up{job="xdpfw"}')["data"]["result"]
        assert up and up[0]["value"][1] == "1"

        # Every dashboard query returns data.
        empty = []
        exprs = grafana_exprs()
        assert len(exprs) >= 40
        for title, expr in exprs:
            res = prom.query(expr)
            assert res["status"] == "success", (title, expr, res)
            if not res["data"]["result"]:
                empty.append(f"{title}: {expr}")
        assert not empty, "dashboard queries without data:\n" + "\n".join(empty)
        # and the traffic panels see the traffic
        rx = prom.query(f'sum by (device) (rate(xdpfw_received_packets_total{{device="{lab.side_a}"}}[5s]))')
        assert float(rx["data"]["result"][0]["value"][1]) > 5
        drops = {r["metric"]["reason"]: float(r["value"][1]) for r in
                 prom.query("sum by (reason) (xdpfw_dropped_packets_total)")["data"]["result"]}
        assert drops["rule"] >= 1 and drops["acl"] >= 2, drops
        batches = prom.query("sum(xdpfw_batch_duration_seconds_count)")["data"]["result"]
        assert float(batches[0]["value"][1]) > 100

        # Every alert rule is loaded and evaluates; every metric it names has data.
        groups = prom.api("/api/v1/rules")["data"]["groups"]
        loaded = {r["name"]: r for g in groups for r in g["rules"]}
        shipped = alert_rules()
        assert set(loaded) == {r["alert"] for r in shipped}
        prom._wait(lambda: all(r.get("lastEvaluation", "").startswith("20") for r in
                               (x for g in prom.api("/api/v1/rules")["data"]["groups"] for x in g["rules"])),
                   20, "every rule evaluated")
        for r in shipped:
            state = next(x for g in prom.api("/api/v1/rules")["data"]["groups"] for x in g["rules"]
                         if x["name"] == r["alert"])
            assert state["health"] == "ok", (r["alert"], state.get("lastError"))
            res = prom.query(r["expr"])
            assert res["status"] == "success", (r["alert"], res)
            for name in set(METRIC_RE.findall(r["expr"])):
                got = prom.query(f'count({{__name__="{name}"}})')["data"]["result"]
                assert got, f"{r['alert']}: no data for {name}"
        firing = [a for a in prom.api("/api/v1/alerts")["data"]["alerts"] if a["state"] == "firing"]
        assert not firing, f"alerts firing on a healthy appliance: {firing}"

        screen = status_once(lab)
        assert re.search(rf"^{lab.side_a}\s+attached", screen, re.M), screen
        assert "rules 4 (kernel 2, engine 2)" in screen, screen
        assert re.search(r"blocked [1-9]", screen), screen

        # Provoke: a reload of a broken rule file (SIGHUP) keeps the running rules and fires
        # XdpfwReloadFailed.
        rules_file.write_text(RULES.read_text() + '\ndrop tcp any any -> any any (msg:"broken"; nosuchkeyword; sid:9000099;)\n')
        app.proc.send_signal(signal.SIGHUP)

        def firing(name):
            return [a for a in prom.api("/api/v1/alerts")["data"]["alerts"]
                    if a["labels"]["alertname"] == name and a["state"] == "firing"]
        prom._wait(lambda: firing("XdpfwReloadFailed"), 30, "XdpfwReloadFailed firing")
        failures = prom.query("xdpfw_ruleset_reload_failures_total")["data"]["result"]
        assert failures[0]["value"][1] == "1"
        assert prom.query("xdpfw_rules_loaded")["data"]["result"][0]["value"][1] == "4"

        # Provoke: detach XDP from side A behind the appliance's back.
        run_in(lab.fw_ns, ["ip", "link", "set", "dev", lab.side_a, "xdp", "off"])

        fired = prom._wait(lambda: firing("XdpfwXdpDetached"), 30, "XdpfwXdpDetached firing")
        assert [a["labels"]["device"] for a in fired] == [lab.side_a]
        assert fired[0]["labels"]["severity"] == "critical"
        screen = status_once(lab)
        assert re.search(rf"^{lab.side_a}\s+DETACHED", screen, re.M), screen
        assert re.search(rf"^{lab.side_b}\s+attached", screen, re.M), screen
    finally:
        if pinger is not None:
            pinger.kill()
            pinger.wait()
        prom.stop()
        rc = app.stop()
        shutil.rmtree(work, ignore_errors=True)
    assert rc == 0, "\n".join(app.output[-20:])
