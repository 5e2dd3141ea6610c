"""The inline data path end to end, in a namespace lab over veth (root, BPF, AF_XDP)."""
from __future__ import annotations

import re
import signal
import subprocess
import time

import pytest

from xdpfw.dataplane.appliance import Appliance, ApplianceConfig
from xdpfw.tools.lab import ApplianceProcess, metric, ping, tcp_transfer
from xdpfw.tools.netns import call_in_netns, netns_exists, run_in

MB = 1 << 20


def xdp_attached(ns: str, ifname: str) -> bool:
    out = run_in(ns, ["ip", "-d", "link", "show", "dev", ifname]).stdout
    return bool(re.search(r"\bxdp(drv|generic|offload)?\b", out)) and "prog/xdp" in out


def test_ping_and_50mb_tcp_both_directions(lab):
    with ApplianceProcess(lab) as app:
        assert ping(lab, lab.client.ns, lab.server.ip, count=5) == 5
        assert ping(lab, lab.server.ns, lab.client.ip, count=5) == 5
        up = tcp_transfer(lab, lab.client.ns, lab.server.ns, lab.server.ip, 50 * MB)
        assert up.ok, up.detail
        down = tcp_transfer(lab, lab.server.ns, lab.client.ns, lab.client.ip, 50 * MB, port=5202)
        assert down.ok, down.detail
        m = app.metrics()
        for dev in (lab.side_a, lab.side_b):
            rx = metric(m, "xdpfw_received_packets_total", device=dev)
            fwd = metric(m, "xdpfw_forwarded_packets_total", device=dev)
            steered = metric(m, "xdpfw_xdp_packets_total", device=dev, action="to_worker")
            assert rx > 0 and fwd == rx, (dev, rx, fwd)
            assert steered >= rx
            assert metric(m, "xdpfw_xdp_packets_total", device=dev, action="fail_open") == 0
        # 50 MB of 1448-byte segments one way is at least 36k frames on side A.
        assert metric(m, "xdpfw_forwarded_packets_total", device=lab.side_a) > 36000
        assert metric(m, "xdpfw_frame_accounting_errors_total") == 0
        frames = sum(v for (name, _), v in m.items() if name == "xdpfw_umem_frames")
        assert frames == 8192  # every frame of the queue pair's UMEM is somewhere
    assert app.proc.returncode == 0
    assert not any("accounting broken" in line for line in app.output), app.output


def test_two_queue_pairs_one_worker_each(lab_factory):
    lab = lab_factory(queues=2)
    run_in(lab.fw_ns, ["ip", "link", "set", "lo", "up"])
    app = call_in_netns(lab.fw_ns, lambda: _started(Appliance(ApplianceConfig(lab.side_a, lab.side_b))))
    try:
        assert len(app.pairs) == 2 and app.workers_running() == 2
        # veth puts a frame on the peer RX queue that matches the sender's TX queue, which
        # the sender picks per flow: open flows until both queue pairs have seen traffic.
        for i in range(16):
            t = tcp_transfer(lab, lab.client.ns, lab.server.ns, lab.server.ip, 2 * MB, port=6000 + i)
            assert t.ok, t.detail
            if all(c["rx_packets"][0] > 0 for _, c in app.worker_counters()):
                break
        per_queue = [c for _, c in app.worker_counters()]
        assert all(c["rx_packets"][0] > 0 and c["fwd_packets"][0] == c["rx_packets"][0] for c in per_queue), per_queue
        assert ping(lab, lab.client.ns, lab.server.ip, count=3) == 3
    finally:
        call_in_netns(lab.fw_ns, app.stop)
    assert len(app.final_accounting) == 2
    for acc in app.final_accounting:
        assert acc["consistent"] and acc["errors"] == 0, acc
        assert acc["free"] + sum(acc["fill"]) + sum(acc["tx"]) == acc["total"]


def _started(app: Appliance) -> Appliance:
    app.start()
    return app


def _first_reply_delay(lab, since: float, seconds: float) -> float | None:
    """Ping at 50 ms intervals for `seconds`; delay of the first reply after wall-clock
    time `since` (None if no reply came)."""
    res = run_in(lab.client.ns, ["ping", "-n", "-D", "-i", "0.05", "-W", "1", "-w", str(seconds),
                                 lab.server.ip], check=False)
    stamps = [float(m.group(1)) for m in re.finditer(r"^\[(\d+\.\d+)\] \d+ bytes from", res.stdout, re.M)]
    return stamps[0] - since if stamps else None


@pytest.mark.parametrize("mode", ["open", "closed"])
def test_kill9_applies_fail_mode(lab, mode):
    app = ApplianceProcess(lab, fail_mode=mode).start()
    try:
        assert ping(lab, lab.client.ns, lab.server.ip, count=2) == 2
        killed_at = time.time()
        app.stop(signal.SIGKILL)
        first = _first_reply_delay(lab, killed_at, 2)
        assert xdp_attached(lab.fw_ns, lab.side_a)  # the program outlives the daemon
        if mode == "open":
            assert first is not None and first < 1.0, first
            assert ping(lab, lab.client.ns, lab.server.ip, count=5) == 5
            assert ping(lab, lab.server.ns, lab.client.ip, count=5) == 5
            t = tcp_transfer(lab, lab.client.ns, lab.server.ns, lab.server.ip, 5 * MB)
            assert t.ok, t.detail
        else:
            assert first is None
            assert ping(lab, lab.client.ns, lab.server.ip, count=3) == 0
    finally:
        app.stop(signal.SIGKILL)


def test_sigterm_detaches_and_lab_cleans_up(lab_factory):
    lab = lab_factory()
    app = ApplianceProcess(lab).start()
    assert xdp_attached(lab.fw_ns, lab.side_a) and xdp_attached(lab.fw_ns, lab.side_b)
    assert ping(lab, lab.client.ns, lab.server.ip, count=2) == 2
    assert app.stop(signal.SIGTERM) == 0
    assert not xdp_attached(lab.fw_ns, lab.side_a)
    assert not xdp_attached(lab.fw_ns, lab.side_b)
    assert any("detached XDP from a0" in line for line in app.output)
    # With the appliance gone, nothing bridges the two sides.
    assert ping(lab, lab.client.ns, lab.server.ip, count=2) == 0
    lab.destroy()
    assert not any(netns_exists(ns) for ns in lab.namespaces)
    assert not subprocess.run(["ip", "-o", "link", "show", "type", "veth"], capture_output=True,
                              text=True).stdout.strip().count("a0@")


def test_failed_start_reports_and_leaves_nothing_attached(lab):
    import sys

    res = run_in(lab.fw_ns, [sys.executable, "-m", "xdpfw", "run", "--inline", lab.side_a, lab.side_b,
                             "--queues", "4", "--metrics-listen", "127.0.0.1:9656"], check=False, timeout=60)
    assert res.returncode == 1
    assert "cannot start: --queues 4: a0 and b0 use 1 RX queue(s) each" in res.stderr, res.stderr
    assert not xdp_attached(lab.fw_ns, lab.side_a) and not xdp_attached(lab.fw_ns, lab.side_b)


@pytest.mark.parametrize("mode", ["open", "closed"])
def test_hung_daemon_applies_fail_mode_until_it_resumes(lab, mode):
    app = ApplianceProcess(lab, "--watchdog-ms", "500", fail_mode=mode).start()
    try:
        assert ping(lab, lab.client.ns, lab.server.ip, count=2) == 2
        before = app.metrics()
        app.proc.send_signal(signal.SIGSTOP)      # hung: sockets still bound, nobody drains them
        stopped_at = time.time()
        first = _first_reply_delay(lab, stopped_at, 3)
        if mode == "open":
            assert first is not None and first < 1.5, first
        else:
            assert first is None
        app.proc.send_signal(signal.SIGCONT)
        time.sleep(1.0)
        assert ping(lab, lab.client.ns, lab.server.ip, count=3) == 3
        after = app.metrics()
        dev = lab.side_a
        key = "fail_open" if mode == "open" else "fail_closed"
        assert metric(after, "xdpfw_xdp_packets_total", device=dev, action=key) > \
            metric(before, "xdpfw_xdp_packets_total", device=dev, action=key)
        # inspected again once it beats: frames go to the worker
        assert metric(after, "xdpfw_received_packets_total", device=dev) > \
            metric(before, "xdpfw_received_packets_total", device=dev)
    finally:
        app.proc.send_signal(signal.SIGCONT)
        app.stop()
