/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xdpfw_seqrec.h - what each TCP direction has had inspected but not yet acknowledged,
 * as fingerprinted sequence ranges ("records"), so that a retransmission or an overlap
 * reaches the host only if it carries exactly the bytes that were inspected there.
 *
 * Why: without reassembly the tracker inspects each byte once, at its first arrival, and
 * forwards later copies as "already inspected". An attacker who makes the first copy miss
 * the host (a TTL that expires past the appliance, a checksum the host rejects, a segment
 * outside its window) and then resends the range with other bytes would have the host
 * read bytes nobody inspected (Ptacek & Newsham 1998; Handley, Paxson & Kreibich 2001).
 * Keeping the bytes is reassembly; keeping a fingerprint per inspected segment is enough
 * to tell "the same bytes again" from "other bytes", and costs 12 bytes per segment in
 * flight.
 *
 * Fingerprint: a keyed multilinear hash over 4-byte lanes aligned to absolute sequence
 * numbers, fp = sum(lane_value * key[lane_index mod XDPFW_SEQREC_KEYS]) mod 2^64, with
 * random 64-bit keys per worker. It is linear, so the fingerprint of a range is the sum
 * of its parts' (records can be merged, and a retransmission that coalesces several
 * segments is checked against the sum of their records), and lanes cut by a range edge
 * add up. For a fixed difference between two copies of at most one frame (fewer lanes
 * than keys: no key repeats inside it) the chance that the fingerprints agree is at most
 * 2^-33 (the lane differences are below 2^32, so their 2-adic valuation is at most 31).
 *
 * Records of one direction are contiguous, oldest first, from `una` (everything before it
 * was acknowledged by the peer) up to the newest record's end; the newest record lives in
 * the direction's header, older ones in chunks of a per-worker pool. When a direction may
 * take no further chunk (its cap, or the pool is empty) new ranges merge into the newest
 * record: coarser, still exact for a retransmission covering it whole.
 *
 * User space only (the flow table, flow.pyx). No allocation per packet.
 */
#ifndef XDPFW_SEQREC_H
#define XDPFW_SEQREC_H

#include <linux/types.h>
#include <string.h>

#define XDPFW_SEQREC_PER_CHUNK 14
#define XDPFW_SEQREC_KEYS 2048  /* lanes before a key repeats: 8 KiB, more than any frame */

/* What a retransmitted range was found to be (xdpfw_seqrec_verify). */
#define XDPFW_SEQREC_SAME 0         /* the bytes inspected there (or acknowledged ones) */
#define XDPFW_SEQREC_CONFLICT 1     /* other bytes than were inspected there */
#define XDPFW_SEQREC_UNVERIFIABLE 2 /* its edges cut a record: cannot be compared */

struct xdpfw_seqrec_chunk {
	__u64 hash[XDPFW_SEQREC_PER_CHUNK];
	__u32 end[XDPFW_SEQREC_PER_CHUNK]; /* record i covers [end[i-1] (or the previous), end[i]) */
	__u32 next;   /* next (newer) chunk, 0: none */
	__u8 first;   /* live records are [first, count) */
	__u8 count;
	__u16 pad;
};

/* Per direction (parallel to the flow table, indexed by slot * 2 + direction). */
struct xdpfw_seqrec_dir {
	__u32 una;       /* start of the oldest record: bytes before it are acknowledged */
	__u32 head;      /* oldest chunk (0: no chunk) */
	__u32 tail;      /* newest chunk */
	__u16 nchunks;
	__u8 has_last;   /* last_* is a record (the newest) */
	__u8 pad;
	__u64 last_hash;
	__u32 last_end;
	__u32 pad2;
};

struct xdpfw_seqrec_pool {
	struct xdpfw_seqrec_chunk *chunks; /* [0] is never used: index 0 means "none" */
	__u32 nchunks;
	__u32 free_head;
	__u32 in_use;
	__u32 dir_cap;    /* chunks one direction may hold */
	__u64 merged;     /* ranges merged into the newest record (no chunk to be had) */
	__u64 keys[XDPFW_SEQREC_KEYS];
};

static inline int xdpfw_seq_before(__u32 a, __u32 b) { return (__s32)(a - b) < 0; }
static inline int xdpfw_seq_le(__u32 a, __u32 b) { return (__s32)(a - b) <= 0; }

/* Chunks are linked into the free list; keys are the caller's (random). */
static inline void xdpfw_seqrec_pool_init(struct xdpfw_seqrec_pool *p,
					  struct xdpfw_seqrec_chunk *chunks, __u32 n, __u32 dir_cap)
{
	__u32 i;
	p->chunks = chunks;
	p->nchunks = n;
	p->in_use = 0;
	p->dir_cap = dir_cap;
	p->merged = 0;
	p->free_head = 0;
	for (i = n - 1; i >= 1; i--) {
		chunks[i].next = p->free_head;
		p->free_head = i;
	}
}

/* A whole lane as the edge lanes below build it (byte i at bits 8i): one load. */
static inline __u32 xdpfw__lane_le(const __u8 *d)
{
	__u32 v;
	memcpy(&v, d, 4); /* 4 payload bytes into a register, not a copy */
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	return v;
}

/* Fingerprint of len bytes at data, the first of them at sequence number seq. */
static inline __u64 xdpfw_seqrec_fp(const __u64 *keys, __u32 seq, const __u8 *data, __u32 len)
{
	__u64 h = 0;
	__u32 lane = seq >> 2, off = seq & 3, v, i;
	if (len == 0)
		return 0;
	if (off) { /* the first lane, cut by the range's start */
		v = 0;
		for (i = off; i < 4 && len; i++, len--)
			v |= (__u32)(*data++) << (8 * i);
		h += (__u64)v * keys[lane & (XDPFW_SEQREC_KEYS - 1)];
		lane++;
	}
	for (; len >= 4; len -= 4, data += 4, lane++)
		h += (__u64)xdpfw__lane_le(data) * keys[lane & (XDPFW_SEQREC_KEYS - 1)];
	if (len) { /* the last lane, cut by the range's end */
		v = 0;
		for (i = 0; i < len; i++)
			v |= (__u32)data[i] << (8 * i);
		h += (__u64)v * keys[lane & (XDPFW_SEQREC_KEYS - 1)];
	}
	return h;
}

/* Forget the direction's records; the next record starts at una. */
static inline void xdpfw_seqrec_reset(struct xdpfw_seqrec_pool *p, struct xdpfw_seqrec_dir *d,
				      __u32 una)
{
	__u32 c = d->head, n;
	while (c) {
		n = p->chunks[c].next;
		p->chunks[c].next = p->free_head;
		p->free_head = c;
		p->in_use--;
		c = n;
	}
	memset(d, 0, sizeof(*d));
	d->una = una;
}

/* The end of the newest record (una when there is none). */
static inline __u32 xdpfw_seqrec_top(const struct xdpfw_seqrec_pool *p,
				     const struct xdpfw_seqrec_dir *d)
{
	const struct xdpfw_seqrec_chunk *t;
	if (d->has_last)
		return d->last_end;
	if (d->tail) {
		t = &p->chunks[d->tail];
		return t->end[t->count - 1];
	}
	return d->una;
}

/* Record that the range up to end (from the previous record's end) was inspected with
 * fingerprint h. */
static inline void xdpfw_seqrec_append(struct xdpfw_seqrec_pool *p, struct xdpfw_seqrec_dir *d,
				       __u32 end, __u64 h)
{
	struct xdpfw_seqrec_chunk *t = d->tail ? &p->chunks[d->tail] : NULL;
	__u32 c;
	if (!d->has_last) {
		d->last_end = end;
		d->last_hash = h;
		d->has_last = 1;
		return;
	}
	/* push the newest record into the chain, then the new one becomes the newest */
	if (!t || t->count == XDPFW_SEQREC_PER_CHUNK) {
		if (d->nchunks >= p->dir_cap || !p->free_head) {
			d->last_end = end; /* no room: coarser, still exact for whole ranges */
			d->last_hash += h;
			p->merged++;
			return;
		}
		c = p->free_head;
		p->free_head = p->chunks[c].next;
		p->in_use++;
		t = &p->chunks[c];
		t->next = 0;
		t->first = 0;
		t->count = 0;
		if (d->tail)
			p->chunks[d->tail].next = c;
		else
			d->head = c;
		d->tail = c;
		d->nchunks++;
	}
	t->end[t->count] = d->last_end;
	t->hash[t->count] = d->last_hash;
	t->count++;
	d->last_end = end;
	d->last_hash = h;
}

/* The peer acknowledged everything before ack: records wholly before it are released. A
 * record ack cuts stays whole (it can still be compared with a copy covering it). */
static inline void xdpfw_seqrec_release(struct xdpfw_seqrec_pool *p, struct xdpfw_seqrec_dir *d,
					__u32 ack)
{
	struct xdpfw_seqrec_chunk *h;
	__u32 c;
	while (d->head) {
		h = &p->chunks[d->head];
		if (!xdpfw_seq_le(h->end[h->first], ack))
			return;
		d->una = h->end[h->first];
		if (++h->first == h->count) {
			c = d->head;
			d->head = h->next;
			if (!d->head)
				d->tail = 0;
			h->next = p->free_head;
			p->free_head = c;
			p->in_use--;
			d->nchunks--;
		}
	}
	if (d->has_last && xdpfw_seq_le(d->last_end, ack)) {
		d->una = d->last_end;
		d->has_last = 0;
	}
}

/* Is [seq, seq + len) - bytes wholly before the newest record's end - the same as what
 * was inspected there? Bytes before una were acknowledged: the receiver discards them. */
static inline int xdpfw_seqrec_verify(const struct xdpfw_seqrec_pool *p,
				      const struct xdpfw_seqrec_dir *d,
				      __u32 seq, const __u8 *data, __u32 len)
{
	const struct xdpfw_seqrec_chunk *k;
	__u32 end = seq + len, start = d->una, rend, c, i;
	__u64 want = 0;
	int found = 0;
	if (xdpfw_seq_le(end, d->una))
		return XDPFW_SEQREC_SAME;
	if (xdpfw_seq_before(seq, d->una)) {
		data += d->una - seq;
		seq = d->una;
	}
	for (c = d->head; c; c = k->next) {
		k = &p->chunks[c];
		for (i = k->first; i < k->count; i++) {
			rend = k->end[i];
			if (!found) {
				if (start == seq)
					found = 1;
				else if (xdpfw_seq_before(seq, rend))
					return XDPFW_SEQREC_UNVERIFIABLE; /* starts inside a record */
			}
			if (found) {
				want += k->hash[i];
				if (rend == end)
					goto compare;
				if (xdpfw_seq_before(end, rend))
					return XDPFW_SEQREC_UNVERIFIABLE; /* ends inside a record */
			}
			start = rend;
		}
	}
	if (!d->has_last)
		return XDPFW_SEQREC_UNVERIFIABLE; /* beyond what was recorded */
	if (!found && start != seq)
		return XDPFW_SEQREC_UNVERIFIABLE;
	if (d->last_end != end)
		return XDPFW_SEQREC_UNVERIFIABLE;
	want += d->last_hash;
compare:
	return xdpfw_seqrec_fp(p->keys, seq, data, end - seq) == want ?
		XDPFW_SEQREC_SAME : XDPFW_SEQREC_CONFLICT;
}

#endif /* XDPFW_SEQREC_H */
