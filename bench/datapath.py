"""Data-path benchmark: 64-byte UDP flood through xdpfw, a C AF_XDP forwarder, a bridge.

    sudo .venv/bin/python -m bench.datapath [--seconds 5] [--rounds 3]

Builds the namespace lab (xdpfw/tools/netns.py) once and, in one run, floods 64-byte
UDP frames from the client namespace with trafgen (netsniff-ng) while each forwarder in
turn sits between the two veth "NICs":

  1. xdpfw run, no rules (the real daemon: XDP steering + Cython AF_XDP worker)
  2. bench/xsk_fwd: a minimal C AF_XDP shared-UMEM forwarder (the limit of this path)
  3. a Linux bridge (a0, b0 enslaved to br0)

The server's veth end runs an XDP program that counts and drops every frame, so the
delivered rate is measured at the same point for all three and the server's stack costs
nothing. The generator is pinned to CPU 0 and the forwarders to CPU 1 (taskset).

On a 2-CPU machine one trafgen cannot offer more than a forwarder can carry, so the
delivered rate may be capped by the generator (loss ~0); the CPU time each forwarder
process spends per delivered packet (utime+stime of the process, all threads) and the
whole machine's busy CPU time per delivered packet (/proc/stat) are then the figures that
tell forwarders apart. Rounds are interleaved (1,2,3,1,2,3,...) so drift on this shared machine hits
all forwarders alike; the median round of each is reported with ratios against (2) and
(3). Absolute figures depend on the machine; the ratios are the result.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from xdpfw.tools.lab import ApplianceProcess
from xdpfw.tools.netns import Lab, call_in_netns, popen_in, run_in

BENCH = Path(__file__).resolve().parent
XSK_FWD = BENCH / "xsk_fwd"

SINK_C = r"""
#include <uapi/linux/bpf.h>
BPF_PERCPU_ARRAY(count, u64, 1);
int sink(struct xdp_md *ctx) {
    int k = 0;
    u64 *c = count.lookup(&k);
    if (c) (*c)++;
    return XDP_DROP;
}
"""


class Sink:
    """Count-and-drop XDP program on the server's veth end."""

    def __init__(self, lab: Lab):
        from bcc import BPF

        self.lab = lab
        self.bpf = BPF(text=SINK_C)
        self.fn = self.bpf.load_func(b"sink", BPF.XDP)
        call_in_netns(lab.server.ns, BPF.attach_xdp, lab.server.ifname.encode(), self.fn, 1 << 2)

    def count(self) -> int:
        return sum(self.bpf[b"count"][0])

    def close(self):
        from bcc import BPF

        call_in_netns(self.lab.server.ns, BPF.remove_xdp, self.lab.server.ifname.encode(), 1 << 2)


def link_stats(ns: str, ifname: str) -> dict:
    out = run_in(ns, ["ip", "-j", "-s", "link", "show", "dev", ifname]).stdout
    return json.loads(out)[0]["stats64"]


def mac(ns: str, ifname: str) -> str:
    return json.loads(run_in(ns, ["ip", "-j", "link", "show", "dev", ifname]).stdout)[0]["address"]


def trafgen_conf(lab: Lab) -> str:
    # 14 (Ethernet) + 20 (IPv4) + 8 (UDP) + 18 payload = 60 bytes + 4 FCS = a 64-byte frame.
    return (
        "{\n"
        f"  eth(da={mac(lab.server.ns, lab.server.ifname)}, sa={mac(lab.client.ns, lab.client.ifname)}),\n"
        f"  ipv4(saddr={lab.client.ip}, daddr={lab.server.ip}, ttl=64),\n"
        "  udp(sport=4000, dport=9),\n"
        "  fill(0x00, 18),\n"
        "}\n"
    )


class Xdpfw:
    name = "xdpfw (no rules)"

    def __init__(self, lab):
        self.app = ApplianceProcess(lab, "--xsk-mode", "copy", "--queues", "1", metrics_port=9641)
        self.app.argv[:0] = ["taskset", "-c", "1"]

    @property
    def pid(self):
        return self.app.proc.pid

    def start(self):
        self.app.start()

    def stop(self):
        rc = self.app.stop()
        if rc != 0:
            raise RuntimeError("xdpfw exited %d:\n%s" % (rc, "\n".join(self.app.output[-20:])))


class CForwarder:
    name = "C AF_XDP forwarder"

    def __init__(self, lab):
        self.lab = lab
        self.proc = None

    def start(self):
        self.proc = popen_in(self.lab.fw_ns, ["taskset", "-c", "1", str(XSK_FWD), "--if-a", self.lab.side_a, "--if-b", self.lab.side_b,
                                              "--queue", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        time.sleep(1.0)
        if self.proc.poll() is not None:
            raise RuntimeError("xsk_fwd failed: " + self.proc.stderr.read())

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        out, err = self.proc.communicate(timeout=20)
        if self.proc.returncode != 0:
            raise RuntimeError(f"xsk_fwd exited {self.proc.returncode}: {err}")


class Bridge:
    name = "Linux bridge"

    def __init__(self, lab):
        self.lab = lab

    pid = None  # forwarding happens in softirq: no process to account

    def start(self):
        ns = self.lab.fw_ns
        run_in(ns, ["ip", "link", "add", "br0", "type", "bridge"])
        for dev in (self.lab.side_a, self.lab.side_b):
            run_in(ns, ["ip", "link", "set", dev, "master", "br0"])
        run_in(ns, ["ip", "link", "set", "br0", "up"])
        time.sleep(0.5)

    def stop(self):
        run_in(self.lab.fw_ns, ["ip", "link", "del", "br0"])


TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime, all threads


def machine_busy_seconds() -> float:
    cpu = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    vals = [int(x) for x in cpu]
    idle = vals[3] + vals[4]  # idle + iowait
    return (sum(vals[:8]) - idle) / TICK


def one_round(lab: Lab, sink: Sink, conf: str, seconds: float, fwd_pid: int | None) -> dict:
    c0 = link_stats(lab.client.ns, lab.client.ifname)["tx"]["packets"]
    s0 = sink.count()
    cpu0, busy0 = proc_cpu_seconds(fwd_pid), machine_busy_seconds()
    t0 = time.monotonic()
    # trafgen floods until SIGINT; one CPU for the generator, the other for the forwarder.
    gen = popen_in(lab.client.ns, ["taskset", "-c", "0", "trafgen", "--dev", lab.client.ifname, "--conf", conf, "--cpus", "1"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(seconds)
    # trafgen forks a worker per CPU: signal the whole group.
    os.killpg(gen.pid, signal.SIGINT)
    try:
        gen.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(gen.pid, signal.SIGKILL)
        gen.wait()
    time.sleep(0.3)  # let in-flight frames land
    elapsed = time.monotonic() - t0 - 0.3
    sent = link_stats(lab.client.ns, lab.client.ifname)["tx"]["packets"] - c0
    delivered = sink.count() - s0
    cpu, busy = proc_cpu_seconds(fwd_pid) - cpu0, machine_busy_seconds() - busy0
    return {"sent": sent, "delivered": delivered, "seconds": elapsed,
            "mpps": delivered / elapsed / 1e6, "loss": max(0.0, 1 - delivered / sent) if sent else 0.0,
            "proc_ns_per_pkt": cpu * 1e9 / delivered if delivered and fwd_pid else None,
            "machine_ns_per_pkt": busy * 1e9 / delivered if delivered else None}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", help="also write the raw results here")
    a = ap.parse_args(argv)

    subprocess.run(["make", "-s", "-C", str(BENCH)], check=True)  # xsk_fwd + its XDP object
    results: dict[str, list[dict]] = {}
    with Lab(prefix="xbench-dp") as lab, tempfile.NamedTemporaryFile("w", suffix=".cfg") as cfg:
        cfg.write(trafgen_conf(lab))
        cfg.flush()
        sink = Sink(lab)
        try:
            forwarders = [Xdpfw(lab), CForwarder(lab), Bridge(lab)]
            for r in range(a.rounds):
                for fw in forwarders:
                    fw.start()
                    try:
                        res = one_round(lab, sink, cfg.name, a.seconds, fw.pid)
                    finally:
                        fw.stop()
                    results.setdefault(fw.name, []).append(res)
                    print(f"round {r + 1} {fw.name:<22} {res['mpps']:.3f} Mpps delivered, "
                          f"loss {res['loss'] * 100:.1f}%, forwarder {res['proc_ns_per_pkt'] or 0:.0f} ns/pkt, "
                          f"machine {res['machine_ns_per_pkt'] or 0:.0f} ns/pkt", file=sys.stderr)
        finally:
            sink.close()

    def median(name, key):
        vals = [x[key] for x in results[name] if x[key] is not None]
        return statistics.median(vals) if vals else None

    cf, br = median("C AF_XDP forwarder", "mpps"), median("Linux bridge", "mpps")
    cf_cpu = median("C AF_XDP forwarder", "proc_ns_per_pkt")
    cf_m, br_m = median("C AF_XDP forwarder", "machine_ns_per_pkt"), median("Linux bridge", "machine_ns_per_pkt")
    print(f"\n64-byte UDP flood, {a.seconds:g} s x {a.rounds} rounds (median), "
          f"{platform.node()} {platform.release()}, {os.cpu_count()} CPUs\n")
    print("| forwarder | delivered Mpps | loss | rate vs C fwd | rate vs bridge | forwarder CPU ns/pkt "
          "| C fwd CPU / this | machine CPU ns/pkt | vs C fwd | vs bridge |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in results:
        mpps, cpu, mach = median(name, "mpps"), median(name, "proc_ns_per_pkt"), median(name, "machine_ns_per_pkt")
        print(f"| {name} | {mpps:.3f} | {median(name, 'loss') * 100:.1f}% | {mpps / cf:.2f}x | {mpps / br:.2f}x "
              f"| {f'{cpu:.0f}' if cpu else '-'} | {f'{cf_cpu / cpu:.2f}x' if cpu else '-'} "
              f"| {mach:.0f} | {cf_m / mach:.2f}x | {br_m / mach:.2f}x |")
    print("\n(efficiency columns are 'reference / this': above 1.00x means this forwarder needs less CPU per packet)")
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
