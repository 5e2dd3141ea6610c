"""``noalert``: the rule matches (and sets flowbits) but never alerts."""
from __future__ import annotations

from xdpfw.rules.context import ParseContext
from xdpfw.rules.keywords.base import Kind, KeywordSpec, Value, doc

NAMES = ("noalert",)
DESC = "match without alerting (same as flowbits:noalert)"
DOC_URL = doc("flowbits")


def parse(value: str | None, ctx: ParseContext) -> None:
    ctx.rule.noalert = True
    return None


KEYWORDS = (KeywordSpec("noalert", DESC, DOC_URL, parse, kind=Kind.FLOW, value=Value.NONE),)
