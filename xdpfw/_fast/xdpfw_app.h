/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xdpfw_app.h - the contract between the application-layer decoders (app_http.pyx,
 * app_tls.pyx, app_dns.pyx: one protocol per file) and the engine that feeds them.
 * User space only.
 *
 * A decoder is a resumable state machine over one direction of one flow. The engine
 * hands it each in-order run of payload bytes as it arrives (the TCP tracker has already
 * removed retransmitted bytes; a UDP datagram is one run with XDPFW_APP_F_DATAGRAM). The
 * decoder never buffers the stream: it keeps a small fixed-size state struct (its own
 * header declares it) and reports, through the sink below, *pieces* of the rule buffers
 * it recognises (http.uri, tls.sni, dns.query, ...). A piece points into the bytes the
 * engine passed in (or, for a normalised buffer, into a small scratch array of the
 * decoder, never longer than XDPFW_APP_SCRATCH bytes) and is only valid during the call.
 *
 * One instance of a buffer (the URI of one request, the SNI of one ClientHello) is
 * reported as a sequence of pieces: the first carries XDPFW_APP_START, the last
 * XDPFW_APP_END (a one-piece instance carries both; an empty instance is one piece of
 * length 0 with both). The engine runs one streaming matcher per buffer and resets it at
 * START, so patterns match across pieces (and segments) but never across instances; at
 * END it calls the matcher's finish, so end-anchored keywords (endswith, `$`, bsize)
 * work. Pieces of different buffers may interleave (http.request_line and http.uri are
 * open at the same time); pieces of one buffer never do.
 *
 * A decoder that learns that the rest of the flow is opaque to content rules (TLS
 * application data) says so once through sink->control (XDPFW_APP_CTL_ENCRYPTED).
 *
 * Per-protocol decode events (malformed or evasive input) are reported through
 * sink->event with ids from the protocol's own X-macro table; the engine counts them
 * and can raise alerts for them. A decoder that meets input it cannot follow reports an
 * event and switches itself to a terminal "give up" state for that direction: it never
 * loops, never reads past the bytes it was given, and never crashes.
 */
/*
 * Each decoder module xdpfw/_fast/app_<proto>.pyx declares in app_<proto>.pxd, for the
 * engine to cimport (all noexcept nogil, no Python object, no allocation):
 *
 *   void <proto>_init(struct xdpfw_<proto>_state *s)
 *   int  <proto>_probe(const __u8 *p, __u32 n, int direction, __u32 flags)
 *        XDPFW_PROBE_* from the first bytes of a direction (n may be short)
 *   void <proto>_feed(struct xdpfw_<proto>_state *s, int direction, const __u8 *p,
 *                     __u32 n, __u32 flags, const struct xdpfw_app_sink *sink)
 *   void <proto>_end(struct xdpfw_<proto>_state *s, int direction,
 *                    const struct xdpfw_app_sink *sink)
 *        end of the direction (FIN, RST, flow timeout): close open instances
 *
 * The state is per flow (both directions: an HTTP response is read knowing its request)
 * and declared in xdpfw_app_<proto>.h with its event table. direction is XDPFW_DIR_*
 * (xdpfw_flow.h): 0 to_server (from the flow's initiator), 1 to_client.
 * xdpfw/ref/app_pieces.py checks the piece protocol above and assembles instances.
 *
 * The module also exports these four, with its probe policy, buffers and events, as one
 * struct xdpfw_app_ops (below): `const struct xdpfw_app_ops *<proto>_app_ops()`. The
 * engine knows a decoder only through that table, listed in the registry
 * (app_registry.pyx).
 */
#ifndef XDPFW_APP_H
#define XDPFW_APP_H

#include <linux/types.h>

/* Application protocols (xdpfw_flow.app_proto). The string is the EVE app_proto value. */
#define XDPFW_APP_PROTOS(X)                     \
	X(XDPFW_APP_UNKNOWN, "unknown")  /* not detected yet */ \
	X(XDPFW_APP_HTTP, "http")                 \
	X(XDPFW_APP_TLS, "tls")                   \
	X(XDPFW_APP_DNS, "dns")                   \
	X(XDPFW_APP_FAILED, "failed")    /* detection gave up: no app-layer rules apply */

/* Where a buffer exists (the last column of XDPFW_APP_BUFFERS): a bit per XDPFW_DIR_*. */
#define XDPFW_APP_D_TOSERVER 1u
#define XDPFW_APP_D_TOCLIENT 2u
#define XDPFW_APP_D_BOTH 3u

/* Rule buffers produced by the decoders: X(id, name, owner, directions). The name is the
 * Suricata sticky-buffer keyword (xdpfw/rules/keywords/buffers.py knows the legacy
 * spellings); the owner is the XDPFW_APP_* protocol whose decoder produces it (its ops'
 * buffers mask is built from this column); directions are XDPFW_APP_D_*. The Python
 * control plane reads all four columns (xdpfw/appinfo.py). */
#define XDPFW_APP_BUFFERS(X)                                                           \
	X(XDPFW_BUF_HTTP_METHOD, "http.method", XDPFW_APP_HTTP, XDPFW_APP_D_TOSERVER)  \
	X(XDPFW_BUF_HTTP_URI, "http.uri", XDPFW_APP_HTTP, XDPFW_APP_D_TOSERVER)        /* normalised */ \
	X(XDPFW_BUF_HTTP_URI_RAW, "http.uri.raw", XDPFW_APP_HTTP, XDPFW_APP_D_TOSERVER) \
	X(XDPFW_BUF_HTTP_PROTOCOL, "http.protocol", XDPFW_APP_HTTP, XDPFW_APP_D_BOTH)  \
	X(XDPFW_BUF_HTTP_REQUEST_LINE, "http.request_line", XDPFW_APP_HTTP, XDPFW_APP_D_TOSERVER) \
	X(XDPFW_BUF_HTTP_RESPONSE_LINE, "http.response_line", XDPFW_APP_HTTP, XDPFW_APP_D_TOCLIENT) \
	X(XDPFW_BUF_HTTP_STAT_CODE, "http.stat_code", XDPFW_APP_HTTP, XDPFW_APP_D_TOCLIENT) \
	X(XDPFW_BUF_HTTP_STAT_MSG, "http.stat_msg", XDPFW_APP_HTTP, XDPFW_APP_D_TOCLIENT) \
	X(XDPFW_BUF_HTTP_HEADER, "http.header", XDPFW_APP_HTTP, XDPFW_APP_D_BOTH)      /* normalised */ \
	X(XDPFW_BUF_HTTP_HEADER_RAW, "http.header.raw", XDPFW_APP_HTTP, XDPFW_APP_D_BOTH) \
	X(XDPFW_BUF_HTTP_HEADER_NAMES, "http.header_names", XDPFW_APP_HTTP, XDPFW_APP_D_BOTH) \
	X(XDPFW_BUF_HTTP_START, "http.start", XDPFW_APP_HTTP, XDPFW_APP_D_BOTH)        \
	X(XDPFW_BUF_HTTP_HOST, "http.host", XDPFW_APP_HTTP, XDPFW_APP_D_TOSERVER)      /* normalised */ \
	X(XDPFW_BUF_HTTP_HOST_RAW, "http.host.raw", XDPFW_APP_HTTP, XDPFW_APP_D_TOSERVER) \
	X(XDPFW_BUF_HTTP_USER_AGENT, "http.user_agent", XDPFW_APP_HTTP, XDPFW_APP_D_TOSERVER) \
	X(XDPFW_BUF_HTTP_COOKIE, "http.cookie", XDPFW_APP_HTTP, XDPFW_APP_D_BOTH)      \
	X(XDPFW_BUF_HTTP_CONTENT_TYPE, "http.content_type", XDPFW_APP_HTTP, XDPFW_APP_D_BOTH) \
	X(XDPFW_BUF_HTTP_CONTENT_LEN, "http.content_len", XDPFW_APP_HTTP, XDPFW_APP_D_BOTH) \
	X(XDPFW_BUF_HTTP_REFERER, "http.referer", XDPFW_APP_HTTP, XDPFW_APP_D_TOSERVER) \
	X(XDPFW_BUF_HTTP_ACCEPT, "http.accept", XDPFW_APP_HTTP, XDPFW_APP_D_TOSERVER)  \
	X(XDPFW_BUF_HTTP_ACCEPT_ENC, "http.accept_enc", XDPFW_APP_HTTP, XDPFW_APP_D_TOSERVER) \
	X(XDPFW_BUF_HTTP_ACCEPT_LANG, "http.accept_lang", XDPFW_APP_HTTP, XDPFW_APP_D_TOSERVER) \
	X(XDPFW_BUF_HTTP_CONNECTION, "http.connection", XDPFW_APP_HTTP, XDPFW_APP_D_BOTH) \
	X(XDPFW_BUF_HTTP_LOCATION, "http.location", XDPFW_APP_HTTP, XDPFW_APP_D_TOCLIENT) \
	X(XDPFW_BUF_HTTP_SERVER, "http.server", XDPFW_APP_HTTP, XDPFW_APP_D_TOCLIENT)  \
	X(XDPFW_BUF_HTTP_REQUEST_BODY, "http.request_body", XDPFW_APP_HTTP, XDPFW_APP_D_TOSERVER) \
	X(XDPFW_BUF_HTTP_RESPONSE_BODY, "http.response_body", XDPFW_APP_HTTP, XDPFW_APP_D_TOCLIENT) \
	X(XDPFW_BUF_FILE_DATA, "file.data", XDPFW_APP_HTTP, XDPFW_APP_D_BOTH)          \
	X(XDPFW_BUF_TLS_SNI, "tls.sni", XDPFW_APP_TLS, XDPFW_APP_D_TOSERVER)           \
	X(XDPFW_BUF_TLS_CERT_SUBJECT, "tls.cert_subject", XDPFW_APP_TLS, XDPFW_APP_D_TOCLIENT) \
	X(XDPFW_BUF_TLS_CERT_ISSUER, "tls.cert_issuer", XDPFW_APP_TLS, XDPFW_APP_D_TOCLIENT) \
	X(XDPFW_BUF_TLS_CERT_SERIAL, "tls.cert_serial", XDPFW_APP_TLS, XDPFW_APP_D_TOCLIENT) \
	X(XDPFW_BUF_JA3_HASH, "ja3.hash", XDPFW_APP_TLS, XDPFW_APP_D_TOSERVER)         \
	X(XDPFW_BUF_JA3_STRING, "ja3.string", XDPFW_APP_TLS, XDPFW_APP_D_TOSERVER)     \
	X(XDPFW_BUF_JA3S_HASH, "ja3s.hash", XDPFW_APP_TLS, XDPFW_APP_D_TOCLIENT)       \
	X(XDPFW_BUF_JA3S_STRING, "ja3s.string", XDPFW_APP_TLS, XDPFW_APP_D_TOCLIENT)   \
	X(XDPFW_BUF_TLS_CERTS, "tls.certs", XDPFW_APP_TLS, XDPFW_APP_D_TOCLIENT)       /* one instance per certificate */ \
	X(XDPFW_BUF_DNS_QUERY, "dns.query", XDPFW_APP_DNS, XDPFW_APP_D_TOSERVER)

#define XDPFW__APP_ENUM(name, ...) name,
enum xdpfw_app_proto { XDPFW_APP_PROTOS(XDPFW__APP_ENUM) XDPFW_APP_PROTO_MAX };
enum xdpfw_app_buffer { XDPFW_APP_BUFFERS(XDPFW__APP_ENUM) XDPFW_APP_BUFFER_MAX };

/* Piece flags (sink->data) */
#define XDPFW_APP_START 1u    /* first piece of a new instance of the buffer */
#define XDPFW_APP_END 2u      /* last piece of the instance */

/* Feed flags (decoder feed functions) */
#define XDPFW_APP_F_DATAGRAM 1u  /* the run is one whole datagram (UDP): no stream framing */
#define XDPFW_APP_F_GAP 2u       /* bytes were lost before this run (IDS gap resync): close
				  * open instances (END), then resynchronise or give up */

/* Result of a decoder's probe() on the first bytes of a direction. */
#define XDPFW_PROBE_NO 0      /* not this protocol */
#define XDPFW_PROBE_YES 1     /* this protocol */
#define XDPFW_PROBE_MORE 2    /* cannot tell yet: call again with more bytes */

/* Largest normalised piece a decoder emits from its own scratch array. */
#define XDPFW_APP_SCRATCH 256

struct xdpfw_app_sink {
	void *ctx;
	/* A piece of buffer `buf` (enum xdpfw_app_buffer): `n` bytes at `p`, valid only
	 * during the call; `flags` XDPFW_APP_START / XDPFW_APP_END. */
	void (*data)(void *ctx, __u32 buf, const __u8 *p, __u32 n, __u32 flags);
	/* A decode event of the decoder's protocol (its own enum). */
	void (*event)(void *ctx, __u32 proto, __u32 event);
	/* What the decoder learnt about the flow that changes how it is inspected
	 * (XDPFW_APP_CTL_*); NULL: nobody listens. Reported once per flow. */
	void (*control)(void *ctx, __u32 what);
};

/* sink->control values */
#define XDPFW_APP_CTL_ENCRYPTED 1u  /* the flow's payload is encrypted from the next byte on
				     * (TLS: the first application-data record after the server
				     * answered): no content rule can see into it. The engine
				     * applies its encryption-handling policy (engine.pyx). */

/* ---- the app-layer registry ---------------------------------------------------------
 *
 * A decoder is registered by one ops table, exported by its module (app_<proto>.pxd:
 * `<proto>_app_ops()`), listed once in xdpfw/_fast/app_registry.pyx in probe order.
 * The engine runs protocol detection, feed and end through these tables only: adding a
 * protocol touches no engine code. The per-flow state is one fixed-size slab, the union
 * of the registered decoders' states (app_registry.pxd: xdpfw_app_state).
 */

/* Transports a decoder is probed on (ops.l4) */
#define XDPFW_APP_L4_TCP 1u
#define XDPFW_APP_L4_UDP 2u

/* ops.flags */
#define XDPFW_APP_O_TX_PER_FEED 1u  /* each feed call starts a new transaction (DNS: a
				     * message per datagram / segment) */

typedef int (*xdpfw_app_probe_fn)(const __u8 *p, __u32 n, int direction, __u32 flags);
typedef void (*xdpfw_app_init_fn)(void *state);
typedef void (*xdpfw_app_feed_fn)(void *state, int direction, const __u8 *p, __u32 n, __u32 flags,
				  const struct xdpfw_app_sink *sink);
typedef void (*xdpfw_app_end_fn)(void *state, int direction, const struct xdpfw_app_sink *sink);

struct xdpfw_app_ops {
	const char *name;         /* the XDPFW_APP_PROTOS label: the EVE app_proto */
	__u32 proto;              /* XDPFW_APP_* */
	__u32 state_size;         /* bytes of its per-flow state */
	/* Probe policy: the decoder is probed on a flow whose transport is in l4
	 * (XDPFW_APP_L4_*) and, if port is not 0, whose source or destination port is port.
	 * A whole datagram (XDPFW_APP_F_DATAGRAM) is probed whole; a stream on its first
	 * bytes (at most the engine's PROBE_MAX, kept across segments). */
	__u16 port;
	__u8 l4;
	__u8 flags;               /* XDPFW_APP_O_* */
	__u64 buffers;            /* bit b: produces buffer b (XDPFW_APP_BUFFERS owner column) */
	/* START of this buffer begins a new transaction in direction d (XDPFW_DIR_*);
	 * XDPFW_APP_BUFFER_MAX: none (or the flag above) */
	__u8 tx_start[2];
	__u32 nevents;            /* its decode events: ids 0 .. nevents - 1 */
	const char *const *events;/* their names (the protocol's own X-macro table) */
	/* the functions of the contract above; state points at state_size bytes */
	xdpfw_app_probe_fn probe;
	xdpfw_app_init_fn init;
	xdpfw_app_feed_fn feed;
	xdpfw_app_end_fn end;
};

#define XDPFW__APP_LABEL(name, label, ...) label,
#define XDPFW__APP_BUF_OWNER(name, label, owner, dirs) owner,
#define XDPFW__APP_BUF_DIRS(name, label, owner, dirs) dirs,
static const char *const xdpfw_app_proto_names[] __attribute__((unused)) = {
	XDPFW_APP_PROTOS(XDPFW__APP_LABEL)
};
static const char *const xdpfw_app_buffer_names[] __attribute__((unused)) = {
	XDPFW_APP_BUFFERS(XDPFW__APP_LABEL)
};
static const __u8 xdpfw_app_buffer_owner[] __attribute__((unused)) = {
	XDPFW_APP_BUFFERS(XDPFW__APP_BUF_OWNER)
};
static const __u8 xdpfw_app_buffer_dirs[] __attribute__((unused)) = {
	XDPFW_APP_BUFFERS(XDPFW__APP_BUF_DIRS)
};
_Static_assert(XDPFW_APP_BUFFER_MAX <= 64, "xdpfw_app_ops.buffers is a 64-bit mask");

/* The buffers protocol `proto` owns, as an xdpfw_app_ops.buffers mask. */
static inline __u64 xdpfw_app_buffers_of(__u32 proto)
{
	__u64 m = 0;
	for (__u32 b = 0; b < XDPFW_APP_BUFFER_MAX; b++)
		if (xdpfw_app_buffer_owner[b] == proto)
			m |= 1ull << b;
	return m;
}

#endif /* XDPFW_APP_H */
