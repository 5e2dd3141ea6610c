"""Rule -> Hyperscan translation (xdpfw.detect.compile) and its reference oracle.

Every modifier and interaction is checked twice: the expression the translation
produces (its shape), and the verdict of a real Hyperscan database on hand-written
buffers, which must equal the oracle's (xdpfw.detect.oracle) and the expected value.
The oracle itself is anchored on Suricata's own content-inspection unit tests
(src/tests/detect-engine-content-inspection.c, Suricata 7/8): same rules, same buffers,
same verdicts. The last part documents the Hyperscan behaviours the design relies on,
and the corpus test compiles the two ET Open snapshots.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from xdpfw._fast import match, match_ac, match_hs
from xdpfw._fast.match import Pattern, StreamTable
from xdpfw.detect import CompileError, build_database, buffer_keys, compile_buffer
from xdpfw.detect.compile import MAX_REPEAT, avoid_regex, evaluate
from xdpfw.detect.oracle import buffer_matches
from xdpfw.rules import load_ruleset, parse_rule
from xdpfw.rules.model import Content, Option

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"


# ---- helpers ---------------------------------------------------------------------------

def rule(opts: str, sid: int = 1, proto: str = "tcp"):
    return parse_rule(f'alert {proto} any any -> any any (msg:"t"; {opts} sid:{sid};)')


def compiled(opts: str, buffer: str = "pkt_data", mode: str = "block", **kw):
    r = rule(opts, proto=kw.pop("proto", "tcp"))
    cb = compile_buffer([r], buffer, mode, **kw)
    return r, cb


def shape(cb) -> dict[int, tuple[str, int | None, int | None]]:
    """pattern id -> (expression, min_offset, max_offset)."""
    return {p.id: (p.expression.decode(), p.min_offset, p.max_offset) for p in cb.patterns}


def only_expr(cb) -> tuple[str, int | None, int | None]:
    (p,) = cb.patterns
    assert not p.combination and p.id == 0
    return p.expression.decode(), p.min_offset, p.max_offset


def verdicts(opts: str, bufs, buffer: str = "pkt_data", proto: str = "tcp") -> list[bool]:
    """Hyperscan block-mode verdicts, asserted equal to the oracle's on every buffer."""
    r, cb = compiled(opts, buffer, proto=proto)
    assert not cb.errors, cb.errors
    db = build_database(cb, [r])
    assert not cb.errors, cb.errors
    s = match_hs.Scratch(db)
    got = [any(i == 0 for i, _ in match.scan_bytes(db, s, b)) for b in bufs]
    oracle = [buffer_matches(r.buffers()[buffer], b) for b in bufs]
    assert got == oracle, (opts, list(zip(bufs, got, oracle)))
    return got


def check(opts: str, yes=(), no=(), **kw):
    got = verdicts(opts, list(yes) + list(no), **kw)
    assert got == [True] * len(yes) + [False] * len(no), (opts, got)


def stream_reports(cb, r, segments, finish=True):
    db = build_database(cb, [r])
    t = StreamTable(db, match_hs.Scratch(db), match_hs.StreamPool(db, 1), 1)
    t.open(0)
    out = [t.scan(0, s) for s in segments]
    if finish:
        out.append(t.finish(0))
    return out


# ---- Suricata's own vectors ------------------------------------------------------------
# (buffer, rule options, Suricata's verdict), from DetectEngineContentInspectionTest01-17,
# leaving out the byte_jump/byte_extract/byte_test ones.
SURICATA = [
    (b"ab", 'content:"a"; content:"b";', True),
    (b"ab", 'content:"a"; content:"b"; distance:0;', True),
    (b"ba", 'content:"a"; content:"b"; distance:0;', False),
    (b"ab", 'content:"a"; pcre:"/b/";', True),
    (b"ab", 'content:"a"; pcre:"/b/R";', True),
    (b"ba", 'content:"a"; pcre:"/b/R";', False),
    (b"ababc", 'content:"a"; content:"b"; content:"c";', True),
    (b"ababc", 'content:"a"; content:"b"; content:"d";', False),
    (b"ababc", 'content:"a"; content:"b"; distance:0; content:"c"; distance:0;', True),
    (b"ababc", 'content:"a"; content:"b"; distance:0; content:"d"; distance:0;', False),
    (b"ababc", 'content:"a"; content:"b"; distance:0; within:1; content:"d"; distance:0; within:1;', False),
    (b"ababc", 'content:"a"; content:"b"; distance:0; within:1; content:"c"; distance:0; within:1;', True),
    (b"ababc", 'content:"a"; content:"b"; distance:0; within:1; content:"c"; distance:0; within:1; '
               'content:"bab";', True),
    (b"ababc", 'content:"a"; content:"b"; distance:0; within:1; content:"c"; distance:0; within:1; '
               'content:"no";', False),
    (b"ababc", 'content:"a"; content:"b"; distance:0; within:1; pcre:"/^c$/R";', True),
    (b"ababc", 'content:"a"; content:"b"; distance:0; within:1; pcre:"/^c$/R"; content:"bab";', True),
    (b"ababc", 'content:"a"; content:"b"; distance:0; within:1; pcre:"/^c$/R"; content:"no";', False),
    (b"ababc", 'pcre:"/^a/"; pcre:"/^b/R"; pcre:"/c/R";', True),
    (b"ababc", 'pcre:"/a/"; pcre:"/^b/R"; pcre:"/^c/R";', True),
    (b"ababc", 'pcre:"/^a/"; pcre:"/^b/R"; pcre:"/d/R";', False),
    (b"ababc", 'pcre:"/^a/"; pcre:"/^b/R"; pcre:"/c/R"; pcre:"/d/";', False),
    (b"ababc", 'content:"a"; content:"b"; distance:0; within:1; content:"b"; content:"c"; distance:0; '
               'within:1;', True),
    (b"ababc", 'content:"a"; content:"b"; distance:0; within:1; content:"c"; distance:0; within:1; '
               'isdataat:!1,relative;', True),
    (b"ababc", 'content:"a"; content:"b"; distance:0; within:1; content:"c"; distance:0; within:1; '
               'isdataat:1,relative;', False),
    (b"abcabc", 'content:"a"; content:"b"; distance:0; within:1; content:"c"; distance:0; within:1; '
                'isdataat:10,relative;', False),
    (b"ababcabc", 'content:"a"; content:"b"; distance:0; within:1; content:"c"; distance:0; within:1; '
                  'isdataat:!1,relative;', True),
    (b"ababcabc", 'content:"a"; content:"b"; distance:0; within:1; content:"c"; distance:0; within:1; '
                  'isdataat:1,relative;', True),
    (b"abcXYZ", 'content:"abc"; content:"XYZ"; distance:0; within:3; isdataat:!1,relative;', True),
    (b"abcXYZ", 'content:"XYZ"; distance:3; within:3; isdataat:!1,relative;', True),
    (b"abcXYZ", 'content:"cXY"; distance:2; within:3; isdataat:!1,relative;', False),
    (b"xxxxxxxxxxxxxxxxxyYYYYYYYYYYYYYYYY", 'content:"yYYYYYYYYYYYYYYYY"; distance:9; within:29; '
                                           'isdataat:!1,relative;', True),
    (b"abcabcabcabcabcabcabcabcabcabcd", 'content:"a"; content:"b"; within:1; distance:0; content:"c"; '
                                        'distance:0; within:1; content:"d";', True),
    (b"abcabcabcabcabcabcabcabcabcabcd", 'content:"a"; content:"b"; within:1; distance:0; content:"c"; '
                                        'distance:0; within:1; content:"d"; within:1; distance:0;', True),
    (b"abcabcabcabcabcabcabcabcabcabcx", 'content:"a"; content:"b"; within:1; distance:0; content:"c"; '
                                        'distance:0; within:1; content:"d"; within:1; distance:0;', False),
    (b"abcabcabcabcabcabcabcabcabcabcx", 'content:"a"; content:"b"; distance:0; content:"c"; distance:0; '
                                        'content:"d"; distance:0;', False),
    (b"abcabcabcabcabcabcabcabcabcabcx", 'content:"a"; content:"b"; distance:0; content:"c"; distance:0; '
                                        'pcre:"/^d/R";', False),
    (b"abcabcabcabcabcabcabcabcabcabcx", 'content:"a"; content:"b"; distance:0; content:"c"; distance:0; '
                                        'isdataat:!1,relative;', False),
    (b"abcabcabcabcabcabcabcabcabcabcd", 'content:"a"; content:"b"; within:1; distance:0; content:"c"; '
                                        'distance:0; within:1; pcre:"/d/";', True),
    (b"abcabcabcabcabcabcabcabcabcabcd", 'content:"a"; content:"b"; within:1; distance:0; content:"c"; '
                                        'distance:0; within:1; pcre:"/d/R";', True),
    (b"abcabcabcabcabcabcabcabcabcabcd", 'content:"a"; content:"b"; within:1; distance:0; content:"c"; '
                                        'distance:0; within:1; pcre:"/^d/R";', True),
    (b"abcabcabcabcabcabcabcabcabcabcx", 'content:"a"; content:"b"; within:1; distance:0; content:"c"; '
                                        'distance:0; within:1; pcre:"/^d/R";', False),
    (b"ababc", 'content:"a"; content:"b"; content:!"d";', True),
    (b"ababc", 'content:"a"; content:"b"; content:!"c";', False),
    (b"ababc", 'content:"a"; content:"b"; distance:0; within:1; content:!"a"; distance:0; within:1;', True),
    (b"ababc", 'content:"a"; content:"b"; distance:0; within:1; content:!"a"; distance:0;', True),
    (b"abcdefghy", 'content:"a"; content:!"x"; content:"c"; distance:0; within:2;', True),
    (b"abcdefghx", 'content:"a"; content:!"x"; content:"c"; distance:0; within:2;', False),
    (b"abcdefghy", 'content:"a"; content:!"x"; content:!"c"; distance:2; within:1;', True),
    (b"aaabbbccc", 'content:"ccc"; endswith; content:!"bccc"; endswith;', False),
    (b"aaabbbccc", 'content:"ccc"; endswith; content:!"accc"; endswith;', True),
    (b"aaabbbccc", 'content:"ccc"; endswith; content:!"bccc"; endswith; depth:4;', True),
    (b"aaabbbccc", 'content:"ccc"; endswith; content:!"bccc"; endswith; depth:9;', False),
    (b"ab", 'content:"a"; startswith; content:"b";', True),
    (b"ab", 'content:"a"; startswith; content:"b"; within:1; distance:0;', True),
    (b"ab", 'content:"ab"; startswith;', True),
    (b"ab", 'content:"a"; startswith;', True),
    (b"ab", 'content:"b"; startswith;', False),
    (b"ababc", 'content:"a"; content:"b"; distance:0; within:1; content:"c"; distance:0; within:1; endswith;',
     True),
    (b"ababcabc", 'content:"a"; content:"b"; distance:0; within:1; content:"c"; distance:0; within:1; '
                  'endswith;', True),
    (b"abcXYZ", 'content:"abc"; content:"XYZ"; distance:0; within:3; endswith;', True),
    (b"abcXYZ", 'content:"XYZ"; distance:3; within:3; endswith;', True),
    (b"abcXYZ", 'content:"cXY"; distance:2; within:3; endswith;', False),
    (b"abcXYZ", 'content:!"cXY"; endswith;', True),
    (b"abcXYZ", 'content:!"XYZ"; endswith;', False),
    (b"ab", 'content:"a"; startswith; content:"b"; endswith;', True),
    (b"ab", 'content:"a"; startswith; content:"b"; within:1; distance:0; endswith;', True),
    (b"ab", 'content:"ab"; startswith; endswith;', True),
    (b"ab", 'content:"a"; startswith; endswith;', False),
    (b"ab", 'content:"b"; startswith; endswith;', False),
    (b"aaabbbcccdddee", 'content:"aaa"; content:"ee"; within:2; distance:9; content:"bbb"; within:3; '
                        'distance:-11; content:"ccc"; within:3; distance:0;', True),
]


@pytest.mark.parametrize("buf,opts,want", SURICATA)
def test_oracle_agrees_with_suricatas_unit_tests(buf, opts, want):
    assert buffer_matches(rule(opts).buffers()["pkt_data"], buf) is want


@pytest.mark.parametrize("buf,opts,want", SURICATA)
def test_hyperscan_agrees_with_suricatas_unit_tests(buf, opts, want):
    r, cb = compiled(opts)
    assert not cb.errors
    db = build_database(cb, [r])
    assert any(i == 0 for i, _ in match.scan_bytes(db, match_hs.Scratch(db), buf)) is want


# ---- content and its modifiers ---------------------------------------------------------

def test_content_bytes_are_escaped():
    r, cb = compiled('content:"a.b|00 FF 28|*";')
    assert only_expr(cb) == (r"a\x2eb\x00\xff\x28\x2a", None, None)
    check('content:"a.b|00 FF 28|*";', yes=[b"xa.b\x00\xff(*"], no=[b"axb\x00\xff(*", b"a.b\x00\xff("])


def test_nocase_applies_to_its_content_only():
    r, cb = compiled('content:"abc"; nocase; content:"DEF";')
    exprs = {e for e, _, _ in shape(cb).values()}
    assert {"(?i:abc)", "DEF"} <= exprs
    check('content:"abc"; nocase; content:"DEF";', yes=[b"ABC DEF", b"aBc DEF"], no=[b"abc def", b"abc"])


def test_nocase_folds_ascii_letters_only():
    check('content:"a|C9|1"; nocase;', yes=[b"A\xc91"], no=[b"A\xe91"])


def test_offset_and_depth_become_end_offset_bounds():
    r, cb = compiled('content:"abc"; offset:2; depth:5;')
    assert only_expr(cb) == ("abc", 5, 7)  # starts at 2..4: ends at 5..7
    check('content:"abc"; offset:2; depth:5;', yes=[b"xxabc", b"xxxxabc"], no=[b"xabc", b"xxxxxabc"])


def test_depth_counts_from_offset():
    # Suricata: depth is the length of the window starting at offset.
    r, cb = compiled('content:"abc"; offset:3; depth:3;')
    assert only_expr(cb) == ("abc", 6, 6)
    check('content:"abc"; offset:3; depth:3;', yes=[b"123abc"], no=[b"12abc3", b"1234abc"])


def test_offset_alone_and_depth_alone():
    assert only_expr(compiled('content:"ab"; offset:4;')[1]) == ("ab", 6, None)
    assert only_expr(compiled('content:"ab"; depth:4;')[1]) == ("ab", 2, 4)
    check('content:"ab"; offset:4;', yes=[b"1234ab", b"12345ab"], no=[b"123ab4"])
    check('content:"ab"; depth:4;', yes=[b"ab", b"12ab"], no=[b"123ab"])


def test_startswith_and_endswith():
    assert only_expr(compiled('content:"ab"; startswith;')[1]) == ("^ab", None, None)
    assert only_expr(compiled('content:"ab"; endswith;')[1]) == (r"ab\z", None, None)
    assert only_expr(compiled('content:"ab"; startswith; endswith;')[1]) == (r"^ab\z", None, None)
    check('content:"ab"; startswith;', yes=[b"abx"], no=[b"xab"])
    check('content:"ab"; endswith;', yes=[b"xab"], no=[b"abx", b"ab\n"])
    check('content:"ab"; startswith; endswith;', yes=[b"ab"], no=[b"abab", b"aab"])


def test_endswith_with_depth_window():
    # The content must end at the buffer end AND inside its window.
    r, cb = compiled('content:"ab"; depth:4; endswith;')
    assert only_expr(cb) == (r"ab\z", 2, 4)
    check('content:"ab"; depth:4; endswith;', yes=[b"xxab"], no=[b"xxxab"])


def test_distance_and_within_bound_the_gap():
    # A then B with distance d, within w: B starts d..d+w-len(B) bytes after A's end.
    assert only_expr(compiled('content:"ab"; content:"cd"; distance:1; within:4;')[1]) == ("ab.{1,3}cd", None, None)
    check('content:"ab"; content:"cd"; distance:1; within:4;', yes=[b"abxcd", b"abxxxcd"], no=[b"abcd", b"abxxxxcd"])


def test_distance_alone_and_distance_zero():
    assert only_expr(compiled('content:"ab"; content:"cd"; distance:2;')[1]) == ("ab.{2,}cd", None, None)
    assert only_expr(compiled('content:"ab"; content:"cd"; distance:0;')[1]) == ("ab.*cd", None, None)
    check('content:"ab"; content:"cd"; distance:2;', yes=[b"abxxcd", b"abxxxxxcd"], no=[b"abxcd", b"cdab"])


def test_within_without_distance_counts_from_the_previous_end():
    assert only_expr(compiled('content:"ab"; content:"cd"; within:4;')[1]) == ("ab.{0,2}cd", None, None)
    check('content:"ab"; content:"cd"; within:4;', yes=[b"abcd", b"abxxcd"], no=[b"abxxxcd", b"cdab"])


def test_relative_first_content_counts_from_the_buffer_start():
    # No previous match: distance/within are offsets from 0.
    assert only_expr(compiled('content:"ab"; distance:2; within:4;')[1]) == ("ab", 4, 6)
    check('content:"ab"; distance:2; within:4;', yes=[b"xxab", b"xxxxab"], no=[b"xab", b"xxxxxab"])


def test_retries_every_occurrence_of_the_previous_content():
    # The first "ab" has no "cd" right after it, the second has.
    check('content:"ab"; content:"cd"; within:2;', yes=[b"abxxabcd"], no=[b"abxxcd"])


def test_negative_distance_overlapping_the_previous_match():
    # cde starts 2 bytes before abcd's end: the two merge into abcde.
    assert only_expr(compiled('content:"abcd"; content:"cde"; distance:-2; within:3;')[1]) == ("abcde", None, None)
    check('content:"abcd"; content:"cde"; distance:-2; within:3;', yes=[b"xabcde"], no=[b"abcdcde", b"abcd"])


def test_negative_distance_before_the_previous_match():
    # "ab" starts 6 to 2 bytes before xyz's end: right before xyz or one byte earlier;
    # the offsets where it would overlap xyz are impossible (different bytes).
    opts = 'content:"xyz"; content:"ab"; distance:-6; within:6;'
    r, cb = compiled(opts)
    assert not cb.rules[0].approximations
    assert only_expr(cb)[0] == "(?:ab.xyz|abxyz)"
    check(opts, yes=[b"abxyz", b"ab_xyz", b"1abxyz"], no=[b"abxxxyz", b"xyzab", b"axyz"])


def test_negative_distance_incompatible_overlap_never_matches():
    r, cb = compiled('content:"abcd"; content:"xy"; distance:-2; within:2;')
    (e,) = cb.errors
    assert e.reason == "never_matches" and "keyword 'distance'" in str(e)


def test_nocase_intersects_with_an_overlapping_exact_content():
    opts = 'content:"ABCD"; nocase; content:"cD"; distance:-2; within:2;'
    assert only_expr(compiled(opts)[1]) == ("(?i:ab)cD", None, None)
    check(opts, yes=[b"abcD", b"ABcD"], no=[b"ABCD", b"abcd"])


def test_within_wrap_is_flagged_and_exact_at_buffer_start():
    # distance+within < 0: Suricata's window end wraps to the buffer end when the previous
    # match ends before byte -(distance+within); only the declared window is compiled.
    r, cb = compiled('content:"abc"; content:"x"; distance:-10; within:5;')
    assert any(a.startswith("within_wrap") for a in cb.rules[0].approximations)
    assert buffer_matches(r.buffers()["pkt_data"], b"abcxx") is True       # wrap: x anywhere
    db = build_database(cb, [r])
    assert not match.scan_bytes(db, match_hs.Scratch(db), b"abcxx")     # subset: not compiled
    # As the first content (previous end = 0) the wrap is exact: anywhere.
    r, cb = compiled('content:"x"; distance:-10; within:5;')
    assert not cb.rules[0].approximations and only_expr(cb) == ("x", None, None)


# ---- pcre ------------------------------------------------------------------------------

def test_pcre_flags_become_inline_groups():
    assert only_expr(compiled('pcre:"/a.c/si";')[1])[0] == "(?is-m:a.c)"
    assert only_expr(compiled('pcre:"/^ab/m";')[1])[0] == "(?m-is:^ab)"
    assert only_expr(compiled('pcre:"/a b # comment/x";')[1])[0] == "(?x-ims:a b # comment\n)"
    check('pcre:"/a.c/si";', yes=[b"A\nC"], no=[b"ac"])
    check('pcre:"/^ab/m";', yes=[b"x\nab"], no=[b"xab"])
    check('pcre:"/a b # comment/x";', yes=[b"ab"], no=[b"a b"])


def test_pcre_anchored_and_dollar_flags():
    assert only_expr(compiled('pcre:"/ab/A";')[1])[0] == "^(?-ims:ab)"
    assert only_expr(compiled('pcre:"/ab$/";')[1])[0] == r"(?-ims:ab(?:\n?\z))"
    assert only_expr(compiled('pcre:"/ab$/E";')[1])[0] == r"(?-ims:ab\z)"
    check('pcre:"/ab/A";', yes=[b"abx"], no=[b"xab"])
    check('pcre:"/ab$/";', yes=[b"xab", b"xab\n"], no=[b"xab\n\n"])
    check('pcre:"/ab$/E";', yes=[b"xab"], no=[b"xab\n"])


def test_pcre_ungreedy_and_match_limit_flags_do_not_change_the_expression():
    assert only_expr(compiled('pcre:"/a+?b/G";')[1]) == only_expr(compiled('pcre:"/a+?b/O";')[1])


def test_relative_pcre_after_a_content():
    assert only_expr(compiled('content:"abc"; pcre:"/d+e/R";')[1])[0] == "abc.*(?-ims:d+e)"
    assert only_expr(compiled('content:"abc"; pcre:"/^d+e/R";')[1])[0] == "abc(?-ims:d+e)"
    check('content:"abc"; pcre:"/d+e/R";', yes=[b"abcxdde"], no=[b"ddeabc"])
    check('content:"abc"; pcre:"/^d+e/R";', yes=[b"abcdde"], no=[b"abcxdde"])


def test_relative_pcre_multiline_caret_also_matches_at_the_previous_end():
    opts = 'content:"abc"; pcre:"/^d/Rm";'
    assert only_expr(compiled(opts)[1])[0] == r"(?:abc(?m-is:d)|abc.*\x0a(?m-is:d))"
    check(opts, yes=[b"abcd", b"abcx\nd"], no=[b"abcxd"])


def test_relative_pcre_with_a_variable_end_is_flagged_one_sided():
    # Suricata continues after the end PCRE prefers (greedy a+ ends at 2 in "aa"),
    # Hyperscan after every end: it reports a superset.
    opts = 'pcre:"/a+/"; content:"a"; distance:0; within:1;'
    r, cb = compiled(opts)
    assert any(a.startswith("pcre_end") for a in cb.rules[0].approximations)
    db = build_database(cb, [r])
    assert match.scan_bytes(db, match_hs.Scratch(db), b"aa")
    assert not buffer_matches(r.buffers()["pkt_data"], b"aa")
    # A fixed-width pcre has one end per start: exact.
    assert not compiled('pcre:"/a[bc]/"; content:"d"; distance:0; within:1;')[1].rules[0].approximations


def test_hyperscan_rejections_name_the_rule_and_spare_the_others():
    good, bad = rule('content:"ok";', sid=10), rule(r'pcre:"/(a)\1/";', sid=11)
    cb = compile_buffer([good, bad], "pkt_data", "block")
    db = build_database(cb, [good, bad])
    (e,) = cb.errors
    assert re.match(r"<string>:1: error: sid:11 keyword 'pcre': Hyperscan: Back-references are unsupported",
                    str(e))
    assert cb.report == {0: 0} and match.scan_bytes(db, match_hs.Scratch(db), b"ok") == [(0, 2)]


def test_combination_operand_with_trailing_word_boundary():
    # Hyperscan refuses an operand whose end is decided by the next byte; one more byte
    # (or the end) is consumed instead, which matches the same buffers.
    opts = r'content:"x"; pcre:"/ab\b/";'
    r, cb = compiled(opts)
    assert r"(?-ims:ab\b)(?:(?s:.)|\z)" in {e for e, _, _ in shape(cb).values()}
    check(opts, yes=[b"x ab", b"x ab c"], no=[b"x abc"])


def test_named_groups_lose_their_names():
    opts = 'content:"a"; pcre:"/^(?P<v>b)/Rm";'  # two alternatives embed the pcre
    r, cb = compiled(opts)
    assert "(?P<" not in only_expr(cb)[0]
    check(opts, yes=[b"ab", b"ax\nb"], no=[b"axb"])


# ---- negation --------------------------------------------------------------------------

def test_negated_content_is_a_not_evaluated_at_end_of_data():
    r, cb = compiled('content:"abc"; content:!"x";')
    ex = shape(cb)
    abc = next(i for i, v in ex.items() if v[0] == "abc")
    x = next(i for i, v in ex.items() if v[0] == "x")
    assert cb.rules[0].formula == f"{abc} & !{x} & {cb.eod_id}" and cb.rules[0].eod
    assert ex[cb.eod_id][0] == r"(?s:.)\z"
    check('content:"abc"; content:!"x";', yes=[b"abc"], no=[b"abcx", b"xabc"])


def test_negation_in_stream_mode_is_decided_by_finish():
    r, cb = compiled('content:"abc"; content:!"x";', mode="stream")
    assert stream_reports(cb, r, [b"ab", b"c", b"yy"]) == [[], [], [], [(0, 5)]]
    assert stream_reports(cb, r, [b"ab", b"c", b"yx"]) == [[], [], [], []]


def test_negated_content_with_offset_window():
    check('content:"a"; content:!"bc"; offset:1; depth:3;', yes=[b"axxxbc", b"a"], no=[b"abc", b"axbc"])


def test_negated_relative_content_with_distance_only_is_exact():
    # Suricata tries the first "abc" only, and "no x after the first abc" is "no x after
    # any abc": exact.
    opts = 'content:"abc"; content:!"x"; distance:0;'
    r, cb = compiled(opts)
    assert cb.rules[0].exact
    check(opts, yes=[b"xabc", b"abc"], no=[b"abcx", b"abcabcx"])


def test_negated_one_byte_within_a_window_is_exact():
    # The ET idiom "N bytes after X without a newline": a class repeat.
    opts = 'content:"X"; isdataat:5,relative; content:!"|0a|"; within:5;'
    r, cb = compiled(opts)
    cr = cb.rules[0]
    assert cr.exact and "negation_window" in cr.notes
    assert only_expr(cb)[0] == r"X[^\x0a]{5}"
    check(opts, yes=[b"X12345", b"X\nX12345"], no=[b"X12\n45", b"X1234"])


def test_negated_content_as_long_as_its_window_is_exact():
    opts = 'content:"ab"; content:!"cd"; within:2;'
    r, cb = compiled(opts)
    assert cb.rules[0].exact and "negation_window" in cb.rules[0].notes
    check(opts, yes=[b"abce", b"abc", b"abcdab"], no=[b"abcd", b"abcdabcd"])


def test_negated_multibyte_content_to_the_end_is_exact():
    # Current Suricata retries the previous match for a negated content with distance:
    # "some abc not followed by xyz". The tail is a regex of strings without "xyz".
    opts = 'content:"abc"; content:!"xyz"; distance:0;'
    r, cb = compiled(opts)
    assert cb.rules[0].exact and "negation_window" in cb.rules[0].notes
    check(opts, yes=[b"abc", b"abcxy", b"abc xyz abc"], no=[b"abcxyz", b"abc xyz abc xyz"])


def test_several_negations_on_one_match_compose():
    # The ET idiom: n bytes after X, none of them a NUL or a newline.
    opts = 'content:"X"; isdataat:4,relative; content:!"|00|"; within:4; content:!"|0a|"; within:4;'
    r, cb = compiled(opts)
    assert cb.rules[0].exact and only_expr(cb)[0] == r"X[^\x00\x0a]{4}"
    check(opts, yes=[b"X1234", b"X\n12X1234"], no=[b"X12\n4", b"X1\x0034"])


def test_a_positive_keyword_after_a_negation_window():
    opts = 'content:"ab"; content:!"c"; within:1; content:"zz"; distance:0;'
    r, cb = compiled(opts)
    assert cb.rules[0].exact
    check(opts, yes=[b"abzz", b"abcabxzz"], no=[b"abczz", b"zzab"])


def test_avoid_regex_matches_exactly_the_strings_without_the_pattern():
    import itertools
    for pat, nocase in [(b"ab", False), (b"aba", False), (b"aab", True), (b"\x00\x00", False)]:
        rx = re.compile(avoid_regex(pat, nocase).encode(), re.S)
        for n in range(7):
            for t in itertools.product(b"abAB\x00", repeat=n):
                t = bytes(t)
                has = pat.lower() in t.lower() if nocase else pat in t
                assert bool(rx.fullmatch(t)) is not has, (pat, t)


def test_negated_relative_content_in_a_larger_window_is_flagged():
    opts = 'content:"abc"; content:!"de"; within:5;'
    r, cb = compiled(opts)
    assert any(a.startswith("negation_exists") for a in cb.rules[0].approximations)
    # Suricata: the second abc has no "de" after it; the translation wants none anywhere.
    buf = b"abcde abc"
    assert buffer_matches(r.buffers()["pkt_data"], buf) is True
    db = build_database(cb, [r])
    assert not match.scan_bytes(db, match_hs.Scratch(db), buf)


def test_negated_pcre():
    check('content:"a"; pcre:!"/b[0-9]/";', yes=[b"ab", b"a b1"[:3]], no=[b"ab1", b"b2a"])


# ---- isdataat --------------------------------------------------------------------------

def test_isdataat_absolute_is_a_length_condition():
    r, cb = compiled('isdataat:3; content:"a";')
    assert (".", 4, None) in shape(cb).values()
    check('isdataat:3; content:"a";', yes=[b"abcd"], no=[b"abc"])
    check('isdataat:!3; content:"a";', yes=[b"abc"], no=[b"abcd"])


def test_isdataat_relative():
    assert only_expr(compiled('content:"ab"; isdataat:2,relative;')[1])[0] == "ab.{2}"
    assert only_expr(compiled('content:"ab"; isdataat:!3,relative;')[1])[0] == r"ab.{0,2}\z"
    check('content:"ab"; isdataat:2,relative;', yes=[b"abxx"], no=[b"abx"])
    check('content:"ab"; isdataat:!3,relative;', yes=[b"abxx", b"ab"], no=[b"abxxx"])


def test_isdataat_not_one_relative_is_endswith():
    assert only_expr(compiled('content:"ab"; isdataat:!1,relative;')[1])[0] == r"ab\z"
    check('content:"ab"; isdataat:!1,relative;', yes=[b"xab", b"abab"], no=[b"abx"])


def test_isdataat_relative_split_from_open_ended_chains():
    # "MZ, 100 bytes after it, then PE after it": the length is its own term when every
    # later window is open-ended (no within), instead of 100 placements of PE.
    opts = 'content:"MZ"; isdataat:10,relative; content:"PE"; distance:0;'
    r, cb = compiled(opts)
    assert "isdataat_term" in cb.rules[0].notes and cb.rules[0].exact
    assert {e for e, _, _ in shape(cb).values()} >= {"MZ.{10}", "MZ.*PE"}
    check(opts, yes=[b"MZxPExxxxxxx", b"MZ" + b"x" * 10 + b"PE"], no=[b"MZxPE", b"PEMZ" + b"x" * 10])


def test_isdataat_on_negated_absolute_endswith():
    # Suricata folds isdataat:!1,relative into the negated content before it.
    opts = 'content:"corona"; content:!".gov"; isdataat:!1,relative;'
    r = rule('tls.sni; ' + opts, proto="tls")
    cb = compile_buffer([r], "tls.sni", "block")
    db = build_database(cb, [r])
    s = match_hs.Scratch(db)
    for buf, want in [(b"corona.example", True), (b"corona.gov", False), (b"corona.gov.x", True)]:
        assert buffer_matches(r.buffers()["tls.sni"], buf) is want
        assert bool(match.scan_bytes(db, s, buf)) is want


# ---- rules, buffers, checks ------------------------------------------------------------

def test_independent_contents_are_a_combination():
    r, cb = compiled('content:"abc"; content:"xyz";')
    ids = {v[0]: i for i, v in shape(cb).items()}
    assert cb.rules[0].formula == f"{ids['abc']} & {ids['xyz']}"
    combo = next(p for p in cb.patterns if p.combination)
    assert combo.id == 0 and combo.singlematch
    assert all(p.quiet and not p.singlematch for p in cb.patterns if p.id != 0)
    check('content:"abc"; content:"xyz";', yes=[b"xyzabc", b"abcxyz"], no=[b"abc", b"xyz"])


def test_engine_combine_reports_operands_and_evaluates_the_formula():
    r, cb = compiled('content:"abc"; content:!"x"; content:"yz";', combine="engine")
    cr = cb.rules[0]
    assert cr.report_id == -1 and not any(p.quiet or p.combination for p in cb.patterns)
    db = build_database(cb, [r])
    s = match_hs.Scratch(db)
    for buf, want in [(b"abc yz", True), (b"abc yz x", False), (b"abc", False)]:
        ids = {i for i, _ in match.scan_bytes(db, s, buf)}
        assert cr.holds(ids) is want is buffer_matches(r.buffers()["pkt_data"], buf)


def test_evaluate():
    f = ("and", 1, ("not", 2), ("or", 3, 4))
    assert evaluate(f, {1, 3}) and evaluate(f, {1, 4}) and not evaluate(f, {1, 2, 3}) and not evaluate(f, {3})


def test_size_keywords_are_engine_checks():
    r, cb = compiled('dsize:>10; content:"a";')
    (c,) = cb.rules[0].checks
    assert c.keyword == "dsize" and c.match.matches(11) and not c.match.matches(10)
    r = parse_rule('alert http any any -> any any (http.uri; content:"/a"; bsize:<20; urilen:>3; sid:2;)')
    cb = compile_buffer([r], "http.uri", "block")
    assert [c.keyword for c in cb.rules[0].checks] == ["bsize", "urilen"]


def test_fast_pattern_is_recorded():
    r, cb = compiled('content:"a"; content:"longer"; fast_pattern;')
    assert cb.rules[0].fast_pattern == b"longer"


def test_errors_name_file_line_sid_and_keyword():
    r, cb = compiled('content:"ab"; endswith; content:"c"; distance:0;')
    (e,) = cb.errors
    assert isinstance(e, CompileError) and e.reason == "never_matches"
    assert re.match(r"<string>:1: error: sid:1 keyword 'distance': ", str(e))
    r = rule('content:"a";', sid=7)
    r.options.append(Option("content", None, 0, Content(b"b", distance="var")))
    (e,) = compile_buffer([r], "pkt_data", "block").errors
    assert str(e).startswith("<string>:1: error: sid:7 keyword 'distance': byte_extract variable")


def test_rules_without_the_buffer_are_not_compiled():
    r = rule('content:"a";')
    h = parse_rule('alert http any any -> any any (http.uri; content:"/x"; sid:3;)')
    cb = compile_buffer([r, h], "http.uri", "block")
    assert list(cb.rules) == [1] and cb.report == {1: 1}


def test_app_layer_buffers_use_the_same_translation():
    h = parse_rule('alert http any any -> any any (http.uri; content:"/adm"; startswith; '
                   'content:".php"; endswith; distance:0; sid:3;)')
    cb = compile_buffer([h], "http.uri", "block")
    assert only_expr(cb)[0] == r"^\x2fadm.*\x2ephp\z"
    d = parse_rule('alert dns any any -> any any (dns.query; dotprefix; content:".evil.com"; '
                   'endswith; sid:4;)')
    cb = compile_buffer([d], "dns.query", "block")
    assert cb.rules[0].transforms == ("dotprefix",)
    assert buffer_keys([h, d]) == [("http.uri", ()), ("dns.query", ("dotprefix",))]
    assert compile_buffer([d], "dns.query", "block", transforms=()).rules == {}


def test_long_repeats_are_split_for_hyperscan():
    opts = f'content:"X"; isdataat:{MAX_REPEAT + 10},relative; content:!"|0a|"; within:{MAX_REPEAT + 10};'
    r, cb = compiled(opts)
    assert only_expr(cb)[0] == rf"X[^\x0a]{{{MAX_REPEAT}}}[^\x0a]{{10}}"
    build_database(cb, [r])
    assert not cb.errors


def test_stream_mode_single_expression_is_reported_by_the_completing_scan():
    r, cb = compiled('content:"abc"; content:"de"; distance:1; within:4;', mode="stream")
    assert stream_reports(cb, r, [b"a", b"bc", b"x", b"d", b"e", b"zz"], finish=False) == \
        [[], [], [], [], [(0, 6)], []]


# ---- Hyperscan behaviours the translation relies on ------------------------------------

R = dict(literal=False)


def hs_block(patterns, data):
    db = match_hs.Database.compile(patterns, mode="block")
    return sorted(match.scan_bytes(db, match_hs.Scratch(db), data))


def hs_stream(patterns, segments):
    db = match_hs.Database.compile(patterns)
    t = StreamTable(db, match_hs.Scratch(db), match_hs.StreamPool(db, 1), 1)
    t.open(0)
    return [t.scan(0, s) for s in segments] + [t.finish(0)]


class TestHyperscanCombinations:
    A, B = Pattern(1, b"A", **R, quiet=True), Pattern(2, b"B", **R, quiet=True)
    EOD = Pattern(9, rb"(?s:.)\z", **R, quiet=True)

    def test_not_means_not_yet(self):
        # 1 & !2 is true at A's offset, before B comes: not "B nowhere in the buffer".
        comb = Pattern(3, b"1 & !2", **R, combination=True)
        assert hs_block([self.A, self.B, comb], b"AB") == [(3, 1)]

    def test_end_of_data_sentinel_evaluates_on_the_whole_buffer(self):
        comb = Pattern(3, b"1 & !2 & 9", **R, combination=True)
        assert hs_block([self.A, self.B, self.EOD, comb], b"AB") == []
        assert hs_block([self.A, self.B, self.EOD, comb], b"Axx") == [(3, 3)]

    def test_purely_negative_combination_is_evaluated_at_end_of_data(self):
        comb = Pattern(3, b"!2", **R, combination=True)
        assert hs_block([self.A, self.B, comb], b"xy") == [(3, 2)]

    def test_a_combination_needs_an_operator(self):
        with pytest.raises(match.CompileError, match="No logical operation"):
            hs_block([self.A, Pattern(3, b"1", **R, combination=True)], b"A")

    def test_singlematch_operands_break_combinations(self):
        a = self.A._replace(singlematch=True)
        b = self.B._replace(singlematch=True)
        comb = Pattern(3, b"1 & 2", **R, combination=True)
        assert hs_block([a, b, comb], b"AB") == []  # never reported
        with pytest.raises(match.MatchError):  # HS_SCAN_TERMINATED once all are single
            hs_block([a, b, comb._replace(singlematch=True)], b"AB")

    def test_operands_ending_in_a_lookahead_assertion_are_refused(self):
        for expr in (rb"B\b", b"B$", rb"B\Z", b"(?m:B$)"):
            with pytest.raises(match.CompileError, match="unordered match"):
                hs_block([self.A, Pattern(2, expr, **R, quiet=True),
                          Pattern(3, b"1 & 2", **R, combination=True)], b"AB")

    def test_stream_mode_defers_a_combination_to_a_later_match_or_the_end(self):
        comb = Pattern(3, b"1 & 2", **R, combination=True)
        # True at offset 2, reported only when the stream ends...
        assert hs_stream([self.A, self.B, comb], [b"AB", b"xx"]) == [[], [], [(3, 2)]]
        # ...or when a later offset has a match (any pattern, quiet ones too).
        z = Pattern(4, b"z", **R, quiet=True)
        assert hs_stream([self.A, self.B, z, comb], [b"AB", b"xz"]) == [[], [(3, 2)], []]
        # Block mode flushes at the end of the scan.
        assert hs_block([self.A, self.B, comb], b"AB") == [(3, 2)]

    def test_operand_ids_are_bounded(self):
        big = Pattern(1 << 30, b"A", **R, quiet=True)
        with pytest.raises(match.CompileError, match="Expression id too large"):
            hs_block([big, Pattern(3, b"%d & %d" % (1 << 30, 1 << 30), **R, combination=True)], b"A")


def test_singlematch_reports_once():
    assert hs_block([Pattern(1, b"a", **R, singlematch=True)], b"aaa") == [(1, 1)]


@pytest.mark.parametrize("flag", ["singlematch", "quiet", "combination"])
def test_aho_corasick_refuses_hyperscan_flags(flag):
    with pytest.raises(match.CompileError, match=f"does not support {flag}=True"):
        match_ac.Database.compile([Pattern(5, b"abc", **{flag: True})])


# ---- ET Open ---------------------------------------------------------------------------

APP_BUFFERS = ["http.uri", "http.host", "tls.sni", "dns.query"]
# (ruleset, buffer) -> (at least this many rules translated, at most this many rejected)
FIGURES = {
    ("et-open", "pkt_data"): (2300, 180), ("et-open", "http.uri"): (6100, 30),
    ("et-open", "http.host"): (2300, 5), ("et-open", "tls.sni"): (1700, 5),
    ("et-open", "dns.query"): (3900, 5),
    ("et-open-2019-suricata-4.0", "pkt_data"): (5000, 240),
    ("et-open-2019-suricata-4.0", "http.uri"): (7050, 70),
    ("et-open-2019-suricata-4.0", "http.host"): (170, 5),
    ("et-open-2019-suricata-4.0", "tls.sni"): (190, 5),
    ("et-open-2019-suricata-4.0", "dns.query"): (590, 5),
}


@pytest.fixture(scope="module", params=["et-open", "et-open-2019-suricata-4.0"])
def ruleset(request):
    path = CORPUS / request.param
    if not path.is_dir():
        pytest.fail(f"corpus missing: {path}")
    return request.param, load_ruleset([path])


@pytest.mark.parametrize("buffer", ["pkt_data"] + APP_BUFFERS)
def test_et_open_compiles_into_one_stream_database_per_buffer(ruleset, buffer):
    name, rs = ruleset
    t0 = time.perf_counter()
    cb = compile_buffer(rs.rules, buffer, "stream")
    db = build_database(cb, rs.rules)
    elapsed = time.perf_counter() - t0
    translated, rejected = len(cb.rules), len(cb.errors)
    least, most = FIGURES[(name, buffer)]
    assert translated >= least and rejected <= most, cb.summary()
    assert elapsed < 60 and db.stream_size > 0
    assert set(cb.report.values()) == set(cb.rules)
    for e in cb.errors:
        assert isinstance(e, CompileError)
        assert re.match(rf".+:\d+: error: sid:{e.sid} keyword '[a-z_.]+': .+", str(e)), str(e)
    # Every translated rule is reported on a buffer built from its own contents when it
    # has a single positive literal (a smoke test of ids and the report map).
    s = match_hs.Scratch(db)
    t = StreamTable(db, s, match_hs.StreamPool(db, 1), 1)
    sample = [i for i, cr in cb.rules.items()
              if len(rs.rules[i].buffers()[buffer]) == 1
              and isinstance(rs.rules[i].buffers()[buffer][0], Content)
              and not rs.rules[i].buffers()[buffer][0].negated][:50]
    for i in sample:
        c = rs.rules[i].buffers()[buffer][0]
        buf = b"\x00" * (c.offset or 0) + c.pattern
        if buffer_matches([c], buf):
            t.open(0)
            got = t.scan(0, buf) + t.close(0)
            assert any(cb.report.get(pid) == i for pid, _ in got), (rs.rules[i].sid, buf)


def test_matcher_backends_registry():
    """Every --matcher value has an emitter, and the per-backend entry points are the one driver."""
    from xdpfw.detect.ruleset import MATCHERS
    from xdpfw.detect.compile import EMITTERS, compile_literals, compile_matcher
    assert set(EMITTERS) == set(MATCHERS)
    r = parse_rule('alert tcp any any -> any any (content:"abc"; content:!"xyz"; sid:1;)')
    a, b = compile_literals([r], "pkt_data", "stream"), compile_matcher("ac", [r], "pkt_data", "stream")
    assert a.patterns == b.patterns and a.rules[0].formula == b.rules[0].formula == "1 & !2"


def test_more_rejected_rules_than_retries_are_each_named_in_one_build(tmp_path):
    """60 contents too long for Hyperscan (more than build_database's 50 retries) and a
    back-reference: one load_detection names every one file:line, runs the rest, raises
    nothing."""
    from xdpfw.detect.ruleset import load_detection

    f = tmp_path / "long.rules"
    lines = ['alert udp any any -> any any (msg:"ok"; content:"SIP"; sid:1;)',
             'alert udp any any -> any any (msg:"br"; pcre:"/(a)\\1/"; sid:2;)']
    lines += [f'alert udp any any -> any any (msg:"l"; content:"{"A" * (100_000 + i)}"; sid:{10 + i};)'
              for i in range(60)]
    f.write_text("\n".join(lines) + "\n")
    det = load_detection([str(f)], [], kernel_acl=False)
    assert det.counts() == {"loaded": 1, "skipped": 61, "failed": 0}
    named = sorted(int(p.split(":")[1]) for p in det.skipped)
    assert named == list(range(2, 63))
    assert all(str(f) in p and "Hyperscan" in p for p in det.skipped)
