# C declarations of the parts of Hyperscan's API (<hs/hs.h>, Debian libhyperscan-dev 5.4)
# that match_hs.pyx uses. Semantics worth knowing are noted where they shape our code.
from libc.stddef cimport size_t

cdef extern from "<hs/hs.h>" nogil:
    ctypedef int hs_error_t
    enum:
        HS_SUCCESS
        HS_INVALID          # e.g. a scratch not allocated for this database
        HS_SCRATCH_IN_USE   # a scratch used by two threads at once

    ctypedef struct hs_database_t
    ctypedef struct hs_scratch_t
    ctypedef struct hs_stream_t

    # Pattern flags (per expression).
    enum:
        HS_FLAG_CASELESS
        HS_FLAG_DOTALL
        HS_FLAG_MULTILINE
        HS_FLAG_SINGLEMATCH   # report at most once per stream (until reset) or block scan
        HS_FLAG_QUIET         # never reported; only feeds logical combinations
        HS_FLAG_COMBINATION   # the expression is a logical combination of other ids:
                              # `1 & !2 | 3`; true/false is each operand's "has matched
                              # so far" at the offset being evaluated (see xdpfw/detect)

    # Mode flags (per database). A database is built for exactly one of block or stream.
    enum:
        HS_MODE_BLOCK
        HS_MODE_STREAM

    # Extended parameters. min_offset/max_offset bound the END offset of a match,
    # inclusively, counted from the start of the stream (or block).
    enum:
        HS_EXT_FLAG_MIN_OFFSET
        HS_EXT_FLAG_MAX_OFFSET
    ctypedef struct hs_expr_ext_t:
        unsigned long long flags
        unsigned long long min_offset
        unsigned long long max_offset
        unsigned long long min_length
        unsigned edit_distance
        unsigned hamming_distance

    ctypedef struct hs_compile_error_t:
        char *message
        int expression   # index into the expressions array, < 0 if not pattern-specific

    # The platform a database is compiled for (NULL: this host). Part of the on-disk cache
    # key: a database built for other CPU features does not load here (HS_DB_PLATFORM_ERROR).
    ctypedef struct hs_platform_info_t:
        unsigned int tune
        unsigned long long cpu_features
    hs_error_t hs_populate_platform(hs_platform_info_t *platform)

    hs_error_t hs_compile_ext_multi(const char *const *expressions, const unsigned int *flags,
                                    const unsigned int *ids, const hs_expr_ext_t *const *ext,
                                    unsigned int elements, unsigned int mode,
                                    const hs_platform_info_t *platform, hs_database_t **db,
                                    hs_compile_error_t **error)
    hs_error_t hs_free_compile_error(hs_compile_error_t *error)
    hs_error_t hs_free_database(hs_database_t *db)
    hs_error_t hs_stream_size(const hs_database_t *db, size_t *stream_size)
    hs_error_t hs_database_size(const hs_database_t *db, size_t *database_size)
    hs_error_t hs_database_info(const hs_database_t *db, char **info)
    const char *hs_version()

    # Serialisation (the on-disk database cache, xdpfw/detect/cache.py). The image carries
    # Hyperscan's version, platform and a CRC of the bytecode; hs_deserialize_database
    # refuses an image of another version or platform, or a damaged one.
    hs_error_t hs_serialize_database(const hs_database_t *db, char **bytes, size_t *length)
    hs_error_t hs_deserialize_database(const char *bytes, const size_t length, hs_database_t **db)

    # Allocator hooks. Process-wide; match_hs installs counting wrappers for stream
    # state so tests can prove that no stream is allocated per flow or per packet.
    ctypedef void *(*hs_alloc_t)(size_t size) noexcept nogil
    ctypedef void (*hs_free_t)(void *ptr) noexcept nogil
    hs_error_t hs_set_stream_allocator(hs_alloc_t alloc_func, hs_free_t free_func)

    # `to` is the offset one past the match's last byte from the start of the stream;
    # `from` is 0 unless the pattern was compiled with SOM. Returning non-zero stops the
    # scan AND leaves the stream unusable for further writes.
    ctypedef int (*match_event_handler)(unsigned int id, unsigned long long frm,
                                        unsigned long long to, unsigned int flags,
                                        void *context) noexcept nogil

    hs_error_t hs_alloc_scratch(const hs_database_t *db, hs_scratch_t **scratch)
    hs_error_t hs_clone_scratch(const hs_scratch_t *src, hs_scratch_t **dest)
    hs_error_t hs_scratch_size(const hs_scratch_t *scratch, size_t *scratch_size)
    hs_error_t hs_free_scratch(hs_scratch_t *scratch)

    hs_error_t hs_scan(const hs_database_t *db, const char *data, unsigned int length,
                       unsigned int flags, hs_scratch_t *scratch, match_event_handler on_event,
                       void *context)

    # hs_open_stream allocates (through the stream allocator); hs_reset_stream re-initialises
    # in place and may report end-of-data matches first; hs_close_stream reports them and
    # frees. Scratch may be NULL only when no callback is given.
    hs_error_t hs_open_stream(const hs_database_t *db, unsigned int flags, hs_stream_t **stream)
    hs_error_t hs_scan_stream(hs_stream_t *id, const char *data, unsigned int length,
                              unsigned int flags, hs_scratch_t *scratch,
                              match_event_handler on_event, void *context)
    hs_error_t hs_reset_stream(hs_stream_t *id, unsigned int flags, hs_scratch_t *scratch,
                               match_event_handler on_event, void *context)
    hs_error_t hs_close_stream(hs_stream_t *id, hs_scratch_t *scratch,
                               match_event_handler on_event, void *context)

    # Stream compression: used only to measure the alternative stream-state design.
    hs_error_t hs_compress_stream(const hs_stream_t *stream, char *buf, size_t buf_space,
                                  size_t *used_space)
    hs_error_t hs_reset_and_expand_stream(hs_stream_t *to_stream, const char *buf,
                                          size_t buf_size, hs_scratch_t *scratch,
                                          match_event_handler on_event, void *context)
