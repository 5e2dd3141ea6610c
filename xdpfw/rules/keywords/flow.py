"""``flow``: direction and state of the connection; one per rule.

Options (comma-separated, case-insensitive): ``established``, ``not_established``,
``stateless`` (one of these), ``to_server``/``from_client``, ``to_client``/
``from_server`` (one direction), ``only_stream``/``no_stream``, ``only_frag``/
``no_frag``. Two options of the same group contradict each other and are an error.
"""
from __future__ import annotations

from xdpfw.rules.context import ParseContext
from xdpfw.rules.errors import KeywordError
from xdpfw.rules.keywords.base import Kind, KeywordSpec, doc
from xdpfw.rules.model import Flow

NAMES = ("flow",)
DESC = "match on flow direction and connection state"
DOC_URL = doc("flow")

# option -> (field, stored value)
_OPTIONS = {
    "established": ("state", "established"),
    "not_established": ("state", "not_established"),
    "stateless": ("state", "stateless"),
    "to_server": ("direction", "to_server"),
    "from_client": ("direction", "to_server"),
    "to_client": ("direction", "to_client"),
    "from_server": ("direction", "to_client"),
    "only_stream": ("stream", "only_stream"),
    "no_stream": ("stream", "no_stream"),
    "only_frag": ("frag", "only_frag"),
    "no_frag": ("frag", "no_frag"),
}


def parse(value: str | None, ctx: ParseContext) -> Flow:
    assert value is not None
    ctx.once()
    fields: dict[str, str] = {}
    given: dict[str, str] = {}
    for raw in value.split(","):
        opt = raw.strip().lower()
        if not opt:
            raise KeywordError(f"empty option in {value!r}")
        spec = _OPTIONS.get(opt)
        if spec is None:
            raise KeywordError(f"unknown option {opt!r}")
        field_name, stored = spec
        if field_name in fields:
            prev = given[field_name]
            if fields[field_name] == stored:
                raise KeywordError(f"option {opt!r} repeats {prev!r}")
            raise KeywordError(f"option {opt!r} contradicts {prev!r}")
        fields[field_name] = stored
        given[field_name] = opt
    flow = Flow(**fields)  # type: ignore[arg-type]
    ctx.rule.flow = flow
    return flow


KEYWORDS = (KeywordSpec("flow", DESC, DOC_URL, parse, kind=Kind.FLOW),)
