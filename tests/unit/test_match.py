"""The streaming matcher layer: both backends against the same cases.

Every case is written once in _MatchCases and bound to each backend (TestHyperscan,
TestAhoCorasick), as uvloop binds its test bodies to uvloop and asyncio. Cases that only
one backend can run (regexes, Hyperscan's allocator) live in their own classes. Streams
go through match.StreamTable, which makes exactly the hot-path calls the engine makes.
"""
from __future__ import annotations

import ast
import re
import threading
from pathlib import Path

import pytest

from xdpfw._fast import match, match_ac, match_hs
from xdpfw._fast.match import (ENOTOPEN, EOPEN, EPOOL, CompileError, MatchBuffer, MatchError, Pattern,
                               StreamTable)


class HyperscanImpl:
    backend = match_hs


class AhoCorasickImpl:
    backend = match_ac


class _MatchCases:
    """The shared cases; `self.backend` is match_hs or match_ac."""

    # -- helpers ----------------------------------------------------------------------
    def compile(self, patterns, mode="stream"):
        return self.backend.Database.compile(patterns, mode=mode)

    def table(self, db, size=1, capacity=None):
        scratch = self.backend.Scratch(db)
        pool = self.backend.StreamPool(db, capacity or size)
        return StreamTable(db, scratch, pool, size)

    def stream(self, patterns, segments, *, close=True):
        """Matches of one stream fed `segments` in order, sorted (order is unspecified)."""
        t = self.table(self.compile(patterns))
        t.open(0)
        got = [m for seg in segments for m in t.scan(0, seg)]
        if close:
            got += t.close(0)
        return sorted(got)

    def block(self, patterns, data):
        db = self.compile(patterns, mode="block")
        return sorted(match.scan_bytes(db, self.backend.Scratch(db), data))

    # -- literals ---------------------------------------------------------------------
    def test_literal_whole_and_at_every_split(self):
        pats = [(1, b"needle"), (2, b"hay")]
        data = b"haystack with a needle in it"
        want = [(1, 22), (2, 3)]
        assert self.stream(pats, [data]) == want
        for cut in range(len(data) + 1):
            assert self.stream(pats, [data[:cut], data[cut:]]) == want, cut
        assert self.stream(pats, [data[i:i + 1] for i in range(len(data))]) == want

    def test_case_sensitive_by_default(self):
        assert self.stream([(1, b"GET")], [b"get GET Get"]) == [(1, 7)]

    def test_nocase_matches_every_case_mix(self):
        assert self.stream([(1, b"GeT", True, True)], [b"get GET Get gEt"]) == [(1, 3), (1, 7), (1, 11), (1, 15)]

    def test_nocase_and_exact_of_the_same_letters_in_one_database(self):
        pats = [(1, b"ab", True, True), (2, b"aB"), (3, b"AB")]
        got = self.stream(pats, [b"ab aB Ab AB"])
        assert got == [(1, 2), (1, 5), (1, 8), (1, 11), (2, 5), (3, 11)]

    def test_nocase_spans_segments(self):
        assert self.stream([(1, b"select", True, True)], [b"xSEL", b"e", b"Ct"]) == [(1, 7)]

    def test_nocase_folds_ascii_letters_only(self):
        # Latin-1 E-acute upper (0xC9) and lower (0xE9) are distinct bytes: no folding
        # outside A-Z, in both backends (Hyperscan without UTF-8 mode does the same).
        assert self.stream([(1, b"\xc9t\xc9", True, True)], [b"\xe9T\xe9 \xc9T\xc9"]) == [(1, 7)]

    def test_nocase_without_letters_is_exact(self):
        assert self.stream([(1, b"\x00\x01|", True, True)], [b"\x00\x01|\x00\x01\\"]) == [(1, 3)]

    def test_binary_bytes_including_nul_and_ff(self):
        pats = [(1, b"\x00"), (2, b"\x00\x00"), (3, b"\xff\x00\xff"), (4, bytes(range(256)))]
        data = b"\xff\x00\xff\x00\x00" + bytes(range(256))
        got = self.stream(pats, [data[:3], data[3:100], data[100:]])
        want = [(1, 2), (1, 4), (1, 5), (1, 6), (2, 5), (2, 6), (3, 3), (4, 5 + 256)]
        assert got == want

    def test_overlapping_and_repeated_matches(self):
        assert self.stream([(1, b"aa")], [b"aaaa"]) == [(1, 2), (1, 3), (1, 4)]
        assert self.stream([(1, b"abab")], [b"ab", b"abab"]) == [(1, 4), (1, 6)]

    def test_patterns_that_are_prefixes_and_suffixes_of_each_other(self):
        pats = [(1, b"a"), (2, b"ab"), (3, b"abc"), (4, b"bc"), (5, b"c")]
        assert self.stream(pats, [b"a", b"bc"]) == [(1, 1), (2, 2), (3, 3), (4, 3), (5, 3)]

    def test_identical_literals_under_two_ids_both_report(self):
        assert self.stream([(7, b"xy"), (9, b"xy")], [b"xxy"]) == [(7, 3), (9, 3)]

    def test_one_byte_pattern_and_one_byte_segments(self):
        data = b"abcabc"
        assert self.stream([(1, b"c")], [data[i:i + 1] for i in range(6)]) == [(1, 3), (1, 6)]

    def test_pattern_tuple_and_namedtuple_are_the_same(self):
        a = self.stream([Pattern(1, b"ab", nocase=True, min_offset=3)], [b"ab AB"])
        b = self.stream([(1, b"ab", True, True, 3, None)], [b"ab AB"])
        assert a == b == [(1, 5)]

    # -- offsets ----------------------------------------------------------------------
    def test_min_offset_is_inclusive_on_the_end_offset(self):
        data = [b"xxabc", b"abc"]  # "abc" ends at 5 and 8
        assert self.stream([Pattern(1, b"abc", min_offset=5)], data) == [(1, 5), (1, 8)]
        assert self.stream([Pattern(1, b"abc", min_offset=6)], data) == [(1, 8)]
        assert self.stream([Pattern(1, b"abc", min_offset=8)], data) == [(1, 8)]
        assert self.stream([Pattern(1, b"abc", min_offset=9)], data) == []

    def test_max_offset_is_inclusive_on_the_end_offset(self):
        data = [b"xxabc", b"abc"]
        assert self.stream([Pattern(1, b"abc", max_offset=8)], data) == [(1, 5), (1, 8)]
        assert self.stream([Pattern(1, b"abc", max_offset=7)], data) == [(1, 5)]
        assert self.stream([Pattern(1, b"abc", max_offset=5)], data) == [(1, 5)]
        assert self.stream([Pattern(1, b"abc", max_offset=4)], data) == []

    def test_offset_window_of_exactly_the_pattern(self):
        # Suricata offset 2, depth 3 for a 3-byte content: it must sit at bytes 2..4.
        pat = Pattern(1, b"abc", min_offset=5, max_offset=5)
        assert self.stream([pat], [b"xxabcabc"]) == [(1, 5)]
        assert self.stream([pat], [b"xabcabc"]) == []

    def test_offsets_count_from_stream_start_not_segment(self):
        pat = Pattern(1, b"ab", min_offset=10, max_offset=12)
        assert self.stream([pat], [b"ab" * 3, b"ab" * 3]) == [(1, 10), (1, 12)]

    def test_offsets_restart_after_reset(self):
        t = self.table(self.compile([Pattern(1, b"ab", max_offset=2)]))
        t.open(0)
        assert t.scan(0, b"ab") == [(1, 2)]
        assert t.scan(0, b"ab") == []
        t.reset(0)
        assert t.offset(0) == 0
        assert t.scan(0, b"ab") == [(1, 2)]

    def test_unsatisfiable_max_offset_names_the_pattern(self):
        with pytest.raises(CompileError) as e:
            self.compile([(1, b"ok"), Pattern(42, b"abcd", max_offset=3)])
        assert e.value.pattern_id == 42
        assert "max_offset=3" in str(e.value) and str(e.value).startswith("pattern 42:")

    # -- compile errors ---------------------------------------------------------------
    @pytest.mark.parametrize("bad,what", [
        ((5, b""), "empty expression"),
        ((5, "text"), "must be bytes"),
        ((5, b"a", True, False, 3, 2), "min_offset=3 > max_offset=2"),
        ((5, b"a", True, False, -1), "min_offset must be"),
        ((-1, b"a"), "pattern id"),
        ((1 << 32, b"a"), "pattern id"),
    ])
    def test_invalid_pattern_is_named(self, bad, what):
        with pytest.raises(CompileError) as e:
            self.compile([(0, b"fine"), bad])
        assert e.value.pattern_id == bad[0] and what in str(e.value)

    def test_duplicate_id_is_refused(self):
        with pytest.raises(CompileError, match="pattern 3: pattern id used twice"):
            self.compile([(3, b"a"), (4, b"b"), (3, b"c")])

    def test_no_patterns(self):
        with pytest.raises(CompileError, match="no patterns"):
            self.compile([])

    def test_bad_mode(self):
        with pytest.raises(ValueError):
            self.compile([(1, b"a")], mode="vectored")

    # -- database ---------------------------------------------------------------------
    def test_database_properties(self):
        db = self.compile([(1, b"abc"), (2, b"de", True, True)])
        assert db.pattern_count == 2 and db.mode == "stream"
        assert db.backend in ("hyperscan", "aho-corasick")
        assert db.stream_size > 0 and db.database_size > 0 and db.compile_time >= 0
        assert [p.id for p in db.patterns] == [1, 2]
        with pytest.raises(TypeError):
            match.Database()

    def test_block_mode_offsets_are_per_buffer(self):
        pats = [(1, b"ab"), Pattern(2, b"cd", max_offset=4)]
        assert self.block(pats, b"abcd") == [(1, 2), (2, 4)]
        assert self.block(pats, b"xabcd") == [(1, 3)]
        assert self.block(pats, b"") == []

    def test_block_and_stream_databases_are_not_interchangeable(self):
        sdb = self.compile([(1, b"a")])
        bdb = self.compile([(1, b"a")], mode="block")
        with pytest.raises(ValueError):
            match.scan_bytes(sdb, self.backend.Scratch(sdb), b"a")
        with pytest.raises(ValueError):
            self.table(bdb)

    # -- streams: lifecycle -----------------------------------------------------------
    def test_stream_offset_advances_and_empty_segment_is_fine(self):
        t = self.table(self.compile([(1, b"a")]))
        t.open(0)
        t.scan(0, b"abc")
        assert t.scan(0, b"") == []
        t.scan(0, b"de")
        assert t.offset(0) == 5

    def test_reset_forgets_a_partial_match(self):
        t = self.table(self.compile([(1, b"abc")]))
        t.open(0)
        assert t.scan(0, b"ab") == []
        t.reset(0)
        assert t.scan(0, b"c") == []
        assert t.scan(0, b"abc") == [(1, 4)]  # offsets count from the reset

    def test_finish_starts_over_and_keeps_the_stream_open(self):
        t = self.table(self.compile([(1, b"abc")]))
        t.open(0)
        t.scan(0, b"xab")
        assert t.finish(0) == []
        assert t.is_open(0) and t.offset(0) == 0
        assert t.scan(0, b"c") == []
        assert t.scan(0, b"abc") == [(1, 4)]

    def test_reused_slot_starts_clean(self):
        t = self.table(self.compile([(1, b"abc")]), size=2, capacity=1)
        t.open(0)
        t.scan(0, b"ab")
        t.close(0)
        t.open(1)  # the pool's only stream, now lent to another slot
        assert t.scan(1, b"c") == []
        assert t.scan(1, b"zabc") == [(1, 5)]

    def test_streams_are_independent(self):
        t = self.table(self.compile([(1, b"abcd")]), size=2)
        t.open(0)
        t.open(1)
        assert t.scan(0, b"ab") == [] and t.scan(1, b"xy") == []
        assert t.scan(1, b"cd") == [] and t.scan(0, b"cd") == [(1, 4)]

    def test_calls_on_closed_streams_fail_cleanly(self):
        t = self.table(self.compile([(1, b"a")]))
        for op in (lambda: t.scan(0, b"a"), lambda: t.finish(0), lambda: t.reset(0), lambda: t.close(0)):
            with pytest.raises(MatchError) as e:
                op()
            assert e.value.code == ENOTOPEN
        t.open(0)
        with pytest.raises(MatchError) as e:
            t.open(0)
        assert e.value.code == EOPEN
        t.close(0)
        assert not t.is_open(0)

    def test_pool_exhaustion_is_an_error_not_a_crash(self):
        db = self.compile([(1, b"a")])
        scratch = self.backend.Scratch(db)
        pool = self.backend.StreamPool(db, 2)
        t = StreamTable(db, scratch, pool, 3)
        t.open(0)
        t.open(1)
        with pytest.raises(MatchError) as e:
            t.open(2)
        assert e.value.code == EPOOL
        assert pool.stats()["exhausted"] == 1 and pool.stats()["in_use"] == 2
        t.close(0)
        t.open(2)
        assert t.scan(2, b"a") == [(1, 1)]

    def test_no_leak_after_many_open_close_cycles(self):
        db = self.compile([(1, b"ab"), (2, b"b", True, True)])
        scratch = self.backend.Scratch(db)
        pool = self.backend.StreamPool(db, 4)
        t = StreamTable(db, scratch, pool, 8)
        for i in range(20000):
            slot = i % 8
            if t.is_open(slot):
                t.close(slot)
            if pool.stats()["in_use"] == 4:  # pool full: end the flow of another slot
                t.close(next(s for s in range(8) if t.is_open(s)))
            t.open(slot)
            assert t.scan(slot, b"xAB") == [(2, 3)]
            if i % 3 == 0:
                t.close(slot)
        stats = pool.stats()
        assert stats["opens"] == 20000 and stats["peak"] <= 4
        del t  # a dropped table gives its open streams back
        assert pool.stats()["in_use"] == 0

    def test_pool_belongs_to_its_database(self):
        a, b = self.compile([(1, b"a")]), self.compile([(1, b"a")])
        with pytest.raises(ValueError):
            StreamTable(a, self.backend.Scratch(a), self.backend.StreamPool(b, 1), 1)

    # -- match buffer -----------------------------------------------------------------
    def test_buffer_overflow_is_counted_and_scanning_goes_on(self):
        t = self.table(self.compile([(1, b"a")]))
        t.open(0)
        buf = MatchBuffer(10)
        t.scan(0, b"a" * 100, buf)
        assert buf.matches() == [(1, k) for k in range(1, 11)]
        assert buf.overflow == 90
        buf.clear()
        t.scan(0, b"xa", buf)  # the stream survived the overflow
        assert buf.matches() == [(1, 102)] and buf.overflow == 0

    def test_zero_capacity_buffer_counts_everything(self):
        db = self.compile([(1, b"ab"), (2, b"b")], mode="block")
        buf = MatchBuffer(0)
        assert match.scan_bytes(db, self.backend.Scratch(db), b"abab", buf) == []
        assert buf.overflow == 4

    def test_buffer_accumulates_until_cleared(self):
        t = self.table(self.compile([(1, b"a")]))
        t.open(0)
        buf = MatchBuffer(8)
        t.scan(0, b"a", buf)
        t.scan(0, b"a", buf)
        assert buf.matches() == [(1, 1), (1, 2)]

    # -- threads ----------------------------------------------------------------------
    def test_one_scratch_per_thread_in_parallel(self):
        pats = [(i, bytes([97 + i % 26]) * (1 + i % 4)) for i in range(60)]
        db = self.compile(pats)
        data = bytes(range(97, 123)) * 40 + b"aaaa" * 50
        proto = self.backend.Scratch(db)
        segments = [data[k:k + 37] for k in range(0, len(data), 37)]
        want = self.stream(pats, segments)
        results, errors = {}, []
        barrier = threading.Barrier(4)

        def worker(n, scratch):
            try:
                t = StreamTable(db, scratch, self.backend.StreamPool(db, 1), 1)
                barrier.wait()
                for _ in range(20):  # GIL released in every scan: the threads overlap
                    t.open(0)
                    got = [m for seg in segments for m in t.scan(0, seg)] + t.close(0)
                    results.setdefault(n, []).append(sorted(got))
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(n, proto.clone())) for n in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert not errors
        assert all(r == want for rs in results.values() for r in rs) and len(results) == 4


class TestHyperscan(_MatchCases, HyperscanImpl):
    pass


class TestAhoCorasick(_MatchCases, AhoCorasickImpl):
    pass


class TestHyperscanOnly:
    """Regexes and what only Hyperscan has (end-of-data matches, its allocator)."""

    def run(self, patterns, segments, finish=True):
        db = match_hs.Database.compile(patterns)
        t = StreamTable(db, match_hs.Scratch(db), match_hs.StreamPool(db, 1), 1)
        t.open(0)
        got = [t.scan(0, s) for s in segments]
        return got + [t.finish(0)] if finish else got

    def test_regex_flags(self):
        R = dict(literal=False)
        pats = [Pattern(1, b"a.b", **R), Pattern(2, b"c.d", dotall=True, **R),
                Pattern(3, b"^ef$", multiline=True, **R), Pattern(4, b"gh", nocase=True, **R)]
        got = self.run(pats, [b"a\nb c\nd\nef\nGH"])
        assert sorted(got[0]) == [(2, 7), (3, 10), (4, 13)]

    def test_dollar_matches_at_end_of_stream_on_finish(self):
        got = self.run([Pattern(1, b"end$", literal=False)], [b"the en", b"d"])
        assert got == [[], [], [(1, 7)]]

    def test_word_boundary_at_a_write_end_is_reported_by_the_next_write(self):
        # "bar" ends at 6, the last byte of the first write; only the next byte decides \b.
        got = self.run([Pattern(1, b"bar\\b", literal=False)], [b"foobar", b" x"])
        assert got == [[], [(1, 6)], []]
        got = self.run([Pattern(1, b"bar\\b", literal=False)], [b"foobar"])
        assert got == [[], [(1, 6)]]  # end of data is a boundary: finish reports it

    def test_close_without_eod_reports_nothing(self):
        db = match_hs.Database.compile([Pattern(1, b"x$", literal=False)])
        t = StreamTable(db, match_hs.Scratch(db), match_hs.StreamPool(db, 1), 1)
        t.open(0)
        t.scan(0, b"x")
        assert t.close(0, eod=False) == []

    def test_literal_metacharacters_are_literal(self):
        got = self.run([(1, b"a.b*(c)?"), (2, b"\\x41")], [b"axbbc a.b*(c)? \\x41 A"])
        assert sorted(got[0]) == [(1, 14), (2, 19)]

    @pytest.mark.parametrize("regex,message", [
        (b"(a)\\1", "Back-references are unsupported"),
        (b"(?=a)b", "Zero-width assertions are not supported"),
        (b"a*", "Pattern matches empty buffer"),
        (b"a(b", "Missing close parenthesis"),
    ])
    def test_unsupported_regex_is_named_with_hyperscans_message(self, regex, message):
        with pytest.raises(CompileError) as e:
            match_hs.Database.compile([(1, b"fine"), Pattern(77, regex, literal=False)])
        assert e.value.pattern_id == 77 and message in e.value.message

    def test_nul_in_regex_is_refused(self):
        with pytest.raises(CompileError, match="pattern 3: regex contains a NUL byte"):
            match_hs.Database.compile([Pattern(3, b"a\0b", literal=False)])

    def test_scratch_serves_several_databases(self):
        a = match_hs.Database.compile([(1, b"a")])
        b = match_hs.Database.compile([(1, b"b" * 50), Pattern(2, b"[a-z]{20}x", literal=False)], mode="block")
        s = match_hs.Scratch(a, b)
        assert match.scan_bytes(b, s, b"b" * 50) == [(1, 50)]
        assert s.size > 0 and s.clone().size == s.size

    def test_streams_are_allocated_once_per_pool_never_per_flow(self):
        """A pool allocates a stream only when none is idle, up to its capacity: what it
        holds follows the most streams lent at once, never the number of flows."""
        db = match_hs.Database.compile([(1, b"abc"), Pattern(2, b"x+y", literal=False)])
        before = match_hs.stream_allocations()
        pool = match_hs.StreamPool(db, 16)
        assert match_hs.stream_allocations()["allocated"] == before["allocated"]   # none yet
        small = StreamTable(db, match_hs.Scratch(db), pool, 64)
        for _ in range(1000):              # one flow at a time: one stream, lent again and again
            small.open(0)
            small.scan(0, b"xxabcxy")
            small.close(0)
        assert match_hs.stream_allocations()["allocated"] - before["allocated"] == 1
        assert pool.stats()["allocated"] == 1 and pool.stats()["peak"] == 1
        del small
        t = StreamTable(db, match_hs.Scratch(db), pool, 64)
        for i in range(50000):
            slot = i % 64
            if t.is_open(slot):
                t.close(slot)
            if pool.stats()["in_use"] == 16:
                t.close(next(s for s in range(64) if t.is_open(s)))
            t.open(slot)
            t.scan(slot, b"xxabcxy")
        after_pool = match_hs.stream_allocations()
        assert after_pool["allocated"] - before["allocated"] == 16 == pool.stats()["allocated"]
        assert pool.stats()["peak"] == 16 and pool.stats()["exhausted"] == 0
        del t, pool
        end = match_hs.stream_allocations()
        assert end["freed"] - before["freed"] == 16

    def test_pool_reports_its_memory(self):
        db = match_hs.Database.compile([(1, b"abc")])
        pool = match_hs.StreamPool(db, 10)
        assert pool.stats()["bytes"] == 0
        t = StreamTable(db, match_hs.Scratch(db), pool, 16)
        for i in range(3):
            t.open(i)
        assert pool.stats()["bytes"] == 3 * db.stream_size and pool.stats()["in_use"] == 3
        t.close(1)
        assert pool.stats()["bytes"] == 3 * db.stream_size and pool.stats()["in_use"] == 2

    def test_measure_stream_designs(self):
        db = match_hs.Database.compile([(1, b"abc"), (2, b"GET /", True, True)])
        d = match_hs.measure_stream_designs(db, match_hs.Scratch(db), b"GET /abc HTTP/1.1\r\n" * 50, 100)
        assert all(d[k] > 0 for k in ("per_flow_open_close", "pool_open_close", "compress_expand", "scan"))
        assert 0 < d["compressed_bytes"] <= d["stream_size"] + 64

    def test_info_names_the_mode(self):
        assert "STREAM" in match_hs.Database.compile([(1, b"a")]).info


class TestAhoCorasickOnly:
    def test_regex_is_refused_naming_the_pattern(self):
        with pytest.raises(CompileError) as e:
            match_ac.Database.compile([(1, b"ok"), Pattern(9, b"a.*b", literal=False)])
        assert e.value.pattern_id == 9 and "only literals" in str(e.value)

    def test_automata_split_exact_and_folded(self):
        db = match_ac.Database.compile([(1, b"ab"), (2, b"cd", True, True), (3, b"\x00\x01", True, True)])
        a = db.automata
        assert a["exact"][0] == 1 + 2 + 2 and a["folded"][0] == 1 + 2
        assert db.stream_size == 8

    def test_long_and_many_patterns_have_sparse_states(self):
        pats = [(i, b"%05d-long-pattern-%05d" % (i, i)) for i in range(3000)]
        db = match_ac.Database.compile(pats)
        states, dense = db.automata["exact"]
        assert dense < states
        t = StreamTable(db, match_ac.Scratch(db), match_ac.StreamPool(db, 1), 1)
        t.open(0)
        data = b"".join(p for _, p in pats[::7])
        got = sorted(m for k in range(0, len(data), 13) for m in t.scan(0, data[k:k + 13]))
        assert [i for i, _ in got] == [i for i, _ in pats[::7]]


def test_contract_matches_the_header():
    assert match.STREAM_STRUCT_SIZE == 24  # a slab entry per stream, documented in match.pxd
    assert match.MATCH_RECORD_SIZE == 16
    header = (Path(match.__file__).parent / "xdpfw_match.h").read_text()
    for name in ("ENOTOPEN", "EOPEN", "EPOOL"):
        value = int(re.search(r"#define XDPFW_MATCH_%s \((-?\d+)\)" % name, header).group(1))
        assert getattr(match, name) == value < -13  # below every Hyperscan hs_error_t

