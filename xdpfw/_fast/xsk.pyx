# cython: language_level=3, embedsignature=True, boundscheck=False, wraparound=False, cdivision=True
"""AF_XDP queue pair: one UMEM shared by a socket on side A and a socket on side B.

A frame received on one side is handed to the inspection engine in place and then either
forwarded by moving its UMEM descriptor onto the other side's TX ring (no copy) or dropped
by returning it to the free pool. The loop runs with the GIL released and creates no
Python object per frame; Python objects appear only in the control methods (counters,
accounting, statistics), which the control plane calls at scrape time.

Every frame is in exactly one place at any time: the free pool, a side's fill ring (or
that side's RX ring, which the kernel fills from it), the worker, or a side's TX ring (or
its completion ring). `_state` records the place of every frame and every transition is
checked; a frame seen where it cannot be is counted in `accounting_errors`.
"""
from cpython.mem cimport PyMem_Calloc, PyMem_Free
from cpython.pycapsule cimport PyCapsule_GetPointer
from libc.errno cimport errno, EAGAIN, EBUSY, ENOBUFS
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from xdpfw._fast.includes.clock cimport monotonic_ns
from libc.string cimport memcpy, memset, strerror

from xdpfw._fast.includes.libxdp cimport *
from xdpfw._fast.includes.shared cimport *

# Where a frame is (values of _state[frame]).
cdef enum:
    AT_FREE = 0
    AT_FILL = 1      # + side: in the side's fill ring, or its RX ring
    AT_WORKER = 3
    AT_TX = 4        # + side: in the side's TX ring, or its completion ring

cdef enum:
    MAX_BATCH = 256
    # Empty loop rounds (each a few ring-pointer reads, ~0.1 us) before sleeping in poll():
    # ~100 us of spinning keeps a busy link from paying a wakeup per burst, and an idle
    # appliance still sleeps.
    IDLE_SPINS = 1000
    # Buckets of the per-batch processing time histogram (upper bounds below, + overflow).
    BATCH_NS_NBOUNDS = 14

# Upper bounds (ns) of the batch-time buckets, 1-2-5 steps from 1 us: a batch of
# 64 frames costs a few us when forwarding and grows with inspection work (to 20 ms).
cdef uint64_t BATCH_NS_BOUND[BATCH_NS_NBOUNDS]
BATCH_NS_BOUND[:] = [1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000, 500000,
                     1000000, 2000000, 5000000, 10000000, 20000000]

cdef struct side_t:
    xsk_socket *xsk
    xsk_ring_cons rx
    xsk_ring_prod tx
    xsk_ring_prod fill
    xsk_ring_cons comp
    int fd
    uint64_t fill_outstanding   # frames given to the fill ring, not yet seen on RX
    uint64_t tx_outstanding     # frames put on the TX ring, not yet seen on completion
    bint kick_pending


cdef class QueuePair:
    """AF_XDP sockets on (ifname_a, queue) and (ifname_b, queue) sharing one UMEM.

    mode: "auto" tries zero-copy and falls back to copy mode; "copy" or "zerocopy" force.
    """
    cdef side_t _sides[2]
    cdef xsk_umem *_umem
    cdef void *_area
    cdef uint64_t _area_size
    cdef uint32_t _nframes
    cdef uint32_t _frame_shift
    cdef uint64_t *_free
    cdef uint32_t _nfree
    cdef uint8_t *_state
    cdef uint32_t _batch
    cdef uint32_t _ring_size
    cdef bint _busy_poll
    cdef volatile int _stop
    cdef bint _running
    cdef xdpfw_worker_counters _cnt
    cdef uint64_t _batch_ns_hist[BATCH_NS_NBOUNDS + 1]   # per-bucket (not cumulative) counts
    cdef uint64_t _batch_ns_sum
    cdef xdpfw_inspect_fn _inspect
    cdef xdpfw_batch_fn _between    # the engine's between-batches function, or NULL
    cdef xdpfw_extra_fn _extra      # the engine's extra-reply function (rejectboth), or NULL
    cdef void *_engine
    cdef object _engine_ref   # keeps the engine alive while the loop uses it
    cdef readonly str ifname_a, ifname_b, mode
    cdef readonly int queue

    def __cinit__(self):
        self._umem = NULL
        self._area = NULL
        self._free = NULL
        self._state = NULL
        memset(&self._sides[0], 0, sizeof(side_t))
        memset(&self._sides[1], 0, sizeof(side_t))
        memset(&self._cnt, 0, sizeof(self._cnt))
        memset(self._batch_ns_hist, 0, sizeof(self._batch_ns_hist))
        self._batch_ns_sum = 0
        self._inspect = NULL
        self._between = NULL
        self._extra = NULL
        self._engine = NULL

    def __init__(self, str ifname_a, str ifname_b, int queue=0, *, int frames=8192,
                 int ring_size=2048, int batch=64, str mode="auto", bint busy_poll=False):
        if ring_size <= 0 or ring_size & (ring_size - 1):
            raise ValueError(f"ring_size must be a power of two, got {ring_size}")
        if not 0 < batch <= MAX_BATCH:
            raise ValueError(f"batch must be in 1..{MAX_BATCH}, got {batch}")
        if frames < 4 * ring_size:
            # Both fill rings full plus both TX rings full must fit, or a side starves.
            raise ValueError(f"frames must be >= 4 * ring_size ({4 * ring_size}), got {frames}")
        if mode not in ("auto", "copy", "zerocopy"):
            raise ValueError(f"mode must be auto, copy or zerocopy, got {mode!r}")
        self.ifname_a, self.ifname_b, self.queue = ifname_a, ifname_b, queue
        self._nframes = frames
        self._frame_shift = 12  # 4096-byte frames (aligned UMEM chunk mode)
        self._ring_size = ring_size
        self._batch = batch
        self._busy_poll = busy_poll
        self._area_size = <uint64_t>frames << self._frame_shift
        self._area = mmap(NULL, self._area_size, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0)
        if self._area == MAP_FAILED:
            self._area = NULL
            raise MemoryError(f"mmap of {self._area_size} bytes of UMEM failed")
        self._free = <uint64_t *>PyMem_Calloc(frames, sizeof(uint64_t))
        self._state = <uint8_t *>PyMem_Calloc(frames, 1)
        if self._free == NULL or self._state == NULL:
            raise MemoryError()
        cdef uint32_t i
        for i in range(frames):
            self._free[i] = <uint64_t>(frames - 1 - i) << self._frame_shift
        self._nfree = frames

        modes = ["zerocopy", "copy"] if mode == "auto" else [mode]
        errors = []
        for m in modes:
            err = self._open(m)
            if err == 0:
                self.mode = m
                break
            errors.append(f"{m}: {strerror(-err).decode()}")
            self._close_sockets()
        else:
            raise OSError(f"AF_XDP on {ifname_a}/{ifname_b} queue {queue}: " + "; ".join(errors))
        self._refill(0)
        self._refill(1)

    cdef int _open(self, str m) except? -1:
        cdef xsk_umem_config ucfg
        cdef xsk_socket_config scfg
        cdef int err
        cdef bytes name
        ucfg.fill_size = self._ring_size
        ucfg.comp_size = self._ring_size
        ucfg.frame_size = 1 << self._frame_shift
        ucfg.frame_headroom = 0
        ucfg.flags = 0
        err = xsk_umem__create(&self._umem, self._area, self._area_size,
                               &self._sides[0].fill, &self._sides[0].comp, &ucfg)
        if err:
            self._umem = NULL
            return err
        scfg.rx_size = self._ring_size
        scfg.tx_size = self._ring_size
        scfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD  # our XDP program steers
        scfg.xdp_flags = 0
        # The second socket inherits these through XDP_SHARED_UMEM (the kernel refuses
        # mode flags on a shared bind), so both sides always run in the same mode.
        scfg.bind_flags = XDP_USE_NEED_WAKEUP | (XDP_ZEROCOPY if m == "zerocopy" else XDP_COPY)
        for side, ifname in ((0, self.ifname_a), (1, self.ifname_b)):
            name = ifname.encode()
            err = xsk_socket__create_shared(&self._sides[side].xsk, name, self.queue, self._umem,
                                            &self._sides[side].rx, &self._sides[side].tx,
                                            &self._sides[side].fill, &self._sides[side].comp,
                                            &scfg)
            if err:
                self._sides[side].xsk = NULL
                return err
            self._sides[side].fd = xsk_socket__fd(self._sides[side].xsk)
        return 0

    cdef void _close_sockets(self) noexcept:
        cdef int side
        for side in (1, 0):
            if self._sides[side].xsk != NULL:
                xsk_socket__delete(self._sides[side].xsk)
                self._sides[side].xsk = NULL
        if self._umem != NULL:
            xsk_umem__delete(self._umem)
            self._umem = NULL

    def __dealloc__(self):
        self._close_sockets()
        if self._area != NULL:
            munmap(self._area, self._area_size)
        PyMem_Free(self._free)
        PyMem_Free(self._state)

    # ---- control-plane API (Python objects allowed here) -----------------------------
    def fd(self, int side):
        """File descriptor of the side's socket: the value to put in the XSKMAP."""
        return self._sides[side].fd

    def close(self):
        """Close both sockets (the kernel drops their XSKMAP entries: fail mode applies)."""
        if self._running:
            raise RuntimeError("stop() the queue pair and let run() return before close()")
        self._close_sockets()

    def bind_engine(self, engine):
        """Inspect every frame with `engine` (an object with inspector(): a capsule of an
        xdpfw_inspect_fn taking the engine itself as first argument), or None to forward
        everything. Only while run() is not running."""
        if self._running:
            raise RuntimeError("bind_engine() while the worker runs")
        if engine is None:
            self._inspect, self._between, self._engine, self._engine_ref = NULL, NULL, NULL, None
            self._extra = NULL
            return
        cap = engine.inspector()
        self._inspect = <xdpfw_inspect_fn>PyCapsule_GetPointer(cap, b"xdpfw_inspect_fn")
        between = getattr(engine, "between_batches", None)
        self._between = (<xdpfw_batch_fn>PyCapsule_GetPointer(between(), b"xdpfw_batch_fn")
                         if between is not None else NULL)
        extra = getattr(engine, "extra_reply", None)
        self._extra = (<xdpfw_extra_fn>PyCapsule_GetPointer(extra(), b"xdpfw_extra_fn")
                       if extra is not None else NULL)
        self._engine = <void *>engine
        self._engine_ref = engine

    @property
    def engine(self):
        return self._engine_ref

    def stop(self):
        """Ask run() to return after the current batch; safe from any thread."""
        self._stop = 1

    def run(self):
        """Forward frames until stop(). Blocks; the GIL is released throughout."""
        if self._sides[0].xsk == NULL:
            raise RuntimeError("queue pair is closed")
        self._stop = 0
        self._running = True
        try:
            with nogil:
                self._loop()
        finally:
            self._running = False

    def counters(self):
        """The worker's counters as a dict of plain ints (scrape time)."""
        c = self._cnt
        return {
            "rx_packets": list(c.rx_packets), "rx_bytes": list(c.rx_bytes),
            "fwd_packets": list(c.fwd_packets), "fwd_bytes": list(c.fwd_bytes),
            "drop_packets": [[c.drop_packets[s][r] for r in range(XDPFW_DROP_REASON_MAX)] for s in range(2)],
            "drop_bytes": [[c.drop_bytes[s][r] for r in range(XDPFW_DROP_REASON_MAX)] for s in range(2)],
            "tx_kicks": list(c.tx_kicks), "tx_kick_errors": list(c.tx_kick_errors),
            "fill_wakeups": list(c.fill_wakeups), "batches": c.batches,
            "idle_polls": c.idle_polls, "accounting_errors": c.accounting_errors,
            "replies": list(c.replies), "loops": c.loops,
            # per-batch processing time: counts per bucket of BATCH_NS_BOUNDS (+ overflow)
            "batch_ns_buckets": list(self._batch_ns_hist), "batch_ns_sum": self._batch_ns_sum,
        }

    def accounting(self):
        """Where every frame is. `consistent` checks the ring counts against the per-frame
        state: each frame is in exactly one place. Exact only while run() is not running."""
        cdef uint32_t i
        cdef uint64_t places[6]
        memset(places, 0, sizeof(places))
        for i in range(self._nframes):
            places[self._state[i]] += 1
        acc = {
            "total": self._nframes, "free": self._nfree,
            "fill": [self._sides[0].fill_outstanding, self._sides[1].fill_outstanding],
            "tx": [self._sides[0].tx_outstanding, self._sides[1].tx_outstanding],
            "worker": places[AT_WORKER],
            "errors": self._cnt.accounting_errors,
        }
        acc["consistent"] = (
            acc["free"] + sum(acc["fill"]) + sum(acc["tx"]) == self._nframes
            and places[AT_FREE] == self._nfree
            and places[AT_FILL] == self._sides[0].fill_outstanding
            and places[AT_FILL + 1] == self._sides[1].fill_outstanding
            and places[AT_TX] == self._sides[0].tx_outstanding
            and places[AT_TX + 1] == self._sides[1].tx_outstanding
            and places[AT_WORKER] == 0
        )
        return acc

    def xdp_statistics(self, int side):
        """The kernel's XDP_STATISTICS for the side's socket."""
        cdef xdp_statistics st
        cdef unsigned int optlen = sizeof(st)
        memset(&st, 0, sizeof(st))
        if getsockopt(self._sides[side].fd, SOL_XDP, XDP_STATISTICS, &st, &optlen) != 0:
            raise OSError(errno, strerror(errno).decode())
        return {"rx_dropped": st.rx_dropped, "rx_invalid_descs": st.rx_invalid_descs,
                "tx_invalid_descs": st.tx_invalid_descs, "rx_ring_full": st.rx_ring_full,
                "rx_fill_ring_empty_descs": st.rx_fill_ring_empty_descs,
                "tx_ring_empty_descs": st.tx_ring_empty_descs}

    def ring_occupancy(self):
        """Free-pool size and per-side fill/TX occupancy (frames), for gauges."""
        return {"free": self._nfree,
                "fill": [self._sides[0].fill_outstanding, self._sides[1].fill_outstanding],
                "tx": [self._sides[0].tx_outstanding, self._sides[1].tx_outstanding]}

    # ---- the loop (no GIL, no Python objects) -----------------------------------------
    cdef void _loop(self) noexcept nogil:
        cdef pollfd fds[2]
        cdef uint32_t moved, idle = 0
        cdef int side, timeout
        cdef uint64_t t0, dt
        cdef uint32_t b
        fds[0].fd = self._sides[0].fd
        fds[1].fd = self._sides[1].fd
        fds[0].events = POLLIN
        fds[1].events = POLLIN
        while not self._stop:
            self._cnt.loops += 1
            if self._between != NULL:
                self._between(self._engine)   # a staged rule set is swapped in here
            t0 = monotonic_ns()
            moved = self._rx(0) + self._rx(1)
            for side in range(2):
                self._complete(side)
            for side in range(2):
                if self._sides[side].kick_pending:
                    self._kick_tx(side)
            self._refill(0)
            self._refill(1)
            if moved:
                self._cnt.batches += 1
                # One batch: RX of both sides, inspection, forwarding, completions, refill.
                dt = monotonic_ns() - t0
                b = 0
                while b < BATCH_NS_NBOUNDS and dt > BATCH_NS_BOUND[b]:
                    b += 1
                self._batch_ns_hist[b] += 1
                self._batch_ns_sum += dt
                idle = 0
                continue
            idle += 1
            if self._busy_poll or idle < IDLE_SPINS:
                continue
            # Nothing arrived for a while: sleep in the kernel until a frame does. TX still
            # waiting to be kicked (peer back-pressure) must not wait long.
            timeout = 1 if (self._sides[0].kick_pending or self._sides[1].kick_pending) else 100
            self._cnt.idle_polls += 1
            poll(fds, 2, timeout)

    cdef inline void _free_frame(self, uint32_t frame) noexcept nogil:
        self._state[frame] = AT_FREE
        self._free[self._nfree] = <uint64_t>frame << self._frame_shift
        self._nfree += 1

    cdef inline void _drop(self, uint32_t frame, uint32_t side, uint32_t reason,
                           uint32_t length) noexcept nogil:
        self._free_frame(frame)
        self._cnt.drop_packets[side][reason] += 1
        self._cnt.drop_bytes[side][reason] += length

    cdef bint _send_reply(self, int verdict, uint32_t side, uint32_t frame, uint64_t addr,
                          uint32_t length) noexcept nogil:
        """Transmit what a REPLY verdict left in the frame; False: nothing sent with it
        (the caller frees the frame)."""
        cdef const uint8_t *extra
        cdef uint32_t elen = 0, eframe
        cdef uint64_t eaddr
        if length == 0 or length > (1U << self._frame_shift) - <uint32_t>(addr & ((1ULL << self._frame_shift) - 1)):
            return False
        if verdict == XDPFW_VERDICT_REPLY:
            return self._reply(side, frame, addr, length)
        if verdict == XDPFW_VERDICT_REPLY_PEER:
            return self._reply(side ^ 1, frame, addr, length)
        if verdict != XDPFW_VERDICT_REPLY_BOTH:
            return False
        if self._extra != NULL and self._nfree:
            extra = self._extra(self._engine, &elen)
            if extra != NULL and 0 < elen <= 256:   # headers only (Engine.extra)
                self._nfree -= 1
                eaddr = self._free[self._nfree]
                eframe = <uint32_t>(eaddr >> self._frame_shift)
                if self._state[eframe] != AT_FREE:
                    self._cnt.accounting_errors += 1
                self._state[eframe] = AT_WORKER
                # a few header bytes the engine built (the reset to the destination)
                memcpy(xsk_umem__get_data(self._area, eaddr), extra, elen)
                if not self._reply(side ^ 1, eframe, eaddr, elen):
                    self._free_frame(eframe)
        return self._reply(side, frame, addr, length)

    cdef bint _reply(self, uint32_t side, uint32_t frame, uint64_t addr, uint32_t length) noexcept nogil:
        """Send the frame (rewritten into a reply by the engine) back out of `side`. False
        when that TX ring has no room (the caller frees the frame)."""
        cdef side_t *s = &self._sides[side]
        cdef uint32_t idx
        cdef xdp_desc *td
        if xsk_ring_prod__reserve(&s.tx, 1, &idx) != 1:
            return False
        td = xsk_ring_prod__tx_desc(&s.tx, idx)
        td.addr = addr
        td.len = length
        td.options = 0
        self._state[frame] = AT_TX + side
        xsk_ring_prod__submit(&s.tx, 1)
        s.tx_outstanding += 1
        s.kick_pending = 1
        self._cnt.replies[side] += 1
        return True

    cdef uint32_t _rx(self, uint32_t side) noexcept nogil:
        cdef side_t *s = &self._sides[side]
        cdef uint32_t peer = side ^ 1
        cdef side_t *p = &self._sides[peer]
        cdef uint32_t idx, tidx, n, i, k = 0, room, frame, reason, reply_len
        cdef const xdp_desc *d
        cdef xdp_desc *td
        cdef uint64_t addrs[MAX_BATCH]
        cdef uint32_t lens[MAX_BATCH]
        cdef uint64_t now
        cdef int verdict

        n = xsk_ring_cons__peek(&s.rx, self._batch, &idx)
        if n == 0:
            return 0
        now = monotonic_ns() if self._inspect != NULL else 0
        for i in range(n):
            d = xsk_ring_cons__rx_desc(&s.rx, idx + i)
            frame = <uint32_t>(xsk_umem__extract_addr(d.addr) >> self._frame_shift)
            if frame >= self._nframes:
                # The kernel handed back an address we never gave it: count, skip.
                self._cnt.accounting_errors += 1
                continue
            if self._state[frame] != AT_FILL + side:
                self._cnt.accounting_errors += 1
            self._state[frame] = AT_WORKER
            s.fill_outstanding -= 1
            self._cnt.rx_packets[side] += 1
            self._cnt.rx_bytes[side] += d.len
            verdict = XDPFW_VERDICT_PASS
            if self._inspect != NULL:
                reason = XDPFW_DROP_RULE
                reply_len = (1U << self._frame_shift) - <uint32_t>(d.addr & ((1ULL << self._frame_shift) - 1))
                verdict = self._inspect(self._engine,
                                        <uint8_t *>xsk_umem__get_data(self._area, d.addr),
                                        d.len, side, now, &reason, &reply_len)
            if verdict == XDPFW_VERDICT_PASS:
                addrs[k] = d.addr
                lens[k] = d.len
                k += 1
            else:
                if reason >= XDPFW_DROP_REASON_MAX:
                    reason = XDPFW_DROP_RULE
                self._cnt.drop_packets[side][reason] += 1
                self._cnt.drop_bytes[side][reason] += d.len
                if not self._send_reply(verdict, side, frame, d.addr, reply_len):
                    self._free_frame(frame)
        xsk_ring_cons__release(&s.rx, n)

        if k == 0:
            return n
        room = xsk_prod_nb_free(&p.tx, k)
        if room > k:
            room = k
        if room:
            xsk_ring_prod__reserve(&p.tx, room, &tidx)
            for i in range(room):
                td = xsk_ring_prod__tx_desc(&p.tx, tidx + i)
                td.addr = addrs[i]   # the same UMEM address: forwarding moves no bytes
                td.len = lens[i]
                td.options = 0
                self._state[addrs[i] >> self._frame_shift] = AT_TX + peer
                self._cnt.fwd_packets[side] += 1
                self._cnt.fwd_bytes[side] += lens[i]
            xsk_ring_prod__submit(&p.tx, room)
            p.tx_outstanding += room
            p.kick_pending = 1
        for i in range(room, k):
            self._drop(<uint32_t>(addrs[i] >> self._frame_shift), side, XDPFW_DROP_RING_FULL, lens[i])
        return n

    cdef void _complete(self, uint32_t side) noexcept nogil:
        cdef side_t *s = &self._sides[side]
        cdef uint32_t idx, n, i, frame
        n = xsk_ring_cons__peek(&s.comp, self._ring_size, &idx)
        if n == 0:
            return
        for i in range(n):
            frame = <uint32_t>(xsk_umem__extract_addr(xsk_ring_cons__comp_addr(&s.comp, idx + i)[0])
                               >> self._frame_shift)
            if frame >= self._nframes:
                self._cnt.accounting_errors += 1
                continue
            if self._state[frame] != AT_TX + side:
                self._cnt.accounting_errors += 1
            self._state[frame] = AT_FREE
            self._free[self._nfree] = <uint64_t>frame << self._frame_shift
            self._nfree += 1
        xsk_ring_cons__release(&s.comp, n)
        s.tx_outstanding -= n

    cdef void _refill(self, uint32_t side) noexcept nogil:
        cdef side_t *s = &self._sides[side]
        cdef side_t *o = &self._sides[side ^ 1]
        cdef uint32_t want, other, idx, i
        cdef uint64_t addr
        if self._nfree == 0:
            return
        want = xsk_prod_nb_free(&s.fill, self._nfree)
        # Leave the other side its share when both fill rings are hungry.
        other = self._ring_size - <uint32_t>o.fill_outstanding
        if other > self._nfree // 2:
            other = self._nfree // 2
        if want > self._nfree - other:
            want = self._nfree - other
        if want == 0:
            return
        xsk_ring_prod__reserve(&s.fill, want, &idx)
        for i in range(want):
            self._nfree -= 1
            addr = self._free[self._nfree]
            if self._state[addr >> self._frame_shift] != AT_FREE:
                self._cnt.accounting_errors += 1
            self._state[addr >> self._frame_shift] = AT_FILL + side
            xsk_ring_prod__fill_addr(&s.fill, idx + i)[0] = addr
        xsk_ring_prod__submit(&s.fill, want)
        s.fill_outstanding += want
        if xsk_ring_prod__needs_wakeup(&s.fill):
            self._cnt.fill_wakeups[side] += 1
            recvfrom(s.fd, NULL, 0, MSG_DONTWAIT, NULL, NULL)

    cdef void _kick_tx(self, uint32_t side) noexcept nogil:
        cdef side_t *s = &self._sides[side]
        cdef int tries
        if not xsk_ring_prod__needs_wakeup(&s.tx):
            s.kick_pending = 0
            return
        # In copy mode each sendto() transmits a bounded budget of descriptors and
        # answers EAGAIN while more remain; a few rounds drain one batch.
        for tries in range(8):
            self._cnt.tx_kicks[side] += 1
            if sendto(s.fd, NULL, 0, MSG_DONTWAIT, NULL, 0) >= 0:
                s.kick_pending = 0
                return
            if errno != EAGAIN:
                break
        if errno != EAGAIN and errno != EBUSY and errno != ENOBUFS:
            self._cnt.tx_kick_errors[side] += 1
            s.kick_pending = 0


# Constants of xdpfw_shared.h as the C compiler saw them (checked against the control
# plane's reading of the header in tests/unit/test_shared_contract.py).
DROP_REASON_MAX = XDPFW_DROP_REASON_MAX
NSIDES = XDPFW_NSIDES
MAX_QUEUES = XDPFW_MAX_QUEUES
BATCH_NS_BOUNDS = tuple(BATCH_NS_BOUND[i] for i in range(BATCH_NS_NBOUNDS))
