"""``metadata``: comma-separated ``key value`` pairs; may appear several times."""
from __future__ import annotations

from xdpfw.rules.context import ParseContext
from xdpfw.rules.keywords.base import Kind, KeywordSpec, doc

NAMES = ("metadata",)
DESC = "free-form key/value pairs carried into the alert"
DOC_URL = doc("metadata")


def parse(value: str | None, ctx: ParseContext) -> list[tuple[str, str]]:
    assert value is not None
    pairs: list[tuple[str, str]] = []
    for entry in value.split(","):
        entry = entry.strip()
        if not entry:
            continue
        key, _, val = entry.partition(" ")
        pairs.append((key, val.strip()))
    ctx.rule.metadata.extend(pairs)
    return pairs


KEYWORDS = (KeywordSpec("metadata", DESC, DOC_URL, parse, kind=Kind.META),)
