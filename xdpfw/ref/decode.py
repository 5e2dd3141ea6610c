"""Reference L2-L4 decoder: the contract of xdpfw/_fast/xdpfw_pkt.h in plain Python.

An independent rendering of the rules stated in xdpfw_pkt.h and the RFCs, for the
differential tests against the Cython decoder (xdpfw/_fast/decode.pyx). It reads the
frame through struct and slices, keeps its tables as Python sets and dicts, and returns
the same dict as `xdpfw._fast.decode.decode_to_dict`. Stdlib only; slow; never on the
data path.

Layers: Ethernet II with its VLAN tags (0x8100, 0x88a8); IPv4 (RFC 791) with options;
IPv6 (RFC 8200) with hop-by-hop, routing, fragment, destination options and AH (RFC 4302)
extension headers; IP-in-IP (protocols 4 and 41), GRE (RFC 2784/2890: IPv4, IPv6,
Ethernet, MPLS), VXLAN (RFC 7348), Geneve (RFC 8926), Teredo (RFC 4380) and MPLS label
stacks decoded through to the innermost packet; TCP (RFC 9293) with options; UDP (RFC
768); ICMP (RFC 792); ICMPv6 (RFC 4443). Anything else is reported undecoded, without an
event.
"""
from __future__ import annotations

import struct

from xdpfw.ref import pkt_h as H

FIELDS = (
    "frame_len", "layers", "invalid_layer", "events", "l3_off", "l4_off", "payload_off",
    "payload_len", "ethertype", "vlan_depth", "vlan_id", "ip_version", "src", "dst", "l4_proto",
    "ttl", "tos", "ip_flags", "ip_id", "frag_off", "ipv6_exthdrs", "sport", "dport", "tcp_seq",
    "tcp_ack", "tcp_flags", "tcp_window", "tcp_doff", "tcp_opts", "tcp_mss", "tcp_wscale",
    "tcp_tsval", "tcp_tsecr", "icmp_type", "icmp_code", "icmp_inner_off", "icmp_id", "icmp_seq",
    "outer_l3_off", "tunnel_depth", "tunnels", "outer_proto",
)
"""Keys of the decoded dict: the fields of struct xdpfw_pkt."""

VLAN_TPIDS = (0x8100, 0x88A8)
ETH_P_IP, ETH_P_IPV6 = 0x0800, 0x86DD
IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMPV6 = 1, 6, 17, 58
IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_FRAGMENT = 0, 43, 44
IPPROTO_AH, IPPROTO_NONE, IPPROTO_DSTOPTS = 51, 59, 60
IPV6_EXTHDRS = {IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_FRAGMENT, IPPROTO_AH, IPPROTO_DSTOPTS}
# IANA IPv6 extension header types this decoder does not walk: mobility, HIP, shim6 and
# the two experimental values. Fatal: the endpoint may walk past them.
IPV6_EXTHDRS_NOT_WALKED = {135, 139, 140, 253, 254}
IPPROTO_IPIP, IPPROTO_IPV6, IPPROTO_GRE = 4, 41, 47
ETH_P_TEB = 0x6558
ETH_P_MPLS = (0x8847, 0x8848)
PORT_VXLAN, PORT_GENEVE, PORT_TEREDO = 4789, 6081, 3544

# IPv4 options the decoder validates, by type: the required length, or the kind of
# check. Any other type is ipv4.opt_invalid.
IPV4_OPTIONS = {
    7: "route",      # record route
    131: "route",    # loose source route
    137: "route",    # strict source route
    68: "timestamp",
    25: 8,           # Quick-Start (RFC 4782)
    130: 11,         # security (RFC 1108)
    136: 4,          # stream id
    148: 4,          # router alert (RFC 2113)
    134: "cipso",    # CIPSO: at least type, length, 4-byte DOI
}

# Hop-by-hop / destination option types assigned by IANA (deprecated ones excluded), and
# the fixed data length of those that have one.
IPV6_OPTIONS_KNOWN = frozenset({
    0x00, 0x01, 0x04, 0x05, 0x07, 0x08, 0x0F, 0x11, 0x12, 0x26, 0x30, 0x31, 0x63, 0x6D,
    0x8B, 0x8C, 0xC2, 0xC9, 0xEE,
})
IPV6_OPTION_LENGTH = {0x04: 1, 0x05: 2, 0xC2: 4, 0xC9: 16}

# TCP option kind -> (presence bit, valid total option lengths). Options fit in 40 bytes,
# so SACK holds 1 to 4 blocks.
TCP_OPTIONS = {
    2: (H.TCPOPT_MSS, {4}),
    3: (H.TCPOPT_WSCALE, {3}),
    4: (H.TCPOPT_SACK_PERM, {2}),
    5: (H.TCPOPT_SACK, {10, 18, 26, 34}),
    8: (H.TCPOPT_TS, {10}),
    19: (H.TCPOPT_MD5, {18}),
    29: (H.TCPOPT_AO, set(range(4, 256))),
    30: (H.TCPOPT_MPTCP, set(range(3, 256))),
    34: (H.TCPOPT_FASTOPEN, {2, 6, 8, 10, 12, 14, 16, 18}),
}
TCP_OPTIONS_REPEATABLE = {30}  # MPTCP sends several subtypes in one segment

# ICMP type -> the codes it defines (IANA "ICMP Parameters").
ICMPV4_CODES = {
    0: {0}, 3: set(range(16)), 4: {0}, 5: set(range(4)), 8: {0}, 9: {0, 16}, 10: {0},
    11: {0, 1}, 12: {0, 1, 2}, 13: {0}, 14: {0}, 15: {0}, 16: {0}, 17: {0}, 18: {0},
    40: set(range(6)), 42: {0}, 43: set(range(5)),
}
ICMPV4_ERRORS = {3, 4, 5, 11, 12}
ICMPV4_ECHO = {0, 8}

# ICMPv6 (IANA "ICMPv6 Parameters").
ICMPV6_ASSIGNED = set(range(1, 5)) | set(range(128, 162))
ICMPV6_RESERVED = {0, 127, 255}
ICMPV6_EXPERIMENTATION = {100, 101, 200, 201}
ICMPV6_CODES = {1: set(range(9)), 2: {0}, 3: {0, 1}, 4: set(range(11)),
                **{t: {0} for t in range(128, 138)}}
ICMPV6_ERRORS = {1, 2, 3, 4}
ICMPV6_ECHO = {128, 129}
ICMPV6_MLD = {130, 131, 132, 143}


class _Decoder:
    def __init__(self, buf: bytes):
        self.b = buf
        self.n = len(buf)
        self.p = dict.fromkeys(FIELDS, 0)
        self.p.update(frame_len=self.n, vlan_id=[0, 0], src=bytes(16), dst=bytes(16))
        self.events: set[str] = set()

    # -- bookkeeping ----------------------------------------------------------------
    def event(self, label: str) -> None:
        if label not in H.EVENT_BIT:
            raise KeyError(f"{label} is not in xdpfw_pkt.h")
        self.events.add(label)

    def fatal(self, label: str, layer: int) -> int:
        self.event(label)
        self.p.update(invalid_layer=layer, payload_off=0, payload_len=0)
        return layer

    def result(self) -> dict:
        self.p["events"] = sorted(self.events, key=H.EVENT_BIT.__getitem__)
        return self.p

    # -- L2 ---------------------------------------------------------------------------
    def run(self) -> int:
        rc = self.ethernet()
        if rc:
            return rc
        end = self.n
        while True:   # the outer packet, then each one tunnelled in it
            ethertype = self.p["ethertype"]
            if ethertype in (ETH_P_IP, ETH_P_IPV6):
                if not self.p["outer_l3_off"]:
                    self.p["outer_l3_off"] = self.p["l3_off"]
                rc = self.ipv4(end) if ethertype == ETH_P_IP else self.ipv6(end)
                if rc:
                    return rc
                step = self.tunnel()
            elif ethertype in ETH_P_MPLS:
                step = self.mpls(end)
            else:
                return 0
            if not isinstance(step, tuple):
                return step
            end = step[0]

    def walk_ethernet(self, off: int, end: int):
        """(offset after the header and its tags, ethertype, VIDs), or "header"/"tag"
        for where it is cut short."""
        if end - off < 14:
            return "header"
        (ethertype,) = struct.unpack_from("!H", self.b, off + 12)
        off, vids = off + 14, []
        while ethertype in VLAN_TPIDS:
            if end - off < 4:
                return "tag"
            tci, ethertype = struct.unpack_from("!HH", self.b, off)
            vids.append(tci & 0x0FFF)
            off += 4
        return off, ethertype, vids

    def ethernet(self) -> int:
        walked = self.walk_ethernet(0, self.n)
        if walked == "header":
            return self.fatal("ethernet.pkt_too_small", H.LAYER_L2)
        if walked == "tag":
            return self.fatal("vlan.header_too_small", H.LAYER_L2)
        off, ethertype, vids = walked
        if len(vids) > H.MAX_VLAN:
            self.event("vlan.too_many_layers")
        first = vids[:H.MAX_VLAN]
        self.p.update(vlan_depth=min(len(vids), 255), vlan_id=first + [0] * (H.MAX_VLAN - len(first)),
                      ethertype=ethertype, l3_off=off, layers=H.LAYER_L2)
        return 0

    # -- encapsulation ----------------------------------------------------------------
    def tunnel(self):
        """After a sound IP level: (end of the inner packet's room,) when its payload is a
        tunnel to decode next, 0 for the innermost packet, the layer of a fatal anomaly."""
        p = self.p
        proto = p["l4_proto"]
        if p["layers"] & H.LAYER_L4:
            if proto == IPPROTO_UDP and (p["dport"] in (PORT_VXLAN, PORT_GENEVE, PORT_TEREDO)
                                         or p["sport"] == PORT_TEREDO):
                return self.udp_tunnel()
            return 0
        if proto not in (IPPROTO_IPIP, IPPROTO_IPV6, IPPROTO_GRE):
            return 0
        if p["ip_flags"] & H.IP_FRAG:
            return self.fatal("decoder.tunnel_fragment", H.LAYER_L4)
        if p["tunnel_depth"] == H.MAX_TUNNELS:
            return self.fatal("decoder.too_many_layers", H.LAYER_L4)
        off, end = p["payload_off"], p["payload_off"] + p["payload_len"]
        if proto == IPPROTO_IPIP:
            self.enter(off, ETH_P_IP, H.TUN_IPIP, H.LAYER_L2)
        elif proto == IPPROTO_IPV6:
            self.enter(off, ETH_P_IPV6, H.TUN_IPIP, H.LAYER_L2)
        else:
            if end - off < 4:
                return self.fatal("gre.pkt_too_small", H.LAYER_L4)
            flags, ptype = struct.unpack_from("!HH", self.b, off)
            if flags & 0x0007 or flags & 0x4000:    # version, routing present
                return self.fatal("gre.wrong_version", H.LAYER_L4)
            size = 4 + sum(4 for bit in (0x8000, 0x2000, 0x1000) if flags & bit)  # C, K, S
            if end - off < size:
                return self.fatal("gre.pkt_too_small", H.LAYER_L4)
            off += size
            if ptype in (ETH_P_IP, ETH_P_IPV6) or ptype in ETH_P_MPLS:
                self.enter(off, ptype, H.TUN_GRE, H.LAYER_L2)
            elif ptype == ETH_P_TEB:
                rc = self.enter_ethernet(off, end, H.TUN_GRE_ETH)
                if rc:
                    return rc
            else:
                return self.fatal("gre.unknown_payload_type", H.LAYER_L4)
        return (end,)

    def enter_ethernet(self, off: int, end: int, kind: int) -> int:
        self.enter(off, 0, kind, 0)
        walked = self.walk_ethernet(off, end)
        if isinstance(walked, str):
            return self.fatal("decoder.inner_ethernet_too_small", H.LAYER_L2)
        off, ethertype, _vids = walked
        self.p.update(layers=H.LAYER_L2, l3_off=off, ethertype=ethertype)
        return 0

    def udp_tunnel(self):
        p, b = self.p, self.b
        off, end = p["payload_off"], p["payload_off"] + p["payload_len"]
        if p["ip_flags"] & H.IP_FRAG:
            return self.udp_fatal("decoder.tunnel_fragment")
        if p["tunnel_depth"] == H.MAX_TUNNELS:
            return self.udp_fatal("decoder.too_many_layers")
        if p["dport"] == PORT_VXLAN:
            if end - off < 8:
                return self.udp_fatal("vxlan.pkt_too_small")
            if not b[off] & 0x08:          # no VNI: not VXLAN (endpoints drop it)
                return 0
            return self.enter_ethernet(off + 8, end, H.TUN_VXLAN) or (end,)
        if p["dport"] == PORT_GENEVE:
            if end - off < 8:
                return self.udp_fatal("geneve.pkt_too_small")
            if b[off] >> 6:                # another version: not Geneve
                return 0
            size = 8 + 4 * (b[off] & 0x3F)
            if end - off < size:
                return self.udp_fatal("geneve.pkt_too_small")
            (ptype,) = struct.unpack_from("!H", b, off + 2)
            if ptype == ETH_P_TEB:
                return self.enter_ethernet(off + size, end, H.TUN_GENEVE) or (end,)
            if ptype in (ETH_P_IP, ETH_P_IPV6):
                self.enter(off + size, ptype, H.TUN_GENEVE, H.LAYER_L2)
                return (end,)
            return self.udp_fatal("geneve.unknown_payload_type")
        inner = self.teredo_inner(off, end)
        if inner is None:
            return 0
        self.enter(inner, ETH_P_IPV6, H.TUN_TEREDO, H.LAYER_L2)
        return (end,)

    def udp_fatal(self, label: str) -> int:
        """A tunnel in UDP not decodable through: the UDP layer is the one that failed."""
        self.p.update(layers=self.p["layers"] & ~H.LAYER_L4, sport=0, dport=0)
        return self.fatal(label, H.LAYER_L4)

    def teredo_inner(self, off: int, end: int):
        """Offset of the IPv6 packet after Teredo's optional headers (RFC 4380 5.1.1),
        or None: not Teredo data (no IPv6 packet that fits, or a bubble)."""
        b = self.b
        if end - off >= 4 and b[off:off + 2] == b"\x00\x01":     # authentication
            size = 13 + b[off + 2] + b[off + 3]
            if end - off < size:
                return None
            off += size
        if end - off >= 2 and b[off:off + 2] == b"\x00\x00":     # origin indication
            if end - off < 8:
                return None
            off += 8
        if end - off < 40 or b[off] >> 4 != 6:
            return None
        (plen,) = struct.unpack_from("!H", b, off + 4)
        if 40 + plen > end - off or (plen == 0 and b[off + 6] == IPPROTO_NONE):
            return None
        return off

    def mpls(self, end: int):
        """An MPLS label stack at l3_off, then IPv4, IPv6 or control word + Ethernet."""
        p, b = self.p, self.b
        off = p["l3_off"]
        if p["tunnel_depth"] == H.MAX_TUNNELS:
            return self.fatal("decoder.too_many_layers", H.LAYER_L3)
        while True:
            if end - off < 4:
                return self.fatal("mpls.header_too_small", H.LAYER_L3)
            bottom = b[off + 2] & 1
            off += 4
            if bottom:
                break
        first = b[off] >> 4 if off < end else None
        if first == 4:
            self.enter(off, ETH_P_IP, H.TUN_MPLS, H.LAYER_L2)
        elif first == 6:
            self.enter(off, ETH_P_IPV6, H.TUN_MPLS, H.LAYER_L2)
        elif first == 0 and end - off >= 4:                      # pseudowire control word
            return self.enter_ethernet(off + 4, end, H.TUN_MPLS) or (end,)
        else:
            return self.fatal("mpls.unknown_payload_type", H.LAYER_L3)
        return (end,)

    def enter(self, off: int, ethertype: int, kind: int, layers: int) -> None:
        p = self.p
        if p["ip_version"] and p["l3_off"] == p["outer_l3_off"]:   # leaving the outermost IP header
            p["outer_proto"] = p["l4_proto"]
        p.update(tunnel_depth=p["tunnel_depth"] + 1, tunnels=p["tunnels"] | kind, layers=layers,
                 ip_version=0, l4_proto=0, ttl=0, tos=0, ip_flags=0, ip_id=0, frag_off=0,
                 ipv6_exthdrs=0, sport=0, dport=0, l4_off=0, payload_off=0, payload_len=0,
                 src=bytes(16), dst=bytes(16), l3_off=off, ethertype=ethertype)

    # -- IPv4 -------------------------------------------------------------------------
    def ipv4(self, end: int) -> int:
        p, off = self.p, self.p["l3_off"]
        room = end - off
        if room < 20:
            return self.fatal("ipv4.pkt_too_small", H.LAYER_L3)
        (ver_ihl, tos, total, ident, frag, ttl, proto, _csum, src, dst) = struct.unpack_from(
            "!BBHHHBBH4s4s", self.b, off)
        hlen = (ver_ihl & 0x0F) * 4
        if ver_ihl >> 4 != 4:
            return self.fatal("ipv4.wrong_ip_version", H.LAYER_L3)
        if hlen < 20:
            return self.fatal("ipv4.hlen_too_small", H.LAYER_L3)
        if total < hlen:
            return self.fatal("ipv4.iplen_smaller_than_hlen", H.LAYER_L3)
        if total > room:
            return self.fatal("ipv4.trunc_pkt", H.LAYER_L3)

        frag_off = (frag & 0x1FFF) << 3
        more = bool(frag & 0x2000)
        flags = ((H.IP_RF if frag & 0x8000 else 0) | (H.IP_DF if frag & 0x4000 else 0)
                 | (H.IP_MF if more else 0) | (H.IP_FRAG if more or frag_off else 0))
        mapped = bytes(10) + b"\xff\xff"
        p.update(ip_version=4, tos=tos, ip_id=ident, frag_off=frag_off, ip_flags=flags,
                 ttl=ttl, l4_proto=proto, src=mapped + src, dst=mapped + dst)
        self.ipv4_options(self.b[off + 20:off + hlen])
        p["layers"] |= H.LAYER_L3

        data = total - hlen
        if flags & H.IP_FRAG:
            if more and data % 8:
                self.event("ipv4.frag_invalid_length")
            if frag_off + total > 0xFFFF:
                self.event("ipv4.frag_pkt_too_large")
        if proto == IPPROTO_ICMPV6:
            self.event("ipv4.icmpv6")
        return self.upper_layer(off + hlen, data)

    def ipv4_options(self, opts: bytes) -> None:
        seen = set()
        i = 0
        while i < len(opts):
            kind = opts[i]
            if kind == 0:          # end of list: the rest is padding
                return
            if kind == 1:          # no-operation
                i += 1
                continue
            if i + 1 == len(opts):
                self.event("ipv4.opt_eol_required")
                return
            length = opts[i + 1]
            if length < 2 or i + length > len(opts):
                self.event("ipv4.opt_invalid_len")
                return
            rule = IPV4_OPTIONS.get(kind)
            if rule is None:
                self.event("ipv4.opt_invalid")
            elif kind in seen:
                self.event("ipv4.opt_duplicate")
            else:
                seen.add(kind)
                self.ipv4_option(opts[i:i + length], rule)
            i += length

    def ipv4_option(self, opt: bytes, rule) -> None:
        if isinstance(rule, int):
            if len(opt) != rule:
                self.event("ipv4.opt_invalid_len")
        elif rule == "cipso":
            if len(opt) < 6:
                self.event("ipv4.opt_invalid_len")
        elif rule == "route":
            # pointer: 1-based offset of the next 4-byte address slot, first one at 4
            if len(opt) < 3:
                self.event("ipv4.opt_invalid_len")
            elif opt[2] < 4 or opt[2] % 4 or opt[2] > len(opt) + 1:
                self.event("ipv4.opt_malformed")
        else:  # timestamp: pointer to the next record, first one at 5
            if len(opt) < 4:
                self.event("ipv4.opt_invalid_len")
                return
            record = 8 if opt[3] & 0x0F in (1, 3) else 4
            if opt[2] < 5 or (opt[2] - 5) % record or opt[2] > len(opt) + 1:
                self.event("ipv4.opt_malformed")

    # -- IPv6 -------------------------------------------------------------------------
    def ipv6(self, limit: int) -> int:
        p, b, off = self.p, self.b, self.p["l3_off"]
        room = limit - off
        if room < 40:
            return self.fatal("ipv6.pkt_too_small", H.LAYER_L3)
        word0, plen, nh, hop_limit = struct.unpack_from("!IHBB", b, off)
        if word0 >> 28 != 6:
            return self.fatal("ipv6.wrong_ip_version", H.LAYER_L3)
        if 40 + plen > room:
            return self.fatal("ipv6.trunc_pkt", H.LAYER_L3)
        p.update(ip_version=6, tos=(word0 >> 20) & 0xFF, ttl=hop_limit,
                 src=bytes(b[off + 8:off + 24]), dst=bytes(b[off + 24:off + 40]))

        pos, end = off + 40, off + 40 + plen
        exthdrs = count = 0
        frag_id = frag_off = flags = 0
        dstopts_pending = False   # a destination options header since the last routing header
        while nh in IPV6_EXTHDRS:
            count += 1
            if count > H.IPV6_MAX_EXTHDRS:
                self.event("ipv6.exthdr_too_many")
            if end - pos < 8:
                return self.fatal("ipv6.trunc_exthdr", H.LAYER_L3)
            if nh == IPPROTO_FRAGMENT:
                nxt, reserved, field, ident = struct.unpack_from("!BBHI", b, pos)
                if exthdrs & H.EXT_FRAG:
                    self.event("ipv6.exthdr_dupl_fh")
                exthdrs |= H.EXT_FRAG
                if reserved or field & 0x6:
                    self.event("ipv6.fh_non_zero_reserved_field")
                frag_id, frag_off, more = ident, field & ~0x7, field & 1
                nh, pos = nxt, pos + 8
                if not frag_off and not more:
                    self.event("ipv6.exthdr_useless_fh")
                    flags = 0
                    continue
                flags = H.IP_FRAG | (H.IP_MF if more else 0)
                if more and (end - pos) % 8:
                    self.event("ipv6.frag_invalid_length")
                if frag_off + (end - pos) > 0xFFFF:
                    self.event("ipv6.frag_pkt_too_large")
                if frag_off:
                    break
                continue
            nxt, hdrlen = b[pos], b[pos + 1]
            if nh == IPPROTO_AH:
                size = (hdrlen + 2) * 4
                if size < 12 or size > end - pos:
                    return self.fatal("ipv6.trunc_exthdr", H.LAYER_L3)
                if exthdrs & H.EXT_AH:
                    self.event("ipv6.exthdr_dupl_ah")
                exthdrs |= H.EXT_AH
                if b[pos + 2] or b[pos + 3]:
                    self.event("ipv6.exthdr_ah_res_not_null")
            else:
                size = (hdrlen + 1) * 8
                if size > end - pos:
                    return self.fatal("ipv6.trunc_exthdr", H.LAYER_L3)
                if nh == IPPROTO_HOPOPTS:
                    if exthdrs & H.EXT_HOPOPTS:
                        self.event("ipv6.exthdr_dupl_hh")
                    exthdrs |= H.EXT_HOPOPTS
                    self.ipv6_options(b[pos + 2:pos + size], "hopopts")
                elif nh == IPPROTO_DSTOPTS:
                    if dstopts_pending:
                        self.event("ipv6.exthdr_dupl_dh")
                    dstopts_pending = True
                    exthdrs |= H.EXT_DSTOPTS
                    self.ipv6_options(b[pos + 2:pos + size], "dstopts")
                else:
                    if exthdrs & H.EXT_ROUTING:
                        self.event("ipv6.exthdr_dupl_rh")
                    exthdrs |= H.EXT_ROUTING
                    dstopts_pending = False
                    if b[pos + 2] == 0:
                        self.event("ipv6.rh_type_0")
            nh, pos = nxt, pos + size

        if not frag_off and nh in IPV6_EXTHDRS_NOT_WALKED:
            return self.fatal("ipv6.unknown_next_header", H.LAYER_L3)
        p.update(ipv6_exthdrs=exthdrs, ip_id=frag_id, frag_off=frag_off, ip_flags=flags, l4_proto=nh)
        p["layers"] |= H.LAYER_L3
        if nh == IPPROTO_NONE and not frag_off and pos < end:
            self.event("ipv6.data_after_none_header")
        if nh == IPPROTO_ICMP:
            self.event("ipv6.icmpv4")
        return self.upper_layer(pos, end - pos)

    def ipv6_options(self, opts: bytes, which: str) -> None:
        padding = other = False
        i = 0
        while i < len(opts):
            kind = opts[i]
            if kind == 0:          # Pad1
                padding = True
                i += 1
                continue
            if i + 2 > len(opts) or i + 2 + opts[i + 1] > len(opts):
                self.event("ipv6.exthdr_invalid_optlen")
                return
            length = opts[i + 1]
            if kind == 1:          # PadN
                padding = True
                if length == 0:
                    self.event("ipv6.zero_len_padn")
            else:
                other = True
                if kind not in IPV6_OPTIONS_KNOWN:
                    self.event(f"ipv6.{which}_unknown_opt")
                elif IPV6_OPTION_LENGTH.get(kind, length) != length:
                    self.event("ipv6.exthdr_invalid_optlen")
            i += 2 + length
        if padding and not other:
            self.event(f"ipv6.{which}_only_padding")

    # -- L4 ---------------------------------------------------------------------------
    def upper_layer(self, off: int, length: int) -> int:
        p = self.p
        p["l4_off"] = off
        if not p["frag_off"]:
            decoder = {
                (4, IPPROTO_TCP): self.tcp, (6, IPPROTO_TCP): self.tcp,
                (4, IPPROTO_UDP): self.udp, (6, IPPROTO_UDP): self.udp,
                (4, IPPROTO_ICMP): self.icmpv4, (6, IPPROTO_ICMPV6): self.icmpv6,
            }.get((p["ip_version"], p["l4_proto"]))
            if decoder:
                return decoder(off, length)
        p.update(payload_off=off, payload_len=length)
        return 0

    def tcp(self, off: int, length: int) -> int:
        if length < 20:
            return self.fatal("tcp.pkt_too_small", H.LAYER_L4)
        sport, dport, seq, ack, doff, flags, window = struct.unpack_from("!HHIIBBH", self.b, off)
        hlen = (doff >> 4) * 4
        if hlen < 20:
            return self.fatal("tcp.hlen_too_small", H.LAYER_L4)
        if hlen > length:
            return self.fatal("tcp.invalid_optlen", H.LAYER_L4)
        self.p.update(sport=sport, dport=dport, tcp_seq=seq, tcp_ack=ack, tcp_doff=doff >> 4,
                      tcp_flags=flags, tcp_window=window)
        self.tcp_options(self.b[off + 20:off + hlen])
        self.p["layers"] |= H.LAYER_L4
        self.p.update(payload_off=off + hlen, payload_len=length - hlen)
        return 0

    def tcp_options(self, opts: bytes) -> None:
        p = self.p
        i = 0
        while i < len(opts):
            kind = opts[i]
            if kind == 0:          # end of option list
                return
            if kind == 1:          # no-operation
                i += 1
                continue
            if len(opts) - i < 2 or not 2 <= opts[i + 1] <= len(opts) - i:
                self.event("tcp.opt_invalid_len")
                return
            length = opts[i + 1]
            body = opts[i + 2:i + length]
            if kind in TCP_OPTIONS:
                bit, lengths = TCP_OPTIONS[kind]
                if p["tcp_opts"] & bit and kind not in TCP_OPTIONS_REPEATABLE:
                    self.event("tcp.opt_duplicate")
                elif length not in lengths:
                    self.event("tcp.opt_invalid_len")
                else:
                    p["tcp_opts"] |= bit
                    if kind == 2:
                        (p["tcp_mss"],) = struct.unpack("!H", body)
                    elif kind == 3:
                        p["tcp_wscale"] = body[0]
                    elif kind == 8:
                        p["tcp_tsval"], p["tcp_tsecr"] = struct.unpack("!II", body)
            i += length

    def udp(self, off: int, length: int) -> int:
        if length < 8:
            return self.fatal("udp.hlen_too_small", H.LAYER_L4)
        sport, dport, ulen = struct.unpack_from("!HHH", self.b, off)
        if self.p["ip_flags"] & H.IP_MF:
            data = length - 8   # first fragment: ulen is the whole datagram's
        else:
            if ulen < 8:
                return self.fatal("udp.hlen_invalid", H.LAYER_L4)
            if ulen > length:
                return self.fatal("udp.pkt_too_small", H.LAYER_L4)
            if ulen < length:
                self.event("udp.hlen_invalid")
            data = ulen - 8
        self.p.update(sport=sport, dport=dport, payload_off=off + 8, payload_len=data)
        self.p["layers"] |= H.LAYER_L4
        return 0

    def icmpv4(self, off: int, length: int) -> int:
        if length < 8:
            return self.fatal("icmpv4.pkt_too_small", H.LAYER_L4)
        itype, code, _csum, word1, word2 = struct.unpack_from("!BBHHH", self.b, off)
        codes = ICMPV4_CODES.get(itype)
        if codes is None:
            self.event("icmpv4.unknown_type")
        elif code not in codes:
            self.event("icmpv4.unknown_code")
        p = self.p
        p.update(icmp_type=itype, icmp_code=code)
        if itype in ICMPV4_ECHO:
            p.update(icmp_id=word1, icmp_seq=word2)
        elif itype in ICMPV4_ERRORS:
            if length - 8 < 20:
                self.event("icmpv4.ipv4_trunc_pkt")
            elif self.b[off + 8] >> 4 != 4:
                self.event("icmpv4.ipv4_unknown_ver")
            else:
                p["icmp_inner_off"] = off + 8
        p["layers"] |= H.LAYER_L4
        p.update(payload_off=off + 8, payload_len=length - 8)
        return 0

    def icmpv6(self, off: int, length: int) -> int:
        if length < 8:
            return self.fatal("icmpv6.pkt_too_small", H.LAYER_L4)
        itype, code, _csum, word1, word2 = struct.unpack_from("!BBHHH", self.b, off)
        if itype in ICMPV6_EXPERIMENTATION:
            self.event("icmpv6.experimentation_type")
        elif itype in ICMPV6_RESERVED:
            self.event("icmpv6.unknown_type")
        elif itype not in ICMPV6_ASSIGNED:
            self.event("icmpv6.unassigned_type")
        elif itype in ICMPV6_CODES and code not in ICMPV6_CODES[itype]:
            self.event("icmpv6.unknown_code")
        p = self.p
        if itype in ICMPV6_MLD and p["ttl"] != 1:
            self.event("icmpv6.mld_message_with_invalid_hl")
        p.update(icmp_type=itype, icmp_code=code)
        if itype in ICMPV6_ECHO:
            p.update(icmp_id=word1, icmp_seq=word2)
        elif itype in ICMPV6_ERRORS:
            if length - 8 < 40:
                self.event("icmpv6.ipv6_trunc_pkt")
            elif self.b[off + 8] >> 4 != 6:
                self.event("icmpv6.ipv6_unknown_version")
            else:
                p["icmp_inner_off"] = off + 8
        p["layers"] |= H.LAYER_L4
        p.update(payload_off=off + 8, payload_len=length - 8)
        return 0


def decode_to_dict(frame, length: int | None = None) -> dict:
    """Decode the first `length` bytes (default: all) of `frame` (any bytes-like object).

    Returns the fields of struct xdpfw_pkt as a dict (FIELDS), with `events` the labels
    that fired in table order, `vlan_id` a list and the addresses 16-byte strings.
    """
    view = memoryview(frame).cast("B")
    if length is None:
        length = len(view)
    if not 0 <= length <= len(view):
        raise ValueError(f"length {length} outside 0..{len(view)}")
    decoder = _Decoder(bytes(view[:length]))
    decoder.run()
    return decoder.result()
