// SPDX-License-Identifier: GPL-2.0-only
/*
 * xdpfw_kern.c - the XDP program attached to both sides of the appliance.
 *
 * Per frame, in this order:
 *   1. kernel ACL: IP-only drop rules compiled into LPM tries (addresses) and arrays
 *      (ports). A denied frame is dropped here and never costs a worker anything;
 *   2. flow bypass (when on): a frame of a flow the engine is done with goes straight to
 *      the peer interface (devmap), counted in its bypass_map entry;
 *   3. steering: redirect to the AF_XDP socket bound to this side's RX queue;
 *   4. no socket bound (daemon not started, crashed, or stopping), or the daemon's
 *      heartbeat is stale (it hangs with its sockets still bound): the fail mode decides,
 *      here in the kernel, because the daemon cannot: open = devmap redirect straight to
 *      the peer interface, closed = drop. The kernel removes XSKMAP entries when a socket
 *      is released, so a crash switches to the fail mode with no help from user space.
 *
 * Compiled by bcc at load time (the control plane passes -I for the shared header and
 * -D overrides); every map is described where it is declared. Single exit: `out` records
 * the action in the per-CPU stats.
 */
#include <uapi/linux/bpf.h>
#include <linux/in.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>

#include "xdpfw_shared.h"
#include "xdpfw_parse.h"

/* AF_XDP sockets, key XDPFW_XSK_KEY(side, rx queue). Entries vanish when a socket closes. */
BPF_XSKMAP(xsks_map, XDPFW_NSIDES * XDPFW_MAX_QUEUES);
/* Fail-open path: peer_map[side] = ifindex of the other side. */
BPF_DEVMAP(peer_map, XDPFW_NSIDES);
/* One entry, struct xdpfw_config, written by the control plane before attach. */
BPF_ARRAY(config_map, struct xdpfw_config, 1);
/* One entry: CLOCK_MONOTONIC (= bpf_ktime_get_ns) of the daemon's last proof that every
 * worker loop is turning. A hung daemon keeps its sockets bound, so the XSKMAP alone
 * cannot tell; a stale heartbeat can. */
BPF_ARRAY(heartbeat_map, __u64, 1);
/*
 * Action counters, index side * XDPFW_XDP_ACTION_MAX + action. XDP runs in softirq on
 * one CPU at a time and this map is per-CPU, so plain increments need no atomics.
 */
BPF_PERCPU_ARRAY(stats_map, struct xdpfw_xdp_stat, XDPFW_NSIDES * XDPFW_XDP_ACTION_MAX);
/* Address deny lists; value = XDPFW_PROTO_* mask, already folded over covering prefixes. */
BPF_LPM_TRIE(acl_src_v4, struct xdpfw_lpm_v4, __u32, XDPFW_ACL_MAX_CIDRS);
BPF_LPM_TRIE(acl_dst_v4, struct xdpfw_lpm_v4, __u32, XDPFW_ACL_MAX_CIDRS);
BPF_LPM_TRIE(acl_src_v6, struct xdpfw_lpm_v6, __u32, XDPFW_ACL_MAX_CIDRS);
BPF_LPM_TRIE(acl_dst_v6, struct xdpfw_lpm_v6, __u32, XDPFW_ACL_MAX_CIDRS);
/* Flows the engine is done with, one entry per direction (xdpfw_shared.h). */
BPF_TABLE("lru_hash", struct xdpfw_bypass_key, struct xdpfw_bypass_val, bypass_map, XDPFW_BYPASS_MAX);
/* Port deny lists indexed by port (host order); value = XDPFW_PROTO_TCP/UDP mask. */
BPF_ARRAY(acl_sport, __u32, 65536);
BPF_ARRAY(acl_dport, __u32, 65536);

static __always_inline __u32 proto_bit(int l4proto)
{
	switch (l4proto) {
	case IPPROTO_TCP:
		return XDPFW_PROTO_TCP;
	case IPPROTO_UDP:
		return XDPFW_PROTO_UDP;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		return XDPFW_PROTO_ICMP;
	default:
		return XDPFW_PROTO_OTHER;
	}
}

static __always_inline int port_denied(struct xdpfw_cursor *c, void *data_end, __u32 flags,
				       int l4proto, __u32 pbit)
{
	__be16 sport, dport;
	__u32 key, *mask;

	if (parse_ports(c, data_end, l4proto, &sport, &dport) < 0)
		return 0;
	if (flags & XDPFW_ACL_SPORT) {
		key = bpf_ntohs(sport);
		mask = acl_sport.lookup(&key);
		if (mask && (*mask & pbit))
			return 1;
	}
	if (flags & XDPFW_ACL_DPORT) {
		key = bpf_ntohs(dport);
		mask = acl_dport.lookup(&key);
		if (mask && (*mask & pbit))
			return 1;
	}
	return 0;
}

/* 1 when an IP-only drop rule denies this frame, judged on the outermost IP header (and
 * its ports). Non-IP and truncated frames, and everything this walk cannot see through
 * (xdpfw_parse.h), pass on to the worker, which decodes them fully, applies the
 * decode-error policy and enforces the same rules on the innermost packet. */
static __always_inline int acl_denied(struct xdp_md *ctx, __u32 flags)
{
	void *data_end = (void *)(long)ctx->data_end;
	struct xdpfw_cursor c = { .pos = (void *)(long)ctx->data };
	int eth_type, l4proto, l4_ok = 0;
	__u32 pbit, *mask;

	eth_type = parse_ethhdr(&c, data_end);
	if (eth_type == ETH_P_IP) {
		struct iphdr *iph;
		struct xdpfw_lpm_v4 k4 = { .prefixlen = 32 };

		l4proto = parse_iphdr(&c, data_end, &iph, &l4_ok);
		if (l4proto < 0)
			return 0;
		pbit = proto_bit(l4proto);
		if (flags & XDPFW_ACL_SRC_V4) {
			__builtin_memcpy(k4.addr, &iph->saddr, 4);
			mask = acl_src_v4.lookup(&k4);
			if (mask && (*mask & pbit))
				return 1;
		}
		if (flags & XDPFW_ACL_DST_V4) {
			__builtin_memcpy(k4.addr, &iph->daddr, 4);
			mask = acl_dst_v4.lookup(&k4);
			if (mask && (*mask & pbit))
				return 1;
		}
	} else if (eth_type == ETH_P_IPV6) {
		struct ipv6hdr *ip6h;
		struct xdpfw_lpm_v6 k6 = { .prefixlen = 128 };

		l4proto = parse_ip6hdr(&c, data_end, &ip6h, &l4_ok);
		if (l4proto < 0)
			return 0;
		pbit = proto_bit(l4proto);
		if (flags & XDPFW_ACL_SRC_V6) {
			__builtin_memcpy(k6.addr, &ip6h->saddr, 16);
			mask = acl_src_v6.lookup(&k6);
			if (mask && (*mask & pbit))
				return 1;
		}
		if (flags & XDPFW_ACL_DST_V6) {
			__builtin_memcpy(k6.addr, &ip6h->daddr, 16);
			mask = acl_dst_v6.lookup(&k6);
			if (mask && (*mask & pbit))
				return 1;
		}
	} else {
		return 0;
	}
	if (l4_ok && (flags & (XDPFW_ACL_SPORT | XDPFW_ACL_DPORT)))
		return port_denied(&c, data_end, flags, l4proto, pbit);
	return 0;
}

/* The bypass entry of this frame's flow direction, or NULL (xdpfw_shared.h: plain
 * Ethernet / VLAN / IPv4 or IPv6 / TCP frames only). A SYN, FIN or RST of a bypassed flow
 * removes both directions' entries and returns NULL: the worker sees the connection's
 * end or its reuse. */
static __always_inline struct xdpfw_bypass_val *bypass_entry(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	struct xdpfw_cursor c = { .pos = (void *)(long)ctx->data };
	struct xdpfw_bypass_key k = {};
	struct xdpfw_bypass_val *v;
	struct tcphdr *th;
	void *pos;
	int proto;

	proto = parse_ethhdr_vid(&c, data_end, &k.vlan);
	pos = c.pos;
	if (proto == ETH_P_IP) {
		struct iphdr *iph = pos;

		if ((void *)(iph + 1) > data_end || iph->protocol != IPPROTO_TCP || iph->ihl < 5 ||
		    (iph->frag_off & bpf_htons(0x3fff)))
			return NULL;
		k.src[10] = k.src[11] = k.dst[10] = k.dst[11] = 0xff;
		__builtin_memcpy(&k.src[12], &iph->saddr, 4);
		__builtin_memcpy(&k.dst[12], &iph->daddr, 4);
		pos += iph->ihl * 4;
	} else if (proto == ETH_P_IPV6) {
		struct ipv6hdr *ip6h = pos;

		if ((void *)(ip6h + 1) > data_end || ip6h->nexthdr != IPPROTO_TCP)
			return NULL;
		__builtin_memcpy(k.src, &ip6h->saddr, 16);
		__builtin_memcpy(k.dst, &ip6h->daddr, 16);
		pos = ip6h + 1;
	} else {
		return NULL;
	}
	th = pos;
	if ((void *)(th + 1) > data_end)
		return NULL;
	k.sport = bpf_ntohs(th->source);
	k.dport = bpf_ntohs(th->dest);
	k.proto = IPPROTO_TCP;
	v = bypass_map.lookup(&k);
	if (!v)
		return NULL;
	if (th->syn || th->fin || th->rst) {
		struct xdpfw_bypass_key r = k;

		__builtin_memcpy(r.src, k.dst, 16);
		__builtin_memcpy(r.dst, k.src, 16);
		r.sport = k.dport;
		r.dport = k.sport;
		bypass_map.delete(&k);
		bypass_map.delete(&r);
		return NULL;
	}
	return v;
}

int xdpfw_ingress(struct xdp_md *ctx)
{
	__u32 zero = 0, side, key, action;
	struct xdpfw_config *cfg;
	struct xdpfw_xdp_stat *st;
	int rc;

	cfg = config_map.lookup(&zero);
	if (!cfg)
		return XDP_ABORTED; /* cannot happen: array maps always have entry 0 */

	if (ctx->ingress_ifindex == cfg->ifindex[XDPFW_SIDE_A]) {
		side = XDPFW_SIDE_A;
	} else if (ctx->ingress_ifindex == cfg->ifindex[XDPFW_SIDE_B]) {
		side = XDPFW_SIDE_B;
	} else {
		/* Attached somewhere it was not configured for: stay out of the way. */
		side = XDPFW_SIDE_A;
		action = XDPFW_XDP_UNKNOWN_IF;
		rc = XDP_PASS;
		goto out;
	}

	if (cfg->acl_flags && acl_denied(ctx, cfg->acl_flags)) {
		action = XDPFW_XDP_ACL_DROP;
		rc = XDP_DROP;
		goto out;
	}

	if (cfg->bypass) {
		struct xdpfw_bypass_val *bv = bypass_entry(ctx);

		/* A frame from the other NIC than its direction's is the worker's to judge
		 * (flow-table admission drops it inline). */
		if (bv && bv->side == side) {
			rc = peer_map.redirect_map(side, 0);
			if (rc == XDP_REDIRECT) {
				__sync_fetch_and_add(&bv->packets, 1);
				__sync_fetch_and_add(&bv->bytes, ctx->data_end - ctx->data);
				bv->last_ns = bpf_ktime_get_ns();
				action = XDPFW_XDP_BYPASS;
				goto out;
			}
		}
	}

	if (cfg->watchdog_ns) {
		__u64 *beat = heartbeat_map.lookup(&zero);

		if (beat && bpf_ktime_get_ns() - *beat > cfg->watchdog_ns)
			goto fail_mode; /* workers hung: their rings would only fill up */
	}

	if (ctx->rx_queue_index < XDPFW_MAX_QUEUES) {
		key = XDPFW_XSK_KEY(side, ctx->rx_queue_index);
		/* Fallback flags 0 = XDP_ABORTED: distinguishable from XDP_REDIRECT. */
		rc = xsks_map.redirect_map(key, 0);
		if (rc == XDP_REDIRECT) {
			action = XDPFW_XDP_TO_WORKER;
			goto out;
		}
	}

fail_mode:
	if (cfg->fail_mode == XDPFW_FAIL_OPEN) {
		rc = peer_map.redirect_map(side, 0);
		if (rc == XDP_REDIRECT) {
			action = XDPFW_XDP_FAIL_OPEN;
			goto out;
		}
	}
	action = XDPFW_XDP_FAIL_CLOSED;
	rc = XDP_DROP;

out:
	key = side * XDPFW_XDP_ACTION_MAX + action;
	st = stats_map.lookup(&key);
	if (st) {
		st->packets++;
		st->bytes += ctx->data_end - ctx->data;
	}
	return rc;
}
