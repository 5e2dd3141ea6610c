"""``byte_test``, ``byte_jump``, ``byte_extract``, ``byte_math``: numeric fields read
from the payload. Recognized, not supported yet.

``byte_extract`` and ``byte_math`` define variables that offset/depth/distance/within/
isdataat may name; those names are recorded so such references are not errors.
"""
from __future__ import annotations

from xdpfw.rules.context import ParseContext
from xdpfw.rules.keywords.base import Kind, KeywordSpec, doc
from xdpfw.rules.keywords.raw import raw_parse, raw_row
from xdpfw.rules.model import RawOption

NAMES = ("byte_test", "byte_jump", "byte_extract", "byte_math")
DESC = "read numeric fields from the payload and test, skip or store them"
DOC_URL = doc("not-yet-supported")


def parse(value: str | None, ctx: ParseContext) -> RawOption:
    if value:
        args = [a.strip() for a in value.split(",")]
        if ctx.keyword == "byte_extract" and len(args) >= 3:
            ctx.byte_vars.add(args[2])
        elif ctx.keyword == "byte_math":
            for a in args:
                key, _, name = a.partition(" ")
                if key == "result" and name.strip():
                    ctx.byte_vars.add(name.strip())
    return raw_parse(value, ctx)


def _row(name: str, desc: str, supported: bool) -> KeywordSpec:
    return raw_row(name, desc, DOC_URL, supported=supported, parse=parse, kind=Kind.PAYLOAD)


KEYWORDS = (
    _row("byte_test", "compare bytes of the payload with a value", supported=False),
    _row("byte_jump", "move the detection pointer by a value read from the payload", supported=False),
    _row("byte_extract", "store bytes of the payload in a variable", supported=False),
    _row("byte_math", "compute with bytes of the payload", supported=False),
)
