"""Inspection-engine throughput on the benchmark capture, one core, in one run.

    .venv/bin/python -m bench.engine_bench [--repeat 3]

../shared/corpus/pcaps/bench/mixed-realistic.pcap is loaded into memory once, then:

  (a) the engine with no rules: decode, flow table, TCP in-order tracking;
  (b) the engine with every ET Open 2024 rule the engine can run today (the application
      layer included; the rules it refuses are counted and left out), in IDS mode;
  (c) the matching limit: a plain Hyperscan block-mode scan of the same payload bytes
      (every TCP/UDP payload of the capture, each once) with the same expressions (those of
      the streaming database and of every application-buffer database, compiled together
      in block mode).

Prints Gbit/s and ns/packet for each, the ratio (b)/(c), per-flow memory (flow entry,
matcher stream slot and Hyperscan stream state) and the time to compile the rules.
"""
from __future__ import annotations

import argparse
import re
import time
from array import array
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
PCAP = CORPUS / "pcaps" / "bench" / "mixed-realistic.pcap"
ET = CORPUS / "et-open"


def _rss_mb() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 // (1 << 20)


def payloads(data: bytes):
    """Offsets and lengths of every TCP/UDP payload, through the same decoder."""
    from xdpfw._fast.decode import decode_to_dict
    from xdpfw.ref.pcap import read_packets

    buf, offs, lens = bytearray(), array("Q"), array("I")
    for linktype, frame in read_packets(PCAP):
        if linktype != 1:
            continue
        d = decode_to_dict(frame)
        if d.get("l4_proto") in (6, 17) and d.get("payload_len"):
            offs.append(len(buf))
            lens.append(d["payload_len"])
            buf += frame[d["payload_off"]:d["payload_off"] + d["payload_len"]]
    return bytes(buf), offs, lens


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args(argv)

    from xdpfw._fast import engine as E
    from xdpfw._fast import flow, match_hs
    from xdpfw._fast.match import scan_block_many
    from xdpfw.detect.ruleset import build_detection
    from xdpfw.detect.sigtables import SigTables
    from xdpfw.rules import load_ruleset

    data = PCAP.read_bytes()
    bits = len(data) * 8

    def run(make):
        times, pk = [], 0
        for _ in range(a.repeat):
            eng = make()
            t0 = time.perf_counter()
            res = {"offset": 0, "packets": 0, "done": False}
            while not res["done"]:
                res = eng.replay_pcap(data, resume=res["offset"], packets_before=res["packets"])
                eng.drain_alerts()
            times.append(time.perf_counter() - t0)
            pk = res["packets"]
        t = min(times)
        return t, pk, eng

    t_a, packets, _ = run(lambda: E.Engine(SigTables(), flow_capacity=1 << 18, ips=False, gap_resync=4))

    t0 = time.perf_counter()
    rs = load_ruleset([str(ET)])
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    det = build_detection(rs.rules, kernel_acl=False)
    t_compile = time.perf_counter() - t0
    reasons: dict[str, int] = {}
    for p in det.problems:
        if "application-layer" in p:
            key = "application layer"
        else:
            m = re.search(r"error: sid:\d+ (keyword '[^']+'|needs [^,]+)", p)
            key = m.group(1) if m else "other"
        reasons[key] = reasons.get(key, 0) + 1
    # memory of one live worker's engine (the default 65,536 flows) over the shared rule set
    rss0 = _rss_mb()
    eng_live = det.engine_factory(flow_capacity=1 << 16)()
    engine_mb, process_mb = _rss_mb() - rss0, _rss_mb()
    del eng_live
    t_b, _, eng_b = run(det.engine_factory(flow_capacity=1 << 18, ips=False, gap_resync=4))
    alerts_c = eng_b.counters()

    pl, offs, lens = payloads(data)
    # (c): every expression of the rule set - the streaming database's and every app
    # buffer's, combinations left out (their operands are in) - compiled into one block-mode
    # database, scanned over every TCP/UDP payload once: what a plain scanner of the same
    # expressions costs, with no decoding, no flows and no buffers.
    from xdpfw._fast.match import Pattern

    exprs = list(det.stream_db.patterns) + [p for ab in (det.app.buffers if det.app else ())
                                            if ab.db is not None for p in ab.db.patterns]
    ref = [Pattern(i, p.expression, literal=p.literal, nocase=p.nocase, min_offset=p.min_offset,
                   max_offset=p.max_offset, dotall=p.dotall, multiline=p.multiline, singlematch=True)
           for i, p in enumerate(x for x in exprs if not x.combination)]
    ref_db = match_hs.Database.compile(ref, mode="block")
    scratch = match_hs.Scratch(ref_db)
    t_c = min(scan_block_many(ref_db, scratch, offs, lens, pl)["ns"] for _ in range(a.repeat)) / 1e9

    combo = eng_b.combination_state_bytes
    appb = eng_b.app_state_bytes
    recs = 2 * flow.RECORD_DIR_SIZE + flow.RECORD_CHUNK_SIZE // 2   # default pool: a chunk per two flows
    hdrb = eng_b.header_rule_state_bytes
    # a direction's stream is of its group (streamgroups.py): at most the largest group's state
    ssize = max((d.stream_size for d in det.stream_groups.dbs if d is not None), default=0) \
        if det.stream_groups is not None else det.stream_db.stream_size
    flow_bytes = flow.FLOW_ENTRY_SIZE + recs + 2 * (24 + 8 + combo) + appb + hdrb + 2 * ssize
    print(f"capture: {PCAP.name}, {packets} packets, {len(data) / 1e6:.1f} MB; payload bytes {len(pl) / 1e6:.1f} MB")
    print(f"ET Open 2024: {len(rs.rules)} rules loaded in {t_load:.1f} s; engine runs {det.engine_rules}, "
          f"refused {len(det.problems)} ({', '.join(f'{k}: {v}' for k, v in sorted(reasons.items(), key=lambda x: -x[1])[:4])}); "
          f"compile {t_compile:.1f} s")
    print()
    print("| run | seconds | Gbit/s | ns/packet |")
    print("|---|---:|---:|---:|")
    for name, t in (("(a) engine, no rules", t_a), ("(b) engine, ET Open (runnable rules)", t_b)):
        print(f"| {name} | {t:.3f} | {bits / t / 1e9:.2f} | {t / packets * 1e9:.0f} |")
    print(f"| (c) Hyperscan block scan, same payload patterns | {t_c:.3f} | {len(pl) * 8 / t_c / 1e9:.2f} "
          f"(payload) | {t_c / len(offs) * 1e9:.0f} (per payload) |")
    print()
    print(f"(b)/(c) time ratio: {t_c / t_b:.2f}x  (target >= 0.5x)")
    print(f"per-flow memory: {flow.FLOW_ENTRY_SIZE} B flow entry + {recs} B insertion records "
          f"(2 x {flow.RECORD_DIR_SIZE} B headers + half a {flow.RECORD_CHUNK_SIZE} B chunk) + 2 x 32 B matcher slots + "
          f"2 x {combo} B combination bitmap + {appb} B app layer (decoder state, buffer instances, "
          f"transaction parts; app-buffer matcher streams come from per-buffer pools, per open instance) + "
          f"{hdrb} B header-only rules kept per direction + "
          f"2 x {ssize} B Hyperscan stream state (at most: the largest stream group's) = {flow_bytes} B")
    print(f"one worker engine with these rules and 65,536 flows: {engine_mb} MB over the shared rule set "
          f"(process resident: {process_mb} MB)")
    print(f"engine counters (b): alerts {alerts_c['alerts']}, matches {alerts_c['matches']}, "
          f"match overflow {alerts_c['match_overflow']}, stream pool empty {alerts_c['stream_pool_empty']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
