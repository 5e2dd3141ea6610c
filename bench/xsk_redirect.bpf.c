// SPDX-License-Identifier: GPL-2.0-only
/*
 * Companion XDP program of bench/xsk_fwd: steer every frame that arrives on the
 * two forwarded interfaces into the AF_XDP socket of its side and queue.
 *
 *   side = 0 if ingress ifindex == side_ifindex[0] (IF_A), 1 if == side_ifindex[1]
 *   key  = side * 64 + rx_queue_index
 *   XDP_REDIRECT to xsks_map[key]; XDP_DROP when that slot holds no socket
 *   (bpf_redirect_map() returns its flags argument when the lookup fails).
 *
 * Interfaces other than A and B get XDP_PASS (the program is never attached
 * anywhere else by xsk_fwd; this only matters if someone attaches it by hand).
 * No inspection, no counters: the benchmark wants the cheapest possible steering.
 * xsk_fwd loads this object, fills side_ifindex, inserts its sockets and attaches
 * it; it detaches it again on exit.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "xsk_fwd_shared.h"

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, XSK_FWD_NSIDES * XSK_FWD_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XSK_FWD_NSIDES);
	__type(key, __u32);
	__type(value, __u32);
} side_ifindex SEC(".maps");

SEC("xdp")
int xsk_redirect(struct xdp_md *ctx)
{
	__u32 ka = XSK_FWD_SIDE_A, kb = XSK_FWD_SIDE_B, side, key;
	__u32 *ifa, *ifb;

	ifa = bpf_map_lookup_elem(&side_ifindex, &ka);
	ifb = bpf_map_lookup_elem(&side_ifindex, &kb);
	if (!ifa || !ifb)
		return XDP_DROP; /* cannot happen for an ARRAY map; keeps the verifier happy */

	if (ctx->ingress_ifindex == *ifa)
		side = XSK_FWD_SIDE_A;
	else if (ctx->ingress_ifindex == *ifb)
		side = XSK_FWD_SIDE_B;
	else
		return XDP_PASS;

	if (ctx->rx_queue_index >= XSK_FWD_MAX_QUEUES)
		return XDP_DROP;

	key = XSK_FWD_XSK_KEY(side, ctx->rx_queue_index);
	return bpf_redirect_map(&xsks_map, key, XDP_DROP);
}

char LICENSE[] SEC("license") = "GPL";
