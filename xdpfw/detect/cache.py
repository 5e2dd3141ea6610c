"""The compile cache: compiled Hyperscan databases and built rule sets on disk, so that a
restart or a reload of an unchanged rule set skips parsing, lowering and Hyperscan
compiles (docs/ARCHITECTURE.md, "The compile cache"; options: docs/CONFIG.md).

Three kinds of entries, each one file ``<kind>-<key>.bin`` in the cache directory:

``hsdb``     a serialized Hyperscan database (hs_serialize_database). Key:
             match_hs.Database.cache_key: exactly what hs_compile_ext_multi is given
             (expressions, flags, ids, offsets, mode) with the Hyperscan version and this
             host's platform (tune, CPU features).
``build``    the outcome of databases.build for one buffer: which rules the compiler
             rejected, in order, with Hyperscan's messages (the validation compiles and
             retries that found them are what it saves). Key: the buffer's patterns
             (their database key), its rules' pattern ids and validation flags, the
             build options and the compiler version.
``ruleset``  a built Detection (load_detection's result), pickled, its databases by
             reference to ``hsdb`` entries. Key: every input load_detection reads
             (each rule file's path and content, threshold and classification files,
             variables, placement and matcher options) and the compiler version.

The compiler version (:func:`compiler_version`) is a hash of xdpfw's own sources (the
Python and Cython code and C headers) and the Python version: any change to the code
that parses, lowers or compiles rules makes every key new.

Nothing read is trusted blindly. A file is used only if its header is ours, the key
stored inside equals the one asked for (a renamed or foreign file is refused), its
length is the one recorded and its SHA-256 matches; a Hyperscan image must then also
be accepted by hs_deserialize_database and be of the expected mode. Anything else is
counted (``corrupt``), logged, removed, and the result recomputed: the cache can cost a
recompile, never a wrong database. Writes go to a temporary file in the same directory,
renamed over the entry (concurrent writers of one key each write a whole file; readers
see the old file or a new one, never a mix). The directory's size is bounded
(``max_bytes``): after a write, the least recently used entries go. A directory that
cannot be created or written, or that is not owned by this user or is writable by
others, disables the cache with one warning: the build runs uncached.
"""
from __future__ import annotations

import gc
import hashlib
import io
import logging
import os
import pickle
import struct
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("xdpfw.cache")

DEFAULT_RUN_DIR = "/var/lib/xdpfw/cache"       # `xdpfw run` (systemd's StateDirectory=xdpfw)
DEFAULT_MAX_BYTES = 1 << 30
FORMAT = 1
MAGIC = b"XDPFWCACHE%d\n" % FORMAT
_HEADER = struct.Struct("<16s64sQ32s")        # kind, key (hex), payload length, payload SHA-256
KINDS = ("hsdb", "build", "ruleset")
STAT_NAMES = ("hits", "misses", "corrupt", "stores", "store_errors", "pruned")


def default_dir(command: str = "run") -> str:
    """The cache directory when none is configured: $XDPFW_CACHE_DIR when set (the test
    suite points it at a fresh directory of its own); else /var/lib/xdpfw/cache for `run`
    (and its reloads); for `replay` and `check`, $XDG_CACHE_HOME/xdpfw (~/.cache/xdpfw)."""
    if os.environ.get("XDPFW_CACHE_DIR"):
        return os.environ["XDPFW_CACHE_DIR"]
    if command == "run":
        return DEFAULT_RUN_DIR
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "xdpfw")


_VERSION: str | None = None


def compiler_version() -> str:
    """A hash of xdpfw's sources (every .py, .pyx, .pxd, .pxi, .h under the package) and
    the Python version: the part of every key that says which code built an entry."""
    global _VERSION
    if _VERSION is None:
        root = Path(__file__).resolve().parents[1]
        h = hashlib.sha256(f"xdpfw-compiler\0{FORMAT}\0{sys.version}\0".encode())
        for p in sorted(root.rglob("*")):
            if p.suffix in (".py", ".pyx", ".pxd", ".pxi", ".h") and p.is_file():
                h.update(str(p.relative_to(root)).encode() + b"\0")
                h.update(hashlib.sha256(p.read_bytes()).digest())
        _VERSION = h.hexdigest()
    return _VERSION


class Corrupt(Exception):
    """An entry that cannot be used (why)."""


@dataclass
class CompileCache:
    """One cache directory. ``stats`` counts hits, misses, corrupt entries, stores,
    store errors and pruned entries per kind (for logs, `xdpfw check` and metrics)."""

    directory: str
    max_bytes: int = DEFAULT_MAX_BYTES
    enabled: bool = True
    stats: dict = field(default_factory=dict)
    reason: str = ""                  # why it is disabled

    def __post_init__(self):
        self._lock = threading.Lock()
        for k in KINDS:
            self.stats[k] = dict.fromkeys(STAT_NAMES, 0)
        if self.enabled:
            why = self._usable()
            if why:
                self.enabled, self.reason = False, why
                log.warning("compile cache %s disabled: %s; building without it", self.directory, why)

    def _usable(self) -> str:
        d = self.directory
        try:
            os.makedirs(d, mode=0o700, exist_ok=True)
            st = os.stat(d)
        except OSError as e:
            return f"cannot create it ({e.strerror or e})"
        if st.st_uid != os.geteuid():
            return f"owned by uid {st.st_uid}, not by this user (uid {os.geteuid()})"
        if st.st_mode & 0o022:
            return f"writable by group or others (mode {st.st_mode & 0o777:o})"
        if not os.access(d, os.W_OK | os.X_OK):
            return "not writable"
        return ""

    def _count(self, kind: str, what: str, n: int = 1) -> None:
        with self._lock:
            self.stats[kind][what] += n

    def totals(self) -> dict:
        return {s: sum(self.stats[k][s] for k in KINDS) for s in STAT_NAMES}

    def path(self, kind: str, key: str) -> str:
        return os.path.join(self.directory, f"{kind}-{key}.bin")

    # -- entries ---------------------------------------------------------------------------
    def get(self, kind: str, key: str) -> bytes | None:
        """The payload stored under (kind, key), or None (a miss; a bad file is counted
        corrupt, logged and removed)."""
        if not self.enabled:
            return None
        p = self.path(kind, key)
        try:
            with open(p, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            self._count(kind, "misses")
            return None
        except OSError as e:
            self._count(kind, "misses")
            log.warning("compile cache: cannot read %s: %s", p, e)
            return None
        try:
            payload = self._check(raw, kind, key)
        except Corrupt as e:
            self.discard(kind, key, str(e))
            return None
        try:
            os.utime(p)            # recently used: pruned last
        except OSError:
            pass
        self._count(kind, "hits")
        return payload

    @staticmethod
    def _check(raw: bytes, kind: str, key: str) -> bytes:
        n = len(MAGIC) + _HEADER.size
        if len(raw) < n or not raw.startswith(MAGIC):
            raise Corrupt("not a cache file of this format" if len(raw) >= n else f"truncated ({len(raw)} bytes)")
        k, stored_key, length, digest = _HEADER.unpack_from(raw, len(MAGIC))
        if k.rstrip(b"\0").decode("ascii", "replace") != kind or stored_key.decode("ascii", "replace") != key:
            raise Corrupt("the key stored inside is another entry's")
        payload = raw[n:]
        if len(payload) != length:
            raise Corrupt(f"truncated: {len(payload)} of {length} payload bytes")
        if hashlib.sha256(payload).digest() != digest:
            raise Corrupt("checksum mismatch")
        return payload

    def discard(self, kind: str, key: str, why: str, *, read: bool = False) -> None:
        """Count and remove an entry that could not be used (``read``: get() returned it,
        and counted a hit that was not one)."""
        self._count(kind, "corrupt")
        if read:
            self._count(kind, "hits", -1)
        log.warning("compile cache: %s entry %s unusable (%s): removed, recompiling", kind, key[:16], why)
        try:
            os.unlink(self.path(kind, key))
        except OSError:
            pass

    def put(self, kind: str, key: str, payload: bytes) -> bool:
        """Store an entry atomically (temporary file + rename); False if it could not."""
        if not self.enabled:
            return False
        header = MAGIC + _HEADER.pack(kind.encode(), key.encode(), len(payload), hashlib.sha256(payload).digest())
        tmp = None
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{kind}-", suffix=".tmp", dir=self.directory)
            with os.fdopen(fd, "wb") as f:
                f.write(header)
                f.write(payload)
            os.replace(tmp, self.path(kind, key))
            tmp = None
        except OSError as e:
            self._count(kind, "store_errors")
            log.warning("compile cache: cannot write a %s entry in %s: %s", kind, self.directory, e)
            return False
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
        self._count(kind, "stores")
        self.prune()
        return True

    def prune(self) -> int:
        """Remove least recently used entries until the directory holds at most
        max_bytes (and temporary files older than an hour). Returns entries removed."""
        entries, total, now, removed = [], 0, time.time(), 0
        try:
            with os.scandir(self.directory) as it:
                for e in it:
                    try:
                        st = e.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if e.name.endswith(".tmp") and e.name.startswith("."):
                        if now - st.st_mtime > 3600:
                            _unlink(e.path)
                        continue
                    kind = e.name.partition("-")[0]
                    if kind in KINDS and e.name.endswith(".bin"):
                        entries.append((st.st_mtime, st.st_size, e.path, kind))
                        total += st.st_size
        except OSError:
            return 0
        entries.sort()
        for _, size, p, kind in entries:
            if total <= self.max_bytes:
                break
            if _unlink(p):
                removed += 1
                self._count(kind, "pruned")
            total -= size
        return removed

    # -- Hyperscan databases ---------------------------------------------------------------
    def database(self, backend, patterns, mode: str):
        """backend.Database.compile(patterns, mode) (a match_hs-like module), from the
        cache when an entry for exactly these inputs is there and loads; compiled and
        stored otherwise. Compile errors propagate as from Database.compile."""
        key = backend.Database.cache_key(patterns, mode)
        db = self.load_database(backend, key, patterns, mode)
        if db is None:
            db = backend.Database.compile(patterns, mode=mode)
            self.put("hsdb", key, db.serialize())
        return db

    def load_database(self, backend, key: str, patterns, mode: str):
        data = self.get("hsdb", key)
        if data is None:
            return None
        try:
            return backend.Database.deserialize(data, patterns, mode)
        except ValueError as e:
            self.discard("hsdb", key, str(e), read=True)
            return None

    def summary(self) -> str:
        t = self.totals()
        if not self.enabled:
            return f"compile cache off ({self.reason or 'disabled'})"
        return (f"compile cache {self.directory}: {t['hits']} hit(s), {t['misses']} miss(es), "
                f"{t['corrupt']} unusable, {t['stores']} stored")


def _unlink(p: str) -> bool:
    try:
        os.unlink(p)
        return True
    except OSError:
        return False


def open_cache(directory: str | None, *, enabled: bool = True, max_bytes: int = DEFAULT_MAX_BYTES,
               command: str = "run") -> CompileCache | None:
    """The cache to build with, or None when disabled (configured off, or unusable)."""
    if not enabled:
        return None
    c = CompileCache(directory or default_dir(command), max_bytes=max_bytes)
    return c if c.enabled else None


# -- keys -------------------------------------------------------------------------------------

def _h(*parts) -> "hashlib._Hash":
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else repr(p).encode("utf-8", "surrogateescape"))
        h.update(b"\0")
    return h


def build_key(cb, backend_name: str, db_key: str, *, validate: bool, max_retries: int) -> str:
    """Key of a databases.build outcome: the buffer's patterns (db_key), which rule owns
    which pattern and is validated, the options and the compiler."""
    rules = sorted((i, tuple(cr.pattern_ids), bool(cr.validate)) for i, cr in cb.rules.items())
    owners = sorted((pid, tuple(v)) for pid, v in cb.owners.items())
    return _h(b"build", compiler_version(), backend_name, cb.buffer, cb.mode, db_key, validate, max_retries,
              rules, owners).hexdigest()


def _file_digest(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError as e:
        return f"unreadable:{e.errno}"


def ruleset_key(paths, var_items, *, kernel_acl: bool, threshold, classification, matcher: str,
                strict: bool) -> str:
    """Key of a built rule set: every file load_detection reads, by path and content (a
    directory: its *.rules files, as the loader lists them), and every option."""
    files = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            files.append((str(path), "dir", [(f.name, _file_digest(str(f))) for f in
                                             sorted(x for x in path.iterdir() if x.suffix == ".rules" and x.is_file())]))
        elif path.exists():
            files.append((str(path), _file_digest(str(path))))
        else:
            files.append((str(path), "missing"))
    extra = [(f, _file_digest(f) if f is not None else None) for f in (threshold, classification)]
    from xdpfw._fast import match_hs

    return _h(b"ruleset", compiler_version(), match_hs.VERSION, match_hs.PLATFORM, files, list(var_items), extra,
              kernel_acl, matcher, strict).hexdigest()


# -- rule sets ---------------------------------------------------------------------------------
#
# Rules are stored without their parsed match options (options, contents, pcres,
# isdataat, bsize): after the build only the alert path reads a rule (msg, sid, rev,
# classtype, metadata, references, text...), and the options are most of the pickle's
# size and load time. Everything else of the Detection is stored whole.

_LEAN = ("options", "contents", "pcres", "isdataat", "bsize")


_RULE_FIELDS: tuple | None = None


def _rule_fields() -> tuple:
    global _RULE_FIELDS
    if _RULE_FIELDS is None:
        import dataclasses

        from xdpfw.rules.model import Rule

        _RULE_FIELDS = tuple(f.name for f in dataclasses.fields(Rule))
    return _RULE_FIELDS


def _lean_rule(names: tuple, values: tuple):
    from xdpfw.rules.model import Rule

    r = object.__new__(Rule)
    for n, v in zip(names, values):
        object.__setattr__(r, n, v)
    for n in _LEAN:
        object.__setattr__(r, n, [])
    return r


class _Pickler(pickle.Pickler):
    def __init__(self, f, cache: CompileCache):
        super().__init__(f, protocol=5)
        from xdpfw._fast import match_hs
        from xdpfw.rules.model import Rule

        self._hs, self._rule, self.cache = match_hs, Rule, cache
        self._names = tuple(n for n in _rule_fields() if n not in _LEAN)   # one object: pickled once

    def persistent_id(self, obj):
        if isinstance(obj, self._hs.Database):
            key = self._hs.Database.cache_key(obj.patterns, obj.mode)
            if not os.path.exists(self.cache.path("hsdb", key)) and not self.cache.put("hsdb", key, obj.serialize()):
                raise Corrupt("cannot store a database")
            return ("hsdb", key, obj.mode, tuple(tuple(p) for p in obj.patterns))
        return None

    def reducer_override(self, obj):
        if type(obj) is self._rule:
            return _lean_rule, (self._names, tuple(getattr(obj, n) for n in self._names))
        return NotImplemented


class _Unpickler(pickle.Unpickler):
    def __init__(self, f, cache: CompileCache):
        super().__init__(f)
        from xdpfw._fast import match_hs

        self._hs, self.cache = match_hs, cache
        self._loaded: dict = {}   # key -> database: one object per database (groups share them)

    def persistent_load(self, pid):
        kind, key, mode, patterns = pid
        if kind != "hsdb":
            raise Corrupt(f"unknown reference {kind!r}")
        if key in self._loaded:
            return self._loaded[key]
        db = self.cache.load_database(self._hs, key, patterns, mode)
        if db is None:
            raise Corrupt(f"its {mode} database {key[:16]} is missing or unusable")
        self._loaded[key] = db
        return db

    def find_class(self, module, name):
        if module.split(".")[0] not in ("xdpfw", "builtins", "collections", "ipaddress", "copyreg", "_codecs",
                                        "enum"):
            raise Corrupt(f"refers to {module}.{name}")
        return super().find_class(module, name)


def store_ruleset(cache: CompileCache, key: str, det, previous_ids: dict) -> bool:
    """Store a built Detection (det) under key; previous_ids: the flowbit numbers it was
    built from (see load_ruleset)."""
    buf = io.BytesIO()
    try:
        _Pickler(buf, cache).dump((dict(previous_ids), det))
    except (Corrupt, pickle.PicklingError, TypeError, AttributeError) as e:
        log.warning("compile cache: rule set not stored: %s", e)
        cache._count("ruleset", "store_errors")
        return False
    return cache.put("ruleset", key, buf.getvalue())


def load_ruleset(cache: CompileCache, key: str, previous_ids: dict):
    """The Detection stored under key, or None. Flowbit numbers: a set built from
    flowbit numbers P got numbers D (D extends P); it is what a build from P or from D
    would give, so it serves a start or reload passing either (any other: a miss)."""
    data = cache.get("ruleset", key)
    if data is None:
        return None
    enabled = gc.isenabled()
    gc.disable()                  # millions of small objects: the collector would triple the time
    try:
        built_from, det = _Unpickler(io.BytesIO(data), cache).load()
    except Corrupt as e:
        cache.discard("ruleset", key, str(e), read=True)
        return None
    except Exception as e:        # noqa: BLE001 - any unpickling failure is a bad entry
        cache.discard("ruleset", key, f"{type(e).__name__}: {e}", read=True)
        return None
    finally:
        if enabled:
            gc.enable()
    prev = dict(previous_ids)
    if prev != built_from and prev != det.tables.flowbit_ids:
        cache._count("ruleset", "misses")
        cache._count("ruleset", "hits", -1)
        return None
    return det
