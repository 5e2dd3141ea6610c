"""Inline new-flow flood with ET Open: xdpfw beside Suricata 7 (af-packet IPS), one core.

    sudo .venv/bin/python -m bench.inline_flood [--seconds 5] [--rounds 3] [--one-source]

In the namespace lab (xdpfw/tools/netns.py), trafgen (pinned to CPU 0) floods 64-byte UDP
frames from the client namespace, each from a random source address in 198.18.0.0/16 and
a random source port: a new flow per packet, as a flood of spoofed sources is
(--one-source: from the client's own address, one host's flood, which xdpfw's flow-table
admission caps at its share of unverified entries: its other flows are refused). Each
inline engine in turn sits between the two veth "NICs", pinned to CPU 1:

  1. xdpfw run, the whole ET Open 2024 set (the differential test's variables), then with
     no rules (an empty rule file)
  2. Suricata 7, af-packet copy-mode ips between the same veths, workers runmode, one
     thread per interface, the same rules and variables, then with no rules

An XDP program on the server's veth counts and drops what arrives (bench.datapath's Sink),
so "delivered" is measured at the same point for all. Each engine is started once (rule
load not timed) and carries --rounds floods of --seconds; the median delivered rate is
reported with ratios against Suricata in the same rule configuration, beside the engine
process's CPU time per delivered packet. Absolute rates depend on the machine (trafgen on
one core may offer less than an engine could carry: the offered rate is printed too).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from bench.datapath import Sink, mac, one_round
from bench.inline_tls import Suricata, Xdpfw
from tests.differential.compare import ET_OPEN
from xdpfw.tools.netns import Lab


def flood_conf(lab: Lab, one_source: bool = False) -> str:
    """A 60-byte frame (64 with the FCS): Ethernet, IPv4 from 198.18.<random>.<random> (or,
    one_source, the client's own address) with its checksum recomputed per frame, UDP from
    a random port to port 9, 18 zero bytes."""
    dst_mac = ", ".join(f"0x{b}" for b in mac(lab.server.ns, lab.server.ifname).split(":"))
    src_mac = ", ".join(f"0x{b}" for b in mac(lab.client.ns, lab.client.ifname).split(":"))
    dst_ip = ", ".join(lab.server.ip.split("."))
    src_ip = ", ".join(lab.client.ip.split(".")) if one_source else "198, 18, drnd(), drnd()"
    return (
        "{\n"
        f"  {dst_mac}, {src_mac}, 0x08, 0x00,\n"
        "  0x45, 0x00, const16(46), drnd(), drnd(), 0x40, 0x00, 64, 17, csumip(14, 33),\n"
        f"  {src_ip}, {dst_ip},\n"
        "  drnd(), drnd(), const16(9), const16(26), const16(0),\n"
        "  fill(0x00, 18),\n"
        "}\n"
    )


def engines(lab: Lab, work: Path, empty: Path):
    """The four engines in the order they run: each name says its rules."""
    out = []
    for cls, label in ((Xdpfw, "xdpfw"), (Suricata, "Suricata af-packet IPS")):
        for rules, what in ((ET_OPEN, "ET Open"), (empty, "no rules")):
            d = work / f"{cls.__name__}-{what.replace(' ', '-')}"
            d.mkdir()
            eng = cls(lab, d, "default", rules)
            eng.name, eng.et = f"{label}, {what}", rules == ET_OPEN
            out.append(eng)
    return out


def refused(eng) -> float | None:
    """xdpfw: packets its flow-table admission refused (no entry: the source's share, or no
    room), from its metrics; None for Suricata (it admits every flow, evicting others)."""
    if not hasattr(eng, "app"):
        return None
    return sum(v for (n, lab), v in eng.app.metrics().items() if n == "xdpfw_dropped_packets_total"
               and dict(lab).get("reason") in ("flow_source_share", "flow_table_full"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--one-source", action="store_true",
                    help="every frame from the client's own address (random source ports): one host's flood")
    a = ap.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="xdpfw-bench-flood-") as d, Lab(prefix="xbf") as lab:
        work = Path(d)
        empty = work / "empty-rules"
        empty.mkdir()
        (empty / "none.rules").write_text("# no rules\n")
        (empty / "classification.config").write_text((ET_OPEN / "classification.config").read_text())
        conf = work / "flood.cfg"
        conf.write_text(flood_conf(lab, a.one_source))
        sink = Sink(lab)
        try:
            for eng in engines(lab, work, empty):
                eng.start()
                try:
                    rows = []
                    for _ in range(a.rounds):
                        r0 = refused(eng)
                        rows.append(one_round(lab, sink, str(conf), a.seconds, eng.pid))
                        rows[-1]["refused"] = None if r0 is None else (refused(eng) - r0) / rows[-1]["seconds"]
                finally:
                    eng.stop()
                for r in rows:
                    print(f"{eng.name}: {r['mpps'] * 1e3:.1f} kpps delivered of {r['sent'] / r['seconds'] / 1e3:.1f} "
                          f"offered, {r['proc_ns_per_pkt'] or 0:.0f} ns/pkt engine CPU", file=sys.stderr)
                med = {k: statistics.median(r[k] for r in rows if r[k] is not None)
                       for k in ("mpps", "proc_ns_per_pkt", "sent", "seconds")}
                med["refused"] = statistics.median(r["refused"] for r in rows) if rows[0]["refused"] is not None else None
                results.append((eng.name, eng.et, med))
        finally:
            sink.close()
    ref = {et: med for name, et, med in results if name.startswith("Suricata")}
    print(f"64-byte UDP flood, a new flow per packet ({'one source address' if a.one_source else 'random sources'}), "
          f"{a.seconds:g} s x {a.rounds} (median), engine on CPU 1, trafgen on CPU 0:\n")
    print("| engine | offered kpps | delivered kpps | vs Suricata | refused by flow admission, kpps "
          "| engine CPU ns/packet delivered | Suricata's / this |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, et, med in results:
        r = ref[et]
        ref_cell = "-" if med["refused"] is None else f"{med['refused'] / 1e3:.0f}"
        print(f"| {name} | {med['sent'] / med['seconds'] / 1e3:.0f} | {med['mpps'] * 1e3:.0f} | "
              f"{med['mpps'] / r['mpps']:.2f}x | {ref_cell} | {med['proc_ns_per_pkt']:.0f} | "
              f"{r['proc_ns_per_pkt'] / med['proc_ns_per_pkt']:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
