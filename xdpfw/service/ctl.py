"""The daemon's control socket: `xdpfw reload` (and other commands) talk to a running
`xdpfw run` over a unix stream socket.

Protocol (modelled on Suricata's unix socket, `suricatasc`): the client sends one JSON
object per line, ``{"command": "reload"}``; the server answers one JSON object per line,
``{"return": "OK", "message": ...}`` or ``{"return": "NOK", "message": ...}``. Commands:

  reload          re-read the rule files (and threshold/classification) and swap the new
                  set in; answers when it is live, or with every error (old set kept)
  ruleset-stats   the running rule set: generation, rules in the kernel and engine, the
                  last reload's time and result
  version         xdpfw's version

Access: root only. The socket file is created mode 0600 in a directory the daemon makes
0700 when it does not exist, and every connection's peer credentials (SO_PEERCRED) must
be uid 0 or the daemon's own uid; anyone else gets NOK and is disconnected.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import stat
import struct
import threading
import time
from typing import Any, Callable

log = logging.getLogger("xdpfw.ctl")

MAX_REQUEST = 64 << 10
REQUEST_SECONDS = 5.0   # a client has this long to send its whole request line
MAX_CLIENTS = 16        # connections served at once; more are answered "busy" and closed
Handler = Callable[[dict[str, Any]], tuple[bool, Any]]


class ControlError(Exception):
    pass


def _peer_uid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid


def _read_line(conn: socket.socket, limit: int = MAX_REQUEST, seconds: float | None = None) -> bytes:
    """One request line. With `seconds`, the whole line must arrive within that time
    (a client trickling a byte at a time cannot hold the connection longer); without,
    the socket's own timeout applies to each read. EOF ends the line too."""
    deadline = None if seconds is None else time.monotonic() + seconds
    buf = b""
    while b"\n" not in buf:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ControlError(f"no complete request line within {seconds:g} s")
            conn.settimeout(left)
        try:
            chunk = conn.recv(4096)
        except socket.timeout:
            if deadline is None:
                raise
            raise ControlError(f"no complete request line within {seconds:g} s") from None
        if not chunk:
            break
        buf += chunk
        if len(buf) > limit:
            raise ControlError(f"request longer than {limit} bytes")
    return buf.split(b"\n", 1)[0]


class ControlServer:
    """Serves the control socket: an accept thread and one thread per connection, at
    most MAX_CLIENTS at once (more are answered NOK "busy"), so a slow or stuck client
    never delays another. ``handlers`` maps a command name to fn(request) -> (ok,
    message); a handler may block (reload does, until the new set is live; the daemon
    serialises reloads, so a second one waits for the first). Every request gets an
    answer: a request line must be complete within REQUEST_SECONDS and at most
    MAX_REQUEST bytes, and anything that is not a JSON object with a "command" string
    (malformed, nested too deeply, not UTF-8) is answered NOK with the reason."""

    def __init__(self, path: str, handlers: dict[str, Handler]):
        self.path = path
        self.handlers = dict(handlers)
        self._sock: socket.socket | None = None
        self._ino: tuple[int, int, int] | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.requests = 0
        self.refused = 0
        self.busy = 0
        self._clients = threading.BoundedSemaphore(MAX_CLIENTS)

    def start(self) -> None:
        d = os.path.dirname(self.path) or "."
        if not os.path.isdir(d):
            os.makedirs(d, mode=0o700, exist_ok=True)
        if os.path.exists(self.path) or os.path.islink(self.path):
            st = os.lstat(self.path)
            if not stat.S_ISSOCK(st.st_mode):
                raise ControlError(f"{self.path} exists and is not a socket")
            if _listening(self.path):
                raise ControlError(f"{self.path}: another xdpfw answers on this control socket")
            os.unlink(self.path)  # stale: left by a daemon that died
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        old = os.umask(0o177)  # the socket is born 0600: no window where others may connect
        try:
            s.bind(self.path)
        except OSError:
            s.close()
            raise
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        st = os.stat(self.path)
        self._ino = (st.st_dev, st.st_ino, st.st_ctime_ns)  # inode numbers are reused
        s.listen(64)
        s.settimeout(0.2)
        self._sock = s
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name="control", daemon=True)
        self._thread.start()
        log.info("control socket %s", self.path)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        try:  # remove the file only if it is still ours
            st = os.stat(self.path)
            if (st.st_dev, st.st_ino, st.st_ctime_ns) == self._ino:
                os.unlink(self.path)
        except OSError:
            pass

    def _serve(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                continue
            if not self._clients.acquire(blocking=False):
                self.busy += 1
                with conn:
                    conn.settimeout(1.0)
                    _send(conn, False, f"busy: {MAX_CLIENTS} control connections open; try again")
                continue
            threading.Thread(target=self._client, args=(conn,), name="control-client", daemon=True).start()

    def _client(self, conn: socket.socket) -> None:
        try:
            with conn:
                try:
                    self._one(conn)
                except Exception as e:  # a bad client never takes the daemon down
                    log.warning("control socket: %s", e)
        finally:
            self._clients.release()

    def _one(self, conn: socket.socket) -> None:
        conn.settimeout(REQUEST_SECONDS)
        uid = _peer_uid(conn)
        if uid not in (0, os.geteuid()):
            self.refused += 1
            _send(conn, False, f"permission denied: uid {uid} is not root")
            return
        try:
            raw = _read_line(conn, seconds=REQUEST_SECONDS)
            req = json.loads(raw.decode("utf-8")) if raw else None
        except RecursionError:
            _send(conn, False, "bad request: JSON nested too deeply")
            return
        except (ValueError, UnicodeDecodeError, ControlError, OSError) as e:
            _send(conn, False, f"bad request: {e}")
            return
        if not isinstance(req, dict) or not isinstance(req.get("command"), str):
            _send(conn, False, 'bad request: expected {"command": "..."}')
            return
        self.requests += 1
        handler = self.handlers.get(req["command"])
        if handler is None:
            _send(conn, False, f"unknown command {req['command']!r}; known: {', '.join(sorted(self.handlers))}")
            return
        conn.settimeout(None)
        try:
            ok, message = handler(req)
        except Exception as e:
            log.exception("control command %s failed", req["command"])
            ok, message = False, f"internal error: {type(e).__name__}: {e}"
        conn.settimeout(REQUEST_SECONDS)
        _send(conn, ok, message)


def _send(conn: socket.socket, ok: bool, message: Any) -> None:
    data = json.dumps({"return": "OK" if ok else "NOK", "message": message}, separators=(",", ":")) + "\n"
    try:
        conn.sendall(data.encode())
    except OSError:
        pass  # the client went away


def _listening(path: str) -> bool:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1.0)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def request(path: str, command: str, timeout: float = 300.0, **args: Any) -> tuple[bool, Any]:
    """Send one command; returns (ok, message). ControlError when nobody answers."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    s.settimeout(timeout)
    try:
        try:
            s.connect(path)
        except FileNotFoundError:
            raise ControlError(f"{path}: no such control socket (is xdpfw running? control.socket "
                               "in its configuration names the path)") from None
        except PermissionError:
            raise ControlError(f"{path}: permission denied (the control socket is root only)") from None
        except OSError as e:
            raise ControlError(f"{path}: cannot connect: {e.strerror or e}") from None
        try:
            s.sendall((json.dumps({"command": command, **args}) + "\n").encode())
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered (a refusal) and closed first: read its answer
        try:
            raw = _read_line(s, 16 << 20)
        except socket.timeout:
            raise ControlError(f"no answer within {timeout:g} s") from None
        if not raw:
            raise ControlError("the daemon closed the connection without answering")
        resp = json.loads(raw.decode("utf-8"))
        return resp.get("return") == "OK", resp.get("message")
    finally:
        s.close()


# -- `xdpfw reload` ---------------------------------------------------------------------------

def add_reload_arguments(p) -> None:
    p.add_argument("-c", "--config", metavar="FILE",
                   help="the daemon's configuration (for control.socket); default socket otherwise")
    p.add_argument("--socket", metavar="PATH", help="control socket path (overrides the configuration)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the reload (default 300)")


def socket_path(args) -> str:
    from xdpfw.service.config import DEFAULT_CONTROL_SOCKET, ConfigError, load_config

    if getattr(args, "socket", None):
        return args.socket
    if getattr(args, "config", None):
        try:
            cfg = load_config(args.config)
        except ConfigError as e:
            raise ControlError(str(e)) from None
        if not cfg.control_socket:
            raise ControlError(f"{args.config}: control.socket is disabled in this configuration")
        return cfg.control_socket
    return DEFAULT_CONTROL_SOCKET


def format_reload(ok: bool, msg: Any) -> tuple[str, str]:
    """(stdout text, stderr text) for a reload answer."""
    if not isinstance(msg, dict):
        return ("", f"reload failed: {msg}\n") if not ok else (f"reload: {msg}\n", "")
    if ok:
        skipped, failed = msg.get("rules_skipped") or 0, msg.get("rules_failed") or 0
        warn = (f"reload: warning: {skipped + failed} alert rule(s) not running ({skipped} skipped, {failed} "
                "failed), each named in the daemon's log and by `xdpfw check -c`\n" if skipped or failed else "")
        return (f"reload OK: generation {msg.get('generation')}, {msg.get('rules')} rules "
                f"({msg.get('rules_in_kernel')} in the kernel ACL, {msg.get('rules_in_engine')} in the engine), "
                f"{msg.get('seconds')} s\n{msg.get('summary', '')}\n", warn)
    err = "".join(f"{e}\n" for e in msg.get("errors", []))
    err += (f"reload FAILED: {len(msg.get('errors', []))} problem(s); the running rule set "
            f"(generation {msg.get('generation')}) is kept\n")
    return "", err


def cmd_reload(args) -> int:
    """`xdpfw reload`: exit 0 when the new rule set is live, 1 when it was refused (the
    errors are printed), 2 when the daemon could not be reached."""
    import sys

    try:
        ok, msg = request(socket_path(args), "reload", timeout=args.timeout)
    except ControlError as e:
        print(f"xdpfw reload: {e}", file=sys.stderr)
        return 2
    out, err = format_reload(ok, msg)
    sys.stdout.write(out)
    sys.stderr.write(err)
    return 0 if ok else 1
