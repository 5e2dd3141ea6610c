"""Checks over the source tree itself (uvloop runs its linters as tests the same way)."""
from __future__ import annotations

import ast
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
        for forbidden in ("xdpfw.dataplane", "xdpfw.service", "xdpfw.tools", "xdpfw.rules", "prometheus_client", "import json", "import logging"):
            assert forbidden not in tree_text, f"{path.relative_to(ROOT)} refers to {forbidden}"
