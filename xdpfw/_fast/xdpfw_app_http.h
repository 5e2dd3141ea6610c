/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xdpfw_app_http.h - per-flow state, caps and decode events of the HTTP/1.x decoder
 * (xdpfw/_fast/app_http.pyx), to the contract of xdpfw_app.h. User space only.
 * docs/APP_HTTP.md has the long form: what each buffer holds, the normalisation rules
 * and the policies below.
 *
 * What is decoded: requests (pipelined, keep-alive) and responses, each a line, header
 * lines and a body framed by Content-Length, chunked transfer coding, or (responses
 * only) the end of the direction. A line ends at LF; a CR right before the LF belongs to
 * the terminator, any other CR is a data byte (http.bare_cr). No byte of the stream is
 * kept: raw buffers are pieces of the caller's bytes, normalised ones (http.uri,
 * http.host) pass through a stack scratch array of XDPFW_APP_SCRATCH bytes, and the few
 * bytes a normalisation must hold back across a segment boundary (a half-read %XX, dots
 * of a path segment, a whitespace run that may turn out to be trailing, the prefix of a
 * header name that may turn out to be "Cookie", the whitespace and "HTTP/" prefix after
 * URI bytes that may turn out to be inside the URI, the "HTTP/" prefix of the answer to an
 * HTTP/0.9 request) are kept as counts and bits below.
 *
 * Caps and their policies:
 *   - XDPFW_HTTP_LINE_MAX bytes per request/status/header/trailer line: a longer line
 *     raises *_field_too_long once and is decoded on (every byte is still reported: the
 *     decoder keeps nothing, so a long line costs no memory). A chunk-size line longer
 *     than the cap gives the direction up (no legitimate chunk line is that long).
 *   - XDPFW_HTTP_MAX_HEADERS header lines per message: *_too_many_headers once, decoded on.
 *   - XDPFW_HTTP_WS_MAX bytes of one whitespace run inside a header name or value are
 *     reported; bytes past that are dropped from the normalised buffers (http.header,
 *     http.start and the single-header buffers; raw buffers keep them), with
 *     http.whitespace_run_too_long. Runs that end the value are dropped anyway.
 *   - XDPFW_HTTP_FIFO pending request kinds (HEAD, CONNECT, HTTP/0.9, other) per flow,
 *     for the response side (a HEAD response has no body). A request past that is not
 *     recorded (http.too_many_pending_requests) and neither are the ones after it until
 *     the FIFO drains; their responses are read as answering a GET.
 *   - Content-Length up to 18 decimal digits, chunk sizes up to 16 hex digits; longer is
 *     invalid.
 *
 * Give-up policy: input the decoder cannot frame (a request line that is not one, a
 * status line not starting "HTTP/", an unusable Content-Length or Transfer-Encoding on
 * a request, a bad chunk size or chunk terminator, a gap) reports its event, ends every
 * open instance and puts the direction into a terminal state: nothing after it is
 * reported. A CONNECT answered 2xx, or a 101 response, turns both directions into a
 * tunnel (terminal, no event): what follows is not HTTP.
 */
#ifndef XDPFW_APP_HTTP_H
#define XDPFW_APP_HTTP_H

#include <linux/types.h>

#include "xdpfw_app.h"

#define XDPFW_HTTP_LINE_MAX 8192   /* bytes per line before *_field_too_long */
#define XDPFW_HTTP_MAX_HEADERS 1024 /* header lines per message before *_too_many_headers */
#define XDPFW_HTTP_WS_MAX 64       /* whitespace bytes of one run kept (ws_bits is 64 bits) */
#define XDPFW_HTTP_FIFO 32         /* pending request kinds (2 bits each in fifo) */
#define XDPFW_HTTP_CL_DIGITS 18    /* Content-Length digits accepted */
#define XDPFW_HTTP_CHUNK_DIGITS 16 /* chunk-size hex digits accepted */

/* Request kinds, as the response side needs them (2 bits). */
#define XDPFW_HTTP_KIND_OTHER 0
#define XDPFW_HTTP_KIND_HEAD 1
#define XDPFW_HTTP_KIND_CONNECT 2
#define XDPFW_HTTP_KIND_09 3       /* HTTP/0.9 request: the response is a bare body */

/*
 * Decode events. The string is the event name: Suricata's app-layer-event name where
 * Suricata has the event (so its http-events.rules carry over), (xdpfw) otherwise.
 * Reported in stream order; a direction given up reports nothing after its event.
 */
#define XDPFW_HTTP_EVENTS(X)                                                                       \
	X(XDPFW_HTTP_EV_REQUEST_FIELD_MISSING_COLON, "http.request_field_missing_colon")           \
	X(XDPFW_HTTP_EV_RESPONSE_FIELD_MISSING_COLON, "http.response_field_missing_colon")         \
	X(XDPFW_HTTP_EV_INVALID_REQUEST_CHUNK_LEN, "http.invalid_request_chunk_len")  /* given up */ \
	X(XDPFW_HTTP_EV_INVALID_RESPONSE_CHUNK_LEN, "http.invalid_response_chunk_len") /* given up */ \
	X(XDPFW_HTTP_EV_INVALID_TE_REQUEST, "http.invalid_transfer_encoding_value_in_request") /* given up */ \
	X(XDPFW_HTTP_EV_INVALID_TE_RESPONSE, "http.invalid_transfer_encoding_value_in_response") /* body to close */ \
	X(XDPFW_HTTP_EV_INVALID_CL_REQUEST, "http.invalid_content_length_field_in_request")    \
	X(XDPFW_HTTP_EV_INVALID_CL_RESPONSE, "http.invalid_content_length_field_in_response")  \
	X(XDPFW_HTTP_EV_DUPLICATE_CL_REQUEST, "http.duplicate_content_length_field_in_request") \
	X(XDPFW_HTTP_EV_DUPLICATE_CL_RESPONSE, "http.duplicate_content_length_field_in_response") \
	X(XDPFW_HTTP_EV_UNMATCHED_RESPONSE, "http.unable_to_match_response_to_request")         \
	X(XDPFW_HTTP_EV_INVALID_AUTHORITY_PORT, "http.invalid_authority_port")                  \
	X(XDPFW_HTTP_EV_REQUEST_HEADER_INVALID, "http.request_header_invalid")                  \
	X(XDPFW_HTTP_EV_RESPONSE_HEADER_INVALID, "http.response_header_invalid")                \
	X(XDPFW_HTTP_EV_MISSING_HOST_HEADER, "http.missing_host_header")                        \
	X(XDPFW_HTTP_EV_HOST_HEADER_AMBIGUOUS, "http.host_header_ambiguous")                    \
	X(XDPFW_HTTP_EV_INVALID_REQUEST_FOLDING, "http.invalid_request_field_folding")          \
	X(XDPFW_HTTP_EV_INVALID_RESPONSE_FOLDING, "http.invalid_response_field_folding")        \
	X(XDPFW_HTTP_EV_REQUEST_FIELD_TOO_LONG, "http.request_field_too_long")                  \
	X(XDPFW_HTTP_EV_RESPONSE_FIELD_TOO_LONG, "http.response_field_too_long")                \
	X(XDPFW_HTTP_EV_REQUEST_HEADER_HOST_INVALID, "http.request_header_host_invalid")        \
	X(XDPFW_HTTP_EV_URI_DELIM_NON_COMPLIANT, "http.uri_delim_non_compliant")                \
	X(XDPFW_HTTP_EV_METHOD_DELIM_NON_COMPLIANT, "http.method_delim_non_compliant")          \
	X(XDPFW_HTTP_EV_REQUEST_LINE_LEADING_WHITESPACE, "http.request_line_leading_whitespace") \
	X(XDPFW_HTTP_EV_RESPONSE_CHUNKED_OLD_PROTO, "http.response_chunked_old_proto")          \
	X(XDPFW_HTTP_EV_RESPONSE_INVALID_PROTOCOL, "http.response_invalid_protocol")            \
	X(XDPFW_HTTP_EV_RESPONSE_INVALID_STATUS, "http.response_invalid_status")                \
	X(XDPFW_HTTP_EV_REQUEST_LINE_INCOMPLETE, "http.request_line_incomplete")                \
	X(XDPFW_HTTP_EV_REQUEST_LINE_INVALID, "http.request_line_invalid")                      \
	X(XDPFW_HTTP_EV_REQUEST_LINE_MISSING_PROTOCOL, "http.request_line_missing_protocol")    \
	X(XDPFW_HTTP_EV_REQUEST_TOO_MANY_HEADERS, "http.request_too_many_headers")              \
	X(XDPFW_HTTP_EV_RESPONSE_TOO_MANY_HEADERS, "http.response_too_many_headers")            \
	X(XDPFW_HTTP_EV_REQUEST_CHUNK_EXTENSION, "http.request_chunk_extension")                \
	X(XDPFW_HTTP_EV_RESPONSE_CHUNK_EXTENSION, "http.response_chunk_extension")              \
	X(XDPFW_HTTP_EV_CL_AND_CHUNKED_REQUEST, "http.content_length_and_chunked_in_request")  /* (xdpfw) */ \
	X(XDPFW_HTTP_EV_CL_AND_CHUNKED_RESPONSE, "http.content_length_and_chunked_in_response") /* (xdpfw) */ \
	X(XDPFW_HTTP_EV_OBS_FOLD, "http.obs_fold")                        /* (xdpfw) folded header line */ \
	X(XDPFW_HTTP_EV_URI_INVALID_ENCODING, "http.uri_invalid_encoding") /* (xdpfw) bad %XX in the path */ \
	X(XDPFW_HTTP_EV_URI_DOT_DOT_SEGMENT, "http.uri_dot_dot_segment")  /* (xdpfw) "/../" kept in http.uri */ \
	X(XDPFW_HTTP_EV_URI_USERINFO, "http.uri_userinfo")                /* (xdpfw) user@ in an absolute URI */ \
	X(XDPFW_HTTP_EV_BARE_CR, "http.bare_cr")                          /* (xdpfw) CR not before LF */ \
	X(XDPFW_HTTP_EV_WHITESPACE_RUN_TOO_LONG, "http.whitespace_run_too_long") /* (xdpfw) > WS_MAX */ \
	X(XDPFW_HTTP_EV_TOO_MANY_PENDING_REQUESTS, "http.too_many_pending_requests") /* (xdpfw) FIFO full */ \
	X(XDPFW_HTTP_EV_GAP, "http.gap")                                  /* (xdpfw) bytes lost: given up */

#define XDPFW__HTTP_ENUM(name, label) name,
enum xdpfw_http_event { XDPFW_HTTP_EVENTS(XDPFW__HTTP_ENUM) XDPFW_HTTP_EV_MAX };

#define XDPFW__HTTP_LABEL_CASE(name, label) case name: return label;

/* The name of an event, or NULL for a value outside the table. */
static inline const char *xdpfw_http_event_label(unsigned int ev)
{
	switch (ev) {
	XDPFW_HTTP_EVENTS(XDPFW__HTTP_LABEL_CASE)
	}
	return (const char *)0;
}

/*
 * One direction: where the decoder is in the current message and what a normalisation
 * holds back. 96 bytes. Buffer bit masks use enum xdpfw_app_buffer (the HTTP buffers are
 * the first 28).
 */
struct xdpfw_http_dir {
	__u64 body_left;   /* bytes left in the identity body or the current chunk */
	__u64 cl;          /* Content-Length of the message (its first header) */
	__u64 cl_cur;      /* Content-Length header being read */
	__u64 ws_bits;     /* held whitespace run: bit i set = byte i is HT, else SP */
	__u32 open;        /* buffer instances open */
	__u32 started;     /* open instances whose first piece was reported */
	__u32 line_len;    /* bytes of the current line (terminator excluded) */
	__u32 name_cand;   /* known header names the current name still matches */
	__u32 seen;        /* known headers seen in this message (bit = header index) */
	__u32 ws_len;      /* length of the held whitespace run (saturating) */
	__u32 hdots;       /* host: trailing dots held back */
	__u32 mflags;      /* per message, XDPFW_HTTP_M_* (app_http.pyx) */
	__u32 port;        /* port digits of a Host header or authority (saturating) */
	__u16 hdr_count;   /* header lines of the message */
	__u16 status;      /* response status code, 0 if not three digits */
	__u16 name_case;   /* case bits of a held "cookie" name prefix */
	__u8 phase;        /* enum in app_http.pyx */
	__u8 umode;        /* URI part being read */
	__u8 name_pos;     /* bytes of the current header name (saturating) */
	__u8 cur;          /* known header of the current line, 0xff none */
	__u8 lflags;       /* per line */
	__u8 uflags;       /* per URI: events sent, slash state */
	__u8 pct;          /* %XX: 0 none, 1 after '%', 2 after '%' and one hex digit */
	__u8 pct_hi;       /* that hex digit */
	__u8 dots;         /* path: dots held at a segment start (0-2) */
	__u8 segs;         /* path segments reported (saturating) */
	__u8 scheme_pos;   /* bytes of "http://" / "https://" matched */
	__u8 scheme_case;  /* their case bits */
	__u8 hflags;       /* host normalisation */
	__u8 proto_pos;    /* bytes of "HTTP/d.d" matched, 0xff mismatch */
	__u8 version;      /* major << 4 | minor, 0 unknown */
	__u8 te_pos;       /* bytes of "chunked" matched in the current coding, 0xff other */
	__u8 clst;         /* Content-Length header parse state */
	__u8 kind;         /* request: its kind; response: kind of the request answered */
	__u8 digits;       /* status or chunk-size digits read */
	__u8 _pad[3];
};

/* Per flow: both directions and the pending-request FIFO. 208 bytes. */
struct xdpfw_http_state {
	struct xdpfw_http_dir dir[2];  /* XDPFW_DIR_TOSERVER, XDPFW_DIR_TOCLIENT */
	__u64 fifo;        /* XDPFW_HTTP_KIND_* of pending requests, 2 bits each, oldest at head */
	__u16 fifo_lost;   /* requests not recorded since the FIFO filled */
	__u8 fifo_head;
	__u8 fifo_n;
	__u8 tunnel;       /* a CONNECT/101 turned the flow into a tunnel */
	__u8 _pad[3];
};

_Static_assert(sizeof(struct xdpfw_http_dir) == 96, "xdpfw_http_dir is 96 bytes");
_Static_assert(sizeof(struct xdpfw_http_state) == 208, "xdpfw_http_state is 208 bytes");
_Static_assert(XDPFW_BUF_FILE_DATA < 32, "HTTP buffers fit a 32-bit mask");

#endif /* XDPFW_APP_HTTP_H */
