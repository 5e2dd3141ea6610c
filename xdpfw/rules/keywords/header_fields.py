"""IP/TCP/ICMP header field keywords (``ttl``, ``flags``, ``itype``...). Recognized,
not supported yet."""
from __future__ import annotations

from xdpfw.rules.keywords.base import doc
from xdpfw.rules.keywords.raw import raw_parse, raw_row

NAMES = ("ttl", "tos", "id", "ipopts", "fragbits", "fragoffset", "ip_proto", "sameip", "flags",
         "tcp.flags", "seq", "ack", "window", "tcp.mss", "itype", "icode", "icmp_id", "icmp_seq",
         "icmpv6.mtu", "ipv4.hdr", "ipv6.hdr", "tcp.hdr", "udp.hdr", "icmpv4.hdr", "icmpv6.hdr")
DESC = "match on IP, TCP and ICMP header fields"
DOC_URL = doc("not-yet-supported")
parse = raw_parse

KEYWORDS = (
    raw_row("ttl", "IP time to live", DOC_URL, supported=False),
    raw_row("tos", "IP type of service", DOC_URL, supported=False),
    raw_row("id", "IP identification", DOC_URL, supported=False),
    raw_row("ipopts", "IP options present", DOC_URL, supported=False),
    raw_row("fragbits", "IP fragmentation bits", DOC_URL, supported=False),
    raw_row("fragoffset", "IP fragment offset", DOC_URL, supported=False),
    raw_row("ip_proto", "IP protocol number", DOC_URL, supported=False),
    raw_row("sameip", "source equals destination address", DOC_URL, supported=False),
    raw_row("flags", "TCP flags", DOC_URL, supported=False),
    raw_row("tcp.flags", "TCP flags", DOC_URL, supported=False),
    raw_row("seq", "TCP sequence number", DOC_URL, supported=False),
    raw_row("ack", "TCP acknowledgement number", DOC_URL, supported=False),
    raw_row("window", "TCP window size", DOC_URL, supported=False),
    raw_row("tcp.mss", "TCP MSS option", DOC_URL, supported=False),
    raw_row("itype", "ICMP type", DOC_URL, supported=False),
    raw_row("icode", "ICMP code", DOC_URL, supported=False),
    raw_row("icmp_id", "ICMP id", DOC_URL, supported=False),
    raw_row("icmp_seq", "ICMP sequence", DOC_URL, supported=False),
    raw_row("icmpv6.mtu", "ICMPv6 MTU", DOC_URL, supported=False),
    raw_row("ipv4.hdr", "raw IPv4 header buffer", DOC_URL, supported=False),
    raw_row("ipv6.hdr", "raw IPv6 header buffer", DOC_URL, supported=False),
    raw_row("tcp.hdr", "raw TCP header buffer", DOC_URL, supported=False),
    raw_row("udp.hdr", "raw UDP header buffer", DOC_URL, supported=False),
    raw_row("icmpv4.hdr", "raw ICMPv4 header buffer", DOC_URL, supported=False),
    raw_row("icmpv6.hdr", "raw ICMPv6 header buffer", DOC_URL, supported=False),
)
