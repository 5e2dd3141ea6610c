"""Engine alert records -> EVE JSON lines (control plane; never on the packet path).

The workers push fixed-size records into their SPSC rings; `AlertSink.drain()` takes
them out, turns each into an `EveEvent` (rule text and classification from the rule set,
built once per rule) and hands the formatted line to a writer. In IPS mode a blocked
packet also yields a `drop` event, as Suricata writes one.

Live reload: each record names the rule-set generation it came from and the engine
resolves its rule (`rec["rule"]`), so records queued before a swap still name the old
rules. RuleInfo is built once per rule object and kept while its set can still appear
in the ring (`set_rules` on every swap).
"""
from __future__ import annotations

import sys
from typing import Callable

from xdpfw.service.eve import _REJECT_TARGET, DROP_REASON_FOR, EveEvent, EveFormatter, RuleInfo
from xdpfw.dataplane.shared import DROP_REASON_LABELS


class AlertSink:
    def __init__(self, rules: list, write: Callable[[str], object], *, ips: bool = True,
                 in_iface: Callable[[int], str | None] = lambda side: None, replay: bool = False,
                 classifications=None, write_event: Callable[[str, str], object] | None = None):
        """write(line) gets every line; or write_event(event_type, line), when given, so
        outputs can keep only the types they want."""
        self.rules = rules
        self.classifications = classifications
        self.infos = [RuleInfo.from_rule(r, classifications) for r in rules]
        self._info_of: dict[int, tuple[object, RuleInfo]] = {id(r): (r, i) for r, i in zip(rules, self.infos)}
        self._older: dict[int, tuple[object, RuleInfo]] = {}
        self.write = write
        self.write_event = write_event
        self.ips = ips
        self.in_iface = in_iface
        self.replay = replay
        self.fmt = EveFormatter(flow=True)
        self.alerts = 0
        self.drops = 0
        self.blocked = 0   # alerts written with EVE alert.action "blocked" (metrics)

    def set_rules(self, rules: list, classifications=None) -> None:
        """A new rule set went live (reload). Infos of the previous set stay resolvable
        for records still queued; older ones are dropped."""
        self._older = self._info_of
        self.rules = rules
        self.classifications = classifications
        self.infos = [RuleInfo.from_rule(r, classifications) for r in rules]
        self._info_of = {id(r): (r, i) for r, i in zip(rules, self.infos)}

    def _info(self, rule) -> RuleInfo:
        for table in (self._info_of, self._older):
            hit = table.get(id(rule))
            if hit is not None and hit[0] is rule:
                return hit[1]
        info = RuleInfo.from_rule(rule, self.classifications)
        self._older[id(rule)] = (rule, info)
        return info

    def _emit(self, kind: str, line: str) -> None:
        if self.write_event is not None:
            self.write_event(kind, line)
        else:
            self.write(line)

    def event(self, rec: dict, kind: str = "alert") -> EveEvent:
        rule = rec.get("rule")
        if rule is None:
            rule = self.rules[rec["sig"]]
        info = self._info(rule)
        return EveEvent(
            kind=kind, ts_ns=rec["ts_ns"], ip_version=rec["ip_version"], src_addr=rec["src"],
            dst_addr=rec["dst"], proto=rec["proto"],
            src_port=rec["sport"] if rec["proto"] in (6, 17, 132) else 0,
            dst_port=rec["dport"] if rec["proto"] in (6, 17, 132) else 0,
            in_iface=self.in_iface(rec["side"]), pcap_cnt=rec["pkt_num"] if self.replay else None,
            flow_id=rec["flow_id"], direction=rec["direction"], rule=info,
            flow_pkts_toserver=rec["flow_pkts"][0], flow_pkts_toclient=rec["flow_pkts"][1],
            flow_bytes_toserver=rec["flow_bytes"][0], flow_bytes_toclient=rec["flow_bytes"][1],
            flow_start_ns=rec["flow_start_ns"],
            action=_effective_action(str(rule.action), rec["action"]),
            verdict="drop" if rec["blocked"] else None, ips=self.ips,
            drop_reason="rules" if kind == "drop" else None, app_proto=rec.get("app_proto"),
            vlan=tuple(rec.get("vlan", ())), tunnel=rec.get("tunnel"))

    def policy_event(self, rec: dict) -> EveEvent:
        """A packet the engine dropped by its own policy (TCP gap, refused fragment, full
        flow table...): an EVE drop event without a rule."""
        flow = rec.get("has_flow", True)
        return EveEvent(
            kind="drop", ts_ns=rec["ts_ns"], ip_version=rec["ip_version"], src_addr=rec["src"],
            dst_addr=rec["dst"], proto=rec["proto"],
            src_port=rec["sport"] if rec["proto"] in (6, 17, 132) else 0,
            dst_port=rec["dport"] if rec["proto"] in (6, 17, 132) else 0,
            in_iface=self.in_iface(rec["side"]), pcap_cnt=rec["pkt_num"] if self.replay else None,
            flow_id=rec["flow_id"] if flow else None, direction=rec["direction"] if flow else None,
            flow_pkts_toserver=rec["flow_pkts"][0], flow_pkts_toclient=rec["flow_pkts"][1],
            flow_bytes_toserver=rec["flow_bytes"][0], flow_bytes_toclient=rec["flow_bytes"][1],
            flow_start_ns=rec["flow_start_ns"], rule=None, action="drop", verdict="drop", ips=True,
            drop_reason=DROP_REASON_FOR.get(DROP_REASON_LABELS[rec["policy_reason"]]),
            app_proto=rec.get("app_proto"), vlan=tuple(rec.get("vlan", ())), tunnel=rec.get("tunnel"))

    def drain(self, engine) -> int:
        n = 0
        for rec in engine.drain_alerts(policy_drops=True):
            if rec.get("policy_reason") is not None:
                if self.ips:
                    self._emit("drop", self.fmt.format(self.policy_event(rec)))
                    self.drops += 1
                continue
            ev = self.event(rec)
            self._emit("alert", self.fmt.format(ev))
            self.alerts += 1
            self.blocked += ev.action in _REJECT_TARGET or (ev.action == "drop" and ev.ips)
            if rec["blocked"] and self.ips and rec["action"] in ("drop", "reject"):  # the deciding rule
                self._emit("drop", self.fmt.format(self.event(rec, "drop")))
                self.drops += 1
            n += 1
        return n


def _effective_action(rule_action: str, record_action: str) -> str:
    """The rule's action as written, unless a rate_filter changed it for this match (the
    record then carries the new one: pass, drop, reject or alert)."""
    same = record_action == rule_action or (record_action == "reject" and rule_action.startswith("reject"))
    return rule_action if same else record_action


def stdout_writer(line: str) -> None:
    sys.stdout.write(line + "\n")
