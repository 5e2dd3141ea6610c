"""Loading rule files: comments, multi-line rules, error locations, skips, duplicates,
classification.config and threshold.config."""
from __future__ import annotations

from pathlib import Path

import pytest

from xdpfw.rules import Action, RuleError, load_ruleset, parse_rule
from xdpfw.rules.classification import DEFAULT_CLASSIFICATIONS, parse_classification_text
from xdpfw.rules.lexer import logical_rules, split_header, split_options
from xdpfw.rules.model import action_sort_key
from xdpfw.rules.threshold import SuppressEntry, ThresholdEntry, parse_threshold_text

DATA = Path(__file__).parent / "data" / "rules"


def test_good_file_loads_every_rule():
    rs = load_ruleset(DATA / "good.rules")
    assert rs.errors == [] and rs.warnings == []
    assert [r.sid for r in rs.rules] == [1000001, 1000002, 1000003, 1000004, 1000005]
    assert rs.files == 1
    assert rs.summary() == "1 rule files processed. 5 rules successfully loaded, 0 rules failed, 0 rules skipped"
    by_sid = {r.sid: r for r in rs.rules}
    assert by_sid[1000001].line == 3 and by_sid[1000002].line == 5
    assert by_sid[1000003].line == 7 and by_sid[1000003].action == "pass"
    multi = by_sid[1000004]
    assert multi.line == 8  # first physical line of the rule
    assert multi.msg == "fixture multi-line"
    assert multi.contents[0].pattern == b"/admin" and multi.contents[0].buffer == "http.uri"
    assert by_sid[1000005].action is Action.REJECT and by_sid[1000005].priority == 1
    assert by_sid[1000001].classtype == "web-application-activity" and by_sid[1000001].priority == 2
    assert by_sid[1000001].rev == 2 and by_sid[1000002].rev == 1 and by_sid[1000002].gid == 1
    assert rs.by_id()[(1, 1000005)] is by_sid[1000005]


def test_bad_rule_among_good_ones():
    rs = load_ruleset(DATA / "mixed.rules")
    path = str(DATA / "mixed.rules")
    assert [r.sid for r in rs.rules] == [2000001, 2000003, 2000008]
    errors = [str(e) for e in rs.errors]
    assert errors[0] == f"{path}:2:62: error: keyword 'depth': value 'x' is not an integer"
    assert errors[1] == f"{path}:4:11: error: unknown variable $FOO in source address"
    assert errors[2] == (f"{path}:7:1: error: duplicate sid:2000001 (gid 1); first defined at {path}:1")
    assert len(errors) == 3
    assert rs.errors[0].keyword == "depth" and rs.errors[0].line == 2 and rs.errors[0].col == 62
    assert [e.sid for e in rs.errors] == [2000002, 2000004, 2000001]
    warnings = [str(w) for w in rs.warnings]
    assert warnings == [
        f"{path}:5:62: warning: rule sid:2000005 skipped: keyword 'byte_test' is not supported",
        f"{path}:6:66: warning: rule sid:2000006 skipped: keyword 'frobnicate' is not supported",
        f"{path}:8:57: warning: rule sid:2000007 skipped: keyword 'tls.cert_fingerprint' is not supported",
    ]
    assert rs.skipped == {"byte_test": 1, "frobnicate": 1, "tls.cert_fingerprint": 1}
    assert rs.summary() == "1 rule files processed. 3 rules successfully loaded, 3 rules failed, 3 rules skipped"


def test_strict_turns_skips_into_errors():
    rs = load_ruleset(DATA / "mixed.rules", strict=True)
    assert rs.warnings == [] and rs.skipped_rules == 0 and rs.failed_rules == 6
    strict = [e for e in rs.errors if "skipped" in e.message]
    assert len(strict) == 3 and all(e.severity == "error" for e in strict)


def test_directory_loads_sorted_rules_files_only():
    rs = load_ruleset([DATA / "dir"])
    assert rs.files == 2 and [r.sid for r in rs.rules] == [3000001, 3000002]
    assert rs.errors == []


def test_missing_path_is_an_error_not_an_exception():
    rs = load_ruleset([DATA / "nope.rules", DATA / "dir" / "a.rules"])
    assert [r.sid for r in rs.rules] == [3000001]
    assert len(rs.errors) == 1 and "no such file" in rs.errors[0].message


def test_duplicate_sid_across_files_and_gid_distinguishes(tmp_path):
    (tmp_path / "a.rules").write_text('alert ip any any -> any any (msg:"a"; sid:7;)\n')
    (tmp_path / "b.rules").write_text('alert ip any any -> any any (msg:"b"; sid:7;)\n'
                                      'alert ip any any -> any any (msg:"c"; sid:7; gid:3;)\n')
    rs = load_ruleset(tmp_path)
    assert [(r.gid, r.sid, r.msg) for r in rs.rules] == [(1, 7, "a"), (3, 7, "c")]
    (err,) = rs.errors
    assert err.path.endswith("b.rules") and err.line == 1
    assert f"first defined at {tmp_path / 'a.rules'}:1" in err.message


def test_never_raises_on_garbage(tmp_path):
    f = tmp_path / "junk.rules"
    f.write_bytes(b"\xff\xfe garbage\nalert\n(\n)\nalert tcp any any -> any any (sid:1\n"
                  b'alert tcp any any -> any any (msg:"\xc3\xa9t\xe9"; content:"\xe9"; sid:2;)\n')
    rs = load_ruleset(f)
    assert rs.failed_rules == 5 and [r.sid for r in rs.rules] == [2]
    assert rs.rules[0].contents[0].pattern == b"\xe9"  # file bytes, not re-encoded
    assert all(e.path == str(f) and e.line >= 1 for e in rs.errors)


def test_logical_rules_and_comments():
    text = ("# comment\n\n   # indented comment\n"
            "alert ip any any -> any any (msg:\"a\"; \\\n"
            "  sid:1;)\n"
            "# alert ip any any -> any any (sid:2;)\n"
            "alert ip any any -> any any (msg:\"x\\\\\"; sid:3;)  \\  \n"
            "\n")
    rules = list(logical_rules(text))
    assert [(r.line, r.text) for r in rules] == [
        (4, 'alert ip any any -> any any (msg:"a";   sid:1;)'),
        (7, 'alert ip any any -> any any (msg:"x\\\\"; sid:3;)  '),
    ]


def test_option_splitting_and_escapes():
    opts = list(split_options(r'msg:"a\;b"; content:"x\"y"; nocase; pcre:"/a\;/"; sid:1;', 0))
    assert [(o.name, o.value) for o in opts] == [
        ("msg", r'"a\;b"'), ("content", r'"x\"y"'), ("nocase", None), ("pcre", r'"/a\;/"'), ("sid", "1")]
    assert [o.col for o in opts] == [0, 12, 28, 36, 50]
    assert split_header("alert tcp [1.2.3.4, 5.6.7.8] any -> any any") == [
        ("alert", 0), ("tcp", 6), ("[1.2.3.4, 5.6.7.8]", 10), ("any", 29), ("->", 33), ("any", 36), ("any", 40)]
    r = parse_rule(r'alert tcp any any -> any any (msg:"semi\; quote\" back\\slash"; content:"a\;\"\\\:b"; sid:1;)')
    assert r.msg == 'semi; quote" back\\slash'
    assert r.contents[0].pattern == b'a;"\\:b'


@pytest.mark.parametrize("rule,col,message", [
    ('alert tcp any any -> any any (msg:"x"; sid:1;', 45, "rule options must end with ')'"),
    ("alert tcp any any -> any any msg sid", 36, "missing '(' before the rule options"),
    ('alert tcp any any -> any (sid:1;)', 1, "rule header needs 7 fields"),
    ('alrt tcp any any -> any any (sid:1;)', 1, "unknown action 'alrt'"),
    ('alert tcpx any any -> any any (sid:1;)', 7, "unknown protocol 'tcpx'"),
    ('alert tcp any any <- any any (sid:1;)', 19, "invalid direction '<-'"),
    ('alert tcp any any -> any any (msg:"x";)', 30, "rule has no sid"),
    ('alert tcp any any -> any any (msg:"x"; sid:1; sid:2;)', 47, "keyword 'sid': 'sid' given more than once"),
    ('alert tcp any any -> any any (sid:1; msg:"x")', 38, "option 'msg:\"x\"' is not terminated by ';'"),
    ('alert tcp [1.2.3.4,!$NOPE] any -> any any (sid:1;)', 21, "unknown variable $NOPE in source address"),
    ('alert tcp any 99999 -> any any (sid:1;)', 15, "port 99999 out of range 0-65535 in source port"),
    ('alert tcp any any -> any any (nocase; sid:1;)', 31, "keyword 'nocase': needs a preceding content"),
    ('alert tcp any any -> any any (content:"a"; nocase:1; sid:1;)', 44, "keyword 'nocase': takes no value"),
    ('alert tcp any any -> any any (content; sid:1;)', 31, "keyword 'content': needs a value"),
])
def test_rule_errors_have_columns(rule, col, message):
    with pytest.raises(RuleError) as ei:
        parse_rule(rule)
    assert message in ei.value.message
    assert ei.value.col == col, str(ei.value)
    assert str(ei.value).startswith(f"<string>:1:{col}: error: ")


def test_parse_rule_unsupported_raises_warning_or_returns():
    text = 'alert tcp any any -> any any (content:"a"; byte_jump:1,0; sid:9;)'
    with pytest.raises(RuleError) as ei:
        parse_rule(text)
    assert ei.value.severity == "warning" and ei.value.keyword == "byte_jump"
    assert parse_rule(text, allow_unsupported=True).unsupported == ("byte_jump",)


def test_protocol_skip_and_action_order():
    rs = load_ruleset(DATA / "good.rules")
    ordered = sorted(rs.rules, key=action_sort_key)
    assert [r.action.value for r in ordered] == ["pass", "drop", "reject", "alert", "alert"]
    assert [r.action_order for r in ordered] == [0, 1, 2, 3, 3]
    r = parse_rule("alert smtp any any -> any any (sid:1;)", allow_unsupported=True)
    assert r.unsupported == ("protocol:smtp",)
    for action in ("rejectsrc", "rejectdst", "rejectboth"):
        r = parse_rule(f"{action} tcp any any -> any any (sid:1;)")
        assert r.action.is_reject and r.action == action


# --- classification.config ----------------------------------------------------------

def test_classification_config_parsing():
    table, errors = parse_classification_text((DATA / "classification.config").read_text(), "c.config")
    assert table["fixture-class"].priority == 2 and table["low-class"].description == "Low priority"
    assert [(e.line, e.message.split(":")[0]) for e in errors] == [
        (4, "classification needs 'name,description,priority'"),
        (5, "classification 'bad-prio'")]
    assert len(DEFAULT_CLASSIFICATIONS) == 43
    assert DEFAULT_CLASSIFICATIONS["trojan-activity"].priority == 1
    assert DEFAULT_CLASSIFICATIONS["tcp-connection"].priority == 4


def test_classification_file_used_by_loader(tmp_path):
    rules = tmp_path / "c.rules"
    rules.write_text('alert ip any any -> any any (classtype:fixture-class; sid:1;)\n'
                     'alert ip any any -> any any (classtype:trojan-activity; sid:2;)\n'
                     'alert ip any any -> any any (priority:9; classtype:low-class; sid:3;)\n')
    rs = load_ruleset(rules, classification=DATA / "classification.config")
    assert [(r.sid, r.priority) for r in rs.rules] == [(1, 2), (3, 9)]
    unknown = [e for e in rs.errors if e.line == 2 and e.path == str(rules)]
    assert unknown and "unknown classtype 'trojan-activity'" in unknown[0].message
    assert sum(1 for e in rs.errors if e.path.endswith("classification.config")) == 2


# --- threshold.config ---------------------------------------------------------------

def test_threshold_config_parsing():
    entries, errors, warnings = parse_threshold_text((DATA / "threshold.config").read_text(), "t.config")
    kinds = [(type(e).__name__, e.gid, e.sid) for e in entries]
    assert kinds == [("ThresholdEntry", 1, 1000001), ("ThresholdEntry", 1, 1000002),
                     ("SuppressEntry", 1, 1000004), ("SuppressEntry", 1, 1000005),
                     ("SuppressEntry", 0, 0), ("ThresholdEntry", 0, 0), ("RateFilterEntry", 1, 1000001),
                     ("ThresholdEntry", 1, 4242)]
    rf = entries[6].rate_filter
    assert (rf.track, rf.count, rf.seconds, rf.new_action, rf.timeout) == ("by_rule", 100, 60, "drop", 30)
    first = entries[0]
    assert isinstance(first, ThresholdEntry)
    assert (first.threshold.type, first.threshold.track, first.threshold.count, first.threshold.seconds) == \
        ("limit", "by_src", 1, 60)
    assert entries[1].threshold.keyword == "event_filter"
    sup = entries[3]
    assert isinstance(sup, SuppressEntry) and sup.suppression.track == "by_src"
    assert sup.suppression.ip is not None and sup.suppression.ip.contains("192.168.3.4")
    assert sup.suppression.ip.contains("10.9.9.9")  # $DNS_SERVERS = $HOME_NET
    assert [(e.line, e.message) for e in errors] == [
        (10, "threshold: type 'sometimes' must be one of limit, threshold, both"),
        (11, "rate_filter: new_action 'sdrop' must be one of alert, drop, pass, reject (Suricata parses it "
             "but does not implement it)")]
    assert warnings == []


def test_threshold_config_applied():
    rs = load_ruleset(DATA / "good.rules", threshold=DATA / "threshold.config")
    by = {r.sid: r for r in rs.rules}
    t1 = by[1000001].threshold
    assert t1 is not None and t1.type == "limit" and t1.source.endswith("threshold.config:2")
    rf = by[1000001].rate_filter   # independent of the threshold: both apply
    assert rf is not None and rf.new_action == "drop" and rf.source.endswith("threshold.config:8")
    assert by[1000002].rate_filter is None   # its entry (line 11) is an error
    assert by[1000002].threshold is not None and by[1000002].threshold.keyword == "event_filter"
    # wildcard threshold for rules without their own
    assert by[1000003].threshold is not None and by[1000003].threshold.track == "by_rule"
    assert [s.track for s in by[1000004].suppressions] == [None, "by_either"]
    assert [s.track for s in by[1000005].suppressions] == ["by_src", "by_either"]
    unknown_sid = [w for w in rs.warnings if "4242" in w.message]
    assert len(unknown_sid) == 1 and unknown_sid[0].line == 9
    assert any(e.line == 10 for e in rs.errors)


def test_threshold_config_specific_replaces_rule_and_wildcard_does_not(tmp_path):
    rules = tmp_path / "t.rules"
    rules.write_text(
        'alert ip any any -> any any (threshold:type limit, track by_src, count 1, seconds 5; sid:1;)\n'
        'alert ip any any -> any any (detection_filter:track by_dst, count 3, seconds 9; sid:2;)\n')
    conf = tmp_path / "threshold.config"
    conf.write_text("threshold gen_id 0, sig_id 0, type both, track by_rule, count 2, seconds 2\n"
                    "threshold gen_id 1, sig_id 2, type threshold, track by_src, count 7, seconds 70\n")
    rs = load_ruleset(rules, threshold=conf)
    by = {r.sid: r for r in rs.rules}
    assert by[1].threshold is not None and by[1].threshold.source == "rule" and by[1].threshold.count == 1
    assert by[2].threshold is not None and by[2].threshold.count == 7


@pytest.mark.parametrize("line,message", [
    ("threshold gen_id 1, type limit, track by_src, count 1, seconds 60", "missing sig_id"),
    ("threshold gen_id 1, sig_id 1, type limit, track by_src, count 1", "missing seconds"),
    ("suppress gen_id 1, sig_id 1, track by_src", "track and ip must be given together"),
    ("suppress gen_id 1, sig_id 1, track by_rule, ip 1.2.3.4", "track 'by_rule' must be one of"),
    ("suppress gen_id 1, sig_id 1, track by_src, ip 1.2.3", "invalid address '1.2.3'"),
    ("suppress gen_id 0, sig_id 5", "gen_id 0 (all generators) requires sig_id 0"),
    ("limit gen_id 1, sig_id 1", "unknown directive 'limit'"),
    ("threshold gen_id 1, sig_id 1, type limit, track by_src, count 0, seconds 60", "count 0 out of range"),
])
def test_threshold_config_errors(line, message):
    _, errors, _ = parse_threshold_text(line + "\n")
    assert len(errors) == 1 and message in errors[0].message and errors[0].line == 1


def test_variables_from_config_overlay_defaults():
    rs_flat = load_ruleset(DATA / "good.rules", variables={"HOME_NET": "[198.18.0.0/15]", "$HTTP_PORTS": 8080})
    r = {x.sid: x for x in rs_flat.rules}[1000001]
    assert r.src.contains("198.18.1.1") and not r.src.contains("10.0.0.1")
    assert r.dst.contains("10.0.0.1") and not r.dst.contains("198.19.0.1")  # EXTERNAL_NET follows HOME_NET
    assert r.dst_ports.ranges() == [(8080, 8080)]
    rs_yaml = load_ruleset(DATA / "good.rules", variables={"vars": {
        "address-groups": {"HOME_NET": "[198.18.0.0/15]"}, "port-groups": {"HTTP_PORTS": "[80,8080]"}}})
    r2 = {x.sid: x for x in rs_yaml.rules}[1000001]
    assert r2.dst_ports.ranges() == [(80, 80), (8080, 8080)] and r2.src == r.src


def test_bad_variables_config_is_reported_not_raised():
    rs = load_ruleset(DATA / "good.rules", variables={"HOME_NET": None})
    assert any("HOME_NET" in e.message for e in rs.errors)
    assert len(rs.rules) == 5  # defaults still apply
