"""Load the real ET Open rulesets from ../shared/corpus (never copied into this repo).

The exact figures are in docs/RULES.md; here: no crash, a plausible number of rules
loaded (lower bounds measured, minus a margin), few errors each naming file:line, and
every skip naming a keyword.
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from xdpfw.rules import load_ruleset
from xdpfw.rules.keywords import REGISTRY
from xdpfw.rules.protocols import PROTOCOLS

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"

# (directory, rule files, loaded at least, skipped at least, at most this many errors)
SETS = [
    ("et-open", 51, 23800, 850, 3),
    ("et-open-2019-suricata-4.0", 45, 18000, 900, 10),
]


@pytest.mark.parametrize("name,files,min_loaded,min_skipped,max_errors", SETS)
def test_et_open(name, files, min_loaded, min_skipped, max_errors):
    d = CORPUS / name
    assert d.is_dir(), f"corpus missing: {d}"
    start = time.perf_counter()
    rs = load_ruleset(d, classification=d / "classification.config")
    elapsed = time.perf_counter() - start
    assert rs.files == files
    assert len(rs.rules) >= min_loaded
    assert rs.skipped_rules >= min_skipped
    assert len(rs.rules) + rs.failed_rules + rs.skipped_rules > 19000
    assert len(rs.errors) <= max_errors
    for e in rs.errors:
        assert e.path.startswith(str(d)) and e.line > 0 and e.col > 0, str(e)
        assert str(e).startswith(f"{e.path}:{e.line}:{e.col}: error: ")
    # every skip names a keyword the registry or the protocol table knows, or an
    # unknown one as written in the rule
    assert sum(rs.skipped.values()) >= rs.skipped_rules
    for w in rs.warnings:
        assert w.keyword and f"keyword '{w.keyword}'" in w.message or f"'{w.keyword}'" in w.message, str(w)
    for keyword in rs.skipped:
        known = keyword in REGISTRY or keyword.removeprefix("protocol:") in PROTOCOLS
        assert known or keyword.replace("_", "").replace(".", "").replace("-", "").isalnum(), keyword
    # what the engine supports today is actually loaded
    loaded_buffers = {c.buffer for r in rs.rules for c in r.contents}
    assert {"pkt_data", "http.uri", "dns.query"} <= loaded_buffers
    assert all(not r.unsupported for r in rs.rules)
    # "seconds, not minutes"; generous for slow CI machines
    assert elapsed < 60, f"{name} took {elapsed:.1f}s"


def test_et_open_2024_known_figures():
    """The figures quoted in docs/RULES.md (update both together)."""
    d = CORPUS / "et-open"
    rs = load_ruleset(d, classification=d / "classification.config")
    assert rs.summary() == ("51 rule files processed. 23926 rules successfully loaded, "
                            "0 rules failed, 901 rules skipped")
    top = [k for k, _ in rs.skipped.most_common(4)]
    assert top == ["byte_test", "byte_jump", "protocol:smtp", "protocol:tcp-pkt"]
    ip_only = [r for r in rs.rules if r.is_ip_only(allow=("threshold",))]
    assert len(ip_only) >= 140  # the IP-list files (ciarmy, 3coresec, compromised, ...)


def test_et_open_2019_known_figures():
    """The 2019 figures quoted in docs/RULES.md: six rules Suricata rejects too."""
    d = CORPUS / "et-open-2019-suricata-4.0"
    rs = load_ruleset(d, classification=d / "classification.config")
    assert rs.summary() == ("45 rule files processed. 18494 rules successfully loaded, "
                            "6 rules failed, 970 rules skipped")
    assert sorted({e.message.split(":")[0] for e in rs.errors}) == [
        "keyword 'classtype'", "keyword 'pcre'", "keyword 'threshold'"]
    assert {e.sid for e in rs.errors if e.sid} >= {2002945, 2016867}
