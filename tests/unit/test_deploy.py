"""deploy/: the Prometheus files pass promtool (config, rules, and the alert unit tests), the
systemd unit passes systemd-analyze, the example config validates, and every metric the
dashboard and the alert rules name is one the appliance exports."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from metrics_fake import exported_metric_names

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROM = DEPLOY / "prometheus"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not installed: scripts/setup.sh installs it (Debian package "
                    f"{'prometheus' if name.startswith('prom') else 'systemd'})", pytrace=False)
    return path


def _run(argv, cwd=None):
    res = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=60)
    return res.returncode, res.stdout + res.stderr


def test_promtool_check_rules():
    rc, out = _run([_tool("promtool"), "check", "rules", str(PROM / "xdpfw-alerts.yml")])
    assert rc == 0, out
    assert "SUCCESS: 17 rules found" in out


def test_promtool_check_config():
    rc, out = _run([_tool("promtool"), "check", "config", "prometheus.yml"], cwd=PROM)
    assert rc == 0, out
    assert "is valid prometheus config file syntax" in out


def test_promtool_alert_unit_tests():
    rc, out = _run([_tool("promtool"), "test", "rules", "xdpfw-alerts.test.yml"], cwd=PROM)
    assert rc == 0, out
    assert "SUCCESS" in out


def test_promtool_rejects_a_broken_rule(tmp_path):
    """The check above can fail: a rule with a syntax error is refused."""
    bad = tmp_path / "bad.yml"
    bad.write_text((PROM / "xdpfw-alerts.yml").read_text().replace("xdpfw_xdp_attached == 0",
                                                                     "xdpfw_xdp_attached == == 0"))
    rc, out = _run([_tool("promtool"), "check", "rules", str(bad)])
    assert rc != 0, out


METRIC_RE = re.compile(r"\b((?:xdpfw|process)_[a-z0-9_]+)")
HIST_SUFFIX = re.compile(r"_(bucket|sum|count)$")


def alert_rules() -> list[dict]:
    import yaml

    doc = yaml.safe_load((PROM / "xdpfw-alerts.yml").read_text())
    return [r for g in doc["groups"] for r in g["rules"]]


def dashboard_exprs() -> list[str]:
    dash = json.loads((DEPLOY / "grafana" / "xdpfw.json").read_text())
    return [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]


def _names(expr: str) -> set[str]:
    return {HIST_SUFFIX.sub("", n) if n.startswith("xdpfw_batch_duration_seconds") else n
            for n in METRIC_RE.findall(expr)}


def test_dashboard_and_alerts_name_only_exported_metrics():
    exported = exported_metric_names() | {"process_cpu_seconds_total", "process_resident_memory_bytes"}
    used = set()
    for e in dashboard_exprs() + [r["expr"] for r in alert_rules()]:
        used |= _names(e)
    unknown = sorted(used - exported)
    assert not unknown, f"not exported by the appliance: {unknown}"
    assert len(used) >= 40


def test_dashboard_shape():
    dash = json.loads((DEPLOY / "grafana" / "xdpfw.json").read_text())
    assert dash["uid"] and dash["title"] == "xdpfw"
    panels = [p for p in dash["panels"] if p["type"] != "row"]
    assert len(panels) >= 20
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    for p in panels:
        assert p["targets"], p["title"]
        assert p["datasource"]["uid"] == "${datasource}"
        for t in p["targets"]:
            # every per-appliance query is filtered by the dashboard's instance variable
            assert 'instance=~"$instance"' in t["expr"], t["expr"]
    names = {v["name"] for v in dash["templating"]["list"]}
    assert names == {"datasource", "instance"}


def test_every_alert_has_severity_and_summary():
    rules = alert_rules()
    assert len(rules) == 17
    for r in rules:
        assert r["labels"]["severity"] in ("critical", "warning"), r["alert"]
        assert r["annotations"]["summary"], r["alert"]
    names = {r["alert"] for r in rules}
    for required in ("XdpfwXdpDetached", "XdpfwWorkersDown", "XdpfwFailModeEngaged", "XdpfwDropRateHigh",
                     "XdpfwRingFull", "XdpfwAlertsLost", "XdpfwFlowTableFull", "XdpfwStreamPoolExhausted",
                     "XdpfwReloadFailed"):
        assert required in names


def _unit() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in (DEPLOY / "systemd" / "xdpfw.service").read_text().splitlines():
        if line.strip() and not line.startswith(("#", "[")):
            k, _, v = line.partition("=")
            out.setdefault(k, []).append(v)
    return out


def test_systemd_unit_verifies(tmp_path):
    """systemd-analyze verify: unknown directives or bad values are errors. The binary
    path is replaced by one that exists here."""
    text = (DEPLOY / "systemd" / "xdpfw.service").read_text().replace("/usr/local/bin/xdpfw", "/bin/true")
    unit = tmp_path / "xdpfw.service"
    unit.write_text(text)
    rc, out = _run([_tool("systemd-analyze"), "verify", str(unit)])
    problems = [line for line in out.splitlines() if "xdpfw.service" in line]
    assert rc == 0 and not problems, out
    broken = tmp_path / "broken.service"
    broken.write_text(text.replace("ProtectHome=yes", "ProtectHomme=yes"))
    rc, out = _run([_tool("systemd-analyze"), "verify", str(broken)])
    assert "ProtectHomme" in out


def test_systemd_unit_least_privilege():
    u = _unit()
    caps = set(u["CapabilityBoundingSet"][0].split())
    assert caps == {"CAP_BPF", "CAP_NET_ADMIN", "CAP_PERFMON", "CAP_NET_RAW"}
    assert set(u["AmbientCapabilities"][0].split()) == caps
    assert u["NoNewPrivileges"] == ["yes"] and u["LimitMEMLOCK"] == ["infinity"]
    assert "ProtectKernelModules" not in u      # hides the headers bcc compiles against
    assert "MemoryDenyWriteExecute" not in u    # bcc's LLVM JIT
    assert u["ProtectSystem"] == ["strict"]
    assert u["Type"] == ["exec"]
    assert any("check -c" in v for v in u["ExecStartPre"]) and any("check -c" in v for v in u["ExecReload"])


def test_example_config_validates():
    from xdpfw.service.config import load_config

    cfg = load_config(DEPLOY / "xdpfw.yaml")
    assert cfg.inline == ("eth1", "eth2")
    assert cfg.metrics_listen == "127.0.0.1:9640"
    scrape = (PROM / "prometheus.yml").read_text()
    assert cfg.metrics_listen in scrape   # the scrape config targets the example's endpoint
    # One layout everywhere: the paths docs/RELOAD.md's suricata-update recipe writes,
    # under the unit's StateDirectory.
    recipe = (ROOT / "docs" / "RELOAD.md").read_text()
    assert "--output /var/lib/xdpfw/rules" in recipe
    assert cfg.rule_paths() and all(p.startswith("/var/lib/xdpfw/rules/") for p in cfg.rule_paths())
    assert cfg.classification_file == "/var/lib/xdpfw/rules/classification.config"
    assert "StateDirectory=xdpfw" in (DEPLOY / "systemd" / "xdpfw.service").read_text()
    assert "/var/lib/suricata" not in (DEPLOY / "xdpfw.yaml").read_text()
