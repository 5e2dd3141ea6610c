"""Engine alert records -> EVE JSON lines (control plane; never on the packet path).

The workers push fixed-size records into their SPSC rings; `AlertSink.drain()` takes
them out, turns each into an `EveEvent` (rule text and classification from the rule set,
built once per rule) and hands the formatted line to a writer. In IPS mode a blocked
packet also yields a `drop` event, as Suricata writes one.
"""
from __future__ import annotations

import sys
from typing import Callable

from xdpfw.control.eve import _REJECT_TARGET, EveEvent, EveFormatter, RuleInfo


class AlertSink:
    def __init__(self, rules: list, write: Callable[[str], object], *, ips: bool = True,
                 in_iface: Callable[[int], str | None] = lambda side: None, replay: bool = False,
                 classifications=None):
        self.infos = [RuleInfo.from_rule(r, classifications) for r in rules]
        self.rules = rules
        self.write = write
        self.ips = ips
        self.in_iface = in_iface
        self.replay = replay
        self.fmt = EveFormatter(flow=True)
        self.alerts = 0
        self.drops = 0
        self.blocked = 0   # alerts written with EVE alert.action "blocked" (metrics)

    def event(self, rec: dict, kind: str = "alert") -> EveEvent:
        rule = self.rules[rec["sig"]]
        return EveEvent(
            kind=kind, ts_ns=rec["ts_ns"], ip_version=rec["ip_version"], src_addr=rec["src"],
            dst_addr=rec["dst"], proto=rec["proto"],
            src_port=rec["sport"] if rec["proto"] in (6, 17, 132) else 0,
            dst_port=rec["dport"] if rec["proto"] in (6, 17, 132) else 0,
            in_iface=self.in_iface(rec["side"]), pcap_cnt=rec["pkt_num"] if self.replay else None,
            flow_id=rec["flow_id"], direction=rec["direction"], rule=self.infos[rec["sig"]],
            flow_pkts_toserver=rec["flow_pkts"][0], flow_pkts_toclient=rec["flow_pkts"][1],
            flow_bytes_toserver=rec["flow_bytes"][0], flow_bytes_toclient=rec["flow_bytes"][1],
            flow_start_ns=rec["flow_start_ns"],
            action=str(rule.action), verdict="drop" if rec["blocked"] else None, ips=self.ips,
            drop_reason="rules" if kind == "drop" else None)

    def drain(self, engine) -> int:
        n = 0
        for rec in engine.drain_alerts():
            ev = self.event(rec)
            self.write(self.fmt.format(ev))
            self.alerts += 1
            self.blocked += ev.action in _REJECT_TARGET or (ev.action == "drop" and ev.ips)
            if rec["blocked"] and self.ips and rec["action"] in ("drop", "reject"):  # the deciding rule
                self.write(self.fmt.format(self.event(rec, "drop")))
                self.drops += 1
            n += 1
        return n


def stdout_writer(line: str) -> None:
    sys.stdout.write(line + "\n")
