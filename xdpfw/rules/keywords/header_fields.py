"""IP/TCP/ICMP header field keywords (``ttl``, ``flags``, ``itype``...). Recognized,
not supported yet."""
from __future__ import annotations

from xdpfw.rules.keywords.base import doc
from xdpfw.rules.keywords.raw import raw_parse, unsupported

NAMES = ("ttl", "tos", "id", "ipopts", "fragbits", "fragoffset", "ip_proto", "sameip", "flags",
         "tcp.flags", "seq", "ack", "window", "tcp.mss", "itype", "icode", "icmp_id", "icmp_seq",
         "icmpv6.mtu", "ipv4.hdr", "ipv6.hdr", "tcp.hdr", "udp.hdr", "icmpv4.hdr", "icmpv6.hdr")
DESC = "match on IP, TCP and ICMP header fields"
DOC_URL = doc("not-yet-supported")
parse = raw_parse

KEYWORDS = unsupported({
    "ttl": "IP time to live", "tos": "IP type of service", "id": "IP identification",
    "ipopts": "IP options present", "fragbits": "IP fragmentation bits", "fragoffset": "IP fragment offset",
    "ip_proto": "IP protocol number", "sameip": "source equals destination address",
    "flags": "TCP flags", "tcp.flags": "TCP flags", "seq": "TCP sequence number",
    "ack": "TCP acknowledgement number", "window": "TCP window size", "tcp.mss": "TCP MSS option",
    "itype": "ICMP type", "icode": "ICMP code", "icmp_id": "ICMP id", "icmp_seq": "ICMP sequence",
    "icmpv6.mtu": "ICMPv6 MTU", "ipv4.hdr": "raw IPv4 header buffer", "ipv6.hdr": "raw IPv6 header buffer",
    "tcp.hdr": "raw TCP header buffer", "udp.hdr": "raw UDP header buffer",
    "icmpv4.hdr": "raw ICMPv4 header buffer", "icmpv6.hdr": "raw ICMPv6 header buffer",
}, DOC_URL, parse)
