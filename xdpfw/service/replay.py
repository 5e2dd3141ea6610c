"""`xdpfw replay`: the inspection engine over captures, alerts as EVE JSON.

The same engine as a live worker (decode, flows, TCP in-order tracking, streaming match,
rule checks, verdicts), fed from pcap files instead of AF_XDP rings. Classic pcap files
are walked by the engine's C loop; pcapng files are read frame by frame in Python
(xdpfw.ref.pcap) and then inspected the same way. Every rule, IP-only ones included, runs
in the engine: there is no kernel ACL in replay.

IDS (default) vs IPS (--ips): in IPS mode drop rules block (EVE `drop` events, alert
action "blocked") and the TCP tracker enforces order as inline; in IDS mode nothing is
dropped and the tracker resyncs after a gap the capture will never fill.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path



def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("pcaps", nargs="+", metavar="PCAP")
    p.add_argument("--rules", action="append", required=True, metavar="PATH",
                   help="rule file or directory (repeatable)")
    p.add_argument("--eve", metavar="FILE", help="write EVE JSON here (default: stdout)")
    p.add_argument("--ips", action="store_true", help="inline semantics: drop rules block")
    p.add_argument("--var", "--vars", action="append", default=[], metavar="NAME=VALUE", dest="var",
                   help="rule variable, e.g. HOME_NET=[10.0.0.0/8] (repeatable)")
    p.add_argument("--flows", type=int, default=1 << 18, help="flow table capacity")
    p.add_argument("--threshold", metavar="FILE", help="threshold.config (event_filter, suppress)")
    p.add_argument("--classification", metavar="FILE", help="classification.config (default: Suricata's)")
    p.add_argument("--gap-resync", type=int, default=4,
                   help="IDS mode: give up on a TCP gap after N further segments (0: never)")
    p.add_argument("--strict", action="store_true",
                   help="refuse to start if any rule cannot run (default: alert rules that cannot are "
                        "skipped and reported)")
    p.add_argument("--encryption-handling", choices=("default", "bypass", "full"), default="default",
                   help="TLS flows once their application data starts, as Suricata's "
                        "app-layer.protocols.tls.encryption-handling: default (no more content "
                        "matching; header, flow and TLS rules go on), bypass (nothing more is "
                        "inspected), full (everything is)")
    p.add_argument("--matcher", choices=("hs", "ac"), default="hs",
                   help="payload matcher: hs (Hyperscan, default) or ac (Aho-Corasick: literal rules only)")
    p.add_argument("--cache-dir", metavar="DIR",
                   help="compile cache directory (default $XDG_CACHE_HOME/xdpfw; XDPFW_CACHE_DIR overrides it)")
    p.add_argument("--no-cache", action="store_true",
                   help="build the rule set without the compile cache (neither read nor written)")


def run(args: argparse.Namespace) -> int:
    from xdpfw.service.alerts import stdout_writer
    from xdpfw.detect.ruleset import RulesNotEnforceable, load_detection, report_lines
    from xdpfw.detect.cache import open_cache
    from xdpfw.service.outputs import EveFileWriter

    cache = open_cache(getattr(args, "cache_dir", None), enabled=not getattr(args, "no_cache", False),
                       command="replay")
    try:
        det = load_detection(args.rules, args.var, kernel_acl=False, threshold=args.threshold,
                             classification=args.classification, matcher=args.matcher,
                             strict=getattr(args, "strict", False), cache=cache)
    except RulesNotEnforceable as e:
        print(e, file=sys.stderr)
        return 1
    for line in report_lines(det):
        print("xdpfw replay: " + line.replace(": error: ", ": warning: ", 1), file=sys.stderr)
    print(f"xdpfw replay: {det.summary}", file=sys.stderr)
    writer = EveFileWriter(args.eve) if args.eve else None
    t0 = time.perf_counter()
    try:
        stats = replay_files(args.pcaps, det, writer.write if writer else stdout_writer, ips=args.ips,
                             flows=args.flows, gap_resync=args.gap_resync,
                             encryption_handling=getattr(args, "encryption_handling", "default"))
    finally:
        if writer:
            writer.close()
    secs = time.perf_counter() - t0
    for path, why in stats["unreadable"].items():
        print(f"xdpfw replay: {path}: cannot read: {why}", file=sys.stderr)
    print(f"replayed {stats['packets']} packets from {len(args.pcaps)} file(s) in {secs:.2f} s: "
          f"{stats['alerts']} alerts, {stats['dropped']} packets "
          f"{'dropped' if args.ips else 'would have been dropped'}, {stats['decode_errors']} decode errors, "
          f"{stats['flows']} flows"
          + (f"; {len(stats['unreadable'])} file(s) could not be read" if stats["unreadable"] else ""),
          file=sys.stderr)
    return 1 if stats["unreadable"] else 0


def replay_files(paths, det, write, *, ips: bool = False, flows: int = 1 << 18, gap_resync: int = 4,
                 encryption_handling: str = "default") -> dict:
    """Replay captures through one engine built from `det`; EVE lines go to `write`.
    A capture that cannot be read is reported in "unreadable" (path -> reason) and the
    others still run."""
    from xdpfw.service.alerts import AlertSink

    engine = det.engine_factory(flow_capacity=flows, gap_resync=0 if ips else gap_resync, ips=ips,
                                encryption_handling=encryption_handling)()
    sink = AlertSink(det.tables.rules, write, ips=ips, replay=True,
                     classifications=det.classifications)
    packets = dropped = 0
    unreadable: dict[str, str] = {}
    for path in paths:
        try:
            n, d = _replay_one(engine, sink, Path(path))
        except CaptureError as e:
            unreadable[str(path)] = str(e)
            n, d = e.packets, e.dropped
        packets += n
        dropped += d
    c = engine.counters()
    # IDS drops nothing: report what inline would have dropped at the point it decides
    return {"packets": packets, "dropped": dropped if ips else c["ids_would_drop"], "alerts": sink.alerts,
            "drops": sink.drops, "unreadable": unreadable,
            "decode_errors": c["decode_errors"], "flows": c["flows"]["active"], "engine": c}


class CaptureError(Exception):
    """A capture that could not be read (whole or from some point on)."""

    def __init__(self, message: str, packets: int = 0, dropped: int = 0):
        super().__init__(message)
        self.packets, self.dropped = packets, dropped


def _pcap_linktype(data: bytes) -> int | None:
    """The link type of a classic pcap file, None for anything else (pcapng, garbage)."""
    import struct

    if len(data) < 24:
        return None
    for order in "<>":
        if struct.unpack_from(order + "I", data)[0] in (0xA1B2C3D4, 0xA1B23C4D):
            return struct.unpack_from(order + "I", data, 20)[0] & 0xFFFF
    return None


def _replay_one(engine, sink, path: Path) -> tuple[int, int]:
    """(packets, dropped) of one capture; CaptureError when it cannot be read."""
    from xdpfw.ref.pcap import PcapError, read_packets_ts
    from xdpfw.service.capture import ETHERNET, LinkTypeError, describe, supported, to_ethernet

    try:
        data = path.read_bytes()
    except OSError as e:
        raise CaptureError(e.strerror or str(e)) from None
    if _pcap_linktype(data) == ETHERNET:  # the engine's own C loop over the file
        res = {"offset": 0, "packets": 0, "done": False}
        dropped = 0
        while not res["done"]:
            res = engine.replay_pcap(data, resume=res["offset"], packets_before=res["packets"])
            dropped += res["dropped"]
            sink.drain(engine)
        return res["packets"], dropped
    packets = dropped = 0
    try:
        for linktype, ts_ns, frame in read_packets_ts(path):
            if not supported(linktype):
                raise LinkTypeError(f"{describe(linktype)} is not supported"
                                    + (f" (after {packets} packets)" if packets else ""))
            packets += 1
            verdict, _ = engine.inspect_frame(to_ethernet(linktype, frame), 0, ts_ns, ts_ns=ts_ns,
                                              pkt_num=packets)
            dropped += verdict == "drop"
            sink.drain(engine)
    except (PcapError, LinkTypeError) as e:
        raise CaptureError(str(e), packets, dropped) from None
    return packets, dropped
