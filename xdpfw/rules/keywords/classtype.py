"""``classtype``: the rule's class from classification.config (sets its priority)."""
from __future__ import annotations

from xdpfw.rules.context import ParseContext
from xdpfw.rules.errors import KeywordError
from xdpfw.rules.keywords.base import Kind, KeywordSpec, doc

NAMES = ("classtype",)
DESC = "classification of the rule; gives the default priority"
DOC_URL = doc("classtype")


def parse(value: str | None, ctx: ParseContext) -> str:
    assert value is not None
    ctx.once()
    name = value.strip()
    cls = ctx.classifications.get(name)
    if cls is None:
        raise KeywordError(f"unknown classtype {name!r} (not in classification.config)")
    ctx.rule.classtype = name
    # An explicit priority keyword wins wherever it appears in the rule.
    if not ctx.explicit_priority:
        ctx.rule.priority = cls.priority
    return name


KEYWORDS = (KeywordSpec("classtype", DESC, DOC_URL, parse, kind=Kind.META),)
