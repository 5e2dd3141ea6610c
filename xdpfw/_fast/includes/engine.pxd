# Cython view of xdpfw/_fast/xdpfw_engine.h: the rule tables the control plane builds and
# the engine reads, the alert record, and the engine counters. Values come from the header
# at C compile time; a name missing there fails the build.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

cdef extern from "xdpfw_engine.h" nogil:
    enum:
        XDPFW_ACT_PASS
        XDPFW_ACT_DROP
        XDPFW_ACT_REJECT
        XDPFW_ACT_ALERT
        XDPFW_NO_SIG
        XDPFW_REJECT_SRC
        XDPFW_REJECT_DST
        XDPFW_SIGF_ESTABLISHED
        XDPFW_SIGF_NOT_ESTABLISHED
        XDPFW_SIGF_TO_SERVER
        XDPFW_SIGF_TO_CLIENT
        XDPFW_SIG_PROTO_ANY
        XDPFW_DSIZE_NONE
        XDPFW_DSIZE_RANGE
        XDPFW_DSIZE_NOT

    struct xdpfw_addr_range:
        uint64_t lo_hi, lo_lo, hi_hi, hi_lo
    struct xdpfw_port_range:
        uint16_t lo, hi
    struct xdpfw_set_ref:
        uint32_t first, count, any
    struct xdpfw_sig_flowbits:
        uint64_t isset[2]
        uint64_t isnotset[2]
        uint64_t set[2]
        uint64_t unset[2]
        uint64_t toggle[2]
        uint8_t isset_any, isnotset_any, checks
    enum:
        XDPFW_THR_NONE
        XDPFW_THR_LIMIT
        XDPFW_THR_THRESHOLD
        XDPFW_THR_BOTH
        XDPFW_THR_DETECTION
        XDPFW_TRACK_SRC
        XDPFW_TRACK_DST
        XDPFW_TRACK_RULE
        XDPFW_TRACK_BOTH
        XDPFW_TRACK_FLOW
        XDPFW_SUPP_NONE
        XDPFW_SUPP_ALL
        XDPFW_SUPP_SRC
        XDPFW_SUPP_DST
        XDPFW_SUPP_EITHER
    struct xdpfw_thr_entry:
        uint64_t k[4]
        uint64_t window_start, active_since
        uint32_t sig, count
        uint8_t used
    struct xdpfw_sig:
        xdpfw_sig_flowbits fb
        xdpfw_set_ref supp_addrs
        uint32_t thr_count, thr_seconds
        uint8_t thr_type, thr_track, supp, hdr_only
        xdpfw_set_ref src, dst, sport, dport
        uint32_t dsize_lo, dsize_hi
        uint8_t action, proto, bidir, flow, dsize_op, noalert
        uint8_t rf, rf_track, rf_action, reject, app_proto, blen_op
        uint32_t rf_count, rf_seconds, rf_timeout, blen_lo, blen_hi
    enum:
        XDPFW_THR_RATE_KEY
    struct xdpfw_alert_rec:
        uint64_t ts_ns, flow_id, pkt_num, flow_start_ns
        uint64_t flow_pkts[2]
        uint64_t flow_bytes[2]
        uint8_t src[16]
        uint8_t dst[16]
        uint16_t sport, dport
        uint32_t sig
        uint8_t proto, ip_version, action, blocked, direction, side
        uint16_t gen
        uint8_t app_proto, vlan_depth
        uint16_t vlan[2]
        uint8_t policy_reason, has_flow
        uint8_t tunnel_depth, outer_version, outer_proto
        uint8_t outer_src[16]
        uint8_t outer_dst[16]

    # XDPFW_ENGINE_COUNTERS: Engine.cnt[] indices, C_<id> for the header's XDPFW_CNT_<id>,
    # in the table's order (tests/unit/test_shared_contract.py checks both).
    enum:
        C_PACKETS "XDPFW_CNT_PACKETS"
        C_DECODE_ERRORS "XDPFW_CNT_DECODE_ERRORS"
        C_NON_IP "XDPFW_CNT_NON_IP"
        C_NO_FLOW "XDPFW_CNT_NO_FLOW"
        C_FLOW_DROPPED "XDPFW_CNT_FLOW_DROPPED"
        C_TCP_DROPPED "XDPFW_CNT_TCP_DROPPED"
        C_SCANNED_BYTES "XDPFW_CNT_SCANNED_BYTES"
        C_MATCHES "XDPFW_CNT_MATCHES"
        C_MATCH_OVERFLOW "XDPFW_CNT_MATCH_OVERFLOW"
        C_STREAM_POOL_EMPTY "XDPFW_CNT_STREAM_POOL_EMPTY"
        C_MATCHER_ERRORS "XDPFW_CNT_MATCHER_ERRORS"
        C_ALERTS "XDPFW_CNT_ALERTS"
        C_ALERT_RING_FULL "XDPFW_CNT_ALERT_RING_FULL"
        C_PASSED_BY_RULE "XDPFW_CNT_PASSED_BY_RULE"
        C_DROPPED_BY_RULE "XDPFW_CNT_DROPPED_BY_RULE"
        C_FIRED_OVERFLOW "XDPFW_CNT_FIRED_OVERFLOW"
        C_THRESHOLD_EVICTED "XDPFW_CNT_THRESHOLD_EVICTED"
        C_ALERTS_THRESHOLDED "XDPFW_CNT_ALERTS_THRESHOLDED"
        C_ALERTS_SUPPRESSED "XDPFW_CNT_ALERTS_SUPPRESSED"
        C_REJECTS_SENT "XDPFW_CNT_REJECTS_SENT"
        C_TCP_FRAGMENTS "XDPFW_CNT_TCP_FRAGMENTS"
        C_FRAG_DATAGRAMS "XDPFW_CNT_FRAG_DATAGRAMS"
        C_FRAG_COMPLETED "XDPFW_CNT_FRAG_COMPLETED"
        C_FRAG_OUT_OF_ORDER "XDPFW_CNT_FRAG_OUT_OF_ORDER"
        C_FRAG_OVERLAPS "XDPFW_CNT_FRAG_OVERLAPS"
        C_FRAG_AFTER_BAD "XDPFW_CNT_FRAG_AFTER_BAD"
        C_FRAG_EVICTED "XDPFW_CNT_FRAG_EVICTED"
        C_RATE_FILTERED "XDPFW_CNT_RATE_FILTERED"
        C_APP_DETECTED "XDPFW_CNT_APP_DETECTED"
        C_APP_FAILED "XDPFW_CNT_APP_FAILED"
        C_APP_BYTES "XDPFW_CNT_APP_BYTES"
        C_APP_EVENTS "XDPFW_CNT_APP_EVENTS"
        C_APP_INST_FULL "XDPFW_CNT_APP_INST_FULL"
        C_APP_PENDING_FULL "XDPFW_CNT_APP_PENDING_FULL"
        C_IDS_WOULD_DROP "XDPFW_CNT_IDS_WOULD_DROP"
        C_BAD_CHECKSUM "XDPFW_CNT_BAD_CHECKSUM"
        C_TTL_RAISED "XDPFW_CNT_TTL_RAISED"
        C_ENCRYPTED_FLOWS "XDPFW_CNT_ENCRYPTED_FLOWS"
        C_BYPASSED_FLOWS "XDPFW_CNT_BYPASSED_FLOWS"
        C_BYPASSED_PACKETS "XDPFW_CNT_BYPASSED_PACKETS"
        C_BYPASSED_BYTES "XDPFW_CNT_BYPASSED_BYTES"
        C_BYPASS_OFFLOADED "XDPFW_CNT_BYPASS_OFFLOADED"
        C_BYPASS_OFFLOAD_FAILED "XDPFW_CNT_BYPASS_OFFLOAD_FAILED"
        C_PASSED_FLOWS "XDPFW_CNT_PASSED_FLOWS"
        C_PREFILTER_HITS "XDPFW_CNT_PREFILTER_HITS"
        C_PREFILTER_VERIFIED "XDPFW_CNT_PREFILTER_VERIFIED"
        C_PREFILTER_OVERFLOW "XDPFW_CNT_PREFILTER_OVERFLOW"
        C_DROP_RECORDS_LIMITED "XDPFW_CNT_DROP_RECORDS_LIMITED"
        C_MAX "XDPFW_CNT_MAX"

    const char *xdpfw_engine_counter_label(unsigned int c)
    const char *xdpfw_engine_counter_name(unsigned int c)
