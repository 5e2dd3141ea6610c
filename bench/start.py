"""Start and reload time with ET Open 2024, beside Suricata 7's start, in one run (root).

    .venv/bin/python -m bench.start [--rounds 2] [--taskset CPUS]

In the namespace lab (xdpfw/tools/netns.py), `xdpfw run --inline a0 b0 --rules ET-Open`
is timed from the command to its readiness line (`xdpfw: running`: rules built, XDP
attached, workers up):

  cold    an empty compile cache directory (everything parsed, lowered and compiled);
  warm    the same directory, filled by the cold start (a restart of an unchanged set);
  reload  `xdpfw reload` of the unchanged set on the running daemon (client wall time
          and the daemon's own figure), with the cache;
  nocache `--no-cache` (what a start cost before the cache: parallel compile only).

Suricata 7 (the reference): `suricata -r ONE-PACKET.pcap --runmode single` with the same
rules and variables as bench.suricata_readback, wall time from the command to its exit
(rule load, detection engine build, one packet, shutdown): its start. Suricata 7 has no
compiled-database cache, so its cold and warm starts are the same.

Memory: the daemon's resident set once running (VmRSS; VmHWM, the peak, in brackets)
beside Suricata's peak resident set (ru_maxrss). Both engines get the same CPUs
(--taskset, default: all).
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.differential.compare import ET_OPEN, oracle_vars
from tests.differential.oracle import _yaml, suricata_binary, suricata_version
from xdpfw.tools.lab import ApplianceProcess
from xdpfw.tools.netns import Lab

ROOT = Path(__file__).resolve().parents[1]


def _status(pid: int) -> dict[str, int]:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0]) // 1024
    return out


def _daemon_pid(proc) -> int:
    """`ip netns exec` execs the command: the child's pid is the daemon's."""
    return proc.pid


def xdpfw_start(lab, cache_dir: str, sock: str, extra: list[str], taskset: str | None) -> dict:
    app = ApplianceProcess(lab, "--xsk-mode", "copy", "--queues", "1", "--rules", str(ET_OPEN),
                           "--control-socket", sock, "--cache-dir", cache_dir, *extra, metrics_port=9642)
    if taskset:
        app.argv[:0] = ["taskset", "-c", taskset]
    t0 = time.perf_counter()
    app.start(timeout=900)
    took = time.perf_counter() - t0
    mem = _status(_daemon_pid(app.proc))
    return {"app": app, "seconds": took, "rss_mb": mem.get("VmRSS", 0), "hwm_mb": mem.get("VmHWM", 0)}


def xdpfw_reload(sock: str) -> dict:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "xdpfw", "reload", "--socket", sock], capture_output=True, text=True,
                       timeout=900, cwd=ROOT)
    took = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"xdpfw reload failed ({r.returncode}): {r.stdout}{r.stderr}")
    return {"seconds": took, "out": r.stdout.strip()}


def daemon_reload_seconds(app) -> float | None:
    for line in reversed(app.output):
        m = re.search(r"reload: generation \d+ live in ([0-9.]+) s", line)
        if m:
            return float(m.group(1))
    return None


def suricata_start(workdir: Path, taskset: str | None) -> dict:
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    pcap = workdir / "one.pcap"
    wrpcap(str(pcap), [Ether() / IP(src="198.18.0.1", dst="198.18.0.2") / UDP(sport=1, dport=2) / b"x"])
    rules = [str(f) for f in sorted(ET_OPEN.glob("*.rules"))]
    cfg = workdir / "suricata.yaml"
    cfg.write_text(_yaml(oracle_vars(), workdir, str(ET_OPEN / "classification.config"), ["alert"], rules)
                   .replace("unix-command:\n  enabled: yes\n", ""))
    argv = [suricata_binary(), "-c", str(cfg), "-r", str(pcap), "--runmode", "single", "--no-random", "-k", "none",
            "-l", str(workdir)]
    if taskset:
        argv[:0] = ["taskset", "-c", taskset]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    r = subprocess.run(argv, capture_output=True, text=True, timeout=1200)
    took = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"suricata failed ({r.returncode}):\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
    loaded = re.search(r"(\d+) rules successfully loaded", r.stdout + r.stderr)
    return {"seconds": took, "rss_mb": max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) // 1024,
            "loaded": int(loaded.group(1)) if loaded else -1}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=2, help="rounds of (suricata, cold, warm, reload, nocache)")
    ap.add_argument("--taskset", metavar="CPUS", help="pin both engines to these CPUs (taskset -c)")
    ap.add_argument("--skip-nocache", action="store_true", help="leave the --no-cache start out")
    a = ap.parse_args(argv)

    res: dict[str, list[float]] = {}
    mem: dict[str, list[int]] = {}
    loaded = None

    def note(name, secs, rss=None):
        res.setdefault(name, []).append(secs)
        if rss is not None:
            mem.setdefault(name, []).append(rss)
        print(f"  {name}: {secs:.2f} s" + (f", {rss} MB resident" if rss is not None else ""), file=sys.stderr)

    with Lab(prefix="xbench-st") as lab, tempfile.TemporaryDirectory(prefix="xdpfw-bench-start-") as tmp:
        sock = os.path.join(tmp, "ctl.sock")
        for rnd in range(a.rounds):
            print(f"round {rnd + 1}", file=sys.stderr)
            with tempfile.TemporaryDirectory(prefix="xdpfw-bench-suricata-") as d:
                s = suricata_start(Path(d), a.taskset)
            loaded = s["loaded"]
            note("Suricata 7 start", s["seconds"], s["rss_mb"])
            cache_dir = os.path.join(tmp, f"cache{rnd}")      # empty: cold
            for kind in ("cold", "warm"):
                st = xdpfw_start(lab, cache_dir, sock, [], a.taskset)
                note(f"xdpfw start, {kind} cache", st["seconds"], st["rss_mb"])
                if kind == "warm":
                    rl = xdpfw_reload(sock)
                    note("xdpfw reload, unchanged set (client)", rl["seconds"])
                    ds = daemon_reload_seconds(st["app"])
                    if ds is not None:
                        note("xdpfw reload, unchanged set (daemon)", ds)
                rc = st["app"].stop()
                if rc != 0:
                    raise RuntimeError(f"xdpfw exited {rc}:\n" + "\n".join(st["app"].output[-30:]))
                for line in st["app"].output:
                    if "compile cache" in line and "rule set" in line:
                        print("   ", line.split(": ", 1)[-1], file=sys.stderr)
            if not a.skip_nocache:
                st = xdpfw_start(lab, os.path.join(tmp, "unused"), sock, ["--no-cache"], a.taskset)
                note("xdpfw start, --no-cache", st["seconds"], st["rss_mb"])
                st["app"].stop()

    ref = statistics.median(res["Suricata 7 start"])
    print(f"\nStart with ET Open 2024 ({loaded} rules loaded by Suricata {suricata_version()}), "
          f"median of {a.rounds} round(s), {platform.node()} {platform.release()}, {os.cpu_count()} CPUs"
          + (f", pinned to CPUs {a.taskset}" if a.taskset else "") + "\n")
    print("| what | seconds | vs Suricata 7 start (time ratio) | resident MB |")
    print("|---|---:|---:|---:|")
    for name, vals in res.items():
        m = statistics.median(vals)
        rss = f"{statistics.median(mem[name]):.0f}" if name in mem else "-"
        print(f"| {name} | {m:.2f} | {m / ref:.2f}x | {rss} |")
    print("\n(time ratio: xdpfw's time / Suricata's; below 1.00x xdpfw is faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
