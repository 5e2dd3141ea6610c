# Aho-Corasick backend of the streaming matcher (match_ac.pyx): the portable backend,
# literals only. The API is match.pxd's; the engine normally goes through db.ops.
from libc.stdint cimport uint8_t, uint32_t, uint64_t

from xdpfw._fast cimport match
from xdpfw._fast.match cimport xdpfw_match_buf, xdpfw_mstream

cdef enum:
    ACM_OUT = 0x80000000     # flag bit of a transition target: that state reports matches
    ACM_STATE = 0x7FFFFFFF   # the state index under the flag
    ACM_NONE = 0xFFFFFFFF

# One automaton. States are numbered in breadth-first order; the first `ndense` (every
# state up to some depth) have a full 256-entry row, the deeper ones only their trie
# edges (sorted by byte) and a failure link, which always leads to a shallower state and
# so, within a few steps, to a dense row.
cdef struct acm_auto:
    uint32_t nstates        # 0: this automaton has no patterns
    uint32_t ndense
    uint32_t *dense         # ndense * 256 targets | ACM_OUT
    uint32_t *fail          # per state
    uint32_t *edge_off      # nstates + 1; edges of state s: [edge_off[s], edge_off[s + 1])
    uint8_t *edge_byte
    uint32_t *edge_to       # targets | ACM_OUT
    uint32_t *out_off       # nstates + 1; patterns ending at state s: out_pat[out_off[s]:...]
    uint32_t *out_pat       # pattern indices
    uint32_t *out_next      # nearest proper suffix state with patterns of its own, or ACM_NONE

# Case-sensitive literals (and nocase ones without letters) go to the exact automaton;
# nocase literals with letters go, lower-cased, to the folded one, whose transitions on
# 'A'..'Z' equal those on 'a'..'z'. Two automata keep both kinds exact in streaming, where
# a folded match cannot be re-checked against bytes of earlier packets.
cdef struct acm_db:
    acm_auto a[2]           # 0: exact, 1: case-folded
    uint32_t npat
    uint32_t *pid           # pattern index -> user id
    uint64_t *pmin          # inclusive bounds on a match's end offset (post-filter)
    uint64_t *pmax

cdef struct acm_pool:
    uint32_t capacity
    uint32_t in_use
    uint32_t peak
    uint64_t opens
    uint64_t exhausted

cdef class Database(match.Database):
    cdef acm_db ac

cdef class Scratch(match.Scratch):
    pass

cdef class StreamPool(match.StreamPool):
    cdef acm_pool pool

cdef int acm_open(void *pool, xdpfw_mstream *st) noexcept nogil
cdef int acm_scan(const void *db, void *scratch, xdpfw_mstream *st, const uint8_t *data,
                  uint32_t length, xdpfw_match_buf *out) noexcept nogil
cdef int acm_finish(const void *db, void *scratch, xdpfw_mstream *st,
                    xdpfw_match_buf *out) noexcept nogil
cdef int acm_reset(const void *db, xdpfw_mstream *st) noexcept nogil
cdef int acm_close(void *pool, void *scratch, xdpfw_mstream *st, xdpfw_match_buf *out) noexcept nogil
cdef int acm_scan_block(const void *db, void *scratch, const uint8_t *data, uint32_t length,
                        xdpfw_match_buf *out) noexcept nogil
