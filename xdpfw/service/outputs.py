"""Where EVE lines go: files (with logrotate-friendly rotation handling) and unix
stream/datagram sockets a log shipper listens on, and the daemon's set of configured
outputs, routed by event type. The lines themselves come from xdpfw/service/eve.py.

Every writer takes ``write(line)`` and never blocks the caller for long; failures are
counted, not raised. Nothing here runs per packet: only per alert or drop record, and
per stats interval.
"""
from __future__ import annotations

import errno
import os
import signal
import socket
import stat
import threading
import time
from collections import deque
from typing import Any, Callable, Literal

__all__ = ["EveFileWriter", "EveUnixSocketWriter", "reopen_on_sighup", "EveOutputs"]


def _line_bytes(line: str) -> bytes:
    # Lone surrogates cannot be UTF-8: replace rather than lose the event.
    data = line.encode("utf-8", "replace")
    return data if data.endswith(b"\n") else data + b"\n"


class EveFileWriter:
    """Appends lines to a file, one ``write(2)`` per line, so ``tail -f`` and shippers see
    every line as soon as it is written (line-buffered, and never half a line from us).

    Rotation: :meth:`request_reopen` (safe to call from a signal handler; see
    :func:`reopen_on_sighup`) makes the next write reopen the path, as logrotate's
    ``postrotate`` expects. Without a signal, the writer also notices by itself, at most
    ``check_interval`` seconds late, that the path now names another file (``create``:
    moved and recreated) and reopens it; if the path is gone and stays gone for
    ``missing_grace`` seconds (moved without ``create``, or deleted), it creates it. The
    grace period leaves logrotate the time to create the file with its own owner and
    mode before we would.

    Errors (disk full, I/O error) are counted in ``errors`` and the line in ``dropped``;
    the next write tries to reopen. Nothing is raised to the caller after construction.
    """

    def __init__(self, path: str | os.PathLike[str], *, mode: int = 0o640, check_interval: float = 1.0,
                 missing_grace: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = os.fspath(path)
        self.mode = mode
        self.check_interval = check_interval
        self.missing_grace = missing_grace
        self._clock = clock
        self._lock = threading.Lock()
        self._fd = -1
        self._ino: tuple[int, int] = (0, 0)
        self._reopen_flag = False
        self._next_check = 0.0
        self._missing_since: float | None = None
        self.lines = 0
        self.bytes = 0
        self.dropped = 0
        self.errors = 0
        self.reopens = 0
        self._open()  # a bad path fails loudly here, at start-up

    def _open(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, self.mode)
        st = os.fstat(fd)
        old, self._fd = self._fd, fd
        self._ino = (st.st_dev, st.st_ino)
        self._missing_since = None
        self._next_check = self._clock() + self.check_interval
        if old >= 0:
            os.close(old)

    def fileno(self) -> int:
        return self._fd

    def request_reopen(self) -> None:
        """Reopen before the next line. Only sets a flag: safe in a signal handler."""
        self._reopen_flag = True

    def reopen(self) -> None:
        with self._lock:
            self._reopen()

    def _reopen(self) -> bool:
        self._reopen_flag = False
        try:
            self._open()
        except OSError:
            self.errors += 1
            return False
        self.reopens += 1
        return True

    def _check_rotation(self, now: float) -> None:
        self._next_check = now + self.check_interval
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            if self._missing_since is None:
                self._missing_since = now
            if now - self._missing_since >= self.missing_grace:
                self._reopen()
            return
        except OSError:
            return
        self._missing_since = None
        if (st.st_dev, st.st_ino) != self._ino and stat.S_ISREG(st.st_mode):
            self._reopen()

    def write(self, line: str) -> bool:
        """Append one line (a newline is added if missing). False: the line was lost."""
        data = _line_bytes(line)
        with self._lock:
            if self._reopen_flag or self._fd < 0:
                self._reopen()
            now = self._clock()
            if now >= self._next_check:
                self._check_rotation(now)
            if self._fd < 0:
                self.dropped += 1
                return False
            try:
                view = memoryview(data)
                while view:
                    n = os.write(self._fd, view)
                    view = view[n:]
            except OSError:
                self.errors += 1
                self.dropped += 1
                self._reopen_flag = True
                return False
            self.lines += 1
            self.bytes += len(data)
            return True

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> "EveFileWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_DISCONNECT_ERRNOS = frozenset((errno.ECONNREFUSED, errno.ENOTCONN, errno.EPIPE, errno.ECONNRESET,
                                errno.ENOENT, errno.EDESTADDRREQ, errno.EBADF))


class EveUnixSocketWriter:
    """Sends lines to a Unix socket that a log shipper listens on (Suricata's
    ``filetype: unix_dgram`` / ``unix_stream``). Every line ends with a newline.

    Non-blocking throughout: a line that cannot be handed over now is dropped and counted
    (``dropped``), never waited for. ``kind="dgram"``: one datagram per line; a full
    receive queue on the listener's side drops the line. ``kind="stream"``: lines queue
    in user space up to ``max_pending`` bytes while the peer is slow, beyond that they
    are dropped; a line is queued whole or not at all, so the stream never carries half
    a line. When the listener goes away the socket is closed (lines still queued are
    dropped: how much of them the peer read is unknown) and a reconnect is tried on a
    later write, at most once per ``reconnect_interval`` seconds. The listener need not
    exist when the writer is created.
    """

    def __init__(self, path: str | os.PathLike[str], *, kind: Literal["dgram", "stream"] = "dgram",
                 reconnect_interval: float = 1.0, max_pending: int = 1 << 20,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if kind not in ("dgram", "stream"):
            raise ValueError(f"kind must be 'dgram' or 'stream', got {kind!r}")
        self.path = os.fspath(path)
        self.kind = kind
        self.reconnect_interval = reconnect_interval
        self.max_pending = max_pending
        self._clock = clock
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._next_attempt = 0.0
        self._pending: deque[bytes] = deque()   # stream: whole lines not yet fully sent
        self._pending_bytes = 0
        self._head_off = 0                      # bytes of _pending[0] already sent
        self.sent = 0
        self.dropped = 0
        self.errors = 0
        self.connects = 0
        self.disconnects = 0
        with self._lock:
            self._connect(self._clock())

    @property
    def connected(self) -> bool:
        return self._sock is not None

    @property
    def pending_bytes(self) -> int:
        return self._pending_bytes - self._head_off

    def _connect(self, now: float) -> bool:
        self._next_attempt = now + self.reconnect_interval
        stype = socket.SOCK_DGRAM if self.kind == "dgram" else socket.SOCK_STREAM
        s = socket.socket(socket.AF_UNIX, stype | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
        try:
            s.connect(self.path)
        except OSError:
            # Not listening (yet), or its accept queue is full: try again later.
            s.close()
            return False
        self._sock = s
        self.connects += 1
        return True

    def _disconnect(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
            self.disconnects += 1
        if self._pending:
            self.dropped += len(self._pending)
            self._pending.clear()
            self._pending_bytes = 0
            self._head_off = 0
        self._next_attempt = self._clock() + self.reconnect_interval

    def write(self, line: str) -> bool:
        """Send (dgram) or queue and send what the socket takes (stream).

        True: the line went to the kernel or is queued whole; False: it was dropped.
        """
        data = _line_bytes(line)
        with self._lock:
            if self._sock is None:
                now = self._clock()
                if now < self._next_attempt or not self._connect(now):
                    self.dropped += 1
                    return False
            if self.kind == "dgram":
                return self._send_dgram(data)
            if self.pending_bytes + len(data) > self.max_pending:
                self._flush()
                if self.pending_bytes + len(data) > self.max_pending:
                    self.dropped += 1
                    return False
            self._pending.append(data)
            self._pending_bytes += len(data)
            self._flush()
            return True

    def _send_dgram(self, data: bytes) -> bool:
        assert self._sock is not None
        try:
            self._sock.send(data, socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL)
        except BlockingIOError:
            self.dropped += 1            # the listener's queue is full: it is slow
            return False
        except OSError as e:
            self.dropped += 1
            if e.errno in _DISCONNECT_ERRNOS:
                self._disconnect()
            else:
                self.errors += 1         # EMSGSIZE and the like: this line only
            return False
        self.sent += 1
        return True

    def flush(self) -> None:
        """Send what the stream socket will take now (call when idle). Never waits."""
        with self._lock:
            if self.kind == "stream" and self._sock is not None:
                self._flush()

    def _flush(self) -> None:
        sock = self._sock
        while self._pending and sock is not None:
            head = self._pending[0]
            try:
                n = sock.send(memoryview(head)[self._head_off:], socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL)
            except BlockingIOError:
                return
            except OSError as e:
                if e.errno not in _DISCONNECT_ERRNOS:
                    self.errors += 1
                self._disconnect()
                return
            self._head_off += n
            if self._head_off == len(head):
                self._pending.popleft()
                self._pending_bytes -= len(head)
                self._head_off = 0
                self.sent += 1

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None
            self._pending.clear()
            self._pending_bytes = 0
            self._head_off = 0

    def __enter__(self) -> "EveUnixSocketWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def reopen_on_sighup(*writers: EveFileWriter) -> Any:
    """Install a SIGHUP handler that asks each file writer to reopen; returns the old
    handler. The handler only sets flags, so it cannot deadlock with a writer. A
    previous Python-level handler (for instance the one that reloads rules) still runs.
    Call from the main thread.
    """
    previous = signal.getsignal(signal.SIGHUP)

    def handler(signum: int, frame: Any) -> None:
        for w in writers:
            w.request_reopen()
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGHUP, handler)
    return previous


class EveOutputs:
    """The configured EVE outputs: one writer each, with the event types it takes and,
    for stats, its own interval. With none configured, alerts and drops go to stdout."""

    def __init__(self, outputs: list, stdout=None):
        self.outputs = []
        self.stdout = stdout if not outputs else None
        try:
            for o in outputs:
                if o.filetype == "regular":
                    w = EveFileWriter(o.filename)
                else:
                    w = EveUnixSocketWriter(o.filename, kind="stream" if o.filetype == "unix_stream" else "dgram")
                self.outputs.append((o, w))
        except OSError:
            self.close()
            raise
        now = time.monotonic()
        self.next_stats = [now + o.stats_interval for o, _ in self.outputs]

    def write_event(self, kind: str, line: str) -> None:
        for o, w in self.outputs:
            if kind in o.types:
                w.write(line)
        if self.stdout is not None and kind in ("alert", "drop"):
            self.stdout.write(line + "\n")
            self.stdout.flush()

    def stats_due(self, now: float) -> list:
        """Writers whose stats interval has elapsed (their next time is moved on)."""
        due = []
        for i, (o, w) in enumerate(self.outputs):
            if "stats" in o.types and now >= self.next_stats[i]:
                due.append(w)
                self.next_stats[i] = max(self.next_stats[i] + o.stats_interval, now)
        return due

    def wants_stats(self) -> bool:
        return any("stats" in o.types for o, _ in self.outputs)

    def flush(self) -> None:
        for _, w in self.outputs:
            if hasattr(w, "flush"):
                w.flush()

    def request_reopen(self) -> None:
        for _, w in self.outputs:
            if hasattr(w, "request_reopen"):
                w.request_reopen()

    def counters(self) -> dict[str, int]:
        out = {"written": 0, "dropped": 0, "errors": 0}
        for _, w in self.outputs:
            out["written"] += getattr(w, "lines", getattr(w, "sent", 0))
            out["dropped"] += w.dropped
            out["errors"] += w.errors
        return out

    def close(self) -> None:
        for _, w in self.outputs:
            w.close()
