"""The one decision on which rules run (detect.ruleset.load_detection), used by run,
replay, check and reload: alert rules that cannot run are left out and named; a drop,
reject or pass rule that cannot run exactly refuses; --strict refuses on any."""
from __future__ import annotations

import pytest

from xdpfw.detect.ruleset import RulesNotEnforceable, load_detection

OK = 'alert tcp any any -> any any (msg:"ok"; content:"a"; sid:1;)\n'
# cannot run: raw payload mixed with an app buffer (engine), a back-reference (Hyperscan)
MIXED = '{a} http any any -> any any (msg:"m"; content:"x"; http.uri; content:"y"; sid:2;)\n'
BACKREF = '{a} tcp any any -> any any (msg:"b"; pcre:"/(a)\\1/"; sid:3;)\n'


def _load(tmp_path, text, **kw):
    f = tmp_path / "p.rules"
    f.write_text(text)
    return f, load_detection([str(f)], [], kernel_acl=True, **kw)


def test_alert_rules_that_cannot_run_are_left_out_and_named(tmp_path):
    f, det = _load(tmp_path, OK + MIXED.format(a="alert") + BACKREF.format(a="alert"))
    assert det.counts() == {"loaded": 1, "skipped": 2, "failed": 0}
    assert [p.split(": ")[0] for p in det.skipped] == [f"{f}:2", f"{f}:3"]
    assert "1 rules successfully loaded, 0 rules failed, 2 rules skipped" in det.summary


@pytest.mark.parametrize("action", ["drop", "reject", "pass"])
@pytest.mark.parametrize("bad", [MIXED, BACKREF])
def test_a_rule_that_must_be_enforced_refuses(tmp_path, action, bad):
    with pytest.raises(RulesNotEnforceable) as ei:
        _load(tmp_path, OK + bad.format(a=action) + MIXED.format(a="alert").replace("sid:2", "sid:9"))
    text = str(ei.value)
    f = tmp_path / "p.rules"
    assert f"{f}:2: error: sid:" in text        # the refused rule, named
    assert f"{f}:3: error: sid:9" in text        # and the alert rule that would be skipped
    assert text.splitlines()[-1].endswith("1 rule(s) that must run exactly (drop, reject, pass) cannot: "
                                          "nothing loaded")


def test_a_flowbits_setting_alert_rule_is_skipped_and_said(tmp_path):
    setter = 'alert tcp any any -> any any (msg:"s"; flowbits:set,x; pcre:"/(a)\\1/"; sid:4;)\n'
    checker = 'alert tcp any any -> any any (msg:"c"; flowbits:isset,x; content:"q"; sid:5;)\n'
    f, det = _load(tmp_path, setter + checker)
    assert det.counts()["skipped"] == 1 and det.skipped[0].startswith(f"{f}:1: error: sid:4")


def test_parse_errors_fail_an_alert_rule_and_refuse_a_drop_rule(tmp_path):
    bad = 'alert tcp any any -> any any (msg:"x"; content:; sid:6;)\n'
    f, det = _load(tmp_path, OK + bad)
    assert det.counts() == {"loaded": 1, "skipped": 0, "failed": 1} and det.failed[0].startswith(f"{f}:2:")
    with pytest.raises(RulesNotEnforceable, match=r"p\.rules:2:"):
        _load(tmp_path, OK + bad.replace("alert", "drop"))


def test_strict_refuses_on_any_and_a_missing_file_always(tmp_path):
    with pytest.raises(RulesNotEnforceable, match=r"--strict: 1 rule\(s\) cannot run: nothing loaded"):
        _load(tmp_path, OK + BACKREF.format(a="alert"), strict=True)
    with pytest.raises(RulesNotEnforceable, match="no such file"):
        load_detection([str(tmp_path / "nope.rules")], [], kernel_acl=True)


def test_replay_and_run_placements_agree_on_the_set(tmp_path):
    text = (OK + 'alert ip 198.18.0.9 any -> any any (msg:"h"; sid:7;)\n'
            + MIXED.format(a="alert") + BACKREF.format(a="alert"))
    _, run = _load(tmp_path, text)
    f = tmp_path / "p.rules"
    replay = load_detection([str(f)], [], kernel_acl=False)
    assert run.counts() == replay.counts() and run.skipped == replay.skipped
