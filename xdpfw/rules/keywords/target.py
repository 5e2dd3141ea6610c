"""``target``: which side of the alert is the target (``src_ip`` or ``dest_ip``)."""
from __future__ import annotations

from typing import Literal

from xdpfw.rules.context import ParseContext
from xdpfw.rules.errors import KeywordError
from xdpfw.rules.keywords.base import Kind, KeywordSpec, doc

NAMES = ("target",)
DESC = "marks src_ip or dest_ip as the target in the alert"
DOC_URL = doc("target")


def parse(value: str | None, ctx: ParseContext) -> str:
    assert value is not None
    ctx.once()
    v = value.strip()
    if v not in ("src_ip", "dest_ip"):
        raise KeywordError(f"value {v!r} must be src_ip or dest_ip")
    side: Literal["src_ip", "dest_ip"] = "src_ip" if v == "src_ip" else "dest_ip"
    ctx.rule.target = side
    return side


KEYWORDS = (KeywordSpec("target", DESC, DOC_URL, parse, kind=Kind.META),)
