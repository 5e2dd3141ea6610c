"""`xdpfw status [--metrics URL] [--interval S] [--once]`: a live terminal view of a running
appliance, read from its Prometheus endpoint (like `xdp-filter poll`).

Each screen comes from two scrapes `interval` seconds apart: totals from the second,
rates from the difference (counters that went backwards - a restart - count from zero).
It shows, per device, the XDP attach state, frames and bits per second received and
forwarded and frames dropped; drops by reason; alerts by action; flows; UMEM and ring
fill; the batch-time quantiles. `--once` prints one screen and exits (1 if the endpoint
cannot be read), for scripts and tests.
"""
from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

DEFAULT_URL = "http://127.0.0.1:9640/metrics"


class StatusError(Exception):
    """The metrics endpoint could not be read or parsed."""


@dataclass
class Snapshot:
    """One scrape: {sample name: [(labels, value)]} and when it was taken."""

    t: float
    samples: dict[str, list[tuple[dict[str, str], float]]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str, t: float) -> "Snapshot":
        snap = cls(t)
        try:
            for fam in text_string_to_metric_families(text):
                for s in fam.samples:
                    snap.samples.setdefault(s.name, []).append((dict(s.labels), s.value))
        except Exception as e:  # noqa: BLE001 - any parse failure is the endpoint's fault
            raise StatusError(f"cannot parse the metrics: {e}") from None
        return snap

    def get(self, name: str, **labels) -> float:
        """Sum of the samples of `name` whose labels include `labels`."""
        return sum(v for lab, v in self.samples.get(name, []) if all(lab.get(k) == x for k, x in labels.items()))

    def values(self, name: str, by: str, **labels) -> dict[str, float]:
        """{label value of `by`: summed value}"""
        out: dict[str, float] = {}
        for lab, v in self.samples.get(name, []):
            if all(lab.get(k) == x for k, x in labels.items()) and by in lab:
                out[lab[by]] = out.get(lab[by], 0.0) + v
        return out

    def labels(self, name: str) -> list[dict[str, str]]:
        return [lab for lab, _ in self.samples.get(name, [])]


def fetch(url: str, timeout: float = 5.0) -> Snapshot:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            text = r.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise StatusError(f"cannot read {url}: {reason} (is xdpfw running, and is metrics.listen this "
                          "address? inside a namespace, run status there)") from None
    return Snapshot.parse(text, time.monotonic())


def _rate(a: Snapshot, b: Snapshot, name: str, **labels) -> float:
    dt = b.t - a.t
    if dt <= 0:
        return 0.0
    d = b.get(name, **labels) - a.get(name, **labels)
    return (d if d >= 0 else b.get(name, **labels)) / dt


def _quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Histogram quantile over (upper bound, cumulative count), as PromQL interpolates."""
    buckets = sorted(buckets)
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    prev_b, prev_c = 0.0, 0.0
    for b, c in buckets:
        if c >= rank:
            if b == float("inf"):
                return prev_b
            return prev_b + (b - prev_b) * ((rank - prev_c) / (c - prev_c) if c > prev_c else 0)
        prev_b, prev_c = b, c
    return prev_b


def _batch_quantiles(a: Snapshot, b: Snapshot) -> tuple[float | None, float | None]:
    def cum(s: Snapshot) -> dict[float, float]:
        return {float(k): v for k, v in s.values("xdpfw_batch_duration_seconds_bucket", "le").items()}
    ca, cb = cum(a), cum(b)
    delta = [(le, cb[le] - ca.get(le, 0.0)) for le in cb]
    if any(d < 0 for _, d in delta):
        delta = list(cb.items())
    return _quantile(0.5, delta), _quantile(0.99, delta)


def _si(v: float) -> str:
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(v) >= div:
            return f"{v / div:.1f}{unit}"
    return f"{v:.0f}" if v == int(v) else f"{v:.1f}"


def _dur(s: float) -> str:
    s = int(max(0, s))
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return (f"{d}d" if d else "") + f"{h:02d}:{m:02d}:{s:02d}"


def _us(v: float | None) -> str:
    return "-" if v is None else f"{v * 1e6:.0f} us" if v < 1e-3 else f"{v * 1e3:.1f} ms"


def _not_running(b: Snapshot) -> str:
    """The rules of the set that do not run (skipped, failed), said when there are any."""
    state = b.values("xdpfw_rules", "state")
    skipped, failed = state.get("skipped", 0), state.get("failed", 0)
    if not skipped and not failed:
        return ""
    return f"; NOT RUNNING {skipped + failed:.0f}: {skipped:.0f} skipped, {failed:.0f} failed, see the start log"


def render(a: Snapshot, b: Snapshot, url: str = DEFAULT_URL) -> str:
    """One screen from two scrapes (a before b)."""
    info = (b.labels("xdpfw_build_info") or [{}])[0]
    mode = [m for m, v in b.values("xdpfw_datapath_fail_mode", "mode").items() if v == 1]
    start = b.get("xdpfw_start_time_seconds")
    uptime = _dur(time.time() - start) if start else "-"
    placed = b.values("xdpfw_rules_placed", "placement")
    lines = [
        f"xdpfw {info.get('version', '?')}  {url}  up {uptime}  fail mode {mode[0] if mode else '?'}  "
        f"workers {b.get('xdpfw_workers'):.0f}/{b.get('xdpfw_queue_pairs'):.0f}  "
        f"rules {b.get('xdpfw_rules_loaded'):.0f} (kernel {placed.get('kernel_acl', 0):.0f}, "
        f"engine {placed.get('engine', 0):.0f}{_not_running(b)})  interval {b.t - a.t:.1f}s",
        "",
        f"{'device':<12} {'XDP':<9} {'rx pps':>9} {'rx bit/s':>9} {'fwd pps':>9} {'fwd bit/s':>9} "
        f"{'drop pps':>9} {'rx total':>10} {'fwd total':>10} {'drops':>9}",
    ]
    attached = b.values("xdpfw_xdp_attached", "device")
    for dev in sorted(attached):
        lines.append(
            f"{dev:<12} {'attached' if attached[dev] else 'DETACHED':<9} "
            f"{_si(_rate(a, b, 'xdpfw_received_packets_total', device=dev)):>9} "
            f"{_si(8 * _rate(a, b, 'xdpfw_received_bytes_total', device=dev)):>9} "
            f"{_si(_rate(a, b, 'xdpfw_forwarded_packets_total', device=dev)):>9} "
            f"{_si(8 * _rate(a, b, 'xdpfw_forwarded_bytes_total', device=dev)):>9} "
            f"{_si(_rate(a, b, 'xdpfw_dropped_packets_total', device=dev)):>9} "
            f"{_si(b.get('xdpfw_received_packets_total', device=dev)):>10} "
            f"{_si(b.get('xdpfw_forwarded_packets_total', device=dev)):>10} "
            f"{_si(b.get('xdpfw_dropped_packets_total', device=dev)):>9}")
    fail = {act: _rate(a, b, "xdpfw_xdp_packets_total", action=act) for act in ("fail_open", "fail_closed")}
    if any(fail.values()):
        lines.append("FAIL MODE ENGAGED: " + ", ".join(f"{k} {_si(v)}/s" for k, v in fail.items() if v))
    drops = b.values("xdpfw_dropped_packets_total", "reason")
    shown = [f"{r} {_si(v)} ({_si(_rate(a, b, 'xdpfw_dropped_packets_total', reason=r))}/s)"
             for r, v in sorted(drops.items(), key=lambda kv: -kv[1]) if v]
    lines += ["", "drops by reason: " + (", ".join(shown) if shown else "none")]
    alerts = b.values("xdpfw_alerts_total", "action")
    lines.append("alerts: " + ", ".join(f"{act} {_si(alerts.get(act, 0))} "
                                        f"({_si(_rate(a, b, 'xdpfw_alerts_total', action=act))}/s)"
                                        for act in ("allowed", "blocked"))
                 + f", lost {_si(b.get('xdpfw_alerts_lost_total'))}")
    active, cap = b.get("xdpfw_flows_active"), b.get("xdpfw_flow_table_entries_max")
    lines.append(f"flows: {_si(active)} active of {_si(cap)} ({100 * active / cap if cap else 0:.1f}%), "
                 f"new {_si(_rate(a, b, 'xdpfw_flow_events_total', event='created'))}/s, "
                 f"evicted {_si(_rate(a, b, 'xdpfw_flow_events_total', event='evicted'))}/s, "
                 f"no room {_si(_rate(a, b, 'xdpfw_flow_events_total', event='no_room'))}/s")
    places = b.values("xdpfw_umem_frames", "place")
    total = b.get("xdpfw_umem_frames_max") or sum(places.values())
    used = total - places.get("free", 0)
    lines.append(f"rings: UMEM {_si(used)}/{_si(total)} frames in use ({100 * used / total if total else 0:.0f}%: "
                 f"fill {_si(places.get('fill', 0))}, tx {_si(places.get('tx', 0))}), "
                 f"RX ring full {_si(b.get('xdpfw_xsk_rx_ring_full_total'))}, "
                 f"kernel RX drops {_si(b.get('xdpfw_xsk_rx_dropped_total'))}, "
                 f"ring_full drops {_si(drops.get('ring_full', 0))}")
    p50, p99 = _batch_quantiles(a, b)
    lines.append(f"batch time: p50 {_us(p50)}, p99 {_us(p99)}, "
                 f"{_si(_rate(a, b, 'xdpfw_worker_batches_total'))} batches/s")
    return "\n".join(lines)


def add_arguments(p) -> None:
    p.add_argument("--metrics", default=DEFAULT_URL, metavar="URL",
                   help=f"the appliance's metrics endpoint (default {DEFAULT_URL})")
    p.add_argument("--interval", type=float, default=1.0, metavar="S", help="seconds between screens (default 1)")
    p.add_argument("--once", action="store_true", help="print one screen (two scrapes INTERVAL apart) and exit")


def run(args, out=None) -> int:
    out = out or sys.stdout
    url = args.metrics
    if "://" not in url:
        url = f"http://{url}" + ("" if "/" in url else "/metrics")
    if args.interval <= 0:
        print("xdpfw status: error: --interval must be > 0", file=sys.stderr)
        return 2
    try:
        prev = fetch(url)
    except StatusError as e:
        print(f"xdpfw status: error: {e}", file=sys.stderr)
        return 1
    tty = out.isatty() if hasattr(out, "isatty") else False
    try:
        while True:
            time.sleep(args.interval)
            try:
                cur = fetch(url)
            except StatusError as e:
                if args.once:
                    print(f"xdpfw status: error: {e}", file=sys.stderr)
                    return 1
                print(f"xdpfw status: {e}; retrying", file=sys.stderr)
                continue
            screen = render(prev, cur, url)
            if tty and not args.once:
                out.write("\033[H\033[J")
            out.write(screen + "\n")
            out.flush()
            if args.once:
                return 0
            if not tty:
                out.write("\n")
            prev = cur
    except KeyboardInterrupt:
        return 0
