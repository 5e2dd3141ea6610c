"""Prefilter and verify for the block database (one packet's payload at a time).

The block database holds every UDP/ICMP/other-protocol payload rule as its whole
expression (a Hyperscan combination where the rule has several), and scanning all of
them over each datagram costs per rule, not per byte: on ET Open's 316 block rules a
DNS-sized datagram takes microseconds. Suricata's answer, followed here: a multi-pattern
prefilter of one literal per rule (its fast pattern), and the rule's full check only for
the rules whose literal occurred and whose header (protocol, addresses, ports, flow,
dsize: checked first, in C, as Suricata's signature group heads select rules by port
before its MPM) holds.

What is built, per block database (``build_block_prefilter``):

* ``db``: the distinct fast-pattern literals (``nocase`` kept), block mode, one report
  per literal per packet (single-match). Literal ``k`` selects the verify entries
  ``groups[k]``.
* ``verify[v]``: rule v's own patterns (its expressions, quiet operands and the
  end-of-data sentinel its combination uses), compiled alone with the ids they have in
  the full database, so a verify scan reports exactly what the full scan reports for
  that rule and the report map (``SigTables.block_report``) is shared. ``verify_sig[v]``
  is its signature.
* ``residual``: the rules without a usable literal (a pcre alone, only negated
  contents), scanned whole on every packet; None when there are none.

Exactness: a rule's positive payload contents are in its compiled expression verbatim
(the translation places every positive content as literal bytes, ``translate.py``), so a
packet on which the full expression matches contains its fast pattern, with the
content's case rule. Skipping the rule when the literal is absent therefore loses
nothing, and verifying it runs the same expression on the same bytes. The engine keeps
the full database for the case its prefilter match buffer overflows (more distinct
literals in one packet than it holds: the whole database is scanned instead, counted).

The fast pattern: the content the rule marks ``fast_pattern`` (any of its forms; the
whole content is used, which the chopped form is a part of), else the longest positive
content, a case-sensitive one preferred at equal length (Suricata's choice: the longest
pattern of the rule's highest-priority buffer; for packet payload rules that buffer is
the payload). Contents that are negated, transformed or on another buffer do not
qualify.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from xdpfw.rules.model import PAYLOAD, Content, Rule


@dataclass
class BlockPrefilter:
    db: object                                   # the literal database (block mode)
    groups: list[list[int]]                      # literal id -> verify entries
    verify: list[object]                         # verify entry -> its database
    verify_sig: list[int]                        # verify entry -> signature index
    residual: object = None                      # rules without a literal, scanned whole
    literals: list[tuple[bytes, bool]] = field(default_factory=list)   # literal id -> (bytes, nocase)
    residual_sids: list[int] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        return {"literals": len(self.groups), "verified_rules": len(self.verify),
                "residual_rules": len(self.residual_sids)}


def fast_literal(rule: Rule) -> tuple[bytes, bool] | None:
    """(bytes, nocase) of the rule's payload fast pattern, or None when it has none."""
    cs = [c for c in rule.contents if isinstance(c, Content) and not c.negated and c.buffer == PAYLOAD
          and not c.transforms and c.pattern]
    if not cs:
        return None
    marked = [c for c in cs if c.fast_pattern is not None]
    c = marked[0] if marked else max(cs, key=lambda c: (len(c.pattern), not c.nocase))
    return c.pattern, c.nocase


_ID = re.compile(rb"\d+")


def _rule_ids(cb, cr, by_id) -> set[int]:
    """Every pattern id the rule's report depends on in the full database (by_id: its
    patterns by id)."""
    ids = set(cr.pattern_ids)
    for pid in list(ids):
        p = by_id[pid]
        if p.combination:             # a Hyperscan logical combination names its operands
            ids.update(int(x) for x in _ID.findall(p.expression))
    if cb.eod_id is not None and cr.eod:
        ids.add(cb.eod_id)
    return ids


def build_block_prefilter(cb, subset, sig_of_rule: dict[int, int | None], backend, cache=None) -> BlockPrefilter | None:
    """The prefilter of a compiled block buffer (``cb``, its rules ``subset``; its
    database already built, so ``cb.rules`` holds only what compiled). ``sig_of_rule``:
    id(rule) -> signature index (None: not in the engine). ``backend``: the match_hs
    module. None when fewer than two rules have a literal (the full database alone is as
    fast)."""
    by_id = {p.id: p for p in cb.patterns}
    lit_id: dict[tuple[bytes, bool], int] = {}
    groups: list[list[int]] = []
    verify_pats: list[list] = []
    verify_sig: list[int] = []
    residual_ids: set[int] = set()
    residual_sids: list[int] = []
    for idx in sorted(cb.rules):
        cr = cb.rules[idx]
        rule = subset[idx]
        sig = sig_of_rule.get(id(rule))
        if sig is None or cr.report_id < 0:
            continue
        ids = _rule_ids(cb, cr, by_id)
        lit = fast_literal(rule)
        if lit is None:
            residual_ids |= ids
            residual_sids.append(rule.sid)
            continue
        k = lit_id.setdefault(lit, len(lit_id))
        if k == len(groups):
            groups.append([])
        groups[k].append(len(verify_pats))
        verify_pats.append([by_id[i] for i in sorted(ids)])
        verify_sig.append(sig)
    if len(verify_pats) < 2:      # one rule: verifying it is the whole scan; nothing to gain
        return None
    from xdpfw._fast import match

    compile_ = ((lambda pats: cache.database(backend, pats, "block")) if cache is not None else
                (lambda pats: backend.Database.compile(pats, mode="block")))
    literals = sorted(lit_id, key=lit_id.get)
    lits = [match.Pattern(id=k, expression=b, literal=True, nocase=nc, singlematch=True)
            for k, (b, nc) in enumerate(literals)]
    return BlockPrefilter(
        db=compile_(lits), groups=groups, verify=[compile_(p) for p in verify_pats],
        verify_sig=verify_sig,
        residual=compile_([by_id[i] for i in sorted(residual_ids)]) if residual_ids else None,
        literals=literals, residual_sids=residual_sids)
