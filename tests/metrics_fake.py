"""A fake Appliance for the metrics collector (no BPF, no sockets): what the daemon's
Appliance exposes at scrape time, with values the tests choose."""
from __future__ import annotations

from types import SimpleNamespace

from prometheus_client import CollectorRegistry, generate_latest

from xdpfw.dataplane import shared


class FakeAppliance:
    def __init__(self, if_a="a0", if_b="b0", *, rx=(0, 0), fwd=(0, 0), drops=None, batch_buckets=None,
                 batch_sum_ns=0, engines=(), attached=True, workers=1, xdp=None, occupancy=None, xsk=None):
        from xdpfw._fast.xsk import BATCH_NS_BOUNDS

        self.if_a, self.if_b = if_a, if_b
        self.fail_open = True
        self.acl = []
        self.cfg = SimpleNamespace(frames=8192)
        self.rx, self.fwd = list(rx), list(fwd)
        self.drops = drops or {}          # {(side, reason label): packets}
        self.batch_buckets = batch_buckets or [0] * (len(BATCH_NS_BOUNDS) + 1)
        self.batch_sum_ns = batch_sum_ns
        self._engines = list(engines)
        self.attached = attached
        self.workers = workers
        self.xdp = xdp                    # [[(packets, bytes)] * actions] * 2, or None
        self.occupancy = occupancy or {"free": 8192 - 4096, "fill": [2048, 2048], "tx": [0, 0]}
        self.xsk = xsk                    # [{XDP_STATISTICS of side A}, {... of side B}], or None

    def attached_devices(self):
        return [self.if_a, self.if_b] if self.attached else []

    def workers_running(self):
        return self.workers

    def xdp_counters(self):
        return self.xdp

    def engines(self):
        return self._engines

    def worker_counters(self):
        n = len(shared.DROP_REASON_LABELS)
        dp = [[0] * n, [0] * n]
        for (side, reason), v in self.drops.items():
            dp[side][shared.DROP_REASON_LABELS.index(reason)] = v
        c = {"rx_packets": self.rx, "rx_bytes": [x * 100 for x in self.rx], "fwd_packets": self.fwd,
             "fwd_bytes": [x * 100 for x in self.fwd], "drop_packets": dp,
             "drop_bytes": [[x * 100 for x in row] for row in dp], "tx_kicks": [0, 0], "tx_kick_errors": [0, 0],
             "fill_wakeups": [0, 0], "replies": [0, 0], "batches": sum(self.batch_buckets), "idle_polls": 0,
             "accounting_errors": 0, "loops": 1, "batch_ns_buckets": self.batch_buckets,
             "batch_ns_sum": self.batch_sum_ns}
        return [(0, c)]

    def xsk_statistics(self):
        return [self.xsk or [{}, {}]]

    def ring_occupancy(self):
        return [self.occupancy]


def registry(app=None, control=None, attach=None) -> CollectorRegistry:
    from xdpfw.service.metrics import ApplianceCollector

    app = app or FakeAppliance()
    reg = CollectorRegistry(auto_describe=False)
    reg.register(ApplianceCollector(app, control,
                                    kernel_attach_check=attach or (lambda devs: {d: True for d in devs})))
    return reg


def exposition(app=None, control=None, attach=None) -> str:
    return generate_latest(registry(app, control, attach)).decode()


def exported_metric_names() -> set[str]:
    """Metric names as exposed (counters with _total). Every section emits its families
    even without engines or traffic, so this is the whole catalogue."""
    names = set()
    for line in exposition().splitlines():
        if line.startswith("# TYPE "):
            names.add(line.split()[2])   # counters already carry _total here
    return names
