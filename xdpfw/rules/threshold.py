"""threshold.config: per-sensor thresholds and suppressions applied to loaded rules.

Lines (``#`` comments, trailing ``\\`` continues a line)::

    threshold    gen_id G, sig_id S, type limit|threshold|both, track by_src|by_dst|by_rule|by_both, count N, seconds T
    event_filter (same as threshold)
    suppress     gen_id G, sig_id S[, track by_src|by_dst|by_either, ip ADDRESS]
    rate_filter  gen_id G, sig_id S, track by_src|by_dst|by_rule|by_both, count N, seconds T,
                 new_action alert|drop|pass|reject, timeout T

``ADDRESS`` is anything a rule header accepts (address, CIDR, list, ``$VAR``).
Semantics, as Suricata documents them (configuration/global-thresholds):

* threshold/event_filter for one gid:sid *replaces* the rule's own threshold or
  detection_filter;
* ``sig_id 0`` (all rules of ``gen_id``) and ``gen_id 0, sig_id 0`` (all rules) apply
  only to rules without a threshold of their own (Suricata does not override those);
* suppress adds to whatever the rule has; without ``track`` the rule never alerts;
* rate_filter is independent of the rule's threshold (both apply); one per rule (a
  second specific entry for a rule is ignored with a warning); sig_id 0 entries apply to rules without
  a specific one. The parser accepts Suricata's ``sdrop``/``log`` values only to refuse
  them by name (Suricata parses but does not implement them).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Literal, Union

from xdpfw.rules.addresses import AddressSet, parse_addresses
from xdpfw.rules.errors import ExprError, KeywordError, RuleError
from xdpfw.rules.keywords.base import parse_uint
from xdpfw.rules.keywords.threshold import TYPES, make_threshold
from xdpfw.rules.lexer import logical_rules
from xdpfw.rules.model import RateFilter, Rule, Suppression, Threshold
from xdpfw.rules.variables import Variables


@dataclass(frozen=True, slots=True)
class ThresholdEntry:
    """A ``threshold`` or ``event_filter`` line."""

    gid: int
    sid: int
    threshold: Threshold
    path: str
    line: int


@dataclass(frozen=True, slots=True)
class SuppressEntry:
    gid: int
    sid: int
    suppression: Suppression
    path: str
    line: int


@dataclass(frozen=True, slots=True)
class RateFilterEntry:
    gid: int
    sid: int
    rate_filter: RateFilter
    path: str
    line: int


Entry = Union[ThresholdEntry, SuppressEntry, RateFilterEntry]
RATE_ACTIONS = ("alert", "drop", "pass", "reject")
RATE_TRACKS = ("by_src", "by_dst", "by_rule", "by_both")

_KEYS = {
    "threshold": ("gen_id", "sig_id", "type", "track", "count", "seconds"),
    "event_filter": ("gen_id", "sig_id", "type", "track", "count", "seconds"),
    "suppress": ("gen_id", "sig_id", "track", "ip"),
    "rate_filter": ("gen_id", "sig_id", "track", "count", "seconds", "new_action", "timeout"),
}
_SUPPRESS_TRACKS = ("by_src", "by_dst", "by_either")


def _fields(text: str) -> list[tuple[str, str]]:
    """Split ``key value, key value`` where a value may be a bracketed list."""
    parts: list[str] = []
    depth = 0
    cur: list[str] = []
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    out = []
    for part in parts:
        key, _, value = part.strip().partition(" ")
        if not key or not value.strip():
            raise KeywordError(f"field {part.strip()!r} is not 'name value'")
        out.append((key, value.strip()))
    return out


def parse_threshold_text(text: str, path: str = "<string>", variables: Variables | None = None
                         ) -> tuple[list[Entry], list[RuleError], list[RuleError]]:
    """Parse threshold.config text into entries, errors and warnings."""
    variables = variables or Variables()
    entries: list[Entry] = []
    errors: list[RuleError] = []
    warnings: list[RuleError] = []
    for lr in logical_rules(text):
        directive, _, rest = lr.text.partition(" ")
        directive = directive.rstrip(":")
        col = lr.indent + 1
        if directive not in _KEYS:
            errors.append(RuleError(f"unknown directive {directive!r} (expected threshold, event_filter, "
                                    "suppress or rate_filter)", path=path, line=lr.line, col=col))
            continue
        try:
            entries.append(_entry(directive, rest, path, lr.line, variables))
        except (KeywordError, ExprError) as e:
            errors.append(RuleError(f"{directive}: {e.message}", path=path, line=lr.line, col=col,
                                    keyword=directive))
    return entries, errors, warnings


def _entry(directive: str, rest: str, path: str, line: int, variables: Variables) -> Entry:
    allowed = _KEYS[directive]
    fields: dict[str, str] = {}
    for key, value in _fields(rest):
        if key not in allowed:
            raise KeywordError(f"unknown field {key!r} (expected {', '.join(allowed)})")
        if key in fields:
            raise KeywordError(f"field {key!r} given twice")
        fields[key] = value
    for key in ("gen_id", "sig_id"):
        if key not in fields:
            raise KeywordError(f"missing {key}")
    gid = parse_uint(fields.pop("gen_id"), "gen_id")
    sid = parse_uint(fields.pop("sig_id"), "sig_id")
    if gid == 0 and sid != 0:
        raise KeywordError("gen_id 0 (all generators) requires sig_id 0")
    source = f"{path}:{line}"
    if directive == "suppress":
        track = fields.get("track")
        ip_text = fields.get("ip")
        if (track is None) != (ip_text is None):
            raise KeywordError("track and ip must be given together")
        ip: AddressSet | None = None
        if track is not None and ip_text is not None:
            if track not in _SUPPRESS_TRACKS:
                raise KeywordError(f"track {track!r} must be one of {', '.join(_SUPPRESS_TRACKS)}")
            try:
                ip = parse_addresses(ip_text, variables)
            except ExprError as e:
                raise KeywordError(f"{e.message} in ip {ip_text!r}") from None
        sup = Suppression(track, ip, source)  # type: ignore[arg-type]
        return SuppressEntry(gid, sid, sup, path, line)
    if directive == "rate_filter":
        missing = [k for k in ("track", "count", "seconds", "new_action", "timeout") if k not in fields]
        if missing:
            raise KeywordError(f"missing {', '.join(missing)}")
        if fields["track"] not in RATE_TRACKS:
            raise KeywordError(f"track {fields['track']!r} must be one of {', '.join(RATE_TRACKS)}")
        if fields["new_action"] not in RATE_ACTIONS:
            raise KeywordError(f"new_action {fields['new_action']!r} must be one of {', '.join(RATE_ACTIONS)}"
                               + (" (Suricata parses it but does not implement it)"
                                  if fields["new_action"] in ("sdrop", "log") else ""))
        rf = RateFilter(fields["track"], parse_uint(fields["count"], "count", 1),  # type: ignore[arg-type]
                        parse_uint(fields["seconds"], "seconds", 1), fields["new_action"],  # type: ignore[arg-type]
                        parse_uint(fields["timeout"], "timeout", 1), source)
        return RateFilterEntry(gid, sid, rf, path, line)
    if fields.get("type") is not None and fields["type"] not in TYPES:
        raise KeywordError(f"type {fields['type']!r} must be one of {', '.join(TYPES)}")
    kind: Literal["threshold", "event_filter"] = "event_filter" if directive == "event_filter" else "threshold"
    return ThresholdEntry(gid, sid, make_threshold(fields, kind, source), path, line)


def load_threshold(path: str | os.PathLike[str], variables: Variables | None = None
                   ) -> tuple[list[Entry], list[RuleError], list[RuleError]]:
    """Read a threshold.config; an unreadable file is one error."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        return [], [RuleError(f"cannot read threshold file: {e.strerror}", path=str(path), line=0, col=0)], []
    return parse_threshold_text(text, str(path), variables)


def apply_threshold_config(rules: Iterable[Rule], entries: Iterable[Entry]) -> list[RuleError]:
    """Apply entries to rules in place; returns warnings for entries matching no rule."""
    by_id: dict[tuple[int, int], Rule] = {}
    by_gid: dict[int, list[Rule]] = {}
    all_rules = list(rules)
    for r in all_rules:
        by_id[(r.gid, r.sid)] = r
        by_gid.setdefault(r.gid, []).append(r)
    # Rule-level thresholds as loaded: wildcard entries must not override them, and a
    # specific entry must win over a wildcard whatever the line order.
    own = {id(r) for r in all_rules if r.threshold is not None}
    specific: set[int] = set()
    rate_specific: set[int] = set()
    warnings: list[RuleError] = []
    entries = list(entries)
    for e in sorted(entries, key=lambda e: e.sid == 0):
        if e.sid != 0:
            target = by_id.get((e.gid, e.sid))
            if target is None:
                warnings.append(RuleError(f"no loaded rule {e.gid}:{e.sid}; entry ignored", path=e.path,
                                          line=e.line, col=1, severity="warning"))
                continue
            targets = [target]
        else:
            targets = all_rules if e.gid == 0 else by_gid.get(e.gid, [])
        for r in targets:
            if isinstance(e, SuppressEntry):
                r.suppressions.append(e.suppression)
            elif isinstance(e, RateFilterEntry):
                if e.sid != 0:
                    if id(r) in rate_specific:
                        warnings.append(RuleError(f"a second rate_filter for {e.gid}:{e.sid}; entry ignored "
                                                  f"(the first is {r.rate_filter.source})", path=e.path,
                                                  line=e.line, col=1, severity="warning"))
                        continue
                    rate_specific.add(id(r))
                    r.rate_filter = e.rate_filter
                elif id(r) not in rate_specific and r.rate_filter is None:
                    r.rate_filter = e.rate_filter
            elif e.sid != 0:
                r.threshold = e.threshold
                specific.add(id(r))
            elif id(r) not in own and id(r) not in specific:
                r.threshold = e.threshold
    return warnings
