"""Stream rules grouped by what a flow direction is (Hyperscan stream databases per group).

A TCP flow direction's sender, receiver and direction are fixed for its life, and most
stream rules can match only one kind of direction: ET Open's are almost all
``$HOME_NET any -> $EXTERNAL_NET any (flow:to_server; ...)`` or the reverse. Scanning every
direction with the database of all stream rules and discarding the reports whose header
does not hold (the engine's `_header_ok`) pays the matcher for rules that cannot match
there; Suricata avoids it with its signature group heads (rules grouped by protocol,
direction, ports and addresses, each group with its own pattern matcher).

Here a flow direction falls in one of ``NGROUPS`` groups, known when its matcher stream
opens:

    group = to_client * 4 + (source in H) * 2 + (destination in H)

``H`` is the address set the stream rules name most (``$HOME_NET`` in every feed that uses
one), chosen from the rules, not by name. A rule is in every group it can match: its
direction (``flow:to_server`` / ``to_client``, either without), and for each side, the
values its address set allows (a set inside H: in; a set disjoint from H: out; any
other set, ``any`` included: both), both orientations for ``<>``. Each group's database
is compiled from its rules' expressions with the pattern ids of the whole stream set, so
the engine's report map, combination operands and header checks are shared and
unchanged; identical groups share one database, a group no rule can match has none (its
directions are not scanned). What a rule detects does not change: it is scanned in
every direction its header can hold for, with the same automaton; matches spanning
packets are found as before (one stream per flow direction, as before).

App buffers are grouped the same way (apprules.build_app: each buffer's groups, a part
shared by several rules in every group of each of them; an instance takes its flow
direction's group when it opens). ET's `http.uri` patterns are four fifths web-server
rules (`$EXTERNAL_NET any -> $HOME_NET any`): a client's request is not scanned for them.

Without a set that enough rules name, the groups split by direction only. Engines given
no groups (the Aho-Corasick backend, tests) scan the whole databases everywhere.
"""
from __future__ import annotations

import collections
from dataclasses import dataclass, field

from xdpfw.detect.sigtables import V4_MAPPED
from xdpfw.rules.intervals import subtract

NGROUPS = 8
DIRS = ("to_server", "to_client")
MIN_SHARE = 0.25     # H must be named by at least this share of the rules' address sides
# Splitting costs a compile per distinct group (and memory); it pays where a buffer has
# many patterns and a group holds clearly fewer than all of them:
MIN_PATTERNS = 64    # a buffer with fewer patterns is scanned whole everywhere
WHOLE_SHARE = 0.9    # a group with at least this share of the patterns uses the whole database


def group_index(to_client: int, src_in: int, dst_in: int) -> int:
    return to_client * 4 + src_in * 2 + dst_in


def group_name(g: int) -> str:
    side = ("out", "in")
    return f"{DIRS[g >> 2]} src {side[(g >> 1) & 1]} dst {side[g & 1]}"


def engine_ranges(aset) -> tuple[tuple[int, int], ...]:
    """An address set as the engine's sorted, merged 128-bit ranges (IPv4 as ::ffff:a.b.c.d;
    the IPv6 part never re-admits that block: the IPv4 part alone decides it), as the
    signature tables write it (sigtables.SigTables._addr_set)."""
    ranges = [(V4_MAPPED + lo, V4_MAPPED + hi) for lo, hi in aset.v4]
    ranges += subtract(aset.v6, ((V4_MAPPED, V4_MAPPED + 0xFFFFFFFF),))
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return tuple(merged)


def _sides(ranges, home) -> tuple[int, ...]:
    """The values (source or destination) in H an address with these ranges can have."""
    if not ranges:
        return ()
    rest = tuple(subtract(ranges, home))
    if not rest:
        return (1,)                        # inside H
    if rest == tuple(ranges):
        return (0,)                        # disjoint from H
    return (0, 1)


def rule_groups(rule, home) -> set[int]:
    """The groups whose flow directions the rule's header can match (home: H's engine
    ranges, or None for direction-only groups)."""
    dirs = (0, 1)
    if rule.flow is not None and rule.flow.direction:
        dirs = (DIRS.index(rule.flow.direction),)
    if home is None:
        return {group_index(d, 0, 0) for d in dirs}
    src, dst = _sides(engine_ranges(rule.src), home), _sides(engine_ranges(rule.dst), home)
    orients = [(src, dst)] + ([(dst, src)] if rule.bidirectional else [])
    return {group_index(d, si, di) for d in dirs for s, t in orients for si in s for di in t}


def choose_home(rules) -> tuple[tuple[int, int], ...] | None:
    """The address set the rules' sources and destinations name most (not `any`), if at
    least MIN_SHARE of those sides name it."""
    count: collections.Counter = collections.Counter()
    sides = 0
    for r in rules:
        for a in (r.src, r.dst):
            sides += 1
            if not a.is_any:
                count[engine_ranges(a)] += 1
    if not count:
        return None
    home, n = count.most_common(1)[0]
    return home if n >= MIN_SHARE * sides else None


@dataclass
class StreamGroups:
    """What the engine needs: H (its ranges, or None) and per group its database or None."""
    home: tuple | None
    dbs: list                                      # NGROUPS entries: a stream Database or None
    rules: list[int] = field(default_factory=list)  # per group: rules in it
    total: int = 0                                 # stream rules in all

    def summary(self) -> dict:
        return {"groups": sum(1 for d in self.dbs if d is not None),
                "databases": len({id(d) for d in self.dbs if d is not None}),
                "split_by_address": self.home is not None,
                "rules": {group_name(g): n for g, n in enumerate(self.rules)}, "total": self.total}


def group_databases(cb, groups_of, backend, cache=None, whole=None) -> list | None:
    """Per group the streaming database of a compiled buffer's rules that can match there
    (``groups_of(idx)``: the groups of cb.rules[idx]); identical groups share one, a group
    holding every rule is ``whole`` (the buffer's database, when given), a group no rule
    can match has None. None when every rule is in every group, or splitting does not pay
    (fewer than MIN_PATTERNS patterns): the whole database serves. With ``whole`` given, a
    group of WHOLE_SHARE of the patterns or more is the whole database too."""
    by_id = {p.id: p for p in cb.patterns}
    owned: set[int] = set()
    members: list[set[int]] = [set() for _ in range(NGROUPS)]
    for idx in sorted(cb.rules):
        ids = set(cb.rules[idx].pattern_ids)
        owned |= ids
        for g in groups_of(idx):
            members[g] |= ids
    # a pattern no rule names (none today) goes everywhere: a group may scan more, never less
    orphan = set(by_id) - owned
    for g in range(NGROUPS):
        if members[g]:
            members[g] |= orphan
    if all(m == set(by_id) for m in members) or len(by_id) < MIN_PATTERNS:
        return None
    if whole is not None:
        for g in range(NGROUPS):
            if len(members[g]) >= WHOLE_SHARE * len(by_id):
                members[g] = set(by_id)
    compile_ = ((lambda pats: cache.database(backend, pats, "stream")) if cache is not None else
                (lambda pats: backend.Database.compile(pats, mode="stream")))
    built: dict[frozenset, object] = {frozenset(by_id): whole} if whole is not None else {}
    dbs = []
    for m in members:
        if not m:
            dbs.append(None)
            continue
        key = frozenset(m)
        if key not in built:
            built[key] = compile_([by_id[i] for i in sorted(m)])
        dbs.append(built[key])
    return dbs


def build_stream_groups(cb, subset, backend, cache=None, *, home=None, whole=None) -> StreamGroups | None:
    """The groups of a compiled stream buffer (``cb``, its rules ``subset``, its database
    built, so ``cb.rules`` holds what compiled); home: H's engine ranges (choose_home over
    the rule set), None to split by direction only. None when there is nothing to split."""
    counts = [0] * NGROUPS
    of = {idx: rule_groups(subset[idx], home) for idx in cb.rules}
    for gs in of.values():
        for g in gs:
            counts[g] += 1
    dbs = group_databases(cb, of.__getitem__, backend, cache, whole)
    if dbs is None:
        return None
    return StreamGroups(home=home, dbs=dbs, rules=counts, total=len(cb.rules))
