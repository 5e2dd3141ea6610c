"""Prometheus metrics, read at scrape time from one data-plane stats snapshot
(xdpfw/dataplane/stats.py: the XDP program's per-CPU maps, the workers' C counters, rings,
sockets and engines) and the control plane's own counts. Nothing here runs per packet.

Names follow the Prometheus naming guide: `xdpfw_` prefix, `_total` counters, base units,
receive and forward as separate metrics, and only bounded labels: `device` (an interface
of the appliance), `action`, `reason`, `event`, `result` (closed enums from the C headers),
`queue` (at most XDPFW_MAX_QUEUES), `place`, `placement`, `collector`, `mode`.

docs/OPERATIONS.md holds the catalogue (every metric, its type, labels and meaning);
tests/unit/test_status.py checks that the two agree.

Control-plane counts (rules loaded, alerts by EVE action, reloads) live in a
`ControlStats` the daemon fills in and hands to the collector; the reload path updates its
reload fields (`reload_done()`).
"""
from __future__ import annotations

import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, ProcessCollector, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

import xdpfw
from xdpfw.cheader import CHeader
from xdpfw.dataplane import shared
from xdpfw.dataplane.stats import snapshot

_FLOW_H = CHeader(shared.BPF_DIR.parent / "_fast" / "xdpfw_flow.h")
FLOW_EVENT_LABELS = [label for _, label in _FLOW_H.xmacro("XDPFW_FLOW_EVENTS")]
TCP_RESULT_LABELS = [label for _, label in _FLOW_H.xmacro("XDPFW_TCP_RESULTS")]
_PKT_H = CHeader(shared.BPF_DIR.parent / "_fast" / "xdpfw_pkt.h")
DECODE_EVENT_LABELS = [label for _, label in _PKT_H.xmacro("XDPFW_DECODE_EVENTS")]
_APP_H = CHeader(shared.BPF_DIR.parent / "_fast" / "xdpfw_app.h")
APP_PROTO_LABELS = [label for _, label in _APP_H.xmacro("XDPFW_APP_PROTOS")
                    if label not in ("unknown", "failed")]

if TYPE_CHECKING:
    from xdpfw.dataplane.appliance import Appliance

log = logging.getLogger("xdpfw.metrics")

XSK_STATS = (
    ("rx_dropped", "xsk_rx_dropped", "Frames the kernel dropped on an AF_XDP socket's RX path (e.g. too big for a UMEM frame)."),
    ("rx_ring_full", "xsk_rx_ring_full", "Frames dropped because an AF_XDP RX ring was full (worker too slow)."),
    ("rx_fill_ring_empty_descs", "xsk_fill_ring_empty", "Times the kernel found an AF_XDP fill ring empty."),
    ("tx_ring_empty_descs", "xsk_tx_ring_empty", "Times the kernel found an AF_XDP TX ring empty when woken."),
    ("rx_invalid_descs", "xsk_rx_invalid_descs", "Invalid descriptors on an AF_XDP RX path."),
    ("tx_invalid_descs", "xsk_tx_invalid_descs", "Invalid descriptors on an AF_XDP TX ring."),
)

# Engine counters exported one to one: engine counter name -> (metric name, help).
ENGINE_COUNTERS = {
    "packets": ("xdpfw_inspected_packets", "Frames the inspection engine looked at."),
    "scanned_bytes": ("xdpfw_scanned_bytes", "Payload bytes given to the matchers."),
    "decode_errors": ("xdpfw_decode_errors", "Frames the decoder could not decode past some layer."),
    "non_ip": ("xdpfw_non_ip_packets", "Frames that were not IPv4/IPv6 (forwarded uninspected)."),
    "no_flow": ("xdpfw_no_flow_packets", "Frames that got no flow entry (flow table full): the no-flow policy applied."),
    "matches": ("xdpfw_matcher_reports", "Pattern reports from the matchers."),
    "match_overflow": ("xdpfw_match_overflow", "Matcher reports beyond a scan's match buffer."),
    "stream_pool_empty": ("xdpfw_stream_pool_exhausted", "Flows inspected without a matcher stream (pool empty)."),
    "matcher_errors": ("xdpfw_matcher_errors", "Matcher calls that failed."),
    "alerts": ("xdpfw_alerts_queued", "Alert records the engine queued to the control plane."),
    "alert_ring_full": ("xdpfw_alerts_lost", "Alert records lost because the alert ring was full."),
    "alerts_thresholded": ("xdpfw_alerts_thresholded", "Alerts muted by threshold/event_filter."),
    "alerts_suppressed": ("xdpfw_alerts_suppressed", "Alerts muted by a threshold.config suppress."),
    "threshold_evicted": ("xdpfw_threshold_trackers_evicted", "Rate-control trackers reused while live (table full)."),
    "passed_by_rule": ("xdpfw_pass_rule_packets", "Frames a pass rule let through (remaining rules skipped)."),
    "rejects_sent": ("xdpfw_rejects_sent", "Replies built for reject rules (TCP resets, ICMP unreachables)."),
    "tcp_fragments": ("xdpfw_tcp_fragments", "TCP segments carried in IP fragments (dropped inline)."),
    "ttl_raised": ("xdpfw_tcp_ttl_raised", "TCP segments given their direction's highest TTL / hop limit (inline "
                   "normalisation)."),
    "encrypted_flows": ("xdpfw_tls_encrypted_flows", "TLS flows whose content inspection stopped at their encrypted "
                        "records (encryption-handling default)."),
    "bypassed_flows": ("xdpfw_bypassed_flows", "Flows the engine stopped inspecting (encryption-handling bypass)."),
    "bypassed_packets": ("xdpfw_bypassed_packets", "Frames of bypassed flows the worker forwarded uninspected."),
    "bypassed_bytes": ("xdpfw_bypassed_bytes", "Bytes (frames) of bypassed flows the worker forwarded uninspected."),
    "passed_flows": ("xdpfw_pass_rule_flows", "Flows a pass rule settled: forwarded uninspected from then on "
                     "(Suricata 7's pass applied to the flow)."),
    "bypass_offloaded": ("xdpfw_bypass_offloaded_flows", "Bypassed flows handed to the XDP program (forwarded there "
                         "without a worker)."),
    "bypass_offload_failed": ("xdpfw_bypass_offload_failed_flows", "Bypassed flows that could not be handed to the "
                              "XDP program (map write failed, or frames it cannot look up): the worker forwards them."),
    "prefilter_hits": ("xdpfw_prefilter_hits", "Block prefilter: fast-pattern literals found in datagram payloads "
                       "(one per literal per packet)."),
    "prefilter_verified": ("xdpfw_prefilter_verified_rules", "Block prefilter: rules whose literal occurred and "
                           "whose header held, their expressions then scanned."),
    "prefilter_overflow": ("xdpfw_prefilter_overflow_packets", "Block prefilter: packets with more literals than "
                           "its buffer holds, scanned with the whole block database instead."),
    "drop_records_limited": ("xdpfw_drop_records_limited", "Policy drops (not rule drops) past "
                             "policies.drop-records-per-second for their reason: dropped and counted, no EVE record."),
}
# IP fragment streams: engine counter -> `event` label of xdpfw_ip_fragment_events_total.
FRAG_EVENTS = {
    "frag_datagrams": "datagram",
    "frag_completed": "completed",
    "frag_out_of_order": "out_of_order",
    "frag_overlaps": "overlap",
    "frag_after_bad": "after_bad",
    "frag_evicted": "evicted",
}
EVE_ALERT_ACTIONS = ("allowed", "blocked")
COLLECTORS = ("appliance", "xdp", "workers", "xsk", "engine", "control")

_SUMMARY = re.compile(r"(\d+) rules successfully loaded, (\d+) rules failed, (\d+) rules skipped")


@dataclass
class ControlStats:
    """What the control plane counts (never per packet), exported at scrape time.

    The daemon sets the rule counts from the loaded Detection (`set_detection`) and the
    alert sink (its `alerts` and `blocked` counts are the EVE alert records written, by
    EVE `alert.action`); the reload path calls `reload_done()` after each attempt.
    """

    rules_loaded: int = 0
    rules_failed: int = 0
    rules_skipped: int = 0
    rules_kernel: int = 0
    rules_engine: int = 0
    sink: object = None
    reloads: int = 0
    reload_failures: int = 0
    last_reload_timestamp: float = 0.0
    last_reload_success: bool = True
    start_time: float = field(default_factory=time.time)
    eve_outputs: object = None   # daemon.EveOutputs: lines written / dropped / write errors
    compile_cache: object = None  # detect.cache.CompileCache (None: off)
    load_seconds: float = 0.0     # the last rule-set load or reload's build (or cache load) time
    loaded_from_cache: bool = False

    def set_detection(self, det) -> None:
        """Rule counts from a loaded Detection (det.counts(); else its summary line)."""
        m = _SUMMARY.search(getattr(det, "summary", "") or "")
        if hasattr(det, "counts"):
            n = det.counts()
            self.rules_loaded, self.rules_failed, self.rules_skipped = n["loaded"], n["failed"], n["skipped"]
        elif m:
            self.rules_loaded, self.rules_failed, self.rules_skipped = (int(x) for x in m.groups())
        else:
            self.rules_loaded = len(det.in_kernel) + det.engine_rules
            self.rules_failed = self.rules_skipped = 0
        self.rules_kernel = len(det.in_kernel)
        self.rules_engine = det.engine_rules
        self.load_seconds = getattr(det, "load_seconds", 0.0)
        self.loaded_from_cache = bool(getattr(det, "cached", False))

    def reload_done(self, ok: bool, det=None, when: float | None = None) -> None:
        """Record one reload attempt (and the new rule counts when it succeeded)."""
        self.reloads += 1
        if not ok:
            self.reload_failures += 1
        elif det is not None:
            self.set_detection(det)
        self.last_reload_success = ok
        self.last_reload_timestamp = time.time() if when is None else when

    def alerts_by_action(self) -> dict[str, int]:
        s = self.sink
        total = getattr(s, "alerts", 0) if s is not None else 0
        blocked = getattr(s, "blocked", 0) if s is not None else 0
        return {"allowed": total - blocked, "blocked": blocked}


def xdp_attach_state(devices: list[str]) -> dict[str, int]:
    """The id of the XDP program the kernel reports on each device (netlink IFLA_XDP, read
    in the calling thread's network namespace); 0 when none, or the device is missing."""
    from pyroute2 import IPRoute

    out = {dev: 0 for dev in devices}
    with IPRoute() as ipr:
        for dev in devices:
            idx = ipr.link_lookup(ifname=dev)
            if not idx:
                continue
            xdp = ipr.get_links(idx[0])[0].get_attr("IFLA_XDP")
            attrs = dict(xdp["attrs"]) if xdp else {}
            out[dev] = int(attrs.get("IFLA_XDP_PROG_ID") or attrs.get("IFLA_XDP_DRV_PROG_ID")
                           or attrs.get("IFLA_XDP_SKB_PROG_ID") or 0)
    return out


def our_prog_id(app) -> int | None:
    """The kernel id of the appliance's XDP program (from its fd's fdinfo), None if unknown."""
    fn = getattr(getattr(app, "prog", None), "fn", None)
    fd = getattr(fn, "fd", None)
    if fd is None:
        return None
    try:
        with open(f"/proc/self/fdinfo/{fd}") as f:
            m = re.search(r"^prog_id:\s*(\d+)", f.read(), re.M)
    except OSError:
        return None
    return int(m.group(1)) if m else None


def _bcc_version() -> str:
    try:
        import bcc

        return str(getattr(bcc, "__version__", "unknown"))
    except Exception:  # noqa: BLE001 - a label value, never a failure
        return "unknown"


class ApplianceCollector:
    """Custom collector over one Appliance (see prometheus client docs on custom collectors).

    Each scrape reads one stats snapshot of the appliance (xdpfw/dataplane/stats.py) and
    turns it into metric families, section by section. A section whose part of the
    snapshot could not be read (say, a socket closing while the appliance stops), or that
    fails otherwise, is left out of that scrape, logged, and reported by
    xdpfw_scrape_collector_success{collector} = 0; the others are still served.
    """

    def __init__(self, appliance: "Appliance", control: ControlStats | None = None,
                 kernel_attach_check=xdp_attach_state):
        self.app = appliance
        self.control = control
        self.kernel_attach_check = kernel_attach_check
        self._build = (xdpfw.__version__, _bcc_version(), os.uname().release)
        self._lock = threading.Lock()

    def describe(self):
        return []  # no registration-time collect(): maps may not exist yet

    def collect(self):
        # The HTTP server answers scrapes in threads: one collection at a time, as the
        # drop totals are summed across sections in instance state.
        with self._lock:
            fams = list(self._collect())
        yield from fams

    # Snapshot parts each section reads; their read time counts in its duration.
    SECTION_PARTS = {"appliance": ("appliance",), "xdp": ("xdp",), "workers": ("workers", "rings"),
                     "xsk": ("xsk",), "engine": ("engines",), "control": ()}

    def _collect(self):
        snap = snapshot(self.app)
        self._dropped_p: dict[tuple[str, str], int] = {}
        self._dropped_b: dict[tuple[str, str], int] = {}
        dur = GaugeMetricFamily("xdpfw_scrape_collector_duration_seconds",
                                "Time each part of the collector took for this scrape.", labels=["collector"])
        ok = GaugeMetricFamily("xdpfw_scrape_collector_success",
                               "1 if that part of the collector succeeded in this scrape.", labels=["collector"])
        sections = {"appliance": self._appliance, "xdp": self._xdp, "workers": self._workers,
                    "xsk": self._xsk, "engine": self._engine_metrics, "control": self._control}
        for name, section in sections.items():
            t0 = time.perf_counter()
            try:
                fams = list(section(snap))
                good = 1
            except Exception:  # noqa: BLE001 - one broken part must not take the others down
                log.exception("metrics collector %s failed", name)
                fams, good = [], 0
            read = sum(snap.seconds.get(part, 0.0) for part in self.SECTION_PARTS[name])
            dur.add_metric([name], time.perf_counter() - t0 + read)
            ok.add_metric([name], good)
            yield from fams
        # Drops come from the XDP program and the workers: one family, all reasons.
        drop_p = CounterMetricFamily("xdpfw_dropped_packets",
                                     "Frames dropped, by the device they arrived on and a closed set of reasons.",
                                     labels=["device", "reason"])
        drop_b = CounterMetricFamily("xdpfw_dropped_bytes", "Bytes dropped, by device and reason.",
                                     labels=["device", "reason"])
        for dev in snap.devices:
            for reason in shared.DROP_REASON_LABELS:
                drop_p.add_metric([dev, reason], self._dropped_p.get((dev, reason), 0))
                drop_b.add_metric([dev, reason], self._dropped_b.get((dev, reason), 0))
        yield drop_p
        yield drop_b
        yield dur
        yield ok

    def _add_drop(self, dev: str, reason: str, packets: int, nbytes: int) -> None:
        self._dropped_p[(dev, reason)] = self._dropped_p.get((dev, reason), 0) + packets
        self._dropped_b[(dev, reason)] = self._dropped_b.get((dev, reason), 0) + nbytes

    # -- sections ------------------------------------------------------------------------
    def _appliance(self, snap):
        devices = list(snap.devices)
        state = snap.appliance
        info = GaugeMetricFamily("xdpfw_build_info", "Build information (always 1).",
                                 labels=["version", "bcc_version", "kernel"])
        info.add_metric(list(self._build), 1)
        yield info

        mode = GaugeMetricFamily("xdpfw_datapath_fail_mode",
                                 "Configured behaviour when no worker is bound (1 for the active mode).",
                                 labels=["mode"])
        for m in ("open", "closed"):
            mode.add_metric([m], 1 if (m == "open") == state.fail_open else 0)
        yield mode

        # Attached = the appliance attached it AND the kernel still reports that program
        # there: `ip link set DEV xdp off`, or another program put in its place, shows.
        ours = set(state.attached)
        kernel = self.kernel_attach_check(devices) if ours else {}
        pid = our_prog_id(self.app)
        attached = GaugeMetricFamily("xdpfw_xdp_attached",
                                     "1 while the appliance's XDP program is attached to the device.",
                                     labels=["device"])
        for dev in devices:
            k = kernel.get(dev, 0)
            on = dev in ours and bool(k) and (pid is None or k is True or k == pid)
            attached.add_metric([dev], 1 if on else 0)
        yield attached

        workers = GaugeMetricFamily("xdpfw_workers", "Worker threads (queue pairs) running.")
        workers.add_metric([], state.workers_running)
        yield workers
        pairs = GaugeMetricFamily("xdpfw_queue_pairs", "Queue pairs (AF_XDP socket pairs) the appliance opened.")
        pairs.add_metric([], len(snap.workers))
        yield pairs

        acl = GaugeMetricFamily("xdpfw_acl_entries", "Entries in the kernel ACL maps.")
        acl.add_metric([], state.acl_entries)
        yield acl

        start = GaugeMetricFamily("xdpfw_start_time_seconds", "When the appliance started (Unix time).")
        start.add_metric([], self.control.start_time if self.control else 0)
        yield start

    def _xdp(self, snap):
        devices = list(snap.devices)
        xdp_p = CounterMetricFamily("xdpfw_xdp_packets", "Frames seen by the XDP program, by what it did.",
                                    labels=["device", "action"])
        xdp_b = CounterMetricFamily("xdpfw_xdp_bytes", "Bytes seen by the XDP program, by what it did.",
                                    labels=["device", "action"])
        xdp = snap.xdp
        for side, dev in enumerate(devices):
            for action, label in enumerate(shared.XDP_ACTION_LABELS):
                pk, by = xdp[side][action] if xdp else (0, 0)
                xdp_p.add_metric([dev, label], pk)
                xdp_b.add_metric([dev, label], by)
            for action, reason in ((shared.XdpAction.ACL_DROP, "acl"),
                                   (shared.XdpAction.FAIL_CLOSED, "fail_mode")):
                pk, by = xdp[side][action] if xdp else (0, 0)
                self._add_drop(dev, reason, pk, by)
        yield xdp_p
        yield xdp_b

    def _workers(self, snap):
        from xdpfw._fast.xsk import BATCH_NS_BOUNDS

        devices = list(snap.devices)
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
        replies = CounterMetricFamily("xdpfw_replies_sent", "Replies (reject RSTs) sent back out of the device.",
                                      labels=["device"])
        acc_err = CounterMetricFamily("xdpfw_frame_accounting_errors",
                                      "UMEM frames seen where they cannot be (a bug; should stay 0).")
        batches = CounterMetricFamily("xdpfw_worker_batches", "Worker loop iterations that moved frames.",
                                      labels=["queue"])
        idle = CounterMetricFamily("xdpfw_worker_idle_polls", "Times a worker slept in poll() for lack of frames.",
                                   labels=["queue"])
        hist = HistogramMetricFamily("xdpfw_batch_duration_seconds",
                                     "Time a worker spent on one batch (RX of both sides, inspection, "
                                     "forwarding, completions, refill).", labels=["queue"])
        totals = {k: [0, 0] for k in ("rx_packets", "rx_bytes", "fwd_packets", "fwd_bytes", "tx_kicks",
                                      "tx_kick_errors", "replies")}
        acc_total = 0
        for q, c in snap.workers:
            for k in totals:
                for side in range(2):
                    totals[k][side] += c[k][side]
            for side, dev in enumerate(devices):
                for r, reason in enumerate(shared.DROP_REASON_LABELS):
                    self._add_drop(dev, reason, c["drop_packets"][side][r], c["drop_bytes"][side][r])
            acc_total += c["accounting_errors"]
            batches.add_metric([str(q)], c["batches"])
            idle.add_metric([str(q)], c["idle_polls"])
            cum, buckets = 0, []
            for bound, n in zip(BATCH_NS_BOUNDS, c["batch_ns_buckets"]):
                cum += n
                buckets.append((repr(bound / 1e9), cum))
            buckets.append(("+Inf", cum + c["batch_ns_buckets"][len(BATCH_NS_BOUNDS)]))
            hist.add_metric([str(q)], buckets, c["batch_ns_sum"] / 1e9)
        for side, dev in enumerate(devices):
            rx_p.add_metric([dev], totals["rx_packets"][side])
            rx_b.add_metric([dev], totals["rx_bytes"][side])
            fw_p.add_metric([dev], totals["fwd_packets"][side])
            fw_b.add_metric([dev], totals["fwd_bytes"][side])
            kicks.add_metric([dev], totals["tx_kicks"][side])
            kick_err.add_metric([dev], totals["tx_kick_errors"][side])
            replies.add_metric([dev], totals["replies"][side])
        acc_err.add_metric([], acc_total)
        yield from (rx_p, rx_b, fw_p, fw_b, kicks, kick_err, replies, acc_err, batches, idle, hist)

        occ = GaugeMetricFamily("xdpfw_umem_frames", "UMEM frames by where they are.", labels=["place"])
        places = {"free": 0, "fill": 0, "tx": 0}
        rings = snap.rings
        for o in rings.occupancy:
            places["free"] += o["free"]
            places["fill"] += sum(o["fill"])
            places["tx"] += sum(o["tx"])
        for place, n in places.items():
            occ.add_metric([place], n)
        yield occ
        cap = GaugeMetricFamily("xdpfw_umem_frames_max", "UMEM frames the queue pairs own in all.")
        cap.add_metric([], rings.umem_frames)
        yield cap

    def _xsk(self, snap):
        """Kernel AF_XDP socket statistics (getsockopt XDP_STATISTICS)."""
        devices = list(snap.devices)
        fams = {key: CounterMetricFamily(f"xdpfw_{name}", doc, labels=["device"]) for key, name, doc in XSK_STATS}
        sums = {key: [0, 0] for key, _, _ in XSK_STATS}
        for side_stats in snap.xsk:
            for side in range(2):
                for key in sums:
                    sums[key][side] += side_stats[side].get(key, 0)
        for key, fam in fams.items():
            for side, dev in enumerate(devices):
                fam.add_metric([dev], sums[key][side])
            yield fam
        # Frames the kernel could not hand to a worker are drops too: the RX ring was
        # full, or the fill ring had no buffer for them (the kernel reports no bytes).
        for side, dev in enumerate(devices):
            self._add_drop(dev, "xsk_rx_ring_full", sums["rx_ring_full"][side], 0)
            self._add_drop(dev, "xsk_rx_dropped", sums["rx_dropped"][side], 0)

    def _engine_metrics(self, snap):
        """Inspection engine, flow table and TCP tracker counters, summed over workers."""
        from xdpfw._fast import engine as E

        engines = snap.engines
        totals = {name: 0 for name in E.COUNTER_NAMES}
        flows_active, flows_max = 0, engines.flow_capacity
        flow_events = [0] * len(FLOW_EVENT_LABELS)
        tcp = [0] * len(TCP_RESULT_LABELS)
        dec = [0] * len(DECODE_EVENT_LABELS)
        app_ev = {p: 0 for p in APP_PROTO_LABELS}
        rec = {"chunks": 0, "chunks_in_use": 0, "merged": 0}
        for c in engines.counters:
            for key in rec:
                rec[key] += c["flows"].get("records", {}).get(key, 0)
            for name in E.COUNTER_NAMES:
                totals[name] += c[name]
            flows_active += c["flows"]["active"]
            flow_events = [a + b for a, b in zip(flow_events, c["flows"]["events"])]
            tcp = [a + b for a, b in zip(tcp, c["flows"]["tcp"])]
            dec = [a + b for a, b in zip(dec, c["decode_events"])]
            for proto, n in c["app_events_by_proto"].items():
                if proto in app_ev:
                    app_ev[proto] += n
        # Without engines (no inspection rules) the series still exist, at 0.
        for key, (name, doc) in ENGINE_COUNTERS.items():
            fam = CounterMetricFamily(name, doc)
            fam.add_metric([], totals.get(key, 0))
            yield fam
        de = CounterMetricFamily("xdpfw_decode_events", "Frames with a decode event (malformed or unusual "
                                 "L2-L4 headers), by event.", labels=["event"])
        for label, v in zip(DECODE_EVENT_LABELS, dec):
            de.add_metric([label], v)
        yield de
        ae = CounterMetricFamily("xdpfw_app_events", "Application-layer decode events, by protocol.",
                                 labels=["proto"])
        for proto, v in app_ev.items():
            ae.add_metric([proto], v)
        yield ae
        fr = CounterMetricFamily("xdpfw_ip_fragment_events", "IP fragment streams, by event.", labels=["event"])
        for key, label in FRAG_EVENTS.items():
            fr.add_metric([label], totals.get(key, 0))
        yield fr
        g = GaugeMetricFamily("xdpfw_flows_active", "Flows in the workers' flow tables.")
        g.add_metric([], flows_active)
        yield g
        g = GaugeMetricFamily("xdpfw_flow_table_entries_max", "Capacity of the workers' flow tables, in all.")
        g.add_metric([], flows_max)
        yield g
        g = GaugeMetricFamily("xdpfw_flow_tables_emergency",
                              "Workers' flow tables in emergency mode (short timeouts: the table is under pressure).")
        g.add_metric([], sum(1 for c in engines.counters if c["flows"].get("emergency")))
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
        g = GaugeMetricFamily("xdpfw_tcp_record_chunks", "Pool chunks holding records of inspected, unacknowledged "
                              "TCP ranges (insertion checks).")
        g.add_metric([], rec["chunks_in_use"])
        yield g
        g = GaugeMetricFamily("xdpfw_tcp_record_chunks_max", "Pool chunks for TCP insertion records, in all workers.")
        g.add_metric([], rec["chunks"])
        yield g
        m = CounterMetricFamily("xdpfw_tcp_records_merged", "TCP ranges merged into their direction's newest record "
                                "because no chunk was free (pool or per-direction cap): coarser insertion checks.")
        m.add_metric([], rec["merged"])
        yield m

    def _control(self, snap):
        c = self.control or ControlStats(start_time=0)
        for name, doc, value in (
                ("xdpfw_rules_loaded", "Rules loaded by the last successful load or reload.", c.rules_loaded),
                ("xdpfw_rules_failed", "Rules that failed to load (last load or reload).", c.rules_failed),
                ("xdpfw_rules_skipped", "Alert rules skipped: they cannot run in this build (last load or reload).",
                 c.rules_skipped)):
            g = GaugeMetricFamily(name, doc)
            g.add_metric([], value)
            yield g
        g = GaugeMetricFamily("xdpfw_rules", "Rules of the running set by state: loaded, skipped (an alert rule "
                              "this build cannot run), failed (an alert rule that did not parse).", labels=["state"])
        for state, value in (("loaded", c.rules_loaded), ("skipped", c.rules_skipped), ("failed", c.rules_failed)):
            g.add_metric([state], value)
        yield g
        g = GaugeMetricFamily("xdpfw_rules_placed", "Loaded rules by where they are enforced.", labels=["placement"])
        g.add_metric(["kernel_acl"], c.rules_kernel)
        g.add_metric(["engine"], c.rules_engine)
        yield g
        al = CounterMetricFamily("xdpfw_alerts", "Alert records written to EVE, by EVE alert.action.",
                                 labels=["action"])
        for action, n in c.alerts_by_action().items():
            al.add_metric([action], n)
        yield al
        r = CounterMetricFamily("xdpfw_ruleset_reloads", "Rule-set reload attempts.")
        r.add_metric([], c.reloads)
        yield r
        r = CounterMetricFamily("xdpfw_ruleset_reload_failures",
                                "Rule-set reloads that failed (the running set was kept).")
        r.add_metric([], c.reload_failures)
        yield r
        g = GaugeMetricFamily("xdpfw_ruleset_last_reload_timestamp_seconds",
                              "When the last reload was attempted (Unix time; 0: never).")
        g.add_metric([], c.last_reload_timestamp)
        yield g
        g = GaugeMetricFamily("xdpfw_ruleset_last_reload_success", "1 if the last reload succeeded (or none was tried).")
        g.add_metric([], 1 if c.last_reload_success else 0)
        yield g
        from xdpfw.detect.cache import KINDS, STAT_NAMES

        cc = CounterMetricFamily("xdpfw_compile_cache_events",
                                 "Compile cache lookups and writes by entry kind (hsdb: a Hyperscan database, build: "
                                 "a database build's rejections, ruleset: a built rule set) and event (hits, misses, "
                                 "corrupt: unusable entry removed and rebuilt, stores, store_errors, pruned).",
                                 labels=["kind", "event"])
        stats = c.compile_cache.stats if c.compile_cache is not None else {}
        for kind in KINDS:
            for event in STAT_NAMES:
                cc.add_metric([kind, event], stats.get(kind, {}).get(event, 0))
        yield cc
        g = GaugeMetricFamily("xdpfw_ruleset_load_seconds",
                              "Seconds the last rule-set load (start or successful reload) took to build or to load "
                              "from the compile cache.")
        g.add_metric([], c.load_seconds)
        yield g
        g = GaugeMetricFamily("xdpfw_ruleset_from_cache", "1 if the running rule set was loaded from the compile cache.")
        g.add_metric([], 1 if c.loaded_from_cache else 0)
        yield g
        eve = c.eve_outputs.counters() if c.eve_outputs is not None else {"written": 0, "dropped": 0, "errors": 0}
        for key, name, doc in (("written", "xdpfw_eve_lines_written", "EVE lines handed to the configured outputs."),
                               ("dropped", "xdpfw_eve_lines_dropped",
                                "EVE lines lost by an output (write error, socket listener gone or slow)."),
                               ("errors", "xdpfw_eve_write_errors", "EVE output write errors (disk full, I/O, ...).")):
            fam = CounterMetricFamily(name, doc)
            fam.add_metric([], eve[key])
            yield fam


class MetricsServer:
    """The /metrics endpoint on its own registry, served from a daemon thread.

    The registry also holds the standard process collector (process_cpu_seconds_total,
    process_resident_memory_bytes, process_start_time_seconds...)."""

    def __init__(self, appliance: "Appliance", listen: str, control: ControlStats | None = None):
        host, _, port = listen.rpartition(":")
        self.host = host.strip("[]") or "127.0.0.1"
        self.port = int(port)
        self.control = control if control is not None else ControlStats()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(ApplianceCollector(appliance, self.control))
        ProcessCollector(registry=self.registry)
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
