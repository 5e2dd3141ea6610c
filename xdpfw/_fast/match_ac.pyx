# cython: language_level=3, embedsignature=True, boundscheck=False, wraparound=False, cdivision=True
"""Aho-Corasick backend of the streaming matcher: the portable one (API: match.pxd).

Literals only. A stream's whole state is the current state of each automaton (exact and
case-folded, see match_ac.pxd) plus the stream offset, all inside struct xdpfw_mstream,
so streams need no pool memory; StreamPool only enforces the same capacity contract as
the Hyperscan backend. min_offset/max_offset are checked on each match's end offset.
"""
import time

from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset

from xdpfw._fast.match cimport (XDPFW_MATCH_ENOTOPEN, XDPFW_MATCH_EOPEN, XDPFW_MATCH_EPOOL,
                                XDPFW_MSTREAM_OPEN, xdpfw_match_push, xdpfw_matcher_ops)

from xdpfw._fast.match import CompileError, Pattern, normalize_patterns  # noqa: F401 (re-export)

# States with a full 256-entry row (1 KiB each): every state of depth <= 1, then those of
# depth <= 2 and <= 3 while their number stays within this budget. The scan spends most
# of its time near the root, where a dense row answers in one load.
cdef enum:
    DENSE_BUDGET = 4096

cdef uint64_t MAX_END = 0xFFFFFFFFFFFFFFFF  # no max_offset


# ---- hot path -------------------------------------------------------------------------

cdef inline uint32_t acm_next(const acm_auto *a, uint32_t s, uint8_t c) noexcept nogil:
    cdef uint32_t i, e
    cdef uint8_t b
    while s >= a.ndense:
        i = a.edge_off[s]
        e = a.edge_off[s + 1]
        while i < e:
            b = a.edge_byte[i]
            if b >= c:
                if b == c:
                    return a.edge_to[i]
                break
            i += 1
        s = a.fail[s]
    return a.dense[(<size_t>s << 8) | c]


cdef void acm_report(const acm_db *db, const acm_auto *a, uint32_t s, uint64_t end,
                     xdpfw_match_buf *out) noexcept nogil:
    cdef uint32_t k, p
    while s != ACM_NONE:
        for k in range(a.out_off[s], a.out_off[s + 1]):
            p = a.out_pat[k]
            if db.pmin[p] <= end <= db.pmax[p]:
                xdpfw_match_push(out, db.pid[p], end)
        s = a.out_next[s]


cdef uint32_t acm_run(const acm_db *db, const acm_auto *a, uint32_t s, const uint8_t *data,
                      uint32_t length, uint64_t base, xdpfw_match_buf *out) noexcept nogil:
    cdef uint32_t i, t
    for i in range(length):
        t = acm_next(a, s, data[i])
        s = t & ACM_STATE
        if t & ACM_OUT and out != NULL:
            acm_report(db, a, s, base + i + 1, out)
    return s


cdef void acm_run2(const acm_db *db, uint32_t *state, const uint8_t *data, uint32_t length,
                   uint64_t base, xdpfw_match_buf *out) noexcept nogil:
    # Both automata in one pass: their two lookups per byte are independent, so the CPU
    # overlaps their cache misses.
    cdef const acm_auto *a0 = &db.a[0]
    cdef const acm_auto *a1 = &db.a[1]
    cdef uint32_t i, t0, t1, s0 = state[0], s1 = state[1]
    cdef uint8_t c
    for i in range(length):
        c = data[i]
        t0 = acm_next(a0, s0, c)
        t1 = acm_next(a1, s1, c)
        s0 = t0 & ACM_STATE
        s1 = t1 & ACM_STATE
        if (t0 | t1) & ACM_OUT and out != NULL:
            if t0 & ACM_OUT:
                acm_report(db, a0, s0, base + i + 1, out)
            if t1 & ACM_OUT:
                acm_report(db, a1, s1, base + i + 1, out)
    state[0] = s0
    state[1] = s1


cdef inline void acm_feed(const acm_db *d, uint32_t *state, const uint8_t *data, uint32_t length,
                          uint64_t base, xdpfw_match_buf *out) noexcept nogil:
    if d.a[0].nstates and d.a[1].nstates:
        acm_run2(d, state, data, length, base, out)
    elif d.a[0].nstates:
        state[0] = acm_run(d, &d.a[0], state[0], data, length, base, out)
    else:
        state[1] = acm_run(d, &d.a[1], state[1], data, length, base, out)


cdef int acm_open(void *pool, xdpfw_mstream *st) noexcept nogil:
    cdef acm_pool *p = <acm_pool *>pool
    if st.flags & XDPFW_MSTREAM_OPEN:
        return XDPFW_MATCH_EOPEN
    if p.in_use == p.capacity:
        p.exhausted += 1
        return XDPFW_MATCH_EPOOL
    p.in_use += 1
    p.opens += 1
    if p.in_use > p.peak:
        p.peak = p.in_use
    st.ac[0] = 0
    st.ac[1] = 0
    st.offset = 0
    st.flags = XDPFW_MSTREAM_OPEN
    return 0


cdef int acm_scan(const void *db, void *scratch, xdpfw_mstream *st, const uint8_t *data,
                  uint32_t length, xdpfw_match_buf *out) noexcept nogil:
    cdef const acm_db *d = <const acm_db *>db
    if not (st.flags & XDPFW_MSTREAM_OPEN):
        return XDPFW_MATCH_ENOTOPEN
    acm_feed(d, st.ac, data, length, st.offset, out)
    st.offset += length
    return 0


cdef int acm_finish(const void *db, void *scratch, xdpfw_mstream *st,
                    xdpfw_match_buf *out) noexcept nogil:
    # Literals have no end-of-data matches: finishing is starting over.
    return acm_reset(db, st)


cdef int acm_reset(const void *db, xdpfw_mstream *st) noexcept nogil:
    if not (st.flags & XDPFW_MSTREAM_OPEN):
        return XDPFW_MATCH_ENOTOPEN
    st.ac[0] = 0
    st.ac[1] = 0
    st.offset = 0
    return 0


cdef int acm_close(void *pool, void *scratch, xdpfw_mstream *st, xdpfw_match_buf *out) noexcept nogil:
    cdef acm_pool *p = <acm_pool *>pool
    if not (st.flags & XDPFW_MSTREAM_OPEN):
        return XDPFW_MATCH_ENOTOPEN
    p.in_use -= 1
    st.flags = 0
    st.offset = 0
    return 0


cdef int acm_scan_block(const void *db, void *scratch, const uint8_t *data, uint32_t length,
                        xdpfw_match_buf *out) noexcept nogil:
    cdef uint32_t state[2]
    state[0] = 0
    state[1] = 0
    acm_feed(<const acm_db *>db, state, data, length, 0, out)
    return 0


cdef xdpfw_matcher_ops AC_OPS
AC_OPS.name = b"aho-corasick"
AC_OPS.open = acm_open
AC_OPS.scan = acm_scan
AC_OPS.finish = acm_finish
AC_OPS.reset = acm_reset
AC_OPS.close = acm_close
AC_OPS.scan_block = acm_scan_block


# ---- construction (control plane; C arrays, no GIL needed) ---------------------------

cdef inline uint8_t _fold(uint8_t c) noexcept nogil:
    return c + 32 if 65 <= c <= 90 else c


cdef inline bint _is_lower(uint8_t c) noexcept nogil:
    return 97 <= c <= 122


cdef void _free_auto(acm_auto *a) noexcept nogil:
    free(a.dense)
    free(a.fail)
    free(a.edge_off)
    free(a.edge_byte)
    free(a.edge_to)
    free(a.out_off)
    free(a.out_pat)
    free(a.out_next)
    memset(a, 0, sizeof(acm_auto))


cdef void _free_temps(uint32_t *thead, uint32_t *tnext, uint8_t *tbyte, uint32_t *depth,
                     uint32_t *ohead, uint32_t *onext, uint32_t *order, uint32_t *newid,
                     uint8_t *has_out) noexcept nogil:
    free(thead)
    free(tnext)
    free(tbyte)
    free(depth)
    free(ohead)
    free(onext)
    free(order)
    free(newid)
    free(has_out)


cdef int _build(acm_auto *a, const uint8_t **ptr, const uint32_t *lens, const uint32_t *pidx,
                uint32_t m, uint64_t total, bint folded) noexcept nogil:
    """Build one automaton from m literals. 0, or -1 when out of memory."""
    cdef uint32_t nn = 1, k, j, u, v, s, e, f, cnt, i, w, depth_limit
    cdef uint32_t maxn = <uint32_t>(total + 1)
    cdef uint8_t c, tb
    cdef uint32_t rootc[256]
    cdef uint8_t tmp_b[256]
    cdef uint32_t tmp_t[256]
    cdef uint32_t *row
    # The trie, in insertion ids: a non-root node has exactly one incoming edge, so it is
    # described by that edge's byte and its next sibling.
    cdef uint32_t *thead = <uint32_t *>malloc(maxn * sizeof(uint32_t))
    cdef uint32_t *tnext = <uint32_t *>malloc(maxn * sizeof(uint32_t))
    cdef uint8_t *tbyte = <uint8_t *>malloc(maxn)
    cdef uint32_t *depth = <uint32_t *>malloc(maxn * sizeof(uint32_t))
    cdef uint32_t *ohead = <uint32_t *>malloc(maxn * sizeof(uint32_t))
    cdef uint32_t *onext = <uint32_t *>malloc(m * sizeof(uint32_t))
    cdef uint32_t *order = <uint32_t *>malloc(maxn * sizeof(uint32_t))
    cdef uint32_t *newid = <uint32_t *>malloc(maxn * sizeof(uint32_t))
    cdef uint8_t *has_out = NULL
    cdef int rc = -1
    if not (thead and tnext and tbyte and depth and ohead and onext and order and newid):
        _free_temps(thead, tnext, tbyte, depth, ohead, onext, order, newid, has_out)
        return -1

    for i in range(256):
        rootc[i] = ACM_NONE
    thead[0] = ACM_NONE
    ohead[0] = ACM_NONE
    depth[0] = 0
    for k in range(m):
        u = 0
        for j in range(lens[k]):
            c = _fold(ptr[k][j]) if folded else ptr[k][j]
            if u == 0:
                v = rootc[c]
            else:
                v = thead[u]
                while v != ACM_NONE and tbyte[v] != c:
                    v = tnext[v]
            if v == ACM_NONE:
                v = nn
                nn += 1
                tbyte[v] = c
                thead[v] = ACM_NONE
                ohead[v] = ACM_NONE
                tnext[v] = thead[u]
                thead[u] = v
                depth[v] = depth[u] + 1
                if u == 0:
                    rootc[c] = v
            u = v
        onext[k] = ohead[u]
        ohead[u] = k

    # Breadth-first numbering: shallow states first, so the dense ones are a prefix.
    order[0] = 0
    j = 1
    for i in range(nn):
        v = thead[order[i]]
        while v != ACM_NONE:
            order[j] = v
            j += 1
            v = tnext[v]
    for i in range(nn):
        newid[order[i]] = i
    a.ndense = 0
    for depth_limit in range(1, 4):
        cnt = 0
        while cnt < nn and depth[order[cnt]] <= depth_limit:
            cnt += 1
        if depth_limit > 1 and cnt > DENSE_BUDGET:
            break
        a.ndense = cnt

    a.nstates = nn
    a.dense = <uint32_t *>malloc(<size_t>a.ndense * 256 * sizeof(uint32_t))
    a.fail = <uint32_t *>malloc(nn * sizeof(uint32_t))
    a.edge_off = <uint32_t *>malloc((nn + 1) * sizeof(uint32_t))
    cnt = nn - 1  # edges: one per non-root node, two for a folded letter
    if folded:
        for v in range(1, nn):
            if _is_lower(tbyte[v]):
                cnt += 1
    a.edge_byte = <uint8_t *>malloc(cnt if cnt else 1)
    a.edge_to = <uint32_t *>malloc((cnt if cnt else 1) * sizeof(uint32_t))
    a.out_off = <uint32_t *>malloc((nn + 1) * sizeof(uint32_t))
    a.out_pat = <uint32_t *>malloc(m * sizeof(uint32_t))
    a.out_next = <uint32_t *>malloc(nn * sizeof(uint32_t))
    has_out = <uint8_t *>malloc(nn)
    if not (a.dense and a.fail and a.edge_off and a.edge_byte and a.edge_to and a.out_off
            and a.out_pat and a.out_next and has_out):
        _free_auto(a)
    else:
        # Edges in new ids, sorted by byte per state (acm_next stops at the first larger).
        e = 0
        for s in range(nn):
            a.edge_off[s] = e
            cnt = 0
            v = thead[order[s]]
            while v != ACM_NONE:
                tmp_b[cnt] = tbyte[v]
                tmp_t[cnt] = newid[v]
                cnt += 1
                if folded and _is_lower(tbyte[v]):
                    tmp_b[cnt] = tbyte[v] - 32
                    tmp_t[cnt] = newid[v]
                    cnt += 1
                v = tnext[v]
            for i in range(1, cnt):
                tb = tmp_b[i]
                w = tmp_t[i]
                j = i
                while j > 0 and tmp_b[j - 1] > tb:
                    tmp_b[j] = tmp_b[j - 1]
                    tmp_t[j] = tmp_t[j - 1]
                    j -= 1
                tmp_b[j] = tb
                tmp_t[j] = w
            for i in range(cnt):
                a.edge_byte[e] = tmp_b[i]
                a.edge_to[e] = tmp_t[i]
                e += 1
        a.edge_off[nn] = e

        # Failure links and dense rows in breadth-first order: a state's failure target is
        # shallower, so its row and links are final when the state is reached.
        a.fail[0] = 0
        for s in range(nn):
            if s < a.ndense:
                row = a.dense + (<size_t>s << 8)
                if s == 0:
                    memset(row, 0, 256 * sizeof(uint32_t))
                else:
                    memcpy(row, a.dense + (<size_t>a.fail[s] << 8), 256 * sizeof(uint32_t))
                for i in range(a.edge_off[s], a.edge_off[s + 1]):
                    row[a.edge_byte[i]] = a.edge_to[i]
            # (acm_next works here: the ACM_OUT flags it would return come only later)
            for i in range(a.edge_off[s], a.edge_off[s + 1]):
                a.fail[a.edge_to[i]] = 0 if s == 0 else acm_next(a, a.fail[s], a.edge_byte[i])

        # Outputs: each state's own patterns, then the dictionary link to the nearest
        # proper suffix that has some.
        k = 0
        for s in range(nn):
            a.out_off[s] = k
            v = ohead[order[s]]
            while v != ACM_NONE:
                a.out_pat[k] = pidx[v]
                k += 1
                v = onext[v]
        a.out_off[nn] = k
        a.out_next[0] = ACM_NONE
        for s in range(1, nn):
            f = a.fail[s]
            a.out_next[s] = f if a.out_off[f + 1] > a.out_off[f] else a.out_next[f]
        for s in range(nn):
            has_out[s] = a.out_off[s + 1] > a.out_off[s] or a.out_next[s] != ACM_NONE
        for i in range(<size_t>a.ndense * 256):
            if has_out[a.dense[i]]:
                a.dense[i] |= ACM_OUT
        for i in range(a.edge_off[nn]):
            if has_out[a.edge_to[i]]:
                a.edge_to[i] |= ACM_OUT
        rc = 0

    _free_temps(thead, tnext, tbyte, depth, ohead, onext, order, newid, has_out)
    return rc


cdef size_t _auto_bytes(const acm_auto *a) noexcept nogil:
    if a.nstates == 0:
        return 0
    return (<size_t>a.ndense * 256 * 4 + <size_t>a.nstates * 4 * 4
            + <size_t>a.edge_off[a.nstates] * 5 + <size_t>a.out_off[a.nstates] * 4 + 8)


cdef class Database(match.Database):
    """An Aho-Corasick database; serves both stream and block mode."""

    def __dealloc__(self):
        _free_auto(&self.ac.a[0])
        _free_auto(&self.ac.a[1])
        free(self.ac.pid)
        free(self.ac.pmin)
        free(self.ac.pmax)

    @classmethod
    def compile(cls, patterns, str mode="stream"):
        """Compile literal patterns (match.Pattern or tuples). Raises match.CompileError
        naming the pattern for a regex or an offset range no match can satisfy."""
        if mode not in ("stream", "block"):
            raise ValueError(f"mode must be 'stream' or 'block', got {mode!r}")
        pats = normalize_patterns(patterns, literal_only=True, backend="aho-corasick")
        for p in pats:
            if p.max_offset is not None and p.max_offset < len(p.expression):
                # Hyperscan refuses the same pattern with this message; keep them alike.
                raise CompileError(p.id, f"Expression has max_offset={p.max_offset} but requires "
                                         f"{len(p.expression)} bytes to match.")
        if len(pats) > ACM_STATE:
            raise CompileError(None, "too many patterns")
        cdef Database self = Database.__new__(Database)
        cdef uint32_t n = len(pats), i, k
        cdef uint32_t m[2]
        cdef uint64_t total[2]
        cdef const uint8_t **ptr[2]
        cdef uint32_t *lens[2]
        cdef uint32_t *pidx[2]
        cdef int rc[2]
        cdef bytes e
        self.ac.pid = <uint32_t *>malloc(n * sizeof(uint32_t))
        self.ac.pmin = <uint64_t *>malloc(n * sizeof(uint64_t))
        self.ac.pmax = <uint64_t *>malloc(n * sizeof(uint64_t))
        self.ac.npat = n
        for k in range(2):
            ptr[k] = <const uint8_t **>malloc(n * sizeof(uint8_t *))
            lens[k] = <uint32_t *>malloc(n * sizeof(uint32_t))
            pidx[k] = <uint32_t *>malloc(n * sizeof(uint32_t))
            m[k] = 0
            total[k] = 0
        try:
            if not (self.ac.pid and self.ac.pmin and self.ac.pmax and ptr[0] and ptr[1]
                    and lens[0] and lens[1] and pidx[0] and pidx[1]):
                raise MemoryError()
            for i in range(n):
                p = pats[i]
                e = p.expression
                self.ac.pid[i] = p.id
                self.ac.pmin[i] = p.min_offset if p.min_offset is not None else 0
                self.ac.pmax[i] = p.max_offset if p.max_offset is not None else MAX_END
                # nocase without letters is exact matching: keep the folded automaton for
                # what needs it
                k = 1 if p.nocase and e.lower() != e.upper() else 0
                ptr[k][m[k]] = e
                lens[k][m[k]] = len(e)
                pidx[k][m[k]] = i
                total[k] += len(e)
                m[k] += 1
            if total[0] >= ACM_STATE or total[1] >= ACM_STATE:
                raise CompileError(None, "patterns too long in total for 31-bit state numbers")
            t0 = time.perf_counter()
            with nogil:
                for k in range(2):
                    rc[k] = _build(&self.ac.a[k], ptr[k], lens[k], pidx[k], m[k], total[k], k == 1)
            elapsed = time.perf_counter() - t0
            if rc[0] or rc[1]:
                raise MemoryError("Aho-Corasick construction ran out of memory")
        finally:
            for k in range(2):
                free(ptr[k])
                free(lens[k])
                free(pidx[k])
        self.c_db = &self.ac
        self.ops = &AC_OPS
        self.mode = mode
        self.patterns = pats
        self.compile_time = elapsed
        self.stream_size = sizeof(uint32_t) * 2
        self.database_size = (_auto_bytes(&self.ac.a[0]) + _auto_bytes(&self.ac.a[1])
                              + <size_t>n * (4 + 8 + 8))
        return self

    @property
    def automata(self):
        """{"exact": (states, dense states), "folded": (states, dense states)}."""
        return {"exact": (self.ac.a[0].nstates, self.ac.a[0].ndense),
                "folded": (self.ac.a[1].nstates, self.ac.a[1].ndense)}



cdef class Scratch(match.Scratch):
    """Aho-Corasick scans need no workspace; this keeps the two backends' calls alike."""

    def __init__(self, *databases):
        self.c_scratch = NULL
        self.databases = tuple(databases)

    def clone(self):
        return Scratch(*self.databases)


cdef class StreamPool(match.StreamPool):
    """Admits `capacity` open streams of one database: the same contract as the Hyperscan
    pool (open fails with XDPFW_MATCH_EPOOL beyond it), though the state is all in
    struct xdpfw_mstream."""

    def __init__(self, Database db not None, uint32_t capacity):
        if db.mode != "stream":
            raise ValueError(f"StreamPool needs a stream-mode database, got {db.mode!r}")
        if capacity == 0:
            raise ValueError("capacity must be > 0")
        self.database = db
        self.capacity = capacity
        self.pool.capacity = capacity
        self.c_pool = &self.pool

    def stats(self):
        return {"capacity": self.pool.capacity, "in_use": self.pool.in_use, "peak": self.pool.peak,
                "opens": self.pool.opens, "exhausted": self.pool.exhausted, "bytes": 0}
