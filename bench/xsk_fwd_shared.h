/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Contract between bench/xsk_redirect.bpf.c (kernel side) and bench/xsk_fwd.c
 * (user space). Both include this file; it may only use plain C and __u32-style
 * types from <linux/types.h>. Change a value here and both sides follow.
 *
 * The XSKMAP key scheme is the same as xdpfw's (xdpfw/bpf/xdpfw_shared.h:
 * key = side * 64 + rx queue), so the two forwarders are steered identically.
 */
#ifndef XSK_FWD_SHARED_H
#define XSK_FWD_SHARED_H

#define XSK_FWD_SIDE_A 0
#define XSK_FWD_SIDE_B 1
#define XSK_FWD_NSIDES 2

/* Upper bound on RX queues per interface; frames on a higher queue are dropped. */
#define XSK_FWD_MAX_QUEUES 64
#define XSK_FWD_XSK_KEY(side, queue) ((side) * XSK_FWD_MAX_QUEUES + (queue))

/* Object names user space looks up in the compiled xsk_redirect.bpf.o. */
#define XSK_FWD_PROG_NAME "xsk_redirect"
#define XSK_FWD_XSKMAP_NAME "xsks_map"     /* XSKMAP, XSK_FWD_NSIDES * MAX_QUEUES */
#define XSK_FWD_SIDEMAP_NAME "side_ifindex" /* ARRAY[2] of __u32: ifindex of A, of B */

#endif /* XSK_FWD_SHARED_H */
