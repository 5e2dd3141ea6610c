# The streaming matcher API, one for both backends (match_hs: Hyperscan, match_ac:
# Aho-Corasick). The C contract is xdpfw_match.h; this file declares it for Cython and
# declares the control-plane objects every backend subclasses (implemented in match.pyx).
#
# Control plane (GIL held, Python objects allowed)
#   db = match_hs.Database.compile(patterns, mode="stream"|"block")   (or match_ac.…)
#       patterns: match.Pattern(id, expression, literal=True, nocase=False,
#                               min_offset=None, max_offset=None, dotall=False,
#                               multiline=False, singlematch=False, quiet=False,
#                               combination=False) or plain tuples in that order; ids are
#       unique within a database. singlematch/quiet/combination are Hyperscan's pattern
#       flags (HS_FLAG_SINGLEMATCH, _QUIET, _COMBINATION; see match.Pattern's doc); the
#       Aho-Corasick backend refuses them with a CompileError. Literals are bytes matched
#       as bytes; nocase folds ASCII letters only (as Hyperscan does without UTF-8 mode).
#       min_offset/max_offset bound the END offset of a match (one past its last byte),
#       inclusively, counted from the start of the stream (stream mode) or of the buffer
#       (block mode): Hyperscan's hs_expr_ext semantics. A Suricata content with offset o
#       and depth d of a literal of length L becomes min_offset = o + L, max_offset = o + d.
#       Errors raise match.CompileError naming the pattern id and the backend's message.
#       db.stream_size: bytes of matcher state per stream; db.pattern_count,
#       db.compile_time (s), db.database_size (bytes), db.mode.
#   scratch = Scratch(db, *more_dbs) per worker thread; scratch.clone() for the next one.
#   pool = StreamPool(db, capacity) per worker thread and streaming database.
#
# Per flow direction and buffer: one struct xdpfw_mstream (24 bytes) in the engine's slab,
# zero-initialised = closed. Per worker: one xdpfw_match_buf the engine clears per fragment.
#
# Hot path (no GIL, no Python objects, no allocation): through db.ops, which points at the
# backend's function table, with db.c_db, scratch.c_scratch and pool.c_pool:
#   ops.open(pool, st)                          take state from the pool (flow start)
#   ops.scan(db, scratch, st, data, len, out)   one in-order fragment; appends (id, end)
#   ops.finish(db, scratch, st, out)            end of data: end-anchored matches ($, \b
#                                               at the end), then offset 0 again, still open
#   ops.reset(db, st)                           offset 0 again, nothing reported
#   ops.close(pool, scratch, st, out)           finish (out may be NULL), give state back
#   ops.scan_block(db, scratch, data, len, out) block-mode database, one buffer
# All return 0 or a negative code (XDPFW_MATCH_E* or a Hyperscan hs_error_t). A full match
# buffer never fails a scan: the extra matches are counted in out.overflow.
#
# Match offsets. `end` counts from the stream's start (its open, finish or reset), so the
# engine finds a match's position in the current fragment as end - (st.offset - len)
# after the call. With Hyperscan a zero-width assertion at the last byte of a write
# (`\b`, multiline `$`) is only decided by the next byte: that match is reported by the
# NEXT scan (or by finish/close) with an end before that fragment's first byte.
# Literals never do this, and the Aho-Corasick backend only takes literals.
#
# Stream state design (Hyperscan). A Hyperscan stream is opaque memory of
# hs_stream_size(db) bytes allocated by hs_open_stream; there is no documented way to
# place it in caller memory. The choices were: (a) hs_open_stream/hs_close_stream per
# flow: the worker calls the allocator per flow, and memory grows with whatever flows a
# sender creates; (b) keep hs_compress_stream images in the slab and expand/compress
# around every scan: no allocation, but two state copies per packet, a slot sized for a
# worst-case image the API does not bound, and Hyperscan's own docs advise against
# compressing between scans; (c) a per-worker pool of streams opened at start-up, lent
# to a flow on open and hs_reset_stream'ed on close. We take (c): nothing allocated or
# copied per packet or per flow, memory fixed at start-up (capacity x stream_size), and
# exhaustion is an explicit XDPFW_MATCH_EPOOL the engine maps to its exception policy.
# The slab holds the lent stream's pointer. Measured with all 28k ET Open contents
# (bench/match_bench.py, 2-CPU EPYC VM): stream_size 132 B; (a) 21 ns per flow, (c) 7 ns
# per flow; (b) 31 ns per packet for a 122 B image, under 2% of a packet's scan. So (b)
# costs little here; (c) wins on copies, bounds and simplicity, not on nanoseconds.
# match_hs.measure_stream_designs() measures the three on any database.
#
# Threads: a Scratch and a StreamPool belong to one worker thread. Databases are
# immutable and shared by all workers; a pool keeps its database alive and must outlive
# every stream it lent (the slab holds raw pointers into it).
from libc.stdint cimport uint8_t, uint32_t, uint64_t

cdef extern from "xdpfw_match.h" nogil:
    struct xdpfw_match:
        uint32_t id
        uint64_t end

    struct xdpfw_match_buf:
        xdpfw_match *rec
        uint32_t count
        uint32_t capacity
        uint64_t overflow

    enum:
        XDPFW_MSTREAM_OPEN
        XDPFW_MATCH_ENOTOPEN
        XDPFW_MATCH_EOPEN
        XDPFW_MATCH_EPOOL

    struct xdpfw_mstream:
        uint64_t offset
        void *hs            # members of an anonymous union in C
        uint32_t ac[2]
        uint32_t flags

    struct xdpfw_matcher_ops:
        const char *name
        int (*open)(void *pool, xdpfw_mstream *st) noexcept nogil
        int (*scan)(const void *db, void *scratch, xdpfw_mstream *st,
                    const uint8_t *data, uint32_t len, xdpfw_match_buf *out) noexcept nogil
        int (*finish)(const void *db, void *scratch, xdpfw_mstream *st,
                      xdpfw_match_buf *out) noexcept nogil
        int (*reset)(const void *db, xdpfw_mstream *st) noexcept nogil
        int (*close)(void *pool, void *scratch, xdpfw_mstream *st,
                     xdpfw_match_buf *out) noexcept nogil
        int (*scan_block)(const void *db, void *scratch, const uint8_t *data, uint32_t len,
                          xdpfw_match_buf *out) noexcept nogil

    void xdpfw_match_push(xdpfw_match_buf *b, uint32_t id, uint64_t end)


cdef class Database:
    cdef const xdpfw_matcher_ops *ops
    cdef const void *c_db
    cdef readonly str mode
    cdef readonly tuple patterns
    cdef readonly double compile_time
    cdef readonly size_t stream_size
    cdef readonly size_t database_size


cdef class Scratch:
    cdef void *c_scratch
    cdef readonly tuple databases


cdef class StreamPool:
    cdef void *c_pool
    cdef readonly Database database
    cdef readonly uint32_t capacity


cdef class MatchBuffer:
    cdef xdpfw_match_buf buf


cdef class StreamTable:
    cdef xdpfw_mstream *streams
    cdef readonly uint32_t size
    cdef readonly Database database
    cdef readonly Scratch scratch
    cdef readonly StreamPool pool
    cdef xdpfw_mstream *_at(self, uint32_t i) except NULL
