"""Rule header protocols, registered as ``protocol:<name>``.

Supported: ``ip``, ``tcp``, ``udp``, ``icmp`` and the application protocols ``http``,
``tls``, ``dns``. The others below are valid Suricata protocols the engine does not
handle yet; a rule using one is skipped under ``protocol:<name>``. Any other word is an
error.
"""
from __future__ import annotations

from xdpfw.rules.keywords.base import Kind, KeywordSpec, Value, doc

DOC_URL = doc("header")

#: name -> (application protocol or None for transport/network, supported)
PROTOCOLS: dict[str, tuple[str | None, bool]] = {
    "ip": (None, True),
    "tcp": (None, True),
    "udp": (None, True),
    "icmp": (None, True),
    "http": ("http", True),
    "tls": ("tls", True),
    "dns": ("dns", True),
    "ipv4": (None, False),
    "ip4": (None, False),
    "ipv6": (None, False),
    "ip6": (None, False),
    "icmpv4": (None, False),
    "icmpv6": (None, False),
    "sctp": (None, False),
    "pkthdr": (None, True),   # any packet, decoded or not (decoder-event rules)
    "tcp-pkt": (None, False),
    "tcp-stream": (None, False),
    "http1": ("http1", False),
    "http2": ("http2", False),
    "ftp": ("ftp", False),
    "ftp-data": ("ftp-data", False),
    "smtp": ("smtp", False),
    "imap": ("imap", False),
    "pop3": ("pop3", False),
    "ssh": ("ssh", False),
    "smb": ("smb", False),
    "dcerpc": ("dcerpc", False),
    "nfs": ("nfs", False),
    "ntp": ("ntp", False),
    "tftp": ("tftp", False),
    "ike": ("ike", False),
    "ikev2": ("ike", False),
    "krb5": ("krb5", False),
    "dhcp": ("dhcp", False),
    "snmp": ("snmp", False),
    "sip": ("sip", False),
    "rfb": ("rfb", False),
    "mqtt": ("mqtt", False),
    "rdp": ("rdp", False),
    "quic": ("quic", False),
    "pgsql": ("pgsql", False),
    "telnet": ("telnet", False),
    "modbus": ("modbus", False),
    "dnp3": ("dnp3", False),
    "enip": ("enip", False),
    "websocket": ("websocket", False),
    "ldap": ("ldap", False),
    "bittorrent-dht": ("bittorrent-dht", False),
    "doh2": ("doh2", False),
    "mdns": ("mdns", False),
}


#: Registry rows, so protocols are listed and counted like keywords. They have no
#: option form (``parse`` is None): the header parser reads them.
KEYWORDS = tuple(KeywordSpec(f"protocol:{name}", f"rule header protocol {name}", DOC_URL, None,
                             supported=supported, kind=Kind.PROTOCOL, value=Value.NONE)
                 for name, (_, supported) in PROTOCOLS.items())
