"""Suricata 7 readback of the benchmark capture: the real competitor, one core.

    taskset -c 1 .venv/bin/python -m bench.suricata_readback [--repeat 3]

`suricata -r mixed-realistic.pcap --runmode single -k none` with the whole ET Open 2024
set (Suricata runs all of it), the same variables as xdpfw's differential test
(Suricata's defaults, HOME_NET and EXTERNAL_NET any), IDS mode, alerts to EVE. Suricata's
own "time elapsed" line is the packet-processing time (rules are loaded before it starts);
the best of --repeat runs is reported next to its rule-load time and peak resident memory,
to set beside `bench.engine_bench` (b) run on the same core.
"""
from __future__ import annotations

import argparse
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.differential.compare import ET_OPEN, oracle_vars
from tests.differential.oracle import _yaml, read_eve, suricata_binary, suricata_version

PCAP = ET_OPEN.parent / "pcaps" / "bench" / "mixed-realistic.pcap"


def run_once(workdir: Path) -> dict:
    rules = [str(f) for f in sorted(ET_OPEN.glob("*.rules"))]
    cfg = workdir / "suricata.yaml"
    cfg.write_text(_yaml(oracle_vars(), workdir, str(ET_OPEN / "classification.config"), ["alert"], rules)
                   .replace("unix-command:\n  enabled: yes\n", ""))
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    r = subprocess.run([suricata_binary(), "-c", str(cfg), "-r", str(PCAP), "--runmode", "single",
                        "--no-random", "-k", "none", "-l", str(workdir)],
                       capture_output=True, text=True, timeout=1200)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"suricata failed ({r.returncode}):\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
    out = r.stdout + r.stderr
    m = re.search(r"time elapsed ([0-9.]+)s", out)
    loaded = re.search(r"(\d+) rules successfully loaded, (\d+) rules failed", out)
    return {"packets_s": float(m.group(1)), "wall_s": wall,
            "rss_mb": max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) // 1024,
            "loaded": int(loaded.group(1)) if loaded else -1, "failed": int(loaded.group(2)) if loaded else -1,
            "alerts": len(read_eve(workdir / "eve.json"))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args(argv)
    runs = []
    for i in range(a.repeat):
        with tempfile.TemporaryDirectory(prefix="xdpfw-bench-suricata-") as d:
            runs.append(run_once(Path(d)))
            print(f"run {i + 1}: {runs[-1]}", file=sys.stderr)
    best = min(runs, key=lambda r: r["packets_s"])
    npk = 133_299
    print(f"Suricata {suricata_version()} readback of {PCAP.name}, ET Open 2024 "
          f"({best['loaded']} rules loaded, {best['failed']} failed), one core, best of {a.repeat}:")
    print(f"  packet processing {best['packets_s']:.3f} s ({best['packets_s'] * 1e9 / npk:,.0f} ns/packet), "
          f"start incl. rule load {best['wall_s'] - best['packets_s']:.1f} s, peak RSS {best['rss_mb']} MB, "
          f"{best['alerts']} alerts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
