"""Checks over the source tree itself (uvloop runs its linters as tests the same way)."""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEST_FILES = sorted((ROOT / "tests").rglob("test_*.py"))


@pytest.mark.parametrize("path", TEST_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_duplicate_test_names(path):
    # A second `def test_x` in a module or class silently replaces the first.
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, (ast.ClassDef, ast.Module)):
            names = [n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
            dups = {n for n in names if names.count(n) > 1}
            assert not dups, f"{path.name}: {getattr(node, 'name', 'module')} defines {sorted(dups)} twice"


def test_hot_path_imports_nothing_from_the_control_plane():
    for path in (ROOT / "xdpfw" / "_fast").rglob("*.p[yx][xdi]"):
        tree_text = path.read_text()
        for forbidden in ("xdpfw.dataplane", "xdpfw.service", "xdpfw.tools", "xdpfw.rules", "prometheus_client",
                          "import json", "import logging"):
            assert forbidden not in tree_text, f"{path.relative_to(ROOT)} refers to {forbidden}"


# -- the planes: which package may import which ---------------------------------------------
#
#   _fast      the Cython hot path: no Python plane at all
#   dataplane  the runtime library (XDP program, appliance, stats): below detection and the
#              service; the engine reaches it through ApplianceConfig.engine_factory
#   detect, rules  rule language and rule placement: may use dataplane.shared and AclTables
#              (the format the kernel ACL takes), never the service or the tools
#   service    the daemon and its outputs: never the tools (lab, doctor, status...)
#   tools      anything
# xdpfw/cheader.py and xdpfw/ref/ are helpers anyone may use.
FORBIDDEN = {
    "_fast": ("dataplane", "detect", "rules", "service", "tools"),
    "dataplane": ("detect", "rules", "service", "tools"),
    "detect": ("service", "tools"),
    "rules": ("service", "tools"),
    "service": ("tools",),
}
ALLOWED: dict[tuple[str, str], str] = {
    # (importing module, imported module): why. Empty: no plane needs an exception today.
}
_CYTHON_IMPORT = re.compile(r"^\s*(?:from\s+(xdpfw(?:\.\w+)*)\s+c?import\s+([\w, ]+)|c?import\s+(xdpfw(?:\.\w+)*))",
                            re.M)


def imported_modules(path: Path) -> set[str]:
    """Every xdpfw module `path` imports, at the top, in functions or under TYPE_CHECKING."""
    out = set()
    if path.suffix == ".py":
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                out.add(node.module)
                out.update(f"{node.module}.{a.name}" for a in node.names)  # from xdpfw import service
    else:  # Cython: not Python syntax; import statements are
        for m in _CYTHON_IMPORT.finditer(path.read_text()):
            if m.group(1):
                out.add(m.group(1))
                out.update(f"{m.group(1)}.{n.strip()}" for n in m.group(2).split(",") if n.strip())
            else:
                out.add(m.group(3))
    return {m for m in out if m == "xdpfw" or m.startswith("xdpfw.")}


def plane_violations(plane: str) -> list[str]:
    files = [p for p in sorted((ROOT / "xdpfw" / plane).rglob("*")) if p.suffix in (".py", ".pyx", ".pxd", ".pxi")]
    assert files, f"xdpfw/{plane} holds no source"
    bad = []
    for path in files:
        mod = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for imp in sorted(imported_modules(path)):
            for other in FORBIDDEN[plane]:
                pkg = f"xdpfw.{other}"
                if (imp == pkg or imp.startswith(pkg + ".")) and (mod, imp) not in ALLOWED:
                    bad.append(f"{path.relative_to(ROOT)} imports {imp} (xdpfw/{plane} must not use xdpfw/{other})")
    return bad


@pytest.mark.parametrize("plane", sorted(FORBIDDEN))
def test_planes_import_only_what_they_may(plane):
    bad = plane_violations(plane)
    assert not bad, "\n".join(bad)


def test_the_plane_check_sees_a_violation(tmp_path, monkeypatch):
    # The check above must fail on a violation: one planted in a copy of dataplane/.
    import shutil

    root = tmp_path / "tree"
    shutil.copytree(ROOT / "xdpfw" / "dataplane", root / "xdpfw" / "dataplane")
    (root / "xdpfw" / "dataplane" / "oops.py").write_text("def f():\n    from xdpfw.service import metrics\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", root)
    assert plane_violations("dataplane") == [
        "xdpfw/dataplane/oops.py imports xdpfw.service (xdpfw/dataplane must not use xdpfw/service)",
        "xdpfw/dataplane/oops.py imports xdpfw.service.metrics (xdpfw/dataplane must not use xdpfw/service)"]


def test_control_package_is_gone():
    assert not list((ROOT / "xdpfw" / "control").glob("*.py")), "the old control package was split into the planes"
