/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xdpfw_app_tls.h - per-flow state, caps and decode events of the TLS decoder
 * (xdpfw/_fast/app_tls.pyx), to the contract of xdpfw_app.h. User space only.
 *
 * What is decoded (docs/APP_TLS_DNS.md has the long form):
 *   - Records (type, version, length) in both directions, and the handshake messages
 *     they carry, field by field: a message may span records and segments, a record
 *     may hold several messages. Nothing is buffered but the few fields the buffers
 *     need later (JA3's groups and point formats, an attribute's OID, MD5 state).
 *   - ClientHello (to_server): tls.sni (first host_name of the server_name extension),
 *     ja3.string and ja3.hash (Salesforce JA3: version, ciphers, extension types,
 *     supported groups, point formats, decimal, GREASE values dropped; hash = lower-case
 *     hex MD5 of the string).
 *   - ServerHello (to_client): ja3s.string and ja3s.hash (version, cipher, extension
 *     types; GREASE dropped likewise).
 *   - Certificate (to_client, in clear: TLS <= 1.2): the first (leaf) certificate's DER
 *     is walked as it arrives: tls.cert_serial ("XX:XX:..", upper-case hex of the
 *     INTEGER's content bytes, a leading 00 included, as Suricata prints it),
 *     tls.cert_issuer and tls.cert_subject (Suricata's form: attributes in certificate
 *     order, "SN=value", ", " between RDNs, " + " inside a multi-valued RDN; CN, C, L,
 *     ST, O, OU, DC, Email by name, other types in dotted-decimal OID form; string
 *     values as their bytes, other values as upper-case hex).
 *   - tls.certs: each certificate of the Certificate message's list (leaf first), its DER
 *     bytes as they are, one instance per certificate (Suricata's multi-buffer).
 *   - After ChangeCipherSpec or an application_data record, a direction is encrypted:
 *     its records are framed (skipped by length) but nothing in them is parsed.
 *   - SSLv2-compatible ClientHello: accepted (by the probe too) only as the first
 *     to_server record; it is skipped by its 2-byte length and gives no buffer (it has
 *     no extensions, so no SNI, and JA3 is not defined for it); TLS records follow.
 *
 * Give-up policies: a record header that is not TLS (type, version, length past
 * XDPFW_TLS_REC_MAX) loses the framing: the event, and the direction is given up (no
 * more buffers, nothing parsed). A handshake message whose inner lengths do not fit is
 * skipped to its end (its open instances end as they are; no hash is reported for a
 * JA3 string cut short). A certificate the DER walk cannot follow ends its open
 * instances and the rest of the Certificate message is skipped. A TCP gap
 * (XDPFW_APP_F_GAP) gives up the direction (tls.gap): a record boundary cannot be found
 * again without guessing.
 */
#ifndef XDPFW_APP_TLS_H
#define XDPFW_APP_TLS_H

#include <linux/types.h>

#include "xdpfw_app.h"

#define XDPFW_TLS_REC_MAX (16384 + 2048) /* TLSCiphertext.length limit (RFC 5246 6.2.3) */
#define XDPFW_TLS_SNI_MAX 255            /* a longer host_name is invalid_sni_length (Suricata) */
#define XDPFW_TLS_JA3_GROUPS 32          /* supported groups kept for JA3 */
#define XDPFW_TLS_JA3_POINTS 16          /* point formats kept for JA3 */
#define XDPFW_TLS_OID_MAX 24             /* attribute type OID bytes kept for its name */

/*
 * Decode events. The string is the event name: Suricata's app-layer-event name where
 * Suricata has the event (its tls-events.rules carry over), (xdpfw) otherwise.
 */
#define XDPFW_TLS_EVENTS(X)                                                                   \
	X(XDPFW_TLS_EV_INVALID_SSLV2_HEADER, "tls.invalid_sslv2_header")     /* v2 record: not a CLIENT-HELLO */ \
	X(XDPFW_TLS_EV_INVALID_RECORD_TYPE, "tls.invalid_record_type")       /* not 20-24: given up */   \
	X(XDPFW_TLS_EV_INVALID_RECORD_VERSION, "tls.invalid_record_version") /* not 0x0300-0x0304: given up */ \
	X(XDPFW_TLS_EV_RECORD_TOO_LONG, "tls.record_too_long")               /* (xdpfw) > XDPFW_TLS_REC_MAX: given up */ \
	X(XDPFW_TLS_EV_INVALID_RECORD_LENGTH, "tls.invalid_record_length")   /* (xdpfw) empty handshake/alert/CCS record */ \
	X(XDPFW_TLS_EV_INVALID_HANDSHAKE_MESSAGE, "tls.invalid_handshake_message") /* unknown, misdirected or cut */ \
	X(XDPFW_TLS_EV_HANDSHAKE_INVALID_LENGTH, "tls.handshake_invalid_length")   /* an inner length past the message */ \
	X(XDPFW_TLS_EV_INVALID_SNI_TYPE, "tls.invalid_sni_type")             /* server_name entry not host_name */ \
	X(XDPFW_TLS_EV_INVALID_SNI_LENGTH, "tls.invalid_sni_length")         /* lengths inconsistent, empty, > 255 */ \
	X(XDPFW_TLS_EV_MULTIPLE_SNI_EXTENSIONS, "tls.multiple_sni_extensions")                             \
	X(XDPFW_TLS_EV_INVALID_CERTIFICATE, "tls.invalid_certificate")       /* DER: unexpected tag or form */ \
	X(XDPFW_TLS_EV_CERTIFICATE_INVALID_LENGTH, "tls.certificate_invalid_length") /* DER length bad or past its parent */ \
	X(XDPFW_TLS_EV_CERTIFICATE_MISSING_ELEMENT, "tls.certificate_missing_element") /* TBS ended before the subject */ \
	X(XDPFW_TLS_EV_CERTIFICATE_UNKNOWN_ELEMENT, "tls.certificate_unknown_element") /* attribute OID unrenderable */ \
	X(XDPFW_TLS_EV_HEARTBEAT_MESSAGE, "tls.heartbeat_message")                                         \
	X(XDPFW_TLS_EV_JA3_TRUNCATED, "tls.ja3_truncated")                   /* (xdpfw) groups/points past the JA3 caps */ \
	X(XDPFW_TLS_EV_TRUNCATED, "tls.truncated")                           /* (xdpfw) ended mid clear handshake message */ \
	X(XDPFW_TLS_EV_GAP, "tls.gap")                                       /* (xdpfw) TCP bytes lost: given up */

#define XDPFW__TLS_ENUM(name, label) name,
enum xdpfw_tls_event { XDPFW_TLS_EVENTS(XDPFW__TLS_ENUM) XDPFW_TLS_EV_MAX };

/* Incremental MD5 (RFC 1321) of a JA3/JA3S string. 88 bytes. */
struct xdpfw_tls_md5 {
	__u32 h[4];
	__u32 len;        /* bytes hashed so far */
	__u32 _pad;
	__u8 blk[64];     /* the partial block */
};

/* Record and handshake layers of one direction. 20 bytes. */
struct xdpfw_tls_dir {
	__u32 hs_len;     /* body length of the current handshake message */
	__u32 hs_pos;     /* its bytes consumed so far */
	__u16 rec_left;   /* bytes of the current record body not consumed */
	__u16 rec_ver;    /* record header: version being assembled */
	__u8 rec_phase;   /* enum in app_tls.pyx */
	__u8 rec_type;
	__u8 rec_hpos;    /* record header bytes received */
	__u8 hs_phase;    /* handshake header / body */
	__u8 hs_hpos;     /* handshake header bytes received */
	__u8 hs_type;
	__u8 flags;       /* XDPFW_TLS_D_* */
	__u8 open;        /* buffers with an open instance, bit (buf - XDPFW_BUF_TLS_SNI) */
};

/* flags */
#define XDPFW_TLS_D_ENCRYPTED 1u  /* after ChangeCipherSpec / application data */
#define XDPFW_TLS_D_STARTED 2u    /* a first record was seen (SSLv2 only before) */
#define XDPFW_TLS_D_DEAD 4u       /* given up */
#define XDPFW_TLS_D_PARSING 8u    /* inside a handshake message that is parsed */
#define XDPFW_TLS_D_APPDATA 16u   /* an application-data record began after both hellos (not
				   * 0-RTT early data): sink->control ENCRYPTED sent */
#define XDPFW_TLS_D_HELLO 32u     /* this direction's hello began (ClientHello / ServerHello) */

/* ClientHello parser (to_server). 200 bytes. */
struct xdpfw_tls_ch {
	struct xdpfw_tls_md5 md5;          /* of ja3.string */
	__u32 mark;                        /* end of the current field or list (message offset) */
	__u32 ext_block_end;
	__u32 ext_end;
	__u32 list_end;
	__u32 acc;                         /* integer field being assembled */
	__u16 groups[XDPFW_TLS_JA3_GROUPS];
	__u8 points[XDPFW_TLS_JA3_POINTS];
	__u16 ext_type;                    /* of the extension being read */
	__u8 phase;
	__u8 need;                         /* bytes of the integer field left */
	__u8 ngroups;
	__u8 npoints;
	__u8 flags;                        /* XDPFW_TLS_H_* */
	__u8 _pad2[3];
};

/* ServerHello parser (to_client). 108 bytes. */
struct xdpfw_tls_sh {
	struct xdpfw_tls_md5 md5;          /* of ja3s.string */
	__u32 mark;
	__u32 ext_block_end;
	__u32 ext_end;
	__u32 acc;
	__u8 phase;
	__u8 need;
	__u8 flags;
	__u8 _pad;
};

/* hello flags */
#define XDPFW_TLS_H_LISTED 1u    /* a value was written in the current JA3 list ('-' before the next) */
#define XDPFW_TLS_H_SNI_SEEN 2u  /* a server_name extension was met */
#define XDPFW_TLS_H_FAILED 4u    /* the message was given up */
#define XDPFW_TLS_H_CAPPED 8u    /* tls.ja3_truncated was reported */

/* Certificate parser (to_client): a DER walk down to the leaf's subject, and beside it
 * the chain walk that reports each certificate's DER whole as one tls.certs instance.
 * 80 bytes. */
struct xdpfw_tls_cert {
	__u32 list_end;   /* message offsets */
	__u32 cert_end;   /* the leaf, by its 3-byte length */
	__u32 seq_end;    /* Certificate SEQUENCE */
	__u32 tbs_end;
	__u32 name_end;
	__u32 rdn_end;
	__u32 atv_end;
	__u32 el_end;     /* content of the element being read */
	__u32 acc;
	__u8 oid[XDPFW_TLS_OID_MAX];
	__u8 phase;       /* message-level and DER reader phase */
	__u8 slot;        /* which element is expected next */
	__u8 tag;
	__u8 need;        /* length bytes left (long form) */
	__u8 oid_len;     /* bytes of the OID seen (may pass XDPFW_TLS_OID_MAX) */
	__u8 flags;       /* XDPFW_TLS_C_* */
	__u8 ch_phase;    /* chain walk: XDPFW_TLS_CH_* */
	__u8 ch_need;     /* its length bytes left */
	__u32 ch_list_end; /* message offsets: the certificate_list's end */
	__u32 ch_end;      /* the end of the certificate being reported */
	__u32 ch_acc;
};

/* Chain walk phases: the list's 3-byte length, a certificate's 3-byte length, its DER
 * (reported as one tls.certs instance, in pieces as it arrives), done (the list ended or
 * a length did not fit). The walk is independent of the leaf's DER walk: a certificate
 * the DER walk cannot follow is still reported, bytes as they are. */
#define XDPFW_TLS_CH_LISTLEN 0u
#define XDPFW_TLS_CH_CERTLEN 1u
#define XDPFW_TLS_CH_CERT 2u
#define XDPFW_TLS_CH_DONE 3u

#define XDPFW_TLS_C_ISSUER 1u    /* the name being walked is the issuer (else subject) */
#define XDPFW_TLS_C_NAME_ANY 2u  /* an attribute was written in this name */
#define XDPFW_TLS_C_RDN_ANY 4u   /* ... in this RDN */
#define XDPFW_TLS_C_STRING 8u    /* the value is a string type (else hex) */
#define XDPFW_TLS_C_SERIAL_ANY 16u
#define XDPFW_TLS_C_CHAIN_OPEN 32u  /* a tls.certs instance is open */
#define XDPFW_TLS_C_CHAIN_LATER 64u /* past the leaf: the chain walk reports length events */

/*
 * Per flow: both directions' record layers, the ClientHello parser (to_server) and the
 * to_client message parser (a ServerHello or a Certificate: one at a time). 348 bytes.
 */
struct xdpfw_tls_state {
	struct xdpfw_tls_dir dir[2];  /* XDPFW_DIR_TOSERVER, XDPFW_DIR_TOCLIENT */
	struct xdpfw_tls_ch ch;
	union xdpfw_tls_tc {
		struct xdpfw_tls_sh sh;
		struct xdpfw_tls_cert cert;
	} tc;
};

#endif /* XDPFW_APP_TLS_H */
