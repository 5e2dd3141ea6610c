"""``reference``: ``type,value`` pointing at external information."""
from __future__ import annotations

from xdpfw.rules.context import ParseContext
from xdpfw.rules.errors import KeywordError
from xdpfw.rules.keywords.base import Kind, KeywordSpec, doc
from xdpfw.rules.model import Reference

NAMES = ("reference",)
DESC = "external reference (cve, url, ...) as type,value"
DOC_URL = doc("reference")


def parse(value: str | None, ctx: ParseContext) -> Reference:
    assert value is not None
    rtype, sep, rvalue = value.partition(",")
    rtype, rvalue = rtype.strip(), rvalue.strip()
    if not sep or not rtype or not rvalue:
        raise KeywordError(f"expected 'type,value', got {value!r}")
    ref = Reference(rtype.lower(), rvalue)
    ctx.rule.references.append(ref)
    return ref


KEYWORDS = (KeywordSpec("reference", DESC, DOC_URL, parse, kind=Kind.META),)
