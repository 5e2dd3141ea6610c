"""``fast_pattern``: choose the content used for prefiltering.

Forms: ``fast_pattern`` (this whole content), ``fast_pattern:only`` (the content is
checked by the prefilter alone) and ``fast_pattern:offset,length`` (a slice of it).
One content per rule may carry it.
"""
from __future__ import annotations

from xdpfw.rules.context import ParseContext
from xdpfw.rules.errors import KeywordError
from xdpfw.rules.keywords.base import Kind, KeywordSpec, Value, doc, parse_uint
from xdpfw.rules.model import FastPattern

NAMES = ("fast_pattern",)
DESC = "use the preceding content (or a slice of it) for prefiltering"
DOC_URL = doc("fast_pattern")


def parse(value: str | None, ctx: ParseContext) -> FastPattern:
    c = ctx.require_content()
    if c.fast_pattern is not None:
        raise KeywordError("given more than once for the same content")
    has_position = c.offset is not None or c.depth is not None or c.relative
    if value is None:
        fp = FastPattern()
    elif value.strip() == "only":
        if c.negated:
            raise KeywordError("'fast_pattern:only' cannot be used on a negated content")
        if has_position:
            raise KeywordError("'fast_pattern:only' cannot be used on a content with offset/depth/distance/within")
        fp = FastPattern(only=True)
    else:
        off_s, sep, len_s = value.partition(",")
        if not sep:
            raise KeywordError(f"value {value!r} must be 'only' or 'offset,length'")
        off = parse_uint(off_s, "offset", 0, 65535)
        length = parse_uint(len_s, "length", 1, 65535)
        if off + length > len(c.pattern):
            raise KeywordError(f"slice {off},{length} exceeds the pattern length {len(c.pattern)}")
        fp = FastPattern(offset=off, length=length)
    if c.negated and has_position:
        raise KeywordError("a negated content with offset/depth/distance/within cannot be the fast pattern")
    if any(o.fast_pattern is not None for o in ctx.rule.contents if o is not c):
        raise KeywordError("only one content per rule may be the fast pattern")
    c.fast_pattern = fp
    return fp


KEYWORDS = (KeywordSpec("fast_pattern", DESC, DOC_URL, parse, kind=Kind.PAYLOAD, value=Value.OPTIONAL),)
