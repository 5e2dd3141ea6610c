"""Compile IP-only drop rules into the XDP program's ACL maps.

A rule goes to the kernel ACL only when the kernel can decide it exactly, alone, with the
same result the inspection engine would reach:

  - action `drop`, protocol ip/tcp/udp/icmp, and no option but metadata (Rule.is_ip_only);
  - one dimension constrained, the rest `any`: a source address list, a destination
    address list, a destination port list or a source port list (for `<>` both
    directions). Addresses must be a finite set of positive CIDRs (no "all but X");
  - no `pass` rule could match any packet the drop rule matches: pass beats drop in
    Suricata's action order, and the kernel ACL runs before any pass rule is looked at.

Everything else stays with the inspection engine. An LPM lookup returns only the longest
matching prefix, so each entry's protocol mask is folded with the masks of every shorter
prefix that covers it (fold_covering).
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from xdpfw.dataplane import shared
from xdpfw.dataplane.bpfload import AclTables

IPNet = ipaddress.IPv4Network | ipaddress.IPv6Network

PROTO_MASK = {"ip": shared.PROTO_ANY, "tcp": shared.PROTO_TCP, "udp": shared.PROTO_UDP,
              "icmp": shared.PROTO_ICMP}
PORT_PROTOS = ("tcp", "udp")


@dataclass
class AclCompilation:
    tables: AclTables
    in_kernel: list = field(default_factory=list)   # rules compiled into the ACL
    rest: list = field(default_factory=list)        # rules left to the inspection engine


def fold_covering(entries: dict[IPNet, int]) -> dict[IPNet, int]:
    """OR into each prefix the masks of all shorter prefixes that contain it."""
    out = {}
    for net, mask in entries.items():
        folded = mask
        for plen in range(net.prefixlen - 1, -1, -1):
            folded |= entries.get(net.supernet(new_prefix=plen), 0)
        out[net] = folded
    return out


def _may_overlap(drop, pass_rule) -> bool:
    """Conservative: True unless the two rules' headers provably match disjoint packets."""
    if drop.proto != "ip" and pass_rule.proto not in ("ip", drop.proto) and pass_rule.proto in PROTO_MASK:
        return False

    def disjoint(a, b) -> bool:
        if a.is_any or b.is_any:
            return False
        na, nb = a.positive_cidrs(), b.positive_cidrs()
        if na is None or nb is None:
            return False
        return not any(x.version == y.version and x.overlaps(y) for x in na for y in nb)

    def ports_disjoint(a, b) -> bool:
        if a.is_any or b.is_any:
            return False
        return not any(lo1 <= hi2 and lo2 <= hi1 for lo1, hi1 in a.ranges() for lo2, hi2 in b.ranges())

    orientations = [(pass_rule.src, pass_rule.src_ports, pass_rule.dst, pass_rule.dst_ports)]
    if pass_rule.bidirectional or drop.bidirectional:
        orientations.append((pass_rule.dst, pass_rule.dst_ports, pass_rule.src, pass_rule.src_ports))
    for src, sp, dst, dp in orientations:
        if not (disjoint(drop.src, src) or disjoint(drop.dst, dst)
                or ports_disjoint(drop.src_ports, sp) or ports_disjoint(drop.dst_ports, dp)):
            return True
    return False


def compile_acl(rules) -> AclCompilation:
    src: dict[IPNet, int] = {}
    dst: dict[IPNet, int] = {}
    sport: dict[int, int] = {}
    dport: dict[int, int] = {}
    passes = [r for r in rules if r.action == "pass"]
    comp = AclCompilation(AclTables.empty())

    for r in rules:
        placed = False
        if r.action == "drop" and r.proto in PROTO_MASK and r.is_ip_only() \
                and not any(_may_overlap(r, p) for p in passes):
            placed = _place(r, src, dst, sport, dport)
        (comp.in_kernel if placed else comp.rest).append(r)

    comp.tables = AclTables(fold_covering(src), fold_covering(dst), sport, dport)
    return comp


def _place(r, src, dst, sport, dport) -> bool:
    mask = PROTO_MASK[r.proto]
    dims = {}
    for name, aset in (("src", r.src), ("dst", r.dst)):
        if not aset.is_any:
            nets = aset.positive_cidrs()
            if nets is None:
                return False  # "all but X": not a finite list of prefixes
            dims[name] = nets
    for name, pset in (("sport", r.src_ports), ("dport", r.dst_ports)):
        if not pset.is_any:
            dims[name] = [p for lo, hi in pset.ranges() for p in range(lo, hi + 1)]
    if len(dims) != 1:
        # Nothing constrained (drop everything) or an AND of two constraints: neither is a
        # single-map lookup. Such rules stay with the inspection engine.
        return False
    ((dim, keys),) = dims.items()
    if dim in ("sport", "dport") and r.proto not in PORT_PROTOS:
        return False  # ports on an ip/icmp rule: protocol-dependent, the engine decides
    tables = {"src": src, "dst": dst, "sport": sport, "dport": dport}
    mirror = {"src": "dst", "dst": "src", "sport": "dport", "dport": "sport"}
    targets = [tables[dim]] + ([tables[mirror[dim]]] if r.bidirectional else [])
    for table in targets:
        for k in keys:
            table[k] = table.get(k, 0) | mask
    return True


def parse_vars(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValueError(f"--var expects NAME=VALUE, got {item!r}")
        out[name.lstrip("$")] = value
    return out
