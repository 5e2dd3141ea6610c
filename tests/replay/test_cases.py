"""The evasion replay cases of tests/replay/cases/<case>/ through the CLI users run.

Each case directory holds input.pcap, test.rules and test.yaml (made by make_cases.py;
format in docs/TESTING.md). The runner runs ``python -m xdpfw replay input.pcap --rules
test.rules --eve <tmp> [args] --matcher hs|ac`` as a subprocess (every case with both payload
matchers, unless its args pick one), validates every EVE line against
xdpfw/service/eve_schema.json, and evaluates the checks:

- ``filter``: exactly ``count`` EVE records carry every field of ``match`` (dotted paths
  into nested objects; ``has-key`` / ``not-has-key`` name paths that must / must not be
  there);
- ``summary``: fields of the replay's summary line on stderr (packets, alerts, dropped,
  decode_errors, flows).

A check marked ``known-bug: <what is wrong>`` states the right behaviour that xdpfw does not
have yet: the runner asserts that it still fails (so the mark cannot go stale: the day it
passes, the test says to remove it) and reports it as a warning.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml

from eve_check import assert_eve_valid

HERE = Path(__file__).resolve().parent
CASES_DIR = HERE / "cases"
ROOT = HERE.parents[1]
CASE_NAMES = sorted(p.name for p in CASES_DIR.iterdir() if p.is_dir()) if CASES_DIR.is_dir() else []

TOP_KEYS = {"args", "checks"}
FILTER_KEYS = {"count", "match", "known-bug"}
SUMMARY_KEYS = {"packets", "alerts", "dropped", "decode_errors", "flows", "known-bug"}
SUMMARY_RE = re.compile(
    r"^replayed (?P<packets>\d+) packets from \d+ file\(s\) in [\d.]+ s: (?P<alerts>\d+) alerts, "
    r"(?P<dropped>\d+) packets (?:dropped|would have been dropped), (?P<decode_errors>\d+) decode errors, "
    r"(?P<flows>\d+) flows$", re.M)


class CaseError(ValueError):
    """A test.yaml the runner cannot evaluate."""


def load_case(d: Path) -> dict:
    for f in ("input.pcap", "test.rules", "test.yaml"):
        if not (d / f).is_file():
            raise CaseError(f"{d.name}: no {f}")
    doc = yaml.safe_load((d / "test.yaml").read_text())
    if not isinstance(doc, dict) or set(doc) - TOP_KEYS:
        raise CaseError(f"{d.name}/test.yaml: top-level keys must be among {sorted(TOP_KEYS)}")
    args = doc.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, (str, int)) for a in args):
        raise CaseError(f"{d.name}/test.yaml: args must be a list of strings")
    checks = doc.get("checks") or []
    if not isinstance(checks, list) or not checks:
        raise CaseError(f"{d.name}/test.yaml: checks must be a non-empty list")
    for c in checks:
        if not isinstance(c, dict) or len(c) != 1 or next(iter(c)) not in ("filter", "summary"):
            raise CaseError(f"{d.name}/test.yaml: a check is {{filter: ...}} or {{summary: ...}}, got {c!r}")
        kind, body = next(iter(c.items()))
        allowed = FILTER_KEYS if kind == "filter" else SUMMARY_KEYS
        if not isinstance(body, dict) or set(body) - allowed:
            raise CaseError(f"{d.name}/test.yaml: {kind} keys must be among {sorted(allowed)}, got {body!r}")
        if kind == "filter" and (not isinstance(body.get("count"), int) or not isinstance(body.get("match"), dict)):
            raise CaseError(f"{d.name}/test.yaml: a filter needs an integer count and a match mapping")
    return {"args": [str(a) for a in args], "checks": checks}


_MISSING = object()


def get_path(event: dict, path: str):
    cur = event
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return _MISSING
        cur = cur[part]
    return cur


def record_matches(event: dict, match: dict) -> bool:
    for key, want in match.items():
        if key in ("has-key", "not-has-key"):
            paths = want if isinstance(want, list) else [want]
            present = [get_path(event, p) is not _MISSING for p in paths]
            if (key == "has-key" and not all(present)) or (key == "not-has-key" and any(present)):
                return False
            continue
        got = get_path(event, key)
        # JSON equality: true is not 1
        if got is _MISSING or type(got) is not type(want) and (isinstance(got, bool) or isinstance(want, bool)):
            return False
        if got != want:
            return False
    return True


def check_failure(check: dict, events: list[dict], summary: dict[str, int] | None) -> str | None:
    """Why the check fails, or None."""
    kind, body = next(iter(check.items()))
    if kind == "filter":
        got = sum(1 for e in events if record_matches(e, body["match"]))
        if got != body["count"]:
            return f"filter {body['match']}: expected {body['count']} records, got {got}"
        return None
    if summary is None:
        return "no summary line on stderr"
    wrong = {k: (v, summary[k]) for k, v in body.items() if k != "known-bug" and summary[k] != v}
    if wrong:
        return "summary: " + ", ".join(f"{k} expected {w}, got {g}" for k, (w, g) in wrong.items())
    return None


def evaluate(checks: list[dict], events: list[dict], summary: dict[str, int] | None) -> tuple[list[str], list[str]]:
    """(failures, known bugs still present). A known-bug check that passes is a failure."""
    failures, known = [], []
    for check in checks:
        body = next(iter(check.values()))
        why = check_failure(check, events, summary)
        bug = body.get("known-bug")
        if bug is None:
            if why:
                failures.append(why)
        elif why is None:
            failures.append(f"known-bug check passes now, remove its known-bug mark: {check}")
        else:
            known.append(f"{bug} [{why}]")
    return failures, known


def replay(d: Path, args: list[str], eve: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "xdpfw", "replay", str(d / "input.pcap"), "--rules", str(d / "test.rules"),
         "--eve", str(eve), *args], capture_output=True, text=True, timeout=120, cwd=ROOT)


def parse_summary(stderr: str) -> dict[str, int] | None:
    m = SUMMARY_RE.search(stderr)
    return {k: int(v) for k, v in m.groupdict().items()} if m else None


def test_there_are_cases():
    assert len(CASE_NAMES) >= 20, CASE_NAMES


@pytest.mark.parametrize("matcher", ["hs", "ac"])
@pytest.mark.parametrize("name", CASE_NAMES)
def test_case(name, matcher, tmp_path):
    """Every case with both payload matchers (the rules are literal), unless its args pick one."""
    d = CASES_DIR / name
    case = load_case(d)
    args = case["args"] if "--matcher" in case["args"] else [*case["args"], "--matcher", matcher]
    eve = tmp_path / "eve.json"
    res = replay(d, args, eve)
    assert res.returncode == 0, f"xdpfw replay exited {res.returncode}:\n{res.stderr}"
    assert eve.is_file(), "xdpfw replay --eve wrote no file"
    events = assert_eve_valid(eve, min_lines=0)
    summary = parse_summary(res.stderr)
    assert summary is not None, f"no summary line in stderr:\n{res.stderr}"
    failures, known = evaluate(case["checks"], events, summary)
    assert not failures, "\n".join(failures) + "\nEVE:\n" + "\n".join(json.dumps(e) for e in events) + \
        "\nstderr:\n" + res.stderr
    for k in known:
        warnings.warn(f"{name} ({matcher}): known bug: {k}")


def test_generator_reproduces_the_committed_cases():
    import make_cases

    built = make_cases.build()
    assert sorted(built) == CASE_NAMES, "case directories and make_cases.CASES differ"
    for name, case in built.items():
        for fname, data in case.files().items():
            assert (CASES_DIR / name / fname).read_bytes() == data, \
                f"{name}/{fname} differs from what make_cases.py makes now: re-run it (or fix it)"
    # and twice in a row gives the same bytes (no clock, no randomness)
    again = make_cases.build(["ip-fragments-ipv6", "partial-overlap"])
    for name, case in again.items():
        assert case.files() == built[name].files()


# --- the runner's own logic, on made-up records -------------------------------------------

ALERT = {"event_type": "alert", "pcap_cnt": 6, "src_port": 40000, "alert": {"signature_id": 1, "action": "allowed"},
         "vlan": [42], "flow": {"pkts_toserver": 4}}


def test_filters_count_records_matching_every_dotted_field():
    events = [ALERT, {**ALERT, "pcap_cnt": 7}, {"event_type": "drop", "pcap_cnt": 6}]
    ok = {"filter": {"count": 2, "match": {"event_type": "alert", "alert.signature_id": 1}}}
    assert check_failure(ok, events, None) is None
    one = {"filter": {"count": 1, "match": {"alert.signature_id": 1, "pcap_cnt": 7}}}
    assert check_failure(one, events, None) is None
    wrong_count = {"filter": {"count": 1, "match": {"event_type": "alert"}}}
    assert "expected 1 records, got 2" in check_failure(wrong_count, events, None)
    assert check_failure({"filter": {"count": 0, "match": {"alert.signature_id": 2}}}, events, None) is None
    assert check_failure({"filter": {"count": 1, "match": {"alert.nope": 1}}}, events, None)
    assert check_failure({"filter": {"count": 2, "match": {"vlan": [42]}}}, events, None) is None
    assert check_failure({"filter": {"count": 2, "match": {"flow.pkts_toserver": True}}}, events, None)
    assert check_failure({"filter": {"count": 2, "match": {"has-key": "vlan"}}}, events, None) is None
    assert check_failure({"filter": {"count": 1, "match": {"not-has-key": ["alert", "vlan"]}}}, events, None) is None


def test_summary_checks_and_known_bugs():
    stderr = ("replayed 10 packets from 1 file(s) in 0.01 s: 1 alerts, 2 packets dropped, "
              "0 decode errors, 1 flows\n")
    s = parse_summary(stderr)
    assert s == {"packets": 10, "alerts": 1, "dropped": 2, "decode_errors": 0, "flows": 1}
    assert check_failure({"summary": {"packets": 10, "dropped": 2}}, [], s) is None
    assert "dropped expected 1, got 2" in check_failure({"summary": {"dropped": 1}}, [], s)
    bug = {"filter": {"count": 1, "match": {"event_type": "drop"}, "known-bug": "no drop events"}}
    assert evaluate([bug], [ALERT], s) == ([], ["no drop events [filter {'event_type': 'drop'}: "
                                                "expected 1 records, got 0]"])
    failures, known = evaluate([bug], [{"event_type": "drop"}], s)
    assert known == [] and "remove its known-bug mark" in failures[0]


def test_bad_case_files_are_refused(tmp_path):
    d = tmp_path / "c"
    d.mkdir()
    (d / "input.pcap").write_bytes(b"")
    (d / "test.rules").write_text("")
    for text, why in [("checks: []\n", "non-empty"), ("chekcs: []\n", "top-level"),
                      ("checks:\n- filter: {count: 1, match: {a: 1}, cuont: 2}\n", "filter keys"),
                      ("checks:\n- filter: {match: {a: 1}}\n", "integer count"),
                      ("checks:\n- stats: {a: 1}\n", "{filter: ...}")]:
        (d / "test.yaml").write_text(text)
        with pytest.raises(CaseError, match=re.escape(why)):
            load_case(d)
