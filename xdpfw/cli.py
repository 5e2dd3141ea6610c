"""xdpfw command line: run | check | reload | replay | lab."""
from __future__ import annotations

import argparse
import logging
import sys


def _setup_logging(verbose: int) -> None:
    level = logging.DEBUG if verbose else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s: %(message)s",
                        datefmt="%Y-%m-%dT%H:%M:%S")


log = logging.getLogger("xdpfw")


def cmd_run(args: argparse.Namespace) -> int:
    """`xdpfw run [-c FILE] [flags]`: the configuration file, flags over it (given flags
    only), then xdpfw.service.daemon.Daemon (appliance, EVE outputs, metrics, control
    socket, reload on SIGHUP/SIGUSR2/`xdpfw reload`)."""
    from xdpfw.service.config import Config, ConfigError, check_runnable, load_config, merge_flags
    from xdpfw.service.daemon import Daemon

    try:
        if args.config:
            cfg = merge_flags(load_config(args.config), args)
        else:
            cfg = merge_flags(Config(), args, all_flags=True)
    except ConfigError as e:
        print(str(e), file=sys.stderr)
        return 1
    problems = check_runnable(cfg)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    return Daemon(cfg).run()


def cmd_check(args: argparse.Namespace) -> int:
    """`xdpfw check -c FILE [PATH...]` checks a configuration and builds its rules as run
    would; `xdpfw check PATH...` checks rule files alone (xdpfw.rules.check)."""
    if getattr(args, "config", None):
        from xdpfw.service.config import cmd_check as check_config

        return check_config(args)
    if not args.paths:
        print("xdpfw check: error: give rule files (PATH...) or a configuration (-c FILE)", file=sys.stderr)
        return 2
    from xdpfw.rules import check as check_mod

    return check_mod.run(args)


def _cache_arguments(p: argparse.ArgumentParser, default: str) -> None:
    p.add_argument("--cache-dir", metavar="DIR",
                   help=f"compile cache directory (default {default}; XDPFW_CACHE_DIR overrides the default)")
    p.add_argument("--no-cache", action="store_true",
                   help="build the rule set without the compile cache (neither read nor written)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="xdpfw", description=__doc__)
    p.add_argument("-v", "--verbose", action="count", default=0)
    sub = p.add_subparsers(dest="cmd", required=True)

    r = sub.add_parser("run", help="run inline between two interfaces")
    r.add_argument("-c", "--config", metavar="FILE", help="YAML configuration (docs/CONFIG.md); flags override it")
    r.add_argument("--inline", nargs=2, metavar=("IF_A", "IF_B"),
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
    r.add_argument("--strict", action="store_true",
                   help="refuse to start if any rule cannot run (default: alert rules that cannot are "
                        "skipped and reported)")
    r.add_argument("--control-socket", default="/run/xdpfw/xdpfw.sock", metavar="PATH",
                   help="control socket for `xdpfw reload` (default /run/xdpfw/xdpfw.sock; empty to disable)")
    _cache_arguments(r, "/var/lib/xdpfw/cache")
    r.set_defaults(func=cmd_run)
    from xdpfw.service.config import track_explicit

    track_explicit(r)  # flags override the file only when given

    chk = sub.add_parser("check", help="validate rule files (and classification/threshold config)")
    from xdpfw.rules import check as check_mod

    check_mod.add_arguments(chk)
    chk.add_argument("-c", "--config", metavar="FILE",
                     help="check a YAML configuration and build its rules as `xdpfw run` would "
                          "(PATHs, if given, replace its rule files)")
    chk.add_argument("--disable-conf-out", metavar="FILE",
                     help="with -c: write the sids of rules `run` would refuse as a suricata-update disable.conf")
    for action in chk._actions:  # PATH becomes optional with -c
        if action.dest == "paths":
            action.nargs = "*"
    _cache_arguments(chk, "with -c: the configuration's cache.directory")
    chk.set_defaults(func=cmd_check)

    rl = sub.add_parser("reload", help="reload the rules of a running xdpfw (control socket)")
    from xdpfw.service import ctl as ctl_mod

    ctl_mod.add_reload_arguments(rl)
    rl.set_defaults(func=ctl_mod.cmd_reload)

    rp = sub.add_parser("replay", help="run the inspection engine over pcap files, alerts as EVE JSON")
    from xdpfw.service import replay as replay_mod

    replay_mod.add_arguments(rp)
    rp.set_defaults(func=replay_mod.run)

    lab = sub.add_parser("lab", help="build a namespace lab and run the appliance inline in it")
    from xdpfw.tools import lab as lab_mod

    lab_mod.add_arguments(lab)
    lab.set_defaults(func=lab_mod.run)

    doc = sub.add_parser("doctor", help="check the kernel, bcc, capabilities and (--inline) the two interfaces")
    from xdpfw.tools import doctor as doctor_mod

    doctor_mod.add_arguments(doc)
    doc.set_defaults(func=doctor_mod.run)

    st = sub.add_parser("status", help="live view of a running appliance from its metrics endpoint")
    from xdpfw.tools import status as status_mod

    status_mod.add_arguments(st)
    st.set_defaults(func=status_mod.run)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    return args.func(args)
