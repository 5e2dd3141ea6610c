"""``decode-event`` and ``app-layer-event``: the rule matches a packet on which the L2-L4
decoder (``decode-event:ipv4.hlen_too_small``) or an application decoder
(``app-layer-event:http.request_field_missing_colon``) reported that event. The names are
the labels of the decoders' event tables (xdpfw/_fast/xdpfw_pkt.h, xdpfw_app_<proto>.h),
Suricata's where Suricata has the event; an unknown name is an error naming it."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from xdpfw.applayer import DECODERS
from xdpfw.cheader import CHeader
from xdpfw.rules.context import ParseContext
from xdpfw.rules.errors import KeywordError
from xdpfw.rules.keywords.base import Kind, KeywordSpec, Value, doc

NAMES = ("decode-event", "app-layer-event")
DESC = "match a decoder event on the packet"
DOC_URL = doc("decode-event")
_FAST = Path(__file__).resolve().parents[2] / "_fast"


@lru_cache(maxsize=None)
def decode_events() -> tuple[str, ...]:
    return tuple(label for _, label in CHeader(_FAST / "xdpfw_pkt.h").xmacro("XDPFW_DECODE_EVENTS"))


@lru_cache(maxsize=None)
def app_events(proto: str) -> tuple[str, ...]:
    # each decoder's header xdpfw_app_<proto>.h has its table XDPFW_<PROTO>_EVENTS
    table = f"XDPFW_{proto.upper()}_EVENTS"
    return tuple(label for _, label in CHeader(_FAST / f"xdpfw_app_{proto}.h").xmacro(table))


def parse(value: str | None, ctx: ParseContext) -> str:
    name = (value or "").strip()
    if ctx.keyword == "decode-event":
        if name not in decode_events():
            raise KeywordError(f"unknown decode event {name!r} (xdpfw_pkt.h lists them)")
        ctx.rule.events.append(("decode", name))
        return name
    proto = name.split(".", 1)[0]
    if proto not in DECODERS or name not in app_events(proto):
        raise KeywordError(f"unknown application-layer event {name!r} (xdpfw_app_<proto>.h lists them)")
    ctx.rule.events.append((proto, name))
    return name


KEYWORDS = (
    KeywordSpec("decode-event", "an L2-L4 decoder event on the packet", DOC_URL, parse, kind=Kind.OTHER,
                value=Value.REQUIRED),
    KeywordSpec("app-layer-event", "an application decoder event on the packet", DOC_URL, parse,
                kind=Kind.OTHER, value=Value.REQUIRED),
)
