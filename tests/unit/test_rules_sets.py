"""Address and port sets: syntax, Suricata's negation semantics, and property checks
against an independent oracle.

The oracle evaluates membership structurally (no interval arithmetic): a set built
from ranges can only change membership at a range boundary, so checking the
"critical points" (every lo, hi, lo-1, hi+1 and the family ends) decides emptiness and
coverage exactly.
"""
from __future__ import annotations

import ipaddress
import random

import pytest

from xdpfw.rules import AddressSet, PortSet, Variables
from xdpfw.rules.addresses import V4_MAX, V6_MAX, parse_addresses
from xdpfw.rules.errors import ExprError
from xdpfw.rules.intervals import normalize, subtract, to_prefixes
from xdpfw.rules.listexpr import Item, parse
from xdpfw.rules.ports import parse_ports

IP = ipaddress.ip_address


def addrs(text: str, **variables: str) -> AddressSet:
    return parse_addresses(text, Variables(variables or None))


def ports(text: str, **variables: str) -> PortSet:
    return parse_ports(text, Variables(variables or None))


# --- syntax and documented semantics ------------------------------------------------

def test_any_is_both_families():
    a = addrs("any")
    assert a.is_any and not a.is_complement
    assert a.contains(IP("1.2.3.4")) and a.contains(IP("2001:db8::1"))
    assert a.positive_cidrs() == [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]


def test_negated_single_address_is_ipv4_only_complement():
    a = addrs("[!1.2.3.4]")
    assert not a.contains(IP("1.2.3.4"))
    assert a.contains(IP("1.2.3.5")) and a.contains(IP("0.0.0.0"))
    # A pure negation fills only the family it mentions (Suricata's MergeNot).
    assert not a.contains(IP("2001:db8::1"))
    assert a.positive_cidrs() is None
    assert a.networks() == ([ipaddress.ip_network("0.0.0.0/0")], [ipaddress.ip_network("1.2.3.4/32")])
    assert addrs("!1.2.3.4") == a


def test_list_minus_subnet_is_finite():
    a = addrs("[10.0.0.0/8,!10.1.0.0/16]")
    assert a.contains(IP("10.0.0.1")) and a.contains(IP("10.255.0.1"))
    assert not a.contains(IP("10.1.2.3")) and not a.contains(IP("11.0.0.0"))
    cidrs = a.positive_cidrs()
    assert cidrs is not None and len(cidrs) == 8
    assert sum(n.num_addresses for n in cidrs) == 2**24 - 2**16
    assert a.networks()[1] == []


def test_nested_list_flattens_and_negated_block_is_evaluated_first():
    # [a,[b,!c]] is (a|b)-c: the inner negation also removes c from a.
    a = addrs("[10.0.0.0/8,[192.168.0.0/16,!10.0.0.0/24]]")
    assert not a.contains(IP("10.0.0.5"))
    assert a.contains(IP("10.0.1.5")) and a.contains(IP("192.168.1.1"))
    # ![a,!b] removes (a-b): what is left of the family is everything but a, plus b.
    b = addrs("![1.0.0.0/8,!1.2.0.0/16]")
    assert b.contains(IP("1.2.3.4")) and b.contains(IP("2.0.0.0"))
    assert not b.contains(IP("1.3.0.0"))
    assert not b.contains(IP("::1"))


def test_external_net_default_excludes_home_and_ipv6():
    ext = addrs("$EXTERNAL_NET")
    assert not ext.contains(IP("10.1.1.1")) and not ext.contains(IP("192.168.1.1"))
    assert ext.contains(IP("8.8.8.8"))
    assert not ext.contains(IP("2001:db8::1"))
    assert ext.is_complement and ext.positive_cidrs() is None
    inc, exc = ext.networks()
    assert inc == [ipaddress.ip_network("0.0.0.0/0")]
    assert sorted(exc) == sorted(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12",
                                                                    "192.168.0.0/16"))


def test_address_value_forms():
    assert addrs("1.2.3.0/255.255.255.0") == addrs("1.2.3.0/24")
    assert addrs("1.2.3.7/24") == addrs("1.2.3.0/24")  # host bits masked, as Suricata
    r = addrs("1.2.3.4-1.2.3.9")
    assert r.contains(IP("1.2.3.9")) and not r.contains(IP("1.2.3.10"))
    assert r.positive_cidrs() == [ipaddress.ip_network("1.2.3.4/30"), ipaddress.ip_network("1.2.3.8/31")]
    six = addrs("[2001:db8::/32, !2001:db8::1]")
    assert six.contains(IP("2001:db8::2")) and not six.contains(IP("2001:db8::1"))
    assert not six.contains(IP("1.2.3.4"))
    assert addrs("[1.2.3.4, 5.6.7.8]") == addrs("1.2.3.4,5.6.7.8")  # top-level list without brackets
    by_family = addrs("[1.2.3.4,2001:db8::1]").positive_cidrs_by_family()
    assert by_family == ([ipaddress.ip_network("1.2.3.4/32")], [ipaddress.ip_network("2001:db8::1/128")])


@pytest.mark.parametrize("text,message", [
    ("!any", "complete IPv4 space negated"),
    ("[0.0.0.0/0,!0.0.0.0/0]", "complete IPv4 space negated"),
    ("[1.2.3.4,!1.2.3.4]", "empty set after applying negations"),
    ("1.2.3", "invalid address '1.2.3'"),
    ("1.2.3.9-1.2.3.4", "invalid address '1.2.3.9-1.2.3.4'"),
    ("[1.2.3.4", "missing ']'"),
    ("[]", "empty list '[]'"),
    ("!!1.2.3.4", "double negation"),
    ("[1.2.3.4,]", "unexpected ']'"),
    ("1.2.3.4]", "unexpected ']'"),
    ("$FOO", "unknown variable $FOO"),
])
def test_address_errors(text, message):
    with pytest.raises(ExprError) as ei:
        addrs(text)
    assert message in ei.value.message


def test_ports_forms_and_errors():
    assert ports("any").is_any
    assert ports("80").ranges() == [(80, 80)]
    assert ports("1024:").ranges() == [(1024, 65535)]
    assert ports(":1023").ranges() == [(0, 1023)]
    assert ports("[80:90,!85]").ranges() == [(80, 84), (86, 90)]
    assert ports("!80").ranges() == [(0, 79), (81, 65535)] and ports("!80").is_complement
    assert ports("$HTTP_PORTS").ranges() == [(80, 80)]
    assert ports("$FILE_DATA_PORTS").ranges() == [(80, 80), (110, 110), (143, 143)]
    assert ports("$SHELLCODE_PORTS").contains(81) and not ports("$SHELLCODE_PORTS").contains(80)
    assert ports("!5800,!445") == ports("[!5800,!445]")
    assert len(ports("[1:3,10]")) == 4
    for bad, msg in (("65536", "out of range"), ("90:80", "start > end"), ("!any", "complete port space"),
                     ("[80,!80]", "empty set"), ("http", "invalid port"), ("$NOPE", "unknown variable $NOPE")):
        with pytest.raises(ExprError) as ei:
            ports(bad)
        assert msg in ei.value.message


def test_intervals_helpers():
    assert normalize([(5, 7), (1, 2), (3, 4), (10, 12)]) == ((1, 7), (10, 12))
    assert subtract(((0, 10),), ((2, 3), (5, 5), (9, 20))) == ((0, 1), (4, 4), (6, 8))
    assert to_prefixes(0, 2**32 - 1, 32) == [(0, 0)]
    assert to_prefixes(1, 6, 3) == [(1, 3), (2, 2), (4, 2), (6, 3)]


# --- property checks against the oracle ---------------------------------------------

V4_BASE = int(IP("10.0.0.0"))
V6_BASE = int(IP("2001:db8::"))


def _leaf(rng: random.Random) -> str:
    """A random address in a small region so that leaves overlap often."""
    k = rng.random()
    if k < 0.05:
        return "any"
    if k < 0.5:
        plen = rng.randint(20, 32)
        net = ipaddress.IPv4Network((V4_BASE + rng.randrange(0, 1 << 14), plen), strict=False)
        return str(net)
    if k < 0.7:
        lo = V4_BASE + rng.randrange(0, 1 << 14)
        return f"{IP(lo)}-{IP(lo + rng.randrange(0, 3000))}"
    if k < 0.95:
        plen = rng.randint(110, 128)
        return str(ipaddress.IPv6Network((V6_BASE + rng.randrange(0, 1 << 16), plen), strict=False))
    return "$V"


def _expr(rng: random.Random, depth: int) -> str:
    neg = "!" if rng.random() < 0.3 else ""
    if depth == 0 or rng.random() < 0.4:
        return neg + _leaf(rng)
    return neg + "[" + ",".join(_expr(rng, depth - 1) for _ in range(rng.randint(1, 4))) + "]"


class Oracle:
    """Suricata's list semantics evaluated point by point (see module docstring).

    ``member(item, f, x)``: is x of family f in the evaluated set? Raises ExprError
    where the implementation must fail. Results are memoized per (item, f, x).
    """

    def __init__(self, universes: list[tuple[int, int]], value, variables: dict[str, str]) -> None:
        self.universes = universes
        self.value = value  # text -> (family, lo, hi)
        self.variables = {k: parse(v) for k, v in variables.items()}
        self._memo: dict = {}

    def leaves(self, item: Item) -> list[tuple[int, int, int]]:
        if item.kind == "any":
            return [(f, lo, hi) for f, (lo, hi) in enumerate(self.universes)]
        if item.kind == "value":
            return [self.value(item.text)]
        if item.kind == "var":
            return self.leaves(self.variables[item.text])
        return [leaf for c in item.children for leaf in self.leaves(c)]

    def critical(self, item: Item, f: int) -> list[int]:
        lo_u, hi_u = self.universes[f]
        pts = {lo_u, hi_u}
        for fam, lo, hi in self.leaves(item):
            if fam == f:
                pts.update(p for p in (lo - 1, lo, hi, hi + 1) if lo_u <= p <= hi_u)
        return sorted(pts)

    def flatten(self, item: Item) -> tuple[list, list]:
        """Positive leaves and negated entries: ("leaf", f, lo, hi) or ("block", Item)."""
        pos: list = []
        neg: list = []

        def walk(it: Item) -> None:
            if it.kind in ("list", "var") and it.negated:
                inner = self.variables[it.text] if it.kind == "var" else Item("list", False, children=it.children)
                neg.append(("block", inner))
            elif it.kind == "list":
                for c in it.children:
                    walk(c)
            elif it.kind == "var":
                walk(self.variables[it.text])
            else:
                for leaf in self.leaves(Item(it.kind, False, it.text)):
                    (neg if it.negated else pos).append(("leaf", *leaf))
        walk(item)
        return pos, neg

    def _in(self, entry: tuple, f: int, x: int) -> bool:
        if entry[0] == "block":
            return self.member(entry[1], f, x)
        _, fam, lo, hi = entry
        return fam == f and lo <= x <= hi

    def member(self, item: Item, f: int, x: int) -> bool:
        key = (item, f, x)
        if key not in self._memo:
            self._memo[key] = self._member(item, f, x)
        return self._memo[key]

    def _member(self, item: Item, f: int, x: int) -> bool:
        pos, neg = self.flatten(item)
        fams = range(len(self.universes))
        pts = {fam: self.critical(item, fam) for fam in fams}
        in_neg = {fam: [any(self._in(e, fam, p) for e in neg) for p in pts[fam]] for fam in fams}
        for fam in fams:
            if all(in_neg[fam]):
                raise ExprError("complete space negated")
        has_pos = {fam: any(e[1] == fam for e in pos) for fam in fams}
        has_neg = {fam: any(in_neg[fam]) for fam in fams}

        def value(fam: int, p: int) -> bool:
            in_pos = any(self._in(e, fam, p) for e in pos) or (not has_pos[fam] and has_neg[fam])
            return in_pos and not any(self._in(e, fam, p) for e in neg)

        if not any(value(fam, p) for fam in fams for p in pts[fam]):
            raise ExprError("empty set")
        return value(f, x)


def _addr_value(text: str) -> tuple[int, int, int]:
    from xdpfw.rules.addresses import parse_value
    return parse_value(text)


ADDR_VARS = {"V": "[10.0.1.0/24,!10.0.1.128/25]"}


@pytest.mark.parametrize("seed", range(300))
def test_addresses_match_oracle(seed):
    rng = random.Random(seed)
    text = _expr(rng, 3)
    oracle = Oracle([(0, V4_MAX), (0, V6_MAX)], _addr_value, ADDR_VARS)
    root = parse(text)
    try:
        oracle.member(root, 0, 0)
        expected_error = None
    except ExprError as e:
        expected_error = e
    if expected_error is not None:
        with pytest.raises(ExprError):
            addrs(text, **ADDR_VARS)
        return
    aset = addrs(text, **ADDR_VARS)
    points = [(f, p) for f in (0, 1) for p in oracle.critical(root, f)]
    points += [(0, rng.randrange(0, V4_MAX)) for _ in range(20)]
    points += [(1, V6_BASE + rng.randrange(0, 1 << 17)) for _ in range(20)]
    cidrs = aset.positive_cidrs()
    inc, exc = aset.networks()
    for f, p in points:
        ip = ipaddress.IPv4Address(p) if f == 0 else ipaddress.IPv6Address(p)
        want = oracle.member(root, f, p)
        assert aset.contains(ip) == want, (text, str(ip))
        assert (any(ip in n for n in inc) and not any(ip in n for n in exc)) == want, (text, str(ip))
        if cidrs is not None:
            assert any(ip in n for n in cidrs) == want, (text, str(ip))
    if cidrs is not None:
        for fam in (4, 6):
            nets = [n for n in cidrs if n.version == fam]
            assert nets == sorted(nets)
            assert all(not a.overlaps(b) for a, b in zip(nets, nets[1:]))


def _port_expr(rng: random.Random, depth: int) -> str:
    neg = "!" if rng.random() < 0.3 else ""
    if depth == 0 or rng.random() < 0.4:
        k = rng.random()
        lo = rng.randrange(0, 2000)
        leaf = ("any" if k < 0.05 else f"{lo}" if k < 0.4 else f"{lo}:{lo + rng.randrange(0, 300)}"
                if k < 0.8 else f"{lo}:" if k < 0.9 else f":{lo}")
        return neg + leaf
    return neg + "[" + ",".join(_port_expr(rng, depth - 1) for _ in range(rng.randint(1, 4))) + "]"


@pytest.mark.parametrize("seed", range(300))
def test_ports_match_oracle(seed):
    from xdpfw.rules.ports import parse_value
    rng = random.Random(1000 + seed)
    text = _port_expr(rng, 3)
    oracle = Oracle([(0, 65535)], parse_value, {})
    root = parse(text)
    try:
        oracle.member(root, 0, 0)
    except ExprError:
        with pytest.raises(ExprError):
            ports(text)
        return
    pset = ports(text)
    for p in set(oracle.critical(root, 0)) | {rng.randrange(0, 65536) for _ in range(50)}:
        assert pset.contains(p) == oracle.member(root, 0, p), (text, p)
    ranges = pset.ranges()
    assert all(a[1] + 1 < b[0] for a, b in zip(ranges, ranges[1:]))  # disjoint, sorted, merged
