/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * xdpfw_shared.h - THE contract between the three parts of xdpfw:
 *
 *   - the XDP program (xdpfw_kern.c, compiled at load time by bcc/clang),
 *   - the Cython worker (xdpfw/_fast/, via `cdef extern from "xdpfw_shared.h"`),
 *   - the Python control plane (bcc builds ctypes layouts of map keys/values from this
 *     same text; xdpfw/dataplane/shared.py reads the X-macro tables below to build the
 *     Python enums and the Prometheus label values).
 *
 * Included by kernel-side BPF C and by user-space C alike, so it may only use the
 * fixed-width types of <linux/types.h> and must not include anything else. Nothing in
 * here is kept "in sync by hand" anywhere else: change it here, and every side follows.
 */
#ifndef XDPFW_SHARED_H
#define XDPFW_SHARED_H

#include <linux/types.h>

/* An appliance has two sides; side A's frames leave through side B and vice versa. */
#define XDPFW_SIDE_A 0
#define XDPFW_SIDE_B 1
#define XDPFW_NSIDES 2

/* Upper bound on RX queues per interface. XSKMAP key = side * XDPFW_MAX_QUEUES + queue. */
#define XDPFW_MAX_QUEUES 64
#define XDPFW_XSK_KEY(side, queue) ((side) * XDPFW_MAX_QUEUES + (queue))

/* Maximum entries per ACL LPM trie (per family and per direction). */
#define XDPFW_ACL_MAX_CIDRS 65536

/*
 * What the XDP program did with a frame. Counted per side in the per-CPU stats map at
 * index side * XDPFW_XDP_ACTION_MAX + action. The string is the Prometheus label value
 * of xdpfw_xdp_packets_total{action=...}.
 */
#define XDPFW_XDP_ACTIONS(X)                                                    \
	X(XDPFW_XDP_TO_WORKER, "to_worker")     /* redirected to the queue's AF_XDP socket */ \
	X(XDPFW_XDP_ACL_DROP, "acl_drop")       /* dropped by the kernel ACL */ \
	X(XDPFW_XDP_FAIL_OPEN, "fail_open")     /* no socket bound: devmap to the peer */ \
	X(XDPFW_XDP_FAIL_CLOSED, "fail_closed") /* no socket bound: dropped */ \
	X(XDPFW_XDP_UNKNOWN_IF, "unknown_if")   /* ingress ifindex is neither side: passed to the stack */ \
	X(XDPFW_XDP_BYPASS, "bypass")           /* a flow the engine is done with: devmap to the peer, no worker */

/*
 * Why a frame was dropped, by the XDP program or by a worker: a closed set, used as the
 * `reason` label of xdpfw_dropped_packets_total (never an address, port or SID).
 */
#define XDPFW_DROP_REASONS(X)                                                   \
	X(XDPFW_DROP_ACL, "acl")                   /* kernel ACL (IP-only drop rule) */ \
	X(XDPFW_DROP_FAIL_MODE, "fail_mode")       /* fail-closed while no worker is bound */ \
	X(XDPFW_DROP_RULE, "rule")                 /* a drop/reject rule matched in a worker */ \
	X(XDPFW_DROP_DECODE_ERROR, "decode_error") /* malformed frame, dropped by policy */ \
	X(XDPFW_DROP_RING_FULL, "ring_full")       /* the peer's TX ring had no room */ \
	X(XDPFW_DROP_TCP_OUT_OF_ORDER, "tcp_out_of_order") /* gap in a TCP stream (in-order enforcement) */ \
	X(XDPFW_DROP_FLOW_TABLE_FULL, "flow_table_full")   /* no flow entry could be allocated */ \
	X(XDPFW_DROP_EXCEPTION_POLICY, "exception_policy") /* an exception policy chose drop */ \
	X(XDPFW_DROP_IP_FRAGMENT, "ip_fragment")   /* fragment out of order, overlapping, of a bad datagram, or TCP */ \
	X(XDPFW_DROP_TCP_INSERTION, "tcp_insertion") /* re-sent TCP bytes differing from (or not comparable with) the inspected ones */ \
	X(XDPFW_DROP_BAD_CHECKSUM, "bad_checksum")   /* inline: a TCP segment the host would drop for its checksum */ \
	X(XDPFW_DROP_WRONG_SIDE, "wrong_side")     /* a flow's packet arrived on the NIC of the flow's other endpoint: spoofed */ \
	X(XDPFW_DROP_FLOW_SOURCE_SHARE, "flow_source_share") /* no flow entry: the source host or prefix holds its share of unverified entries */ \
	X(XDPFW_DROP_XSK_RX_RING_FULL, "xsk_rx_ring_full") /* kernel: the AF_XDP RX ring was full (XDP_STATISTICS; packets only, no bytes) */ \
	X(XDPFW_DROP_XSK_RX_DROPPED, "xsk_rx_dropped")     /* kernel: no fill-ring buffer for the frame, or too big for one (XDP_STATISTICS; packets only) */

#define XDPFW__ENUM_ENTRY(name, label) name,

enum xdpfw_xdp_action {
	XDPFW_XDP_ACTIONS(XDPFW__ENUM_ENTRY)
	XDPFW_XDP_ACTION_MAX
};

enum xdpfw_drop_reason {
	XDPFW_DROP_REASONS(XDPFW__ENUM_ENTRY)
	XDPFW_DROP_REASON_MAX
};

/* The verdict a worker reaches for one frame. */
enum xdpfw_verdict {
	XDPFW_VERDICT_PASS = 0, /* forward to the peer side */
	XDPFW_VERDICT_DROP = 1, /* back to the free pool; reason says why */
	XDPFW_VERDICT_REPLY = 2, /* dropped, and the frame now holds a reply (a TCP RST, an ICMP
				  * unreachable) to send back out of the side it came from */
	XDPFW_VERDICT_REPLY_PEER = 3, /* dropped, and the frame now holds a reply for the
				       * destination (rejectdst's RST): out of the peer side */
	XDPFW_VERDICT_REPLY_BOTH = 4, /* as REPLY, and the engine's extra reply (xdpfw_extra_fn,
				       * xdpfw_inspect.h) goes out of the peer side in a frame
				       * of its own (rejectboth) */
};

/* fail_mode values of struct xdpfw_config */
#define XDPFW_FAIL_CLOSED 0
#define XDPFW_FAIL_OPEN 1

/* acl_flags of struct xdpfw_config: which ACL maps hold entries (empty ones are skipped). */
#define XDPFW_ACL_SRC_V4 (1U << 0)
#define XDPFW_ACL_DST_V4 (1U << 1)
#define XDPFW_ACL_SRC_V6 (1U << 2)
#define XDPFW_ACL_DST_V6 (1U << 3)
#define XDPFW_ACL_SPORT (1U << 4)
#define XDPFW_ACL_DPORT (1U << 5)

/*
 * ACL values are protocol masks: an entry denies the frame when the frame's protocol bit
 * is set. The compiler folds every covering (shorter) prefix's mask into each entry,
 * because an LPM lookup returns only the longest match.
 */
#define XDPFW_PROTO_TCP (1U << 0)
#define XDPFW_PROTO_UDP (1U << 1)
#define XDPFW_PROTO_ICMP (1U << 2) /* ICMP and ICMPv6 */
#define XDPFW_PROTO_OTHER (1U << 3)
#define XDPFW_PROTO_ANY (XDPFW_PROTO_TCP | XDPFW_PROTO_UDP | XDPFW_PROTO_ICMP | XDPFW_PROTO_OTHER)

/* config_map[0]: written by the control plane before the program sees traffic. */
struct xdpfw_config {
	__u32 ifindex[XDPFW_NSIDES]; /* ifindex of side A and side B */
	__u32 fail_mode;             /* XDPFW_FAIL_OPEN or XDPFW_FAIL_CLOSED */
	__u32 acl_flags;             /* XDPFW_ACL_* bits */
	__u64 watchdog_ns;           /* 0: off. Else: heartbeat older than this = workers hung,
				      * apply the fail mode as if no socket were bound */
	__u32 bypass;                /* 1: look frames up in bypass_map (flow bypass on) */
	__u32 _pad;
};

/*
 * Flow bypass (bypass_map, an LRU hash): one entry per direction of a flow the engine
 * is done with (encryption-handling bypass), written by the worker when it settles the
 * flow, read and counted by the XDP program, which forwards the direction's frames to
 * the peer NIC with no worker. Only plain frames are looked up: Ethernet, at most two
 * VLAN tags, IPv4 (not a fragment) or IPv6 without extension headers, then TCP; a SYN,
 * FIN or RST removes both directions' entries and goes to the worker. The control plane
 * removes entries idle past the flow timeout.
 */
#define XDPFW_BYPASS_MAX 65536  /* entries (directions); the least recently used go first */

struct xdpfw_bypass_key {
	__u8 src[16];   /* IPv6, or IPv4-mapped ::ffff:a.b.c.d (the engine's layout) */
	__u8 dst[16];
	__u16 sport;    /* host order */
	__u16 dport;
	__u16 vlan;     /* the outer VLAN id, 0 untagged (the flow key's) */
	__u8 proto;
	__u8 pad;
};

struct xdpfw_bypass_val {
	__u64 packets;  /* forwarded by XDP */
	__u64 bytes;
	__u64 last_ns;  /* bpf_ktime_get_ns (CLOCK_MONOTONIC) of the last one, or of the insert */
	__u32 side;     /* the NIC (XDPFW_SIDE_*) this direction's frames arrive on */
	__u32 flags;
};

/* Value of the per-CPU stats map. */
struct xdpfw_xdp_stat {
	__u64 packets;
	__u64 bytes;
};

/* LPM trie keys (prefixlen counts bits of addr, network byte order). */
struct xdpfw_lpm_v4 {
	__u32 prefixlen;
	__u8 addr[4];
};

struct xdpfw_lpm_v6 {
	__u32 prefixlen;
	__u8 addr[16];
};

/*
 * Counters one worker (one queue pair) keeps in plain memory. A single writer (the
 * worker thread); the metrics collector reads them at scrape time. Per side: the side
 * the frame arrived on.
 */
struct xdpfw_worker_counters {
	__u64 rx_packets[XDPFW_NSIDES];   /* frames taken off the side's RX ring */
	__u64 rx_bytes[XDPFW_NSIDES];
	__u64 fwd_packets[XDPFW_NSIDES];  /* frames put on the peer's TX ring */
	__u64 fwd_bytes[XDPFW_NSIDES];
	__u64 drop_packets[XDPFW_NSIDES][XDPFW_DROP_REASON_MAX];
	__u64 drop_bytes[XDPFW_NSIDES][XDPFW_DROP_REASON_MAX];
	__u64 tx_kicks[XDPFW_NSIDES];     /* sendto() wakeups of the side's TX ring */
	__u64 tx_kick_errors[XDPFW_NSIDES];
	__u64 fill_wakeups[XDPFW_NSIDES];
	__u64 batches;                    /* loop iterations that moved at least one frame */
	__u64 idle_polls;                 /* times the loop blocked in poll() */
	__u64 accounting_errors;          /* a frame was seen where it cannot be: a bug */
	__u64 replies[XDPFW_NSIDES];      /* rejects: replies sent back out of the side */
	__u64 loops;                      /* loop iterations: proof of life for the watchdog */
};

#endif /* XDPFW_SHARED_H */
