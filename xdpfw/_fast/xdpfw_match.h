/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xdpfw_match.h - the streaming matcher contract: what the detection engine and the two
 * matcher backends (match_hs.pyx: Hyperscan, match_ac.pyx: Aho-Corasick) agree on.
 * User space only. Included by the Cython backends and the engine through
 * xdpfw/_fast/match.pxd; the API itself is documented there.
 *
 * Everything here is fixed-size C: the engine keeps one struct xdpfw_mstream per
 * (flow, direction, buffer) in a slab indexed by flow slot, zero-initialised (a zeroed
 * stream is a closed stream), and one match buffer per worker that it clears per
 * fragment. No Python object and no allocation per flow or per packet.
 */
#ifndef XDPFW_MATCH_H
#define XDPFW_MATCH_H

#include <linux/types.h>

/* One match: pattern id (as given at compile time) and the offset one past its last
 * byte, counted from the start of the stream (stream mode) or the buffer (block mode). */
struct xdpfw_match {
	__u32 id;
	__u32 pad;
	__u64 end;
};

/* Fixed-capacity match buffer owned by the caller. A match that finds it full is
 * counted in `overflow` and otherwise dropped: scanning never stops early (stopping a
 * Hyperscan stream from its callback kills the stream for good). */
struct xdpfw_match_buf {
	struct xdpfw_match *rec;
	__u32 count;
	__u32 capacity;
	__u64 overflow;
};

#define XDPFW_MSTREAM_OPEN 1u

/* Matcher state of one stream (one direction of one flow, for one buffer), 24 bytes,
 * embedded in the caller's slab. */
struct xdpfw_mstream {
	__u64 offset;          /* bytes scanned since open, finish or reset */
	union {
		void *hs;      /* Hyperscan: a pre-opened stream lent by the worker's pool */
		__u32 ac[2];   /* Aho-Corasick: states of the exact and the case-folded automaton */
	};
	__u32 flags;           /* XDPFW_MSTREAM_OPEN */
};

/* Return values besides 0 (success). Other negative values are Hyperscan's hs_error_t
 * (HS_INVALID -1 ... HS_UNKNOWN_ERROR -13), passed through. */
#define XDPFW_MATCH_ENOTOPEN (-100)  /* the stream is not open */
#define XDPFW_MATCH_EOPEN (-101)     /* open on a stream that is already open */
#define XDPFW_MATCH_EPOOL (-102)     /* the worker's stream pool is exhausted */

/*
 * One backend, as a table of functions, so the engine can be written once and pick a
 * backend at run time. db, scratch and pool are the backend's own objects (their C
 * pointers), see match.pxd. `out` may be NULL where noted: matches are then discarded.
 */
struct xdpfw_matcher_ops {
	const char *name;
	int (*open)(void *pool, struct xdpfw_mstream *st);
	int (*scan)(const void *db, void *scratch, struct xdpfw_mstream *st,
		    const __u8 *data, __u32 len, struct xdpfw_match_buf *out);
	/* end of data: report end-anchored matches into out (may be NULL), then start over at
	 * offset 0; the stream stays open */
	int (*finish)(const void *db, void *scratch, struct xdpfw_mstream *st,
		      struct xdpfw_match_buf *out);
	/* start over at offset 0, reporting nothing */
	int (*reset)(const void *db, struct xdpfw_mstream *st);
	/* end of data as finish (out may be NULL), then give the state back to the pool */
	int (*close)(void *pool, void *scratch, struct xdpfw_mstream *st,
		     struct xdpfw_match_buf *out);
	int (*scan_block)(const void *db, void *scratch, const __u8 *data, __u32 len,
			  struct xdpfw_match_buf *out);
};

static inline void xdpfw_match_push(struct xdpfw_match_buf *b, __u32 id, __u64 end)
{
	if (b->count < b->capacity) {
		b->rec[b->count].id = id;
		b->rec[b->count].end = end;
		b->count++;
	} else {
		b->overflow++;
	}
}

#endif /* XDPFW_MATCH_H */
