# Cython view of xdpfw/bpf/xdpfw_shared.h: the one definition of the structs and enums
# shared by the XDP program, the workers and the control plane.
from libc.stdint cimport uint8_t, uint32_t, uint64_t

cdef extern from "xdpfw_shared.h" nogil:
    enum:
        XDPFW_SIDE_A
        XDPFW_SIDE_B
        XDPFW_NSIDES
        XDPFW_MAX_QUEUES

    enum:  # enum xdpfw_drop_reason
        XDPFW_DROP_ACL
        XDPFW_DROP_FAIL_MODE
        XDPFW_DROP_RULE
        XDPFW_DROP_DECODE_ERROR
        XDPFW_DROP_RING_FULL
        XDPFW_DROP_TCP_OUT_OF_ORDER
        XDPFW_DROP_FLOW_TABLE_FULL
        XDPFW_DROP_EXCEPTION_POLICY
        XDPFW_DROP_IP_FRAGMENT
        XDPFW_DROP_TCP_INSERTION
        XDPFW_DROP_BAD_CHECKSUM
        XDPFW_DROP_WRONG_SIDE
        XDPFW_DROP_FLOW_SOURCE_SHARE
        XDPFW_DROP_XSK_RX_RING_FULL
        XDPFW_DROP_XSK_RX_DROPPED
        XDPFW_DROP_REASON_MAX

    enum:  # enum xdpfw_verdict
        XDPFW_VERDICT_PASS
        XDPFW_VERDICT_DROP
        XDPFW_VERDICT_REPLY
        XDPFW_VERDICT_REPLY_PEER
        XDPFW_VERDICT_REPLY_BOTH

    struct xdpfw_worker_counters:
        uint64_t rx_packets[2]
        uint64_t rx_bytes[2]
        uint64_t fwd_packets[2]
        uint64_t fwd_bytes[2]
        uint64_t drop_packets[2][XDPFW_DROP_REASON_MAX]
        uint64_t drop_bytes[2][XDPFW_DROP_REASON_MAX]
        uint64_t tx_kicks[2]
        uint64_t tx_kick_errors[2]
        uint64_t fill_wakeups[2]
        uint64_t batches
        uint64_t idle_polls
        uint64_t accounting_errors
        uint64_t replies[2]
        uint64_t loops

cdef extern from "xdpfw_inspect.h" nogil:
    # The worker's entry point into the detection engine (see the header).
    ctypedef int (*xdpfw_inspect_fn)(void *engine, uint8_t *frame, uint32_t length,
                                     uint32_t side, uint64_t now_ns, uint32_t *reason,
                                     uint32_t *reply_len)
    # Called between batches (rule-set swap point).
    ctypedef void (*xdpfw_batch_fn)(void *engine)
    # The extra reply of XDPFW_VERDICT_REPLY_BOTH.
    ctypedef const uint8_t *(*xdpfw_extra_fn)(void *engine, uint32_t *length)
