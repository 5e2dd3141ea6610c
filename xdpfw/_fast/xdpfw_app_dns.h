/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xdpfw_app_dns.h - per-flow state, caps and decode events of the DNS decoder
 * (xdpfw/_fast/app_dns.pyx), to the contract of xdpfw_app.h. User space only.
 *
 * What is decoded (docs/APP_TLS_DNS.md has the long form):
 *   - Framing: over UDP one datagram is one message (XDPFW_APP_F_DATAGRAM); over TCP a
 *     2-byte big-endian length precedes each message, several per connection, split
 *     across segments anywhere (inside the prefix too).
 *   - Header: QR, opcode, Z and the four section counts. Every question and resource
 *     record is walked (names label by label, fixed fields, rdata skipped by its length)
 *     so a section that runs past the message end is seen.
 *   - dns.query: each question name of a query (to_server, QR=0), Suricata's form:
 *     labels joined by '.', bytes as on the wire (a '.' byte inside a label is a plain
 *     '.', as Suricata renders it: no escaping), no trailing dot; the root name is an
 *     empty instance. Responses and to_client messages give no dns.query.
 *   - Compression pointers in a query's question names are followed only where the
 *     whole message is in hand: a UDP datagram. Over TCP the decoder keeps no message
 *     bytes, so a pointer cannot be followed: the instance ends at the pointer (no
 *     instance if the name starts with it), dns.pointer_in_stream is reported and the
 *     rest of that message is skipped. Following a pointer only when a segment happened
 *     to hold the whole message would make detection depend on segmentation, which the
 *     sender controls. Names that produce no buffer are not followed: their pointer
 *     target is only checked to lie inside the message.
 *
 * Caps and their policy:
 *   - XDPFW_DNS_NAME_MAX rendered bytes per dns.query name (Suricata's limit): the bytes
 *     past it are not reported (the instance is the first XDPFW_DNS_NAME_MAX bytes),
 *     dns.name_too_long is reported once and the walk goes on to the end of the name.
 *   - XDPFW_DNS_MAX_STEPS labels plus pointers per name (Suricata's): the next one ends
 *     the name with dns.too_many_labels; if no pointer was followed yet the end of the
 *     name is unknown, so the message is malformed and skipped, otherwise parsing
 *     resumes after the first pointer (the name's end in the message is known).
 *
 * Give-up policy: an anomaly that leaves the message unframeable (label type 0x40/0x80,
 * a name, question or record running past the message end, a pointer outside the
 * message, a message shorter than its header) reports its event and
 * dns.malformed_data, ends the open instance, and skips the rest of that message; TCP
 * resumes at the next length prefix. A gap (XDPFW_APP_F_GAP) on TCP gives up the
 * direction (dns.gap): a length-prefixed stream has no marker to resynchronise on.
 */
#ifndef XDPFW_APP_DNS_H
#define XDPFW_APP_DNS_H

#include <linux/types.h>

#include "xdpfw_app.h"

#define XDPFW_DNS_HDR_LEN 12
#define XDPFW_DNS_NAME_MAX 1025   /* rendered bytes of a name reported (Suricata's MAX_NAME_LEN) */
#define XDPFW_DNS_MAX_STEPS 255   /* labels + pointers walked per name */
#define XDPFW_DNS_PROBE_MAX_QD 16 /* a query with more questions is not DNS to the probe */

/*
 * Decode events. The string is the event name after the protocol prefix: Suricata's
 * app-layer-event name where Suricata has the event (so its dns-events.rules carry over),
 * (xdpfw) otherwise. Reported in stream order; a message given up reports nothing after
 * dns.malformed_data (or dns.pointer_in_stream).
 */
#define XDPFW_DNS_EVENTS(X)                                                            \
	X(XDPFW_DNS_EV_MALFORMED_DATA, "dns.malformed_data")   /* message cannot be framed: skipped */ \
	X(XDPFW_DNS_EV_NOT_REQUEST, "dns.not_request")         /* QR=1 to_server */                    \
	X(XDPFW_DNS_EV_NOT_RESPONSE, "dns.not_response")       /* QR=0 to_client */                    \
	X(XDPFW_DNS_EV_Z_FLAG_SET, "dns.z_flag_set")           /* reserved Z bit set */                \
	X(XDPFW_DNS_EV_INVALID_OPCODE, "dns.invalid_opcode")   /* opcode 3 or 7-15 (unassigned) */     \
	X(XDPFW_DNS_EV_NAME_TOO_LONG, "dns.name_too_long")     /* > XDPFW_DNS_NAME_MAX rendered bytes */ \
	X(XDPFW_DNS_EV_TOO_MANY_LABELS, "dns.too_many_labels") /* > XDPFW_DNS_MAX_STEPS steps */       \
	X(XDPFW_DNS_EV_INFINITE_LOOP, "dns.infinite_loop")     /* a pointer to itself */               \
	X(XDPFW_DNS_EV_LABEL_TOO_LONG, "dns.label_too_long")   /* (xdpfw) length byte 0x40-0xbf */     \
	X(XDPFW_DNS_EV_INVALID_POINTER, "dns.invalid_pointer") /* (xdpfw) pointer past the message */  \
	X(XDPFW_DNS_EV_POINTER_IN_STREAM, "dns.pointer_in_stream") /* (xdpfw) TCP query name pointer */ \
	X(XDPFW_DNS_EV_TRUNCATED, "dns.truncated")             /* (xdpfw) direction ended mid-message */ \
	X(XDPFW_DNS_EV_GAP, "dns.gap")                         /* (xdpfw) TCP bytes lost: given up */

#define XDPFW__DNS_ENUM(name, label) name,
enum xdpfw_dns_event { XDPFW_DNS_EVENTS(XDPFW__DNS_ENUM) XDPFW_DNS_EV_MAX };

/*
 * One direction: where the walk is in the current message. No message byte is kept but
 * the 12-byte header while it arrives. 40 bytes.
 */
struct xdpfw_dns_dir {
	__u32 msg_left;   /* bytes of the current message not consumed yet */
	__u32 msg_len;    /* its length (pointer targets are checked against it) */
	__u32 rr_left;    /* resource records (an + ns + ar) left after the questions */
	__u16 qd_left;    /* questions left */
	__u16 count;      /* bytes left in the current label, fixed field or rdata */
	__u16 name_len;   /* rendered bytes of the current name so far */
	__u16 steps;      /* labels + pointers of the current name so far */
	__u16 acc;        /* a 16-bit field being assembled (length prefix, rdlength, pointer) */
	__u8 phase;       /* enum in app_dns.pyx */
	__u8 mflags;      /* XDPFW_DNS_M_* */
	__u8 hdr_pos;     /* header bytes received */
	__u8 hdr[XDPFW_DNS_HDR_LEN];
	__u8 _pad[3];
};

/* mflags */
#define XDPFW_DNS_M_QUERY 1u   /* the message is a query to_server: question names are reported */
#define XDPFW_DNS_M_OPEN 2u    /* a dns.query instance is open */
#define XDPFW_DNS_M_CAPPED 4u  /* the current name passed XDPFW_DNS_NAME_MAX */
#define XDPFW_DNS_M_FAILED 8u  /* the message was given up (its rest is skipped silently) */
#define XDPFW_DNS_M_RR 16u     /* the current name belongs to a resource record */

/* Per flow: both directions. 80 bytes. */
struct xdpfw_dns_state {
	struct xdpfw_dns_dir dir[2];  /* XDPFW_DIR_TOSERVER, XDPFW_DIR_TOCLIENT */
};

#endif /* XDPFW_APP_DNS_H */
