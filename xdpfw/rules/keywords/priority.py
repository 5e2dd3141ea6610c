"""``priority``: 1 (highest) to 255; overrides the classtype's priority."""
from __future__ import annotations

from xdpfw.rules.context import ParseContext
from xdpfw.rules.keywords.base import Kind, KeywordSpec, doc, parse_uint

NAMES = ("priority",)
DESC = "alert priority, 1 is the highest; overrides classtype"
DOC_URL = doc("priority")


def parse(value: str | None, ctx: ParseContext) -> int:
    assert value is not None
    ctx.once()
    n = parse_uint(value, lo=1, hi=255)
    ctx.rule.priority = n
    ctx.explicit_priority = True
    return n


KEYWORDS = (KeywordSpec("priority", DESC, DOC_URL, parse, kind=Kind.META),)
