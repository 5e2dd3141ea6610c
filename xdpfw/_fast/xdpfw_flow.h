/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xdpfw_flow.h - the flow table's entry layout and the TCP in-order tracker's verdicts.
 * User space only: included by the Cython engine (flow.pyx) and read by the control plane
 * through the Cython module (counter labels come from the X-macro tables below).
 *
 * A flow is keyed canonically - the lower (address, port) endpoint first - so both
 * directions of a connection find the same entry. Direction is relative to the
 * initiator (the endpoint that sent the first packet seen, or the SYN): to_server is
 * initiator -> responder, as in Suricata's flow keywords.
 *
 * Everything lives in one pre-allocated array of fixed-size entries: no allocation per
 * flow or per packet. Matcher stream state and decoder state live in parallel slabs
 * indexed by the flow's slot, owned by the engine.
 */
#ifndef XDPFW_FLOW_H
#define XDPFW_FLOW_H

#include <linux/types.h>

#define XDPFW_DIR_TOSERVER 0
#define XDPFW_DIR_TOCLIENT 1

/* TCP connection state, per flow (a simplification of RFC 793 sufficient for flow:
 * established/not_established and for timeouts). */
#define XDPFW_TCP_STATES(X)                               \
	X(XDPFW_TCP_NONE, "none")           /* no TCP, or nothing seen yet */ \
	X(XDPFW_TCP_SYN_SENT, "syn_sent")   /* SYN seen from the initiator */ \
	X(XDPFW_TCP_SYN_RECV, "syn_recv")   /* SYN-ACK seen from the responder */ \
	X(XDPFW_TCP_ESTABLISHED, "established") \
	X(XDPFW_TCP_CLOSING, "closing")     /* a FIN seen in either direction */ \
	X(XDPFW_TCP_CLOSED, "closed")       /* RST, or FINs both ways */

/*
 * What the in-order tracker made of one TCP segment (the `verdict` of xdpfw_tcp_track).
 * The string is the label of xdpfw_tcp_segments_total{result=...}.
 */
#define XDPFW_TCP_RESULTS(X)                                                   \
	X(XDPFW_SEG_IN_ORDER, "in_order")       /* starts at the next expected byte: inspect all */ \
	X(XDPFW_SEG_OVERLAP, "partial_overlap") /* starts before it, ends after: inspect the new bytes */ \
	X(XDPFW_SEG_RETRANSMIT, "retransmit")   /* wholly before it: already inspected, forward */ \
	X(XDPFW_SEG_GAP, "gap")                 /* starts after it: drop, the sender will resend in order */ \
	X(XDPFW_SEG_NO_DATA, "no_data")         /* no payload (pure ACK, SYN, FIN, RST) */ \
	X(XDPFW_SEG_MIDSTREAM, "midstream")     /* first segment of a flow picked up without a SYN */ \
	X(XDPFW_SEG_WINDOW, "out_of_window")    /* > 1 GiB ahead of the expected byte, or before the stream's start: dropped */ \
	X(XDPFW_SEG_RESYNC, "gap_resync")       /* a gap that never filled: skip to this segment (replay/IDS only) */ \
	X(XDPFW_SEG_RST_IGNORED, "rst_out_of_sequence") /* a RST not at the next expected byte: forwarded, state kept (RFC 5961) */ \
	X(XDPFW_SEG_SYN_IGNORED, "syn_on_established") /* a SYN inside a live connection: forwarded, state kept (RFC 5961) */ \
	X(XDPFW_SEG_CONFLICT, "retransmit_conflict")   /* re-sent bytes differ from the inspected ones: dropped (insertion) */ \
	X(XDPFW_SEG_UNVERIFIABLE, "retransmit_unverifiable") /* re-sent range cuts an inspected segment: cannot be compared, dropped */

#define XDPFW__FLOW_ENUM(name, label) name,
enum xdpfw_tcp_state { XDPFW_TCP_STATES(XDPFW__FLOW_ENUM) XDPFW_TCP_STATE_MAX };
enum xdpfw_tcp_result { XDPFW_TCP_RESULTS(XDPFW__FLOW_ENUM) XDPFW_TCP_RESULT_MAX };

/* Flow table counters: label of xdpfw_flow_events_total{event=...}. */
#define XDPFW_FLOW_EVENTS(X)                                                  \
	X(XDPFW_FLOW_CREATED, "created")                                       \
	X(XDPFW_FLOW_TIMED_OUT, "timed_out")     /* reclaimed after its idle timeout */ \
	X(XDPFW_FLOW_EVICTED, "evicted")         /* a verified entry (not a live TCP connection) reclaimed before its timeout */ \
	X(XDPFW_FLOW_NO_ROOM, "no_room")         /* no entry could be had: packet without flow */ \
	X(XDPFW_FLOW_CLOSED, "closed")           /* reclaimed after RST/FIN (short timeout) */ \
	/* flow-table admission (see struct xdpfw_flow's last fields) */ \
	X(XDPFW_FLOW_EVICTED_UNVERIFIED, "evicted_unverified") /* an unverified or half-open entry reclaimed before its timeout (evicted first) */ \
	X(XDPFW_FLOW_WRONG_SIDE, "wrong_side")   /* a packet of a flow from the NIC of its other endpoint: spoofed, dropped inline */ \
	X(XDPFW_FLOW_TAKEOVER, "side_takeover")  /* a one-sided entry replaced by an opener from the other NIC */ \
	X(XDPFW_FLOW_SHARE_REFUSED, "source_share") /* no entry: the source host or prefix holds its share of unverified entries */ \
	X(XDPFW_FLOW_VERIFIED, "verified")       /* an entry became verified (both endpoints sent from their own NICs) */ \
	X(XDPFW_FLOW_EMERGENCY, "emergency_entered") /* the table entered emergency mode (short timeouts) */

enum xdpfw_flow_event { XDPFW_FLOW_EVENTS(XDPFW__FLOW_ENUM) XDPFW_FLOW_EVENT_MAX };

/* Canonical key: endpoint a <= endpoint b (addresses compared bytewise, then ports).
 * IPv4 addresses are stored IPv4-mapped (::ffff:a.b.c.d). 40 bytes. */
struct xdpfw_flow_key {
	__u8 addr_a[16];
	__u8 addr_b[16];
	__u16 port_a;
	__u16 port_b;
	__u16 vlan;   /* outer VLAN id, 0 if untagged: the same 5-tuple in two VLANs is two flows */
	__u8 proto;
	__u8 pad;
};

/* xdpfw_flow_dir.origin bits: with stream_off and fin_seen they give the sequence
 * distance from next_seq back to the direction's first sequence number. */
#define XDPFW_ORIGIN_SYN 0x01      /* the direction began with a SYN (one number before its data) */
#define XDPFW_ORIGIN_RESYNCED 0x02 /* a gap_resync skipped bytes: the start is no longer known */

/* xdpfw_flow.settled bits: inspection the engine has given up for the rest of the flow,
 * both directions (engine.pyx, its encryption-handling policy). */
#define XDPFW_FLOW_S_NO_PAYLOAD 0x01 /* no content matching (TLS application data): header,
				      * flow and app-layer rules still run */
#define XDPFW_FLOW_S_BYPASS 0x02     /* nothing: forwarded uninspected (counted) */

/* One direction of a flow. */
struct xdpfw_flow_dir {
	__u64 packets;
	__u64 bytes;
	__u64 stream_off;  /* payload bytes of this direction inspected so far: matcher offsets */
	__u32 next_seq;    /* TCP: next byte expected from this direction */
	__u8 seq_known;    /* next_seq is valid */
	__u8 fin_seen;
	__u8 gap_run;      /* consecutive gap segments since the last in-order one */
	__u8 origin;       /* XDPFW_ORIGIN_*: where the stream began, for "before its start" */
	__u64 gap_since;   /* flow time (last_ns) of the first of those gap segments */
};

struct xdpfw_flow {
	struct xdpfw_flow_key key;
	__u64 flow_id;      /* unique, for EVE flow_id (masked to 51 bits there) */
	__u64 first_ns;
	__u64 last_ns;
	struct xdpfw_flow_dir dir[2];  /* indexed by XDPFW_DIR_* */
	__u64 flowbits[2];  /* up to 128 named flowbits, numbered by the rule compiler */
	__u32 hash;
	__u8 used;          /* slot holds a flow */
	__u8 init_is_a;     /* initiator is endpoint a of the key */
	__u8 tcp_state;     /* enum xdpfw_tcp_state */
	__u8 app_proto;     /* set by protocol detection (engine) */
	__u8 midstream;     /* picked up without seeing the handshake */
	__u8 drop;          /* a drop/reject rule matched: drop the rest of the flow */
	__u8 hdr_rules[2];  /* per direction: 0 not yet known, 1 no header-only rule can match
			     * this direction's addresses/ports/protocol, 2 some can */
	__u8 settled;       /* XDPFW_FLOW_S_*: what the engine no longer inspects in this flow */
	__u8 pad[3];
	/* flow-table admission: which NIC each endpoint sends from, verification, the
	 * source share (FlowTable.admit, FlowTable.lookup) */
	__u32 share_cell[4]; /* source-share sketch cells this entry counts in (host x2, prefix x2) */
	__u8 init_side;      /* inline: the NIC (XDPFW_SIDE_*) the initiator's frames arrive on */
	__u8 verified;       /* both endpoints sent from their own NICs (inline TCP: and each
			      * acknowledged bytes the other sent); unverified entries go first */
	__u8 share_held;     /* counted in the sketch (unverified entries only) */
	__u8 acked;          /* inline TCP: bit d set when direction d acknowledged bytes the
			      * other direction sent (verified needs both) */
	__u8 swept;          /* expired and already accounted for by the sweep (still linked) */
	__u8 pad2[3];
};

#endif /* XDPFW_FLOW_H */
