"""Traffic for the lab and the tests: a checksum-verified TCP transfer and a TCP connect probe.

Run inside a namespace as `python -m xdpfw.tools.traffic serve|send|probe ...`; each
prints one JSON line with what it did, so callers compare sender and receiver digests.
The payload is a deterministic pseudo-random stream, so a corrupted, truncated or
reordered byte changes the digest.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import socket
import sys
import time

CHUNK = 1 << 16


def _stream(seed: int, nbytes: int):
    rng = random.Random(seed)
    left = nbytes
    while left:
        n = min(CHUNK, left)
        yield rng.randbytes(n)
        left -= n


def serve(bind: str, port: int, timeout: float, once: bool = True) -> dict:
    """Accept one connection, read to EOF, report size and sha256."""
    with socket.create_server((bind, port), reuse_port=False) as srv:
        srv.settimeout(timeout)
        print(json.dumps({"listening": port}), flush=True)
        conn, peer = srv.accept()
        with conn:
            conn.settimeout(timeout)
            h = hashlib.sha256()
            total = 0
            t0 = time.monotonic()
            while True:
                try:
                    b = conn.recv(CHUNK)
                except OSError as e:   # e.g. reset by an inline reject
                    return {"bytes": total, "error": type(e).__name__, "peer": peer[0],
                            "seconds": round(time.monotonic() - t0, 3)}
                if not b:
                    break
                h.update(b)
                total += len(b)
            conn.sendall(h.hexdigest().encode())
            return {"bytes": total, "sha256": h.hexdigest(), "peer": peer[0],
                    "seconds": round(time.monotonic() - t0, 3)}


def send(host: str, port: int, nbytes: int, seed: int, timeout: float, prefix: bytes = b"") -> dict:
    """Send `prefix` then nbytes - len(prefix) of the seeded stream, half-close, read the
    receiver's digest. A prefix puts known content (an attack signature) in the stream."""
    h = hashlib.sha256()
    t0 = time.monotonic()
    with socket.create_connection((host, port), timeout=timeout) as s:
        if prefix:
            s.sendall(prefix)
            h.update(prefix)
        for chunk in _stream(seed, nbytes - len(prefix)):
            s.sendall(chunk)
            h.update(chunk)
        s.shutdown(socket.SHUT_WR)
        echoed = b""
        while len(echoed) < 64:
            b = s.recv(64)
            if not b:
                break
            echoed += b
    secs = time.monotonic() - t0
    return {"bytes": nbytes, "sha256": h.hexdigest(), "receiver_sha256": echoed.decode(errors="replace"),
            "ok": echoed.decode(errors="replace") == h.hexdigest(), "seconds": round(secs, 3),
            "mbit_s": round(nbytes * 8 / secs / 1e6, 1) if secs else None}


def probe(host: str, port: int, timeout: float) -> dict:
    """Try one TCP connect; report whether it was established."""
    t0 = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return {"connected": True, "seconds": round(time.monotonic() - t0, 3)}
    except OSError as e:
        return {"connected": False, "error": type(e).__name__, "seconds": round(time.monotonic() - t0, 3)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m xdpfw.tools.traffic")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--bind", default="0.0.0.0")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--timeout", type=float, default=60)
    c = sub.add_parser("send")
    c.add_argument("--host", required=True)
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--bytes", type=int, required=True)
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--timeout", type=float, default=60)
    c.add_argument("--prefix", default="", help="text sent before the pseudo-random bytes")
    pr = sub.add_parser("probe")
    pr.add_argument("--host", required=True)
    pr.add_argument("--port", type=int, required=True)
    pr.add_argument("--timeout", type=float, default=2)
    a = p.parse_args(argv)
    t0 = time.monotonic()
    try:
        if a.cmd == "serve":
            out = serve(a.bind, a.port, a.timeout)
        elif a.cmd == "send":
            out = send(a.host, a.port, a.bytes, a.seed, a.timeout, a.prefix.encode())
        else:
            out = probe(a.host, a.port, a.timeout)
    except OSError as e:
        out = {"error": f"{type(e).__name__}: {e}", "seconds": round(time.monotonic() - t0, 3)}
        print(json.dumps(out), flush=True)
        return 1
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
