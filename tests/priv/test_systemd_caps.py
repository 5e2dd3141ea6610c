"""The systemd unit's capability set is enough, and each capability in it is needed.

`xdpfw run` is started in the namespace lab as an unprivileged user (uid/gid 65534) holding
exactly the capabilities of deploy/systemd/xdpfw.service (ambient + bounding set, as the
unit grants them, via setpriv): it starts, and traffic crosses it. With any one of them
removed it does not start, and says why.

Memory lock: the unit sets LimitMEMLOCK=infinity. Where this test runs without the right
to raise RLIMIT_MEMLOCK (no CAP_SYS_RESOURCE in some sandboxes), CAP_IPC_LOCK stands in for
it (UMEM is not charged to the limit with it) - the one difference from the unit.
"""
from __future__ import annotations

import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from xdpfw.tools.lab import ping
from xdpfw.tools.netns import popen_in, run_in

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "systemd" / "xdpfw.service"
RULES = ROOT / "rules" / "lab.rules"


def unit_caps() -> list[str]:
    for line in UNIT.read_text().splitlines():
        if line.startswith("CapabilityBoundingSet="):
            return line.split("=", 1)[1].split()
    raise AssertionError("no CapabilityBoundingSet in the unit")


def _memlock_raisable() -> bool:
    _, hard = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    return hard == resource.RLIM_INFINITY


def start_with_caps(lab, caps: list[str], port: int, timeout: float = 90):
    """Start `xdpfw run` as uid 65534 with exactly `caps`. Returns (started, output, proc)."""
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed"
    caps = list(caps)
    prefix: list[str] = []
    if _memlock_raisable():
        prefix = ["prlimit", "--memlock=unlimited:unlimited", "--"]
    else:
        caps.append("CAP_IPC_LOCK")
    capset = ",".join(["-all"] + [f"+{c.lower().removeprefix('cap_')}" for c in caps])
    argv = prefix + [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", f"--inh-caps={capset}",
                     f"--ambient-caps={capset}", f"--bounding-set={capset}", "--no-new-privs",
                     sys.executable, "-m", "xdpfw", "run", "--inline", lab.side_a, lab.side_b,
                     "--rules", str(RULES), "--metrics-listen", f"127.0.0.1:{port}", "--control-socket", ""]
    run_in(lab.fw_ns, ["ip", "link", "set", "lo", "up"])
    proc = popen_in(lab.fw_ns, argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd="/tmp")
    out: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        out.append(line.rstrip())
        if line.startswith("xdpfw: running"):
            return True, out, proc
    stop(proc)
    return False, out, proc


def stop(proc) -> int:
    if proc.poll() is None:
        proc.terminate()
    try:
        rest, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        rest, _ = proc.communicate()
    return proc.returncode


def test_unit_capabilities_are_the_four_documented():
    assert sorted(unit_caps()) == ["CAP_BPF", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_PERFMON"]


def test_runs_unprivileged_with_exactly_the_unit_capabilities(lab):
    started, out, proc = start_with_caps(lab, unit_caps(), 9651)
    try:
        assert started, "\n".join(out)
        # the process really is unprivileged: uid 65534, no capability beyond the set
        # (ip netns exec, prlimit and setpriv each exec the next: proc.pid is python)
        status = Path(f"/proc/{proc.pid}/status").read_text()
        assert "\nUid:\t65534\t65534\t65534\t65534\n" in status
        eff = int(re.search(r"^CapEff:\s*([0-9a-f]+)", status, re.M).group(1), 16)
        allowed = {39, 12, 38, 13, 14}      # the unit's four (+ CAP_IPC_LOCK stand-in, see above)
        assert {b for b in range(64) if eff >> b & 1} <= allowed
        assert ping(lab, lab.client.ns, lab.server.ip, count=3) == 3
        assert ping(lab, lab.server.ns, lab.client.ip, count=3) == 3
    finally:
        rc = stop(proc)
    assert rc == 0, "\n".join(out)
    # stopped cleanly: XDP detached
    res = run_in(lab.fw_ns, ["ip", "link", "show", lab.side_a])
    assert "xdp" not in res.stdout


# What fails without each one (the kernel's words, as bcc, the verifier and libxdp report them).
WITHOUT = {
    "CAP_BPF": "could not open bpf map",                  # the first map bcc creates
    "CAP_NET_ADMIN": "could not open bpf map: peer_map",  # the DEVMAP needs CAP_NET_ADMIN
    "CAP_PERFMON": "prohibited for !root",                # verifier: packet-pointer arithmetic
    "CAP_NET_RAW": "Operation not permitted",             # AF_XDP socket creation
}


@pytest.mark.parametrize("missing", sorted(WITHOUT))
def test_each_capability_is_needed(lab, missing):
    caps = [c for c in unit_caps() if c != missing]
    started, out, proc = start_with_caps(lab, caps, 9652)
    if started:
        stop(proc)
    assert not started, f"started without {missing}:\n" + "\n".join(out)
    assert proc.returncode not in (None, 0)
    text = "\n".join(out)
    assert "cannot start" in text and WITHOUT[missing] in text, text
    if missing == "CAP_NET_RAW":
        assert "AF_XDP on" in text, text
