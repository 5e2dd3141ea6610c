"""Per-rule translation: one rule's matches on one buffer -> positive, negative and
custom terms of expressions (the chains and templates of docs/DETECT.md)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Sequence

from xdpfw.detect.pcre_text import fixed_width, pcre_text, scan_regex, strip_leading_caret
from xdpfw.detect.regex_emit import Expr, avoid_regex, expression, regex, regex_lit
from xdpfw.detect.results import CompileError
from xdpfw.detect.tokens import (ALL, BOS, EOD, MAX_ALTERNATIVES, START, AnyN, Gap, Lit, Never, Re,
                                 Rep, Template, Token, Unsupported, append, byte_set, compress,
                                 dedupe, place_exact, place_rel, strip_free_tail)
from xdpfw.rules.model import Content, IsDataAt, Match, Pcre, Rule

_WITHIN_NEXT = 1
_DISTANCE_NEXT = 2
_RELATIVE_NEXT = 3


def next_flags(matches: Sequence[Match]) -> dict[int, int]:
    """Suricata's *_NEXT flags per content/pcre (index in ``matches``), and which
    ``isdataat:!1,relative`` Suricata folds into endswith (flag value -1)."""
    flags: dict[int, int] = {}
    last: int | None = None
    for i, m in enumerate(matches):
        if isinstance(m, IsDataAt):
            if m.relative and last is not None:
                if (m.negated and m.offset == 1 and isinstance(matches[last], Content)):
                    flags[i] = -1
                    continue
                flags[last] = flags.get(last, 0) | _RELATIVE_NEXT
            continue
        flags.setdefault(i, 0)
        if last is not None:
            if isinstance(m, Content):
                if m.distance is not None:
                    flags[last] |= _RELATIVE_NEXT if m.negated else _DISTANCE_NEXT
                if m.within is not None:
                    flags[last] |= _WITHIN_NEXT
            elif m.relative:
                flags[last] |= _RELATIVE_NEXT
        last = i
    return flags


def fold_endswith(matches: Sequence[Match]) -> list[Match]:
    """Suricata's setup turns ``isdataat:!1,relative`` right after a content (negated or
    not) into ``endswith`` on that content and drops the isdataat."""
    out: list[Match] = []
    last: int | None = None  # index in out of the last content/pcre
    for m in matches:
        if (isinstance(m, IsDataAt) and m.relative and m.negated and m.offset == 1
                and last is not None and isinstance(out[last], Content)):
            c = out[last]
            assert isinstance(c, Content)
            out[last] = dataclasses.replace(c, endswith=True)
            continue
        out.append(m)
        if isinstance(m, (Content, Pcre)):
            last = len(out) - 1
    return out


def keyword_of(m: Match) -> str:
    if isinstance(m, Pcre):
        return "pcre"
    if isinstance(m, IsDataAt):
        return "isdataat"
    if m.distance is not None:
        return "distance"
    if m.within is not None:
        return "within"
    return "content"


def int_arg(rule: Rule, v: object, kw: str) -> int:
    if not isinstance(v, int):
        raise CompileError(rule, kw, f"byte_extract variable {v!r} is not supported", "variable")
    return v




@dataclass
class RuleOut:
    positives: list[list[Expr]] = field(default_factory=list)  # each: OR of expressions
    negatives: list[list[Expr]] = field(default_factory=list)
    custom: list[tuple[str, list[list[Expr]]]] = field(default_factory=list)
    eod: bool = False
    approximations: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class _Chain:
    """The templates of one chain, and what its cursor belongs to."""

    def __init__(self, templates: list[Template], owner: int | None):
        self.templates = templates
        self.owner = owner          # index of the content/pcre whose end is the cursor
        self.negs_pending = False   # a negated relative keyword was seen on this chain
        self.negs_approx = False    # one of them was approximated: so are the next ones


class _RuleCompiler:
    def __init__(self, rule: Rule, buffer: str):
        self.rule = rule
        self.buffer = buffer
        self.out = RuleOut()

    def err(self, m: Match | None, message: str, reason: str = "unsupported",
            kw: str | None = None) -> CompileError:
        return CompileError(self.rule, kw or (keyword_of(m) if m is not None else "content"), message, reason)

    # -- entry -------------------------------------------------------------------------
    def run(self, matches: Sequence[Match]) -> RuleOut:
        matches = fold_endswith(matches)
        flags = next_flags(matches)
        chain: _Chain | None = None
        for i, m in enumerate(matches):
            try:
                chain = self._step(matches, flags, i, m, chain)
            except Unsupported as e:
                raise self.err(m, str(e), e.reason) from None
            except Never:
                raise self.err(m, "the rule can never match: no placement satisfies this keyword "
                                  "and the ones before it", "never_matches") from None
            if chain is not None and len(chain.templates) > MAX_ALTERNATIVES:
                raise self.err(m, f"{len(chain.templates)} alternative placements (limit "
                                  f"{MAX_ALTERNATIVES})", "too_complex")
        if chain is not None:
            self._finish_chain(chain)
        if self.out.negatives or self.out.custom or any(
                "\\z" in e.text or "$" in e.text for exprs in self.out.positives for e in exprs):
            self.out.eod = True
        return self.out

    def _retries(self, matches: Sequence[Match], flags: dict[int, int], owner: int) -> bool:
        m = matches[owner]
        f = flags.get(owner, 0)
        if isinstance(m, Pcre):
            return f != 0
        return bool(f & _WITHIN_NEXT)

    # -- one keyword -------------------------------------------------------------------
    def _step(self, matches: Sequence[Match], flags: dict[int, int], i: int, m: Match,
              chain: _Chain | None) -> _Chain | None:
        if isinstance(m, IsDataAt):
            return self._isdataat(matches, flags, i, m, chain)
        relative = m.relative
        if not relative:
            if m.negated:
                self._negative_absolute(m)
                return chain
            if chain is not None:
                self._finish_chain(chain)
            return _Chain(self._head(m), i)
        # relative: the cursor is the end of the last positive content/pcre
        if chain is None:
            chain = _Chain([START], None)
        if chain.negs_pending and not m.negated:
            self._approx_after_negation(matches, flags, i, m, chain)
        self._check_first_match_only(matches, flags, i, m, chain)
        if m.negated:
            self._negative_relative(matches, flags, i, m, chain)
            return chain
        if chain.owner is not None and isinstance(matches[chain.owner], Pcre):
            self._pcre_end_check(matches, chain.owner)
        chain.templates = self._place(chain.templates, m)
        chain.owner = i
        if not chain.templates:
            raise Never()
        return chain

    def _check_first_match_only(self, matches: Sequence[Match], flags: dict[int, int], i: int,
                                m: Content | Pcre, chain: _Chain) -> None:
        """Suricata only tries the first match of a content whose next keyword does not
        depend on it through within; the translation tries every match. They agree when
        the windows of what follows only shrink as that match moves right."""
        if chain.owner is None or self._retries(matches, flags, chain.owner):
            return
        if isinstance(m, Content) and m.within is not None:
            self.out.approximations.append(
                f"first_match_only: sid {self.rule.sid}: a keyword with 'within' follows a match "
                f"Suricata does not retry (its next keyword does not use within)")

    def _approx_after_negation(self, matches: Sequence[Match], flags: dict[int, int], i: int,
                               m: Content | Pcre, chain: _Chain) -> None:
        if chain.negs_approx and chain.owner is not None and self._retries(matches, flags, chain.owner):
            self.out.approximations.append(
                "negation_exists: a relative negation and a positive keyword both depend on one "
                "retried match; the negation is checked against every match")

    # -- heads -------------------------------------------------------------------------
    def _head(self, m: Content | Pcre) -> list[Template]:
        if isinstance(m, Pcre):
            return [Template((Re(self._pcre_head_text(m)),))]
        L = len(m.pattern)
        lit = Lit(m.pattern, m.nocase)
        if m.startswith:
            t = Template((BOS, lit))
        else:
            o = int_arg(self.rule, m.offset, "offset") if m.offset is not None else 0
            if m.depth is None:
                t = Template((lit,)) if o == 0 else Template((BOS, Gap(o, None), lit))
            else:
                d = int_arg(self.rule, m.depth, "depth")
                t = Template(tuple(x for x in (BOS, Gap(o, o + d - L), lit)
                                   if not (isinstance(x, Gap) and x.lo == 0 and x.hi == 0)))
        ts = [t]
        if m.endswith:
            ts = self._endswith(ts, m)
        return ts

    def _pcre_head_text(self, p: Pcre) -> str:
        info = scan_regex(p.regex)
        if info.nul:
            raise self.err(p, "the regex contains a NUL byte")
        text = pcre_text(p, p.regex)
        return "^" + text if p.anchored else text

    def _endswith(self, ts: list[Template], m: Match) -> list[Template]:
        out = []
        for t in ts:
            if t.back != 0 or t.closed:
                continue
            out.append(t if t.eod else append(t, EOD))
        if not out:
            raise self.err(m, "endswith can never hold here (a later byte is already placed)",
                           "never_matches", kw="endswith")
        return out

    # -- relative placement ------------------------------------------------------------
    def _place(self, ts: list[Template], m: Content | Pcre) -> list[Template]:
        if isinstance(m, Pcre):
            return self._place_pcre(ts, m)
        L = len(m.pattern)
        d = int_arg(self.rule, m.distance, "distance") if m.distance is not None else 0
        out: list[Template] = []
        for t in ts:
            if m.within is None:
                klo, khi = d, None
            else:
                w = int_arg(self.rule, m.within, "within")
                if d + w < 0:
                    if t == START:
                        klo, khi = 0, None  # P = 0: the window end wraps to the buffer end
                        out.extend(place_rel(Template(()), [Lit(m.pattern, m.nocase)], 0, None))
                        continue
                    self.out.approximations.append(
                        "within_wrap: distance+within < 0: Suricata also matches anywhere when "
                        "the previous match ends before byte -(distance+within); only the "
                        "declared window is compiled")
                klo, khi = d, d + w - L
            out.extend(place_rel(t, [Lit(m.pattern, m.nocase)], klo, khi))
        out = dedupe(out)
        wrap = m.within is not None and m.distance is not None and m.within + m.distance < 0
        if m.endswith and out:
            try:
                out = self._endswith(out, m)
            except CompileError:
                if not wrap:
                    raise
                out = []
        if not out and wrap:
            raise Unsupported("distance+within < 0: no match is possible in the declared window, "
                               "only through Suricata's window wrap-around (not compiled)",
                               "within_wrap")
        return out

    def _place_pcre(self, ts: list[Template], p: Pcre) -> list[Template]:
        info = scan_regex(p.regex)
        if info.nul:
            raise self.err(p, "the regex contains a NUL byte")
        if info.other_anchor:
            raise Unsupported("'^' or '\\A' inside a relative pcre (its subject starts at the "
                               "previous match)")
        if info.word_boundary:
            self.out.approximations.append(
                "pcre_relative_boundary: \\b or \\B in a relative pcre sees the byte before the "
                "previous match's end, PCRE sees the subject start")
        out: list[Template] = []
        for t in ts:
            if t.closed:
                raise Unsupported("a relative pcre after isdataat:!N,relative")
            if t.back:
                raise Unsupported("a relative pcre overlapping bytes placed by a negative distance")
            if t.eod:
                continue
            if p.anchored or info.leading_caret:
                body = strip_leading_caret(p.regex) if info.leading_caret else p.regex
                text = pcre_text(p, body)
                out.append(append(t, Re(text)))
                if p.multiline and info.leading_caret and not p.anchored:
                    out.append(append(t, Gap(0, None), Lit(b"\n"), Re(text)))
            else:
                out.append(append(t, Gap(0, None), Re(pcre_text(p, p.regex))))
        return dedupe(out)

    def _pcre_end_check(self, matches: Sequence[Match], owner: int) -> None:
        p = matches[owner]
        assert isinstance(p, Pcre)
        if p.multiline and p.regex.endswith("$"):
            self.out.approximations.append(
                "pcre_end: a relative keyword follows a pcre ending in a multiline $, compiled "
                "as (?:\\n|\\z)")
        if not fixed_width(p):
            self.out.approximations.append(
                "pcre_end: a relative keyword follows a pcre whose match length varies: Suricata "
                "continues from the end PCRE prefers, Hyperscan from every end")
        if p.anchored and p.relative:
            self.out.approximations.append(
                "pcre_anchored_retry: Suricata retries an anchored relative pcre one byte later")

    # -- isdataat ----------------------------------------------------------------------
    def _isdataat(self, matches: Sequence[Match], flags: dict[int, int], i: int, d: IsDataAt,
                  chain: _Chain | None) -> _Chain | None:
        n = int_arg(self.rule, d.offset, "isdataat")
        if not d.relative or chain is None:
            # Absolute (or relative to offset 0): a length condition.
            need = n + 1 if not d.relative else n
            if d.negated:
                if need == 0:
                    raise self.err(d, "isdataat:!0,relative can never hold", "never_matches")
                self.out.negatives.append([Expr(".", need, None)])
            elif need > 0:
                self.out.positives.append([Expr(".", need, None)])
            return chain
        if chain.owner is not None and isinstance(matches[chain.owner], Pcre):
            self._pcre_end_check(matches, chain.owner)
        if d.negated and chain.owner is not None and not self._retries(matches, flags, chain.owner):
            # "few bytes left" gets easier as the match moves right, but Suricata only
            # tries the first match here (the isdataat's flag went to a negated content).
            self.out.approximations.append(
                "first_match_only: isdataat:!N,relative after a match Suricata does not retry")
        if not d.negated and n > 0 and self._within_free_after(matches, i) and any(
                isinstance(x, (Content, Pcre)) and x.relative for x in self._rest_of_chain(matches, i)):
            # "n bytes after the match" only gets harder as the match moves right, and so
            # does everything after it in this chain (no within): the first match that
            # satisfies the chain is also the best for the length, so the length is a
            # term of its own instead of n placed bytes that later keywords overlap.
            term = [append(t, AnyN(n - t.back), back=n) if n > t.back else t
                    for t in chain.templates if not t.eod or n <= t.back]
            if not term:
                raise self.err(d, "the rule can never match: no placement satisfies this isdataat",
                               "never_matches")
            if any(n > t.back for t in chain.templates):
                self.out.notes.append("isdataat_term")
                self.out.positives.append(self._exprs(dedupe(term)))
            return chain
        out: list[Template] = []
        for t in chain.templates:
            if t.closed:
                raise self.err(d, "isdataat after isdataat:!N,relative")
            if not d.negated:
                if n <= t.back:
                    out.append(t)
                elif not t.eod:
                    out.append(append(t, AnyN(n - t.back), back=n))
            else:
                if n == 0 or t.back >= n:
                    continue
                if t.eod:
                    out.append(t)
                else:
                    out.append(append(t, Gap(0, n - 1 - t.back), EOD, back=t.back, closed=True))
        if not out:
            raise self.err(d, "the rule can never match: no placement satisfies this isdataat",
                           "never_matches")
        chain.templates = dedupe(out)
        return chain

    # -- negations ---------------------------------------------------------------------
    def _negative_absolute(self, m: Content | Pcre) -> None:
        if isinstance(m, Content) and m.endswith:
            if m.offset not in (None, 0) or m.startswith:
                raise self.err(m, "negated endswith with offset: Suricata compares the window "
                                  "length with the absolute match end (not supported)", kw="endswith")
            # Suricata fails the rule only when the window reaches the buffer end (depth
            # >= length) and the FIRST occurrence of the content ends there.
            depth = int_arg(self.rule, m.depth, "depth") if m.depth is not None else None
            lit = regex_lit(Lit(m.pattern, m.nocase))
            self.out.custom.append(("(!{0} | {1})", [[Expr(lit + "\\z", None, depth)],
                                                     [Expr(lit + ".")]]))
            self.out.eod = True
            return
        self.out.negatives.append(self._exprs(self._head(m)))

    def _negative_relative(self, matches: Sequence[Match], flags: dict[int, int], i: int,
                           m: Content | Pcre, chain: _Chain) -> None:
        if isinstance(m, Content) and m.endswith:
            raise self.err(m, "negated relative endswith is not supported", kw="endswith")
        owner = chain.owner
        retries = owner is not None and self._retries(matches, flags, owner)
        later = [x for x in self._rest_of_chain(matches, i)
                 if isinstance(x, (Content, Pcre)) and x.relative]
        chain.negs_pending = True
        if not retries:
            # Suricata checks the first match only; a window that only shrinks as that
            # match moves right makes "not after the first" == "not after any".
            if isinstance(m, Content) and m.within is not None:
                self.out.approximations.append(
                    "negation_first_match: a negated content with within after a match "
                    "Suricata does not retry")
            placed = self._place(chain.templates, m)
            if placed:
                self.out.negatives.append(self._exprs(placed))
            return
        if isinstance(m, Content) and not chain.negs_approx:
            # Suricata retries the match: the negation must hold after ONE of them, so it
            # is part of the chain (its window, byte by byte), not a separate NOT.
            avoid = self._avoid(chain.templates, m, closing=not later)
            if avoid is not None:
                self.out.notes.append("negation_window")
                chain.templates = avoid
                return
        chain.negs_approx = True
        self.out.approximations.append(
            "negation_exists: Suricata needs the negation to hold after one of the retried "
            "matches; the translation requires it after every match")
        placed = self._place(strip_free_tail(chain.templates), m)
        if placed:
            self.out.negatives.append(self._exprs(placed))

    def _within_free_after(self, matches: Sequence[Match], i: int) -> bool:
        """Everything later in this chain only gets harder as the cursor moves right:
        positive, open-ended windows (no within, no negation)."""
        for x in self._rest_of_chain(matches, i):
            if isinstance(x, IsDataAt):
                if x.relative and x.negated:
                    return False
            elif x.relative and (x.negated or (isinstance(x, Content) and x.within is not None)):
                return False
        return True

    def _rest_of_chain(self, matches: Sequence[Match], i: int) -> list[Match]:
        out = []
        for x in matches[i + 1:]:
            if isinstance(x, (Content, Pcre)) and not x.relative and not x.negated:
                break
            out.append(x)
        return out

    def _avoid(self, ts: list[Template], m: Content, closing: bool) -> list[Template] | None:
        """Templates for "m does not occur in its window" after each template's cursor,
        which stays where it is; None when not exactly expressible.

        The window is [cursor + distance, + within) clipped to the buffer, as Suricata
        searches it. Exact forms: a one-byte content (every window byte is another byte),
        a window exactly as long as the content (its bytes differ somewhere), and an
        open-ended window (no within) up to the end of the buffer, whose bytes must be a
        string without the content (a regex from the content's KMP automaton). A window
        that may run past the end of the buffer has alternatives ending the buffer early;
        with more keywords to come (``closing`` false) those must stay rigid.
        """
        L = len(m.pattern)
        d = m.distance if m.distance is not None else 0
        w = m.within
        if not isinstance(d, int) or d < 0 or (w is not None and not isinstance(w, int)):
            return None
        if w is not None and L != 1 and w != L:
            return None
        if w is None and not closing:
            return None
        rx = None
        if w is None and L > 1:
            rx = avoid_regex(m.pattern, m.nocase)
            if rx is None:
                return None
        out: list[Template] = []
        for t in ts:
            if t.closed:
                return None
            b = t.back
            if w is None:  # no occurrence from cursor + d to the end of the buffer
                if t.eod:
                    if L == 1:
                        notb = ALL - byte_set(m.pattern[0], m.nocase)
                        out += self._put(t, [notb] * max(0, b - d), d) if b > d else [t]
                        continue
                    return None  # would need the regex over bytes already placed
                if d < b:
                    return None
                out.append(append(t, Gap(0, d - b), EOD, closed=True))
                tail: Token = (Rep(ALL - byte_set(m.pattern[0], m.nocase), 1, None) if L == 1
                               else Re(rx or ""))
                out.append(append(t, AnyN(d - b), tail, EOD, closed=True))
                continue
            span = d + w - 1  # the window's last byte, from the cursor
            if L == 1:
                notb = ALL - byte_set(m.pattern[0], m.nocase)
                out += self._put(t, [notb] * w, d)
                # the buffer ends inside (or before) the window
                if t.eod:
                    if b <= span:
                        out += self._put(t, [notb] * (b - d), d) if b > d else [t]
                elif b <= span:
                    if span - b + 1 <= 16 or closing:
                        if not closing:
                            for e in range(b, span + 1):  # the buffer ends e bytes after the cursor
                                us = (self._put(t, [notb] * (e - d), d) if e > d
                                      else [append(t, AnyN(e - b), back=e)])
                                out += [append(u, EOD, back=e) for u in us]
                        elif d >= b:
                            out.append(append(t, Gap(0, d - b), EOD, closed=True))
                            if span > d:
                                out.append(append(t, AnyN(d - b), Rep(notb, 1, span - d), EOD, closed=True))
                        else:
                            for u in self._put(t, [notb] * (b - d), d):
                                out.append(append(u, Rep(notb, 0, span - b), EOD, closed=True))
                    else:
                        return None
            else:
                for k in range(L):
                    sets = [byte_set(x, m.nocase) for x in m.pattern[:k]]
                    sets += [ALL - byte_set(m.pattern[k], m.nocase)] + [ALL] * (L - 1 - k)
                    out += self._put(t, sets, d)
                if b <= span:  # the window does not fit before the end
                    if t.eod:
                        out.append(t)
                    elif closing:
                        out.append(append(t, Gap(0, span - b), EOD, closed=True))
                    elif span - b + 1 <= 16:
                        out += [append(t, AnyN(e), EOD, back=b + e) for e in range(span - b + 1)]
                    else:
                        return None
        return dedupe(out)

    @staticmethod
    def _put(t: Template, sets: list[frozenset], d: int) -> list[Template]:
        """Rigid ``sets`` at cursor + d (d >= 0), merged with bytes already there; the
        cursor does not move."""
        if not sets:
            return [t]
        if d >= t.back:
            if t.eod:
                return []
            return [append(t, AnyN(d - t.back), *compress(sets), back=d + len(sets))]
        grow = max(0, d - t.back + len(sets))
        return [Template(u.tokens, t.back + grow, u.closed) for u in place_exact(t, sets, d)]

    # -- finishing ---------------------------------------------------------------------
    def _finish_chain(self, chain: _Chain) -> None:
        if not chain.templates:
            return
        if chain.templates == [START]:
            return  # only negations/isdataat relative to offset 0
        self.out.positives.append(self._exprs(chain.templates))

    def _exprs(self, ts: list[Template]) -> list[Expr]:
        ts = [t for t in ts if t != START]
        if not ts:
            return []
        if len(ts) == 1:
            return [expression(ts[0])]
        return [Expr("(?:" + "|".join(regex(list(t.tokens)) for t in ts) + ")")]


def translate_rule(rule: Rule, buffer: str) -> RuleOut:
    """Translate one rule's matches on ``buffer`` (raises CompileError)."""
    return _RuleCompiler(rule, buffer).run(rule.buffers().get(buffer, []))
