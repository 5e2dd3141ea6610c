"""The Aho-Corasick backend (``--matcher ac``, xdpfw._fast.match_ac; Suricata's
util-mpm-ac.c): plain literals only.

A rule qualifies when each of its matches on the buffer is a content that is not relative
(no distance/within), not endswith, without transforms; offset, depth and startswith bound
the literal's end offset (min/max_offset). The backend has neither SINGLEMATCH nor
combinations, so in stream mode every rule is a formula the engine evaluates over its
contents as operands (negated contents as ``not``): that also reports it once per stream.
In block mode a rule must be a single positive content, reported directly. Rules that do
not qualify are CompileErrors naming the keyword.
"""
from __future__ import annotations

from typing import Sequence

from xdpfw.detect.buffers import checks
from xdpfw.detect.mpm import Emitter
from xdpfw.detect.results import CompiledRule, CompileError
from xdpfw.detect.translate import int_arg, keyword_of
from xdpfw.rules.model import Content, IsDataAt, Match, Pcre, Rule


class AhoCorasickEmitter(Emitter):
    name = "ac"
    label = "Aho-Corasick"
    database = "xdpfw._fast.match_ac"

    def operand_pattern(self, pid: int, key):
        pattern, nocase, lo, hi = key
        return self.Pattern(pid, pattern, literal=True, nocase=nocase, min_offset=lo, max_offset=hi)

    report_pattern = operand_pattern

    @staticmethod
    def literal(rule: Rule, m: Match) -> tuple:
        """(bytes, nocase, min end offset, max end offset) of a content the backend takes."""
        if isinstance(m, Pcre):
            raise CompileError(rule, "pcre", "the Aho-Corasick backend matches literals only", "ac_literal")
        if isinstance(m, IsDataAt) or not isinstance(m, Content):
            raise CompileError(rule, keyword_of(m), "the Aho-Corasick backend matches literals only",
                               "ac_literal")
        if m.relative:
            raise CompileError(rule, keyword_of(m), "relative contents need the Hyperscan backend", "ac_literal")
        if m.endswith:
            raise CompileError(rule, "endswith", "end-anchored contents need the Hyperscan backend", "ac_literal")
        if m.transforms:
            raise CompileError(rule, m.transforms[0], "transforms need the Hyperscan backend", "ac_literal")
        size = len(m.pattern)
        lo = int_arg(rule, m.offset, "offset") if m.offset is not None else 0
        if m.startswith:
            return (m.pattern, m.nocase, size, size)
        hi = lo + int_arg(rule, m.depth, "depth") if m.depth is not None else None
        if hi is not None and hi < lo + size:
            raise CompileError(rule, "depth", "depth shorter than the content: it can never match", "never_matches")
        return (m.pattern, m.nocase, lo + size if lo else None, hi)

    def rule(self, idx: int, rule: Rule, buffer: str, ms: Sequence[Match]) -> CompiledRule:
        lits = [(self.literal(rule, m), m.negated) for m in ms]
        if not any(not neg for _, neg in lits):
            raise CompileError(rule, "content", "only negated contents: nothing to report", "ac_literal")
        cr = CompiledRule(idx, rule.sid, idx, "", (), checks(rule, buffer))
        if self.mode == "block":
            if len(lits) != 1:
                raise CompileError(rule, "content", "several contents in one packet need the Hyperscan "
                                                    "backend (no combinations in Aho-Corasick block mode)",
                                   "ac_literal")
            self.report(cr, lits[0][0])
        else:
            self.formula(cr, [("not", self.operand(k)) if neg else self.operand(k) for k, neg in lits])
        return cr
