/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xdpfw_engine.h - what the inspection engine (engine.pyx) checks per rule, and the
 * alert records it hands to the control plane. User space only.
 *
 * The control plane compiles rules into these tables once per rule set (build aside,
 * swap at a batch boundary); the worker only reads them. Payload conditions are not
 * here: they are compiled into matcher databases whose reports name a signature index;
 * what remains for the worker is the header (protocol, addresses, ports, direction),
 * flow state and packet size, checked in C after a report, or for every packet of the
 * protocol for rules without payload conditions.
 */
#ifndef XDPFW_ENGINE_H
#define XDPFW_ENGINE_H

#include <linux/types.h>

/* Rule actions, in Suricata's default precedence order (lower acts first). */
#define XDPFW_ACT_PASS 0
#define XDPFW_ACT_DROP 1
#define XDPFW_ACT_REJECT 2
#define XDPFW_ACT_ALERT 3

/* xdpfw_sig.reject: who a reject rule answers (bits) */
#define XDPFW_REJECT_SRC 1u   /* reject, rejectsrc: the sender (TCP RST, else ICMP unreachable) */
#define XDPFW_REJECT_DST 2u   /* rejectdst: the destination (TCP RST) */

/* xdpfw_sig.flow bits (the `flow` keyword). */
#define XDPFW_SIGF_ESTABLISHED (1U << 0)
#define XDPFW_SIGF_NOT_ESTABLISHED (1U << 1)
#define XDPFW_SIGF_TO_SERVER (1U << 2)
#define XDPFW_SIGF_TO_CLIENT (1U << 3)
#define XDPFW_SIGF_STATELESS (1U << 4)

/* xdpfw_sig.proto: 0 matches any IP packet. */
#define XDPFW_SIG_PROTO_ANY 0

/* dsize comparison (xdpfw_sig.dsize_op) */
#define XDPFW_DSIZE_NONE 0
#define XDPFW_DSIZE_RANGE 1  /* lo <= dsize <= hi */
#define XDPFW_DSIZE_NOT 2    /* !(lo <= dsize <= hi) */

/* An inclusive range of 128-bit addresses (IPv4 as ::ffff:a.b.c.d), host order halves. */
struct xdpfw_addr_range {
	__u64 lo_hi, lo_lo;
	__u64 hi_hi, hi_lo;
};

struct xdpfw_port_range {
	__u16 lo, hi;
};

/* A set: [first, first + count) in its range table; count 0 with any = 1 matches all. */
struct xdpfw_set_ref {
	__u32 first;
	__u32 count;
	__u32 any;
};

/* Flowbits (xdpfw_flow.flowbits, 128 per flow): names are numbered by the rule compiler.
 * Checks are conditions of the rule; set/unset/toggle act when the rule matches. */
struct xdpfw_sig_flowbits {
	__u64 isset[2];      /* these bits must be set (any of them if isset_any) */
	__u64 isnotset[2];   /* these bits must be clear (any of them if isnotset_any) */
	__u64 set[2], unset[2], toggle[2];
	__u8 isset_any, isnotset_any;
	__u8 checks;         /* the rule has isset/isnotset conditions */
	__u8 pad[5];
};

/* Rate control (threshold / detection_filter / event_filter) and suppress. */
#define XDPFW_THR_NONE 0
#define XDPFW_THR_LIMIT 1      /* alert on the first count hits of each window */
#define XDPFW_THR_THRESHOLD 2  /* alert on every count-th hit within a window */
#define XDPFW_THR_BOTH 3       /* alert once per window, at the count-th hit */
#define XDPFW_THR_DETECTION 4  /* detection_filter: the rule matches only past count hits */

#define XDPFW_TRACK_SRC 0
#define XDPFW_TRACK_DST 1
#define XDPFW_TRACK_RULE 2
#define XDPFW_TRACK_BOTH 3
#define XDPFW_TRACK_FLOW 4

#define XDPFW_SUPP_NONE 0
#define XDPFW_SUPP_ALL 1       /* never alert (other effects remain) */
#define XDPFW_SUPP_SRC 2       /* no alert when the source is in the set */
#define XDPFW_SUPP_DST 3
#define XDPFW_SUPP_EITHER 4

/* One rate-control tracker: (signature, tracked key) -> hits in the current window. */
struct xdpfw_thr_entry {
	__u64 k[4];           /* tracked address(es) or flow id, see XDPFW_TRACK_* */
	__u64 window_start;
	__u64 active_since;   /* rate_filter: when its new action took effect, 0 if not active */
	__u32 sig;            /* signature index; | XDPFW_THR_RATE_KEY for its rate_filter tracker */
	__u32 count;
	__u8 used;
	__u8 pad[7];
};

#define XDPFW_THR_RATE_KEY 0x80000000u

struct xdpfw_sig {
	struct xdpfw_sig_flowbits fb;
	struct xdpfw_set_ref supp_addrs;       /* suppress: the address set */
	__u32 thr_count, thr_seconds;
	__u8 thr_type, thr_track, supp;
	__u8 hdr_only;    /* no payload condition (in the rule set's header-only list) */
	__u8 pad2[4];
	struct xdpfw_set_ref src, dst;         /* address sets */
	struct xdpfw_set_ref sport, dport;     /* port sets */
	__u32 dsize_lo, dsize_hi;
	__u8 action;      /* XDPFW_ACT_* */
	__u8 proto;       /* IP protocol number, or XDPFW_SIG_PROTO_ANY; 1 also matches 58 */
	__u8 bidir;       /* `<>`: the header may match either way round */
	__u8 flow;        /* XDPFW_SIGF_* */
	__u8 dsize_op;    /* XDPFW_DSIZE_* */
	__u8 noalert;     /* matched silently (flowbits:noalert) */
	__u8 rf;          /* a rate_filter applies (threshold.config) */
	__u8 rf_track;    /* XDPFW_TRACK_* */
	__u8 rf_action;   /* XDPFW_ACT_* while the rate_filter is active */
	__u8 reject;      /* XDPFW_REJECT_* bits, for XDPFW_ACT_REJECT */
	__u8 app_proto;   /* the flow's detected protocol must be this XDPFW_APP_* (0: any) */
	__u8 blen_op;     /* XDPFW_DSIZE_*: bsize/urilen on the length of its app buffer instance */
	__u32 rf_count, rf_seconds, rf_timeout;
	__u32 blen_lo, blen_hi;
};

/*
 * One alert (or drop) handed from a worker to the control plane through an SPSC ring:
 * fixed size, no pointers, enough to write the EVE record without touching the worker.
 */
struct xdpfw_alert_rec {
	__u64 ts_ns;           /* CLOCK_REALTIME of the packet (replay: the capture's time) */
	__u64 flow_id;
	__u64 pkt_num;         /* replay: 1-based packet index in the capture (pcap_cnt) */
	__u64 flow_start_ns;   /* CLOCK_REALTIME of the flow's first packet */
	__u64 flow_pkts[2];    /* packets so far, indexed by XDPFW_DIR_* */
	__u64 flow_bytes[2];
	__u8 src[16], dst[16]; /* as in the packet (IPv4-mapped) */
	__u16 sport, dport;
	__u32 sig;             /* index into the rule set's signature table */
	__u8 proto;
	__u8 ip_version;
	__u8 action;           /* XDPFW_ACT_* of the rule */
	__u8 blocked;          /* the packet was dropped */
	__u8 direction;        /* XDPFW_DIR_* */
	__u8 side;             /* interface side it arrived on */
	__u16 gen;             /* rule-set generation (low bits): the table `sig` indexes */
	__u8 app_proto;        /* the flow's detected application protocol (XDPFW_APP_*) */
	__u8 vlan_depth;       /* VLAN tags on the packet (0-2) */
	__u16 vlan[2];         /* their ids, outer first */
	__u8 policy_reason;    /* sig == XDPFW_NO_SIG: the engine dropped the packet by policy,
				* this is the XDPFW_DROP_* reason + 1 (an EVE drop event, no alert) */
	__u8 has_flow;         /* the flow_* fields are valid */
	__u8 tunnel_depth;     /* encapsulations the packet was decoded through (xdpfw_pkt) */
	__u8 outer_version;    /* tunnel_depth and an outer IP header: its version, else 0 */
	__u8 outer_proto;      /*   and its upper-layer protocol */
	__u8 outer_src[16], outer_dst[16]; /*   and its addresses (IPv4-mapped) */
};

#define XDPFW_NO_SIG 0xFFFFFFFFu

/*
 * Engine counters (Engine.counters(), the xdpfw_engine_* Prometheus metrics): id, label.
 * One table for C (the enum below: Engine.cnt[] indices), Cython (includes/engine.pxd
 * declares the ids as C_*), and Python (engine.COUNTER_NAMES, read from the compiled
 * labels; xdpfw/cheader.py reads the table from this text). Labels are metric names and
 * documented: a label changes only with the metrics and the docs.
 */
#define XDPFW_ENGINE_COUNTERS(X) \
	X(XDPFW_CNT_PACKETS, "packets")                         /* frames inspected */ \
	X(XDPFW_CNT_DECODE_ERRORS, "decode_errors")             /* frames the decoder could not finish */ \
	X(XDPFW_CNT_NON_IP, "non_ip")                           /* frames without an IP header (passed) */ \
	X(XDPFW_CNT_NO_FLOW, "no_flow")                         /* flow table full: no entry for the packet */ \
	X(XDPFW_CNT_FLOW_DROPPED, "flow_dropped")               /* packets of a flow a rule dropped before */ \
	X(XDPFW_CNT_TCP_DROPPED, "tcp_dropped")                 /* TCP segments out of order, out of window, or re-sent with other bytes */ \
	X(XDPFW_CNT_SCANNED_BYTES, "scanned_bytes")             /* payload bytes through a matcher */ \
	X(XDPFW_CNT_MATCHES, "matches")                         /* matcher reports */ \
	X(XDPFW_CNT_MATCH_OVERFLOW, "match_overflow")           /* matcher reports past the per-scan buffer */ \
	X(XDPFW_CNT_STREAM_POOL_EMPTY, "stream_pool_empty")     /* no matcher stream free for a flow or buffer */ \
	X(XDPFW_CNT_MATCHER_ERRORS, "matcher_errors")           /* matcher calls that failed */ \
	X(XDPFW_CNT_ALERTS, "alerts")                           /* rule alert records written (not policy drops) */ \
	X(XDPFW_CNT_ALERT_RING_FULL, "alert_ring_full")         /* records lost: the reader was behind */ \
	X(XDPFW_CNT_PASSED_BY_RULE, "passed_by_rule")           /* packets a pass rule let through */ \
	X(XDPFW_CNT_DROPPED_BY_RULE, "dropped_by_rule")         /* packets a drop/reject rule dropped (inline) */ \
	X(XDPFW_CNT_FIRED_OVERFLOW, "fired_overflow")           /* rules past MAX_FIRED on one packet */ \
	X(XDPFW_CNT_THRESHOLD_EVICTED, "threshold_evicted")     /* rate-control trackers evicted (table full) */ \
	X(XDPFW_CNT_ALERTS_THRESHOLDED, "alerts_thresholded")   /* alerts muted by threshold/event_filter */ \
	X(XDPFW_CNT_ALERTS_SUPPRESSED, "alerts_suppressed")     /* alerts muted by suppress */ \
	X(XDPFW_CNT_REJECTS_SENT, "rejects_sent")               /* reject replies built (TCP RST, ICMP unreachable) */ \
	X(XDPFW_CNT_TCP_FRAGMENTS, "tcp_fragments")             /* IP fragments carrying TCP (not followed) */ \
	X(XDPFW_CNT_FRAG_DATAGRAMS, "frag_datagrams")           /* fragmented datagrams opened */ \
	X(XDPFW_CNT_FRAG_COMPLETED, "frag_completed")           /* fragmented datagrams seen to their last fragment */ \
	X(XDPFW_CNT_FRAG_OUT_OF_ORDER, "frag_out_of_order")     /* fragments before their first or after a gap */ \
	X(XDPFW_CNT_FRAG_OVERLAPS, "frag_overlaps")             /* fragments overlapping what was seen */ \
	X(XDPFW_CNT_FRAG_AFTER_BAD, "frag_after_bad")           /* fragments of a datagram judged bad */ \
	X(XDPFW_CNT_FRAG_EVICTED, "frag_evicted")               /* open datagrams given up (table full) */ \
	X(XDPFW_CNT_RATE_FILTERED, "rate_filter_activations")   /* rate_filter activations */ \
	X(XDPFW_CNT_APP_DETECTED, "app_detected")               /* flows whose application protocol was detected */ \
	X(XDPFW_CNT_APP_FAILED, "app_detection_failed")         /* flows whose protocol detection gave up */ \
	X(XDPFW_CNT_APP_BYTES, "app_bytes")                     /* bytes fed to application decoders */ \
	X(XDPFW_CNT_APP_EVENTS, "app_events")                   /* application decoder events */ \
	X(XDPFW_CNT_APP_INST_FULL, "app_instances_full")        /* buffer instances past APP_INST per direction */ \
	X(XDPFW_CNT_APP_PENDING_FULL, "app_pending_full")       /* length-checked rules past APP_PENDING per instance */ \
	X(XDPFW_CNT_IDS_WOULD_DROP, "ids_would_drop")           /* IDS: packets inline mode would have dropped */ \
	X(XDPFW_CNT_BAD_CHECKSUM, "bad_checksum")               /* inline: TCP segments with a wrong IPv4 header or TCP checksum (dropped) */ \
	X(XDPFW_CNT_TTL_RAISED, "ttl_raised")                   /* inline: TCP segments given their direction's TTL / hop limit */ \
	X(XDPFW_CNT_ENCRYPTED_FLOWS, "encrypted_flows")         /* flows whose content inspection stopped at encrypted data (encryption-handling default) */ \
	X(XDPFW_CNT_BYPASSED_FLOWS, "bypassed_flows")           /* flows the engine stopped inspecting (encryption-handling bypass) */ \
	X(XDPFW_CNT_BYPASSED_PACKETS, "bypassed_packets")       /* packets of bypassed flows forwarded uninspected by the worker */ \
	X(XDPFW_CNT_BYPASSED_BYTES, "bypassed_bytes")           /* their bytes (frames) */ \
	X(XDPFW_CNT_BYPASS_OFFLOADED, "bypass_offloaded")       /* bypassed flows handed to the XDP program (bypass_map) */ \
	X(XDPFW_CNT_BYPASS_OFFLOAD_FAILED, "bypass_offload_failed") /* ... that could not be (map write failed, or a frame XDP cannot look up) */ \
	X(XDPFW_CNT_PASSED_FLOWS, "passed_flows")               /* flows a pass rule settled (forwarded uninspected from then on) */ \
	X(XDPFW_CNT_PREFILTER_HITS, "prefilter_hits")           /* block prefilter: fast-pattern literals found (one per literal per packet) */ \
	X(XDPFW_CNT_PREFILTER_VERIFIED, "prefilter_verified")   /* ... rules whose literal and header held: their expressions scanned */ \
	X(XDPFW_CNT_PREFILTER_OVERFLOW, "prefilter_overflow")   /* ... packets with more literals than the prefilter buffer: the whole block database scanned */ \
	X(XDPFW_CNT_DROP_RECORDS_LIMITED, "drop_records_limited") /* policy drops past policy_drop_records a second for their reason: counted, no EVE record */

#define XDPFW__CNT_ENUM(name, label) name,
enum xdpfw_engine_counter { XDPFW_ENGINE_COUNTERS(XDPFW__CNT_ENUM) XDPFW_CNT_MAX };

#define XDPFW__CNT_LABEL_CASE(name, label) case name: return label;
#define XDPFW__CNT_NAME_CASE(name, label) case name: return #name;

/* The label / C name of a counter, or NULL for a value outside the table. */
static inline const char *xdpfw_engine_counter_label(unsigned int c)
{
	switch (c) {
	XDPFW_ENGINE_COUNTERS(XDPFW__CNT_LABEL_CASE)
	}
	return (const char *)0;
}

static inline const char *xdpfw_engine_counter_name(unsigned int c)
{
	switch (c) {
	XDPFW_ENGINE_COUNTERS(XDPFW__CNT_NAME_CASE)
	}
	return (const char *)0;
}

#endif /* XDPFW_ENGINE_H */
