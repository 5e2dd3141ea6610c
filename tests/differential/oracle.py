"""Suricata 7 as the detection oracle: the same captures and rules, offline.

Suricata runs in unix-socket mode (rules load once; each capture is one `pcap-file`
command with its own output directory, and Suricata flushes its flows between files),
with a configuration written here (nothing of /etc/suricata is read), `--runmode single`
so thresholds see packets in capture order, checksum validation off (`-k none`), and
`stream.midstream: true`: xdpfw's default policy inspects flows picked up without their
handshake, which Suricata's default would not parse (the difference is the policy's,
not detection's, and is documented in docs/TESTING.md).
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DEFAULT_VARS = {
    "address-groups": {
        "HOME_NET": "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12,198.18.0.0/15]",
        "EXTERNAL_NET": "!$HOME_NET",
    },
}


class OracleError(RuntimeError):
    pass


def suricata_binary() -> str:
    exe = shutil.which("suricata") or "/usr/bin/suricata"
    if not os.path.exists(exe):
        raise OracleError("suricata is not installed (scripts/setup.sh installs Suricata 7 from bookworm-backports)")
    return exe


def suricata_version() -> str:
    out = subprocess.run([suricata_binary(), "-V"], capture_output=True, text=True, timeout=30).stdout
    return out.strip().split("version ")[-1].split()[0]


def _yaml(vars_: dict, workdir: Path, classification: str | None, eve_types: list[str],
          rules: list[str]) -> str:
    def groups(kind: str) -> str:
        return "".join(f'    {k}: "{v}"\n' for k, v in vars_.get(kind, {}).items())
    cls = f"classification-file: {classification}\n" if classification else ""
    types = ", ".join(eve_types)
    ports = groups("port-groups") or '    HTTP_PORTS: "80"\n'
    return (f"%YAML 1.1\n---\nvars:\n  address-groups:\n{groups('address-groups')}"
            f"  port-groups:\n{ports}"
            f"default-log-dir: {workdir}\n{cls}"
            "rule-files:\n" + "".join(f"  - {r}\n" for r in rules) +
            "unix-command:\n  enabled: yes\n"
            "outputs:\n  - eve-log:\n      enabled: yes\n      filetype: regular\n      filename: eve.json\n"
            f"      types: [{types}]\n"
            # xdpfw's default tcp-midstream policy is accept (a restart must not cut live
            # connections), so the oracle picks up flows without their handshake too.
            "stream:\n  checksum-validation: no\n  midstream: true\n")


class Suricata:
    """A Suricata process in unix-socket mode with one rule set. Use as a context manager."""

    def __init__(self, rules: list[str | Path], *, vars_: dict | None = None,
                 classification: str | None = None, eve_types: list[str] | None = None,
                 start_timeout: float = 300.0):
        self.rules = [str(r) for r in rules]
        self.vars = vars_ or DEFAULT_VARS
        self.classification = classification
        self.eve_types = eve_types or ["alert", "drop"]
        self.start_timeout = start_timeout
        self.dir = Path(tempfile.mkdtemp(prefix="xdpfw-oracle-"))
        self.sock = self.dir / "suricata.socket"
        self.proc: subprocess.Popen | None = None
        self.log = self.dir / "suricata.log"

    def __enter__(self) -> "Suricata":
        cfg = self.dir / "suricata.yaml"
        cfg.write_text(_yaml(self.vars, self.dir, self.classification, self.eve_types,
                             [str(Path(r).resolve()) for r in self.rules]))
        argv = [suricata_binary(), "-c", str(cfg), f"--unix-socket={self.sock}", "--runmode", "single", "--no-random",
                "-k", "none", "-l", str(self.dir)]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise OracleError(f"suricata exited {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            if self.sock.exists():
                try:
                    self._conn = self._connect()
                    return self
                except OSError:
                    pass
            time.sleep(0.2)
        self.__exit__(None, None, None)
        raise OracleError("suricata did not open its unix socket in time")

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.command("shutdown")
            except (OSError, OracleError):
                pass
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _connect(self) -> socket.socket:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(60)
        s.connect(str(self.sock))
        self._sock = s
        self._send({"version": "0.2"})
        return s

    def _send(self, obj: dict):
        self._sock.sendall(json.dumps(obj).encode() + b"\n")   # protocol 0.2: one object per line
        buf = b""
        while True:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise OracleError("suricata closed its unix socket")
            buf += chunk
            try:
                resp = json.loads(buf.decode())
            except ValueError:
                continue
            if resp.get("return") != "OK":
                raise OracleError(f"suricata: {obj}: {resp}")
            return resp.get("message")

    def command(self, name: str, **arguments):
        req = {"command": name}
        if arguments:
            req["arguments"] = arguments
        return self._send(req)

    def loaded_rules(self) -> dict:
        """Rules loaded and failed, from Suricata's own counters."""
        return self.command("ruleset-stats")

    def run(self, pcap: str | Path, outdir: Path, timeout: float = 600.0) -> Path:
        """Run one capture (fresh flows); returns its eve.json path."""
        outdir.mkdir(parents=True, exist_ok=True)
        self.command("pcap-file", filename=str(Path(pcap).resolve()), **{"output-dir": str(outdir)})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.command("pcap-file-number") == 0 and self.command("pcap-current") == "None":
                return outdir / "eve.json"
            time.sleep(0.02)
        raise OracleError(f"suricata did not finish {pcap} in {timeout:g} s")


def read_eve(path: Path, event_types=("alert",)) -> list[dict]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("event_type") in event_types:
            out.append(rec)
    return out
