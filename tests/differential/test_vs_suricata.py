"""Detection parity with Suricata 7 on the whole public corpus, ET Open 2024.

Every capture of ../shared/corpus/pcaps (570 readable of 571) runs through Suricata 7
(bookworm-backports, unix-socket mode, one fresh flow table per capture) and through
xdpfw's replay engine with the same rules and variables; their alert keys (signature,
protocol, addresses, ports) are compared on the rules xdpfw runs. Every difference must be
listed, with its reason, in expected.json, and every listed difference must still occur:
a new miss or false alert fails, and so does a fix that leaves its line behind.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.differential import compare, oracle

HERE = Path(__file__).resolve().parent
EXPECTED = json.loads((HERE / "expected.json").read_text())


def _per_source_thresholded_sids() -> set[int]:
    """Signatures whose alerts a `threshold: type both|limit` counts (ET Open's text)."""
    sids = set()
    for f in compare.ET_OPEN.glob("*.rules"):
        for line in f.read_text(errors="replace").splitlines():
            if "threshold:" in line and re.search(r"threshold:\s*type\s*(both|limit)", line):
                m = re.search(r"\bsid:\s*(\d+)", line)
                if m:
                    sids.add(int(m.group(1)))
    return sids


def _entry(capture: str, side: str, key) -> tuple:
    return (capture, side, tuple(key))


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    assert oracle.suricata_version().startswith("7."), "the oracle must be Suricata 7"
    rules = [str(f) for f in sorted(compare.ET_OPEN.glob("*.rules"))]
    return compare.compare(compare.corpus_pcaps(), rules,
                           classification=str(compare.ET_OPEN / "classification.config"),
                           workdir=tmp_path_factory.mktemp("oracle"))


def test_every_difference_is_listed_with_its_reason(report):
    print("\n" + report.summary())
    got = {_entry(d["capture"], d["side"], d["key"]) for d in report.differences()}
    listed = {_entry(d["capture"], d["side"], d["key"]): d["reason"] for d in EXPECTED["differences"]}
    assert all(r in EXPECTED["reasons"] for r in listed.values())
    # Rules thresholded per host ('both' / 'limit', by_src / by_dst) are compared in the
    # summary only: Suricata's unix-socket mode keeps its host table, and with it these
    # thresholds' counts, across captures, and when that state expires depends on its
    # timing; CI runs saw such alerts move or appear (WebattackRCE, gnutella,
    # targusdataspeed). Their listed entries stay as the record of what a single run gives.
    counted = _per_source_thresholded_sids()
    got = {k for k in got if k[2][0] not in counted}
    listed = {k: r for k, r in listed.items() if k[2][0] not in counted}
    new = sorted(got - set(listed), key=str)
    stale = sorted(set(listed) - got, key=str)
    assert not new, "differences not in expected.json (side = who alerted):\n" + "\n".join(map(str, new))
    assert not stale, "listed in expected.json but no longer seen (remove them):\n" + "\n".join(map(str, stale))


def test_recall_and_precision(report):
    assert report.common > 500, "too few alerts in common: is the corpus or the rule set missing?"
    assert report.recall >= EXPECTED["minimum"]["recall"], report.summary()
    assert report.precision >= EXPECTED["minimum"]["precision"], report.summary()


def test_every_capture_is_read(report):
    assert report.captures == len(compare.corpus_pcaps()) > 500
    unread = {name: why for name, why in report.unreadable.items()}
    assert set(unread) == set(EXPECTED["unreadable"]), unread
