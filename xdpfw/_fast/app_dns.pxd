# The DNS decoder (app_dns.pyx): per-flow state and API of xdpfw_app_dns.h, to the
# contract of xdpfw_app.h (includes/app.pxd). For the engine to cimport.
from libc.stdint cimport uint8_t, uint16_t, uint32_t

from xdpfw._fast.includes.app cimport xdpfw_app_ops, xdpfw_app_sink

cdef extern from "xdpfw_app_dns.h" nogil:
    enum:
        XDPFW_DNS_HDR_LEN
        XDPFW_DNS_NAME_MAX
        XDPFW_DNS_MAX_STEPS
        XDPFW_DNS_PROBE_MAX_QD
        XDPFW_DNS_M_QUERY
        XDPFW_DNS_M_OPEN
        XDPFW_DNS_M_CAPPED
        XDPFW_DNS_M_FAILED
        XDPFW_DNS_M_RR

    enum xdpfw_dns_event:
        XDPFW_DNS_EV_MALFORMED_DATA
        XDPFW_DNS_EV_NOT_REQUEST
        XDPFW_DNS_EV_NOT_RESPONSE
        XDPFW_DNS_EV_Z_FLAG_SET
        XDPFW_DNS_EV_INVALID_OPCODE
        XDPFW_DNS_EV_NAME_TOO_LONG
        XDPFW_DNS_EV_TOO_MANY_LABELS
        XDPFW_DNS_EV_INFINITE_LOOP
        XDPFW_DNS_EV_LABEL_TOO_LONG
        XDPFW_DNS_EV_INVALID_POINTER
        XDPFW_DNS_EV_POINTER_IN_STREAM
        XDPFW_DNS_EV_TRUNCATED
        XDPFW_DNS_EV_GAP
        XDPFW_DNS_EV_MAX

    struct xdpfw_dns_dir:
        uint32_t msg_left
        uint32_t msg_len
        uint32_t rr_left
        uint16_t qd_left
        uint16_t count
        uint16_t name_len
        uint16_t steps
        uint16_t acc
        uint8_t phase
        uint8_t mflags
        uint8_t hdr_pos
        uint8_t hdr[12]

    struct xdpfw_dns_state:
        xdpfw_dns_dir dir[2]

cdef void dns_init(xdpfw_dns_state *s) noexcept nogil
cdef int dns_probe(const uint8_t *p, uint32_t n, int direction, uint32_t flags) noexcept nogil
cdef void dns_feed(xdpfw_dns_state *s, int direction, const uint8_t *p, uint32_t n, uint32_t flags,
                   const xdpfw_app_sink *sink) noexcept nogil
cdef void dns_end(xdpfw_dns_state *s, int direction, const xdpfw_app_sink *sink) noexcept nogil
cdef const xdpfw_app_ops *dns_app_ops() noexcept nogil   # its registry entry
