/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xdpfw_inspect.h - the contract between the AF_XDP worker (xsk.pyx) and the inspection
 * engine it calls for every frame. User space only.
 *
 * The worker calls fn(engine, frame, length, side, now_ns, &reason, &reply_len) with the GIL
 * released, once per frame, in arrival order per side. `frame` points into UMEM: the engine
 * reads it in place and may rewrite it in place, and must not keep the pointer past the
 * call. On entry *reply_len is the room the frame's UMEM chunk has from `frame` on (>=
 * length): a reply may be longer than the frame it replaces (an ICMP error quotes the
 * packet's headers) but never longer than that. It returns an enum xdpfw_verdict; for
 * every verdict but PASS it sets *reason to an enum xdpfw_drop_reason. For the REPLY
 * verdicts the frame then holds a reply of *reply_len bytes that the worker transmits -
 * back out of `side` (REPLY: a reject's RST or ICMP unreachable to the sender), out of the
 * peer side (REPLY_PEER: rejectdst's RST to the destination), or both (REPLY_BOTH: the
 * frame back to the sender, and the engine's extra reply, read through xdpfw_extra_fn, in
 * a free frame to the destination). No extra frame otherwise, no payload copy. With no
 * engine bound, every frame passes.
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

/* REPLY_BOTH: the reply for the destination the engine built aside (a few header bytes,
 * valid until the next call of fn); *length set to its size. */
typedef const __u8 *(*xdpfw_extra_fn)(void *engine, __u32 *length);

#endif /* XDPFW_INSPECT_H */
