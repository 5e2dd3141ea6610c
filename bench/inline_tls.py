"""Inline TLS bulk transfer with ET Open: xdpfw beside Suricata 7 (af-packet IPS), one core.

    sudo .venv/bin/python -m bench.inline_tls [--mbytes 64] [--rounds 3]

In the namespace lab (xdpfw/tools/netns.py), a TLS transfer of --mbytes (Python's ssl both
ends, pinned to CPU 0, checksum-verified) runs from the client to the server while each
inline engine in turn sits between the two veth "NICs", pinned to CPU 1, with the whole ET
Open 2024 set and the differential test's variables:

  1. xdpfw run, app-layer.protocols.tls.encryption-handling: default
  2. xdpfw run, encryption-handling: bypass (the flow handed to XDP once encrypted)
  3. Suricata 7, af-packet copy-mode ips between the same veths, workers runmode, one
     thread per interface, encryption-handling default
  4. Suricata 7, encryption-handling bypass (its local bypass: af-packet has no eBPF
     bypass for veth copy mode here)

Each engine is started once (rule load not timed) and carries --rounds transfers; the
median transfer rate, the engine process's CPU time per MB delivered (utime + stime of all
its threads) and, for xdpfw, the share of the transfer's frames the XDP program forwarded
without a worker are reported, with ratios against Suricata in the same mode. The
machine's softirq time (veth delivery, the XDP program itself) is charged to no process;
the whole machine's busy CPU time per MB is printed too.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.datapath import machine_busy_seconds, proc_cpu_seconds
from tests.differential.compare import ET_OPEN, oracle_vars
from tests.differential.oracle import _yaml, suricata_binary, suricata_version
from xdpfw.tools.lab import ApplianceProcess, metric, tcp_transfer, tls_certificate
from xdpfw.tools.netns import Lab, popen_in


class Xdpfw:
    def __init__(self, lab: Lab, workdir: Path, mode: str, rules: Path = ET_OPEN):
        self.name = f"xdpfw, encryption-handling {mode}"
        self.mode = mode
        conf = workdir / f"xdpfw-{mode}.yaml"
        vars_ = oracle_vars()
        lines = ["vars:", "  address-groups:"] + [f'    {k}: "{v}"' for k, v in vars_["address-groups"].items()]
        lines += ["  port-groups:"] + [f'    {k}: "{v}"' for k, v in vars_.get("port-groups", {}).items()]
        lines += ["app-layer:", "  protocols:", "    tls:", f"      encryption-handling: {mode}"]
        conf.write_text("\n".join(lines) + "\n")
        self.app = ApplianceProcess(lab, "-c", str(conf), "--rules", str(rules), "--xsk-mode", "copy",
                                    "--queues", "1", metrics_port=9642)
        self.app.argv[:0] = ["taskset", "-c", "1"]

    @property
    def pid(self):
        return self.app.proc.pid

    def start(self):
        self.app.start(timeout=600)

    def bypass_frames(self) -> tuple[float, float]:
        m = self.app.metrics()
        get = lambda action: sum(v for (n, lab), v in m.items()  # noqa: E731
                                 if n == "xdpfw_xdp_packets_total" and ("action", action) in lab)
        return get("bypass"), get("to_worker")

    def stop(self):
        rc = self.app.stop()
        if rc != 0:
            raise RuntimeError("xdpfw exited %d:\n%s" % (rc, "\n".join(self.app.output[-20:])))


class Suricata:
    def __init__(self, lab: Lab, workdir: Path, mode: str, rules: Path = ET_OPEN):
        self.name = f"Suricata {suricata_version()} af-packet IPS, encryption-handling {mode}"
        self.lab, self.mode = lab, mode
        self.dir = workdir / f"suricata-{mode}"
        self.dir.mkdir()
        files = [str(f) for f in sorted(rules.glob("*.rules"))]
        base = _yaml(oracle_vars(), self.dir, str(ET_OPEN / "classification.config"), ["alert", "drop"], files)
        base = base.replace("unix-command:\n  enabled: yes\n", "")
        afp = "".join(
            f"  - interface: {a}\n    threads: 1\n    copy-mode: ips\n    copy-iface: {b}\n"
            f"    cluster-id: {cid}\n    cluster-type: cluster_flow\n    defrag: no\n    use-mmap: yes\n"
            "    checksum-checks: no\n"
            for a, b, cid in ((lab.side_a, lab.side_b, 98), (lab.side_b, lab.side_a, 97)))
        self.cfg = self.dir / "suricata.yaml"
        # the flow table as Suricata's packaged suricata.yaml sizes it (its built-in default,
        # which a configuration without a flow section gets, is a 32 MB memcap)
        flow = "flow:\n  memcap: 128mb\n  hash-size: 65536\n  prealloc: 10000\n  emergency-recovery: 30\n"
        self.cfg.write_text(base + "af-packet:\n" + afp + flow +
                            f"app-layer:\n  protocols:\n    tls:\n      encryption-handling: {mode}\n")
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid

    def start(self):
        log = self.dir / "suricata.log"
        self.proc = popen_in(self.lab.fw_ns, ["taskset", "-c", "1", suricata_binary(), "-c", str(self.cfg),
                                              "--af-packet", "--runmode", "workers", "-k", "none",
                                              "-l", str(self.dir), "-v"],
                             stdout=open(log, "w"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"suricata exited {self.proc.returncode}:\n{log.read_text()[-3000:]}")
            if "Engine started" in log.read_text() or "engine started" in log.read_text():
                time.sleep(1.0)
                return
            time.sleep(0.5)
        raise RuntimeError("suricata did not start:\n" + log.read_text()[-3000:])

    def bypass_frames(self):
        return None

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mbytes", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args(argv)
    nbytes = a.mbytes << 20
    results = []
    with tempfile.TemporaryDirectory(prefix="xdpfw-bench-tls-") as d:
        work = Path(d)
        tls = tls_certificate(work)
        lab = Lab(prefix="xbt")
        lab.create()
        try:
            port = 8443
            for make, mode in ((Xdpfw, "default"), (Xdpfw, "bypass"), (Suricata, "default"), (Suricata, "bypass")):
                eng = make(lab, work, mode)
                eng.start()
                try:
                    rows = []
                    for _ in range(a.rounds):
                        port += 1
                        by0 = eng.bypass_frames()
                        cpu0, busy0 = proc_cpu_seconds(eng.pid), machine_busy_seconds()
                        t = tcp_transfer(lab, lab.client.ns, lab.server.ns, lab.server.ip, nbytes, port=port,
                                         timeout=120, tls=tls, cpus="0")
                        cpu, busy = proc_cpu_seconds(eng.pid) - cpu0, machine_busy_seconds() - busy0
                        if not t.ok:
                            raise RuntimeError(f"{eng.name}: transfer failed: {t.detail}")
                        by1 = eng.bypass_frames()
                        share = None
                        if by0 is not None:
                            bx, tw = by1[0] - by0[0], by1[1] - by0[1]
                            share = bx / (bx + tw) if bx + tw else 0.0
                        rows.append({"mb_s": nbytes / t.seconds / 1e6, "cpu_ms_per_mb": cpu * 1e3 / (nbytes / 1e6),
                                     "busy_ms_per_mb": busy * 1e3 / (nbytes / 1e6), "xdp_share": share})
                        print(f"{eng.name}: {rows[-1]}", file=sys.stderr)
                finally:
                    eng.stop()
                med = {k: (statistics.median(r[k] for r in rows) if rows[0][k] is not None else None)
                       for k in rows[0]}
                results.append((eng.name, mode, med))
        finally:
            lab.destroy()
    ref = {mode: med for name, mode, med in results if name.startswith("Suricata")}
    print(f"TLS transfer of {a.mbytes} MiB, ET Open 2024, engine on CPU 1, ends on CPU 0, median of {a.rounds}:")
    print()
    print("| engine | MB/s | vs Suricata | engine CPU ms/MB | Suricata's / this | machine CPU ms/MB | frames past the workers |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, mode, med in results:
        r = ref[mode]
        share = f"{med['xdp_share'] * 100:.2f}%" if med["xdp_share"] is not None else "-"
        cpu_ratio = (f"{r['cpu_ms_per_mb'] / med['cpu_ms_per_mb']:.2f}x" if med["cpu_ms_per_mb"] > 0
                     else "no engine CPU")
        print(f"| {name} | {med['mb_s']:.1f} | {med['mb_s'] / r['mb_s']:.2f}x | {med['cpu_ms_per_mb']:.2f} | "
              f"{cpu_ratio} | {med['busy_ms_per_mb']:.2f} | {share} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
