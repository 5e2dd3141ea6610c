"""Rule port sets: ``any``, ``80``, ``80:90``, ``1024:``, ``:1023``, lists, negation,
variables.

Semantics are those of addresses with a single family 0..65535 (see
:mod:`xdpfw.rules.listexpr`): ``[!80]`` and ``!80`` are every port but 80,
``[1:1024,!80]`` is 1..79 and 81..1024, and negating every port is an error.
"""
from __future__ import annotations

from xdpfw.rules import listexpr
from xdpfw.rules.errors import ExprError
from xdpfw.rules.intervals import Interval, Intervals, member
from xdpfw.rules.variables import Variables

PORT_MAX = 65535


class PortSet:
    """An immutable set of ports as sorted, disjoint, inclusive ranges."""

    __slots__ = ("_ranges", "complement", "text", "_starts")

    def __init__(self, ranges: Intervals, complement: bool = False, text: str = "") -> None:
        self._ranges = ranges
        self.complement = complement
        self.text = text
        self._starts = [lo for lo, _ in ranges]

    @property
    def is_any(self) -> bool:
        return self._ranges == ((0, PORT_MAX),)

    @property
    def is_complement(self) -> bool:
        """True for "every port except ..." sets."""
        return self.complement

    def contains(self, port: int) -> bool:
        return member(self._ranges, self._starts, port)

    __contains__ = contains

    def ranges(self) -> list[Interval]:
        """Disjoint, sorted, inclusive ``(lo, hi)`` ranges."""
        return list(self._ranges)

    def __len__(self) -> int:
        return sum(hi - lo + 1 for lo, hi in self._ranges)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PortSet) and self._ranges == other._ranges

    def __hash__(self) -> int:
        return hash(self._ranges)

    def __repr__(self) -> str:
        return f"PortSet({self.text!r})" if self.text else f"PortSet({list(self._ranges)})"


ANY = PortSet(((0, PORT_MAX),), text="any")


def _port(text: str, whole: str) -> int:
    if not text.isdigit():
        raise ExprError(f"invalid port {whole!r}")
    n = int(text)
    if n > PORT_MAX:
        raise ExprError(f"port {n} out of range 0-{PORT_MAX}")
    return n


def parse_value(text: str) -> tuple[int, int, int]:
    """One port value (``80``, ``80:90``, ``1024:``, ``:1023``) to ``(0, lo, hi)``."""
    if ":" in text:
        a, _, b = text.partition(":")
        lo = _port(a, text) if a else 0
        hi = _port(b, text) if b else PORT_MAX
        if lo > hi:
            raise ExprError(f"invalid port range {text!r} (start > end)")
        return 0, lo, hi
    p = _port(text, text)
    return 0, p, p


def parse_ports(text: str, variables: Variables) -> PortSet:
    """Parse a header port expression; :class:`ExprError` on any problem."""
    cached = variables.port_cache.get(text)
    if cached is not None:
        return cached
    text = text.strip()
    if text.lower() == "any":
        return ANY
    ev = listexpr.Evaluator(((0, PORT_MAX),), parse_value, lambda n: variables.item(n, "port"), ("port",))
    result = ev.evaluate(listexpr.parse(text))
    pset = PortSet(result.sets[0], result.complement[0], text)
    variables.port_cache[text] = pset
    return pset
