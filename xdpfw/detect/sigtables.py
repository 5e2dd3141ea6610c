"""Rules -> the engine's signature tables (xdpfw/_fast/xdpfw_engine.h).

What the worker checks itself after a matcher report (or, for rules without payload
conditions, on every packet): protocol, address and port sets, direction (`<>`), flow
state and direction, dsize. Address sets become sorted, disjoint 128-bit ranges (IPv4 as
::ffff:a.b.c.d, the decoder's and the flow table's layout) searched by bisection; port
sets become sorted ranges.

Payload conditions are not here: the matcher databases report a signature index when a
rule's payload conditions hold (`report` for the streaming database, `block_report` for the
block-mode one: matcher pattern id -> signature index).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from xdpfw._fast import engine as E
from xdpfw.rules.intervals import subtract

V4_MAPPED = 0xFFFF << 32
MAX_FLOWBITS = 128  # xdpfw_flow.flowbits
THR_TYPE = {"limit": E.THR_LIMIT, "threshold": E.THR_THRESHOLD, "both": E.THR_BOTH}
TRACK = {"by_src": E.TRACK_SRC, "by_dst": E.TRACK_DST, "by_rule": E.TRACK_RULE, "by_both": E.TRACK_BOTH,
         "by_flow": E.TRACK_FLOW}
PROTO = {"ip": 0, "tcp": 6, "udp": 17, "icmp": 1, "http": 6, "tls": 6, "dns": 0, "pkthdr": 0}
REJECT = {"reject": E.REJECT_SRC, "rejectsrc": E.REJECT_SRC, "rejectdst": E.REJECT_DST,
          "rejectboth": E.REJECT_SRC | E.REJECT_DST}
ACTION = {"pass": E.ACT_PASS, "drop": E.ACT_DROP, "reject": E.ACT_REJECT, "rejectsrc": E.ACT_REJECT,
          "rejectdst": E.ACT_REJECT, "rejectboth": E.ACT_REJECT, "alert": E.ACT_ALERT}


class NotEngineRule(ValueError):
    """The rule uses something the engine's tables cannot express."""


@dataclass
class Sig:
    src: tuple[int, int, int]
    dst: tuple[int, int, int]
    sport: tuple[int, int, int]
    dport: tuple[int, int, int]
    action: int
    proto: int
    bidir: int
    flow: int
    dsize_op: int = E.DSIZE_NONE
    dsize_lo: int = 0
    dsize_hi: int = 0
    noalert: int = 0
    fb_isset: tuple[int, int] = (0, 0)
    fb_isnotset: tuple[int, int] = (0, 0)
    fb_set: tuple[int, int] = (0, 0)
    fb_unset: tuple[int, int] = (0, 0)
    fb_toggle: tuple[int, int] = (0, 0)
    fb_isset_any: int = 0
    fb_isnotset_any: int = 0
    thr_type: int = E.THR_NONE
    thr_track: int = 0
    thr_count: int = 0
    thr_seconds: int = 0
    supp: int = E.SUPP_NONE
    supp_addrs: tuple[int, int, int] = (0, 0, 0)
    rf: int = 0                  # a rate_filter applies
    rf_track: int = 0
    rf_count: int = 0
    rf_seconds: int = 0
    rf_action: int = 0
    rf_timeout: int = 0
    reject: int = 0              # XDPFW_REJECT_* bits
    app_proto: int = 0           # XDPFW_APP_* the flow must be detected as (0: any)
    blen_op: int = E.DSIZE_NONE  # bsize/urilen: length of the inspected buffer instance
    blen_lo: int = 0
    blen_hi: int = 0


@dataclass
class SigTables:
    sigs: list[Sig] = field(default_factory=list)
    addrs: list[tuple[int, int]] = field(default_factory=list)
    ports: list[tuple[int, int]] = field(default_factory=list)
    report: dict[int, int] = field(default_factory=dict)        # stream database id -> sig
    block_report: dict[int, int] = field(default_factory=dict)  # block database id -> sig
    # Stream rules the engine evaluates itself (compile_buffer combine="engine"): (sig,
    # formula tree over stream database pattern ids), see engine.pyx "combinations".
    stream_combos: list[tuple[int, object]] = field(default_factory=list)
    # Rules on decoder events: (XDPFW_APP_* protocol, 0 for the L2-L4 decoder; event index in
    # that decoder's table; signature).
    event_rules: list[tuple[int, int, int]] = field(default_factory=list)
    header_only: list[int] = field(default_factory=list)
    rules: list = field(default_factory=list)
    flowbit_ids: dict[str, int] = field(default_factory=dict)   # name -> bit (0..127)

    def _bits(self, names) -> tuple[int, int]:
        mask = 0
        for name in names:
            if name not in self.flowbit_ids:
                if len(self.flowbit_ids) == MAX_FLOWBITS:
                    raise NotEngineRule(f"more than {MAX_FLOWBITS} flowbit names in the rule set")
                self.flowbit_ids[name] = len(self.flowbit_ids)
            mask |= 1 << self.flowbit_ids[name]
        return (mask & 0xFFFFFFFFFFFFFFFF, mask >> 64)

    def _threshold(self, t, sig: "Sig") -> None:
        sig.thr_type = E.THR_DETECTION if t.keyword == "detection_filter" else THR_TYPE[t.type]
        if t.track not in TRACK:
            raise NotEngineRule(f"threshold track {t.track}")
        sig.thr_track, sig.thr_count, sig.thr_seconds = TRACK[t.track], t.count, t.seconds
        if t.count < 1:
            raise NotEngineRule("threshold count must be at least 1")

    def _suppress(self, supps, sig: "Sig") -> None:
        if len(supps) != 1:
            raise NotEngineRule("more than one suppress entry for the rule")
        (sp,) = supps
        if sp.track is None:
            sig.supp = E.SUPP_ALL
            return
        sig.supp = {"by_src": E.SUPP_SRC, "by_dst": E.SUPP_DST, "by_either": E.SUPP_EITHER}[sp.track]
        sig.supp_addrs = self._addr_set(sp.ip)

    def _flowbits(self, rule, sig: "Sig") -> None:
        acc = {"set": 0, "unset": 0, "toggle": 0, "isset": 0, "isnotset": 0}
        for cmd in ("isset", "isnotset"):
            entries = [fb for fb in rule.flowbits if fb.command == cmd]
            if len(entries) > 1 and any(fb.group == "any" for fb in entries):
                raise NotEngineRule(f"an 'any' flowbits group ({cmd} a|b) combined with another {cmd}")
        for fb in rule.flowbits:
            lo, hi = self._bits(fb.names)
            acc[fb.command] |= lo | (hi << 64)
            if fb.command == "isset" and fb.group == "any":
                sig.fb_isset_any = 1
            if fb.command == "isnotset" and fb.group == "any":
                sig.fb_isnotset_any = 1
        for cmd, mask in acc.items():
            setattr(sig, f"fb_{cmd}", (mask & 0xFFFFFFFFFFFFFFFF, mask >> 64))

    def _addr_set(self, aset) -> tuple[int, int, int]:
        if aset.is_any:
            return (0, 0, 1)
        first = len(self.addrs)
        self.addrs.extend((V4_MAPPED + lo, V4_MAPPED + hi) for lo, hi in aset.v4)
        # In the engine's 128-bit layout ::ffff:0:0/96 *is* IPv4: the IPv4 set alone decides
        # it, so an IPv6 range covering it (`any` is ::/0 too) must not re-admit addresses
        # the IPv4 part excludes (`[!224.0.0.1,any]`).
        self.addrs.extend(subtract(aset.v6, ((V4_MAPPED, V4_MAPPED + 0xFFFFFFFF),)))
        ranges = sorted(self.addrs[first:])
        merged: list[tuple[int, int]] = []
        for lo, hi in ranges:  # bisection needs disjoint ranges
            if merged and lo <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
            else:
                merged.append((lo, hi))
        self.addrs[first:] = merged
        return (first, len(merged), 0)

    def _port_set(self, pset) -> tuple[int, int, int]:
        if pset.is_any:
            return (0, 0, 1)
        first = len(self.ports)
        self.ports.extend(pset.ranges())
        return (first, len(self.ports) - first, 0)

    def add(self, rule, *, has_payload: bool, app_proto: int = 0, buf_len=None) -> int:
        """Append one rule; returns its signature index. app_proto: the application
        protocol the flow must be detected as; buf_len: (op, lo, hi) of its app buffer's
        length check (bsize, urilen)."""
        if rule.proto not in PROTO:
            raise NotEngineRule(f"protocol {rule.proto!r}")
        if str(rule.action) in ("rejectdst", "rejectboth") and rule.proto != "tcp":
            # reject/rejectsrc answer a TCP sender with a RST and any other sender with an
            # ICMP port unreachable; a reset towards the destination exists for TCP only.
            raise NotEngineRule(f"action {rule.action} on {rule.proto}: rejectdst/rejectboth need tcp "
                                "(reject/rejectsrc answer other protocols with ICMP unreachable)")
        flow = 0
        if rule.flow is not None:
            if rule.flow.state == "established":
                flow |= E.SIGF_ESTABLISHED
            elif rule.flow.state == "not_established":
                flow |= E.SIGF_NOT_ESTABLISHED
            if rule.flow.direction == "to_server":
                flow |= E.SIGF_TO_SERVER
            elif rule.flow.direction == "to_client":
                flow |= E.SIGF_TO_CLIENT
        sig = Sig(src=self._addr_set(rule.src), dst=self._addr_set(rule.dst),
                  sport=self._port_set(rule.src_ports), dport=self._port_set(rule.dst_ports),
                  action=ACTION[str(rule.action)], proto=PROTO[rule.proto],
                  bidir=int(rule.bidirectional), flow=flow, noalert=int(rule.noalert))
        if rule.dsize is not None:
            sig.dsize_op, sig.dsize_lo, sig.dsize_hi = _dsize(rule.dsize)
        if rule.flowbits:
            self._flowbits(rule, sig)
        if rule.threshold is not None:
            self._threshold(rule.threshold, sig)
        if rule.suppressions:
            self._suppress(rule.suppressions, sig)
        sig.reject = REJECT.get(str(rule.action), 0)
        sig.app_proto = app_proto
        if buf_len is not None:
            sig.blen_op, sig.blen_lo, sig.blen_hi = buf_len
        if rule.rate_filter is not None:
            rf = rule.rate_filter
            sig.rf, sig.rf_track, sig.rf_count = 1, TRACK[rf.track], rf.count
            sig.rf_seconds, sig.rf_action, sig.rf_timeout = rf.seconds, ACTION[rf.new_action], rf.timeout
        self.sigs.append(sig)
        self.rules.append(rule)
        idx = len(self.sigs) - 1
        if not has_payload:
            self.header_only.append(idx)
        return idx


def _dsize(m) -> tuple[int, int, int]:
    """An IntMatch as (op, lo, hi) over 0..65535, inclusive."""
    top = 65535
    v = m.value
    if m.op == "=":
        return E.DSIZE_RANGE, v, v
    if m.op == "!=":
        return E.DSIZE_NOT, v, v
    if m.op == "<":
        return (E.DSIZE_RANGE, 0, v - 1) if v > 0 else (E.DSIZE_NOT, 0, top)
    if m.op == "<=":
        return E.DSIZE_RANGE, 0, v
    if m.op == ">":
        return E.DSIZE_RANGE, v + 1, top
    if m.op == ">=":
        return E.DSIZE_RANGE, v, top
    return E.DSIZE_RANGE, v + 1, m.high - 1  # "<>" is exclusive in Suricata
