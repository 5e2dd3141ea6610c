"""Emission: templates -> Hyperscan regex text (and the avoid-a-literal regex)."""
from __future__ import annotations

from dataclasses import dataclass

from xdpfw.detect.tokens import ALL, AnyN, Bos, Cls, Eod, Gap, Lit, Re, Rep, Template, rigid_len

PLAIN = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


@dataclass
class Expr:
    """One expression of a rule: regex text and bounds on its match's end offset."""

    text: str
    min_offset: int | None = None
    max_offset: int | None = None


def hexb(b: int) -> str:
    return chr(b) if b in PLAIN else f"\\x{b:02x}"


def regex_lit(t: Lit) -> str:
    s = "".join(hexb(b) for b in t.data)
    if t.nocase and any(65 <= b <= 90 or 97 <= b <= 122 for b in t.data):
        return f"(?i:{s})"
    return s


def regex_cls(chars: frozenset) -> str:
    if chars == ALL:
        return "."
    if len(chars) == 1:
        return hexb(next(iter(chars)))
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


def repeat(atom: str, lo: int, hi: int | None) -> str:
    out = []
    while lo > MAX_REPEAT or (hi is not None and hi > MAX_REPEAT):
        step_hi = min(MAX_REPEAT, hi) if hi is not None else MAX_REPEAT
        step_lo = min(lo, step_hi)
        out.append(atom + rep(step_lo, step_hi))
        lo -= step_lo
        hi = None if hi is None else hi - step_hi
    out.append(atom + rep(lo, hi))
    return "".join(out)


def rep(lo: int, hi: int | None) -> str:
    if hi is None:
        return "*" if lo == 0 else ("+" if lo == 1 else f"{{{lo},}}")
    if lo == hi:
        return "" if lo == 1 else f"{{{lo}}}"
    return "?" if (lo, hi) == (0, 1) else f"{{{lo},{hi}}}"


def regex(tokens: list) -> str:
    out = []
    for t in tokens:
        if isinstance(t, Lit):
            out.append(regex_lit(t))
        elif isinstance(t, Cls):
            out.append(regex_cls(t.chars))
        elif isinstance(t, AnyN):
            out.append(repeat(".", t.n, t.n))
        elif isinstance(t, Gap):
            out.append(repeat(".", t.lo, t.hi))
        elif isinstance(t, Rep):
            out.append(repeat(regex_cls(t.chars), t.lo, t.hi))
        elif isinstance(t, Re):
            out.append(t.text)
        elif isinstance(t, Bos):
            out.append("^")
        else:
            out.append("\\z")
    return "".join(out)


def expression(t: Template) -> Expr:
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
            n = rigid_len(x)
            if n is None and not isinstance(x, Eod):
                fixed = -1
                break
            fixed += n or 0
        if fixed > 0 and (lo, hi) != (0, 0):
            if all(isinstance(x, (AnyN, Eod)) for x in rest) and not isinstance(rest[-1], Eod):
                return Expr(".", lo + fixed, None)  # only a length condition
            return Expr(regex(rest), lo + fixed, None if hi is None else hi + fixed)
        if fixed > 0 and all(isinstance(x, AnyN) for x in rest):
            return Expr(".", fixed, None)
        if not rest:
            return Expr(".", 1, None)
        if isinstance(rest[0], Gap) and rest[0].lo == 0 and rest[0].hi is None:
            return Expr(regex(rest[1:]))
        if (lo, hi) == (0, None):
            return Expr(regex(rest))
    return Expr(regex(toks))



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
            R[(i, j)] = regex_cls(frozenset(cs))

    def union(a: str | None, b: str | None) -> str | None:
        if a is None:
            return b
        if b is None or a == b:
            return a
        if a == "" or b == "":
            return group(a or b) + "?"
        return f"(?:{a}|{b})"

    def group(a: str) -> str:
        return a if len(a) <= 1 or a.startswith("(?:") and balanced_group(a) else f"(?:{a})"

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


def balanced_group(a: str) -> bool:
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
