# Declarations of xdpfw_app.h (the application-decoder contract) for Cython modules.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

cdef extern from "xdpfw_app.h" nogil:
    enum:
        XDPFW_APP_UNKNOWN
        XDPFW_APP_HTTP
        XDPFW_APP_TLS
        XDPFW_APP_DNS
        XDPFW_APP_FAILED
        XDPFW_APP_PROTO_MAX
        XDPFW_BUF_HTTP_METHOD
        XDPFW_BUF_HTTP_URI
        XDPFW_BUF_HTTP_URI_RAW
        XDPFW_BUF_HTTP_PROTOCOL
        XDPFW_BUF_HTTP_REQUEST_LINE
        XDPFW_BUF_HTTP_RESPONSE_LINE
        XDPFW_BUF_HTTP_STAT_CODE
        XDPFW_BUF_HTTP_STAT_MSG
        XDPFW_BUF_HTTP_HEADER
        XDPFW_BUF_HTTP_HEADER_RAW
        XDPFW_BUF_HTTP_HEADER_NAMES
        XDPFW_BUF_HTTP_START
        XDPFW_BUF_HTTP_HOST
        XDPFW_BUF_HTTP_HOST_RAW
        XDPFW_BUF_HTTP_USER_AGENT
        XDPFW_BUF_HTTP_COOKIE
        XDPFW_BUF_HTTP_CONTENT_TYPE
        XDPFW_BUF_HTTP_CONTENT_LEN
        XDPFW_BUF_HTTP_REFERER
        XDPFW_BUF_HTTP_ACCEPT
        XDPFW_BUF_HTTP_ACCEPT_ENC
        XDPFW_BUF_HTTP_ACCEPT_LANG
        XDPFW_BUF_HTTP_CONNECTION
        XDPFW_BUF_HTTP_LOCATION
        XDPFW_BUF_HTTP_SERVER
        XDPFW_BUF_HTTP_REQUEST_BODY
        XDPFW_BUF_HTTP_RESPONSE_BODY
        XDPFW_BUF_FILE_DATA
        XDPFW_BUF_TLS_SNI
        XDPFW_BUF_TLS_CERT_SUBJECT
        XDPFW_BUF_TLS_CERT_ISSUER
        XDPFW_BUF_TLS_CERT_SERIAL
        XDPFW_BUF_JA3_HASH
        XDPFW_BUF_JA3_STRING
        XDPFW_BUF_JA3S_HASH
        XDPFW_BUF_JA3S_STRING
        XDPFW_BUF_TLS_CERTS
        XDPFW_BUF_DNS_QUERY
        XDPFW_APP_BUFFER_MAX
        XDPFW_APP_START
        XDPFW_APP_END
        XDPFW_APP_F_DATAGRAM
        XDPFW_APP_F_GAP
        XDPFW_PROBE_NO
        XDPFW_PROBE_YES
        XDPFW_PROBE_MORE
        XDPFW_APP_SCRATCH
        XDPFW_APP_D_TOSERVER
        XDPFW_APP_D_TOCLIENT
        XDPFW_APP_D_BOTH
        XDPFW_APP_L4_TCP
        XDPFW_APP_L4_UDP
        XDPFW_APP_O_TX_PER_FEED
        XDPFW_APP_CTL_ENCRYPTED

    struct xdpfw_app_sink:
        void *ctx
        void (*data)(void *ctx, uint32_t buf, const uint8_t *p, uint32_t n, uint32_t flags) noexcept nogil
        void (*event)(void *ctx, uint32_t proto, uint32_t event) noexcept nogil
        void (*control)(void *ctx, uint32_t what) noexcept nogil

    # The app-layer registry (xdpfw_app.h): one table per decoder, app_registry.pyx lists them.
    ctypedef int (*xdpfw_app_probe_fn)(const uint8_t *p, uint32_t n, int direction, uint32_t flags) noexcept nogil
    ctypedef void (*xdpfw_app_init_fn)(void *state) noexcept nogil
    ctypedef void (*xdpfw_app_feed_fn)(void *state, int direction, const uint8_t *p, uint32_t n, uint32_t flags,
                                       const xdpfw_app_sink *sink) noexcept nogil
    ctypedef void (*xdpfw_app_end_fn)(void *state, int direction, const xdpfw_app_sink *sink) noexcept nogil

    struct xdpfw_app_ops:
        const char *name
        uint32_t proto
        uint32_t state_size
        uint16_t port
        uint8_t l4
        uint8_t flags
        uint64_t buffers
        uint8_t tx_start[2]
        uint32_t nevents
        const char *const *events
        xdpfw_app_probe_fn probe
        xdpfw_app_init_fn init
        xdpfw_app_feed_fn feed
        xdpfw_app_end_fn end

    const char *const xdpfw_app_proto_names[]
    const char *const xdpfw_app_buffer_names[]
    const uint8_t xdpfw_app_buffer_owner[]
    const uint8_t xdpfw_app_buffer_dirs[]
    uint64_t xdpfw_app_buffers_of(uint32_t proto)


cdef inline void xdpfw_app_ops_set(xdpfw_app_ops *o, const char *name, uint32_t proto, uint32_t state_size,
                                   uint16_t port, uint8_t l4, uint8_t flags, uint32_t tx_to_server,
                                   uint32_t tx_to_client, uint32_t nevents, const char *const *events,
                                   xdpfw_app_probe_fn probe, xdpfw_app_init_fn init, xdpfw_app_feed_fn feed,
                                   xdpfw_app_end_fn end) noexcept nogil:
    """Fill a decoder's registry entry (its module does, once, at import). Its buffers are
    those the header's XDPFW_APP_BUFFERS gives to `proto`; tx_to_server / tx_to_client:
    the buffer whose START begins a transaction in that direction, XDPFW_APP_BUFFER_MAX
    for none."""
    o.name = name
    o.proto = proto
    o.state_size = state_size
    o.port = port
    o.l4 = l4
    o.flags = flags
    o.buffers = xdpfw_app_buffers_of(proto)
    o.tx_start[0] = <uint8_t>tx_to_server
    o.tx_start[1] = <uint8_t>tx_to_client
    o.nevents = nevents
    o.events = events
    o.probe = probe
    o.init = init
    o.feed = feed
    o.end = end
