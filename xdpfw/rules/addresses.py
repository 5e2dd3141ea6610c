"""Rule address sets: ``any``, CIDRs, ranges, lists, negation and variables.

Semantics follow Suricata (see :mod:`xdpfw.rules.listexpr` for the exact rules). Two
examples:

* ``[!1.2.3.4]``: every IPv4 address except 1.2.3.4, and no IPv6 address (a pure
  negation only fills the families it mentions). ``networks()`` gives
  ``([0.0.0.0/0], [1.2.3.4/32])`` and ``positive_cidrs()`` gives None.
* ``[10.0.0.0/8,!10.1.0.0/16]``: 10.0.0.0/8 minus 10.1.0.0/16, a finite set:
  ``positive_cidrs()`` gives the 8 disjoint CIDRs that make it up.

Accepted values: ``1.2.3.4``, ``1.2.3.0/24``, ``1.2.3.0/255.255.255.0``,
``1.2.3.4-1.2.3.9``, the IPv6 forms of the first, second and fourth, and ``any``.
A CIDR with host bits set is masked, as Suricata does (``1.2.3.4/24`` is 1.2.3.0/24).
"""
from __future__ import annotations

import ipaddress
from typing import Iterator

from xdpfw.rules import listexpr
from xdpfw.rules.errors import ExprError
from xdpfw.rules.intervals import Intervals, member, to_prefixes
from xdpfw.rules.variables import Variables

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

V4_MAX = (1 << 32) - 1
V6_MAX = (1 << 128) - 1
_UNIVERSES = ((0, V4_MAX), (0, V6_MAX))


class AddressSet:
    """An immutable set of IPv4 and IPv6 addresses.

    ``v4``/``v6`` are sorted disjoint inclusive integer intervals. ``complement4``/
    ``complement6`` are True when that family is "everything except something" (it
    came from a negation over the whole family), which is when a positive CIDR list
    would be needlessly long and :meth:`positive_cidrs` returns None.
    """

    __slots__ = ("v4", "v6", "complement4", "complement6", "text", "_starts4", "_starts6")

    def __init__(self, v4: Intervals, v6: Intervals, complement4: bool = False,
                 complement6: bool = False, text: str = "") -> None:
        self.v4 = v4
        self.v6 = v6
        self.complement4 = complement4
        self.complement6 = complement6
        self.text = text
        self._starts4 = [lo for lo, _ in v4]
        self._starts6 = [lo for lo, _ in v6]

    @property
    def is_any(self) -> bool:
        return self.v4 == ((0, V4_MAX),) and self.v6 == ((0, V6_MAX),)

    @property
    def is_complement(self) -> bool:
        return self.complement4 or self.complement6

    def contains(self, addr: IPAddress | str) -> bool:
        ip = ipaddress.ip_address(addr) if isinstance(addr, str) else addr
        if ip.version == 4:
            return member(self.v4, self._starts4, int(ip))
        return member(self.v6, self._starts6, int(ip))

    __contains__ = contains

    def networks(self) -> tuple[list[IPNetwork], list[IPNetwork]]:
        """A flat ``(included, excluded)`` form: x is in the set iff it is inside some
        included network and inside no excluded one.

        A complemented family is given as its whole range included and the gaps
        excluded; any other family as its positive CIDRs with nothing excluded.
        """
        inc: list[IPNetwork] = []
        exc: list[IPNetwork] = []
        for ivs, comp, (ulo, uhi), version in ((self.v4, self.complement4, _UNIVERSES[0], 4),
                                                (self.v6, self.complement6, _UNIVERSES[1], 6)):
            if comp:
                inc.extend(_cidrs(((ulo, uhi),), version))
                exc.extend(_cidrs(_gaps(ivs, ulo, uhi), version))
            else:
                inc.extend(_cidrs(ivs, version))
        return inc, exc

    def positive_cidrs_by_family(self) -> tuple[list[ipaddress.IPv4Network], list[ipaddress.IPv6Network]] | None:
        """Disjoint, sorted positive CIDRs per family, or None for "all except ..." sets."""
        if self.is_complement:
            return None
        return list(_cidrs(self.v4, 4)), list(_cidrs(self.v6, 6))  # type: ignore[arg-type]

    def positive_cidrs(self) -> list[IPNetwork] | None:
        """Disjoint positive CIDRs (IPv4 first), or None for "all except ..." sets."""
        fams = self.positive_cidrs_by_family()
        return None if fams is None else [*fams[0], *fams[1]]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AddressSet) and self.v4 == other.v4 and self.v6 == other.v6

    def __hash__(self) -> int:
        return hash((self.v4, self.v6))

    def __repr__(self) -> str:
        return f"AddressSet({self.text!r})" if self.text else f"AddressSet(v4={self.v4}, v6={self.v6})"


ANY = AddressSet(((0, V4_MAX),), ((0, V6_MAX),), text="any")


def _gaps(ivs: Intervals, ulo: int, uhi: int) -> Intervals:
    out = []
    cur = ulo
    for lo, hi in ivs:
        if lo > cur:
            out.append((cur, lo - 1))
        cur = hi + 1
    if cur <= uhi:
        out.append((cur, uhi))
    return tuple(out)


def _cidrs(ivs: Intervals, version: int) -> Iterator[IPNetwork]:
    bits = 32 if version == 4 else 128
    cls = ipaddress.IPv4Network if version == 4 else ipaddress.IPv6Network
    for lo, hi in ivs:
        for net, plen in to_prefixes(lo, hi, bits):
            yield cls((net, plen))


def parse_value(text: str) -> tuple[int, int, int]:
    """One address value to ``(family, lo, hi)``: family 0 is IPv4, 1 is IPv6."""
    try:
        if "/" in text:
            addr, _, mask = text.partition("/")
            if mask.isdigit():
                net = ipaddress.ip_network(f"{addr}/{mask}", strict=False)
            elif "." in mask and ":" not in addr:
                net = ipaddress.IPv4Network(f"{addr}/{mask}", strict=False)
            else:
                raise ValueError
            lo = int(net.network_address)
            return (0 if net.version == 4 else 1), lo, lo + net.num_addresses - 1
        if "-" in text:
            a, _, b = text.partition("-")
            first, last = ipaddress.ip_address(a), ipaddress.ip_address(b)
            if first.version != last.version or int(first) > int(last):
                raise ValueError
            return (0 if first.version == 4 else 1), int(first), int(last)
        ip = ipaddress.ip_address(text)
        return (0 if ip.version == 4 else 1), int(ip), int(ip)
    except ValueError:
        raise ExprError(f"invalid address {text!r}") from None


def parse_addresses(text: str, variables: Variables) -> AddressSet:
    """Parse a header address expression; :class:`ExprError` on any problem."""
    cached = variables.address_cache.get(text)
    if cached is not None:
        return cached
    text = text.strip()
    if text.lower() == "any":
        return ANY
    ev = listexpr.Evaluator(_UNIVERSES, parse_value, lambda n: variables.item(n, "address"),
                            ("IPv4", "IPv6"))
    result = ev.evaluate(listexpr.parse(text))
    aset = AddressSet(result.sets[0], result.sets[1], result.complement[0], result.complement[1], text)
    variables.address_cache[text] = aset
    return aset
