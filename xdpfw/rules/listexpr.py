"""The list syntax shared by rule addresses and ports, and its set semantics.

Grammar (whitespace allowed around items)::

    expr := item ("," item)*          (a top-level list needs no brackets)
    item := ["!"] ( "[" item ("," item)* "]" | "$" NAME | "any" | VALUE )

VALUE is handed to the address or port value parser. :func:`parse` builds a tree of
:class:`Item`; :class:`Evaluator` turns it into interval sets with Suricata's
semantics (``DetectAddressParse2``/``DetectAddressMergeNot`` in detect-engine-address.c):

* A list collects its entries into a positive set P and a negated set N. A nested
  list that is not negated is *flattened* into the same P and N, so
  ``[a,[b,!c]]`` is ``(a|b) - c``.
* A negated list or negated variable is evaluated on its own first (P minus N, as
  below) and the result goes into N: ``![a,!b]`` puts ``a - b`` into N.
* Finally, per family (IPv4, IPv6; ports have one): if P is empty but N is not, P
  becomes the whole family; the set is ``P - N``. So ``[!1.2.3.4]`` is every IPv4
  address but 1.2.3.4 *and no IPv6 address*, and ``!$HOME_NET`` with an IPv4-only
  HOME_NET contains no IPv6 address, exactly as in Suricata.
* Negating a whole family (``!any``, ``!0.0.0.0/0``) or ending with an empty set is
  an error.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from xdpfw.rules.errors import ExprError
from xdpfw.rules.intervals import Interval, Intervals, covers, normalize, subtract

_VALUE_STOP = frozenset(",[]!$ \t")

# Lists inside lists and variables inside variables, counted together: real rule sets
# use a handful; an expression nested deeper is refused (it would otherwise exhaust the
# interpreter's recursion on a few hundred brackets).
MAX_NESTING = 64


@dataclass(frozen=True, slots=True)
class Item:
    """One node: ``kind`` is ``any``, ``value``, ``var`` (text = name) or ``list``."""

    kind: str
    negated: bool
    text: str = ""
    children: tuple["Item", ...] = ()
    pos: int = 0


def parse(text: str) -> Item:
    """Parse one address or port expression into an :class:`Item` tree."""
    p = _Parser(text)
    items: list[Item] = []
    while True:
        p.skip_ws()
        if p.i >= len(text):
            raise ExprError("empty value" if not items else "nothing after ','", p.i)
        items.append(p.item())
        p.skip_ws()
        if p.i == len(text):
            break
        if text[p.i] != ",":
            raise ExprError(f"unexpected {text[p.i]!r}", p.i)
        p.i += 1
    # Suricata accepts a top-level list without brackets ("!5800,!445").
    return items[0] if len(items) == 1 else Item("list", False, children=tuple(items), pos=0)


class _Parser:
    __slots__ = ("s", "i", "depth")

    def __init__(self, s: str) -> None:
        self.s = s
        self.i = 0
        self.depth = 0

    def skip_ws(self) -> None:
        s, i = self.s, self.i
        while i < len(s) and s[i] in " \t":
            i += 1
        self.i = i

    def item(self) -> Item:
        s = self.s
        start = self.i
        negated = False
        if s[self.i] == "!":
            negated = True
            self.i += 1
            self.skip_ws()
            if self.i < len(s) and s[self.i] == "!":
                raise ExprError("double negation '!!'", self.i)
        if self.i >= len(s):
            raise ExprError("nothing after '!'", start)
        c = s[self.i]
        if c == "[":
            return self._list(start, negated)
        if c in "],":
            raise ExprError(f"unexpected {c!r}", self.i)
        if c == "$":
            j = self.i + 1
            while j < len(s) and (s[j].isalnum() or s[j] in "_-"):
                j += 1
            name = s[self.i + 1:j]
            if not name:
                raise ExprError("'$' without a variable name", self.i)
            pos, self.i = self.i, j
            return Item("var", negated, name, pos=pos)
        j = self.i
        while j < len(s) and s[j] not in _VALUE_STOP:
            j += 1
        value = s[self.i:j]
        pos, self.i = self.i, j
        if value.lower() == "any":
            return Item("any", negated, "any", pos=pos)
        return Item("value", negated, value, pos=pos)

    def _list(self, start: int, negated: bool) -> Item:
        s = self.s
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise ExprError(f"lists nested deeper than {MAX_NESTING}", start)
        self.i += 1
        children: list[Item] = []
        while True:
            self.skip_ws()
            if self.i >= len(s):
                raise ExprError("missing ']'", start)
            if s[self.i] == "]" and not children:
                raise ExprError("empty list '[]'", self.i)
            children.append(self.item())
            self.skip_ws()
            if self.i >= len(s):
                raise ExprError("missing ']'", start)
            if s[self.i] == ",":
                self.i += 1
            elif s[self.i] == "]":
                self.i += 1
                self.depth -= 1
                return Item("list", negated, children=tuple(children), pos=start)
            else:
                raise ExprError(f"unexpected {s[self.i]!r}", self.i)


@dataclass(frozen=True, slots=True)
class Evaluated:
    """Per family: the resulting intervals and whether it is "all except something"."""

    sets: tuple[Intervals, ...]
    complement: tuple[bool, ...]


class Evaluator:
    """Evaluate an :class:`Item` tree over one or more integer families.

    ``universes[f]`` is the full interval of family ``f``; ``parse_value`` maps a
    VALUE to ``(family, lo, hi)``; ``lookup`` maps a variable name to its parsed
    :class:`Item` (raising :class:`ExprError` when undefined). ``family_names`` name
    the families in messages ("IPv4", "port").
    """

    def __init__(self, universes: Sequence[Interval], parse_value: Callable[[str], tuple[int, int, int]],
                 lookup: Callable[[str], Item], family_names: Sequence[str]) -> None:
        self.universes = tuple(universes)
        self.parse_value = parse_value
        self.lookup = lookup
        self.family_names = tuple(family_names)

    def evaluate(self, root: Item) -> Evaluated:
        n = len(self.universes)
        pos: list[list[Interval]] = [[] for _ in range(n)]
        neg: list[list[Interval]] = [[] for _ in range(n)]
        self._collect(root, pos, neg, ())
        return self._merge(pos, neg, root.pos)

    def _collect(self, item: Item, pos: list[list[Interval]], neg: list[list[Interval]],
                 stack: tuple[str, ...], depth: int = 0) -> None:
        kind = item.kind
        if depth > MAX_NESTING:
            raise ExprError(f"lists and variables nested deeper than {MAX_NESTING}", item.pos)
        if kind == "any":
            target = neg if item.negated else pos
            for f, u in enumerate(self.universes):
                target[f].append(u)
        elif kind == "value":
            try:
                f, lo, hi = self.parse_value(item.text)
            except ExprError as e:
                raise ExprError(e.message, item.pos) from None
            (neg if item.negated else pos)[f].append((lo, hi))
        elif kind == "list":
            if item.negated:
                self._negate_into(neg, item.children, stack, item.pos, depth + 1)
            else:
                for child in item.children:
                    self._collect(child, pos, neg, stack, depth + 1)
        else:
            if depth + 1 > MAX_NESTING:
                raise ExprError(f"lists and variables nested deeper than {MAX_NESTING}", item.pos)
            sub = self._resolve(item, stack)
            inner = stack + (item.text,)
            try:
                if item.negated:
                    self._negate_into(neg, (sub,), inner, item.pos, depth + 1)
                else:
                    self._collect(sub, pos, neg, inner, depth + 1)
            except ExprError as e:
                # Positions inside the variable's value mean nothing in the rule text.
                msg = e.message if "variable" in e.message else f"{e.message} (in variable ${item.text})"
                raise ExprError(msg, item.pos) from None

    def _resolve(self, item: Item, stack: tuple[str, ...]) -> Item:
        name = item.text
        if name in stack:
            chain = " -> ".join(f"${n}" for n in stack[stack.index(name):] + (name,))
            raise ExprError(f"variable cycle {chain}", item.pos)
        try:
            return self.lookup(name)
        except ExprError as e:
            if stack:
                raise ExprError(f"{e.message} (used by ${stack[-1]})", item.pos) from None
            raise ExprError(e.message, item.pos) from None

    def _negate_into(self, neg: list[list[Interval]], children: Sequence[Item],
                     stack: tuple[str, ...], at: int, depth: int) -> None:
        n = len(self.universes)
        p: list[list[Interval]] = [[] for _ in range(n)]
        q: list[list[Interval]] = [[] for _ in range(n)]
        for child in children:
            self._collect(child, p, q, stack, depth)
        merged = self._merge(p, q, at)
        for f in range(n):
            neg[f].extend(merged.sets[f])

    def _merge(self, pos: list[list[Interval]], neg: list[list[Interval]], at: int) -> Evaluated:
        sets: list[Intervals] = []
        comp: list[bool] = []
        for f, (ulo, uhi) in enumerate(self.universes):
            p, q = normalize(pos[f]), normalize(neg[f])
            if q and covers(q, ulo, uhi):
                raise ExprError(f"complete {self.family_names[f]} space negated", at)
            if q and not p:
                # Suricata: a pure negation starts from the whole family.
                p = ((ulo, uhi),)
            sets.append(subtract(p, q) if q else p)
            comp.append(bool(q) and covers(p, ulo, uhi))
        if not any(sets):
            raise ExprError("empty set after applying negations", at)
        return Evaluated(tuple(sets), tuple(comp))
