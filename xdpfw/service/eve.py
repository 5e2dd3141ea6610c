"""EVE JSON output: alert, drop and stats events, one JSON object per line.

Operators feed these lines to SIEM pipelines written for Suricata, so the lines follow
Suricata 7's EVE format field for field: the same names, the same types, the same key
order, the same string formats. docs/EVE.md lists every field and the few differences.
xdpfw/service/eve_schema.json describes what we emit; tests/eve_check.py validates lines
against it.

The pieces:

- :class:`RuleInfo`: what an alert says about its rule, built once per rule at load time
  from :class:`xdpfw.rules.model.Rule` (msg, classtype -> category/severity, metadata).
- :class:`EveEvent`: one alert or drop as the engine reports it. The C worker pushes a
  fixed-size record into a ring; the control plane drains it and fills one EveEvent per
  record (field by field: the dataclass mirrors that record, see the field comments).
- :class:`EveFormatter`: EveEvent -> one JSON line (no trailing newline).
- :class:`Stats`: periodic ``event_type: stats`` lines from a counter tree
  (:func:`stats_counters` names the counters).

Where the lines go (files, unix sockets) is xdpfw/service/outputs.py.

Nothing here runs per packet: only per alert or drop record, and per stats interval.
"""
from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Literal, Mapping

if TYPE_CHECKING:
    from xdpfw.rules.classification import Classification
    from xdpfw.rules.model import Rule

__all__ = [
    "FLOW_ID_MASK", "PROTO_NAMES", "DROP_REASONS", "DROP_REASON_FOR", "PKT_SRC_WIRE",
    "proto_name", "format_timestamp", "format_ip", "eve_metadata", "mask_flow_id",
    "RuleInfo", "EveEvent", "EveFormatter", "format_event", "Stats", "stats_counters",
]

# Suricata puts flow_id through a 51-bit mask: JSON consumers that read numbers as IEEE
# doubles (JavaScript, many SIEM pipelines) are exact only up to 2**53.
FLOW_ID_MASK = (1 << 51) - 1

# The `proto` field: Suricata 7 prints the IANA keyword of the protocol number from a
# built-in table (with a few spellings of its own: "IP-in-IP", "Any", ...), and the
# decimal number for a protocol past the table. Index = protocol number.
PROTO_NAMES: tuple[str, ...] = tuple("""
HOPOPT ICMP IGMP GGP IP-in-IP ST TCP CBT EGP IGP BBN-RCC-MON NVP-II PUP ARGUS EMCON XNET
CHAOS UDP MUX DCN-MEAS HMP PRM XNS-IDP TRUNK-1 TRUNK-2 LEAF-1 LEAF-2 RDP IRTP ISO-TP4
NETBLT MFE-NSP MERIT-INP DCCP 3PC IDPR XTP DDP IDPR-CMTP TP++ IL IPv6 SDRP IPv6-Route
IPv6-Frag IDRP RSVP GRE DSR BNA ESP AH I-NLSP SwIPe NARP MOBILE TLSP SKIP IPv6-ICMP
IPv6-NoNxt IPv6-Opts Any CFTP Any SAT-EXPAK KRYPTOLAN RVD IPPC Any SAT-MON VISA IPCU CPNX
CPHB WSN PVP BR-SAT-MON SUN-ND WB-MON WB-EXPAK ISO-IP VMTP SECURE-VMTP VINES TTP
NSFNET-IGP DGP TCF EIGRP OSPF Sprite-RPC LARP MTP AX.25 OS MICP SCC-SP ETHERIP ENCAP Any
GMTP IFMP PNNI PIM ARIS SCPS QNX A/N IPComp SNP Compaq-Peer IPX-in-IP VRRP PGM Any L2TP
DDX IATP STP SRP UTI SMP SM PTP IS-IS FIRE CRTP CRUDP SSCOPMCE IPLT SPS PIPE SCTP FC
RSVP-E2E-IGNORE Mobility UDPLite MPLS-in-IP manet HIP Shim6 WESP ROHC Ethernet
""".split())
assert len(PROTO_NAMES) == 144 and PROTO_NAMES[58] == "IPv6-ICMP" and PROTO_NAMES[132] == "SCTP"

IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMPV6, IPPROTO_SCTP = 1, 6, 17, 58, 132
_PORT_PROTOS = frozenset((IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP))

# `pkt_src` of a packet that came from the NIC (Suricata uses the same string for live
# capture and pcap files). Every packet the engine reports is such a packet.
PKT_SRC_WIRE = "wire/pcap"

# `drop.reason` values, as Suricata 7 spells them. The engine picks the closest one
# (docs/EVE.md maps xdpfw's drop reasons onto these).
DROP_REASONS = frozenset((
    "decode error", "defrag error", "defrag memcap", "flow memcap", "flow drop",
    "stream error", "stream memcap", "stream midstream", "stream reassembly",
    "applayer error", "applayer memcap", "rules", "threshold detection_filter",
    "default packet policy", "default app policy",
))

# xdpfw's drop reasons (the labels of XDPFW_DROP_REASONS in xdpfw/bpf/xdpfw_shared.h)
# as ``drop.reason``. None: no drop event is written (the kernel dropped the frame before
# any worker saw it, or it is a capacity drop counted only in the metrics). An exception
# policy's drop takes the reason of the condition that triggered it (flow memcap, stream
# midstream, ...), which the engine knows and this table cannot.
DROP_REASON_FOR = {
    "acl": None,
    "fail_mode": None,
    "rule": "rules",
    "decode_error": "decode error",
    "ring_full": None,
    "tcp_out_of_order": "stream error",
    "flow_table_full": "flow memcap",
    "exception_policy": "default packet policy",
    "ip_fragment": "defrag error",
    "tcp_insertion": "stream error",
    "bad_checksum": "decode error",
    "wrong_side": "flow drop",
    "flow_source_share": "flow memcap",
    "xsk_rx_ring_full": None,
    "xsk_rx_dropped": None,
}
assert all(v is None or v in DROP_REASONS for v in DROP_REASON_FOR.values())

DIRECTIONS = ("to_server", "to_client")  # index = XDPFW_DIR_TOSERVER / XDPFW_DIR_TOCLIENT
ACTIONS = ("alert", "drop", "pass", "reject", "rejectsrc", "rejectdst", "rejectboth")
_REJECT_TARGET = {"reject": "to_client", "rejectsrc": "to_client",
                  "rejectdst": "to_server", "rejectboth": "both"}

# One encoder for every line: compact separators and raw UTF-8. Its escapes (quote,
# backslash, \b \f \n \r \t, other control characters as lowercase \u00XX) are exactly
# those of Suricata's JSON builder, so a string comes out byte for byte the same.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False,
                            allow_nan=False)


def proto_name(proto: int) -> str:
    """The ``proto`` string Suricata prints for an IP protocol number."""
    if 0 <= proto < len(PROTO_NAMES):
        return PROTO_NAMES[proto]
    if 0 <= proto <= 255:
        return str(proto)
    raise ValueError(f"IP protocol number out of range: {proto}")


def mask_flow_id(flow_id: int) -> int:
    """The ``flow_id`` as printed: the engine's 64-bit id reduced to 51 bits."""
    return flow_id & FLOW_ID_MASK


_ts_cache: tuple[int, str] = (-1, "")


def format_timestamp(ts_ns: int) -> str:
    """``2026-05-04T10:12:33.104512+0000``: UTC, microseconds (truncated), no colon.

    Suricata prints the sensor's local time with its offset; we always print UTC, which
    is the same instant in the same format (see docs/EVE.md).
    """
    global _ts_cache
    if ts_ns < 0:
        raise ValueError(f"negative timestamp: {ts_ns}")
    sec, rem = divmod(ts_ns, 1_000_000_000)
    cached_sec, prefix = _ts_cache
    if sec != cached_sec:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        _ts_cache = (sec, prefix)
    return f"{prefix}.{rem // 1000:06d}+0000"


def format_ip(addr: bytes, version: int) -> str:
    """Dotted quad for IPv4; for IPv6 all eight groups of four lowercase hex digits.

    Suricata does not compress IPv6 addresses (``2001:0db8:0000:...``), and SIEM parsers
    and correlation rules written for its output expect exactly that form. ``addr`` is
    16 bytes (IPv4-mapped for IPv4, as in the flow key) or 4 bytes for IPv4.
    """
    if version == 4:
        if len(addr) == 16:
            addr = addr[12:]
        if len(addr) != 4:
            raise ValueError(f"IPv4 address must be 4 or 16 bytes, got {len(addr)}")
        return socket.inet_ntop(socket.AF_INET, addr)
    if version == 6:
        if len(addr) != 16:
            raise ValueError(f"IPv6 address must be 16 bytes, got {len(addr)}")
        h = addr.hex()
        return ":".join((h[0:4], h[4:8], h[8:12], h[12:16], h[16:20], h[20:24], h[24:28], h[28:32]))
    raise ValueError(f"IP version must be 4 or 6, got {version}")


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def eve_metadata(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """A rule's ``metadata`` pairs as Suricata 7 logs them in ``alert.metadata``.

    Each key maps to the list of its values. Pairs with an empty key or value are
    skipped. Keys are ordered case-insensitively (ASCII), and keys differing only in
    case share one list under the spelling that sorts first. Suricata collects the pairs
    last-first and then sorts them stably by key, so several values of one key appear in
    the reverse of the order the rule wrote them: ``tag a, tag b`` gives
    ``{"tag": ["b", "a"]}``.
    """
    kept = [(k, v) for k, v in pairs if k and v]
    kept.reverse()
    kept.sort(key=lambda kv: kv[0].translate(_ASCII_LOWER))
    out: dict[str, list[str]] = {}
    last_fold: str | None = None
    last_key = ""
    for k, v in kept:
        fold = k.translate(_ASCII_LOWER)
        if fold != last_fold:
            last_fold, last_key = fold, k
            out[k] = []
        out[last_key].append(v)
    return out


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """What an alert reports about its rule. Built once per rule when a ruleset loads.

    ``category`` is the classtype's description from classification.config ("" without a
    classtype) and ``severity`` the rule's priority (its ``priority`` keyword, else its
    classtype's priority, else 3), as in Suricata. ``metadata`` is kept as written; the
    ``alert.metadata`` object is derived once, here.
    """

    sid: int
    gid: int = 1
    rev: int = 1
    msg: str = ""
    classtype: str | None = None
    category: str = ""
    severity: int = 3
    metadata: tuple[tuple[str, str], ...] = ()
    references: tuple[tuple[str, str], ...] = ()   # (type, value); not logged, as in Suricata 7
    target: Literal["src_ip", "dest_ip"] | None = None
    text: str = ""                                   # the rule as written, for alert.rule
    eve_metadata: dict[str, list[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "eve_metadata", eve_metadata(self.metadata))

    @classmethod
    def from_rule(cls, rule: "Rule", classifications: "Mapping[str, Classification] | None" = None) -> "RuleInfo":
        """From a parsed rule; ``classifications`` defaults to Suricata's shipped table."""
        if classifications is None:
            from xdpfw.rules.classification import DEFAULT_CLASSIFICATIONS
            classifications = DEFAULT_CLASSIFICATIONS
        category = ""
        if rule.classtype is not None:
            cls_ = classifications.get(rule.classtype)
            category = cls_.description if cls_ is not None else ""
        return cls(sid=rule.sid, gid=rule.gid, rev=rule.rev, msg=rule.msg or "",
                   classtype=rule.classtype, category=category, severity=rule.priority,
                   metadata=tuple(rule.metadata),
                   references=tuple((r.type, r.value) for r in rule.references),
                   target=rule.target, text=rule.text)


@dataclass(slots=True)
class EveEvent:
    """One alert or drop, as the detection engine reports it.

    The engine's C record carries these fields; the drain loop copies them here. Fields
    that do not apply keep their defaults (``None`` means "not known / not logged").
    """

    # --- what and when
    kind: Literal["alert", "drop"]
    ts_ns: int                      # packet time, ns since the epoch (UTC)
    # --- packet header (xdpfw_pkt)
    ip_version: int                 # 4 or 6
    src_addr: bytes                 # 16 bytes, IPv4-mapped for IPv4 (xdpfw_pkt.src)
    dst_addr: bytes
    proto: int                      # upper-layer protocol number (after IPv6 ext headers)
    src_port: int = 0               # TCP/UDP/SCTP; 0 otherwise
    dst_port: int = 0
    l4_decoded: bool = True         # the TCP/UDP/ICMP header was decoded (not a later fragment)
    icmp_type: int = 0              # ICMP / ICMPv6
    icmp_code: int = 0
    vlan: tuple[int, ...] = ()      # VLAN ids, outer first (xdpfw_pkt.vlan_id[:vlan_depth])
    # tunnelled packet (the fields above are the inner one's): the outermost IP header as
    # the engine's record has it: {"depth", "ip_version", "proto", "src", "dst"}; None: none
    tunnel: dict | None = None
    in_iface: str | None = None     # ingress device name
    pcap_cnt: int | None = None     # packet number when replaying a pcap; None live
    pkt_src: str = PKT_SRC_WIRE
    # --- flow (xdpfw_flow); flow_id None: the packet had no flow entry
    flow_id: int | None = None      # 64-bit; masked to 51 bits when printed
    direction: Literal["to_server", "to_client"] | None = None
    app_proto: str | None = None    # detected application protocol name, e.g. "http"
    tx_id: int | None = None        # app-layer transaction the alert matched
    flow_pkts_toserver: int = 0
    flow_pkts_toclient: int = 0
    flow_bytes_toserver: int = 0
    flow_bytes_toclient: int = 0
    flow_start_ns: int = 0          # xdpfw_flow.first_ns, as a wall-clock time
    # --- detection
    rule: RuleInfo | None = None    # required for alerts; for drops, the rule that dropped
    action: str = "alert"           # the rule's action: alert drop pass reject rejectsrc rejectdst rejectboth
    verdict: str | None = None      # the packet's final action (same values); None: same as action
    ips: bool = True                # inline (IPS) mode; False in tap mode, where nothing is dropped
    # --- drop event fields (the dropped packet's headers)
    ip_len: int = 0                 # IPv4 total length; IPv6 payload length
    ip_tos: int = 0                 # IPv4 TOS / IPv6 traffic class
    ip_ttl: int = 0                 # IPv4 TTL / IPv6 hop limit
    ip_id: int = 0                  # IPv4 identification
    ip_flowlbl: int = 0             # IPv6 flow label
    tcp_seq: int = 0
    tcp_ack: int = 0
    tcp_win: int = 0
    tcp_flags: int = 0              # byte 13 of the TCP header: CWR ECE URG ACK PSH RST SYN FIN
    tcp_res: int = 0                # the 4 reserved bits of the TCP header
    tcp_urgp: int = 0               # urgent pointer
    udp_len: int = 0                # UDP length field
    icmp_id: int = 0                # ICMPv4 echo identifier / sequence
    icmp_seq: int = 0
    drop_reason: str | None = None  # one of DROP_REASONS

    @property
    def final_action(self) -> str:
        return self.verdict if self.verdict is not None else self.action

    @property
    def blocked(self) -> bool:
        """The packet was not forwarded: dropped or rejected, in IPS mode."""
        return self.ips and (self.final_action == "drop" or self.final_action in _REJECT_TARGET)


def _check_int(name: str, v: Any, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ValueError(f"{name} out of range [{lo}, {hi}]: {v!r}")
    return v


class EveFormatter:
    """Formats :class:`EveEvent` as EVE JSON lines, keys in Suricata 7's order.

    Options mirror Suricata's ``eve-log`` settings, with Suricata's defaults except
    ``verdict`` (Suricata: off; here on, because an inline appliance's operators want the
    packet's fate on every alert):

    - ``flow``: the ``flow`` object on alerts (Suricata ``metadata: flow``, default on).
    - ``rule_metadata``: ``alert.metadata`` (``metadata: rule.metadata``, default on).
    - ``raw_rule``: ``alert.rule``, the rule text (``metadata: rule.raw``, default off).
    - ``verdict``: the ``verdict`` object on alerts (``alert.verdict``).
    - ``drop_alerts``: the ``alert`` object on drop events (``drop.alerts``, default on).
    - ``drop_verdict``: the ``verdict`` object on drop events (``drop.verdict``).
    - ``sensor_id``: top-level ``sensor_id``; ``host``: the sensor name, ``host``.
    """

    def __init__(self, *, flow: bool = True, rule_metadata: bool = True, raw_rule: bool = False,
                 verdict: bool = True, drop_alerts: bool = True, drop_verdict: bool = True,
                 sensor_id: int | None = None, host: str | None = None) -> None:
        self.flow = flow
        self.rule_metadata = rule_metadata
        self.raw_rule = raw_rule
        self.verdict = verdict
        self.drop_alerts = drop_alerts
        self.drop_verdict = drop_verdict
        self.sensor_id = sensor_id
        self.host = host

    def format(self, ev: EveEvent) -> str:
        """One line of JSON, without the newline."""
        return _ENCODER.encode(self.to_dict(ev))

    def to_dict(self, ev: EveEvent) -> dict[str, Any]:
        if ev.kind == "alert":
            return self._alert(ev)
        if ev.kind == "drop":
            return self._drop(ev)
        raise ValueError(f"unknown event kind {ev.kind!r}")

    # -- pieces, in the order Suricata writes them

    def _header(self, ev: EveEvent, event_type: str) -> dict[str, Any]:
        if ev.action not in ACTIONS:
            raise ValueError(f"unknown action {ev.action!r}")
        if ev.verdict is not None and ev.verdict not in ACTIONS:
            raise ValueError(f"unknown verdict {ev.verdict!r}")
        _check_int("proto", ev.proto, 0, 255)
        d: dict[str, Any] = {"timestamp": format_timestamp(ev.ts_ns)}
        if ev.flow_id is not None:
            d["flow_id"] = _check_int("flow_id", ev.flow_id, 0, (1 << 64) - 1) & FLOW_ID_MASK
        if self.sensor_id is not None:
            d["sensor_id"] = self.sensor_id
        if ev.in_iface:
            d["in_iface"] = ev.in_iface
        if ev.pcap_cnt:
            d["pcap_cnt"] = ev.pcap_cnt
        d["event_type"] = event_type
        if ev.vlan:
            d["vlan"] = [_check_int("vlan", v, 0, 4095) for v in ev.vlan]
        d["src_ip"] = format_ip(ev.src_addr, ev.ip_version)
        # Suricata 7 prints both ports for every protocol: 0 where there are none.
        d["src_port"] = _check_int("src_port", ev.src_port, 0, 65535) if ev.proto in _PORT_PROTOS else 0
        d["dest_ip"] = format_ip(ev.dst_addr, ev.ip_version)
        d["dest_port"] = _check_int("dst_port", ev.dst_port, 0, 65535) if ev.proto in _PORT_PROTOS else 0
        d["proto"] = proto_name(ev.proto)
        if ev.l4_decoded and ev.proto in (IPPROTO_ICMP, IPPROTO_ICMPV6):
            d["icmp_type"] = _check_int("icmp_type", ev.icmp_type, 0, 255)
            d["icmp_code"] = _check_int("icmp_code", ev.icmp_code, 0, 255)
        d["pkt_src"] = ev.pkt_src
        if ev.tunnel:
            t = ev.tunnel
            d["tunnel"] = {"src_ip": format_ip(t["src"], t["ip_version"]),
                           "dest_ip": format_ip(t["dst"], t["ip_version"]),
                           "proto": proto_name(_check_int("tunnel.proto", t["proto"], 0, 255)),
                           "depth": _check_int("tunnel.depth", t["depth"], 1, 255)}
        return d

    def _alert_object(self, ev: EveEvent, d: dict[str, Any], full: bool) -> None:
        """``tx_id`` and ``alert`` into ``d``. ``full``: with metadata and rule text."""
        r = ev.rule
        if r is None:
            raise ValueError(f"{ev.kind} event without a rule")
        blocked = ev.action in _REJECT_TARGET or (ev.action == "drop" and ev.ips)
        if ev.tx_id is not None:
            d["tx_id"] = ev.tx_id
        a: dict[str, Any] = {
            "action": "blocked" if blocked else "allowed",
            "gid": r.gid,
            "signature_id": r.sid,
            "rev": r.rev,
            "signature": r.msg,
            "category": r.category,
            "severity": r.severity,
        }
        if r.target is not None:
            self._source_target(ev, d, a, r.target)
        if full and self.rule_metadata and r.eve_metadata:
            a["metadata"] = r.eve_metadata
        if full and self.raw_rule and r.text:
            a["rule"] = r.text
        d["alert"] = a

    @staticmethod
    def _source_target(ev: EveEvent, d: dict[str, Any], a: dict[str, Any], target: str) -> None:
        # target:dest_ip -> the packet's destination is attacked; target:src_ip the reverse.
        src = {"ip": d["src_ip"]}
        dst = {"ip": d["dest_ip"]}
        if ev.proto in _PORT_PROTOS:
            src["port"] = d["src_port"]
            dst["port"] = d["dest_port"]
        if target == "dest_ip":
            a["source"], a["target"] = src, dst
        else:
            a["source"], a["target"] = dst, src

    def _verdict(self, ev: EveEvent) -> dict[str, Any]:
        v = ev.final_action
        if v in _REJECT_TARGET:
            out: dict[str, Any] = {"action": "drop" if ev.ips else "alert",
                                   "reject-target": _REJECT_TARGET[v]}
            if ev.proto == IPPROTO_TCP:
                out["reject"] = ["tcp-reset"]
            elif ev.proto in (IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6):
                out["reject"] = ["icmp-prohib"]
            else:
                out["reject"] = []
            return out
        if v == "drop" and ev.ips:
            return {"action": "drop"}
        if v == "pass":
            return {"action": "pass"}
        return {"action": "alert"}

    def _alert(self, ev: EveEvent) -> dict[str, Any]:
        d = self._header(ev, "alert")
        self._alert_object(ev, d, full=True)
        if ev.flow_id is not None:
            if ev.app_proto:
                d["app_proto"] = ev.app_proto
            if ev.direction not in DIRECTIONS:
                raise ValueError(f"alert on a flow needs a direction, got {ev.direction!r}")
            d["direction"] = ev.direction
            if self.flow:
                f: dict[str, Any] = {
                    "pkts_toserver": ev.flow_pkts_toserver,
                    "pkts_toclient": ev.flow_pkts_toclient,
                    "bytes_toserver": ev.flow_bytes_toserver,
                    "bytes_toclient": ev.flow_bytes_toclient,
                    "start": format_timestamp(ev.flow_start_ns),
                }
                # The flow's endpoints, client first. Suricata adds the ports only when
                # the packet's source port is non-zero (so never for ICMP).
                to_client = ev.direction == "to_client"
                f["src_ip"] = d["dest_ip"] if to_client else d["src_ip"]
                f["dest_ip"] = d["src_ip"] if to_client else d["dest_ip"]
                if d["src_port"] > 0:
                    f["src_port"] = d["dest_port"] if to_client else d["src_port"]
                    f["dest_port"] = d["src_port"] if to_client else d["dest_port"]
                d["flow"] = f
        if self.verdict:
            d["verdict"] = self._verdict(ev)
        if self.host is not None:
            d["host"] = self.host
        return d

    def _drop(self, ev: EveEvent) -> dict[str, Any]:
        d = self._header(ev, "drop")
        if ev.flow_id is not None:
            if ev.direction not in DIRECTIONS:
                raise ValueError(f"drop on a flow needs a direction, got {ev.direction!r}")
            d["direction"] = ev.direction
        dr: dict[str, Any] = {"len": ev.ip_len}
        if ev.ip_version == 4:
            dr["tos"] = ev.ip_tos
            dr["ttl"] = ev.ip_ttl
            dr["ipid"] = ev.ip_id
        else:
            dr["tc"] = ev.ip_tos
            dr["hoplimit"] = ev.ip_ttl
            dr["flowlbl"] = ev.ip_flowlbl
        if ev.l4_decoded:
            if ev.proto == IPPROTO_TCP:
                fl = ev.tcp_flags
                dr.update(tcpseq=ev.tcp_seq, tcpack=ev.tcp_ack, tcpwin=ev.tcp_win,
                          syn=bool(fl & 0x02), ack=bool(fl & 0x10), psh=bool(fl & 0x08),
                          rst=bool(fl & 0x04), urg=bool(fl & 0x20), fin=bool(fl & 0x01),
                          tcpres=ev.tcp_res, tcpurgp=ev.tcp_urgp)
            elif ev.proto == IPPROTO_UDP:
                dr["udplen"] = ev.udp_len
            elif ev.proto == IPPROTO_ICMP:
                # Suricata logs these for ICMPv4 only (not for IPv6-ICMP).
                dr["icmp_id"] = ev.icmp_id
                dr["icmp_seq"] = ev.icmp_seq
        if ev.drop_reason is not None:
            if ev.drop_reason not in DROP_REASONS:
                raise ValueError(f"unknown drop reason {ev.drop_reason!r}")
            dr["reason"] = ev.drop_reason
        d["drop"] = dr
        if self.drop_verdict:
            d["verdict"] = self._verdict(ev)
        if self.drop_alerts and ev.rule is not None:
            self._alert_object(ev, d, full=False)
        if self.host is not None:
            d["host"] = self.host
        return d


_DEFAULT_FORMATTER = EveFormatter()


def format_event(ev: EveEvent) -> str:
    """One line with the default options (see :class:`EveFormatter`)."""
    return _DEFAULT_FORMATTER.format(ev)


class Stats:
    """``event_type: stats`` lines: ``{"timestamp", "event_type", "stats": {...}}``.

    Counters are named with dots (``decoder.pkts``, ``detect.alert``); each dot opens a
    nested object, in the order names are first given, as Suricata builds its tree.
    ``stats.uptime`` (whole seconds since ``start_ns``) comes first. docs/EVE.md lists
    our counter tree: Suricata's names where the meaning is the same, ``xdpfw.*`` for
    the rest. ``detect.engines`` is a list of objects (one per loaded ruleset), as in
    Suricata; give it with ``engines=``.
    """

    def __init__(self, start_ns: int | None = None, *, host: str | None = None) -> None:
        self.start_ns = time.time_ns() if start_ns is None else start_ns
        self.host = host

    def to_dict(self, counters: Mapping[str, int] | Iterable[tuple[str, int]], *,
                ts_ns: int | None = None, engines: Iterable[Mapping[str, Any]] | None = None) -> dict[str, Any]:
        ts_ns = time.time_ns() if ts_ns is None else ts_ns
        tree: dict[str, Any] = {"uptime": max(0, (ts_ns - self.start_ns) // 1_000_000_000)}
        items = counters.items() if isinstance(counters, Mapping) else counters
        for name, value in items:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"counter {name!r} is not an integer: {value!r}")
            parts = name.split(".")
            if not all(parts) or name == "uptime":
                raise ValueError(f"bad counter name {name!r}")
            node = tree
            for p in parts[:-1]:
                child = node.setdefault(p, {})
                if not isinstance(child, dict):
                    raise ValueError(f"counter {name!r}: {p!r} is already a counter")
                node = child
            if parts[-1] in node:
                raise ValueError(f"counter {name!r} given twice, or is also a group")
            node[parts[-1]] = value
        if engines is not None:
            detect = tree.setdefault("detect", {})
            if not isinstance(detect, dict) or "engines" in detect:
                raise ValueError("detect.engines clashes with a counter")
            detect["engines"] = [dict(e) for e in engines]
        return {"timestamp": format_timestamp(ts_ns), "event_type": "stats", "stats": tree,
                **({"host": self.host} if self.host is not None else {})}

    def format(self, counters: Mapping[str, int] | Iterable[tuple[str, int]], *,
               ts_ns: int | None = None, engines: Iterable[Mapping[str, Any]] | None = None) -> str:
        return _ENCODER.encode(self.to_dict(counters, ts_ns=ts_ns, engines=engines))


def stats_counters(*, xdp: list | None = None, workers: Iterable[Mapping[str, Any]] = (),
                   xsk: Iterable[Iterable[Mapping[str, int]]] = (), engines: Iterable[Mapping[str, Any]] = (),
                   alerts_written: int = 0, eve: Mapping[str, int] | None = None,
                   xdp_action_labels: Iterable[str] = (), drop_reason_labels: Iterable[str] = (),
                   flow_event_labels: Iterable[str] = (), tcp_result_labels: Iterable[str] = ()) -> list[tuple[str, int]]:
    """The counter tree of a ``stats`` event (docs/EVE.md), from the counters the daemon
    reads at stats time: ``xdp`` [side][action] -> (packets, bytes) from the XDP program,
    ``workers`` each queue pair's ``counters()``, ``xsk`` each queue pair's
    XDP_STATISTICS per side, ``engines`` each engine's ``counters()``. Suricata's names
    where the meaning is the same, ``xdpfw.*`` for the rest. Pure: no appliance needed."""
    xdp_labels = list(xdp_action_labels)
    reasons = list(drop_reason_labels)
    flow_event_labels, tcp_result_labels = list(flow_event_labels), list(tcp_result_labels)
    out: list[tuple[str, int]] = []
    kernel_packets = sum(p for side in (xdp or []) for p, _ in side)
    kernel_drops = sum(st.get("rx_dropped", 0) + st.get("rx_ring_full", 0) for pair in xsk for st in pair)
    out += [("capture.kernel_packets", kernel_packets), ("capture.kernel_drops", kernel_drops)]

    workers = list(workers)
    engines = list(engines)

    def wsum(key: str) -> int:
        return sum(sum(c[key]) for c in workers)

    def esum(key: str) -> int:
        return sum(int(e.get(key, 0)) for e in engines)

    rx_packets, rx_bytes = wsum("rx_packets"), wsum("rx_bytes")
    out += [("decoder.pkts", esum("packets") if engines else rx_packets), ("decoder.bytes", rx_bytes)]
    if engines:
        out.append(("decoder.invalid", esum("decode_errors")))
        events = [sum(e["flows"]["events"][i] for e in engines) for i in range(len(flow_event_labels))]
        ev = dict(zip(flow_event_labels, events))
        tcp = [sum(e["flows"]["tcp"][i] for e in engines) for i in range(len(tcp_result_labels))]
        tc = dict(zip(tcp_result_labels, tcp))
        out += [("flow.total", ev.get("created", 0)),
                ("flow.active", sum(e["flows"]["active"] for e in engines)),
                ("flow.memcap", esum("no_flow")),
                ("tcp.midstream_pickups", tc.get("midstream", 0)),
                ("tcp.reassembly_gap", tc.get("gap", 0))]
        out += [("detect.alert", alerts_written),
                ("detect.alert_queue_overflow", esum("alert_ring_full")),
                ("detect.alerts_suppressed", esum("alerts_suppressed"))]
    drops: dict[str, int] = {r: 0 for r in reasons}
    for side in xdp or []:
        for i, label in enumerate(xdp_labels):
            if label == "acl_drop":
                drops["acl"] = drops.get("acl", 0) + side[i][0]
            elif label == "fail_closed":
                drops["fail_mode"] = drops.get("fail_mode", 0) + side[i][0]
    worker_drops = 0
    for c in workers:
        for side in c["drop_packets"]:
            for i, r in enumerate(reasons):
                drops[r] = drops.get(r, 0) + side[i]
                worker_drops += side[i]
    out += [("ips.accepted", wsum("fwd_packets")), ("ips.blocked", worker_drops),
            ("ips.rejected", wsum("replies") if workers and "replies" in workers[0] else 0)]
    out += [(f"xdpfw.dropped.{r}", n) for r, n in drops.items()]
    if engines:
        out += [(f"xdpfw.flow.{k}", v) for k, v in ev.items() if k != "created"]
        out += [(f"xdpfw.tcp.{k}", v) for k, v in tc.items()]
    if eve is not None:
        out += [(f"xdpfw.eve.{k}", int(v)) for k, v in eve.items()]
    return out
