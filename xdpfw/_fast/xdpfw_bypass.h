/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xdpfw_bypass.h - user space side of the XDP flow bypass (xdpfw_shared.h, bypass_map):
 * the engine writes both directions' entries of a flow it is done with, from the worker
 * thread, with one bpf(2) call each (no allocation, no Python). The XDP program then
 * forwards the flow's frames to the peer NIC itself.
 */
#ifndef XDPFW_BYPASS_H
#define XDPFW_BYPASS_H

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/bpf.h>

#include "xdpfw_shared.h"

/* Insert (or replace) the entry of one flow direction arriving on `side`. 0, or -errno. */
static inline int xdpfw_bypass_put(int map_fd, const struct xdpfw_bypass_key *k, __u32 side)
{
	struct xdpfw_bypass_val v;
	struct timespec ts;
	union bpf_attr a;

	memset(&v, 0, sizeof(v));
	clock_gettime(CLOCK_MONOTONIC, &ts);  /* bpf_ktime_get_ns's clock */
	v.last_ns = (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
	v.side = side;
	memset(&a, 0, sizeof(a));
	a.map_fd = (__u32)map_fd;
	a.key = (__u64)(unsigned long)k;
	a.value = (__u64)(unsigned long)&v;
	a.flags = BPF_ANY;
	if (syscall(__NR_bpf, BPF_MAP_UPDATE_ELEM, &a, sizeof(a)) != 0)
		return -errno;
	return 0;
}

/* Both directions of a TCP flow: `k` as the current frame travels (arriving on `side`),
 * and its reverse (arriving on the other side). 0 when both were written. */
static inline int xdpfw_bypass_flow(int map_fd, struct xdpfw_bypass_key *k, __u32 side)
{
	struct xdpfw_bypass_key r;
	int rc = xdpfw_bypass_put(map_fd, k, side);

	if (rc)
		return rc;
	r = *k;
	memcpy(r.src, k->dst, 16);
	memcpy(r.dst, k->src, 16);
	r.sport = k->dport;
	r.dport = k->sport;
	return xdpfw_bypass_put(map_fd, &r, side ^ 1u);
}

#endif /* XDPFW_BYPASS_H */
