"""Test layers: tests/unit (no privileges), tests/priv (root, BPF, namespaces).

Privileged tests never skip silently: when the machine cannot run them they FAIL with the
reason, unless XDPFW_SKIP_PRIV=1 is set explicitly (then they are reported as skipped).
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
sys.path.insert(0, str(Path(__file__).resolve().parent))

# The compile cache (xdpfw/detect/cache.py): every command the tests run (in process or as a
# subprocess, the daemon included) defaults to a directory of this session's own, created
# empty here and removed at the end, never /var/lib/xdpfw or ~/.cache: no run of the suite
# is faster or slower because of what an earlier run left. Tests about the cache use their
# own temporary directories.
_CACHE_DIR = tempfile.mkdtemp(prefix="xdpfw-test-cache-")
os.environ["XDPFW_CACHE_DIR"] = _CACHE_DIR


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_CACHE_DIR, ignore_errors=True)


def _priv_problem() -> str | None:
    if os.geteuid() != 0:
        return "not root"
    if not Path("/sys/fs/bpf").is_dir() or not os.path.ismount("/sys/fs/bpf"):
        return "bpffs is not mounted (scripts/setup.sh mounts it)"
    try:
        import bcc  # noqa: F401
    except ImportError:
        return "bcc is not importable (python3-bpfcc in a venv with system site packages)"
    return None


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/priv/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.priv)


def pytest_runtest_setup(item):
    if item.get_closest_marker("priv"):
        problem = _priv_problem()
        if problem:
            if os.environ.get("XDPFW_SKIP_PRIV") == "1":
                pytest.skip(f"privileged test skipped on request (XDPFW_SKIP_PRIV=1): {problem}")
            pytest.fail(f"privileged test cannot run here: {problem} "
                        "(set XDPFW_SKIP_PRIV=1 to skip explicitly)", pytrace=False)
