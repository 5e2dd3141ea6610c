/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xdpfw_norm.h - inline normalisation of what would make a TCP segment reach the
 * appliance's inspection but not the host (or the other way round):
 *
 *  - checksums: the host drops a segment whose IPv4 header or TCP checksum is wrong, so a
 *    segment the appliance inspected might never have been read. Inline such a segment
 *    is dropped before anything of it is inspected or recorded.
 *  - TTL / hop limit: a segment whose TTL expires between the appliance and the host is
 *    seen by one and not the other. Inline a segment with a lower TTL than its direction
 *    has shown gets that TTL (the IPv4 header checksum updated incrementally, RFC 1624),
 *    so it travels as far as the direction's other segments do.
 *
 * User space only (the engine, on frames in UMEM; nothing is copied).
 */
#ifndef XDPFW_NORM_H
#define XDPFW_NORM_H

#include <linux/types.h>
#include <string.h>

#include "xdpfw_pkt.h"

/* One's-complement sum of n bytes (as big-endian 16-bit words; an odd last byte padded),
 * added to acc; not folded. */
static inline __u64 xdpfw_csum_add(__u64 acc, const __u8 *d, __u32 n)
{
	__u32 w;
	while (n >= 4) {
		memcpy(&w, d, 4); /* 4 bytes into a register, not a copy */
		acc += w;         /* native order: folded and swapped once at the end */
		d += 4;
		n -= 4;
	}
	if (n >= 2) {
		__u16 h;
		memcpy(&h, d, 2);
		acc += h;
		d += 2;
		n -= 2;
	}
	if (n) {
		__u8 last[2] = {d[0], 0};
		__u16 h;
		memcpy(&h, last, 2);
		acc += h;
	}
	return acc;
}

/* Fold to 16 bits, in the byte order the words were added in. */
static inline __u16 xdpfw_csum_fold(__u64 acc)
{
	acc = (acc & 0xFFFFFFFFULL) + (acc >> 32);
	acc = (acc & 0xFFFFFFFFULL) + (acc >> 32);
	acc = (acc & 0xFFFF) + (acc >> 16);
	acc = (acc & 0xFFFF) + (acc >> 16);
	acc = (acc & 0xFFFF) + (acc >> 16);
	return (__u16)acc;
}

static inline __u16 xdpfw__htons(__u16 v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return __builtin_bswap16(v);
#else
	return v;
#endif
}

/*
 * 1: the frame's checksums are right (IPv4 header, TCP over its pseudo-header); 0: one is
 * wrong; -1: not checked (an IPv6 routing header: the pseudo-header's address is the final
 * destination's, which the decoder does not keep). p: the decoded frame, a TCP segment.
 */
static inline int xdpfw_tcp_checksums_ok(const __u8 *frame, const struct xdpfw_pkt *p)
{
	const __u8 *ip = frame + p->l3_off;
	__u32 tcp_len = (__u32)(p->payload_off - p->l4_off) + p->payload_len;
	__u64 acc = 0;
	if (p->ip_version == 4) {
		__u32 ihl = (ip[0] & 0x0F) * 4u;
		if (xdpfw_csum_fold(xdpfw_csum_add(0, ip, ihl)) != 0xFFFF)
			return 0;
		acc = xdpfw_csum_add(acc, ip + 12, 8); /* source and destination */
	} else {
		if (p->ipv6_exthdrs & XDPFW_EXT_ROUTING)
			return -1;
		acc = xdpfw_csum_add(acc, ip + 8, 32);
	}
	acc += xdpfw__htons(6);                          /* zero, protocol */
	acc += xdpfw__htons((__u16)tcp_len);              /* length (IPv6: 32 bits, < 64 KiB here) */
	acc += xdpfw__htons((__u16)(tcp_len >> 16));
	acc = xdpfw_csum_add(acc, frame + p->l4_off, tcp_len);
	return xdpfw_csum_fold(acc) == 0xFFFF;
}

/* Set the frame's TTL / hop limit to ttl (higher than its own). */
static inline void xdpfw_raise_ttl(__u8 *frame, const struct xdpfw_pkt *p, __u8 ttl)
{
	__u8 *ip = frame + p->l3_off;
	__u32 sum;
	__u16 old_word, new_word, csum;
	if (p->ip_version == 6) {
		ip[7] = ttl;
		return;
	}
	/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), m the 16-bit word holding TTL and protocol */
	old_word = (__u16)((ip[8] << 8) | ip[9]);
	new_word = (__u16)((ttl << 8) | ip[9]);
	csum = (__u16)((ip[10] << 8) | ip[11]);
	sum = (__u16)~csum + (__u32)(__u16)~old_word + new_word;
	sum = (sum & 0xFFFF) + (sum >> 16);
	sum = (sum & 0xFFFF) + (sum >> 16);
	csum = (__u16)~sum;
	ip[8] = ttl;
	ip[10] = (__u8)(csum >> 8);
	ip[11] = (__u8)csum;
}

#endif /* XDPFW_NORM_H */
