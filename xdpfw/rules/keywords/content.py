"""``content`` and ``uricontent``: byte patterns, with ``|hex|`` blocks and ``!``.

Inside the quotes, ``|..|`` holds hex bytes (blanks ignored, an even number of digits),
and only ``\\;``, ``\\"``, ``\\\\`` and ``\\:`` are valid escapes (Suricata's set). Text is
taken as the file's bytes (UTF-8 in the file stays UTF-8 in the pattern).
"""
from __future__ import annotations

import re

from xdpfw.rules.context import ParseContext
from xdpfw.rules.errors import KeywordError
from xdpfw.rules.keywords.base import Kind, KeywordSpec, doc
from xdpfw.rules.lexer import unquote
from xdpfw.rules.model import PAYLOAD, Content

NAMES = ("content", "uricontent")
DESC = "match a byte pattern in the current buffer"
DOC_URL = doc("content")

_TOKEN = re.compile(r"\|([^|]*)\||\\(.)|([^|\\\"]+)|(.)", re.S)
_HEX = re.compile(r"[0-9A-Fa-f\s]*")
_ESCAPABLE = ';":\\'


def decode_pattern(text: str) -> bytes:
    """The bytes a content string stands for."""
    out = bytearray()
    for m in _TOKEN.finditer(text):
        hexpart, esc, plain, other = m.groups()
        if plain is not None:
            out += plain.encode("utf-8", "surrogateescape")
        elif hexpart is not None:
            if not _HEX.fullmatch(hexpart):
                bad = next(ch for ch in hexpart if not (ch.isspace() or ch in "0123456789abcdefABCDEF"))
                raise KeywordError(f"invalid character {bad!r} in hex block |{hexpart}|", m.start())
            digits = "".join(hexpart.split())
            if len(digits) % 2:
                raise KeywordError(f"odd number of hex digits in |{hexpart}|", m.start())
            out += bytes.fromhex(digits)
        elif esc is not None:
            if esc not in _ESCAPABLE:
                raise KeywordError(f"invalid escape '\\{esc}' (only \\; \\\" \\\\ \\: are allowed)", m.start())
            out += esc.encode("utf-8", "surrogateescape")
        elif other == "|":
            raise KeywordError("unterminated hex block (odd number of '|')", m.start())
        elif other == '"':
            raise KeywordError("unescaped double quote inside the pattern", m.start())
        else:
            raise KeywordError("trailing backslash", m.start())
    return bytes(out)


def parse_negated_string(value: str) -> tuple[bool, str, int]:
    """Split ``[!]"..."`` into (negated, inner text, offset of the inner text)."""
    v = value
    negated = False
    off = 0
    if v.startswith("!"):
        negated = True
        stripped = v[1:].lstrip()
        off = len(v) - len(stripped)
        v = stripped
    try:
        inner, q = unquote(v)
    except KeywordError as e:
        raise KeywordError(e.message, off) from None
    return negated, inner, off + q


def parse(value: str | None, ctx: ParseContext) -> Content:
    assert value is not None
    negated, inner, off = parse_negated_string(value)
    try:
        pattern = decode_pattern(inner)
    except KeywordError as e:
        raise KeywordError(e.message, off + e.offset) from None
    if not pattern:
        raise KeywordError("empty pattern")
    if ctx.keyword == "uricontent":
        if ctx.buffer != PAYLOAD:
            raise KeywordError(f"cannot be used while sticky buffer '{ctx.sticky_keyword}' is active "
                               "(reset it with pkt_data first)")
        buffer, legacy = "http.uri", "uricontent"
    else:
        buffer, legacy = ctx.buffer, None
    c = Content(pattern, negated=negated, buffer=buffer, legacy_modifier=legacy,
                transforms=ctx.transforms, col=ctx.col)
    ctx.use_buffer(buffer)
    if buffer == ctx.buffer and buffer != PAYLOAD:
        ctx.matched()
        ctx.sticky_items.append(c)
    ctx.rule.contents.append(c)
    ctx.last_content = c
    ctx.last_match = c
    return c


KEYWORDS = (
    KeywordSpec("content", "match a byte pattern in the current buffer", DOC_URL, parse, kind=Kind.PAYLOAD),
    KeywordSpec("uricontent", "content on the normalized HTTP URI (legacy; = content + http_uri)",
                DOC_URL, parse, kind=Kind.PAYLOAD),
)
