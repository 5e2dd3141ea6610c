"""Rules -> Hyperscan expressions, one database per inspected buffer.

``compile_buffer(rules, buffer, mode)`` translates every rule's content/pcre/isdataat
conditions on ``buffer`` into Hyperscan patterns such that the rule's report id is
reported exactly when Suricata's inspection of that buffer would succeed (see
docs/DETECT.md for the translation table and what is exact). The engine then checks the
rule's header, flow and size conditions (``CompiledRule.checks``) in C.

How a rule becomes patterns:

* its matches on the buffer are split into *chains*: a chain starts at a non-relative
  content or pcre (or at the buffer start when the first match is relative) and takes
  every following relative keyword whose previous content/pcre belongs to it;
* a chain is built as a list of *templates*: token sequences (literal bytes, byte
  classes, gaps ``.{lo,hi}``, embedded pcre text, start/end anchors) with the position of
  the last match (the cursor). A relative content is placed at every offset its
  distance/within allow: beyond the current end as a gap, and, for offsets that overlap
  bytes already placed (negative distance), by merging it byte by byte, one template per
  offset (bounded by :data:`MAX_ALTERNATIVES`). A chain's templates become one regex
  (an alternation when there are several);
* negated keywords and absolute isdataat become further expressions; a rule with more
  than one expression is a Hyperscan logical combination of quiet sub-expressions, and a
  rule with a negation also requires the end-of-data sentinel so the combination is
  evaluated on the whole buffer (Hyperscan's NOT means "not matched yet").

Everything that cannot be translated is a :class:`CompileError` naming file, line, sid
and keyword; translations that are knowingly not exact are listed per rule in
``CompiledRule.approximations``.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Sequence

from xdpfw.rules.model import PAYLOAD, Bsize, Content, IntMatch, IsDataAt, Match, Pcre, Rule

try:  # Python >= 3.11
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_parse as _sre_parse  # type: ignore[no-redef]

#: Most templates (alternative placements) one chain may need before the rule is refused.
MAX_ALTERNATIVES = 256

ALL = frozenset(range(256))
_WITHIN_NEXT = 1
_DISTANCE_NEXT = 2
_RELATIVE_NEXT = 3
_REGEX_META = frozenset(b"\\^$.|?*+()[]{}")
_PLAIN = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


# ---- results ---------------------------------------------------------------------------

class CompileError(Exception):
    """A rule that cannot be translated: ``file:line: error: sid:N keyword 'X': message``.

    (Not to be confused with :class:`xdpfw._fast.match.CompileError`, which names a
    pattern id; :func:`build_database` maps those back to rules.)
    """

    def __init__(self, rule: Rule, keyword: str, message: str, reason: str = "unsupported"):
        self.rule = rule
        self.sid = rule.sid
        self.keyword = keyword
        self.message = message
        self.reason = reason  # a short category for statistics
        super().__init__(f"{rule.file}:{rule.line}: error: sid:{rule.sid} keyword '{keyword}': {message}")


@dataclass(frozen=True)
class EngineCheck:
    """A condition the engine checks itself after the rule's id is reported."""

    keyword: str        # dsize, bsize, urilen
    match: IntMatch
    what: str           # e.g. "packet payload length", "length of http.uri"


@dataclass
class CompiledRule:
    index: int                      # position in the rules given to compile_buffer
    sid: int
    report_id: int                  # the id Hyperscan reports for this rule (-1: engine evaluates)
    formula: str                    # Hyperscan combination text, or the single expression's id
    pattern_ids: tuple[int, ...]    # every pattern id this rule uses (report id first)
    checks: list[EngineCheck] = field(default_factory=list)
    eod: bool = False               # may be reported only at end of data (finish / block end)
    approximations: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # translation techniques used (informational)
    fast_pattern: bytes | None = None
    transforms: tuple[str, ...] = ()
    validate: bool = False          # embeds a pcre or a large repeat: compiled alone first
    tree: object = None             # the formula as a tree (see evaluate())

    def holds(self, matched: "set[int] | frozenset[int]") -> bool:
        """Does the rule hold when exactly these operand ids have matched (at end of data)?"""
        return evaluate(self.tree, matched)

    @property
    def exact(self) -> bool:
        return not self.approximations


@dataclass
class CompiledBuffer:
    buffer: str
    mode: str
    patterns: list  # list[match.Pattern]
    report: dict[int, int]            # reported id -> rule index
    rules: dict[int, CompiledRule]    # rule index -> how it was compiled
    errors: list[CompileError]
    owners: dict[int, list[int]] = field(default_factory=dict)  # pattern id -> rule indexes
    eod_id: int | None = None         # the end-of-data sentinel, when a rule needs it
    combine: str = "hyperscan"        # or "engine": operands reported, formulas evaluated by the engine
    build_time: float = 0.0           # seconds spent in build_database (validation + compile)

    def checks(self, index: int) -> list[EngineCheck]:
        return self.rules[index].checks

    def summary(self) -> dict[str, object]:
        reasons: dict[str, int] = {}
        for e in self.errors:
            reasons[e.reason] = reasons.get(e.reason, 0) + 1
        approx: dict[str, int] = {}  # rules per approximation tag
        for r in self.rules.values():
            for k in {a.split(":")[0] for a in r.approximations}:
                approx[k] = approx.get(k, 0) + 1
        return {"buffer": self.buffer, "rules": len(self.rules), "rejected": len(self.errors),
                "patterns": len(self.patterns), "rejected_by_reason": reasons,
                "approximate": approx, "eod": sum(r.eod for r in self.rules.values())}


# ---- tokens and templates --------------------------------------------------------------

@dataclass(frozen=True)
class Lit:
    data: bytes
    nocase: bool = False


@dataclass(frozen=True)
class Cls:
    chars: frozenset


@dataclass(frozen=True)
class AnyN:
    n: int


@dataclass(frozen=True)
class Gap:
    lo: int
    hi: int | None  # None: unbounded


@dataclass(frozen=True)
class Rep:
    chars: frozenset
    lo: int
    hi: int | None


@dataclass(frozen=True)
class Re:
    text: str


@dataclass(frozen=True)
class Bos:
    pass


@dataclass(frozen=True)
class Eod:
    pass


BOS = Bos()
EOD = Eod()
Token = Lit | Cls | AnyN | Gap | Rep | Re | Bos | Eod


def _rigid_len(t: Token) -> int | None:
    if isinstance(t, Lit):
        return len(t.data)
    if isinstance(t, Cls):
        return 1
    if isinstance(t, AnyN):
        return t.n
    if isinstance(t, Rep) and t.lo == t.hi:
        return t.lo
    return None


def _explode(t: Token) -> list[frozenset]:
    if isinstance(t, Lit):
        return [_byte_set(b, t.nocase) for b in t.data]
    if isinstance(t, Cls):
        return [t.chars]
    if isinstance(t, Rep):
        assert t.hi == t.lo
        return [t.chars] * t.lo
    assert isinstance(t, AnyN)
    return [ALL] * t.n


def _byte_set(b: int, nocase: bool) -> frozenset:
    if nocase and (65 <= b <= 90 or 97 <= b <= 122):
        return frozenset((b | 0x20, b & ~0x20))
    return frozenset((b,))


def _compress(sets: Sequence[frozenset]) -> list[Token]:
    """Per-position byte sets -> Lit/AnyN/Cls tokens."""
    out: list[Token] = []
    i, n = 0, len(sets)
    while i < n:
        s = sets[i]
        if s == ALL:
            j = i
            while j < n and sets[j] == ALL:
                j += 1
            out.append(AnyN(j - i))
            i = j
            continue
        if len(s) == 1:
            j, data = i, bytearray()
            while j < n and len(sets[j]) == 1:
                data.append(next(iter(sets[j])))
                j += 1
            out.append(Lit(bytes(data)))
            i = j
            continue
        if len(s) == 2:
            a, b = sorted(s)
            if b == a + 32 and 65 <= a <= 90:
                j, data = i, bytearray()
                while j < n and len(sets[j]) == 2:
                    x, y = sorted(sets[j])
                    if not (y == x + 32 and 65 <= x <= 90):
                        break
                    data.append(y)
                    j += 1
                out.append(Lit(bytes(data), True))
                i = j
                continue
        j = i
        while j < n and sets[j] == s:
            j += 1
        out.append(Cls(s) if j - i == 1 else Rep(s, j - i, j - i))
        i = j
    return out


@dataclass(frozen=True)
class Template:
    """A token sequence; ``back`` = rigid bytes between the cursor and the end."""

    tokens: tuple
    back: int = 0
    closed: bool = False  # a variable gap lies after the cursor: nothing may be placed

    @property
    def eod(self) -> bool:
        return bool(self.tokens) and isinstance(self.tokens[-1], Eod)

    def body(self) -> list:
        return list(self.tokens[:-1]) if self.eod else list(self.tokens)


START = Template((BOS,))  # the cursor at offset 0: relative keywords with nothing before


class _Unsupported(Exception):
    def __init__(self, message: str, reason: str = "unsupported"):
        super().__init__(message)
        self.reason = reason


class _Never(Exception):
    pass


def _dedupe(ts: Iterable[Template]) -> list[Template]:
    seen: dict[Template, None] = {}
    for t in ts:
        seen.setdefault(t, None)
    return list(seen)


def _append(t: Template, *toks: Token, back: int = 0, closed: bool = False) -> Template:
    out = list(t.tokens)
    for k in toks:
        if isinstance(k, Gap) and k.lo == 0 and k.hi == 0:
            continue
        if isinstance(k, AnyN) and k.n == 0 or isinstance(k, Rep) and k.hi == 0:
            continue
        out.append(k)
    return Template(tuple(out), back, closed)


def _strip_free_tail(ts: list[Template]) -> list[Template]:
    """Drop "any byte" runs after the cursor at the end (length conditions)."""
    out = []
    for t in ts:
        toks, back = list(t.tokens), t.back
        while back and toks and isinstance(toks[-1], AnyN) and toks[-1].n <= back:
            back -= toks.pop().n
        out.append(Template(tuple(toks), back, t.closed))
    return _dedupe(out)


def _place_rel(t: Template, elem: list[Token], klo: int, khi: int | None) -> list[Template]:
    """Place rigid ``elem`` at cursor + k for every k in [klo, khi] (khi None: no bound)."""
    if t.closed:
        raise _Unsupported("a relative keyword after isdataat:!N,relative")
    out: list[Template] = []
    n_after = t.back
    if (khi is None or khi >= n_after) and not t.eod:
        lo = max(klo, n_after) - n_after
        hi = None if khi is None else khi - n_after
        out.append(_append(t, Gap(lo, hi), *elem))
    top = n_after - 1 if khi is None else min(khi, n_after - 1)
    if klo <= top:
        if top - klo + 1 > 4 * MAX_ALTERNATIVES:
            raise _Unsupported(f"{top - klo + 1} placements overlapping bytes already placed (by "
                               f"a negative distance or an isdataat) to enumerate (limit "
                               f"{4 * MAX_ALTERNATIVES})", "too_complex")
        sets = [s for tok in elem for s in _explode(tok)]
        for k in range(klo, top + 1):
            out.extend(_place_exact(t, sets, k))
    return out


def _place_exact(t: Template, sets: list[frozenset], k: int) -> list[Template]:
    """Place per-position sets at cursor + k, k < t.back (overlapping placed bytes)."""
    m = len(sets)
    start_f = k - t.back  # < 0: bytes before the current end
    end_f = start_f + m
    if t.eod and end_f > 0:
        return []
    body = t.body()
    idx, rigid = len(body), 0
    while idx > 0:
        n = _rigid_len(body[idx - 1])
        if n is None:
            break
        rigid += n
        idx -= 1
    need = -start_f
    if need <= rigid:
        cur = [s for tok in body[idx:] for s in _explode(tok)]
        base = rigid - need
        for i, s in enumerate(sets):
            p = base + i
            if p < rigid:
                x = cur[p] & s
                if not x:
                    return []
                cur[p] = x
            else:
                cur.append(s)
        toks = body[:idx] + _compress(cur) + ([EOD] if t.eod else [])
        return [Template(tuple(toks), max(0, -end_f))]
    j = need - rigid  # bytes of the element before the rigid suffix
    if idx == 0:
        # Unanchored beginning: those bytes only need to exist.
        return _place_exact(Template(tuple([AnyN(j)] + list(t.tokens)), t.back), sets, k)
    prev = body[idx - 1]
    if isinstance(prev, Bos):
        return []  # it would start before the buffer
    if not isinstance(prev, Gap):
        raise _Unsupported("negative distance reaches back into a pcre or a variable-length run")
    out: list[Template] = []
    lo, hi = prev.lo, prev.hi
    rest = list(t.tokens[idx:])
    head = list(t.tokens[:idx - 1])
    if hi is None or hi >= j:
        nlo, nhi = max(lo, j) - j, (None if hi is None else hi - j)
        mid = [] if (nlo, nhi) == (0, 0) else [Gap(nlo, nhi)]
        out.extend(_place_exact(Template(tuple(head + mid + [AnyN(j)] + rest), t.back), sets, k))
    stop = j - 1 if hi is None else min(hi, j - 1)
    for g in range(lo, stop + 1):
        mid = [AnyN(g)] if g else []
        out.extend(_place_exact(Template(tuple(head + mid + rest), t.back), sets, k))
    return out


def avoid_regex(pattern: bytes, nocase: bool = False, limit: int = 4000) -> str | None:
    """A regex matching exactly the byte strings that do not contain ``pattern``.

    Built from the pattern's KMP automaton (state = longest prefix of the pattern that
    ends the input; reaching the full pattern is the dead state) by state elimination;
    every live state accepts. None when the result would exceed ``limit`` characters.
    """
    fold = (lambda b: b.lower()) if nocase else (lambda b: b)
    pat = fold(pattern)
    L = len(pat)
    # transitions: state -> {target: set of bytes}
    edges: dict[int, dict[int, set]] = {}
    for i in range(L):
        row: dict[int, set] = {}
        for c in range(256):
            s = pat[:i] + fold(bytes((c,)))
            j = min(i + 1, L)
            while j and s[-j:] != pat[:j]:
                j -= 1
            if j < L:
                row.setdefault(j, set()).add(c)
        edges[i] = row
    S, F = L, L + 1  # new start and final states
    R: dict[tuple[int, int], str] = {(S, 0): ""}
    for i in range(L):
        R[(i, F)] = ""
        for j, cs in edges[i].items():
            R[(i, j)] = _regex_cls(frozenset(cs))

    def union(a: str | None, b: str | None) -> str | None:
        if a is None:
            return b
        if b is None or a == b:
            return a
        if a == "" or b == "":
            return group(a or b) + "?"
        return f"(?:{a}|{b})"

    def group(a: str) -> str:
        return a if len(a) <= 1 or a.startswith("(?:") and _balanced_group(a) else f"(?:{a})"

    for k in range(L - 1, -1, -1):
        loop = R.pop((k, k), None)
        star = "" if loop is None else group(loop) + "*"
        ins = [(p, r) for (p, q), r in R.items() if q == k]
        outs = [(q, r) for (p, q), r in R.items() if p == k]
        for p, _ in ins:
            del R[(p, k)]
        for q, _ in outs:
            del R[(k, q)]
        for p, rin in ins:
            for q, rout in outs:
                path = (group(rin) if rin else "") + star + (group(rout) if rout else "")
                R[(p, q)] = union(R.get((p, q)), path)
                if len(R[(p, q)] or "") > limit:
                    return None
    out = R.get((S, F))
    return None if out is None or len(out) > limit else out


def _balanced_group(a: str) -> bool:
    """True when ``a`` is one (?:...) group (its first parenthesis closes at the end)."""
    depth, i, in_class = 0, 0, False
    while i < len(a):
        c = a[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0 and i != len(a) - 1:
                return False
        i += 1
    return True


# ---- pcre text -------------------------------------------------------------------------

@dataclass
class _RegexInfo:
    leading_caret: bool = False     # the regex starts with ^ (or \A), no top-level |
    other_anchor: bool = False      # ^ or \A elsewhere
    top_alternation: bool = False
    word_boundary: bool = False     # \b or \B
    nul: bool = False


def _scan_regex(src: str) -> _RegexInfo:
    info = _RegexInfo()
    i, n, depth, first = 0, len(src), 0, True
    while i < n:
        c = src[i]
        if c == "\\" and i + 1 < n:
            e = src[i + 1]
            if e == "Q":
                j = src.find("\\E", i + 2)
                i = n if j < 0 else j + 2
                first = False
                continue
            if e in "bB":
                info.word_boundary = True
            if e == "A":
                if first and depth == 0:
                    info.leading_caret = True
                else:
                    info.other_anchor = True
            i += 2
            first = False
            continue
        if c == "[":
            j = i + 1
            if j < n and src[j] == "^":
                j += 1
            if j < n and src[j] == "]":
                j += 1
            while j < n and src[j] != "]":
                j += 2 if src[j] == "\\" else 1
            i = j + 1
            first = False
            continue
        if c == "(":
            if src.startswith("(?#", i):
                j = src.find(")", i)
                i = n if j < 0 else j + 1
                continue
            depth += 1
            if src.startswith("(?", i) and not src.startswith("(?:", i):
                # inline option setting at the very start keeps "first"
                j = i + 2
                while j < n and src[j] in "imsxJUX-":
                    j += 1
                if j < n and src[j] == ")":
                    depth -= 1
                    i = j + 1
                    continue
            first = False
            i += 1
            continue
        if c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            info.top_alternation = True
        elif c == "^":
            if first and depth == 0:
                info.leading_caret = True
            else:
                info.other_anchor = True
        elif c == "\0":
            info.nul = True
        first = False
        i += 1
    if info.top_alternation and info.leading_caret:
        info.leading_caret, info.other_anchor = False, True
    return info


def _strip_leading_caret(src: str) -> str:
    i = 0
    while src.startswith("(?", i) and not src.startswith("(?:", i):
        j = i + 2
        while j < len(src) and src[j] in "imsxJUX-":
            j += 1
        if j < len(src) and src[j] == ")":
            i = j + 1
        else:
            break
    if src.startswith("^", i):
        return src[:i] + src[i + 1:]
    if src.startswith("\\A", i):
        return src[:i] + src[i + 2:]
    return src


def _tokens(src: str) -> Iterator[tuple[int, str, bool]]:
    """(position, token, inside a character class) over a regex: an escape is one token of
    two characters, a class opener (``[``, ``[^``, ``[]``, ``[^]``: a ``]`` right after the
    opener is a literal) is one token, anything else one character. The one scanner the
    rewrites below share, so they agree on where classes start and end."""
    i, n, in_class = 0, len(src), False
    while i < n:
        c = src[i]
        if c == "\\" and i + 1 < n:
            yield i, src[i:i + 2], in_class
            i += 2
        elif in_class:
            yield i, c, True
            in_class = c != "]"
            i += 1
        elif c == "[":
            j = i + 1
            if j < n and src[j] == "^":
                j += 1
            if j < n and src[j] == "]":
                j += 1
            yield i, src[i:j], True
            in_class = True
            i = j
        else:
            yield i, c, False
            i += 1


def _rewrite_ends(src: str, endonly: bool, multiline: bool) -> str:
    """End assertions Hyperscan reports in order: a non-multiline ``$`` (end, or before a
    final newline) becomes ``(?:\\n?\\z)``, ``$`` with E becomes ``\\z``, ``\\Z`` as ``$``.
    Same matches, the end offset may include the final newline; a multiline ``$`` stays."""
    eol = r"\z" if endonly else r"(?:\n?\z)"
    out = []
    for _, tok, in_class in _tokens(src):
        if tok == "\\Z" and not in_class:
            out.append(r"(?:\n?\z)")
        elif tok == "$" and not in_class and not multiline:
            out.append(eol)
        else:
            out.append(tok)
    return "".join(out)


def _trailing_multiline_dollar(src: str) -> str:
    """A multiline ``$`` ending the regex (top level) -> ``(?:\\n|\\z)``: the same buffers
    match, and Hyperscan accepts it in a combination (a trailing ``$`` is an "unordered"
    operand)."""
    toks = list(_tokens(src))
    if not toks or toks[-1][1:] != ("$", False):
        return src
    depth = 0
    for _, tok, in_class in toks[:-1]:
        if in_class:
            continue
        if tok == "(":
            depth += 1
        elif tok == ")":
            depth -= 1
        elif tok == "|" and depth == 0:
            return src
    return src[:-1] + r"(?:\n|\z)" if depth == 0 else src


def _has_boundary(text: str) -> bool:
    return any(tok in ("\\b", "\\B") and not in_class for _, tok, in_class in _tokens(text))


def _unname_groups(src: str) -> str:
    """(?P<n>...), (?<n>...), (?'n'...) -> (?:...): Hyperscan ignores captures, and a pcre
    repeated in several alternatives would otherwise define a name twice."""
    out, skip_to = [], 0
    for i, tok, in_class in _tokens(src):
        if i < skip_to:
            continue
        if tok == "(" and not in_class and src.startswith("(?", i):
            for opener, closer in (("(?P<", ">"), ("(?<", ">"), ("(?'", "'")):
                if src.startswith(opener, i) and src[i + len(opener):i + len(opener) + 1] not in ("=", "!"):
                    j = src.find(closer, i + len(opener))
                    if j > 0 and src[i + len(opener):j].replace("_", "a").isalnum():
                        out.append("(?:")
                        skip_to = j + 1
                        break
            else:
                out.append(tok)
            continue
        out.append(tok)
    return "".join(out)


def _pcre_text(p: Pcre, body: str) -> str:
    on = "".join(f for f, v in (("i", p.caseless), ("m", p.multiline), ("s", p.dotall),
                                ("x", p.extended)) if v)
    off = "".join(f for f in "ims" if f not in on)
    body = _rewrite_ends(body, p.dollar_endonly, p.multiline)
    if any(k in body for k in ("(?P=", "\\k<", "\\k{", "\\k'", "\\g")):
        raise _Unsupported("Hyperscan: Back-references are unsupported.", "hyperscan")
    body = _unname_groups(body)
    if p.multiline:
        body = _trailing_multiline_dollar(body)
    if p.extended:
        body += "\n"  # a trailing # comment must not swallow the closing parenthesis
    return f"(?{on}{'-' + off if off else ''}:{body})"


def _fixed_width(p: Pcre) -> bool:
    import re as _re
    flags = (_re.IGNORECASE if p.caseless else 0) | (_re.VERBOSE if p.extended else 0)
    try:
        lo, hi = _sre_parse.parse(p.regex, flags).getwidth()
    except Exception:
        return False
    return lo == hi


# ---- per-rule translation --------------------------------------------------------------

def _next_flags(matches: Sequence[Match]) -> dict[int, int]:
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


def _fold_endswith(matches: Sequence[Match]) -> list[Match]:
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


def _kw(m: Match) -> str:
    if isinstance(m, Pcre):
        return "pcre"
    if isinstance(m, IsDataAt):
        return "isdataat"
    if m.distance is not None:
        return "distance"
    if m.within is not None:
        return "within"
    return "content"


def _int(rule: Rule, v: object, kw: str) -> int:
    if not isinstance(v, int):
        raise CompileError(rule, kw, f"byte_extract variable {v!r} is not supported", "variable")
    return v


@dataclass
class _Expr:
    text: str
    min_offset: int | None = None
    max_offset: int | None = None


@dataclass
class _RuleOut:
    positives: list[list[_Expr]] = field(default_factory=list)  # each: OR of expressions
    negatives: list[list[_Expr]] = field(default_factory=list)
    custom: list[tuple[str, list[list[_Expr]]]] = field(default_factory=list)
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
        self.out = _RuleOut()

    def err(self, m: Match | None, message: str, reason: str = "unsupported",
            kw: str | None = None) -> CompileError:
        return CompileError(self.rule, kw or (_kw(m) if m is not None else "content"), message, reason)

    # -- entry -------------------------------------------------------------------------
    def run(self, matches: Sequence[Match]) -> _RuleOut:
        matches = _fold_endswith(matches)
        flags = _next_flags(matches)
        chain: _Chain | None = None
        for i, m in enumerate(matches):
            try:
                chain = self._step(matches, flags, i, m, chain)
            except _Unsupported as e:
                raise self.err(m, str(e), e.reason) from None
            except _Never:
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
            raise _Never()
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
            o = _int(self.rule, m.offset, "offset") if m.offset is not None else 0
            if m.depth is None:
                t = Template((lit,)) if o == 0 else Template((BOS, Gap(o, None), lit))
            else:
                d = _int(self.rule, m.depth, "depth")
                t = Template(tuple(x for x in (BOS, Gap(o, o + d - L), lit)
                                   if not (isinstance(x, Gap) and x.lo == 0 and x.hi == 0)))
        ts = [t]
        if m.endswith:
            ts = self._endswith(ts, m)
        return ts

    def _pcre_head_text(self, p: Pcre) -> str:
        info = _scan_regex(p.regex)
        if info.nul:
            raise self.err(p, "the regex contains a NUL byte")
        text = _pcre_text(p, p.regex)
        return "^" + text if p.anchored else text

    def _endswith(self, ts: list[Template], m: Match) -> list[Template]:
        out = []
        for t in ts:
            if t.back != 0 or t.closed:
                continue
            out.append(t if t.eod else _append(t, EOD))
        if not out:
            raise self.err(m, "endswith can never hold here (a later byte is already placed)",
                           "never_matches", kw="endswith")
        return out

    # -- relative placement ------------------------------------------------------------
    def _place(self, ts: list[Template], m: Content | Pcre) -> list[Template]:
        if isinstance(m, Pcre):
            return self._place_pcre(ts, m)
        L = len(m.pattern)
        d = _int(self.rule, m.distance, "distance") if m.distance is not None else 0
        out: list[Template] = []
        for t in ts:
            if m.within is None:
                klo, khi = d, None
            else:
                w = _int(self.rule, m.within, "within")
                if d + w < 0:
                    if t == START:
                        klo, khi = 0, None  # P = 0: the window end wraps to the buffer end
                        out.extend(_place_rel(Template(()), [Lit(m.pattern, m.nocase)], 0, None))
                        continue
                    self.out.approximations.append(
                        "within_wrap: distance+within < 0: Suricata also matches anywhere when "
                        "the previous match ends before byte -(distance+within); only the "
                        "declared window is compiled")
                klo, khi = d, d + w - L
            out.extend(_place_rel(t, [Lit(m.pattern, m.nocase)], klo, khi))
        out = _dedupe(out)
        wrap = m.within is not None and m.distance is not None and m.within + m.distance < 0
        if m.endswith and out:
            try:
                out = self._endswith(out, m)
            except CompileError:
                if not wrap:
                    raise
                out = []
        if not out and wrap:
            raise _Unsupported("distance+within < 0: no match is possible in the declared window, "
                               "only through Suricata's window wrap-around (not compiled)",
                               "within_wrap")
        return out

    def _place_pcre(self, ts: list[Template], p: Pcre) -> list[Template]:
        info = _scan_regex(p.regex)
        if info.nul:
            raise self.err(p, "the regex contains a NUL byte")
        if info.other_anchor:
            raise _Unsupported("'^' or '\\A' inside a relative pcre (its subject starts at the "
                               "previous match)")
        if info.word_boundary:
            self.out.approximations.append(
                "pcre_relative_boundary: \\b or \\B in a relative pcre sees the byte before the "
                "previous match's end, PCRE sees the subject start")
        out: list[Template] = []
        for t in ts:
            if t.closed:
                raise _Unsupported("a relative pcre after isdataat:!N,relative")
            if t.back:
                raise _Unsupported("a relative pcre overlapping bytes placed by a negative distance")
            if t.eod:
                continue
            if p.anchored or info.leading_caret:
                body = _strip_leading_caret(p.regex) if info.leading_caret else p.regex
                text = _pcre_text(p, body)
                out.append(_append(t, Re(text)))
                if p.multiline and info.leading_caret and not p.anchored:
                    out.append(_append(t, Gap(0, None), Lit(b"\n"), Re(text)))
            else:
                out.append(_append(t, Gap(0, None), Re(_pcre_text(p, p.regex))))
        return _dedupe(out)

    def _pcre_end_check(self, matches: Sequence[Match], owner: int) -> None:
        p = matches[owner]
        assert isinstance(p, Pcre)
        if p.multiline and p.regex.endswith("$"):
            self.out.approximations.append(
                "pcre_end: a relative keyword follows a pcre ending in a multiline $, compiled "
                "as (?:\\n|\\z)")
        if not _fixed_width(p):
            self.out.approximations.append(
                "pcre_end: a relative keyword follows a pcre whose match length varies: Suricata "
                "continues from the end PCRE prefers, Hyperscan from every end")
        if p.anchored and p.relative:
            self.out.approximations.append(
                "pcre_anchored_retry: Suricata retries an anchored relative pcre one byte later")

    # -- isdataat ----------------------------------------------------------------------
    def _isdataat(self, matches: Sequence[Match], flags: dict[int, int], i: int, d: IsDataAt,
                  chain: _Chain | None) -> _Chain | None:
        n = _int(self.rule, d.offset, "isdataat")
        if not d.relative or chain is None:
            # Absolute (or relative to offset 0): a length condition.
            need = n + 1 if not d.relative else n
            if d.negated:
                if need == 0:
                    raise self.err(d, "isdataat:!0,relative can never hold", "never_matches")
                self.out.negatives.append([_Expr(".", need, None)])
            elif need > 0:
                self.out.positives.append([_Expr(".", need, None)])
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
            term = [_append(t, AnyN(n - t.back), back=n) if n > t.back else t
                    for t in chain.templates if not t.eod or n <= t.back]
            if not term:
                raise self.err(d, "the rule can never match: no placement satisfies this isdataat",
                               "never_matches")
            if any(n > t.back for t in chain.templates):
                self.out.notes.append("isdataat_term")
                self.out.positives.append(self._exprs(_dedupe(term)))
            return chain
        out: list[Template] = []
        for t in chain.templates:
            if t.closed:
                raise self.err(d, "isdataat after isdataat:!N,relative")
            if not d.negated:
                if n <= t.back:
                    out.append(t)
                elif not t.eod:
                    out.append(_append(t, AnyN(n - t.back), back=n))
            else:
                if n == 0 or t.back >= n:
                    continue
                if t.eod:
                    out.append(t)
                else:
                    out.append(_append(t, Gap(0, n - 1 - t.back), EOD, back=t.back, closed=True))
        if not out:
            raise self.err(d, "the rule can never match: no placement satisfies this isdataat",
                           "never_matches")
        chain.templates = _dedupe(out)
        return chain

    # -- negations ---------------------------------------------------------------------
    def _negative_absolute(self, m: Content | Pcre) -> None:
        if isinstance(m, Content) and m.endswith:
            if m.offset not in (None, 0) or m.startswith:
                raise self.err(m, "negated endswith with offset: Suricata compares the window "
                                  "length with the absolute match end (not supported)", kw="endswith")
            # Suricata fails the rule only when the window reaches the buffer end (depth
            # >= length) and the FIRST occurrence of the content ends there.
            depth = _int(self.rule, m.depth, "depth") if m.depth is not None else None
            lit = _regex_lit(Lit(m.pattern, m.nocase))
            self.out.custom.append(("(!{0} | {1})", [[_Expr(lit + "\\z", None, depth)],
                                                     [_Expr(lit + ".")]]))
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
        placed = self._place(_strip_free_tail(chain.templates), m)
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
                        notb = ALL - _byte_set(m.pattern[0], m.nocase)
                        out += self._put(t, [notb] * max(0, b - d), d) if b > d else [t]
                        continue
                    return None  # would need the regex over bytes already placed
                if d < b:
                    return None
                out.append(_append(t, Gap(0, d - b), EOD, closed=True))
                tail: Token = (Rep(ALL - _byte_set(m.pattern[0], m.nocase), 1, None) if L == 1
                               else Re(rx or ""))
                out.append(_append(t, AnyN(d - b), tail, EOD, closed=True))
                continue
            span = d + w - 1  # the window's last byte, from the cursor
            if L == 1:
                notb = ALL - _byte_set(m.pattern[0], m.nocase)
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
                                      else [_append(t, AnyN(e - b), back=e)])
                                out += [_append(u, EOD, back=e) for u in us]
                        elif d >= b:
                            out.append(_append(t, Gap(0, d - b), EOD, closed=True))
                            if span > d:
                                out.append(_append(t, AnyN(d - b), Rep(notb, 1, span - d), EOD, closed=True))
                        else:
                            for u in self._put(t, [notb] * (b - d), d):
                                out.append(_append(u, Rep(notb, 0, span - b), EOD, closed=True))
                    else:
                        return None
            else:
                for k in range(L):
                    sets = [_byte_set(x, m.nocase) for x in m.pattern[:k]]
                    sets += [ALL - _byte_set(m.pattern[k], m.nocase)] + [ALL] * (L - 1 - k)
                    out += self._put(t, sets, d)
                if b <= span:  # the window does not fit before the end
                    if t.eod:
                        out.append(t)
                    elif closing:
                        out.append(_append(t, Gap(0, span - b), EOD, closed=True))
                    elif span - b + 1 <= 16:
                        out += [_append(t, AnyN(e), EOD, back=b + e) for e in range(span - b + 1)]
                    else:
                        return None
        return _dedupe(out)

    @staticmethod
    def _put(t: Template, sets: list[frozenset], d: int) -> list[Template]:
        """Rigid ``sets`` at cursor + d (d >= 0), merged with bytes already there; the
        cursor does not move."""
        if not sets:
            return [t]
        if d >= t.back:
            if t.eod:
                return []
            return [_append(t, AnyN(d - t.back), *_compress(sets), back=d + len(sets))]
        grow = max(0, d - t.back + len(sets))
        return [Template(u.tokens, t.back + grow, u.closed) for u in _place_exact(t, sets, d)]

    # -- finishing ---------------------------------------------------------------------
    def _finish_chain(self, chain: _Chain) -> None:
        if not chain.templates:
            return
        if chain.templates == [START]:
            return  # only negations/isdataat relative to offset 0
        self.out.positives.append(self._exprs(chain.templates))

    def _exprs(self, ts: list[Template]) -> list[_Expr]:
        ts = [t for t in ts if t != START]
        if not ts:
            return []
        if len(ts) == 1:
            return [_emit(ts[0])]
        return [_Expr("(?:" + "|".join(_regex(list(t.tokens)) for t in ts) + ")")]


# ---- emission --------------------------------------------------------------------------

def _hexb(b: int) -> str:
    return chr(b) if b in _PLAIN else f"\\x{b:02x}"


def _regex_lit(t: Lit) -> str:
    s = "".join(_hexb(b) for b in t.data)
    if t.nocase and any(65 <= b <= 90 or 97 <= b <= 122 for b in t.data):
        return f"(?i:{s})"
    return s


def _regex_cls(chars: frozenset) -> str:
    if chars == ALL:
        return "."
    if len(chars) == 1:
        return _hexb(next(iter(chars)))
    neg = len(chars) > 128
    s = sorted(ALL - chars if neg else chars)
    parts, i = [], 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[j] + 1:
            j += 1
        a, b = s[i], s[j]
        parts.append(f"\\x{a:02x}" if a == b else f"\\x{a:02x}-\\x{b:02x}")
        i = j + 1
    return "[" + ("^" if neg else "") + "".join(parts) + "]"


#: Hyperscan's largest bounded repeat; longer ones are written as several in a row.
MAX_REPEAT = 32767


def _repeat(atom: str, lo: int, hi: int | None) -> str:
    out = []
    while lo > MAX_REPEAT or (hi is not None and hi > MAX_REPEAT):
        step_hi = min(MAX_REPEAT, hi) if hi is not None else MAX_REPEAT
        step_lo = min(lo, step_hi)
        out.append(atom + _rep(step_lo, step_hi))
        lo -= step_lo
        hi = None if hi is None else hi - step_hi
    out.append(atom + _rep(lo, hi))
    return "".join(out)


def _rep(lo: int, hi: int | None) -> str:
    if hi is None:
        return "*" if lo == 0 else ("+" if lo == 1 else f"{{{lo},}}")
    if lo == hi:
        return "" if lo == 1 else f"{{{lo}}}"
    return "?" if (lo, hi) == (0, 1) else f"{{{lo},{hi}}}"


def _regex(tokens: list) -> str:
    out = []
    for t in tokens:
        if isinstance(t, Lit):
            out.append(_regex_lit(t))
        elif isinstance(t, Cls):
            out.append(_regex_cls(t.chars))
        elif isinstance(t, AnyN):
            out.append(_repeat(".", t.n, t.n))
        elif isinstance(t, Gap):
            out.append(_repeat(".", t.lo, t.hi))
        elif isinstance(t, Rep):
            out.append(_repeat(_regex_cls(t.chars), t.lo, t.hi))
        elif isinstance(t, Re):
            out.append(t.text)
        elif isinstance(t, Bos):
            out.append("^")
        else:
            out.append("\\z")
    return "".join(out)


def _emit(t: Template) -> _Expr:
    """One template -> one expression; a leading ^.{lo,hi} before a fixed-length rest
    becomes Hyperscan min/max offsets (cheaper than a bounded repeat in stream state)."""
    toks = list(t.tokens)
    while toks and isinstance(toks[0], Gap) and toks[0].lo == 0 and toks[0].hi is None:
        toks.pop(0)  # unanchored anyway
    if toks and isinstance(toks[0], Bos):
        lo, hi, rest = 0, 0, toks[1:]
        if rest and isinstance(rest[0], Gap):
            lo, hi, rest = rest[0].lo, rest[0].hi, rest[1:]
        fixed = 0
        for x in rest:
            n = _rigid_len(x)
            if n is None and not isinstance(x, Eod):
                fixed = -1
                break
            fixed += n or 0
        if fixed > 0 and (lo, hi) != (0, 0):
            if all(isinstance(x, (AnyN, Eod)) for x in rest) and not isinstance(rest[-1], Eod):
                return _Expr(".", lo + fixed, None)  # only a length condition
            return _Expr(_regex(rest), lo + fixed, None if hi is None else hi + fixed)
        if fixed > 0 and all(isinstance(x, AnyN) for x in rest):
            return _Expr(".", fixed, None)
        if not rest:
            return _Expr(".", 1, None)
        if isinstance(rest[0], Gap) and rest[0].lo == 0 and rest[0].hi is None:
            return _Expr(_regex(rest[1:]))
        if (lo, hi) == (0, None):
            return _Expr(_regex(rest))
    return _Expr(_regex(toks))


# ---- buffers ---------------------------------------------------------------------------

def buffer_keys(rules: Iterable[Rule]) -> list[tuple[str, tuple[str, ...]]]:
    """The (buffer, transforms) pairs the rules inspect: one database each."""
    keys: dict[tuple[str, tuple[str, ...]], None] = {}
    for r in rules:
        for buf, ms in r.buffers().items():
            tr = next((m.transforms for m in ms if isinstance(m, (Content, Pcre))), ())
            keys.setdefault((buf, tuple(tr)), None)
    return list(keys)


def _checks(rule: Rule, buffer: str) -> list[EngineCheck]:
    out: list[EngineCheck] = []
    if rule.dsize is not None:
        out.append(EngineCheck("dsize", rule.dsize, "packet payload length"))
    for b in rule.bsize:
        if isinstance(b, Bsize) and b.buffer == buffer:
            out.append(EngineCheck("bsize", b.match, f"length of {buffer}"))
    if rule.urilen is not None and buffer in ("http.uri", "http.uri.raw"):
        out.append(EngineCheck("urilen", rule.urilen.match,
                               "length of the " + ("raw" if rule.urilen.raw else "normalized") + " URI"))
    return out


def compile_rule(rule: Rule, buffer: str = PAYLOAD) -> _RuleOut:
    """Translate one rule's matches on ``buffer`` (raises CompileError)."""
    return _RuleCompiler(rule, buffer).run(rule.buffers().get(buffer, []))


Formula = "int | tuple"  # an operand id, ("and", f...), ("or", f...), ("not", f)


def _render(f) -> str:
    if isinstance(f, int):
        return str(f)
    op, *args = f
    if op == "not":
        inner = _render(args[0])
        return f"!{inner}" if isinstance(args[0], int) else f"!({inner})"
    sep = " & " if op == "and" else " | "
    parts = [(_render(a) if isinstance(a, int) or a[0] == "not" or a[0] == op else f"({_render(a)})")
             for a in args]
    return sep.join(parts)


def evaluate(formula, matched: "set[int] | frozenset[int]") -> bool:
    """A formula's value when exactly the operand ids in ``matched`` have matched.

    This is the reference for an engine that evaluates rules itself (``combine="engine"``):
    positive operands may be evaluated as soon as they are reported; a formula with a
    negation (or the end-of-data sentinel) must be evaluated once, at end of data.
    """
    if isinstance(formula, int):
        return formula in matched
    op, *args = formula
    if op == "not":
        return not evaluate(args[0], matched)
    if op == "and":
        return all(evaluate(a, matched) for a in args)
    return any(evaluate(a, matched) for a in args)


def compile_buffer(rules: Sequence[Rule], buffer: str = PAYLOAD, mode: str = "stream", *,
                   transforms: tuple[str, ...] | None = None, singlematch: bool = True,
                   combine: str = "hyperscan") -> CompiledBuffer:
    """Translate every rule that inspects ``buffer`` into patterns for one database.

    ``transforms``: only rules whose matches on the buffer carry these transforms (None:
    all, each rule's transforms recorded). ``singlematch``: report each rule at most once
    per stream (until finish/reset) or block scan. ``combine``: how a rule made of several
    expressions is reported: ``"hyperscan"`` compiles a logical combination of quiet
    operands reported under the rule's id (in stream mode Hyperscan reports it only when a
    later match or end of data comes: docs/DETECT.md); ``"engine"`` reports the operands
    themselves and leaves ``CompiledRule.formula`` to the engine (see :func:`evaluate`).
    """
    from xdpfw._fast.match import Pattern

    if mode not in ("stream", "block"):
        raise ValueError(f"mode must be 'stream' or 'block', got {mode!r}")
    if combine not in ("hyperscan", "engine"):
        raise ValueError(f"combine must be 'hyperscan' or 'engine', got {combine!r}")
    quiet = combine == "hyperscan"
    n = len(rules)
    patterns: list = []
    report: dict[int, int] = {}
    compiled: dict[int, CompiledRule] = {}
    errors: list[CompileError] = []
    owners: dict[int, list[int]] = {}
    sub_ids: dict[tuple, int] = {}
    next_id = [n]
    eod_id: list[int | None] = [None]

    # Operands of a Hyperscan combination are never SINGLEMATCH: Hyperscan 5.4 then stops evaluating combinations
    # (nothing reported, or HS_SCAN_TERMINATED once every pattern is single-match).
    def sub(e: _Expr) -> int:
        if quiet and _has_boundary(e.text) and "\\z" not in e.text and e.max_offset is None:
            # A trailing \b is decided by the next byte, which Hyperscan refuses in a
            # combination operand ("unordered match"); consuming one more byte (or the
            # end) keeps exactly the same buffers matching.
            e = _Expr(e.text + "(?:(?s:.)|\\z)", e.min_offset, None)
        key = (e.text, e.min_offset, e.max_offset)
        pid = sub_ids.get(key)
        if pid is None:
            pid = sub_ids[key] = next_id[0]
            next_id[0] += 1
            # With combine="engine" the engine keeps which operands a stream has seen, so
            # each needs reporting once per stream only (singlematch).
            patterns.append(Pattern(pid, e.text.encode("utf-8", "surrogateescape"), literal=False,
                                    min_offset=e.min_offset, max_offset=e.max_offset, dotall=True,
                                    quiet=quiet, singlematch=singlematch and not quiet))
        return pid

    def eod() -> int:
        if eod_id[0] is None:
            eod_id[0] = next_id[0]
            next_id[0] += 1
            patterns.append(Pattern(eod_id[0], b"(?s:.)\\z", literal=False, quiet=quiet))
        return eod_id[0]

    def term(exprs: list[_Expr]):
        ids = [sub(e) for e in exprs]
        return ids[0] if len(ids) == 1 else ("or", *ids)

    for idx, rule in enumerate(rules):
        ms = rule.buffers().get(buffer)
        if not ms:
            continue
        tr = next((m.transforms for m in ms if isinstance(m, (Content, Pcre))), ())
        if transforms is not None and tuple(tr) != tuple(transforms):
            continue
        try:
            out = compile_rule(rule, buffer)
        except CompileError as e:
            errors.append(e)
            continue
        terms_pos = [t for t in out.positives if t]
        terms_neg = [t for t in out.negatives if t]
        if not terms_pos and not terms_neg and not out.custom:
            errors.append(CompileError(rule, _kw(ms[0]), f"nothing to match on {buffer}", "empty"))
            continue
        fp = next((m.pattern for m in ms if isinstance(m, Content) and m.fast_pattern is not None), None)
        if out.eod and mode == "stream" and not quiet and not out.custom and not any(
                "\\z" in e.text or "$" in e.text for t in terms_pos for e in t):
            # Only negations made it end-of-data: an engine evaluating a stream's formula
            # as it goes reads them as "not seen so far" (engine.pyx "Combinations").
            out.eod = False
        cr = CompiledRule(idx, rule.sid, idx, "", (), _checks(rule, buffer), out.eod,
                          list(dict.fromkeys(out.approximations)), list(dict.fromkeys(out.notes)),
                          fp, tuple(tr))
        cr.validate = any(isinstance(m, Pcre) for m in ms) or any(
            _large_repeat(e.text) for t in terms_pos + terms_neg for e in t)
        if len(terms_pos) == 1 and len(terms_pos[0]) == 1 and not terms_neg and not out.custom:
            e = terms_pos[0][0]
            patterns.append(Pattern(idx, e.text.encode("utf-8", "surrogateescape"), literal=False,
                                    min_offset=e.min_offset, max_offset=e.max_offset, dotall=True,
                                    singlematch=singlematch))
            cr.formula, cr.tree, cr.pattern_ids = str(idx), idx, (idx,)
        else:
            parts: list = [term(t) for t in terms_pos]
            parts += [("not", term(t)) for t in terms_neg]
            for fmt, groups in out.custom:  # negated endswith: (!at_end | ends_earlier)
                a, b = (term(g) for g in groups)
                parts.append(("or", ("not", a), b))
            if out.eod:
                parts.append(eod())
            tree = parts[0] if len(parts) == 1 else ("and", *parts)
            cr.tree = tree
            cr.formula = _render(tree)
            ids = _operands(tree)
            if quiet:
                text = cr.formula if len(parts) > 1 or not isinstance(tree, int) else f"{tree} | {tree}"
                patterns.append(Pattern(idx, text.encode(), literal=False, singlematch=singlematch,
                                        combination=True))
                cr.pattern_ids = (idx, *ids)
            else:
                cr.report_id = -1  # the engine evaluates the formula over the operands
                cr.pattern_ids = tuple(ids)
        for pid in cr.pattern_ids:
            owners.setdefault(pid, []).append(idx)
        if cr.report_id >= 0:
            report[cr.report_id] = idx
        compiled[idx] = cr
    return CompiledBuffer(buffer, mode, patterns, report, compiled, errors, owners, eod_id[0],
                          combine)


def compile_literals(rules: Sequence[Rule], buffer: str = PAYLOAD, mode: str = "stream") -> CompiledBuffer:
    """The rules for the Aho-Corasick backend (``--matcher ac``): plain literals only.

    A rule qualifies when each of its matches on ``buffer`` is a content that is not
    relative (no distance/within), not endswith, without transforms; offset, depth and
    startswith bound the literal's end offset (min/max_offset). The backend has neither
    SINGLEMATCH nor combinations, so in stream mode every rule is a formula the engine
    evaluates over its contents as operands (negated contents as ``not``): that also
    reports it once per stream. In block mode a rule must be a single positive content,
    reported directly. Rules that do not qualify are CompileErrors naming the keyword.
    """
    from xdpfw._fast.match import Pattern

    if mode not in ("stream", "block"):
        raise ValueError(f"mode must be 'stream' or 'block', got {mode!r}")
    n = len(rules)
    patterns: list = []
    report: dict[int, int] = {}
    compiled: dict[int, CompiledRule] = {}
    errors: list[CompileError] = []
    owners: dict[int, list[int]] = {}
    ids: dict[tuple, int] = {}

    def literal(rule: Rule, m: Content) -> tuple:
        if isinstance(m, Pcre):
            raise CompileError(rule, "pcre", "the Aho-Corasick backend matches literals only", "ac_literal")
        if isinstance(m, IsDataAt) or not isinstance(m, Content):
            raise CompileError(rule, _kw(m), "the Aho-Corasick backend matches literals only", "ac_literal")
        if m.relative:
            raise CompileError(rule, _kw(m), "relative contents need the Hyperscan backend", "ac_literal")
        if m.endswith:
            raise CompileError(rule, "endswith", "end-anchored contents need the Hyperscan backend", "ac_literal")
        if m.transforms:
            raise CompileError(rule, m.transforms[0], "transforms need the Hyperscan backend", "ac_literal")
        size = len(m.pattern)
        lo = _int(rule, m.offset, "offset") if m.offset is not None else 0
        if m.startswith:
            return (m.pattern, m.nocase, size, size)
        hi = lo + _int(rule, m.depth, "depth") if m.depth is not None else None
        if hi is not None and hi < lo + size:
            raise CompileError(rule, "depth", "depth shorter than the content: it can never match", "never_matches")
        return (m.pattern, m.nocase, lo + size if lo else None, hi)

    def operand(key: tuple, pid: int | None = None) -> int:
        if pid is None:
            pid = ids.get(key)
            if pid is not None:
                return pid
            pid = ids[key] = n + len(ids)
        patterns.append(Pattern(pid, key[0], literal=True, nocase=key[1], min_offset=key[2], max_offset=key[3]))
        return pid

    for idx, rule in enumerate(rules):
        ms = rule.buffers().get(buffer)
        if not ms:
            continue
        try:
            lits = [(literal(rule, m), m.negated) for m in ms]
            if not any(not neg for _, neg in lits):
                raise CompileError(rule, "content", "only negated contents: nothing to report", "ac_literal")
            cr = CompiledRule(idx, rule.sid, idx, "", (), _checks(rule, buffer))
            if mode == "block":
                if len(lits) != 1:
                    raise CompileError(rule, "content", "several contents in one packet need the Hyperscan "
                                                        "backend (no combinations in Aho-Corasick block mode)",
                                       "ac_literal")
                pid = operand(lits[0][0], idx)
                cr.tree, cr.formula, cr.pattern_ids = pid, str(pid), (pid,)
                report[idx] = idx
            else:
                parts = [("not", operand(k)) if neg else operand(k) for k, neg in lits]
                cr.tree = parts[0] if len(parts) == 1 else ("and", *parts)
                cr.formula = _render(cr.tree)
                cr.report_id = -1
                cr.pattern_ids = tuple(_operands(cr.tree))
        except CompileError as e:
            errors.append(e)
            continue
        for pid in cr.pattern_ids:
            owners.setdefault(pid, []).append(idx)
        compiled[idx] = cr
    return CompiledBuffer(buffer, mode, patterns, report, compiled, errors, owners, None, "engine")


def _operands(f) -> list[int]:
    if isinstance(f, int):
        return [f]
    out: list[int] = []
    for a in f[1:]:
        out += [x for x in _operands(a) if x not in out]
    return out


# ---- databases -------------------------------------------------------------------------

def _drop_rules(cb: CompiledBuffer, indexes: Iterable[int]) -> None:
    drop = set(indexes)
    keep_ids: set[int] = set()
    for idx, cr in list(cb.rules.items()):
        if idx in drop:
            del cb.rules[idx]
            cb.report.pop(cr.report_id, None)
        else:
            keep_ids.update(cr.pattern_ids)
    cb.patterns = [p for p in cb.patterns if p.id in keep_ids]
    cb.owners = {pid: [i for i in own if i not in drop] for pid, own in cb.owners.items()
                 if pid in keep_ids}


def _pcre_of(rule: Rule, buffer: str) -> str:
    return next((f"/{m.regex}/{m.flags}" for m in rule.buffers().get(buffer, [])
                 if isinstance(m, Pcre)), "")


def build_database(cb: CompiledBuffer, rules: Sequence[Rule], *, validate: bool = True,
                   max_retries: int = 50):
    """Compile ``cb`` with Hyperscan (mode ``cb.mode``) and return the database.

    A rule Hyperscan rejects (a pcre construct it lacks, a pattern too large) is removed
    from ``cb`` and recorded in ``cb.errors`` with Hyperscan's message; with ``validate``
    every rule that embeds a pcre or a large bounded repeat is first compiled alone, so
    one bad rule costs one small compile instead of a full one.
    """
    from xdpfw._fast import match, match_hs

    t0 = time.perf_counter()
    if validate:
        by_id = {p.id: p for p in cb.patterns}
        bad: list[int] = []
        cache: dict[tuple, str | None] = {}
        for idx, cr in cb.rules.items():
            if not cr.validate:
                continue
            pats = [by_id[i] for i in cr.pattern_ids]
            key = tuple((p.expression, p.min_offset, p.max_offset, p.combination) for p in pats)
            if key not in cache:
                try:
                    match_hs.Database.compile(pats, mode=cb.mode)
                    cache[key] = None
                except match.CompileError as e:
                    cache[key] = e.message
            if cache[key] is not None:
                bad.append(idx)
                cb.errors.append(_hs_error(rules[idx], cb.buffer, cache[key] or ""))
        _drop_rules(cb, bad)
    for _ in range(max_retries + 1):
        if not cb.patterns:
            raise match.CompileError(None, f"no rule of buffer {cb.buffer} could be compiled")
        try:
            db = match_hs.Database.compile(cb.patterns, mode=cb.mode)
            break
        except match.CompileError as e:
            if e.pattern_id is None:
                # Not pinned to a pattern (e.g. "Have unordered match in sub-expressions"):
                # find the rules that fail alone.
                culprits = _failing_alone(cb, e.message)
            else:
                culprits = cb.owners.get(e.pattern_id, [])
            if not culprits:
                raise
            for idx in culprits:
                cb.errors.append(_hs_error(rules[idx], cb.buffer, e.message))
            _drop_rules(cb, culprits)
    else:
        raise match.CompileError(None, f"more than {max_retries} rules rejected by Hyperscan")
    cb.build_time = time.perf_counter() - t0
    return db


def _failing_alone(cb: CompiledBuffer, message: str) -> list[int]:
    from xdpfw._fast import match, match_hs
    by_id = {p.id: p for p in cb.patterns}
    bad = []
    for idx, cr in cb.rules.items():
        try:
            match_hs.Database.compile([by_id[i] for i in cr.pattern_ids], mode=cb.mode)
        except match.CompileError:
            bad.append(idx)
    return bad


def _large_repeat(text: str, limit: int = 1000) -> bool:
    import re as _re
    return any(int(x) >= limit for x in _re.findall(r"\{(\d+)(?:,(\d*))?\}", text) for x in x if x)


def _hs_error(rule: Rule, buffer: str, message: str) -> CompileError:
    pc = _pcre_of(rule, buffer)
    kw = "pcre" if pc else "content"
    where = f" in {pc}" if pc else ""
    return CompileError(rule, kw, f"Hyperscan: {message}{where}", "hyperscan")
