"""Helpers for keywords that are recognized but not interpreted yet.

Their value is kept verbatim (:class:`RawOption`) so the rule round-trips and the name
is known; the rule is skipped while the keyword's row says ``supported=False``.
"""
from __future__ import annotations

from xdpfw.rules.context import ParseContext
from xdpfw.rules.keywords.base import Kind, KeywordSpec, ParseFn, Value
from xdpfw.rules.model import PAYLOAD, RawOption


def raw_parse(value: str | None, ctx: ParseContext) -> RawOption:
    """Keep the value; count it as a match of the sticky buffer so a rule like
    ``http.uri; byte_test:...`` is skipped for byte_test rather than failing."""
    if ctx.buffer != PAYLOAD:
        ctx.matched()
    return RawOption(value)


def raw_row(name: str, desc: str, doc_url: str, *, supported: bool, parse: ParseFn = raw_parse,
            kind: Kind = Kind.OTHER) -> KeywordSpec:
    """A registry row for a keyword whose value is kept raw (any value accepted)."""
    return KeywordSpec(name, desc, doc_url, parse, supported=supported, kind=kind, value=Value.OPTIONAL)
