"""``msg``: the alert message."""
from __future__ import annotations

from xdpfw.rules.context import ParseContext
from xdpfw.rules.keywords.base import Kind, KeywordSpec, doc
from xdpfw.rules.lexer import unescape, unquote

NAMES = ("msg",)
DESC = "message printed with the alert"
DOC_URL = doc("msg")


def parse(value: str | None, ctx: ParseContext) -> str:
    assert value is not None
    ctx.once()
    # Suricata accepts an unquoted msg; any escaped character stands for itself.
    text, _ = unquote(value, required=False)
    msg = unescape(text)
    ctx.rule.msg = msg
    return msg


KEYWORDS = (KeywordSpec("msg", DESC, DOC_URL, parse, kind=Kind.META),)
