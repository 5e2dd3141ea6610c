// SPDX-License-Identifier: Apache-2.0
/*
 * xsk_fwd: the reference ("limit") AF_XDP forwarder of the xdpfw data-path
 * benchmark. It does what xdpfw's worker does minus inspection: one UMEM shared
 * by an AF_XDP socket on IF_A queue Q and one on IF_B queue Q (XDP_SHARED_UMEM
 * across devices, each socket with its own fill and completion ring); every
 * descriptor read from one socket's RX ring is written, same UMEM address and
 * length, onto the other socket's TX ring. No packet byte is read or copied by
 * this program.
 *
 * Frame life cycle (every frame is always in exactly one of these places):
 *   free pool -> fill ring X -> (kernel) -> RX ring X -> TX ring peer(X)
 *             -> (kernel) -> completion ring peer(X) -> free pool
 *   and, if the peer TX ring is full: RX ring X -> free pool (counted drop).
 *
 * Steering: xsk_fwd loads bench/xsk_redirect.bpf.o (--xdp-obj), writes the two
 * ifindexes into its side map, inserts the two socket fds at
 * key = side * 64 + Q, attaches the program to IF_A and IF_B, and detaches it on
 * exit. libxdp's default program is never loaded
 * (XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD).
 *
 * Output: human-readable lines on stderr; exactly one JSON line on stdout, at exit.
 * See bench/README.md for the CLI and the harness contract.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_link.h>
#include <linux/if_xdp.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/xsk.h>

#include "xsk_fwd_shared.h"

#ifndef SOL_XDP
#define SOL_XDP 283
#endif
/* setsockopt(SOL_XDP) to raise the copy-mode TX budget per sendto() (Linux >= 6.17). */
#ifndef XDP_MAX_TX_SKB_BUDGET
#define XDP_MAX_TX_SKB_BUDGET 9
#endif

#define DEFAULT_FRAMES 8192
#define DEFAULT_RING 2048
#define DEFAULT_BATCH 64
#define MAX_BATCH 1024
#define COMP_BATCH 1024
/* Empty loop rounds before the loop sleeps in poll() (unless --busy-poll). */
#define IDLE_ROUNDS 1000
#define POLL_TIMEOUT_MS 10
/* sendto() calls per socket per round while the kernel keeps consuming the TX ring. */
#define MAX_KICKS_PER_ROUND 8

struct side {
	const char *ifname;
	int ifindex;
	struct xsk_socket *xsk;
	int fd;
	struct xsk_ring_cons rx;
	struct xsk_ring_prod tx;
	struct xsk_ring_prod fill;
	struct xsk_ring_cons comp;
	bool attached;

	uint64_t rx_pkts;       /* descriptors taken off this side's RX ring */
	uint64_t fwd_pkts;      /* ... of which put on the peer's TX ring */
	uint64_t drop_txfull;   /* ... of which dropped: peer TX ring full */
	uint64_t tx_pkts;       /* descriptors put on this side's TX ring */
	uint64_t comp_pkts;     /* descriptors reaped from this side's completion ring */
	uint64_t fill_pkts;     /* frames given to this side's fill ring */
	uint64_t kicks;         /* sendto() calls on this socket */
	uint64_t kick_eagain;   /* ... EAGAIN: budget used up / completion ring full / device busy */
	uint64_t kick_ebusy;    /* ... EBUSY: the device dropped a frame (it still completes) */
	uint64_t kick_enobufs;  /* ... ENOBUFS */
	uint64_t kick_other;    /* ... anything else */
	uint64_t fill_wakeups;  /* recvfrom() calls because the fill ring needed a wakeup */
};

struct opts {
	const char *if_a, *if_b;
	const char *xdp_obj;
	unsigned int queue;
	unsigned int frames, ring, batch;
	unsigned int tx_budget;
	bool zc, busy_poll, xdp_skb;
	double interval, duration;
	bool verbose;
};

static volatile sig_atomic_t stop_flag;

static struct side sides[XSK_FWD_NSIDES];
static void *umem_area;
static size_t umem_size;
static struct xsk_umem *umem;
static uint64_t frame_mask; /* ~(frame_size - 1): aligned mode, any addr -> frame base */

static uint64_t *free_stack; /* free pool: frame base addresses */
static uint32_t n_free, n_frames;

static uint64_t idle_polls, rounds;

static struct bpf_object *bpf_obj;
static int prog_fd = -1;
static __u32 xdp_mode_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static inline void free_push(uint64_t addr)
{
	free_stack[n_free++] = addr & frame_mask;
}

/* ---------------------------------------------------------------- data path */

/* Move up to batch descriptors from src's RX ring to dst's TX ring. */
static inline uint32_t forward(struct side *src, struct side *dst, uint32_t batch)
{
	uint32_t idx_rx, idx_tx = 0, n, room, m, i;

	n = xsk_ring_cons__peek(&src->rx, batch, &idx_rx);
	if (!n)
		return 0;

	room = xsk_prod_nb_free(&dst->tx, n);
	m = room < n ? room : n;
	if (m && xsk_ring_prod__reserve(&dst->tx, m, &idx_tx) != m)
		m = 0; /* cannot happen: room was just checked */

	for (i = 0; i < m; i++) {
		const struct xdp_desc *rd = xsk_ring_cons__rx_desc(&src->rx, idx_rx + i);
		struct xdp_desc *td = xsk_ring_prod__tx_desc(&dst->tx, idx_tx + i);

		td->addr = rd->addr;
		td->len = rd->len;
		td->options = 0;
	}
	for (; i < n; i++)
		free_push(xsk_ring_cons__rx_desc(&src->rx, idx_rx + i)->addr);

	if (m)
		xsk_ring_prod__submit(&dst->tx, m);
	xsk_ring_cons__release(&src->rx, n);

	src->rx_pkts += n;
	src->fwd_pkts += m;
	src->drop_txfull += n - m;
	dst->tx_pkts += m;
	return n;
}

static inline uint32_t reap_completions(struct side *s)
{
	uint32_t idx, n, i;

	n = xsk_ring_cons__peek(&s->comp, COMP_BATCH, &idx);
	if (!n)
		return 0;
	for (i = 0; i < n; i++)
		free_push(*xsk_ring_cons__comp_addr(&s->comp, idx + i));
	xsk_ring_cons__release(&s->comp, n);
	s->comp_pkts += n;
	return n;
}

static inline void refill(struct side *s, uint32_t max)
{
	uint32_t idx, n, i;

	n = xsk_prod_nb_free(&s->fill, max);
	if (n > max)
		n = max;
	if (n > n_free)
		n = n_free;
	if (!n || xsk_ring_prod__reserve(&s->fill, n, &idx) != n)
		return;
	for (i = 0; i < n; i++)
		*xsk_ring_prod__fill_addr(&s->fill, idx + i) = free_stack[--n_free];
	xsk_ring_prod__submit(&s->fill, n);
	s->fill_pkts += n;
}

/* Descriptors on the TX ring the kernel has not consumed yet. */
static inline uint32_t tx_unsent(const struct side *s)
{
	return s->tx.cached_prod - __atomic_load_n(s->tx.consumer, __ATOMIC_ACQUIRE);
}

/*
 * Copy mode: sendto() is what transmits (the kernel builds an skb per descriptor in
 * this thread's context), at most max_tx_budget (default 32) descriptors per call,
 * then it returns EAGAIN. So keep kicking while the kernel makes progress.
 * Zero-copy: sendto() only wakes the driver; one call is enough.
 */
static inline void kick_tx(struct side *s)
{
	uint32_t before, after;
	int k;

	for (k = 0; k < MAX_KICKS_PER_ROUND; k++) {
		before = tx_unsent(s);
		if (!before || !xsk_ring_prod__needs_wakeup(&s->tx))
			return;
		s->kicks++;
		if (sendto(s->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) >= 0)
			return;
		switch (errno) {
		case EAGAIN:
			s->kick_eagain++;
			break;
		case EBUSY:
			s->kick_ebusy++;
			break;
		case ENOBUFS:
			s->kick_enobufs++;
			return;
		default:
			s->kick_other++;
			return;
		}
		after = tx_unsent(s);
		if (after >= before)
			return; /* no progress (completion ring full, device busy): next round */
	}
}

static inline void wake_fill(struct side *s)
{
	if (xsk_ring_prod__needs_wakeup(&s->fill)) {
		s->fill_wakeups++;
		recvfrom(s->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
	}
}

/* One round of the loop; returns the number of frames received. */
static inline uint32_t round_once(uint32_t batch)
{
	struct side *a = &sides[XSK_FWD_SIDE_A], *b = &sides[XSK_FWD_SIDE_B];
	uint32_t got;

	got = forward(a, b, batch);
	got += forward(b, a, batch);
	reap_completions(a);
	reap_completions(b);
	/* Split the free pool fairly so one busy side cannot starve the other. */
	refill(a, n_free / 2 + 1);
	refill(b, n_free);
	refill(a, n_free);
	kick_tx(a);
	kick_tx(b);
	wake_fill(a);
	wake_fill(b);
	rounds++;
	return got;
}

/* -------------------------------------------------------------- reporting */

static void print_lines(const char *tag, double elapsed)
{
	const struct side *a = &sides[XSK_FWD_SIDE_A], *b = &sides[XSK_FWD_SIDE_B];

	fprintf(stderr,
		"xsk_fwd: %s %.1fs a->b (%s->%s): rx %" PRIu64 " tx %" PRIu64 " drops %" PRIu64
		" | b->a (%s->%s): rx %" PRIu64 " tx %" PRIu64 " drops %" PRIu64 "\n",
		tag, elapsed, a->ifname, b->ifname, a->rx_pkts, a->fwd_pkts, a->drop_txfull,
		b->ifname, a->ifname, b->rx_pkts, b->fwd_pkts, b->drop_txfull);
}

static bool get_xsk_stats(const struct side *s, struct xdp_statistics *st)
{
	socklen_t len = sizeof(*st);

	memset(st, 0, sizeof(*st));
	return getsockopt(s->fd, SOL_XDP, XDP_STATISTICS, st, &len) == 0;
}

static void json_side(FILE *f, const char *name, const struct side *s)
{
	struct xdp_statistics st;

	get_xsk_stats(s, &st);
	fprintf(f,
		"\"%s\":{\"ifname\":\"%s\",\"rx\":%" PRIu64 ",\"fwd\":%" PRIu64
		",\"drop_txfull\":%" PRIu64 ",\"tx\":%" PRIu64 ",\"completed\":%" PRIu64
		",\"kicks\":%" PRIu64 ",\"kick_eagain\":%" PRIu64 ",\"kick_ebusy\":%" PRIu64
		",\"kick_enobufs\":%" PRIu64 ",\"kick_other\":%" PRIu64
		",\"fill_wakeups\":%" PRIu64 ",\"k_rx_dropped\":%llu,\"k_rx_ring_full\":%llu"
		",\"k_rx_fill_ring_empty\":%llu,\"k_tx_ring_empty\":%llu"
		",\"k_rx_invalid\":%llu,\"k_tx_invalid\":%llu}",
		name, s->ifname, s->rx_pkts, s->fwd_pkts, s->drop_txfull, s->tx_pkts,
		s->comp_pkts, s->kicks, s->kick_eagain, s->kick_ebusy, s->kick_enobufs,
		s->kick_other, s->fill_wakeups, (unsigned long long)st.rx_dropped,
		(unsigned long long)st.rx_ring_full,
		(unsigned long long)st.rx_fill_ring_empty_descs,
		(unsigned long long)st.tx_ring_empty_descs,
		(unsigned long long)st.rx_invalid_descs,
		(unsigned long long)st.tx_invalid_descs);
}

/*
 * Frame accounting. Outstanding frames per ring are derived from what this
 * program put in and took out; the free pool is counted directly and checked
 * for duplicates and bad addresses. A leak or a double free shows up here.
 */
static bool check_frames(void)
{
	const struct side *a = &sides[XSK_FWD_SIDE_A], *b = &sides[XSK_FWD_SIDE_B];
	int64_t fa = (int64_t)(a->fill_pkts - a->rx_pkts), fb = (int64_t)(b->fill_pkts - b->rx_pkts);
	int64_t ta = (int64_t)(a->tx_pkts - a->comp_pkts), tb = (int64_t)(b->tx_pkts - b->comp_pkts);
	int64_t sum = (int64_t)n_free + fa + fb + ta + tb;
	uint8_t *seen = calloc(n_frames, 1);
	uint32_t i, dup = 0, bad = 0;
	bool ok;

	for (i = 0; seen && i < n_free; i++) {
		uint64_t f = free_stack[i] / (~frame_mask + 1);

		if (free_stack[i] & ~frame_mask || f >= n_frames)
			bad++;
		else if (seen[f]++)
			dup++;
	}
	free(seen);
	ok = sum == n_frames && fa >= 0 && fb >= 0 && ta >= 0 && tb >= 0 && !dup && !bad;
	fprintf(stderr,
		"xsk_fwd: frames: free %u + fill A %" PRId64 " + fill B %" PRId64 " + tx A %" PRId64
		" + tx B %" PRId64 " = %" PRId64 " of %u (free pool duplicates %u, bad %u): %s\n",
		n_free, fa, fb, ta, tb, sum, n_frames, dup, bad, ok ? "OK" : "MISMATCH");
	return ok;
}

/* ------------------------------------------------------------------ setup */

static int load_and_prepare_xdp(const struct opts *o)
{
	struct bpf_program *prog;
	struct bpf_map *xsks, *sidemap;
	__u32 key, val;
	int i, err;

	bpf_obj = bpf_object__open_file(o->xdp_obj, NULL);
	if (!bpf_obj) {
		fprintf(stderr, "xsk_fwd: open %s: %s\n", o->xdp_obj, strerror(errno));
		return -1;
	}
	err = bpf_object__load(bpf_obj);
	if (err) {
		fprintf(stderr, "xsk_fwd: load %s: %s\n", o->xdp_obj, strerror(-err));
		return -1;
	}
	prog = bpf_object__find_program_by_name(bpf_obj, XSK_FWD_PROG_NAME);
	xsks = bpf_object__find_map_by_name(bpf_obj, XSK_FWD_XSKMAP_NAME);
	sidemap = bpf_object__find_map_by_name(bpf_obj, XSK_FWD_SIDEMAP_NAME);
	if (!prog || !xsks || !sidemap) {
		fprintf(stderr, "xsk_fwd: %s lacks program %s or map %s/%s\n", o->xdp_obj,
			XSK_FWD_PROG_NAME, XSK_FWD_XSKMAP_NAME, XSK_FWD_SIDEMAP_NAME);
		return -1;
	}
	prog_fd = bpf_program__fd(prog);

	for (i = 0; i < XSK_FWD_NSIDES; i++) {
		key = i;
		val = sides[i].ifindex;
		if (bpf_map_update_elem(bpf_map__fd(sidemap), &key, &val, BPF_ANY)) {
			fprintf(stderr, "xsk_fwd: side map update: %s\n", strerror(errno));
			return -1;
		}
		key = XSK_FWD_XSK_KEY(i, o->queue);
		val = sides[i].fd;
		if (bpf_map_update_elem(bpf_map__fd(xsks), &key, &val, BPF_ANY)) {
			fprintf(stderr, "xsk_fwd: xskmap[%u] = %s socket: %s\n", key,
				sides[i].ifname, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int attach_xdp(void)
{
	int i, err;

	for (i = 0; i < XSK_FWD_NSIDES; i++) {
		err = bpf_xdp_attach(sides[i].ifindex, prog_fd,
				     XDP_FLAGS_UPDATE_IF_NOEXIST | xdp_mode_flag, NULL);
		if (err) {
			fprintf(stderr, "xsk_fwd: attach XDP to %s: %s%s\n", sides[i].ifname,
				strerror(-err),
				err == -EBUSY || err == -EEXIST ?
					" (another XDP program is attached; not replacing it)" : "");
			return -1;
		}
		sides[i].attached = true;
	}
	return 0;
}

/* Detach only if the program on the interface is still ours (XDP_FLAGS_REPLACE). */
static void detach_xdp(void)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, aopts, .old_prog_fd = prog_fd);
	int i, err;

	for (i = 0; i < XSK_FWD_NSIDES; i++) {
		if (!sides[i].attached)
			continue;
		err = bpf_xdp_detach(sides[i].ifindex, XDP_FLAGS_REPLACE | xdp_mode_flag, &aopts);
		if (err == -ENODEV)
			fprintf(stderr, "xsk_fwd: %s is gone; nothing to detach\n", sides[i].ifname);
		else if (err)
			fprintf(stderr, "xsk_fwd: detach XDP from %s: %s (left in place)\n",
				sides[i].ifname, strerror(-err));
		sides[i].attached = false;
	}
}

static int setup_xsks(const struct opts *o)
{
	struct xsk_umem_config ucfg = {
		.fill_size = o->ring,
		.comp_size = o->ring,
		.frame_size = XSK_UMEM__DEFAULT_FRAME_SIZE,
		.frame_headroom = 0,
		.flags = 0,
	};
	struct xsk_socket_config scfg = {
		.rx_size = o->ring,
		.tx_size = o->ring,
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.xdp_flags = 0,
		.bind_flags = (o->zc ? XDP_ZEROCOPY : XDP_COPY) | XDP_USE_NEED_WAKEUP,
	};
	struct side *a = &sides[XSK_FWD_SIDE_A], *b = &sides[XSK_FWD_SIDE_B];
	struct xdp_options xo;
	socklen_t len;
	uint32_t i;
	int err;

	n_frames = o->frames;
	umem_size = (size_t)n_frames * XSK_UMEM__DEFAULT_FRAME_SIZE;
	frame_mask = ~(uint64_t)(XSK_UMEM__DEFAULT_FRAME_SIZE - 1);
	umem_area = mmap(NULL, umem_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (umem_area == MAP_FAILED) {
		umem_area = NULL;
		fprintf(stderr, "xsk_fwd: mmap UMEM (%zu bytes): %s\n", umem_size, strerror(errno));
		return -1;
	}
	free_stack = calloc(n_frames, sizeof(*free_stack));
	if (!free_stack)
		return -1;
	for (i = 0; i < n_frames; i++)
		free_stack[n_free++] = (uint64_t)(n_frames - 1 - i) * XSK_UMEM__DEFAULT_FRAME_SIZE;

	/* The UMEM's own fill/completion rings become side A's. */
	err = xsk_umem__create(&umem, umem_area, umem_size, &a->fill, &a->comp, &ucfg);
	if (err) {
		fprintf(stderr, "xsk_fwd: xsk_umem__create: %s\n", strerror(-err));
		return -1;
	}
	err = xsk_socket__create(&a->xsk, a->ifname, o->queue, umem, &a->rx, &a->tx, &scfg);
	if (err) {
		fprintf(stderr, "xsk_fwd: AF_XDP socket on %s queue %u (%s): %s\n", a->ifname,
			o->queue, o->zc ? "zero-copy" : "copy", strerror(-err));
		return -1;
	}
	/* Second device: XDP_SHARED_UMEM, its own fill and completion rings. */
	err = xsk_socket__create_shared(&b->xsk, b->ifname, o->queue, umem, &b->rx, &b->tx,
					&b->fill, &b->comp, &scfg);
	if (err) {
		fprintf(stderr, "xsk_fwd: shared-UMEM AF_XDP socket on %s queue %u: %s\n",
			b->ifname, o->queue, strerror(-err));
		return -1;
	}
	a->fd = xsk_socket__fd(a->xsk);
	b->fd = xsk_socket__fd(b->xsk);

	for (i = 0; i < XSK_FWD_NSIDES; i++) {
		struct side *s = &sides[i];

		len = sizeof(xo);
		if (!getsockopt(s->fd, SOL_XDP, XDP_OPTIONS, &xo, &len))
			fprintf(stderr, "xsk_fwd: %s queue %u bound %s\n", s->ifname, o->queue,
				xo.flags & XDP_OPTIONS_ZEROCOPY ? "zero-copy" : "copy mode");
		if (o->tx_budget &&
		    setsockopt(s->fd, SOL_XDP, XDP_MAX_TX_SKB_BUDGET, &o->tx_budget,
			       sizeof(o->tx_budget)))
			fprintf(stderr, "xsk_fwd: %s: XDP_MAX_TX_SKB_BUDGET %u: %s (kernel default kept)\n",
				s->ifname, o->tx_budget, strerror(errno));
	}

	refill(a, o->ring);
	refill(b, o->ring);
	return 0;
}

static void teardown_xsks(void)
{
	/* The shared socket first: side A's socket owns the UMEM fd. */
	if (sides[XSK_FWD_SIDE_B].xsk)
		xsk_socket__delete(sides[XSK_FWD_SIDE_B].xsk);
	if (sides[XSK_FWD_SIDE_A].xsk)
		xsk_socket__delete(sides[XSK_FWD_SIDE_A].xsk);
	sides[XSK_FWD_SIDE_A].xsk = sides[XSK_FWD_SIDE_B].xsk = NULL;
	if (umem && xsk_umem__delete(umem))
		fprintf(stderr, "xsk_fwd: xsk_umem__delete: still in use\n");
	umem = NULL;
	if (umem_area)
		munmap(umem_area, umem_size);
	umem_area = NULL;
	free(free_stack);
	free_stack = NULL;
}

/* ------------------------------------------------------------------- main */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xsk_fwd --if-a IF --if-b IF [options]\n"
		"  --if-a IF          side A interface (frames from A leave through B)\n"
		"  --if-b IF          side B interface\n"
		"  --queue Q          RX/TX queue on both interfaces (default 0)\n"
		"  --xdp-obj PATH     companion XDP object (default: xsk_redirect.bpf.o next to\n"
		"                     this binary); loaded, attached to A and B, detached on exit\n"
		"  --xdp-mode M       native (default) or skb (generic XDP)\n"
		"  --zc               bind zero-copy (default: copy mode, e.g. veth)\n"
		"  --busy-poll        never sleep in poll(); spin even when idle\n"
		"  --interval SEC     print per-direction counters every SEC seconds\n"
		"  --duration SEC     exit by itself after SEC seconds\n"
		"  --frames N         UMEM frames of 4096 bytes (default %d)\n"
		"  --ring N           size of every ring, power of 2 (default %d)\n"
		"  --batch N          RX batch per socket per round (default %d)\n"
		"  --tx-budget N      copy mode: descriptors per sendto() (XDP_MAX_TX_SKB_BUDGET,\n"
		"                     Linux >= 6.17, 32..ring; default: kernel's, 32)\n"
		"  -v, --verbose      libbpf warnings and debug\n"
		"Stops on SIGINT/SIGTERM. Human lines on stderr; one JSON line on stdout at exit.\n",
		DEFAULT_FRAMES, DEFAULT_RING, DEFAULT_BATCH);
}

static bool parse_uint(const char *s, unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || end == s || v > UINT_MAX)
		return false;
	*out = (unsigned int)v;
	return true;
}

static char *default_obj_path(void)
{
	static char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 32);
	char *slash;

	if (n <= 0)
		return "xsk_redirect.bpf.o";
	path[n] = 0;
	slash = strrchr(path, '/');
	strcpy(slash ? slash + 1 : path, "xsk_redirect.bpf.o");
	return path;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_IFA = 256, O_IFB, O_QUEUE, O_OBJ, O_MODE, O_ZC, O_BUSY, O_INTERVAL,
	       O_DURATION, O_FRAMES, O_RING, O_BATCH, O_BUDGET };
	static const struct option lo[] = {
		{ "if-a", required_argument, NULL, O_IFA },
		{ "if-b", required_argument, NULL, O_IFB },
		{ "queue", required_argument, NULL, O_QUEUE },
		{ "xdp-obj", required_argument, NULL, O_OBJ },
		{ "xdp-mode", required_argument, NULL, O_MODE },
		{ "zc", no_argument, NULL, O_ZC },
		{ "busy-poll", no_argument, NULL, O_BUSY },
		{ "interval", required_argument, NULL, O_INTERVAL },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "frames", required_argument, NULL, O_FRAMES },
		{ "ring", required_argument, NULL, O_RING },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "tx-budget", required_argument, NULL, O_BUDGET },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c;
	bool ok;

	*o = (struct opts){ .frames = DEFAULT_FRAMES, .ring = DEFAULT_RING,
			    .batch = DEFAULT_BATCH };
	while ((c = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		ok = true;
		switch (c) {
		case O_IFA: o->if_a = optarg; break;
		case O_IFB: o->if_b = optarg; break;
		case O_QUEUE: ok = parse_uint(optarg, &o->queue); break;
		case O_OBJ: o->xdp_obj = optarg; break;
		case O_MODE:
			if (!strcmp(optarg, "skb"))
				o->xdp_skb = true;
			else if (strcmp(optarg, "native"))
				ok = false;
			break;
		case O_ZC: o->zc = true; break;
		case O_BUSY: o->busy_poll = true; break;
		case O_INTERVAL: o->interval = strtod(optarg, NULL); ok = o->interval > 0; break;
		case O_DURATION: o->duration = strtod(optarg, NULL); ok = o->duration > 0; break;
		case O_FRAMES: ok = parse_uint(optarg, &o->frames); break;
		case O_RING: ok = parse_uint(optarg, &o->ring); break;
		case O_BATCH: ok = parse_uint(optarg, &o->batch); break;
		case O_BUDGET: ok = parse_uint(optarg, &o->tx_budget); break;
		case 'v': o->verbose = true; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
		if (!ok) {
			fprintf(stderr, "xsk_fwd: bad value for option: %s\n", optarg);
			return -1;
		}
	}
	if (optind != argc || !o->if_a || !o->if_b) {
		usage(stderr);
		return -1;
	}
	if (!strcmp(o->if_a, o->if_b)) {
		fprintf(stderr, "xsk_fwd: --if-a and --if-b must differ\n");
		return -1;
	}
	if (o->queue >= XSK_FWD_MAX_QUEUES || !o->ring || (o->ring & (o->ring - 1)) ||
	    !o->batch || o->batch > MAX_BATCH || o->frames < 2 * o->ring ||
	    o->frames > (1u << 20)) {
		fprintf(stderr, "xsk_fwd: need queue < %d, ring a power of 2, 1 <= batch <= %d, "
			"2*ring <= frames <= 1048576\n", XSK_FWD_MAX_QUEUES, MAX_BATCH);
		return -1;
	}
	if (!o->xdp_obj)
		o->xdp_obj = default_obj_path();
	return 0;
}

int main(int argc, char **argv)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	struct sigaction sa = { .sa_handler = on_signal };
	struct pollfd pfd[XSK_FWD_NSIDES];
	struct opts o;
	double t0, t_end = 0, next_print = 0, t;
	uint32_t idle = 0, i;
	bool frames_ok = false;
	int rc = 1;

	if (parse_args(argc, argv, &o))
		return 2;
	libbpf_set_print(o.verbose ? NULL : libbpf_quiet);
	xdp_mode_flag = o.xdp_skb ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL); /* no SA_RESTART: poll() returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	/* UMEM is charged to RLIMIT_MEMLOCK without CAP_IPC_LOCK; harmless if refused. */
	setrlimit(RLIMIT_MEMLOCK, &rl);

	sides[XSK_FWD_SIDE_A].ifname = o.if_a;
	sides[XSK_FWD_SIDE_B].ifname = o.if_b;
	for (i = 0; i < XSK_FWD_NSIDES; i++) {
		sides[i].ifindex = if_nametoindex(sides[i].ifname);
		if (!sides[i].ifindex) {
			fprintf(stderr, "xsk_fwd: interface %s: %s\n", sides[i].ifname,
				strerror(errno));
			return 1;
		}
	}

	if (setup_xsks(&o) || load_and_prepare_xdp(&o) || attach_xdp())
		goto out;

	fprintf(stderr, "xsk_fwd: ready: %s <-> %s queue %u, %u frames, rings %u, batch %u, "
		"%s, XDP %s (%s)%s\n", o.if_a, o.if_b, o.queue, o.frames, o.ring, o.batch,
		o.zc ? "zero-copy" : "copy mode", o.xdp_skb ? "skb" : "native", o.xdp_obj,
		o.busy_poll ? ", busy-poll" : "");

	pfd[0] = (struct pollfd){ .fd = sides[XSK_FWD_SIDE_A].fd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = sides[XSK_FWD_SIDE_B].fd, .events = POLLIN };
	t0 = now_s();
	if (o.duration)
		t_end = t0 + o.duration;
	if (o.interval)
		next_print = t0 + o.interval;

	while (!stop_flag) {
		if (round_once(o.batch)) {
			idle = 0;
		} else if (!o.busy_poll && ++idle >= IDLE_ROUNDS) {
			/* In copy mode poll() also drives TX (xsk_poll -> generic xmit). */
			idle_polls++;
			poll(pfd, XSK_FWD_NSIDES, POLL_TIMEOUT_MS);
			idle = 0;
		}
		if ((o.interval || o.duration) && (idle == 0 || !(rounds & 1023))) {
			t = now_s();
			if (o.interval && t >= next_print) {
				print_lines("stats", t - t0);
				next_print += o.interval;
			}
			if (t_end && t >= t_end)
				break;
		}
	}

	/* Stop new arrivals, then flush what is in flight (bounded, ~100 ms). */
	detach_xdp();
	for (i = 0; i < 1000; i++) {
		const struct side *a = &sides[XSK_FWD_SIDE_A], *b = &sides[XSK_FWD_SIDE_B];

		if (!round_once(o.batch) && a->tx_pkts == a->comp_pkts &&
		    b->tx_pkts == b->comp_pkts)
			break;
		usleep(100);
	}
	t = now_s() - t0;
	print_lines("final", t);
	for (i = 0; i < XSK_FWD_NSIDES; i++) {
		struct xdp_statistics st;
		const struct side *s = &sides[i];

		get_xsk_stats(s, &st);
		fprintf(stderr,
			"xsk_fwd: %s: kicks %" PRIu64 " (eagain %" PRIu64 ", ebusy %" PRIu64
			", enobufs %" PRIu64 ", other %" PRIu64 "), fill wakeups %" PRIu64
			"; kernel: rx_dropped %llu rx_ring_full %llu fill_empty %llu "
			"tx_ring_empty %llu invalid rx/tx %llu/%llu\n",
			s->ifname, s->kicks, s->kick_eagain, s->kick_ebusy, s->kick_enobufs,
			s->kick_other, s->fill_wakeups, (unsigned long long)st.rx_dropped,
			(unsigned long long)st.rx_ring_full,
			(unsigned long long)st.rx_fill_ring_empty_descs,
			(unsigned long long)st.tx_ring_empty_descs,
			(unsigned long long)st.rx_invalid_descs,
			(unsigned long long)st.tx_invalid_descs);
	}
	fprintf(stderr, "xsk_fwd: %" PRIu64 " rounds, %" PRIu64 " idle polls\n", rounds,
		idle_polls);
	frames_ok = check_frames();

	printf("{\"a_to_b_pkts\":%" PRIu64 ",\"b_to_a_pkts\":%" PRIu64 ",\"drops\":%" PRIu64
	       ",\"elapsed_s\":%.3f,\"frames_ok\":%s,\"zc\":%s,\"rounds\":%" PRIu64
	       ",\"idle_polls\":%" PRIu64 ",",
	       sides[XSK_FWD_SIDE_A].fwd_pkts, sides[XSK_FWD_SIDE_B].fwd_pkts,
	       sides[XSK_FWD_SIDE_A].drop_txfull + sides[XSK_FWD_SIDE_B].drop_txfull, t,
	       frames_ok ? "true" : "false", o.zc ? "true" : "false", rounds, idle_polls);
	json_side(stdout, "a", &sides[XSK_FWD_SIDE_A]);
	putchar(',');
	json_side(stdout, "b", &sides[XSK_FWD_SIDE_B]);
	printf("}\n");
	fflush(stdout);
	rc = frames_ok ? 0 : 3;
out:
	detach_xdp();
	teardown_xsks();
	if (bpf_obj)
		bpf_object__close(bpf_obj);
	return rc;
}
