"""`xdpfw doctor` on the real machine, against veths in the lab's firewall namespace: what it
reads from sysfs, ethtool and the kernel, and its exit status."""
from __future__ import annotations

import json
import sys

from pyroute2 import IPRoute

from xdpfw.tools.netns import run_in


def doctor(lab, *ifaces: str) -> tuple[int, dict[str, dict]]:
    argv = [sys.executable, "-m", "xdpfw", "doctor", "--json"]
    if ifaces:
        argv += ["--inline", *ifaces]
    res = run_in(lab.fw_ns, argv, check=False)
    assert res.returncode in (0, 1), res.stderr
    return res.returncode, {f["check"]: f for f in json.loads(res.stdout)}


def test_doctor_on_the_lab_pair(lab):
    rc, f = doctor(lab, lab.side_a, lab.side_b)
    # this machine runs the privileged tests, so the system side must be fine
    for check in ("kernel", "AF_XDP", "bcc", "capabilities", "memlock"):
        assert f[check]["status"] == "ok", f[check]
    # `ip netns exec` remounts /sys for the namespace: bpffs is not visible there
    assert f["bpffs"]["status"] == "warn" and "ip netns exec" in f["bpffs"]["advice"]
    assert f["kernel headers"]["status"] in ("ok", "warn")
    for dev in (lab.side_a, lab.side_b):
        assert f[f"{dev}: XDP"]["status"] == "ok" and "veth" in f[f"{dev}: XDP"]["detail"]
        assert f[f"{dev}: zero-copy"]["status"] == "warn"      # veth: copy mode
        assert f[f"{dev}: link"]["status"] == "ok"
        assert f"{dev}: promiscuous" not in f
    assert f["MTU equal"]["status"] == "ok" and f["MTU equal"]["detail"] == "1500 on both"
    assert f["queues"]["status"] == "ok"
    assert rc == (1 if any(x["status"] == "fail" for x in f.values()) else 0)
    assert rc == 0, [x for x in f.values() if x["status"] == "fail"]


def test_doctor_finds_mtu_mismatch_gro_and_missing_interface(lab):
    run_in(lab.fw_ns, ["ip", "link", "set", "dev", lab.side_b, "mtu", "1400"])
    run_in(lab.fw_ns, ["ethtool", "-K", lab.side_a, "gro", "on"])
    rc, f = doctor(lab, lab.side_a, lab.side_b)
    assert rc == 1
    assert f["MTU equal"]["status"] == "fail"
    assert f"ip link set {lab.side_b} mtu 1500" in f["MTU equal"]["advice"]
    assert f[f"{lab.side_a}: GRO"]["status"] == "warn"
    rc, f = doctor(lab, lab.side_a, "nosuch0")
    assert rc == 1 and f["nosuch0: present"]["status"] == "fail"


def test_doctor_finds_unequal_queue_counts(lab):
    with IPRoute(netns=lab.fw_ns) as ipr:
        ipr.link("add", ifname="q4", kind="veth", num_rx_queues=4, num_tx_queues=4,
                 peer={"ifname": "q4p", "num_rx_queues": 4, "num_tx_queues": 4})
        ipr.link("add", ifname="q2", kind="veth", num_rx_queues=2, num_tx_queues=2,
                 peer={"ifname": "q2p", "num_rx_queues": 2, "num_tx_queues": 2})
        for name in ("q4", "q4p", "q2", "q2p"):
            ipr.link("set", index=ipr.link_lookup(ifname=name)[0], state="up")
    rc, f = doctor(lab, "q4", "q2")
    assert rc == 1
    assert f["queues"]["status"] == "fail"
    assert "q4 has 4 RX queue(s), q2 has 2" in f["queues"]["detail"]
    # more than one queue: the symmetric-RSS hint is given (veths have no RSS key)
    assert f["q4: symmetric RSS"]["status"] == "warn"
