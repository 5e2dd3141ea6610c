# cython: language_level=3, embedsignature=True, boundscheck=False, wraparound=False, cdivision=True
"""What both matcher backends share: the pattern record, errors, the base classes the
engine holds (see match.pxd for the API), and Python-level wrappers for tests and
benchmarks (MatchBuffer, StreamTable, scan_bytes). The engine does not use the wrappers:
it embeds struct xdpfw_mstream in its own slab and calls db.ops directly.
"""
from collections import namedtuple

cimport cython

from cpython.mem cimport PyMem_Calloc, PyMem_Free
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from xdpfw._fast.includes.clock cimport monotonic_ns

Pattern = namedtuple(
    "Pattern", "id expression literal nocase min_offset max_offset dotall multiline "
               "singlematch quiet combination",
    defaults=(True, False, None, None, False, False, False, False, False))
Pattern.__doc__ = """One content or regex of one database.

id: reported with each match; 0 <= id < 2**32, unique within a database (Hyperscan
merges the matches of patterns sharing an id, Aho-Corasick would not: forbidding it keeps
the two backends' output identical).
expression: the literal bytes, or a PCRE-syntax regex (Hyperscan subset) as bytes.
min_offset/max_offset: inclusive bounds on the match's END offset from the start of the
stream or buffer, or None. dotall/multiline: regex flags (ignored for literals).
singlematch: report at most once per stream (until finish/reset) or block scan.
quiet: never reported, only an operand of combinations. combination: the expression is a
logical combination of other ids of the same database (b"1 & !2 | (3 & 4)"), reported
at each offset where an operand matches and the combination is true; it needs
literal=False. The last three are Hyperscan features: the Aho-Corasick backend refuses
them."""

MAX_OFFSET = (1 << 64) - 1


class CompileError(ValueError):
    """A pattern set that a backend cannot compile. pattern_id names the culprit (None
    when the error is about the set as a whole); the engine maps it to file:line."""

    def __init__(self, pattern_id, message):
        self.pattern_id = pattern_id
        self.message = message
        super().__init__(message if pattern_id is None else f"pattern {pattern_id}: {message}")


class MatchError(RuntimeError):
    """A hot-path call returned an error code (test and benchmark wrappers only)."""

    def __init__(self, op, int code):
        self.code = code
        names = {XDPFW_MATCH_ENOTOPEN: "stream not open", XDPFW_MATCH_EOPEN: "stream already open",
                 XDPFW_MATCH_EPOOL: "stream pool exhausted"}
        super().__init__(f"{op}: {names.get(code, f'backend error {code}')}")


def normalize_patterns(patterns, *, literal_only=False, backend="matcher"):
    """Validate patterns (Pattern or tuples) and return them as a tuple of Pattern."""
    out = []
    ids = set()
    for p in patterns:
        p = p if isinstance(p, Pattern) else Pattern(*p)
        if not isinstance(p.id, int) or not 0 <= p.id < (1 << 32):
            raise CompileError(p.id, "pattern id must be an integer in 0..2**32-1")
        if p.id in ids:
            raise CompileError(p.id, "pattern id used twice")
        ids.add(p.id)
        if not isinstance(p.expression, (bytes, bytearray, memoryview)):
            raise CompileError(p.id, f"expression must be bytes, got {type(p.expression).__name__}")
        p = p._replace(expression=bytes(p.expression))
        if not p.expression:
            raise CompileError(p.id, "empty expression")
        if literal_only:
            # A literal-only backend (Aho-Corasick) has none of Hyperscan's pattern flags.
            for flag in ("singlematch", "quiet", "combination"):
                if getattr(p, flag):
                    raise CompileError(p.id, f"the {backend} backend does not support {flag}=True "
                                             f"(a Hyperscan pattern flag)")
        if literal_only and not p.literal:
            raise CompileError(p.id, f"the {backend} backend takes only literals, not a regex: "
                                     f"{p.expression[:40]!r}")
        if p.combination and p.literal:
            raise CompileError(p.id, "a combination is an expression over ids: literal must be False")
        for name in ("min_offset", "max_offset"):
            v = getattr(p, name)
            if v is not None and (not isinstance(v, int) or not 0 <= v <= MAX_OFFSET):
                raise CompileError(p.id, f"{name} must be None or an integer in 0..2**64-1, got {v!r}")
        if p.min_offset is not None and p.max_offset is not None and p.min_offset > p.max_offset:
            raise CompileError(p.id, f"min_offset={p.min_offset} > max_offset={p.max_offset}")
        out.append(p)
    if not out:
        raise CompileError(None, "no patterns")
    return tuple(out)


cdef class Database:
    """A compiled, immutable pattern set; build it with a backend's Database.compile()."""

    def __init__(self):
        raise TypeError("use match_hs.Database.compile() or match_ac.Database.compile()")

    @property
    def backend(self):
        return self.ops.name.decode()

    @property
    def pattern_count(self):
        return len(self.patterns)


cdef class Scratch:
    """Per-thread scan workspace; a backend subclass allocates it."""


cdef class StreamPool:
    """Per-thread stream state lent to flows; a backend subclass allocates it."""


cdef class MatchBuffer:
    """A fixed-capacity match buffer (struct xdpfw_match_buf)."""

    def __cinit__(self, uint32_t capacity=1024):
        self.buf.rec = <xdpfw_match *>PyMem_Calloc(capacity if capacity else 1, sizeof(xdpfw_match))
        if self.buf.rec == NULL:
            raise MemoryError()
        self.buf.capacity = capacity
        self.buf.count = 0
        self.buf.overflow = 0

    def __dealloc__(self):
        PyMem_Free(self.buf.rec)

    @property
    def capacity(self):
        return self.buf.capacity

    @property
    def overflow(self):
        """Matches that found the buffer full since the last clear()."""
        return self.buf.overflow

    def clear(self):
        self.buf.count = 0
        self.buf.overflow = 0

    def matches(self):
        """The buffered matches as [(id, end), ...] in the order they were reported."""
        return [(self.buf.rec[i].id, self.buf.rec[i].end) for i in range(self.buf.count)]


cdef _take(MatchBuffer mb, bint keep):
    res = mb.matches()
    if not keep:
        mb.clear()
    return res


@cython.no_gc_clear  # __dealloc__ gives open streams back through database and pool
cdef class StreamTable:
    """`size` streams in one caller-owned array, as the engine's flow slab holds them.

    A test and benchmark wrapper around db.ops: each method is one hot-path call, made
    with the GIL released. Methods returning matches take an optional MatchBuffer (the
    matches stay in it, so overflow can be read); without one a fresh 4096-entry buffer
    is used and only its matches are returned.
    """

    def __cinit__(self, Database db not None, Scratch scratch not None, StreamPool pool not None,
                  uint32_t size):
        if db.mode != "stream":
            raise ValueError(f"StreamTable needs a stream-mode database, got {db.mode!r}")
        if pool.database is not db:
            raise ValueError("the pool belongs to another database")
        self.streams = <xdpfw_mstream *>PyMem_Calloc(size if size else 1, sizeof(xdpfw_mstream))
        if self.streams == NULL:
            raise MemoryError()
        self.size, self.database, self.scratch, self.pool = size, db, scratch, pool

    def __dealloc__(self):
        # Streams still open go back to the pool (the pool may outlive the table).
        cdef uint32_t i
        if self.streams == NULL:
            return
        for i in range(self.size):
            if self.streams[i].flags & XDPFW_MSTREAM_OPEN:
                self.database.ops.close(self.pool.c_pool, self.scratch.c_scratch, &self.streams[i], NULL)
        PyMem_Free(self.streams)

    cdef xdpfw_mstream *_at(self, uint32_t i) except NULL:
        if i >= self.size:
            raise IndexError(i)
        return &self.streams[i]

    def open(self, uint32_t i):
        cdef xdpfw_mstream *st = self._at(i)
        cdef int rc
        with nogil:
            rc = self.database.ops.open(self.pool.c_pool, st)
        if rc:
            raise MatchError("open", rc)

    def is_open(self, uint32_t i):
        return bool(self._at(i).flags & XDPFW_MSTREAM_OPEN)

    def offset(self, uint32_t i):
        return self._at(i).offset

    def scan(self, uint32_t i, const uint8_t[:] data, MatchBuffer out=None):
        cdef xdpfw_mstream *st = self._at(i)
        cdef bint keep = out is not None
        cdef MatchBuffer mb = out if keep else MatchBuffer(4096)
        cdef int rc
        cdef uint32_t n = <uint32_t>data.shape[0]
        cdef const uint8_t *p = &data[0] if n else NULL
        with nogil:
            rc = self.database.ops.scan(self.database.c_db, self.scratch.c_scratch, st, p, n, &mb.buf)
        if rc:
            raise MatchError("scan", rc)
        return _take(mb, keep)

    def finish(self, uint32_t i, MatchBuffer out=None):
        cdef xdpfw_mstream *st = self._at(i)
        cdef bint keep = out is not None
        cdef MatchBuffer mb = out if keep else MatchBuffer(4096)
        cdef int rc
        with nogil:
            rc = self.database.ops.finish(self.database.c_db, self.scratch.c_scratch, st, &mb.buf)
        if rc:
            raise MatchError("finish", rc)
        return _take(mb, keep)

    def reset(self, uint32_t i):
        cdef xdpfw_mstream *st = self._at(i)
        cdef int rc
        with nogil:
            rc = self.database.ops.reset(self.database.c_db, st)
        if rc:
            raise MatchError("reset", rc)

    def close(self, uint32_t i, bint eod=True, MatchBuffer out=None):
        """Close stream i; with eod, end-anchored matches are returned."""
        cdef xdpfw_mstream *st = self._at(i)
        cdef bint keep = out is not None
        cdef MatchBuffer mb = out if keep else MatchBuffer(4096)
        cdef int rc
        with nogil:
            rc = self.database.ops.close(self.pool.c_pool, self.scratch.c_scratch, st,
                                         &mb.buf if eod else NULL)
        if rc:
            raise MatchError("close", rc)
        return _take(mb, keep)

    def scan_many(self, const uint32_t[:] slots, const uint64_t[:] offsets,
                  const uint32_t[:] lengths, const uint8_t[:] data, uint32_t capacity=1024):
        """Benchmark driver: scan packet k (data[offsets[k]:offsets[k]+lengths[k]]) on
        stream slots[k], opening streams on first use, clearing the match buffer per
        packet as the engine would. Returns {ns, packets, bytes, matches, overflow}."""
        cdef MatchBuffer mb = MatchBuffer(capacity)
        cdef Py_ssize_t k, n = slots.shape[0]
        cdef uint64_t nbytes = 0, matches = 0, t0, t1
        cdef xdpfw_mstream *st
        cdef const xdpfw_matcher_ops *ops = self.database.ops
        cdef int rc = 0
        cdef const uint8_t *base = &data[0] if data.shape[0] else NULL
        if offsets.shape[0] != n or lengths.shape[0] != n:
            raise ValueError("slots, offsets and lengths differ in length")
        for k in range(n):
            if slots[k] >= self.size or offsets[k] + lengths[k] > <uint64_t>data.shape[0]:
                raise IndexError(k)
        with nogil:
            t0 = monotonic_ns()
            for k in range(n):
                st = &self.streams[slots[k]]
                if not (st.flags & XDPFW_MSTREAM_OPEN):
                    rc = ops.open(self.pool.c_pool, st)
                    if rc:
                        break
                mb.buf.count = 0
                rc = ops.scan(self.database.c_db, self.scratch.c_scratch, st,
                              base + offsets[k], lengths[k], &mb.buf)
                if rc:
                    break
                matches += mb.buf.count
                nbytes += lengths[k]
            t1 = monotonic_ns()
        if rc:
            raise MatchError("scan_many", rc)
        return {"ns": t1 - t0, "packets": n, "bytes": nbytes, "matches": matches,
                "overflow": mb.buf.overflow}


def scan_bytes(Database db not None, Scratch scratch not None, const uint8_t[:] data,
               MatchBuffer out=None):
    """Block-mode scan of one buffer: [(id, end), ...] (test wrapper of ops.scan_block)."""
    if db.mode != "block":
        raise ValueError(f"scan_bytes needs a block-mode database, got {db.mode!r}")
    cdef bint keep = out is not None
    cdef MatchBuffer mb = out if keep else MatchBuffer(4096)
    cdef uint32_t n = <uint32_t>data.shape[0]
    cdef const uint8_t *p = &data[0] if n else NULL
    cdef int rc
    with nogil:
        rc = db.ops.scan_block(db.c_db, scratch.c_scratch, p, n, &mb.buf)
    if rc:
        raise MatchError("scan_block", rc)
    return _take(mb, keep)


def scan_block_many(Database db not None, Scratch scratch not None, const uint64_t[:] offsets,
                    const uint32_t[:] lengths, const uint8_t[:] data, uint32_t capacity=1024):
    """Benchmark driver: block-mode scan of every packet. Same result dict as
    StreamTable.scan_many."""
    if db.mode != "block":
        raise ValueError(f"scan_block_many needs a block-mode database, got {db.mode!r}")
    cdef MatchBuffer mb = MatchBuffer(capacity)
    cdef Py_ssize_t k, n = offsets.shape[0]
    cdef uint64_t nbytes = 0, matches = 0, t0, t1
    cdef int rc = 0
    cdef const uint8_t *base = &data[0] if data.shape[0] else NULL
    if lengths.shape[0] != n:
        raise ValueError("offsets and lengths differ in length")
    for k in range(n):
        if offsets[k] + lengths[k] > <uint64_t>data.shape[0]:
            raise IndexError(k)
    with nogil:
        t0 = monotonic_ns()
        for k in range(n):
            mb.buf.count = 0
            rc = db.ops.scan_block(db.c_db, scratch.c_scratch, base + offsets[k], lengths[k],
                                   &mb.buf)
            if rc:
                break
            matches += mb.buf.count
            nbytes += lengths[k]
        t1 = monotonic_ns()
    if rc:
        raise MatchError("scan_block", rc)
    return {"ns": t1 - t0, "packets": n, "bytes": nbytes, "matches": matches,
            "overflow": mb.buf.overflow}


# xdpfw_match.h as the C compiler saw it, for the control plane and the tests.
STREAM_STRUCT_SIZE = sizeof(xdpfw_mstream)
MATCH_RECORD_SIZE = sizeof(xdpfw_match)
ENOTOPEN = XDPFW_MATCH_ENOTOPEN
EOPEN = XDPFW_MATCH_EOPEN
EPOOL = XDPFW_MATCH_EPOOL
