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
	__u8 pad2[5];
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
};

#define XDPFW_NO_SIG 0xFFFFFFFFu

#endif /* XDPFW_ENGINE_H */
