"""README's main job, `xdpfw lab`, end to end: every check passes and nothing is left."""
from __future__ import annotations

import os
import subprocess
import sys

from xdpfw.tools.netns import netns_exists


def test_lab_command_runs_clean():
    prefix = f"xtlab{os.getpid() % 10000}"
    res = subprocess.run([sys.executable, "-m", "xdpfw", "lab", "--transfer-mb", "5", "--prefix", prefix],
                         capture_output=True, text=True, timeout=300)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert "lab OK" in out and "FAIL" not in out, out
    assert "sid:9000003 blocked" in out  # the payload rule fired inline and was logged to EVE
    assert "[http] sid:9000004 blocked" in out  # the HTTP rule (method + URI of one request)
    assert not any(netns_exists(f"{prefix}-{n}") for n in ("client", "server", "fw"))
