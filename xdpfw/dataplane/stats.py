"""One snapshot of what the data plane counts, read once for a metrics scrape or an EVE
stats record: the XDP program's per-CPU stats map (one read, summed over CPUs), each
worker's C counters, the UMEM/ring accounting, the AF_XDP sockets' kernel statistics and
the inspection engines' counters. Consumers (xdpfw/service/metrics.py, the daemon's
stats records) read the snapshot, never the Appliance or its queue pairs.

The snapshot is taken part by part. A part whose read fails (say, a socket closing while
the appliance stops) is recorded with its error instead of being raised, so the other
parts stay usable; reading that part from the snapshot raises the recorded error. Each
part's read time is kept too. Nothing here runs per packet: only at scrape or stats time.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

PARTS = ("appliance", "xdp", "workers", "rings", "xsk", "engines")


@dataclass(frozen=True)
class ApplianceState:
    fail_open: bool
    attached: tuple[str, ...]        # devices the appliance attached its XDP program to
    workers_running: int             # worker threads alive
    acl_entries: int                 # entries in the kernel ACL maps


@dataclass(frozen=True)
class RingStats:
    occupancy: list[dict]            # per queue pair: UMEM frames "free", in "fill" and "tx" [side]
    umem_frames: int                 # UMEM frames the queue pairs own in all


@dataclass(frozen=True)
class EngineStats:
    counters: list[dict]             # each engine's counters()
    flow_capacity: int               # the engines' flow table sizes, summed


def _appliance(app) -> ApplianceState:
    return ApplianceState(app.fail_open, tuple(app.attached_devices()), app.workers_running(), len(app.acl))


def _rings(app) -> RingStats:
    occ = app.ring_occupancy()
    return RingStats(occ, app.cfg.frames * len(occ))


def _engines(app) -> EngineStats:
    engines = [e for e in app.engines() if e is not None]
    return EngineStats([e.counters() for e in engines], sum(e.flow_table.size for e in engines))


_READERS: dict[str, Callable[[Any], Any]] = {
    "appliance": _appliance,
    "xdp": lambda app: app.xdp_counters(),            # [side][action] -> (packets, bytes), or None
    "workers": lambda app: app.worker_counters(),     # [(queue, counters)]
    "rings": _rings,
    "xsk": lambda app: app.xsk_statistics(),          # per queue pair: [XDP_STATISTICS of side A, B]
    "engines": _engines,
}


@dataclass
class StatsSnapshot:
    devices: tuple[str, str]                          # side A, side B
    taken_ns: int                                     # time.time_ns() when the read began
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, BaseException] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)   # read time of each part

    def get(self, part: str) -> Any:
        """The part's value; raises the error its read met, KeyError if it was not taken."""
        if part in self.errors:
            raise self.errors[part]
        return self.values[part]

    @property
    def appliance(self) -> ApplianceState:
        return self.get("appliance")

    @property
    def xdp(self) -> list | None:
        return self.get("xdp")

    @property
    def workers(self) -> list[tuple[int, dict]]:
        return self.get("workers")

    @property
    def rings(self) -> RingStats:
        return self.get("rings")

    @property
    def xsk(self) -> list:
        return self.get("xsk")

    @property
    def engines(self) -> EngineStats:
        return self.get("engines")


def snapshot(app, parts=PARTS) -> StatsSnapshot:
    """Read `parts` of the Appliance `app` (anything with its scrape-time views), each once."""
    snap = StatsSnapshot((app.if_a, app.if_b), time.time_ns())
    for part in parts:
        t0 = time.perf_counter()
        try:
            snap.values[part] = _READERS[part](app)
        except Exception as e:  # noqa: BLE001 - recorded; raised to whoever reads that part
            snap.errors[part] = e
        snap.seconds[part] = time.perf_counter() - t0
    return snap
