"""--matcher ac gives the same alerts as Hyperscan for literal rules: every ET Open rule the
Aho-Corasick backend can express, replayed over the benchmark capture with both."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from xdpfw.detect.ruleset import build_detection
from xdpfw.service.replay import replay_files
from xdpfw.detect.compile import compile_literals
from xdpfw.rules import load_ruleset
from xdpfw.rules.model import PAYLOAD

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
PCAP = CORPUS / "pcaps" / "bench" / "mixed-realistic.pcap"


@pytest.fixture(scope="module")
def literal_rules():
    rs = load_ruleset([str(CORPUS / "et-open")], strict=False)
    rules = [r for r in rs.rules if r.proto in ("tcp", "udp", "ip") and set(r.buffers()) == {PAYLOAD}]
    ok = []
    for r in rules:
        modes = ["stream"] if r.proto == "tcp" else ["block"] if r.proto == "udp" else ["stream", "block"]
        if all(not compile_literals([r], PAYLOAD, m).errors for m in modes):
            ok.append(r)
    assert len(ok) > 300   # most ET pkt_data rules are plain contents
    return ok


def _alerts(rules, matcher):
    det = build_detection(rules, kernel_acl=False, matcher=matcher)
    out = []
    stats = replay_files([str(PCAP)], det, out.append, ips=False)
    # flow ids are random per engine; everything else must agree
    keys = sorted((e["pcap_cnt"], e["alert"]["signature_id"], e["src_ip"], e.get("src_port"), e["dest_ip"],
                   e.get("dest_port"), e["direction"]) for e in map(json.loads, out))
    return det, keys, stats


def test_ac_and_hyperscan_alert_alike_on_the_benchmark_capture(literal_rules):
    det_hs, hs, st_hs = _alerts(literal_rules, "hs")
    det_ac, ac, st_ac = _alerts(literal_rules, "ac")
    assert not det_ac.problems and len(det_ac.tables.sigs) == len(det_hs.tables.sigs)
    assert st_hs["packets"] == st_ac["packets"] > 100_000
    assert hs, "the capture should raise some literal-rule alerts"
    assert hs == ac
