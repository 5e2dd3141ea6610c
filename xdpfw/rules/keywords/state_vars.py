"""Flow/host state beyond flowbits: ``xbits``, ``hostbits``, ``flowint``,
``flowvar``, ``pktvar``. Recognized, not supported yet."""
from __future__ import annotations

from xdpfw.rules.keywords.base import Kind, KeywordSpec, doc
from xdpfw.rules.keywords.raw import raw_parse, raw_row

NAMES = ("xbits", "hostbits", "flowint", "flowvar", "pktvar")
DESC = "flags, counters and strings kept per flow, host or IP pair"
DOC_URL = doc("not-yet-supported")
parse = raw_parse


def _row(name: str, desc: str, supported: bool) -> KeywordSpec:
    return raw_row(name, desc, DOC_URL, supported=supported, kind=Kind.FLOW)


KEYWORDS = (
    _row("xbits", "flags tracked per host or IP pair with expiry", supported=False),
    _row("hostbits", "flags tracked per host", supported=False),
    _row("flowint", "integer counters kept on the flow", supported=False),
    _row("flowvar", "string variables kept on the flow", supported=False),
    _row("pktvar", "string variables kept on the packet", supported=False),
)
