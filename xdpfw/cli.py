"""xdpfw command line: run | check | replay | lab."""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading


def _setup_logging(verbose: int) -> None:
    level = logging.DEBUG if verbose else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s: %(message)s",
                        datefmt="%Y-%m-%dT%H:%M:%S")


log = logging.getLogger("xdpfw")


def cmd_run(args: argparse.Namespace) -> int:
    from xdpfw.control.bpfload import AclTables
    from xdpfw.control.daemon import Appliance, ApplianceConfig
    from xdpfw.control.metrics import MetricsServer

    acl, engine_factory, det = AclTables.empty(), None, None
    if args.rules:
        from xdpfw.control.detection import RulesNotEnforceable, load_detection

        try:
            det = load_detection(args.rules, args.var, kernel_acl=True, threshold=args.threshold,
                                 classification=args.classification, matcher=args.matcher)
        except RulesNotEnforceable as e:
            print(str(e), file=sys.stderr)
            return 1
        acl = det.acl
        if det.engine_rules:
            engine_factory = det.engine_factory(flow_capacity=args.flows, replies=True)
        log.info("%s: %d rule(s) in the kernel ACL, %d in the inspection engine", det.summary,
                 len(det.in_kernel), det.engine_rules)
    cfg = ApplianceConfig(if_a=args.inline[0], if_b=args.inline[1], queues=args.queues,
                          fail_open=args.fail_mode == "open", xsk_mode=args.xsk_mode,
                          xdp_mode=args.xdp_mode, busy_poll=args.busy_poll, acl=acl,
                          engine_factory=engine_factory, watchdog_ms=args.watchdog_ms)
    app = Appliance(cfg)
    writer = None
    sink = None
    if det is not None and det.engine_rules:
        from xdpfw.control.alerts import AlertSink, stdout_writer
        from xdpfw.control.eve import EveFileWriter

        writer = EveFileWriter(args.eve) if args.eve else None
        sink = AlertSink(det.tables.rules, writer.write if writer else stdout_writer, ips=True,
                         in_iface=lambda side: (cfg.if_a, cfg.if_b)[side],
                         classifications=det.classifications)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    from xdpfw.control.bpfload import BpfLoadError

    try:
        app.start()
    except (BpfLoadError, OSError, ValueError) as e:
        log.error("cannot start: %s (nothing left attached)", e)
        return 1
    metrics = None
    try:
        if args.metrics_listen:
            from xdpfw.control.metrics import ControlStats

            control = ControlStats(sink=sink)
            if det is not None:
                control.set_detection(det)
            metrics = MetricsServer(app, args.metrics_listen, control=control)
            metrics.start()
        print("xdpfw: running", flush=True)  # readiness line for supervisors and tests
        while not stop.wait(0.2):
            if sink is not None:
                for engine in app.engines():
                    sink.drain(engine)  # alert rings -> EVE, off the packet path
            if app.workers_running() != len(app.pairs):
                log.error("a worker thread died; stopping")
                return 1
    finally:
        if metrics:
            metrics.stop()
        app.stop()
        if sink is not None:
            for engine in app.engines():
                sink.drain(engine)
        if writer is not None:
            writer.close()
        log.info("stopped; XDP detached from %s and %s", cfg.if_a, cfg.if_b)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="xdpfw", description=__doc__)
    p.add_argument("-v", "--verbose", action="count", default=0)
    sub = p.add_subparsers(dest="cmd", required=True)

    r = sub.add_parser("run", help="run inline between two interfaces")
    r.add_argument("--inline", nargs=2, metavar=("IF_A", "IF_B"), required=True,
                   help="the two interfaces; frames from one leave through the other")
    r.add_argument("--rules", action="append", default=[], metavar="PATH",
                   help="rule file or directory (repeatable)")
    r.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                   help="rule variable, e.g. HOME_NET=[198.18.0.0/15] (repeatable)")
    r.add_argument("--threshold", metavar="FILE", help="threshold.config (event_filter, suppress)")
    r.add_argument("--classification", metavar="FILE", help="classification.config (default: Suricata's)")
    r.add_argument("--fail-mode", choices=("open", "closed"), default="open",
                   help="what the XDP program does while no worker is bound (default: open)")
    r.add_argument("--queues", type=int, default=None,
                   help="queue pairs / worker threads (default: the interfaces' RX queue count)")
    r.add_argument("--metrics-listen", default="127.0.0.1:9640", metavar="ADDR:PORT",
                   help="Prometheus endpoint (default 127.0.0.1:9640; empty to disable)")
    r.add_argument("--xsk-mode", choices=("auto", "copy", "zerocopy"), default="auto",
                   help="AF_XDP bind mode (auto: zero-copy where the driver supports it)")
    r.add_argument("--xdp-mode", choices=("native", "generic"), default="native")
    r.add_argument("--busy-poll", action="store_true", help="spin instead of sleeping when idle")
    r.add_argument("--eve", metavar="FILE", help="write EVE JSON alerts here (default: stdout)")
    r.add_argument("--watchdog-ms", type=int, default=1000, metavar="MS",
                   help="if the workers stall this long, the XDP program applies the fail mode (0: off)")
    r.add_argument("--flows", type=int, default=1 << 16, help="flow table capacity per worker")
    r.add_argument("--matcher", choices=("hs", "ac"), default="hs",
                   help="payload matcher: hs (Hyperscan, default) or ac (Aho-Corasick: literal rules only)")
    r.set_defaults(func=cmd_run)

    chk = sub.add_parser("check", help="validate rule files (and classification/threshold config)")
    from xdpfw.rules import check as check_mod

    check_mod.add_arguments(chk)
    chk.set_defaults(func=check_mod.run)

    rp = sub.add_parser("replay", help="run the inspection engine over pcap files, alerts as EVE JSON")
    from xdpfw.control import replay as replay_mod

    replay_mod.add_arguments(rp)
    rp.set_defaults(func=replay_mod.run)

    lab = sub.add_parser("lab", help="build a namespace lab and run the appliance inline in it")
    from xdpfw.control import lab as lab_mod

    lab_mod.add_arguments(lab)
    lab.set_defaults(func=lab_mod.run)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    return args.func(args)
