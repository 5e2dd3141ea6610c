"""``dsize``: match on the payload size of the packet (``n``, ``<n``, ``>n``, ``!n``,
``lo<>hi``); at most one per rule."""
from __future__ import annotations

from xdpfw.rules.context import ParseContext
from xdpfw.rules.keywords.base import Kind, KeywordSpec, doc, parse_int_match
from xdpfw.rules.model import IntMatch

NAMES = ("dsize",)
DESC = "match on the packet payload size"
DOC_URL = doc("dsize")


def parse(value: str | None, ctx: ParseContext) -> IntMatch:
    assert value is not None
    ctx.once()
    m = parse_int_match(value, 65535)
    ctx.rule.dsize = m
    return m


KEYWORDS = (KeywordSpec("dsize", DESC, DOC_URL, parse, kind=Kind.PAYLOAD),)
