"""Real captures: every Ethernet frame decodes identically in Cython and in the reference.

The corpus (../shared/corpus/pcaps, see its README and pcap-inventory.tsv) lists 572
captures, the 48 MB benchmark capture bench/mixed-realistic.pcap among them; all of them
are used, including the deliberately malformed and fuzzed ones. Frames of other link
types (raw IP, Linux cooked capture, BSD loopback, ...) are skipped and counted: the
decoder's input is an Ethernet frame, as AF_XDP delivers it. Together this runs in a few
seconds, so nothing is sampled.
"""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from xdpfw._fast import decode as fast
from xdpfw.ref import decode as ref
from xdpfw.ref.pcap import LINKTYPE_ETHERNET, read_packets

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
PCAPS = CORPUS / "pcaps"
INVENTORY = PCAPS / "pcap-inventory.tsv"
BENCH = "bench/mixed-realistic.pcap"
MALFORMED_WORDS = ("fuzz", "malformed", "invalid")


def _inventory() -> list[dict]:
    if not INVENTORY.exists():
        return []
    with INVENTORY.open(newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


ROWS = _inventory()


def test_corpus_selection():
    assert INVENTORY.exists(), f"the shared corpus is missing: {INVENTORY} (see {CORPUS}/README.md)"
    files = [r["file"] for r in ROWS]
    assert BENCH in files
    malformed = [f for f in files if any(w in f for w in MALFORMED_WORDS)]
    assert len(malformed) >= 15, malformed
    ethernet = sum(int(r["packets"]) for r in ROWS if r["dlt"] == "1")
    other = sum(int(r["packets"]) for r in ROWS if r["dlt"] != "1")
    print(f"{len(files)} captures: {ethernet} Ethernet frames compared, {other} frames of other "
          "link types skipped")


@pytest.mark.parametrize("row", ROWS, ids=[r["file"] for r in ROWS])
def test_capture_decodes_identically(row):
    decoded = skipped = 0
    for i, (linktype, frame) in enumerate(read_packets(PCAPS / row["file"])):
        if linktype != LINKTYPE_ETHERNET:
            skipped += 1
            continue
        a, b = fast.decode_to_dict(frame), ref.decode_to_dict(frame)
        if a != b:
            diff = {k: (a[k], b[k]) for k in a if a[k] != b[k]}
            pytest.fail(f"packet {i + 1} ({frame.hex()}): (fast, ref) {diff}")
        decoded += 1
    assert decoded + skipped == int(row["packets"]), "the pcap reader lost packets"
    if row["dlt"] != "1":
        assert decoded == 0
    else:
        assert skipped == 0
