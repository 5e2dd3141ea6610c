"""The appliance: XDP program + one worker thread per queue pair between two interfaces.

Start order: load and configure the XDP program (ACL, fail mode, peer devmap), open the
AF_XDP queue pairs and bind their sockets in the XSKMAP, start the workers, then attach
XDP to both interfaces. Stop order is the reverse: detach XDP first (so no frame is left
in a ring that nobody drains), then stop and join the workers and close their sockets.

If the process dies without stopping (SIGKILL, crash), the XDP program stays attached
(bcc attaches over netlink) and the kernel removes the dead sockets from the XSKMAP: from
then on the program applies the fail mode by itself. A later `xdpfw run` on the same
interfaces replaces the program.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from xdpfw.dataplane import shared
from xdpfw.dataplane.bpfload import AclTables, XdpProgram, ifindex
from xdpfw.dataplane.nic import pair_queue_count

log = logging.getLogger("xdpfw")


@dataclass
class ApplianceConfig:
    if_a: str
    if_b: str
    queues: int | None = None          # None: one per active RX queue (the same on both sides)
    fail_open: bool = True
    xsk_mode: str = "auto"             # auto | copy | zerocopy
    xdp_mode: str = "native"           # native | generic
    frames: int = 8192
    ring_size: int = 2048
    batch: int = 64
    busy_poll: bool = False
    acl: AclTables = field(default_factory=AclTables.empty)
    engine_factory: object = None      # callable -> one inspection engine per queue pair
    watchdog_ms: int = 1000            # heartbeat age at which XDP applies the fail mode (0: off)
    bypass: bool = False               # XDP flow bypass: flows the engines are done with skip the workers
    bypass_idle_s: float = 600.0       # a bypassed flow's XDP entries go after this long without a frame


class Appliance:
    def __init__(self, cfg: ApplianceConfig):
        if cfg.if_a == cfg.if_b:
            raise ValueError("the two sides must be different interfaces")
        self.cfg = cfg
        self.if_a, self.if_b = cfg.if_a, cfg.if_b
        self.fail_open = cfg.fail_open
        self.acl = cfg.acl
        self.prog: XdpProgram | None = None
        self.pairs: list = []
        self.threads: list[threading.Thread] = []
        self.final_accounting: list[dict] = []   # per queue pair, taken at stop()
        self._engines: list = []                 # one per queue pair; kept after stop() for a last drain
        self._last_loops: list[int] = []
        self._wd_stop = threading.Event()
        self._wd_thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._bypass_stop = threading.Event()
        self._bypass_thread: threading.Thread | None = None
        self.bypass_removed = 0          # XDP entries the sweeper removed (idle)
        self.bypass_removed_packets = 0  # ... and the frames they had forwarded

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        from xdpfw._fast.xsk import QueuePair

        cfg = self.cfg
        idx_a, idx_b = ifindex(cfg.if_a), ifindex(cfg.if_b)
        nq = pair_queue_count(cfg.if_a, cfg.if_b, cfg.queues)
        if nq > shared.MAX_QUEUES:
            raise ValueError(f"{nq} queues exceed XDPFW_MAX_QUEUES={shared.MAX_QUEUES}")
        try:
            self.prog = XdpProgram()
            self.prog.configure(idx_a, idx_b, cfg.fail_open, cfg.acl)
            for q in range(nq):
                qp = QueuePair(cfg.if_a, cfg.if_b, q, frames=cfg.frames, ring_size=cfg.ring_size,
                               batch=cfg.batch, mode=cfg.xsk_mode, busy_poll=cfg.busy_poll)
                self.pairs.append(qp)
                if cfg.engine_factory is not None:
                    engine = cfg.engine_factory()
                    if cfg.bypass:
                        engine.set_bypass_map(self.prog.bypass_map_fd)
                    qp.bind_engine(engine)
                    self._engines.append(engine)
                self.prog.bind_socket(shared.SIDE_A, q, qp.fd(shared.SIDE_A))
                self.prog.bind_socket(shared.SIDE_B, q, qp.fd(shared.SIDE_B))
                t = threading.Thread(target=qp.run, name=f"worker-q{q}", daemon=True)
                t.start()
                self.threads.append(t)
                log.info("queue %d: AF_XDP %s mode on %s and %s, one shared UMEM", q, qp.mode,
                         cfg.if_a, cfg.if_b)
            self.prog.set_watchdog(cfg.watchdog_ms * 1_000_000)
            if cfg.bypass:
                self.prog.set_bypass(True)
                self._bypass_stop.clear()
                self._bypass_thread = threading.Thread(target=self._bypass_sweeper, name="bypass-sweeper",
                                                       daemon=True)
                self._bypass_thread.start()
            if cfg.watchdog_ms:
                self._wd_stop.clear()
                self._wd_thread = threading.Thread(target=self._watchdog, name="watchdog", daemon=True)
                self._wd_thread.start()
            for ifname in (cfg.if_a, cfg.if_b):
                self.prog.attach(ifname, cfg.xdp_mode)
        except BaseException:
            self.stop()
            raise
        log.info("inline between %s (A) and %s (B): %d queue pair(s), fail mode %s, %d ACL entries",
                 cfg.if_a, cfg.if_b, nq, "open" if cfg.fail_open else "closed", len(cfg.acl))

    def stop(self) -> None:
        self._wd_stop.set()
        self._bypass_stop.set()
        if self._wd_thread is not None:
            self._wd_thread.join()
            self._wd_thread = None
        if self._bypass_thread is not None:
            self._bypass_thread.join()
            self._bypass_thread = None
        with self._lock:
            if self.prog is not None:
                self.prog.detach_all()
            for qp in self.pairs:
                qp.stop()
            for t in self.threads:
                t.join()
            self.final_accounting = []
            for q, qp in enumerate(self.pairs):
                acc = qp.accounting()
                self.final_accounting.append(acc)
                if not acc["consistent"] or acc["errors"]:
                    log.error("queue %d: frame accounting broken at stop: %s", q, acc)
                qp.close()
            self.pairs.clear()
            self.threads.clear()
            self.prog = None

    def _watchdog(self) -> None:
        # Beats several times per period; stops beating as soon as any worker loop stalls
        # (or this whole process does), and the XDP program then applies the fail mode.
        period = max(self.cfg.watchdog_ms / 5000, 0.01)
        while not self._wd_stop.wait(period):
            self.watchdog_tick()

    def _bypass_sweeper(self) -> None:
        period = min(max(self.cfg.bypass_idle_s / 4, 0.05), 5.0)
        while not self._bypass_stop.wait(period):
            self.bypass_sweep()

    def bypass_sweep(self) -> int:
        """Remove the XDP bypass entries idle past bypass_idle_s; returns how many are left."""
        prog = self.prog
        if prog is None:
            return 0
        left, removed, pkts = prog.sweep_bypass(int(self.cfg.bypass_idle_s * 1e9))
        self.bypass_removed += removed
        self.bypass_removed_packets += pkts
        return left

    def watchdog_tick(self) -> bool:
        """Beat the XDP program's heartbeat if every worker loop turned since the last tick
        (call it a few times per watchdog period). Returns whether it beat."""
        loops = [qp.counters()["loops"] for qp in self.pairs]
        alive = len(loops) == len(self._last_loops) and all(a > b for a, b in zip(loops, self._last_loops))
        self._last_loops = loops
        if alive and self.prog is not None:
            self.prog.beat()
        return alive

    # -- stats (scrape time) -------------------------------------------------------------
    def stats(self, parts=None):
        """One stats snapshot of this appliance (xdpfw/dataplane/stats.py); metrics and
        EVE stats records read that, not the views below."""
        from xdpfw.dataplane.stats import PARTS, snapshot

        return snapshot(self, PARTS if parts is None else parts)

    # -- views, read by the stats snapshot (and tests) -------------------------------------
    def attached_devices(self) -> list[str]:
        return list(self.prog.attached) if self.prog else []

    def workers_running(self) -> int:
        return sum(1 for t in self.threads if t.is_alive())

    def xdp_counters(self):
        return self.prog.action_counters() if self.prog else None

    def engines(self):
        return list(self._engines)

    def worker_counters(self):
        return [(q, qp.counters()) for q, qp in enumerate(self.pairs)]

    def xsk_statistics(self):
        return [[qp.xdp_statistics(0), qp.xdp_statistics(1)] for qp in self.pairs]

    def ring_occupancy(self):
        return [qp.ring_occupancy() for qp in self.pairs]
