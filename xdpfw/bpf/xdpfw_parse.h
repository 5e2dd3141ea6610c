/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * xdpfw_parse.h - bounds-checked header parsers for the XDP program. Kernel side ONLY
 * (included by xdpfw_kern.c after the kernel headers).
 *
 * Contract (the one xdp-tools' parsing helpers made familiar; written afresh here):
 * each helper parses one header at cursor->pos, checks it against data_end, advances the
 * cursor past it and returns the type of what follows (host byte order), or -1 when the
 * header does not fit. Loops are bounded by macros so the verifier sees a constant trip
 * count.
 *
 * What the program cannot see through it leaves to the worker, never to an ACL decision on
 * a header that is not the real one: a third VLAN tag is not IP here, an IPv6 chain
 * longer than XDPFW_IPV6_EXT_MAX_CHAIN (or holding AH, which is not walked) yields an
 * extension-header type (XDPFW_PROTO_OTHER, so only address rules on "ip" apply, with the
 * right addresses), a tunnel yields its own protocol (the ACL judges the outer header).
 * Ports are read only when the L4 header starts inside the IP length (not in padding)
 * and the datagram's first bytes are there. The worker decodes everything else in full
 * and enforces the ACL's rules again on the innermost packet (detect/ruleset.py).
 */
#ifndef XDPFW_PARSE_H
#define XDPFW_PARSE_H

#ifndef XDPFW_VLAN_MAX_DEPTH
#define XDPFW_VLAN_MAX_DEPTH 2 /* 802.1Q and 802.1ad: two tags */
#endif
#ifndef XDPFW_IPV6_EXT_MAX_CHAIN
#define XDPFW_IPV6_EXT_MAX_CHAIN 6
#endif

struct xdpfw_cursor {
	void *pos;
};

struct xdpfw_vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

struct xdpfw_ipv6_opt_hdr {
	__u8 nexthdr;
	__u8 hdrlen; /* in 8-octet units, not counting the first 8 */
};

struct xdpfw_ipv6_frag_hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off; /* offset << 3 | M flag */
	__be32 identification;
};

static __always_inline int proto_is_vlan(__u16 h_proto)
{
	return h_proto == bpf_htons(ETH_P_8021Q) || h_proto == bpf_htons(ETH_P_8021AD);
}

/* Ethernet plus up to XDPFW_VLAN_MAX_DEPTH VLAN tags; returns the inner ethertype. */
/* The EtherType after at most XDPFW_VLAN_MAX_DEPTH tags (host order), or -1; *outer_vid
 * (if not NULL) gets the first tag's VLAN id, 0 untagged (the flow key's VLAN). */
static __always_inline int parse_ethhdr_vid(struct xdpfw_cursor *c, void *data_end, __u16 *outer_vid)
{
	struct ethhdr *eth = c->pos;
	struct xdpfw_vlan_hdr *vlh;
	__u16 h_proto;
	int i;

	if ((void *)(eth + 1) > data_end)
		return -1;
	c->pos = eth + 1;
	h_proto = eth->h_proto;

#pragma unroll
	for (i = 0; i < XDPFW_VLAN_MAX_DEPTH; i++) {
		if (!proto_is_vlan(h_proto))
			break;
		vlh = c->pos;
		if ((void *)(vlh + 1) > data_end)
			return -1;
		if (i == 0 && outer_vid)
			*outer_vid = bpf_ntohs(vlh->tci) & 0x0fff;
		h_proto = vlh->encap_proto;
		c->pos = vlh + 1;
	}
	return bpf_ntohs(h_proto);
}

static __always_inline int parse_ethhdr(struct xdpfw_cursor *c, void *data_end)
{
	return parse_ethhdr_vid(c, data_end, NULL);
}

/*
 * IPv4; returns the L4 protocol. *l4_ok is set when the L4 header starts at the cursor
 * (first or only fragment); later fragments carry no ports.
 */
static __always_inline int parse_iphdr(struct xdpfw_cursor *c, void *data_end,
				       struct iphdr **iphdr, int *l4_ok)
{
	struct iphdr *iph = c->pos;
	int hdrsize;

	if ((void *)(iph + 1) > data_end)
		return -1;
	hdrsize = iph->ihl * 4;
	if (hdrsize < (int)sizeof(*iph))
		return -1;
	if (c->pos + hdrsize > data_end)
		return -1;
	c->pos += hdrsize;
	*iphdr = iph;
	/* First (or only) fragment, and the total length holds the 4 bytes of ports. */
	*l4_ok = (iph->frag_off & bpf_htons(0x1fff)) == 0 &&
		 (int)bpf_ntohs(iph->tot_len) >= hdrsize + 4;
	return iph->protocol;
}

/*
 * IPv6 with a bounded walk over extension headers; returns the upper-layer protocol.
 * A fragment header with a non-zero offset means no L4 header follows (*l4_ok = 0).
 */
static __always_inline int parse_ip6hdr(struct xdpfw_cursor *c, void *data_end,
					struct ipv6hdr **ip6hdr, int *l4_ok)
{
	struct ipv6hdr *ip6h = c->pos;
	struct xdpfw_ipv6_opt_hdr *opt;
	struct xdpfw_ipv6_frag_hdr *frag;
	__u32 walked = 0; /* bytes of extension headers, to compare with the payload length */
	__u8 nexthdr;
	int i;

	if ((void *)(ip6h + 1) > data_end)
		return -1;
	c->pos = ip6h + 1;
	*ip6hdr = ip6h;
	*l4_ok = 1;
	nexthdr = ip6h->nexthdr;

#pragma unroll
	for (i = 0; i < XDPFW_IPV6_EXT_MAX_CHAIN; i++) {
		switch (nexthdr) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_DSTOPTS:
		case IPPROTO_ROUTING:
			opt = c->pos;
			if ((void *)(opt + 1) > data_end)
				return -1;
			nexthdr = opt->nexthdr;
			c->pos += (opt->hdrlen + 1) * 8;
			walked += (opt->hdrlen + 1) * 8;
			break;
		case IPPROTO_FRAGMENT:
			frag = c->pos;
			if ((void *)(frag + 1) > data_end)
				return -1;
			nexthdr = frag->nexthdr;
			c->pos = frag + 1;
			walked += sizeof(*frag);
			if (frag->frag_off & bpf_htons(0xfff8)) {
				/* A later fragment: what follows is the middle of the datagram,
				 * not headers; its next header is the datagram's, as the worker's
				 * decoder reads it. */
				*l4_ok = 0;
				return nexthdr;
			}
			break;
		default:
			if (bpf_ntohs(ip6h->payload_len) < walked + 4)
				*l4_ok = 0; /* the "L4 header" would be link padding */
			return nexthdr;
		}
	}
	/* Chain longer than we walk: the worker decides (it counts the anomaly). */
	*l4_ok = 0;
	return nexthdr;
}

/* Source and destination port of TCP or UDP (network byte order); -1 if truncated. */
static __always_inline int parse_ports(struct xdpfw_cursor *c, void *data_end, int proto,
				       __be16 *sport, __be16 *dport)
{
	if (proto == IPPROTO_TCP) {
		struct tcphdr *th = c->pos;

		if ((void *)(th + 1) > data_end)
			return -1;
		*sport = th->source;
		*dport = th->dest;
		return 0;
	}
	if (proto == IPPROTO_UDP) {
		struct udphdr *uh = c->pos;

		if ((void *)(uh + 1) > data_end)
			return -1;
		*sport = uh->source;
		*dport = uh->dest;
		return 0;
	}
	return -1;
}

#endif /* XDPFW_PARSE_H */
