"""The Hyperscan backend (``--matcher hs``, xdpfw._fast.match_hs; Suricata's util-mpm-hs.c).

It gets every translated rule (translate.py): regex expressions with HS_FLAG_DOTALL,
min/max end offsets as Hyperscan extended parameters, SINGLEMATCH, and a rule of several
expressions as a logical combination of quiet operands (``combine="hyperscan"``) or as
operands the engine combines (``combine="engine"``), in block or stream mode.
"""
from __future__ import annotations

import re
from typing import Sequence

from xdpfw.detect.buffers import checks, transforms_of
from xdpfw.detect.mpm import Emitter
from xdpfw.detect.pcre_text import has_boundary
from xdpfw.detect.regex_emit import Expr
from xdpfw.detect.results import CompiledRule, CompileError
from xdpfw.detect.translate import keyword_of, translate_rule
from xdpfw.rules.model import Content, Match, Pcre, Rule

COMBINE = ("hyperscan", "engine")


class HyperscanEmitter(Emitter):
    name = "hs"
    label = "Hyperscan"
    database = "xdpfw._fast.match_hs"
    cacheable = True    # Database.cache_key/serialize/deserialize: the on-disk cache (cache.py)

    def __init__(self, n_rules: int, mode: str, *, transforms: tuple[str, ...] | None = None,
                 singlematch: bool = True, combine: str = "hyperscan"):
        if combine not in COMBINE:
            raise ValueError(f"combine must be 'hyperscan' or 'engine', got {combine!r}")
        super().__init__(n_rules, mode)
        self.transforms = transforms
        self.singlematch = singlematch
        self.combine = combine
        self.combines = self.quiet = combine == "hyperscan"

    # Operands of a Hyperscan combination are never SINGLEMATCH: Hyperscan 5.4 then stops evaluating combinations
    # (nothing reported, or HS_SCAN_TERMINATED once every pattern is single-match).
    def operand(self, e: Expr) -> int:
        if self.quiet and has_boundary(e.text) and "\\z" not in e.text and e.max_offset is None:
            # A trailing \b is decided by the next byte, which Hyperscan refuses in a
            # combination operand ("unordered match"); consuming one more byte (or the
            # end) keeps exactly the same buffers matching.
            e = Expr(e.text + "(?:(?s:.)|\\z)", e.min_offset, None)
        return super().operand((e.text, e.min_offset, e.max_offset))

    def operand_pattern(self, pid: int, key):
        text, lo, hi = key
        # With combine="engine" the engine keeps which operands a stream has seen, so
        # each needs reporting once per stream only (singlematch).
        return self.Pattern(pid, text.encode("utf-8", "surrogateescape"), literal=False, min_offset=lo,
                            max_offset=hi, dotall=True, quiet=self.quiet,
                            singlematch=self.singlematch and not self.quiet)

    def report_pattern(self, pid: int, e: Expr):
        return self.Pattern(pid, e.text.encode("utf-8", "surrogateescape"), literal=False,
                            min_offset=e.min_offset, max_offset=e.max_offset, dotall=True,
                            singlematch=self.singlematch)

    def combination_pattern(self, pid: int, text: str):
        return self.Pattern(pid, text.encode(), literal=False, singlematch=self.singlematch, combination=True)

    def eod(self) -> int:
        """The end-of-data sentinel's id (one pattern per database)."""
        if self.eod_id is None:
            self.eod_id = self.new_id()
            self.patterns.append(self.Pattern(self.eod_id, b"(?s:.)\\z", literal=False, quiet=self.quiet))
        return self.eod_id

    def rule(self, idx: int, rule: Rule, buffer: str, ms: Sequence[Match]) -> CompiledRule | None:
        tr = transforms_of(ms)
        if self.transforms is not None and tuple(tr) != tuple(self.transforms):
            return None
        out = translate_rule(rule, buffer)
        terms_pos = [t for t in out.positives if t]
        terms_neg = [t for t in out.negatives if t]
        if not terms_pos and not terms_neg and not out.custom:
            raise CompileError(rule, keyword_of(ms[0]), f"nothing to match on {buffer}", "empty")
        fp = next((m.pattern for m in ms if isinstance(m, Content) and m.fast_pattern is not None), None)
        if out.eod and self.mode == "stream" and not self.quiet and not out.custom and not any(
                "\\z" in e.text or "$" in e.text for t in terms_pos for e in t):
            # Only negations made it end-of-data: an engine evaluating a stream's formula
            # as it goes reads them as "not seen so far" (engine.pyx "Combinations").
            out.eod = False
        cr = CompiledRule(idx, rule.sid, idx, "", (), checks(rule, buffer), out.eod,
                          list(dict.fromkeys(out.approximations)), list(dict.fromkeys(out.notes)),
                          fp, tuple(tr))
        cr.validate = any(isinstance(m, Pcre) for m in ms) or any(
            large_repeat(e.text) or len(e.text) > LONG_EXPRESSION for t in terms_pos + terms_neg for e in t)
        if len(terms_pos) == 1 and len(terms_pos[0]) == 1 and not terms_neg and not out.custom:
            self.report(cr, terms_pos[0][0])
            return cr
        parts: list = [self.term(t) for t in terms_pos]
        parts += [("not", self.term(t)) for t in terms_neg]
        for fmt, groups in out.custom:  # negated endswith: (!at_end | ends_earlier)
            a, b = (self.term(g) for g in groups)
            parts.append(("or", ("not", a), b))
        if out.eod:
            parts.append(self.eod())
        self.formula(cr, parts)
        return cr

    @staticmethod
    def database_error(rule: Rule, buffer: str, message: str) -> CompileError:
        pc = _pcre_of(rule, buffer)
        kw = "pcre" if pc else "content"
        where = f" in {pc}" if pc else ""
        return CompileError(rule, kw, f"Hyperscan: {message}{where}", "hyperscan")


LONG_EXPRESSION = 4096   # characters: a rule with a longer expression is compiled alone first
                         # (Hyperscan may reject it for its length: one small compile each)


def large_repeat(text: str, limit: int = 1000) -> bool:
    """A bounded repeat of ``limit`` or more: such rules are compiled alone first."""
    return any(int(x) >= limit for x in re.findall(r"\{(\d+)(?:,(\d*))?\}", text) for x in x if x)


def _pcre_of(rule: Rule, buffer: str) -> str:
    return next((f"/{m.regex}/{m.flags}" for m in rule.buffers().get(buffer, [])
                 if isinstance(m, Pcre)), "")
