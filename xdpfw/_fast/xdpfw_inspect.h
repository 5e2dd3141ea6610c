/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xdpfw_inspect.h - the contract between the AF_XDP worker (xsk.pyx) and the inspection
 * engine it calls for every frame. User space only.
 *
 * The worker calls fn(engine, frame, length, side, now_ns, &reason, &reply_len) with the GIL
 * released, once per frame, in arrival order per side. `frame` points into UMEM: the engine
 * reads it in place and may rewrite it in place (never beyond `length`), and must not keep
 * the pointer past the call. It returns an enum xdpfw_verdict; for XDPFW_VERDICT_DROP and
 * XDPFW_VERDICT_REPLY it sets *reason to an enum xdpfw_drop_reason; for
 * XDPFW_VERDICT_REPLY the frame holds a reply of *reply_len bytes (<= length) that the worker
 * transmits back out of `side` (a reject's TCP RST; no extra frame, no copy). With no engine
 * bound, every frame passes.
 *
 * Between batches - once per turn of the worker loop, also when idle (the loop sleeps at
 * most 100 ms) - the worker calls the engine's batch function, if it has one: the engine
 * applies a rule set the control plane staged (live reload) there, so a swap never
 * happens in the middle of a batch and never waits for traffic.
 */
#ifndef XDPFW_INSPECT_H
#define XDPFW_INSPECT_H

#include <linux/types.h>

typedef int (*xdpfw_inspect_fn)(void *engine, __u8 *frame, __u32 length, __u32 side,
				__u64 now_ns, __u32 *reason, __u32 *reply_len);

typedef void (*xdpfw_batch_fn)(void *engine);

#endif /* XDPFW_INSPECT_H */
