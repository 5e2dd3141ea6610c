"""``sid``, ``rev``, ``gid``: the rule's identity (gid:sid) and revision."""
from __future__ import annotations

from xdpfw.rules.context import ParseContext
from xdpfw.rules.keywords.base import Kind, KeywordSpec, doc, parse_uint

NAMES = ("sid", "rev", "gid")
DESC = "signature id, revision and generator id"
DOC_URL = doc("sid-rev-gid")


def parse(value: str | None, ctx: ParseContext) -> int:
    assert value is not None
    ctx.once()
    name = ctx.keyword
    # sid 0 is reserved (Suricata refuses it); rev and gid may be any uint32.
    n = parse_uint(value, lo=1 if name == "sid" else 0)
    setattr(ctx.rule, name, n)
    return n


KEYWORDS = (
    KeywordSpec("sid", "signature id, unique per gid (required)", DOC_URL, parse, kind=Kind.META),
    KeywordSpec("rev", "revision of the rule (default 1)", DOC_URL, parse, kind=Kind.META),
    KeywordSpec("gid", "generator id (default 1)", DOC_URL, parse, kind=Kind.META),
)
