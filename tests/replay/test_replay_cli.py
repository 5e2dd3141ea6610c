"""`xdpfw replay` as an operator runs it: EVE on stdout or a file, threshold and
classification files, refusal of rules it cannot run."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from eve_check import assert_eve_valid

SV = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "suricata-verify" / "tests"
SIP = SV / "sip-body-frames" / "public-cloudshark-sip-s0.pcap"   # 10 UDP packets


def replay(*args):
    return subprocess.run([sys.executable, "-m", "xdpfw", "replay", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_threshold_and_classification_files(tmp_path):
    rules = tmp_path / "t.rules"
    rules.write_text('alert udp any any -> any any (msg:"u"; classtype:bad-unknown; sid:1;)\n')
    thr = tmp_path / "threshold.config"
    thr.write_text("event_filter gen_id 1, sig_id 1, type limit, track by_rule, count 2, seconds 60\n")
    cls = tmp_path / "classification.config"
    cls.write_text("config classification: bad-unknown,Operator Words,1\n")
    plain = replay(SIP, "--rules", rules)
    assert plain.returncode == 0, plain.stderr
    assert len(assert_eve_valid(plain.stdout.splitlines())) == 10
    eve = tmp_path / "eve.json"
    res = replay(SIP, "--rules", rules, "--threshold", thr, "--classification", cls, "--eve", eve)
    assert res.returncode == 0, res.stderr
    events = [json.loads(x) for x in eve.read_text().splitlines()]
    assert len(events) == 2
    assert {e["alert"]["category"] for e in events} == {"Operator Words"}
    assert {e["alert"]["severity"] for e in events} == {1}
    assert [e["pcap_cnt"] for e in events] == [1, 2]


def test_refuses_rules_it_cannot_run(tmp_path):
    rules = tmp_path / "t.rules"
    rules.write_text('alert udp any any -> any any (msg:"ok"; sid:1;)\n'
                     'alert http any any -> any any (msg:"mixed"; content:"x"; http.uri; content:"y"; sid:2;)\n')
    res = replay(SIP, "--rules", rules)
    assert res.returncode == 1
    assert f"{rules}:2: error: sid:2" in res.stderr and "mixes packet payload" in res.stderr
    assert res.stdout == ""  # nothing replayed with a rule it would have ignored
