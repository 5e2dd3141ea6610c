"""``urilen``: match on the length of the HTTP URI, ``n[,raw|norm]`` style."""
from __future__ import annotations

from xdpfw.rules.context import ParseContext
from xdpfw.rules.errors import KeywordError
from xdpfw.rules.keywords.base import Kind, KeywordSpec, doc, parse_int_match
from xdpfw.rules.model import UriLen

NAMES = ("urilen",)
DESC = "match on the length of the HTTP request URI"
DOC_URL = doc("urilen")


def parse(value: str | None, ctx: ParseContext) -> UriLen:
    assert value is not None
    ctx.once()
    num, _, kind = value.partition(",")
    kind = kind.strip()
    if kind not in ("", "raw", "norm"):
        raise KeywordError(f"second argument {kind!r} must be raw or norm")
    u = UriLen(parse_int_match(num, 65535), raw=kind == "raw")
    ctx.rule.urilen = u
    ctx.use_buffer("http.uri.raw" if u.raw else "http.uri")
    return u


KEYWORDS = (KeywordSpec("urilen", DESC, DOC_URL, parse, kind=Kind.PAYLOAD),)
