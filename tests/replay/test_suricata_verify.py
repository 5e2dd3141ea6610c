"""The suricata-verify cases of ../shared/corpus/suricata-verify as a test layer.

Each case: its rules through the rule loader and the detection build (no kernel: every
rule in the engine), its capture through `xdpfw replay`'s code path, every EVE line
validated against our schema, then each of the case's alert/drop checks ("exactly N
events match these fields") evaluated on our output. `--simulate-ips` cases run in IPS
mode.

A case that cannot pass yet is listed in CANNOT_PASS_YET with the reason, and the test
checks that it fails for exactly that reason, so the list cannot go stale silently: the
day a case passes, its entry must go. docs/TESTING.md carries the same list.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from eve_check import assert_eve_valid
from xdpfw.detect.ruleset import build_detection
from xdpfw.service.replay import replay_files
from xdpfw.rules import load_ruleset

SV = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "suricata-verify"
CASES = json.loads((SV / "manifest.json").read_text())["tests"]

# case -> (a substring of the refusal or mismatch it fails with, why). docs/TESTING.md
# carries the same list.
MIXED = ("mixes packet payload", "a rule with raw payload contents and app-layer buffers: not in this "
                                 "build yet")
CANNOT_PASS_YET = {
    "bug-2158": MIXED,
    "uricontent/detect-uricontent-03": MIXED,
    "bug-5464-verdict-02": ("expected 2, got 3", "Suricata matches an IP-only rule once per flow direction "
                                                 "(ours fires on each handshake packet) and logs an alert "
                                                 "with verdict pass on the packet its pass rule settles; ours "
                                                 "silences the rest of that packet (the flow is passed from "
                                                 "there on in both)"),
    "detect-engine-proto": ("expected 3, got 6", "an `alert http` rule without buffers fires per packet of the "
                                                 "flow here, per transaction in Suricata"),
    "detect-http-uri/UriTestSig03": ("enclosed in double quotes",
                                     "Suricata 8's unquoted pcre form is not accepted by the rule parser"),
    "bug-8021-alert-max-verdict-01": ("8002107", "needs the case's suricata.yaml: packet-alert-max 6 and a "
                                                 "custom action-order are not configurable yet"),
    "util-action-tests/util-action-06": ("signature_id': 3", "needs the case's suricata.yaml: action-order "
                                                            "drop, pass, ... is not configurable yet"),
    "bug-4663-02": ("'event_type': 'drop'", "Suricata drops here although an IP-only pass rule matches "
                                             "(IP-only rule ordering); our engine applies pass first"),
    "bug-5162": ("signature_id': 1}: expected 2, got 0", "SMB over TCP 445: no alert yet, not diagnosed"),
    "tcp-split-handshake-02-5whs": ("tcp-stream", "protocol:tcp-stream / tcp-pkt keywords not supported"),
}


def _get(event: dict, path: str):
    cur = event
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return KeyError
        cur = cur[part]
    return cur


def run_case(case) -> tuple[list[str], list[dict]]:
    """(problems, events). Problems are refusals; events are the EVE records written."""
    rs = load_ruleset([str(SV / f) for f in case["rule_files"]], strict=True)
    problems = [str(e) for e in rs.errors]
    det = build_detection(rs.rules, kernel_acl=False)
    problems += det.problems
    if problems:
        return problems, []
    lines: list[str] = []
    try:
        replay_files([SV / case["pcap"]], det, lines.append, ips=case["simulate_ips"])
    except ValueError as e:  # a capture the replay cannot read (link type)
        return [str(e)], []
    assert_eve_valid(lines, min_lines=0)
    return [], [json.loads(line) for line in lines]


def mismatches(case, events) -> list[str]:
    out = []
    for check in case["alert_checks"]:
        want = check["count"]
        fields = {k: v for k, v in check.items() if k != "count"}
        got = sum(1 for e in events if all(_get(e, k) == v for k, v in fields.items()))
        if got != want:
            out.append(f"{fields}: expected {want}, got {got}")
    return out


@pytest.mark.parametrize("case", CASES, ids=[c["test"] for c in CASES])
def test_suricata_verify_case(case):
    problems, events = run_case(case)
    failures = problems or mismatches(case, events)
    known = CANNOT_PASS_YET.get(case["test"])
    if known is None:
        assert not failures, "\n".join(failures)
    else:
        assert failures, f"{case['test']} passes now: remove it from CANNOT_PASS_YET"
        assert any(known[0] in f for f in failures), \
            f"{case['test']} fails for another reason than '{known[1]}':\n" + "\n".join(failures)
