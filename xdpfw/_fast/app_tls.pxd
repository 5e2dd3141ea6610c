# The TLS decoder (app_tls.pyx): per-flow state and API of xdpfw_app_tls.h, to the
# contract of xdpfw_app.h (includes/app.pxd). For the engine to cimport.
from libc.stdint cimport uint8_t, uint16_t, uint32_t

from xdpfw._fast.includes.app cimport xdpfw_app_ops, xdpfw_app_sink

cdef extern from "xdpfw_app_tls.h" nogil:
    enum:
        XDPFW_TLS_REC_MAX
        XDPFW_TLS_SNI_MAX
        XDPFW_TLS_JA3_GROUPS
        XDPFW_TLS_JA3_POINTS
        XDPFW_TLS_OID_MAX
        XDPFW_TLS_D_ENCRYPTED
        XDPFW_TLS_D_STARTED
        XDPFW_TLS_D_DEAD
        XDPFW_TLS_D_PARSING
        XDPFW_TLS_D_APPDATA
        XDPFW_TLS_D_HELLO
        XDPFW_TLS_H_LISTED
        XDPFW_TLS_H_SNI_SEEN
        XDPFW_TLS_H_FAILED
        XDPFW_TLS_H_CAPPED
        XDPFW_TLS_C_ISSUER
        XDPFW_TLS_C_NAME_ANY
        XDPFW_TLS_C_RDN_ANY
        XDPFW_TLS_C_STRING
        XDPFW_TLS_C_SERIAL_ANY
        XDPFW_TLS_C_CHAIN_OPEN
        XDPFW_TLS_C_CHAIN_LATER
        XDPFW_TLS_CH_LISTLEN
        XDPFW_TLS_CH_CERTLEN
        XDPFW_TLS_CH_CERT
        XDPFW_TLS_CH_DONE

    enum xdpfw_tls_event:
        XDPFW_TLS_EV_INVALID_SSLV2_HEADER
        XDPFW_TLS_EV_INVALID_RECORD_TYPE
        XDPFW_TLS_EV_INVALID_RECORD_VERSION
        XDPFW_TLS_EV_RECORD_TOO_LONG
        XDPFW_TLS_EV_INVALID_RECORD_LENGTH
        XDPFW_TLS_EV_INVALID_HANDSHAKE_MESSAGE
        XDPFW_TLS_EV_HANDSHAKE_INVALID_LENGTH
        XDPFW_TLS_EV_INVALID_SNI_TYPE
        XDPFW_TLS_EV_INVALID_SNI_LENGTH
        XDPFW_TLS_EV_MULTIPLE_SNI_EXTENSIONS
        XDPFW_TLS_EV_INVALID_CERTIFICATE
        XDPFW_TLS_EV_CERTIFICATE_INVALID_LENGTH
        XDPFW_TLS_EV_CERTIFICATE_MISSING_ELEMENT
        XDPFW_TLS_EV_CERTIFICATE_UNKNOWN_ELEMENT
        XDPFW_TLS_EV_HEARTBEAT_MESSAGE
        XDPFW_TLS_EV_JA3_TRUNCATED
        XDPFW_TLS_EV_TRUNCATED
        XDPFW_TLS_EV_GAP
        XDPFW_TLS_EV_MAX

    struct xdpfw_tls_md5:
        uint32_t h[4]
        uint32_t len
        uint8_t blk[64]

    struct xdpfw_tls_dir:
        uint32_t hs_len
        uint32_t hs_pos
        uint16_t rec_left
        uint16_t rec_ver
        uint8_t rec_phase
        uint8_t rec_type
        uint8_t rec_hpos
        uint8_t hs_phase
        uint8_t hs_hpos
        uint8_t hs_type
        uint8_t flags
        uint8_t open

    struct xdpfw_tls_ch:
        xdpfw_tls_md5 md5
        uint32_t mark
        uint32_t ext_block_end
        uint32_t ext_end
        uint32_t list_end
        uint32_t acc
        uint16_t groups[32]
        uint8_t points[16]
        uint16_t ext_type
        uint8_t phase
        uint8_t need
        uint8_t ngroups
        uint8_t npoints
        uint8_t flags

    struct xdpfw_tls_sh:
        xdpfw_tls_md5 md5
        uint32_t mark
        uint32_t ext_block_end
        uint32_t ext_end
        uint32_t acc
        uint8_t phase
        uint8_t need
        uint8_t flags

    struct xdpfw_tls_cert:
        uint32_t list_end
        uint32_t cert_end
        uint32_t seq_end
        uint32_t tbs_end
        uint32_t name_end
        uint32_t rdn_end
        uint32_t atv_end
        uint32_t el_end
        uint32_t acc
        uint8_t oid[24]
        uint8_t phase
        uint8_t slot
        uint8_t tag
        uint8_t need
        uint8_t oid_len
        uint8_t flags
        uint8_t ch_phase
        uint8_t ch_need
        uint32_t ch_list_end
        uint32_t ch_end
        uint32_t ch_acc

    union xdpfw_tls_tc:
        xdpfw_tls_sh sh
        xdpfw_tls_cert cert

    struct xdpfw_tls_state:
        xdpfw_tls_dir dir[2]
        xdpfw_tls_ch ch
        xdpfw_tls_tc tc

cdef void tls_init(xdpfw_tls_state *s) noexcept nogil
cdef int tls_probe(const uint8_t *p, uint32_t n, int direction, uint32_t flags) noexcept nogil
cdef void tls_feed(xdpfw_tls_state *s, int direction, const uint8_t *p, uint32_t n, uint32_t flags,
                   const xdpfw_app_sink *sink) noexcept nogil
cdef void tls_end(xdpfw_tls_state *s, int direction, const xdpfw_app_sink *sink) noexcept nogil
cdef const xdpfw_app_ops *tls_app_ops() noexcept nogil   # its registry entry
