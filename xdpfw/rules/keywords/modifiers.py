"""Content modifiers: ``nocase``, ``offset``, ``depth``, ``distance``, ``within``,
``startswith``, ``endswith``, ``rawbytes``.

Each applies to the most recent ``content`` and is validated as Suricata does:
absolute (offset/depth) and relative (distance/within) positions do not mix on one
content, ``startswith`` excludes all four, each modifier is given at most once,
``depth`` and ``within`` may not be shorter than the pattern, and a content with
``fast_pattern:only`` takes no position modifier. Values may name a ``byte_extract``
variable instead of a number.
"""
from __future__ import annotations

from xdpfw.rules.context import ParseContext
from xdpfw.rules.errors import KeywordError
from xdpfw.rules.keywords.base import Kind, KeywordSpec, Value, doc, is_var_name, parse_int
from xdpfw.rules.model import PAYLOAD, Content, IntOrVar

NAMES = ("nocase", "offset", "depth", "distance", "within", "startswith", "endswith", "rawbytes")
DESC = "modify where and how the preceding content matches"
DOC_URL = doc("content-modifiers")

# Suricata: distance/within are limited to 1 MiB either way; offset/depth are uint16.
MAX_RELATIVE = 1 << 20
MAX_ABSOLUTE = 65535


def _number(value: str, ctx: ParseContext, lo: int, hi: int) -> IntOrVar:
    v = value.strip()
    if is_var_name(v):
        if v in ctx.byte_vars:
            return v
        if ctx.byte_vars:
            raise KeywordError(f"value {v!r} is not an integer or a byte_extract variable of this rule")
    return parse_int(v, lo, hi)


def check_position(c: Content, new: str) -> None:
    """Raise if adding modifier ``new`` to ``c`` conflicts with what it has."""
    current = getattr(c, new)
    if current is not None and current is not False:
        raise KeywordError("given more than once for the same content")
    if c.startswith and new in ("offset", "depth", "distance", "within"):
        raise KeywordError("cannot be combined with 'startswith' on the same content")
    absolute = new in ("offset", "depth")
    if absolute and c.relative:
        raise KeywordError("absolute position cannot be mixed with 'distance'/'within' on the same content")
    if not absolute and new != "startswith" and (c.offset is not None or c.depth is not None):
        raise KeywordError("relative position cannot be mixed with 'offset'/'depth' on the same content")
    if new == "startswith" and (c.offset is not None or c.depth is not None or c.relative):
        raise KeywordError("cannot be combined with offset/depth/distance/within on the same content")
    fp = c.fast_pattern
    if fp is not None and fp.only:
        raise KeywordError("cannot be used on a content with 'fast_pattern:only'")
    if fp is not None and c.negated:
        raise KeywordError("a negated content with 'fast_pattern' cannot take position modifiers")


def parse(value: str | None, ctx: ParseContext) -> None:
    name = ctx.keyword
    c = ctx.require_content()
    if name == "nocase":
        if c.nocase:
            raise KeywordError("given more than once for the same content")
        c.nocase = True
    elif name == "rawbytes":
        # No effect (Snort compatibility), but meaningless on a normalized buffer.
        if c.buffer != PAYLOAD:
            raise KeywordError(f"cannot be used on a content in buffer '{c.buffer}'")
        c.rawbytes = True
    elif name == "endswith":
        if c.endswith:
            raise KeywordError("given more than once for the same content")
        c.endswith = True
    else:
        check_position(c, name)
        if name == "startswith":
            c.startswith = True
            return None
        assert value is not None
        n = len(c.pattern)
        if name == "offset":
            c.offset = _number(value, ctx, 0, MAX_ABSOLUTE)
        elif name == "depth":
            d = _number(value, ctx, 0, MAX_ABSOLUTE)
            if isinstance(d, int) and d < n:
                raise KeywordError(f"depth {d} is smaller than the pattern length {n}")
            c.depth = d
        elif name == "distance":
            c.distance = _number(value, ctx, -MAX_RELATIVE, MAX_RELATIVE)
        else:
            w = _number(value, ctx, -MAX_RELATIVE, MAX_RELATIVE)
            if isinstance(w, int):
                if w == 0:
                    raise KeywordError("within cannot be 0")
                if w < n:
                    raise KeywordError(f"within {w} is smaller than the pattern length {n}")
            c.within = w
    return None


def _spec(name: str, desc: str, value: Value) -> KeywordSpec:
    return KeywordSpec(name, desc, DOC_URL, parse, kind=Kind.PAYLOAD, value=value)


KEYWORDS = (
    _spec("nocase", "match the preceding content case-insensitively", Value.NONE),
    _spec("offset", "start looking at this byte of the buffer", Value.REQUIRED),
    _spec("depth", "look only this many bytes from the offset", Value.REQUIRED),
    _spec("distance", "start this many bytes after the previous match", Value.REQUIRED),
    _spec("within", "match within this many bytes after the previous match", Value.REQUIRED),
    _spec("startswith", "content must be at the start of the buffer", Value.NONE),
    _spec("endswith", "content must be at the end of the buffer", Value.NONE),
    _spec("rawbytes", "no effect; accepted for Snort compatibility", Value.NONE),
)
