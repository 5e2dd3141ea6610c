"""Traffic for the lab and the tests: a checksum-verified TCP transfer (plain or in TLS) and a
TCP connect probe.

Run inside a namespace as `python -m xdpfw.tools.traffic serve|send|probe ...`; each
prints one JSON line with what it did, so callers compare sender and receiver digests.
The payload is a deterministic pseudo-random stream, so a corrupted, truncated or
reordered byte changes the digest. With TLS (`serve --tls CERT KEY`, `send --tls`: Python's
ssl both ends, no verification) the sender first sends the length (8 bytes, big-endian),
as a TLS half-close is not portable.
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


def _tls_context(server: bool, cert: str | None = None, key: str | None = None):
    import ssl

    if server:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        return ctx
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _recv_exact(conn, n: int) -> bytes:
    b = b""
    while len(b) < n:
        got = conn.recv(n - len(b))
        if not got:
            break
        b += got
    return b


def serve(bind: str, port: int, timeout: float, once: bool = True, tls: tuple[str, str] | None = None) -> dict:
    """Accept one connection, read to EOF (TLS: the announced length), report size and sha256."""
    with socket.create_server((bind, port), reuse_port=False) as srv:
        srv.settimeout(timeout)
        print(json.dumps({"listening": port}), flush=True)
        conn, peer = srv.accept()
        conn.settimeout(timeout)
        if tls:
            conn = _tls_context(True, *tls).wrap_socket(conn, server_side=True)
        with conn:
            left = int.from_bytes(_recv_exact(conn, 8), "big") if tls else -1
            h = hashlib.sha256()
            total = 0
            t0 = time.monotonic()
            while left != 0:
                try:
                    b = conn.recv(CHUNK if left < 0 else min(CHUNK, left))
                except OSError as e:   # e.g. reset by an inline reject
                    return {"bytes": total, "error": type(e).__name__, "peer": peer[0],
                            "seconds": round(time.monotonic() - t0, 3)}
                if not b:
                    break
                h.update(b)
                total += len(b)
                if left > 0:
                    left -= len(b)
            conn.sendall(h.hexdigest().encode())
            return {"bytes": total, "sha256": h.hexdigest(), "peer": peer[0],
                    "seconds": round(time.monotonic() - t0, 3)}


def send(host: str, port: int, nbytes: int, seed: int, timeout: float, prefix: bytes = b"",
         tls: bool = False) -> dict:
    """Send `prefix` then nbytes - len(prefix) of the seeded stream, half-close (TLS: after
    the announced length), read the receiver's digest. A prefix puts known content (an
    attack signature) in the stream."""
    h = hashlib.sha256()
    t0 = time.monotonic()
    with socket.create_connection((host, port), timeout=timeout) as raw:
        s = _tls_context(False).wrap_socket(raw) if tls else raw
        if tls:
            s.sendall(nbytes.to_bytes(8, "big"))
        if prefix:
            s.sendall(prefix)
            h.update(prefix)
        for chunk in _stream(seed, nbytes - len(prefix)):
            s.sendall(chunk)
            h.update(chunk)
        if not tls:
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
    s.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve TLS with this certificate")
    c = sub.add_parser("send")
    c.add_argument("--host", required=True)
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--bytes", type=int, required=True)
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--timeout", type=float, default=60)
    c.add_argument("--prefix", default="", help="text sent before the pseudo-random bytes")
    c.add_argument("--tls", action="store_true", help="send in TLS (the receiver's certificate is not verified)")
    pr = sub.add_parser("probe")
    pr.add_argument("--host", required=True)
    pr.add_argument("--port", type=int, required=True)
    pr.add_argument("--timeout", type=float, default=2)
    a = p.parse_args(argv)
    t0 = time.monotonic()
    try:
        if a.cmd == "serve":
            out = serve(a.bind, a.port, a.timeout, tls=tuple(a.tls) if a.tls else None)
        elif a.cmd == "send":
            out = send(a.host, a.port, a.bytes, a.seed, a.timeout, a.prefix.encode(), tls=a.tls)
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
