"""Capture link types for `xdpfw replay`: every layout Suricata reads, as Ethernet frames.

The engine decodes Ethernet frames (what the appliance receives). Captures come in other
link-layer framings too; each supported one is turned into an Ethernet frame around the
same network-layer packet (an Ethernet header with the packet's EtherType in front of
it: a copy per packet, in replay only, never on the appliance's path). Frames whose
link-layer protocol is not IP keep that protocol's EtherType, so the engine counts them
as non-IP, as it would on the wire.
"""
from __future__ import annotations

import struct

ETHERNET = 1
ETH_IPV4, ETH_IPV6 = 0x0800, 0x86DD
_ETH_HEADER = bytes.fromhex("020000000002" "020000000001")   # dst, src: placeholder MACs

# link type -> name (pcap LINKTYPE_* values, tcpdump.org/linktypes.html)
LINKTYPES = {
    0: "BSD loopback (NULL)", 1: "Ethernet", 9: "PPP", 12: "raw IP (DLT_RAW, OpenBSD)",
    14: "raw IP (DLT_RAW, BSD)", 101: "raw IP", 104: "Cisco HDLC", 108: "OpenBSD loopback (LOOP)",
    113: "Linux cooked (SLL)", 228: "raw IPv4", 229: "raw IPv6", 276: "Linux cooked v2 (SLL2)",
}
# BSD loopback address families for IPv6 differ by OS (NetBSD/OpenBSD 24, FreeBSD 28, macOS 30)
_AF_INET6 = (24, 28, 30, 10)
_PPP = {0x0021: ETH_IPV4, 0x0057: ETH_IPV6}


class LinkTypeError(ValueError):
    pass


def supported(linktype: int) -> bool:
    return linktype in LINKTYPES


def describe(linktype: int) -> str:
    return f"link type {linktype} ({LINKTYPES.get(linktype, 'unknown')})"


def _raw(frame: bytes) -> tuple[int, int]:
    if not frame:
        return 0, 0
    v = frame[0] >> 4
    return (ETH_IPV4 if v == 4 else ETH_IPV6 if v == 6 else 0), 0


def _l3(linktype: int, frame: bytes) -> tuple[int, int]:
    """(EtherType, offset of the network-layer packet) for one captured frame."""
    if linktype in (101, 12, 14):
        return _raw(frame)
    if linktype == 228:
        return ETH_IPV4, 0
    if linktype == 229:
        return ETH_IPV6, 0
    if linktype == 113:          # SLL: type, ARPHRD, addr len, addr[8], protocol
        return (struct.unpack_from("!H", frame, 14)[0], 16) if len(frame) >= 16 else (0, len(frame))
    if linktype == 276:          # SLL2: protocol, reserved, ifindex, ARPHRD, type, addr len, addr[8]
        return (struct.unpack_from("!H", frame, 0)[0], 20) if len(frame) >= 20 else (0, len(frame))
    if linktype in (0, 108):     # the address family, host byte order (NULL) or network (LOOP)
        if len(frame) < 4:
            return 0, len(frame)
        fam = struct.unpack_from("!I" if linktype == 108 else "=I", frame)[0]
        if linktype == 0 and fam not in (2,) + _AF_INET6:   # written on a host of the other order
            fam = struct.unpack_from("<I" if struct.pack("=I", 1) == struct.pack(">I", 1) else ">I", frame)[0]
        return (ETH_IPV4 if fam == 2 else ETH_IPV6 if fam in _AF_INET6 else 0), 4
    if linktype == 9:            # PPP, with or without the HDLC-like address/control bytes
        off = 2 if frame[:2] == b"\xff\x03" else 0
        if len(frame) < off + 2:
            return 0, len(frame)
        return _PPP.get(struct.unpack_from("!H", frame, off)[0], 0), off + 2
    if linktype == 104:          # Cisco HDLC: address, control, protocol
        return (struct.unpack_from("!H", frame, 2)[0], 4) if len(frame) >= 4 else (0, len(frame))
    raise LinkTypeError(f"{describe(linktype)} is not supported")


def to_ethernet(linktype: int, frame: bytes) -> bytes:
    """The frame as the appliance would receive it on an Ethernet NIC."""
    if linktype == ETHERNET:
        return frame
    ethertype, off = _l3(linktype, frame)
    return _ETH_HEADER + struct.pack("!H", ethertype) + frame[off:]
