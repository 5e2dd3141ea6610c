# Hyperscan backend of the streaming matcher (match_hs.pyx). The API is match.pxd's; the
# engine normally goes through db.ops and needs nothing from here but these types.
from libc.stdint cimport uint8_t, uint32_t, uint64_t

from xdpfw._fast cimport match
from xdpfw._fast.includes.hs cimport hs_database_t, hs_scratch_t, hs_stream_t
from xdpfw._fast.match cimport xdpfw_match_buf, xdpfw_mstream

# A worker's streams, opened once against one database and lent to flows (see the stream
# state design in match.pxd). Used by one thread only: no locking.
cdef struct hsm_pool:
    hs_stream_t **idle      # stack of streams ready to lend, all in their initial state
    hs_stream_t **all       # every stream opened so far (all[0, opened)), for teardown
    const hs_database_t *db # streams are opened against it when first lent
    uint32_t nidle
    uint32_t opened         # streams allocated so far: the most ever lent at once
    uint32_t capacity       # the most it may allocate
    uint32_t peak           # most streams lent at once
    uint64_t opens
    uint64_t exhausted      # opens refused with XDPFW_MATCH_EPOOL

cdef class Database(match.Database):
    cdef hs_database_t *hdb

cdef class Scratch(match.Scratch):
    cdef hs_scratch_t *hs

cdef class StreamPool(match.StreamPool):
    cdef hsm_pool pool

cdef int hsm_open(void *pool, xdpfw_mstream *st) noexcept nogil
cdef int hsm_scan(const void *db, void *scratch, xdpfw_mstream *st, const uint8_t *data,
                  uint32_t length, xdpfw_match_buf *out) noexcept nogil
cdef int hsm_finish(const void *db, void *scratch, xdpfw_mstream *st,
                    xdpfw_match_buf *out) noexcept nogil
cdef int hsm_reset(const void *db, xdpfw_mstream *st) noexcept nogil
cdef int hsm_close(void *pool, void *scratch, xdpfw_mstream *st, xdpfw_match_buf *out) noexcept nogil
cdef int hsm_scan_block(const void *db, void *scratch, const uint8_t *data, uint32_t length,
                        xdpfw_match_buf *out) noexcept nogil
