"""Flow/host state beyond flowbits: ``xbits``, ``hostbits``, ``flowint``,
``flowvar``, ``pktvar``. Recognized, not supported yet."""
from __future__ import annotations

from xdpfw.rules.keywords.base import Kind, doc
from xdpfw.rules.keywords.raw import raw_parse, unsupported

NAMES = ("xbits", "hostbits", "flowint", "flowvar", "pktvar")
DESC = "flags, counters and strings kept per flow, host or IP pair"
DOC_URL = doc("not-yet-supported")
parse = raw_parse

KEYWORDS = unsupported({
    "xbits": "flags tracked per host or IP pair with expiry",
    "hostbits": "flags tracked per host",
    "flowint": "integer counters kept on the flow",
    "flowvar": "string variables kept on the flow",
    "pktvar": "string variables kept on the packet",
}, DOC_URL, parse, Kind.FLOW)
