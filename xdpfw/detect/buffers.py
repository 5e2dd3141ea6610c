"""Buffers: what a rule inspects on one buffer besides its matches (the length checks the
engine applies itself) and the transforms its matches carry."""
from __future__ import annotations

from typing import Sequence

from xdpfw.detect.results import EngineCheck
from xdpfw.rules.model import Bsize, Content, Match, Pcre, Rule


def transforms_of(matches: Sequence[Match]) -> tuple[str, ...]:
    """The transforms of a rule's matches on one buffer (those of its first content/pcre)."""
    return next((m.transforms for m in matches if isinstance(m, (Content, Pcre))), ())


def checks(rule: Rule, buffer: str) -> list[EngineCheck]:
    out: list[EngineCheck] = []
    if rule.dsize is not None:
        out.append(EngineCheck("dsize", rule.dsize, "packet payload length"))
    for b in rule.bsize:
        if isinstance(b, Bsize) and b.buffer == buffer:
            out.append(EngineCheck("bsize", b.match, f"length of {buffer}"))
    if rule.urilen is not None and buffer in ("http.uri", "http.uri.raw"):
        out.append(EngineCheck("urilen", rule.urilen.match,
                               "length of the " + ("raw" if rule.urilen.raw else "normalized") + " URI"))
    return out
