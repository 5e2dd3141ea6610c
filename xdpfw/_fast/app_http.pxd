# The HTTP/1.x decoder (app_http.pyx): per-flow state and API of xdpfw_app_http.h, to the
# contract of xdpfw_app.h (includes/app.pxd). For the engine to cimport.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

from xdpfw._fast.includes.app cimport xdpfw_app_ops, xdpfw_app_sink

cdef extern from "xdpfw_app_http.h" nogil:
    enum:
        XDPFW_HTTP_LINE_MAX
        XDPFW_HTTP_MAX_HEADERS
        XDPFW_HTTP_WS_MAX
        XDPFW_HTTP_FIFO
        XDPFW_HTTP_CL_DIGITS
        XDPFW_HTTP_CHUNK_DIGITS
        XDPFW_HTTP_KIND_OTHER
        XDPFW_HTTP_KIND_HEAD
        XDPFW_HTTP_KIND_CONNECT
        XDPFW_HTTP_KIND_09

    enum xdpfw_http_event:
        XDPFW_HTTP_EV_REQUEST_FIELD_MISSING_COLON
        XDPFW_HTTP_EV_RESPONSE_FIELD_MISSING_COLON
        XDPFW_HTTP_EV_INVALID_REQUEST_CHUNK_LEN
        XDPFW_HTTP_EV_INVALID_RESPONSE_CHUNK_LEN
        XDPFW_HTTP_EV_INVALID_TE_REQUEST
        XDPFW_HTTP_EV_INVALID_TE_RESPONSE
        XDPFW_HTTP_EV_INVALID_CL_REQUEST
        XDPFW_HTTP_EV_INVALID_CL_RESPONSE
        XDPFW_HTTP_EV_DUPLICATE_CL_REQUEST
        XDPFW_HTTP_EV_DUPLICATE_CL_RESPONSE
        XDPFW_HTTP_EV_UNMATCHED_RESPONSE
        XDPFW_HTTP_EV_INVALID_AUTHORITY_PORT
        XDPFW_HTTP_EV_REQUEST_HEADER_INVALID
        XDPFW_HTTP_EV_RESPONSE_HEADER_INVALID
        XDPFW_HTTP_EV_MISSING_HOST_HEADER
        XDPFW_HTTP_EV_HOST_HEADER_AMBIGUOUS
        XDPFW_HTTP_EV_INVALID_REQUEST_FOLDING
        XDPFW_HTTP_EV_INVALID_RESPONSE_FOLDING
        XDPFW_HTTP_EV_REQUEST_FIELD_TOO_LONG
        XDPFW_HTTP_EV_RESPONSE_FIELD_TOO_LONG
        XDPFW_HTTP_EV_REQUEST_HEADER_HOST_INVALID
        XDPFW_HTTP_EV_URI_DELIM_NON_COMPLIANT
        XDPFW_HTTP_EV_METHOD_DELIM_NON_COMPLIANT
        XDPFW_HTTP_EV_REQUEST_LINE_LEADING_WHITESPACE
        XDPFW_HTTP_EV_RESPONSE_CHUNKED_OLD_PROTO
        XDPFW_HTTP_EV_RESPONSE_INVALID_PROTOCOL
        XDPFW_HTTP_EV_RESPONSE_INVALID_STATUS
        XDPFW_HTTP_EV_REQUEST_LINE_INCOMPLETE
        XDPFW_HTTP_EV_REQUEST_LINE_INVALID
        XDPFW_HTTP_EV_REQUEST_LINE_MISSING_PROTOCOL
        XDPFW_HTTP_EV_REQUEST_TOO_MANY_HEADERS
        XDPFW_HTTP_EV_RESPONSE_TOO_MANY_HEADERS
        XDPFW_HTTP_EV_REQUEST_CHUNK_EXTENSION
        XDPFW_HTTP_EV_RESPONSE_CHUNK_EXTENSION
        XDPFW_HTTP_EV_CL_AND_CHUNKED_REQUEST
        XDPFW_HTTP_EV_CL_AND_CHUNKED_RESPONSE
        XDPFW_HTTP_EV_OBS_FOLD
        XDPFW_HTTP_EV_URI_INVALID_ENCODING
        XDPFW_HTTP_EV_URI_DOT_DOT_SEGMENT
        XDPFW_HTTP_EV_URI_USERINFO
        XDPFW_HTTP_EV_BARE_CR
        XDPFW_HTTP_EV_WHITESPACE_RUN_TOO_LONG
        XDPFW_HTTP_EV_TOO_MANY_PENDING_REQUESTS
        XDPFW_HTTP_EV_GAP
        XDPFW_HTTP_EV_MAX

    const char *xdpfw_http_event_label(unsigned int ev)

    struct xdpfw_http_dir:
        uint64_t body_left
        uint64_t cl
        uint64_t cl_cur
        uint64_t ws_bits
        uint32_t open
        uint32_t started
        uint32_t line_len
        uint32_t name_cand
        uint32_t seen
        uint32_t ws_len
        uint32_t hdots
        uint32_t mflags
        uint32_t port
        uint16_t hdr_count
        uint16_t status
        uint16_t name_case
        uint8_t phase
        uint8_t umode
        uint8_t name_pos
        uint8_t cur
        uint8_t lflags
        uint8_t uflags
        uint8_t pct
        uint8_t pct_hi
        uint8_t dots
        uint8_t segs
        uint8_t scheme_pos
        uint8_t scheme_case
        uint8_t hflags
        uint8_t proto_pos
        uint8_t version
        uint8_t te_pos
        uint8_t clst
        uint8_t kind
        uint8_t digits

    struct xdpfw_http_state:
        xdpfw_http_dir dir[2]
        uint64_t fifo
        uint16_t fifo_lost
        uint8_t fifo_head
        uint8_t fifo_n
        uint8_t tunnel

cdef void http_init(xdpfw_http_state *s) noexcept nogil
cdef int http_probe(const uint8_t *p, uint32_t n, int direction, uint32_t flags) noexcept nogil
cdef void http_feed(xdpfw_http_state *s, int direction, const uint8_t *p, uint32_t n, uint32_t flags,
                    const xdpfw_app_sink *sink) noexcept nogil
cdef void http_end(xdpfw_http_state *s, int direction, const xdpfw_app_sink *sink) noexcept nogil
cdef const xdpfw_app_ops *http_app_ops() noexcept nogil   # its registry entry
