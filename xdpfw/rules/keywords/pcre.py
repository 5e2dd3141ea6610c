"""``pcre``: ``[!]"/regex/flags[, scope:name,...]"``.

Flags: PCRE options ``i s m x A E G``; Suricata/Snort ``R`` (relative to the previous
match in the same buffer), ``B`` (rawbytes, no effect), ``O`` (override the match
limit); and buffer selectors ``U I P Q H D M C K S Y V W Z`` (see :data:`FLAG_BUFFERS`).
A buffer flag may not name another buffer than an active sticky buffer (naming the
same one is redundant and accepted), nor be combined with ``B``; only one may be
given. With ``W`` (http.host, a lower-case buffer) the regex may contain no upper-case
letter unless ``i`` is given.

The regex is kept as written and not compiled: PCRE syntax is wider than Python's
``re``, and the matcher's compiler (Hyperscan) is the authority. It can reject
patterns at load time by installing a validator with :func:`set_pcre_validator`.
"""
from __future__ import annotations

import re
from typing import Callable

from xdpfw.rules.context import ParseContext
from xdpfw.rules.errors import KeywordError
from xdpfw.rules.keywords.base import Kind, KeywordSpec, doc
from xdpfw.rules.keywords.buffers import BY_NAME as BUFFERS
from xdpfw.rules.keywords.content import parse_negated_string
from xdpfw.rules.model import PAYLOAD, Pcre

NAMES = ("pcre",)
DESC = "match a Perl-compatible regular expression"
DOC_URL = doc("pcre")

#: Buffer selected by each buffer flag. ``K`` is Snort's raw cookie; Suricata has a
#: single cookie buffer, so it maps to http.cookie.
FLAG_BUFFERS: dict[str, str] = {
    "U": "http.uri", "I": "http.uri.raw", "P": "http.request_body", "Q": "http.response_body",
    "H": "http.header", "D": "http.header.raw", "M": "http.method", "C": "http.cookie",
    "K": "http.cookie", "S": "http.stat_code", "Y": "http.stat_msg", "V": "http.user_agent",
    "W": "http.host", "Z": "http.host.raw",
}
_OPTION_FLAGS = {"i": "caseless", "s": "dotall", "m": "multiline", "x": "extended",
                 "A": "anchored", "E": "dollar_endonly", "G": "ungreedy", "R": "relative",
                 "B": "rawbytes", "O": "match_limit_override"}
# Before Suricata 5, file_data on HTTP was the response body, so /Q inside file_data
# was redundant rather than conflicting; ET's Suricata 4 rules rely on it.
_SAME_AS_STICKY = {("Q", "file.data")}
_SUFFIX = re.compile(r"([^\s,/\"]*)\s*(?:,(.*))?", re.S)
_CAPTURE = re.compile(r"(pkt|flow|alert):(\S+)")

PcreValidator = Callable[[Pcre], "str | None"]
_validator: PcreValidator | None = None


def set_pcre_validator(fn: PcreValidator | None) -> None:
    """Install (or remove, with None) a check run on every parsed pcre.

    It returns None when the pattern is acceptable, else a message that makes the
    rule fail with ``keyword 'pcre': <message>``. The matcher compiler uses this to
    reject what it cannot compile before any rule is swapped in.
    """
    global _validator
    _validator = fn


def split_regex(text: str) -> tuple[str, str, str | None]:
    """Split ``/regex/flags[, captures]`` into its three parts.

    The closing delimiter is the first unescaped ``/`` whose remainder is a valid
    flag string, optionally followed by ``,`` and capture names, so ``/`` inside the
    regex or inside capture names is handled.
    """
    if not text.startswith("/"):
        raise KeywordError("regex must start with '/'")
    i, n = 1, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "/":
            m = _SUFFIX.fullmatch(text, i + 1)
            if m and (m.group(2) is None or _looks_like_captures(m.group(2))):
                return text[1:i], m.group(1), m.group(2)
        i += 1
    raise KeywordError("regex is not closed by '/' followed by flags")


def _looks_like_captures(text: str) -> bool:
    return all(_CAPTURE.fullmatch(p.strip()) for p in text.split(","))


def parse(value: str | None, ctx: ParseContext) -> Pcre:
    assert value is not None
    negated, inner, off = parse_negated_string(value)
    try:
        regex, flags, captures = split_regex(inner)
    except KeywordError as e:
        raise KeywordError(e.message, off) from None
    if not regex:
        raise KeywordError("empty regex")
    p = Pcre(regex, flags, negated=negated, col=ctx.col)
    for f in flags:
        attr = _OPTION_FLAGS.get(f)
        if attr is not None:
            if getattr(p, attr):
                raise KeywordError(f"flag {f!r} given twice")
            setattr(p, attr, True)
        elif f in FLAG_BUFFERS:
            if p.buffer_flag is not None:
                raise KeywordError(f"flags {p.buffer_flag!r} and {f!r} both select a buffer; only one may")
            p.buffer_flag = f
        else:
            raise KeywordError(f"unknown flag {f!r}")
    if captures is not None:
        p.captures = tuple((m.group(1), m.group(2)) for m in
                           (_CAPTURE.fullmatch(c.strip()) for c in captures.split(",")) if m)
    if p.buffer_flag is not None:
        if p.rawbytes:
            raise KeywordError(f"flag {p.buffer_flag!r} is inconsistent with 'B' (rawbytes)")
        flag_buffer = FLAG_BUFFERS[p.buffer_flag]
        if ctx.sticky_keyword is not None:
            # Redundant with the sticky buffer is fine (Suricata accepts it); another is not.
            if flag_buffer != ctx.buffer and (p.buffer_flag, ctx.buffer) not in _SAME_AS_STICKY:
                raise KeywordError(f"buffer flag {p.buffer_flag!r} ({flag_buffer}) cannot be used while "
                                   f"sticky buffer '{ctx.sticky_keyword}' is active")
            flag_buffer = ctx.buffer
            p.transforms = ctx.transforms
            ctx.matched()
            ctx.sticky_items.append(p)
        else:
            buf = BUFFERS[flag_buffer]
            if not buf.supported:
                # Skip under the buffer's name: what the engine lacks is that buffer.
                ctx.unsupported.append(buf.name)
        p.buffer = flag_buffer
        if p.buffer_flag == "W" and not p.caseless and any(ch.isupper() for ch in regex):
            raise KeywordError("flag 'W' (http.host is lower-case) needs an all lower-case regex or 'i'")
    else:
        p.buffer = ctx.buffer
        p.transforms = ctx.transforms
        if ctx.buffer != PAYLOAD:
            ctx.matched()
            ctx.sticky_items.append(p)
    if p.relative and ctx.buffer == PAYLOAD and not _has_previous(ctx, p.buffer):
        # Inside a sticky buffer R may anchor at the buffer start; elsewhere it needs a match.
        raise KeywordError("flag 'R' needs a preceding content or pcre in the same buffer")
    if _validator is not None:
        problem = _validator(p)
        if problem:
            raise KeywordError(problem, off)
    ctx.use_buffer(p.buffer)
    ctx.rule.pcres.append(p)
    ctx.last_match = p
    return p


def _has_previous(ctx: ParseContext, buffer: str) -> bool:
    return any(c.buffer == buffer for c in ctx.rule.contents) or \
        any(p.buffer == buffer for p in ctx.rule.pcres)


KEYWORDS = (KeywordSpec("pcre", DESC, DOC_URL, parse, kind=Kind.PAYLOAD),)
