"""``bsize``: match on the length of the current sticky buffer.

It must follow a sticky buffer, once per buffer. A content in the same buffer that is
longer than the largest size bsize allows can never match, which is an error.
"""
from __future__ import annotations

from xdpfw.rules.context import ParseContext
from xdpfw.rules.errors import KeywordError
from xdpfw.rules.keywords.base import Kind, KeywordSpec, doc, parse_int_match
from xdpfw.rules.model import PAYLOAD, Bsize

NAMES = ("bsize",)
DESC = "match on the length of the sticky buffer"
DOC_URL = doc("bsize")


def parse(value: str | None, ctx: ParseContext) -> Bsize:
    assert value is not None
    if ctx.buffer == PAYLOAD:
        raise KeywordError("must follow a sticky buffer")
    if any(b.buffer == ctx.buffer for b in ctx.rule.bsize):
        raise KeywordError(f"given more than once for buffer '{ctx.buffer}'")
    b = Bsize(parse_int_match(value, 2**64 - 1), ctx.buffer)
    ctx.rule.bsize.append(b)
    ctx.matched()
    return b


KEYWORDS = (KeywordSpec("bsize", DESC, DOC_URL, parse, kind=Kind.PAYLOAD),)
