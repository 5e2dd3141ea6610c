"""One worker per *active* RX queue (issue: the first day on ordinary interfaces).

Devices allocate more RX queues than they use: a veth made without numrxqueues allocates
one per possible CPU and uses one, and NICs configured with fewer channels than they have
do the same. AF_XDP binds only to an active queue, so `xdpfw run` without --queues must
count the active ones, refuse two sides that differ, and refuse a --queues above them."""
from __future__ import annotations

import sys

from pyroute2 import IPRoute

from xdpfw.dataplane.appliance import Appliance, ApplianceConfig
from xdpfw.tools.lab import ApplianceProcess, ping
from xdpfw.tools.netns import call_in_netns, run_in
from xdpfw.dataplane.nic import NicError, active_rx_queues, pair_queue_count


def _allocated(ns: str, ifname: str) -> int:
    with IPRoute(netns=ns) as ipr:
        return ipr.link("get", ifname=ifname)[0].get("IFLA_NUM_RX_QUEUES")


def _run(lab, *argv: str):
    return run_in(lab.fw_ns, [sys.executable, "-m", "xdpfw", "run", "--inline", lab.side_a, lab.side_b,
                              "--metrics-listen", "127.0.0.1:9657", *argv], check=False, timeout=60)


def test_more_allocated_than_active_runs_one_worker_per_active_queue(lab_factory):
    lab = lab_factory(queues=1, allocated=4)
    assert _allocated(lab.fw_ns, lab.side_a) == 4          # what netlink reports...
    assert call_in_netns(lab.fw_ns, lambda: active_rx_queues(lab.side_a)) == 1   # ...and what is used
    with ApplianceProcess(lab) as app:                      # no --queues
        assert ping(lab, lab.client.ns, lab.server.ip, count=3) == 3
        assert any("1 queue pair(s)" in line for line in app.output), app.output
    assert app.proc.returncode == 0


def test_plain_veth_without_queues_flag(lab_factory):
    lab = lab_factory(queues=None)                          # the kernel's default veth
    with ApplianceProcess(lab) as app:
        assert ping(lab, lab.client.ns, lab.server.ip, count=3) == 3
        assert any("1 queue pair(s)" in line for line in app.output), app.output


def test_two_of_four_allocated_queues_active_gives_two_workers(lab_factory):
    lab = lab_factory(queues=2, allocated=4)
    run_in(lab.fw_ns, ["ip", "link", "set", "lo", "up"])
    assert call_in_netns(lab.fw_ns, lambda: pair_queue_count(lab.side_a, lab.side_b)) == 2
    app = call_in_netns(lab.fw_ns, lambda: _started(Appliance(ApplianceConfig(lab.side_a, lab.side_b))))
    try:
        assert len(app.pairs) == 2 and app.workers_running() == 2
    finally:
        call_in_netns(lab.fw_ns, app.stop)


def _started(app):
    app.start()
    return app


def test_sides_with_different_active_counts_are_refused(lab_factory):
    lab = lab_factory(queues=2, allocated=4)
    lab.set_channels(lab.fw_ns, lab.side_b, 1)
    lab.set_channels(lab.server.ns, lab.server.ifname, 1)
    res = _run(lab)
    assert res.returncode == 1
    assert f"{lab.side_a} uses 2 RX queue(s) and {lab.side_b} 1" in res.stderr, res.stderr
    assert f"ethtool -L {lab.side_a} combined 1" in res.stderr


def test_queues_flag_above_the_active_count_is_refused(lab_factory):
    lab = lab_factory(queues=1, allocated=4)
    res = _run(lab, "--queues", "2")
    assert res.returncode == 1
    assert "--queues 2: a0 and b0 use 1 RX queue(s) each" in res.stderr, res.stderr


def test_no_such_interface():
    try:
        active_rx_queues("xdpfw-nonexist")
    except NicError as e:
        assert "no such interface: xdpfw-nonexist" in str(e)
    else:
        raise AssertionError("no error for a missing interface")
