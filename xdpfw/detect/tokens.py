"""Tokens and templates: the token sequences a chain of content keywords is built as,
and placing a rigid element at every offset a relative keyword allows (docs/DETECT.md)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

#: Most templates (alternative placements) one chain may need before the rule is refused.
MAX_ALTERNATIVES = 256

ALL = frozenset(range(256))

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


def rigid_len(t: Token) -> int | None:
    if isinstance(t, Lit):
        return len(t.data)
    if isinstance(t, Cls):
        return 1
    if isinstance(t, AnyN):
        return t.n
    if isinstance(t, Rep) and t.lo == t.hi:
        return t.lo
    return None


def explode(t: Token) -> list[frozenset]:
    if isinstance(t, Lit):
        return [byte_set(b, t.nocase) for b in t.data]
    if isinstance(t, Cls):
        return [t.chars]
    if isinstance(t, Rep):
        assert t.hi == t.lo
        return [t.chars] * t.lo
    assert isinstance(t, AnyN)
    return [ALL] * t.n


def byte_set(b: int, nocase: bool) -> frozenset:
    if nocase and (65 <= b <= 90 or 97 <= b <= 122):
        return frozenset((b | 0x20, b & ~0x20))
    return frozenset((b,))


def compress(sets: Sequence[frozenset]) -> list[Token]:
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


class Unsupported(Exception):
    def __init__(self, message: str, reason: str = "unsupported"):
        super().__init__(message)
        self.reason = reason


class Never(Exception):
    pass


def dedupe(ts: Iterable[Template]) -> list[Template]:
    seen: dict[Template, None] = {}
    for t in ts:
        seen.setdefault(t, None)
    return list(seen)


def append(t: Template, *toks: Token, back: int = 0, closed: bool = False) -> Template:
    out = list(t.tokens)
    for k in toks:
        if isinstance(k, Gap) and k.lo == 0 and k.hi == 0:
            continue
        if isinstance(k, AnyN) and k.n == 0 or isinstance(k, Rep) and k.hi == 0:
            continue
        out.append(k)
    return Template(tuple(out), back, closed)


def strip_free_tail(ts: list[Template]) -> list[Template]:
    """Drop "any byte" runs after the cursor at the end (length conditions)."""
    out = []
    for t in ts:
        toks, back = list(t.tokens), t.back
        while back and toks and isinstance(toks[-1], AnyN) and toks[-1].n <= back:
            back -= toks.pop().n
        out.append(Template(tuple(toks), back, t.closed))
    return dedupe(out)


def place_rel(t: Template, elem: list[Token], klo: int, khi: int | None) -> list[Template]:
    """Place rigid ``elem`` at cursor + k for every k in [klo, khi] (khi None: no bound)."""
    if t.closed:
        raise Unsupported("a relative keyword after isdataat:!N,relative")
    out: list[Template] = []
    n_after = t.back
    if (khi is None or khi >= n_after) and not t.eod:
        lo = max(klo, n_after) - n_after
        hi = None if khi is None else khi - n_after
        out.append(append(t, Gap(lo, hi), *elem))
    top = n_after - 1 if khi is None else min(khi, n_after - 1)
    if klo <= top:
        if top - klo + 1 > 4 * MAX_ALTERNATIVES:
            raise Unsupported(f"{top - klo + 1} placements overlapping bytes already placed (by "
                               f"a negative distance or an isdataat) to enumerate (limit "
                               f"{4 * MAX_ALTERNATIVES})", "too_complex")
        sets = [s for tok in elem for s in explode(tok)]
        for k in range(klo, top + 1):
            out.extend(place_exact(t, sets, k))
    return out


def place_exact(t: Template, sets: list[frozenset], k: int) -> list[Template]:
    """Place per-position sets at cursor + k, k < t.back (overlapping placed bytes)."""
    m = len(sets)
    start_f = k - t.back  # < 0: bytes before the current end
    end_f = start_f + m
    if t.eod and end_f > 0:
        return []
    body = t.body()
    idx, rigid = len(body), 0
    while idx > 0:
        n = rigid_len(body[idx - 1])
        if n is None:
            break
        rigid += n
        idx -= 1
    need = -start_f
    if need <= rigid:
        cur = [s for tok in body[idx:] for s in explode(tok)]
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
        toks = body[:idx] + compress(cur) + ([EOD] if t.eod else [])
        return [Template(tuple(toks), max(0, -end_f))]
    j = need - rigid  # bytes of the element before the rigid suffix
    if idx == 0:
        # Unanchored beginning: those bytes only need to exist.
        return place_exact(Template(tuple([AnyN(j)] + list(t.tokens)), t.back), sets, k)
    prev = body[idx - 1]
    if isinstance(prev, Bos):
        return []  # it would start before the buffer
    if not isinstance(prev, Gap):
        raise Unsupported("negative distance reaches back into a pcre or a variable-length run")
    out: list[Template] = []
    lo, hi = prev.lo, prev.hi
    rest = list(t.tokens[idx:])
    head = list(t.tokens[:idx - 1])
    if hi is None or hi >= j:
        nlo, nhi = max(lo, j) - j, (None if hi is None else hi - j)
        mid = [] if (nlo, nhi) == (0, 0) else [Gap(nlo, nhi)]
        out.extend(place_exact(Template(tuple(head + mid + [AnyN(j)] + rest), t.back), sets, k))
    stop = j - 1 if hi is None else min(hi, j - 1)
    for g in range(lo, stop + 1):
        mid = [AnyN(g)] if g else []
        out.extend(place_exact(Template(tuple(head + mid + rest), t.back), sets, k))
    return out
