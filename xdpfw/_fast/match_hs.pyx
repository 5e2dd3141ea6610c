# cython: language_level=3, embedsignature=True, boundscheck=False, wraparound=False, cdivision=True
"""Hyperscan backend of the streaming matcher (API and stream-state design: match.pxd).

Literals are compiled as regexes made of \\xHH escapes, in the same hs_compile_ext_multi
call as the regexes: hs_compile_lit_multi takes no hs_expr_ext (so no min/max offset)
and cannot share a database with regexes, while one database per (direction, buffer) is
the point. Escaping every byte keeps NUL and metacharacters literal, and
HS_FLAG_CASELESS applies to escaped letters as to plain ones.
"""
import hashlib
import time

from cpython.mem cimport PyMem_Calloc, PyMem_Free, PyMem_Malloc
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from xdpfw._fast.includes.clock cimport monotonic_ns
from libc.stdlib cimport free

from xdpfw._fast.includes.hs cimport *
from xdpfw._fast.match cimport (XDPFW_MATCH_ENOTOPEN, XDPFW_MATCH_EOPEN, XDPFW_MATCH_EPOOL,
                                XDPFW_MSTREAM_OPEN, xdpfw_match_push, xdpfw_matcher_ops)

from xdpfw._fast.match import CompileError, Pattern, normalize_patterns  # noqa: F401 (re-export)

# Counting stream allocator: Hyperscan allocates stream state only through it, so the
# two counters prove (in tests) that streams are allocated when a pool is built and never
# per flow or per packet. Plain malloc/free underneath, as Hyperscan's default.
cdef extern from *:
    """
    #include <stdlib.h>
    static unsigned long long xdpfw_hs_stream_allocs, xdpfw_hs_stream_frees;
    static void *xdpfw_hs_stream_alloc(size_t n)
    {
        __atomic_fetch_add(&xdpfw_hs_stream_allocs, 1, __ATOMIC_RELAXED);
        return malloc(n);
    }
    static void xdpfw_hs_stream_free(void *p)
    {
        if (p)
            __atomic_fetch_add(&xdpfw_hs_stream_frees, 1, __ATOMIC_RELAXED);
        free(p);
    }
    static unsigned long long xdpfw_hs_load(unsigned long long *v)
    {
        return __atomic_load_n(v, __ATOMIC_RELAXED);
    }
    """
    unsigned long long xdpfw_hs_stream_allocs
    unsigned long long xdpfw_hs_stream_frees
    void *xdpfw_hs_stream_alloc(size_t n) noexcept nogil
    void xdpfw_hs_stream_free(void *p) noexcept nogil
    unsigned long long xdpfw_hs_load(unsigned long long *v) noexcept nogil

if hs_set_stream_allocator(xdpfw_hs_stream_alloc, xdpfw_hs_stream_free) != HS_SUCCESS:
    raise ImportError("hs_set_stream_allocator failed")

VERSION = hs_version().decode()

cdef hs_platform_info_t _platform
if hs_populate_platform(&_platform) != HS_SUCCESS:
    raise ImportError("hs_populate_platform failed")
PLATFORM = (_platform.tune, _platform.cpu_features)   # what a database compiled here is built for


# ---- hot path -------------------------------------------------------------------------

cdef int hsm_on_match(unsigned int id, unsigned long long frm, unsigned long long to,
                      unsigned int flags, void *ctx) noexcept nogil:
    xdpfw_match_push(<xdpfw_match_buf *>ctx, id, to)
    return 0  # never stop: a stopped Hyperscan stream refuses every later write


cdef int hsm_open(void *pool, xdpfw_mstream *st) noexcept nogil:
    cdef hsm_pool *p = <hsm_pool *>pool
    if st.flags & XDPFW_MSTREAM_OPEN:
        return XDPFW_MATCH_EOPEN
    if p.nidle == 0:
        # None idle: allocate one more, up to the capacity. Allocation follows the most
        # streams ever lent at once (never the flow rate: a closed stream is lent again),
        # so a worker holds the memory its traffic needed, not its capacity's.
        if p.opened == p.capacity or hs_open_stream(p.db, 0, &p.all[p.opened]) != HS_SUCCESS:
            p.exhausted += 1
            return XDPFW_MATCH_EPOOL
        p.idle[0] = p.all[p.opened]
        p.opened += 1
        p.nidle = 1
    p.nidle -= 1
    st.hs = p.idle[p.nidle]
    st.offset = 0
    st.flags = XDPFW_MSTREAM_OPEN
    p.opens += 1
    if p.opened - p.nidle > p.peak:
        p.peak = p.opened - p.nidle
    return 0


cdef int hsm_scan(const void *db, void *scratch, xdpfw_mstream *st, const uint8_t *data,
                  uint32_t length, xdpfw_match_buf *out) noexcept nogil:
    cdef hs_error_t rc
    if not (st.flags & XDPFW_MSTREAM_OPEN):
        return XDPFW_MATCH_ENOTOPEN
    if length == 0:
        return 0  # Hyperscan refuses an empty write (HS_INVALID); nothing to do anyway
    if out != NULL:
        rc = hs_scan_stream(<hs_stream_t *>st.hs, <const char *>data, length, 0,
                            <hs_scratch_t *>scratch, hsm_on_match, out)
    else:
        rc = hs_scan_stream(<hs_stream_t *>st.hs, <const char *>data, length, 0,
                            <hs_scratch_t *>scratch, NULL, NULL)
    if rc == HS_SUCCESS:
        st.offset += length
    return rc


cdef int hsm_finish(const void *db, void *scratch, xdpfw_mstream *st,
                    xdpfw_match_buf *out) noexcept nogil:
    cdef hs_error_t rc
    if not (st.flags & XDPFW_MSTREAM_OPEN):
        return XDPFW_MATCH_ENOTOPEN
    if out != NULL:
        rc = hs_reset_stream(<hs_stream_t *>st.hs, 0, <hs_scratch_t *>scratch, hsm_on_match, out)
    else:
        rc = hs_reset_stream(<hs_stream_t *>st.hs, 0, NULL, NULL, NULL)
    if rc == HS_SUCCESS:
        st.offset = 0
    return rc


cdef int hsm_reset(const void *db, xdpfw_mstream *st) noexcept nogil:
    return hsm_finish(db, NULL, st, NULL)


cdef int hsm_close(void *pool, void *scratch, xdpfw_mstream *st, xdpfw_match_buf *out) noexcept nogil:
    cdef hsm_pool *p = <hsm_pool *>pool
    cdef hs_error_t rc
    if not (st.flags & XDPFW_MSTREAM_OPEN):
        return XDPFW_MATCH_ENOTOPEN
    rc = hsm_finish(NULL, scratch, st, out)
    if rc != HS_SUCCESS:
        # End-of-data reporting failed (e.g. scratch in use): the stream must still go
        # back clean, and a reset without a callback needs no scratch.
        hs_reset_stream(<hs_stream_t *>st.hs, 0, NULL, NULL, NULL)
    p.idle[p.nidle] = <hs_stream_t *>st.hs
    p.nidle += 1
    st.hs = NULL
    st.offset = 0
    st.flags = 0
    return rc


cdef int hsm_scan_block(const void *db, void *scratch, const uint8_t *data, uint32_t length,
                        xdpfw_match_buf *out) noexcept nogil:
    if length == 0:
        return 0  # no pattern matches the empty buffer (Hyperscan refuses ones that could)
    if out != NULL:
        return hs_scan(<const hs_database_t *>db, <const char *>data, length, 0,
                       <hs_scratch_t *>scratch, hsm_on_match, out)
    return hs_scan(<const hs_database_t *>db, <const char *>data, length, 0,
                   <hs_scratch_t *>scratch, NULL, NULL)


cdef xdpfw_matcher_ops HS_OPS
HS_OPS.name = b"hyperscan"
HS_OPS.open = hsm_open
HS_OPS.scan = hsm_scan
HS_OPS.finish = hsm_finish
HS_OPS.reset = hsm_reset
HS_OPS.close = hsm_close
HS_OPS.scan_block = hsm_scan_block


# ---- control plane --------------------------------------------------------------------

cdef bytes _hs_expression(p):
    if p.literal:
        return b"".join([b"\\x%02x" % c for c in p.expression])
    if b"\0" in p.expression:
        # Hyperscan takes NUL-terminated expressions; a regex writes NUL as \x00.
        raise CompileError(p.id, "regex contains a NUL byte (write it as \\x00)")
    return p.expression


cdef unsigned int _hs_flags(p):
    cdef unsigned int f = 0
    if p.combination:
        # Hyperscan accepts only these two flags on a combination.
        f = HS_FLAG_COMBINATION
    else:
        if p.nocase:
            f |= HS_FLAG_CASELESS
        if not p.literal:
            if p.dotall:
                f |= HS_FLAG_DOTALL
            if p.multiline:
                f |= HS_FLAG_MULTILINE
    if p.singlematch:
        f |= HS_FLAG_SINGLEMATCH
    if p.quiet:
        f |= HS_FLAG_QUIET
    return f


cdef Database _wrap(hs_database_t *hdb, tuple pats, str mode, double elapsed):
    cdef Database self = Database.__new__(Database)
    cdef size_t size = 0
    self.hdb = hdb
    self.c_db = hdb
    self.ops = &HS_OPS
    self.mode = mode
    self.patterns = pats
    self.compile_time = elapsed
    if mode == "stream":
        hs_stream_size(hdb, &size)
    self.stream_size = size
    size = 0
    hs_database_size(hdb, &size)
    self.database_size = size
    return self


cdef class Database(match.Database):
    """A Hyperscan database (stream or block mode)."""

    def __dealloc__(self):
        if self.hdb != NULL:
            hs_free_database(self.hdb)

    @classmethod
    def compile(cls, patterns, str mode="stream"):
        """Compile patterns (match.Pattern or tuples) into one database. Raises
        match.CompileError naming the first pattern Hyperscan rejects."""
        if mode not in ("stream", "block"):
            raise ValueError(f"mode must be 'stream' or 'block', got {mode!r}")
        pats = normalize_patterns(patterns, backend="hyperscan")
        cdef unsigned int n = len(pats), i
        cdef unsigned int hmode = HS_MODE_STREAM if mode == "stream" else HS_MODE_BLOCK
        exprs = [_hs_expression(p) for p in pats]
        cdef const char **c_exprs = <const char **>PyMem_Malloc(n * sizeof(char *))
        cdef unsigned int *c_flags = <unsigned int *>PyMem_Malloc(n * sizeof(unsigned int))
        cdef unsigned int *c_ids = <unsigned int *>PyMem_Malloc(n * sizeof(unsigned int))
        cdef hs_expr_ext_t *c_ext = <hs_expr_ext_t *>PyMem_Calloc(n, sizeof(hs_expr_ext_t))
        cdef const hs_expr_ext_t **c_extp = <const hs_expr_ext_t **>PyMem_Malloc(n * sizeof(void *))
        cdef hs_database_t *hdb = NULL
        cdef hs_compile_error_t *err = NULL
        cdef hs_error_t rc
        cdef bytes e
        try:
            if not (c_exprs and c_flags and c_ids and c_ext and c_extp):
                raise MemoryError()
            for i in range(n):
                p = pats[i]
                e = exprs[i]
                c_exprs[i] = e
                c_flags[i] = _hs_flags(p)
                c_ids[i] = p.id
                if p.min_offset is not None:
                    c_ext[i].flags |= HS_EXT_FLAG_MIN_OFFSET
                    c_ext[i].min_offset = p.min_offset
                if p.max_offset is not None:
                    c_ext[i].flags |= HS_EXT_FLAG_MAX_OFFSET
                    c_ext[i].max_offset = p.max_offset
                c_extp[i] = &c_ext[i] if c_ext[i].flags else NULL
            t0 = time.perf_counter()
            # Big rule sets take seconds: let the control plane's other threads run.
            with nogil:
                rc = hs_compile_ext_multi(c_exprs, c_flags, c_ids, c_extp, n, hmode, NULL, &hdb, &err)
            elapsed = time.perf_counter() - t0
            if rc != HS_SUCCESS:
                if err == NULL:
                    raise CompileError(None, f"hs_compile_ext_multi failed ({rc})")
                msg = err.message.decode(errors="replace")
                pid = pats[err.expression].id if 0 <= err.expression < <int>n else None
                raise CompileError(pid, msg)
        finally:
            hs_free_compile_error(err)
            PyMem_Free(c_exprs)
            PyMem_Free(c_flags)
            PyMem_Free(c_ids)
            PyMem_Free(c_ext)
            PyMem_Free(c_extp)
        return _wrap(hdb, pats, mode, elapsed)

    @staticmethod
    def cache_key(patterns, str mode="stream"):
        """A hex SHA-256 of exactly what Database.compile(patterns, mode) gives
        hs_compile_ext_multi (each expression as compiled, its flags, id and offsets, the
        mode), with the Hyperscan version and this host's platform (tune, CPU features):
        equal keys compile to interchangeable databases. The on-disk cache's key."""
        if mode not in ("stream", "block"):
            raise ValueError(f"mode must be 'stream' or 'block', got {mode!r}")
        pats = normalize_patterns(patterns, backend="hyperscan")
        h = hashlib.sha256()
        h.update(b"xdpfw-hsdb\0%s\0%s\0%d:%d\0" % (VERSION.encode(), mode.encode(), PLATFORM[0], PLATFORM[1]))
        for p in pats:
            e = _hs_expression(p)
            h.update(b"%d %d %d %d %d:" % (p.id, _hs_flags(p), len(e),
                                          -1 if p.min_offset is None else p.min_offset,
                                          -1 if p.max_offset is None else p.max_offset))
            h.update(e)
        return h.hexdigest()

    def serialize(self):
        """The database as bytes (hs_serialize_database), for Database.deserialize."""
        cdef char *buf = NULL
        cdef size_t n = 0
        if hs_serialize_database(self.hdb, &buf, &n) != HS_SUCCESS or buf == NULL:
            raise MemoryError("hs_serialize_database failed")
        try:
            return buf[:n]
        finally:
            free(buf)

    @staticmethod
    def deserialize(const unsigned char[::1] data, patterns, str mode="stream"):
        """A database from Database.serialize()'s bytes, for `patterns` (the ones it was
        compiled from: kept as .patterns) in `mode`. Raises ValueError when Hyperscan
        refuses the image (damaged, another version or platform) or when it is not a
        database of that mode: the caller recompiles."""
        if mode not in ("stream", "block"):
            raise ValueError(f"mode must be 'stream' or 'block', got {mode!r}")
        cdef hs_database_t *hdb = NULL
        cdef hs_error_t rc
        cdef char *s = NULL
        if data.shape[0] == 0:
            raise ValueError("empty database image")
        rc = hs_deserialize_database(<const char *>&data[0], data.shape[0], &hdb)
        if rc != HS_SUCCESS:
            raise ValueError(f"hs_deserialize_database refused the image ({rc})")
        info = ""
        if hs_database_info(hdb, &s) == HS_SUCCESS and s != NULL:
            info = s.decode(errors="replace")
            free(s)
        want = "Mode: STREAM" if mode == "stream" else "Mode: BLOCK"
        if want not in info:
            hs_free_database(hdb)
            raise ValueError(f"the image is not a {mode}-mode database ({info!r})")
        return _wrap(hdb, normalize_patterns(patterns, backend="hyperscan"), mode, 0.0)

    @property
    def info(self):
        """Hyperscan's description of the database (version, features, mode)."""
        cdef char *s = NULL
        if hs_database_info(self.hdb, &s) != HS_SUCCESS:
            return ""
        try:
            return s.decode()
        finally:
            free(s)


cdef class Scratch(match.Scratch):
    """Hyperscan scratch for one worker thread, large enough for every database given."""

    def __init__(self, *databases):
        if not databases:
            raise ValueError("Scratch needs at least one database")
        cdef Database db
        for db in databases:
            if hs_alloc_scratch(db.hdb, &self.hs) != HS_SUCCESS:
                raise MemoryError("hs_alloc_scratch failed")
        # hs_alloc_scratch may move the scratch while growing it.
        self.c_scratch = self.hs
        self.databases = tuple(databases)

    def __dealloc__(self):
        hs_free_scratch(self.hs)

    def clone(self):
        """A scratch for another thread, valid for the same databases."""
        cdef Scratch other = Scratch.__new__(Scratch)
        if hs_clone_scratch(self.hs, &other.hs) != HS_SUCCESS:
            raise MemoryError("hs_clone_scratch failed")
        other.c_scratch = other.hs
        other.databases = self.databases
        return other

    @property
    def size(self):
        cdef size_t n = 0
        hs_scratch_size(self.hs, &n)
        return n


cdef class StreamPool(match.StreamPool):
    """Up to `capacity` streams of one stream-mode database, lent to flows: each is allocated
    the first time the pool has none idle, and lent again after it is closed."""

    def __init__(self, Database db not None, uint32_t capacity):
        if db.mode != "stream":
            raise ValueError(f"StreamPool needs a stream-mode database, got {db.mode!r}")
        if capacity == 0:
            raise ValueError("capacity must be > 0")
        self.pool.idle = <hs_stream_t **>PyMem_Calloc(capacity, sizeof(hs_stream_t *))
        self.pool.all = <hs_stream_t **>PyMem_Calloc(capacity, sizeof(hs_stream_t *))
        if self.pool.idle == NULL or self.pool.all == NULL:
            raise MemoryError()
        self.database = db
        self.capacity = capacity
        self.pool.db = db.hdb
        self.pool.capacity = capacity
        self.pool.opened = 0
        self.pool.nidle = 0
        self.c_pool = &self.pool

    def __dealloc__(self):
        cdef uint32_t i
        if self.pool.all != NULL:
            for i in range(self.pool.opened):
                hs_close_stream(self.pool.all[i], NULL, NULL, NULL)
        PyMem_Free(self.pool.all)
        PyMem_Free(self.pool.idle)

    def stats(self):
        return {"capacity": self.pool.capacity, "in_use": self.pool.opened - self.pool.nidle,
                "peak": self.pool.peak, "opens": self.pool.opens, "exhausted": self.pool.exhausted,
                "allocated": self.pool.opened, "bytes": self.pool.opened * self.database.stream_size}


def stream_allocations():
    """Hyperscan stream states allocated and freed in this process so far."""
    return {"allocated": xdpfw_hs_load(&xdpfw_hs_stream_allocs),
            "freed": xdpfw_hs_load(&xdpfw_hs_stream_frees)}


def measure_stream_designs(Database db not None, Scratch scratch not None, const uint8_t[:] data,
                           uint32_t rounds=10000):
    """Cost of the three stream-state designs of match.pxd, in ns per operation, on this
    database, with `data` scanned once first so the state is a realistic one:
      per_flow_open_close  (a) hs_open_stream + hs_close_stream
      pool_open_close      (c) ops.open + ops.close (hs_reset_stream, no allocation)
      compress_expand      (b) hs_compress_stream + hs_reset_and_expand_stream, per packet
      scan                 one hs_scan_stream of `data`, for scale
    and compressed_bytes, the size of that state's compressed image."""
    if db.mode != "stream":
        raise ValueError("measure_stream_designs needs a stream-mode database")
    if rounds == 0:
        raise ValueError("rounds must be > 0")
    cdef uint32_t n = <uint32_t>data.shape[0], i
    cdef const char *p = <const char *>&data[0] if n else NULL
    cdef hs_stream_t *s = NULL
    cdef hs_stream_t *work = NULL
    cdef char *img = NULL
    cdef size_t need = 0, used = 0
    cdef uint64_t t0, t_open, t_pool, t_comp, t_scan
    cdef StreamPool pool = StreamPool(db, 1)
    cdef xdpfw_mstream st
    st.flags = 0
    st.hs = NULL
    if hs_open_stream(db.hdb, 0, &work) != HS_SUCCESS:
        raise MemoryError()
    try:
        hs_scan_stream(work, p, n, 0, scratch.hs, NULL, NULL)
        hs_compress_stream(work, NULL, 0, &need)
        img = <char *>PyMem_Malloc(need)
        if img == NULL:
            raise MemoryError()
        with nogil:
            t0 = monotonic_ns()
            for i in range(rounds):
                hs_open_stream(db.hdb, 0, &s)
                hs_close_stream(s, NULL, NULL, NULL)
            t_open = monotonic_ns() - t0

            t0 = monotonic_ns()
            for i in range(rounds):
                hsm_open(pool.c_pool, &st)
                hsm_close(pool.c_pool, scratch.hs, &st, NULL)
            t_pool = monotonic_ns() - t0

            t0 = monotonic_ns()
            for i in range(rounds):
                hs_compress_stream(work, img, need, &used)
                hs_reset_and_expand_stream(work, img, used, NULL, NULL, NULL)
            t_comp = monotonic_ns() - t0

            t0 = monotonic_ns()
            for i in range(rounds):
                hs_scan_stream(work, p, n, 0, scratch.hs, NULL, NULL)
            t_scan = monotonic_ns() - t0
    finally:
        hs_close_stream(work, NULL, NULL, NULL)
        PyMem_Free(img)
    return {"per_flow_open_close": t_open / rounds, "pool_open_close": t_pool / rounds,
            "compress_expand": t_comp / rounds, "scan": t_scan / rounds,
            "compressed_bytes": used, "stream_size": db.stream_size}
