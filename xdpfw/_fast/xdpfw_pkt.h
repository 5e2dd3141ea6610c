/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xdpfw_pkt.h - the decoded view of one frame, and the closed table of decode events.
 * User space only: the L2-L4 decoder (xdpfw/_fast/decode.pyx, via
 * `cdef extern from "xdpfw_pkt.h"` in includes/pkt.pxd) fills a struct xdpfw_pkt in
 * place for every frame, and the detection engine reads it. The pure-Python reference
 * decoder (xdpfw/ref/decode.py) and the control plane read this text for the event
 * table and the flag values, so nothing here is kept in sync by hand.
 *
 * Only the fixed-width types of <linux/types.h>; nothing else is included.
 *
 * The struct holds no pointers: every position is an offset from the start of the frame,
 * so the frame (a UMEM chunk) stays the only copy of the packet. Offsets are 16 bits:
 * a frame (a UMEM chunk, at most 64 KiB) bounds every header chain the decoder walks
 * (VLAN tags, IPv6 extension headers and tunnel headers, each walked as far as the frame
 * and the IP lengths reach). Lengths that follow an IP length field are 32 bits wide.
 *
 * Encapsulation: IP-in-IP (protocol 4 and 41, over IPv4 and IPv6), GRE (47: IPv4, IPv6,
 * transparent Ethernet bridging, MPLS), VXLAN (UDP 4789), Geneve (UDP 6081), Teredo (UDP
 * port 3544) and MPLS label stacks are decoded through, up to XDPFW_MAX_TUNNELS levels: the struct then describes the INNERMOST packet (its addresses, ports, L4 and
 * payload: the engine and its flows see what the tunnel endpoint delivers), `tunnel_depth`
 * counts the encapsulations, `tunnels` says which kinds, `outer_l3_off` points at the
 * outermost IP header. L2 fields (VLAN tags) stay the outer frame's. Each level is decoded
 * with the same rules as the outer one, bounded by the enclosing payload; `layers` and
 * `invalid_layer` describe the level where decoding stopped: a fatal anomaly in a tunnel
 * header is L4 of the enclosing packet, one in the inner IP header L3 with L2 set.
 *
 * Decoding rules (the contract both decoders implement; see decode.pyx for details):
 *   - Nothing at or past `frame_len` is read, whatever the header fields say.
 *   - The IP length fields bound every later layer: bytes after the IPv4 total length
 *     or the IPv6 payload length (Ethernet padding) are neither L4 nor payload.
 *   - A fatal anomaly stops decoding: its event is set, `invalid_layer` names the layer
 *     whose header could not be decoded (its XDPFW_LAYER_* bit stays clear in `layers`),
 *     the fields of that header and of everything after it stay zero, and the payload
 *     is empty. One exception: when an IPv6 extension header is fatal, the fields of
 *     the sound fixed IPv6 header (version, addresses, hop limit, traffic class) are
 *     kept, so a decode-error alert can still name the hosts. xdpfw_decode() returns
 *     `invalid_layer` (0: no fatal anomaly).
 *   - A non-fatal anomaly only sets its event bit; decoding goes on.
 *   - A protocol the decoder does not parse is not an anomaly: for a non-IP ethertype
 *     only L2 is decoded; for an upper-layer protocol other than TCP/UDP/ICMP(v6), and
 *     for a non-first fragment, l4_off and payload_off both point at the data after the
 *     last IP header, which is the payload, and XDPFW_LAYER_L4 stays clear.
 *   - Fragments are not reassembled. A first fragment's L4 header is decoded from what
 *     the fragment holds (its UDP length describes the whole datagram and is not
 *     checked); a later fragment is L3 plus payload.
 *   - Checksums are not verified (an inline device forwards what it gets; the endpoint
 *     decides); decode.pxd offers the checks for a checksum-validation option.
 */
#ifndef XDPFW_PKT_H
#define XDPFW_PKT_H

#include <linux/types.h>

/*
 * VLAN tags (802.1Q 0x8100, 802.1ad 0x88a8) whose VIDs are recorded (outer first). Any
 * number of tags is walked, as far as the frame goes: more than this many is the
 * non-fatal vlan.too_many_layers (the frame is still decoded and inspected); vlan_depth
 * counts the tags walked (saturating at 255).
 */
#define XDPFW_MAX_VLAN 2
/*
 * IPv6 extension headers (hop-by-hop, routing, fragment, destination options, AH) are
 * walked as far as the payload length reaches, whatever their number (each is at least
 * 8 bytes, so the walk is bounded by the frame). A chain longer than this is the
 * non-fatal ipv6.exthdr_too_many: unusual, alertable, still decoded and inspected. A
 * next header that is an extension header the decoder does not walk (mobility 135, HIP
 * 139, shim6 140, experimental 253/254) is fatal (ipv6.unknown_next_header): the
 * endpoint may walk past it to an upper layer the engine would not see.
 */
#define XDPFW_IPV6_MAX_EXTHDRS 8
/* Encapsulations decoded through; one more is fatal (decoder.too_many_layers). */
#define XDPFW_MAX_TUNNELS 4
/* Words of the `events` bitmap. */
#define XDPFW_EV_WORDS 2

/* layers / invalid_layer values */
#define XDPFW_LAYER_L2 (1U << 0) /* Ethernet and its VLAN tags */
#define XDPFW_LAYER_L3 (1U << 1) /* IPv4 with options, or IPv6 with its extension headers */
#define XDPFW_LAYER_L4 (1U << 2) /* TCP, UDP, ICMP or ICMPv6 header */

/* ip_flags bits */
#define XDPFW_IP_FRAG (1U << 0) /* a fragment: non-zero offset or more-fragments set */
#define XDPFW_IP_MF (1U << 1)   /* more fragments follow (IPv4 MF, IPv6 M) */
#define XDPFW_IP_DF (1U << 2)   /* IPv4 don't-fragment */
#define XDPFW_IP_RF (1U << 3)   /* IPv4 reserved flag bit (RFC 3514 "evil bit") */

/* ipv6_exthdrs bits: which extension headers the chain held */
#define XDPFW_EXT_HOPOPTS (1U << 0) /* hop-by-hop options (0) */
#define XDPFW_EXT_ROUTING (1U << 1) /* routing (43) */
#define XDPFW_EXT_FRAG (1U << 2)    /* fragment (44) */
#define XDPFW_EXT_DSTOPTS (1U << 3) /* destination options (60) */
#define XDPFW_EXT_AH (1U << 4)      /* authentication header (51) */

/* tunnels bits: the kinds of encapsulation decoded through */
#define XDPFW_TUN_IPIP (1U << 0) /* IPv4 or IPv6 directly in IPv4 or IPv6 (protocol 4, 41) */
#define XDPFW_TUN_GRE (1U << 1)  /* GRE (protocol 47) carrying IPv4 or IPv6 */
#define XDPFW_TUN_GRE_ETH (1U << 2) /* GRE carrying Ethernet (0x6558, bridging) */
#define XDPFW_TUN_VXLAN (1U << 3) /* VXLAN (UDP 4789, RFC 7348): Ethernet */
#define XDPFW_TUN_GENEVE (1U << 4) /* Geneve (UDP 6081, RFC 8926): Ethernet, IPv4 or IPv6 */
#define XDPFW_TUN_TEREDO (1U << 5) /* Teredo (UDP port 3544, RFC 4380): IPv6 */
#define XDPFW_TUN_MPLS (1U << 6)   /* an MPLS label stack (0x8847, 0x8848; also in GRE) */

/* tcp_opts bits: options present with a valid length (the first of each kind counts) */
#define XDPFW_TCPOPT_MSS (1U << 0)       /* kind 2, len 4: tcp_mss */
#define XDPFW_TCPOPT_WSCALE (1U << 1)    /* kind 3, len 3: tcp_wscale */
#define XDPFW_TCPOPT_SACK_PERM (1U << 2) /* kind 4, len 2 */
#define XDPFW_TCPOPT_SACK (1U << 3)      /* kind 5, len 2 + 8n, n = 1..4 */
#define XDPFW_TCPOPT_TS (1U << 4)        /* kind 8, len 10: tcp_tsval, tcp_tsecr */
#define XDPFW_TCPOPT_MD5 (1U << 5)       /* kind 19, len 18 (RFC 2385) */
#define XDPFW_TCPOPT_AO (1U << 6)        /* kind 29, len >= 4 (RFC 5925) */
#define XDPFW_TCPOPT_MPTCP (1U << 7)     /* kind 30, len >= 3 (RFC 8684); may repeat */
#define XDPFW_TCPOPT_FASTOPEN (1U << 8)  /* kind 34, len 2 or even 6..18 (RFC 7413) */

/*
 * Decode events: anomalies the decoder saw in one frame. Several may fire per frame;
 * bit n % 64 of `events[n / 64]` is event n. The string is the event's name for operators: Suricata's
 * decoder event name where Suricata has that event (so `decode-event:ipv4.trunc_pkt`
 * rules and dashboards carry over), and the Prometheus label value of the decode-event
 * counter. Names marked (xdpfw) have no Suricata equivalent. Fatal means decoding stops
 * at that layer (see above); "fatal if" qualifies events that are fatal only sometimes.
 */
#define XDPFW_DECODE_EVENTS(X)                                                   \
	/* Ethernet and VLAN */                                                  \
	X(XDPFW_EV_ETHERNET_PKT_TOO_SMALL, "ethernet.pkt_too_small") /* < 14 bytes; fatal */ \
	X(XDPFW_EV_VLAN_HEADER_TOO_SMALL, "vlan.header_too_small")   /* tag cut short; fatal */ \
	X(XDPFW_EV_VLAN_TOO_MANY_LAYERS, "vlan.too_many_layers")     /* > XDPFW_MAX_VLAN tags; fatal */ \
	/* IPv4 (RFC 791) */                                                     \
	X(XDPFW_EV_IPV4_PKT_TOO_SMALL, "ipv4.pkt_too_small")         /* < 20 bytes; fatal */ \
	X(XDPFW_EV_IPV4_HLEN_TOO_SMALL, "ipv4.hlen_too_small")       /* IHL < 5; fatal */ \
	X(XDPFW_EV_IPV4_IPLEN_SMALLER_THAN_HLEN, "ipv4.iplen_smaller_than_hlen") /* fatal */ \
	X(XDPFW_EV_IPV4_TRUNC_PKT, "ipv4.trunc_pkt")                 /* frame shorter than total length; fatal */ \
	X(XDPFW_EV_IPV4_WRONG_IP_VERSION, "ipv4.wrong_ip_version")   /* ethertype IPv4, version != 4; fatal */ \
	X(XDPFW_EV_IPV4_OPT_INVALID, "ipv4.opt_invalid")             /* unknown option type */ \
	X(XDPFW_EV_IPV4_OPT_INVALID_LEN, "ipv4.opt_invalid_len")     /* option length < 2, past the header, or wrong for its type */ \
	X(XDPFW_EV_IPV4_OPT_MALFORMED, "ipv4.opt_malformed")         /* route/timestamp pointer out of place */ \
	X(XDPFW_EV_IPV4_OPT_EOL_REQUIRED, "ipv4.opt_eol_required")   /* a multi-byte option type in the last byte */ \
	X(XDPFW_EV_IPV4_OPT_DUPLICATE, "ipv4.opt_duplicate")         /* a known option twice */ \
	X(XDPFW_EV_IPV4_WITH_ICMPV6, "ipv4.icmpv6")                  /* protocol 58 over IPv4 (not decoded) */ \
	X(XDPFW_EV_IPV4_FRAG_PKT_TOO_LARGE, "ipv4.frag_pkt_too_large") /* offset + total length > 65535 */ \
	X(XDPFW_EV_IPV4_FRAG_INVALID_LENGTH, "ipv4.frag_invalid_length") /* (xdpfw) MF set, data length % 8 */ \
	/* IPv6 (RFC 8200) */                                                    \
	X(XDPFW_EV_IPV6_PKT_TOO_SMALL, "ipv6.pkt_too_small")         /* < 40 bytes; fatal */ \
	X(XDPFW_EV_IPV6_TRUNC_PKT, "ipv6.trunc_pkt")                 /* frame shorter than 40 + payload length; fatal */ \
	X(XDPFW_EV_IPV6_WRONG_IP_VERSION, "ipv6.wrong_ip_version")   /* ethertype IPv6, version != 6; fatal */ \
	X(XDPFW_EV_IPV6_TRUNC_EXTHDR, "ipv6.trunc_exthdr")           /* extension header past the payload; fatal */ \
	X(XDPFW_EV_IPV6_EXTHDR_TOO_MANY, "ipv6.exthdr_too_many")     /* (xdpfw) > XDPFW_IPV6_MAX_EXTHDRS; fatal */ \
	X(XDPFW_EV_IPV6_EXTHDR_DUPL_FH, "ipv6.exthdr_dupl_fh")       /* second fragment header */ \
	X(XDPFW_EV_IPV6_EXTHDR_USELESS_FH, "ipv6.exthdr_useless_fh") /* atomic fragment: offset 0, M clear */ \
	X(XDPFW_EV_IPV6_EXTHDR_DUPL_RH, "ipv6.exthdr_dupl_rh")       /* second routing header */ \
	X(XDPFW_EV_IPV6_EXTHDR_DUPL_HH, "ipv6.exthdr_dupl_hh")       /* second hop-by-hop header */ \
	X(XDPFW_EV_IPV6_EXTHDR_DUPL_DH, "ipv6.exthdr_dupl_dh")       /* destination options twice without a routing header between */ \
	X(XDPFW_EV_IPV6_EXTHDR_DUPL_AH, "ipv6.exthdr_dupl_ah")       /* second AH */ \
	X(XDPFW_EV_IPV6_EXTHDR_INVALID_OPTLEN, "ipv6.exthdr_invalid_optlen") /* option past its header, or wrong length */ \
	X(XDPFW_EV_IPV6_EXTHDR_AH_RES_NOT_NULL, "ipv6.exthdr_ah_res_not_null") /* RFC 4302 reserved field */ \
	X(XDPFW_EV_IPV6_HOPOPTS_UNKNOWN_OPT, "ipv6.hopopts_unknown_opt") /* option type not assigned by IANA */ \
	X(XDPFW_EV_IPV6_HOPOPTS_ONLY_PADDING, "ipv6.hopopts_only_padding") \
	X(XDPFW_EV_IPV6_DSTOPTS_UNKNOWN_OPT, "ipv6.dstopts_unknown_opt") \
	X(XDPFW_EV_IPV6_DSTOPTS_ONLY_PADDING, "ipv6.dstopts_only_padding") \
	X(XDPFW_EV_IPV6_RH_TYPE_0, "ipv6.rh_type_0")                 /* deprecated by RFC 5095 */ \
	X(XDPFW_EV_IPV6_ZERO_LEN_PADN, "ipv6.zero_len_padn")         /* PadN carrying no padding */ \
	X(XDPFW_EV_IPV6_FH_NON_ZERO_RESERVED_FIELD, "ipv6.fh_non_zero_reserved_field") \
	X(XDPFW_EV_IPV6_DATA_AFTER_NONE_HEADER, "ipv6.data_after_none_header") /* bytes after next header 59 */ \
	X(XDPFW_EV_IPV6_WITH_ICMPV4, "ipv6.icmpv4")                  /* protocol 1 over IPv6 (not decoded) */ \
	X(XDPFW_EV_IPV6_FRAG_PKT_TOO_LARGE, "ipv6.frag_pkt_too_large") /* offset + fragment data > 65535 */ \
	X(XDPFW_EV_IPV6_FRAG_INVALID_LENGTH, "ipv6.frag_invalid_length") /* M set, fragment data length % 8 */ \
	/* TCP (RFC 9293) */                                                     \
	X(XDPFW_EV_TCP_PKT_TOO_SMALL, "tcp.pkt_too_small")           /* < 20 bytes; fatal */ \
	X(XDPFW_EV_TCP_HLEN_TOO_SMALL, "tcp.hlen_too_small")         /* data offset < 5; fatal */ \
	X(XDPFW_EV_TCP_INVALID_OPTLEN, "tcp.invalid_optlen")         /* data offset past the segment; fatal */ \
	X(XDPFW_EV_TCP_OPT_INVALID_LEN, "tcp.opt_invalid_len")       /* option length < 2, past the header, or wrong for its kind */ \
	X(XDPFW_EV_TCP_OPT_DUPLICATE, "tcp.opt_duplicate")           /* a known option kind twice (not MPTCP) */ \
	/* UDP (RFC 768) */                                                      \
	X(XDPFW_EV_UDP_PKT_TOO_SMALL, "udp.pkt_too_small")           /* length field past the IP payload; fatal */ \
	X(XDPFW_EV_UDP_HLEN_TOO_SMALL, "udp.hlen_too_small")         /* < 8 bytes; fatal */ \
	X(XDPFW_EV_UDP_HLEN_INVALID, "udp.hlen_invalid")             /* length field < IP payload; fatal if < 8 */ \
	/* ICMPv4 (RFC 792) */                                                   \
	X(XDPFW_EV_ICMPV4_PKT_TOO_SMALL, "icmpv4.pkt_too_small")     /* < 8 bytes; fatal */ \
	X(XDPFW_EV_ICMPV4_UNKNOWN_TYPE, "icmpv4.unknown_type")       \
	X(XDPFW_EV_ICMPV4_UNKNOWN_CODE, "icmpv4.unknown_code")       \
	X(XDPFW_EV_ICMPV4_IPV4_TRUNC_PKT, "icmpv4.ipv4_trunc_pkt")   /* error quoting < 20 bytes of IPv4 */ \
	X(XDPFW_EV_ICMPV4_IPV4_UNKNOWN_VER, "icmpv4.ipv4_unknown_ver") /* error quoting a non-IPv4 header */ \
	/* ICMPv6 (RFC 4443) */                                                  \
	X(XDPFW_EV_ICMPV6_PKT_TOO_SMALL, "icmpv6.pkt_too_small")     /* < 8 bytes; fatal */ \
	X(XDPFW_EV_ICMPV6_UNKNOWN_TYPE, "icmpv6.unknown_type")       /* reserved type 0, 127 or 255 */ \
	X(XDPFW_EV_ICMPV6_UNKNOWN_CODE, "icmpv6.unknown_code")       \
	X(XDPFW_EV_ICMPV6_IPV6_TRUNC_PKT, "icmpv6.ipv6_trunc_pkt")   /* error quoting < 40 bytes of IPv6 */ \
	X(XDPFW_EV_ICMPV6_IPV6_UNKNOWN_VERSION, "icmpv6.ipv6_unknown_version") /* error quoting a non-IPv6 header */ \
	X(XDPFW_EV_ICMPV6_MLD_MESSAGE_WITH_INVALID_HL, "icmpv6.mld_message_with_invalid_hl") /* MLD, hop limit != 1 */ \
	X(XDPFW_EV_ICMPV6_UNASSIGNED_TYPE, "icmpv6.unassigned_type") \
	X(XDPFW_EV_ICMPV6_EXPERIMENTATION_TYPE, "icmpv6.experimentation_type") /* 100, 101, 200, 201 */ \
	/* IPv6 chain, encapsulation */                                          \
	X(XDPFW_EV_IPV6_UNKNOWN_NEXT_HEADER, "ipv6.unknown_next_header") /* (xdpfw) an extension header not walked; fatal */ \
	X(XDPFW_EV_DECODER_TOO_MANY_LAYERS, "decoder.too_many_layers") /* > XDPFW_MAX_TUNNELS encapsulations; fatal */ \
	X(XDPFW_EV_DECODER_TUNNEL_FRAGMENT, "decoder.tunnel_fragment") /* (xdpfw) an IP fragment carrying a tunnel; fatal */ \
	X(XDPFW_EV_GRE_PKT_TOO_SMALL, "gre.pkt_too_small")           /* GRE header or its optional fields cut short; fatal */ \
	X(XDPFW_EV_GRE_WRONG_VERSION, "gre.wrong_version")           /* version != 0, or the routing bit (RFC 1701); fatal */ \
	X(XDPFW_EV_GRE_UNKNOWN_PAYLOAD_TYPE, "gre.unknown_payload_type") /* (xdpfw) protocol type not IPv4/IPv6/Ethernet; fatal */ \
	X(XDPFW_EV_INNER_ETHERNET_PKT_TOO_SMALL, "decoder.inner_ethernet_too_small") /* (xdpfw) bridged Ethernet or its VLAN tags cut short; fatal */ \
	X(XDPFW_EV_VXLAN_PKT_TOO_SMALL, "vxlan.pkt_too_small")       /* (xdpfw) UDP to 4789 shorter than the VXLAN header; fatal */ \
	X(XDPFW_EV_GENEVE_PKT_TOO_SMALL, "geneve.pkt_too_small")     /* (xdpfw) header or its options past the datagram; fatal */ \
	X(XDPFW_EV_GENEVE_UNKNOWN_PAYLOAD_TYPE, "geneve.unknown_payload_type") /* not Ethernet/IPv4/IPv6; fatal */ \
	X(XDPFW_EV_MPLS_HEADER_TOO_SMALL, "mpls.header_too_small")   /* label stack cut short; fatal */ \
	X(XDPFW_EV_MPLS_UNKNOWN_PAYLOAD_TYPE, "mpls.unknown_payload_type") /* after the stack: not IPv4/IPv6/control word + Ethernet; fatal */

#define XDPFW__EV_ENUM_ENTRY(name, label) name,

enum xdpfw_decode_event {
	XDPFW_DECODE_EVENTS(XDPFW__EV_ENUM_ENTRY)
	XDPFW_DECODE_EVENT_MAX
};

_Static_assert(XDPFW_DECODE_EVENT_MAX <= 64 * XDPFW_EV_WORDS, "decode events must fit xdpfw_pkt.events");

#define XDPFW__EV_LABEL_CASE(name, label) case name: return label;
#define XDPFW__EV_NAME_CASE(name, label) case name: return #name;

/* The label of an event, or NULL for a value outside the table. */
static inline const char *xdpfw_decode_event_label(unsigned int ev)
{
	switch (ev) {
	XDPFW_DECODE_EVENTS(XDPFW__EV_LABEL_CASE)
	}
	return (const char *)0;
}

/* The C name of an event, or NULL for a value outside the table. */
static inline const char *xdpfw_decode_event_name(unsigned int ev)
{
	switch (ev) {
	XDPFW_DECODE_EVENTS(XDPFW__EV_NAME_CASE)
	}
	return (const char *)0;
}

/*
 * One decoded frame, 128 bytes, rewritten in place for every frame (the decoder zeroes
 * it first). Multi-byte numbers are host order; addresses are network order. A field of
 * a layer that was not decoded is zero.
 */
struct xdpfw_pkt {
	__u64 events[XDPFW_EV_WORDS]; /* bit n % 64 of word n / 64: decode event n fired */
	__u32 frame_len;      /* bytes in the frame, as given to the decoder */
	__u32 payload_len;    /* bytes of payload, bounded by the IP (and UDP) length */
	__u16 l3_off;         /* IP header (after Ethernet and VLAN tags) */
	__u16 l4_off;         /* upper-layer header (after IPv4 options / IPv6 ext headers) */
	__u16 payload_off;    /* first byte after the last decoded header */
	__u16 ethertype;      /* innermost ethertype (or 802.3 length) */
	__u16 vlan_id[XDPFW_MAX_VLAN]; /* 12-bit VIDs, outer tag first */
	__u8 vlan_depth;      /* tags walked (saturating at 255); VIDs of the first XDPFW_MAX_VLAN */
	__u8 layers;          /* XDPFW_LAYER_* decoded without a fatal anomaly */
	__u8 invalid_layer;   /* XDPFW_LAYER_* where a fatal anomaly stopped decoding, or 0 */
	__u8 ip_version;      /* 4, 6, or 0 when no IP header was decoded */
	__u8 l4_proto;        /* IPPROTO_* of the upper layer (IPv6: after the ext headers) */
	__u8 ttl;             /* IPv4 TTL or IPv6 hop limit */
	__u8 tos;             /* IPv4 TOS or IPv6 traffic class */
	__u8 ip_flags;        /* XDPFW_IP_* */
	__u32 ip_id;          /* IPv4 identification, or IPv6 fragment header identification */
	__u16 frag_off;       /* fragment offset in bytes */
	__u16 sport;          /* TCP/UDP source port */
	__u16 dport;          /* TCP/UDP destination port */
	__u8 ipv6_exthdrs;    /* XDPFW_EXT_* */
	__u8 tcp_flags;       /* CWR ECE URG ACK PSH RST SYN FIN (byte 13 of the header) */
	__u32 tcp_seq;
	__u32 tcp_ack;
	__u16 tcp_window;     /* unscaled */
	__u16 tcp_mss;        /* with XDPFW_TCPOPT_MSS */
	__u16 tcp_opts;       /* XDPFW_TCPOPT_* */
	__u8 tcp_doff;        /* data offset: header length in 32-bit words */
	__u8 tcp_wscale;      /* with XDPFW_TCPOPT_WSCALE, as sent (may exceed 14) */
	__u32 tcp_tsval;      /* with XDPFW_TCPOPT_TS */
	__u32 tcp_tsecr;
	__u8 icmp_type;       /* ICMP or ICMPv6 */
	__u8 icmp_code;
	__u16 icmp_inner_off; /* ICMP error: the quoted IP header (version checked), or 0 */
	__u16 icmp_id;        /* echo request/reply identifier */
	__u16 icmp_seq;       /* echo request/reply sequence number */
	__u8 src[16];         /* IPv6, or IPv4-mapped ::ffff:a.b.c.d (one flow-hash layout) */
	__u8 dst[16];
	__u16 outer_l3_off;   /* the outermost IP header (= l3_off without a tunnel), or 0 */
	__u8 tunnel_depth;    /* encapsulations decoded through, 0..XDPFW_MAX_TUNNELS */
	__u8 tunnels;         /* XDPFW_TUN_* */
	__u8 outer_proto;     /* upper-layer protocol of the outermost IP header (a tunnel's), or 0 */
};

_Static_assert(sizeof(struct xdpfw_pkt) == 128, "struct xdpfw_pkt layout changed");

#endif /* XDPFW_PKT_H */
