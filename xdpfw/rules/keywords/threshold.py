"""``threshold`` and ``detection_filter``: limit how often a rule alerts.

``threshold: type limit|threshold|both, track by_src|by_dst|by_rule|by_both|by_flow,
count N, seconds T`` (any order, all four required). ``detection_filter`` takes the
same without ``type`` and alerts only from the Nth hit within T seconds on. A rule has
at most one of them; threshold.config entries may replace it later.
"""
from __future__ import annotations

from typing import Literal

from xdpfw.rules.context import ParseContext
from xdpfw.rules.errors import KeywordError
from xdpfw.rules.keywords.base import Kind, KeywordSpec, doc, parse_uint
from xdpfw.rules.model import Threshold

NAMES = ("threshold", "detection_filter")
DESC = "limit or require repeated matches before alerting"
DOC_URL = doc("threshold")

TYPES = ("limit", "threshold", "both")
TRACKS = ("by_src", "by_dst", "by_rule", "by_both", "by_flow")


def parse_fields(text: str, allowed: tuple[str, ...]) -> dict[str, str]:
    """``key value`` pairs separated by commas; each allowed key at most once."""
    out: dict[str, str] = {}
    for part in text.split(","):
        words = part.split()
        if not words:
            raise KeywordError(f"empty field in {text.strip()!r}")
        if len(words) != 2:
            raise KeywordError(f"field {part.strip()!r} is not 'name value'")
        key, val = words
        if key not in allowed:
            raise KeywordError(f"unknown field {key!r} (expected {', '.join(allowed)})")
        if key in out:
            raise KeywordError(f"field {key!r} given twice")
        out[key] = val
    return out


def make_threshold(fields: dict[str, str], keyword: Literal["threshold", "detection_filter", "event_filter"],
                   source: str = "rule") -> Threshold:
    """Validate parsed fields into a :class:`Threshold` (shared with threshold.config)."""
    needed = ("track", "count", "seconds") + (() if keyword == "detection_filter" else ("type",))
    missing = [k for k in needed if k not in fields]
    if missing:
        raise KeywordError(f"missing {', '.join(missing)}")
    ttype = fields.get("type")
    if ttype is not None and ttype not in TYPES:
        raise KeywordError(f"type {ttype!r} must be one of {', '.join(TYPES)}")
    track = fields["track"]
    if track not in TRACKS:
        raise KeywordError(f"track {track!r} must be one of {', '.join(TRACKS)}")
    count = parse_uint(fields["count"], "count", 1)
    seconds = parse_uint(fields["seconds"], "seconds", 1)
    return Threshold(keyword, ttype, track, count, seconds, source)  # type: ignore[arg-type]


def parse(value: str | None, ctx: ParseContext) -> Threshold:
    assert value is not None
    if ctx.rule.threshold is not None:
        prev = ctx.rule.threshold.keyword
        raise KeywordError("only one threshold or detection_filter per rule" +
                           (f" (already has '{prev}')" if prev != ctx.keyword else ""))
    keyword: Literal["threshold", "detection_filter"] = \
        "detection_filter" if ctx.keyword == "detection_filter" else "threshold"
    allowed = ("track", "count", "seconds") + (("type",) if keyword == "threshold" else ())
    t = make_threshold(parse_fields(value, allowed), keyword)
    ctx.rule.threshold = t
    return t


KEYWORDS = (
    KeywordSpec("threshold", "alert at most / only every N hits per period", DOC_URL, parse,
                kind=Kind.THRESHOLD),
    KeywordSpec("detection_filter", "alert only after N hits within a period", DOC_URL, parse,
                kind=Kind.THRESHOLD),
)
