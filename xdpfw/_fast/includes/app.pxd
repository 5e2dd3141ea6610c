# Declarations of xdpfw_app.h (the application-decoder contract) for Cython modules.
from libc.stdint cimport uint8_t, uint32_t

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

    struct xdpfw_app_sink:
        void *ctx
        void (*data)(void *ctx, uint32_t buf, const uint8_t *p, uint32_t n, uint32_t flags) noexcept nogil
        void (*event)(void *ctx, uint32_t proto, uint32_t event) noexcept nogil
