"""``isdataat``: ``[!]n[,relative][,rawbytes]``: is there data at offset n (relative:
n bytes after the previous match)? With ``!``: is there not.

Outside a sticky buffer a relative isdataat belongs to the buffer of the previous
content/pcre (as in Suricata), so ``content:"x"; http_uri; isdataat:!1,relative;`` is
checked on http.uri; with no previous content/pcre it is on the payload (relative to
where a byte_jump left off, or to the start).
"""
from __future__ import annotations

from xdpfw.rules.context import ParseContext
from xdpfw.rules.errors import KeywordError
from xdpfw.rules.keywords.base import Kind, KeywordSpec, doc, is_var_name, parse_uint
from xdpfw.rules.model import PAYLOAD, IntOrVar, IsDataAt

NAMES = ("isdataat",)
DESC = "check that (no) data exists at an offset of the buffer"
DOC_URL = doc("isdataat")


def parse(value: str | None, ctx: ParseContext) -> IsDataAt:
    assert value is not None
    v = value.strip()
    negated = v.startswith("!")
    if negated:
        v = v[1:].strip()
    first, *rest = [a.strip() for a in v.split(",")]
    offset: IntOrVar
    if is_var_name(first) and first in ctx.byte_vars:
        offset = first
    elif is_var_name(first) and ctx.byte_vars:
        raise KeywordError(f"value {first!r} is not an integer or a byte_extract variable of this rule")
    else:
        offset = parse_uint(first, "offset", 0, 65535)
    relative = rawbytes = False
    for opt in rest:
        if opt == "relative" and not relative:
            relative = True
        elif opt == "rawbytes" and not rawbytes:
            rawbytes = True
        else:
            raise KeywordError(f"unexpected option {opt!r} (expected relative or rawbytes)")
    if ctx.buffer != PAYLOAD:
        buffer = ctx.buffer
        ctx.matched()
    elif relative and ctx.last_match is not None:
        buffer = ctx.last_match.buffer
    else:
        buffer = PAYLOAD
    d = IsDataAt(offset, negated=negated, relative=relative, rawbytes=rawbytes, buffer=buffer)
    ctx.rule.isdataat.append(d)
    return d


KEYWORDS = (KeywordSpec("isdataat", DESC, DOC_URL, parse, kind=Kind.PAYLOAD),)
