"""The engine bench's run (b) alone, for profiles and counters: the benchmark capture through
one engine with the ET Open 2024 rules it runs, the rule set from the compile cache.

    taskset -c 1 .venv/bin/python -m bench.replay_profile [--encryption-handling default]
        [--no-block-prefilter] [--no-stream-groups] [--no-app-groups] [--alerts-out FILE]
    perf record -g -p $(pgrep -f bench.replay_profile) -- sleep 3   # once it prints "replaying"

Prints the replay time and the engine counters that say what it did (bytes through the
payload matchers, matcher reports, alerts, TLS flows settled), so settings can be compared
by what they change as well as by time; docs/BENCHMARKS.md quotes both.
"""
from __future__ import annotations

import argparse
import sys
import time

from bench.engine_bench import ET, PCAP


def _key(a: dict) -> tuple:
    """An alert as a comparable line: packet number, signature, action, addresses."""
    return (a["pkt_num"], a["sig"], a["action"], a["src"], a["sport"], a["dst"], a["dport"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--encryption-handling", choices=("default", "bypass", "full"), default="default")
    ap.add_argument("--no-block-prefilter", action="store_true",
                    help="scan the whole block database on every datagram (the design before prefilter.py)")
    ap.add_argument("--no-stream-groups", action="store_true",
                    help="scan every flow direction with the whole stream database (before streamgroups.py)")
    ap.add_argument("--no-app-groups", action="store_true",
                    help="scan every app-buffer instance with its buffer's whole database")
    ap.add_argument("--alerts-out", metavar="FILE", help="write the alerts, one per line, sorted, for comparing runs")
    a = ap.parse_args(argv)
    from xdpfw.detect.cache import open_cache
    from xdpfw.detect.ruleset import build_detection
    from xdpfw.rules import load_ruleset

    det = build_detection(load_ruleset([str(ET)]).rules, kernel_acl=False,
                          cache=open_cache(None, enabled=True, max_bytes=4 << 30, command="replay"))
    if a.no_block_prefilter:
        det.block_pre = None
    if a.no_stream_groups:
        det.stream_groups = None
    if a.no_app_groups and det.app:
        for ab in det.app.buffers:
            ab.groups = None
    data = PCAP.read_bytes()
    eng = det.engine_factory(flow_capacity=1 << 18, ips=False, gap_resync=4,
                             encryption_handling=a.encryption_handling)()
    print("replaying", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    res, alerts, all_alerts = {"offset": 0, "packets": 0, "done": False}, 0, []
    while not res["done"]:
        res = eng.replay_pcap(data, resume=res["offset"], packets_before=res["packets"])
        got = eng.drain_alerts()
        alerts += len(got)
        if a.alerts_out:
            all_alerts.extend(_key(x) for x in got)
    secs = time.perf_counter() - t0
    c = eng.counters()
    print(f"encryption-handling {a.encryption_handling}: {res['packets']} packets in {secs:.3f} s; "
          f"scanned {c['scanned_bytes']:,} B, matches {c['matches']:,}, alerts {alerts}, "
          f"TLS flows settled {c['encrypted_flows'] + c['bypassed_flows']}, "
          f"header-only index {eng.header_rule_index}; block prefilter "
          f"{det.block_pre.summary() if det.block_pre else 'off'}: hits {c['prefilter_hits']:,}, "
          f"rules verified {c['prefilter_verified']:,}, overflows {c['prefilter_overflow']}; stream groups "
          f"{det.stream_groups.summary() if det.stream_groups else 'off'}")
    if a.alerts_out:
        with open(a.alerts_out, "w") as f:
            for x in sorted(all_alerts):
                print(*x, file=f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
