"""Prometheus metrics, read at scrape time from the XDP program's per-CPU maps and the
workers' C counters. Nothing here runs per packet.

Names follow the Prometheus naming guide: `xdpfw_` prefix, `_total` counters, base units,
receive and forward as separate metrics, and only bounded labels: `device` (an interface
of the appliance), `action` and `reason` (closed enums from xdpfw_shared.h), `queue`.
"""
from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

import xdpfw
from xdpfw.cheader import CHeader
from xdpfw.control import shared

_FLOW_H = CHeader(shared.BPF_DIR.parent / "_fast" / "xdpfw_flow.h")
FLOW_EVENT_LABELS = [label for _, label in _FLOW_H.xmacro("XDPFW_FLOW_EVENTS")]
TCP_RESULT_LABELS = [label for _, label in _FLOW_H.xmacro("XDPFW_TCP_RESULTS")]

if TYPE_CHECKING:
    from xdpfw.control.daemon import Appliance

log = logging.getLogger("xdpfw.metrics")

XSK_STATS = (
    ("rx_dropped", "xsk_rx_dropped", "Frames the kernel dropped on an AF_XDP socket's RX path (e.g. too big for a UMEM frame)."),
    ("rx_ring_full", "xsk_rx_ring_full", "Frames dropped because an AF_XDP RX ring was full (worker too slow)."),
    ("rx_fill_ring_empty_descs", "xsk_fill_ring_empty", "Times the kernel found an AF_XDP fill ring empty."),
    ("tx_ring_empty_descs", "xsk_tx_ring_empty", "Times the kernel found an AF_XDP TX ring empty when woken."),
    ("rx_invalid_descs", "xsk_rx_invalid_descs", "Invalid descriptors on an AF_XDP RX path."),
    ("tx_invalid_descs", "xsk_tx_invalid_descs", "Invalid descriptors on an AF_XDP TX ring."),
)


class ApplianceCollector:
    """Custom collector over one Appliance (see prometheus client docs on custom collectors)."""

    def __init__(self, appliance: "Appliance"):
        self.app = appliance

    def describe(self):
        return []  # no registration-time collect(): maps may not exist yet

    def collect(self):
        app = self.app
        devices = [app.if_a, app.if_b]

        info = GaugeMetricFamily("xdpfw_build_info", "Build information.", labels=["version"])
        info.add_metric([xdpfw.__version__], 1)
        yield info

        mode = GaugeMetricFamily("xdpfw_datapath_fail_mode",
                                 "Configured behaviour when no worker is bound (1 for the active mode).",
                                 labels=["mode"])
        for m in ("open", "closed"):
            mode.add_metric([m], 1 if (m == "open") == app.fail_open else 0)
        yield mode

        attached = GaugeMetricFamily("xdpfw_xdp_attached", "1 while the XDP program is attached to the device.",
                                     labels=["device"])
        for dev in devices:
            attached.add_metric([dev], 1 if dev in app.attached_devices() else 0)
        yield attached

        workers = GaugeMetricFamily("xdpfw_workers", "Worker threads (queue pairs) running.")
        workers.add_metric([], app.workers_running())
        yield workers

        acl = GaugeMetricFamily("xdpfw_acl_entries", "Entries in the kernel ACL maps.")
        acl.add_metric([], len(app.acl))
        yield acl

        # -- XDP program ------------------------------------------------------------
        xdp_p = CounterMetricFamily("xdpfw_xdp_packets", "Frames seen by the XDP program, by what it did.",
                                    labels=["device", "action"])
        xdp_b = CounterMetricFamily("xdpfw_xdp_bytes", "Bytes seen by the XDP program, by what it did.",
                                    labels=["device", "action"])
        dropped_p: dict[tuple[str, str], int] = {}
        dropped_b: dict[tuple[str, str], int] = {}
        xdp = app.xdp_counters()
        for side, dev in enumerate(devices):
            for action, label in enumerate(shared.XDP_ACTION_LABELS):
                pk, by = xdp[side][action] if xdp else (0, 0)
                xdp_p.add_metric([dev, label], pk)
                xdp_b.add_metric([dev, label], by)
            for action, reason in ((shared.XdpAction.ACL_DROP, "acl"),
                                   (shared.XdpAction.FAIL_CLOSED, "fail_mode")):
                pk, by = xdp[side][action] if xdp else (0, 0)
                dropped_p[(dev, reason)] = dropped_p.get((dev, reason), 0) + pk
                dropped_b[(dev, reason)] = dropped_b.get((dev, reason), 0) + by
        yield xdp_p
        yield xdp_b

        # -- workers ----------------------------------------------------------------
        rx_p = CounterMetricFamily("xdpfw_received_packets", "Frames workers took off the device's AF_XDP RX rings.",
                                   labels=["device"])
        rx_b = CounterMetricFamily("xdpfw_received_bytes", "Bytes workers took off the device's AF_XDP RX rings.",
                                   labels=["device"])
        fw_p = CounterMetricFamily("xdpfw_forwarded_packets",
                                   "Frames that arrived on the device and were forwarded to its peer by a worker.",
                                   labels=["device"])
        fw_b = CounterMetricFamily("xdpfw_forwarded_bytes",
                                   "Bytes that arrived on the device and were forwarded to its peer by a worker.",
                                   labels=["device"])
        kicks = CounterMetricFamily("xdpfw_tx_wakeups", "sendto() wakeups of the device's AF_XDP TX rings.",
                                    labels=["device"])
        kick_err = CounterMetricFamily("xdpfw_tx_wakeup_errors", "Failed TX wakeups other than back-pressure.",
                                       labels=["device"])
        acc_err = CounterMetricFamily("xdpfw_frame_accounting_errors",
                                      "UMEM frames seen where they cannot be (a bug; should stay 0).")
        batches = CounterMetricFamily("xdpfw_worker_batches", "Worker loop iterations that moved frames.",
                                      labels=["queue"])
        totals = {k: [0, 0] for k in ("rx_packets", "rx_bytes", "fwd_packets", "fwd_bytes", "tx_kicks", "tx_kick_errors")}
        acc_total = 0
        for q, c in app.worker_counters():
            for k in totals:
                for side in range(2):
                    totals[k][side] += c[k][side]
            for side, dev in enumerate(devices):
                for r, reason in enumerate(shared.DROP_REASON_LABELS):
                    dropped_p[(dev, reason)] = dropped_p.get((dev, reason), 0) + c["drop_packets"][side][r]
                    dropped_b[(dev, reason)] = dropped_b.get((dev, reason), 0) + c["drop_bytes"][side][r]
            acc_total += c["accounting_errors"]
            batches.add_metric([str(q)], c["batches"])
        for side, dev in enumerate(devices):
            rx_p.add_metric([dev], totals["rx_packets"][side])
            rx_b.add_metric([dev], totals["rx_bytes"][side])
            fw_p.add_metric([dev], totals["fwd_packets"][side])
            fw_b.add_metric([dev], totals["fwd_bytes"][side])
            kicks.add_metric([dev], totals["tx_kicks"][side])
            kick_err.add_metric([dev], totals["tx_kick_errors"][side])
        acc_err.add_metric([], acc_total)
        yield from (rx_p, rx_b, fw_p, fw_b, kicks, kick_err, acc_err, batches)

        drop_p = CounterMetricFamily("xdpfw_dropped_packets",
                                     "Frames dropped, by the device they arrived on and a closed set of reasons.",
                                     labels=["device", "reason"])
        drop_b = CounterMetricFamily("xdpfw_dropped_bytes", "Bytes dropped, by device and reason.",
                                     labels=["device", "reason"])
        for dev in devices:
            for reason in shared.DROP_REASON_LABELS:
                drop_p.add_metric([dev, reason], dropped_p.get((dev, reason), 0))
                drop_b.add_metric([dev, reason], dropped_b.get((dev, reason), 0))
        yield drop_p
        yield drop_b

        # -- kernel AF_XDP socket statistics -------------------------------------------
        fams = {key: CounterMetricFamily(f"xdpfw_{name}", doc, labels=["device"]) for key, name, doc in XSK_STATS}
        sums = {key: [0, 0] for key, _, _ in XSK_STATS}
        for side_stats in app.xsk_statistics():
            for side in range(2):
                for key in sums:
                    sums[key][side] += side_stats[side].get(key, 0)
        for key, fam in fams.items():
            for side, dev in enumerate(devices):
                fam.add_metric([dev], sums[key][side])
            yield fam

        yield from self._engine_metrics(app)

        occ = GaugeMetricFamily("xdpfw_umem_frames", "UMEM frames by where they are.", labels=["place"])
        places = {"free": 0, "fill": 0, "tx": 0}
        for o in app.ring_occupancy():
            places["free"] += o["free"]
            places["fill"] += sum(o["fill"])
            places["tx"] += sum(o["tx"])
        for place, n in places.items():
            occ.add_metric([place], n)
        yield occ


    def _engine_metrics(self, app):
        """Inspection engine, flow table and TCP tracker counters, summed over workers."""
        from xdpfw._fast import engine as E

        engines = [e for e in app.engines() if e is not None]
        if not engines:
            return
        totals = {name: 0 for name in E.COUNTER_NAMES}
        flows_active = 0
        flow_events = [0] * len(FLOW_EVENT_LABELS)
        tcp = [0] * len(TCP_RESULT_LABELS)
        for e in engines:
            c = e.counters()
            for name in E.COUNTER_NAMES:
                totals[name] += c[name]
            flows_active += c["flows"]["active"]
            flow_events = [a + b for a, b in zip(flow_events, c["flows"]["events"])]
            tcp = [a + b for a, b in zip(tcp, c["flows"]["tcp"])]
        simple = {
            "packets": ("xdpfw_inspected_packets", "Frames the inspection engine looked at."),
            "scanned_bytes": ("xdpfw_scanned_bytes", "Payload bytes given to the matchers."),
            "decode_errors": ("xdpfw_decode_errors", "Frames the decoder could not decode past some layer."),
            "alerts": ("xdpfw_alerts", "Alert records queued to the control plane."),
            "alert_ring_full": ("xdpfw_alerts_lost", "Alert records lost because the alert ring was full."),
            "match_overflow": ("xdpfw_match_overflow", "Matcher reports beyond a scan's match buffer."),
            "stream_pool_empty": ("xdpfw_stream_pool_exhausted", "Flows inspected without a matcher stream."),
            "matcher_errors": ("xdpfw_matcher_errors", "Matcher calls that failed."),
        }
        for key, (name, doc) in simple.items():
            fam = CounterMetricFamily(name, doc)
            fam.add_metric([], totals[key])
            yield fam
        g = GaugeMetricFamily("xdpfw_flows_active", "Flows in the workers' flow tables.")
        g.add_metric([], flows_active)
        yield g
        fe = CounterMetricFamily("xdpfw_flow_events", "Flow table events.", labels=["event"])
        for label, v in zip(FLOW_EVENT_LABELS, flow_events):
            fe.add_metric([label], v)
        yield fe
        ts = CounterMetricFamily("xdpfw_tcp_segments", "TCP segments by what the in-order tracker made of them.",
                                 labels=["result"])
        for label, v in zip(TCP_RESULT_LABELS, tcp):
            ts.add_metric([label], v)
        yield ts


class MetricsServer:
    """The /metrics endpoint on its own registry, served from a daemon thread."""

    def __init__(self, appliance: "Appliance", listen: str):
        host, _, port = listen.rpartition(":")
        self.host = host.strip("[]") or "127.0.0.1"
        self.port = int(port)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(ApplianceCollector(appliance))
        self._server = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._server, self._thread = start_http_server(self.port, self.host, registry=self.registry)
        self.port = self._server.server_port
        log.info("metrics on http://%s:%d/metrics", self.host, self.port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
