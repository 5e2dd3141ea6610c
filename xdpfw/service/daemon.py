"""The daemon: `xdpfw run` with its configuration, EVE outputs, metrics endpoint, control
socket and rule reload, around the data-plane Appliance (xdpfw/dataplane/appliance.py).
"""
from __future__ import annotations

import ctypes
import logging
import threading
import time

from xdpfw.dataplane.appliance import Appliance, ApplianceConfig
from xdpfw.dataplane.bpfload import AclTables
from xdpfw.service.outputs import EveOutputs
from xdpfw.service.reload import ReloadResult, swap_in

log = logging.getLogger("xdpfw")


class Daemon:
    """`xdpfw run`: the appliance with its rule set, EVE outputs, metrics endpoint and
    control socket, until SIGTERM/SIGINT.

    Reload (SIGHUP, SIGUSR2, `xdpfw reload`): a dedicated thread re-reads the rule files,
    threshold and classification and builds the new Detection aside (the workers keep
    inspecting with the running set; the main loop keeps draining alerts). If anything
    fails, the running set stays and every error is reported. Otherwise reload.swap_in
    puts it in place (kernel ACL union, engines, kernel ACL removals: a packet meets the
    old rules, the new ones, or both, never neither). Requests that arrive while a
    reload runs are served by the next one (each reload reads the files when it starts).
    """

    SWAP_TIMEOUT = 10.0

    def __init__(self, cfg, *, out=None, err=None):
        import sys

        self.cfg = cfg
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.det = None
        self.app: Appliance | None = None
        self.sink = None
        self.outputs: EveOutputs | None = None
        self.control = None              # metrics.ControlStats
        self.generation = 0
        self.last_reload: ReloadResult | None = None
        self.loaded_at = time.time()
        self._stop = threading.Event()
        self._reload_cv = threading.Condition()
        self._reload_pending: list = []   # waiters: [event, result]
        self._reload_seq = 0
        self._reload_thread: threading.Thread | None = None
        self._reload_lock = threading.Lock()
        self._stats = None
        self.cache = False               # the compile cache, opened at the first load (None: off)

    # -- rules ---------------------------------------------------------------------------
    def load(self, previous=None):
        from xdpfw.detect.ruleset import load_detection

        cfg = self.cfg
        if self.cache is False:          # opened once: the directory is checked (and warned about) once
            self.cache = cfg.compile_cache("run")
        t0 = time.monotonic()
        before = self.cache.totals() if self.cache else None
        det = load_detection(cfg.rule_paths(), cfg.var_items(), kernel_acl=True, threshold=cfg.threshold_file,
                             classification=cfg.classification_file, previous=previous, matcher=cfg.matcher,
                             strict=cfg.rules_strict, cache=self.cache)
        det.load_seconds = time.monotonic() - t0
        _trim_heap()
        if self.cache is not None:
            now = self.cache.totals()
            d = {k: now[k] - before[k] for k in now}
            log.info("rule set %s in %.2f s (compile cache %s: %d hit(s), %d miss(es), %d unusable, %d stored)",
                     "loaded from the compile cache" if det.cached else "built", time.monotonic() - t0,
                     self.cache.directory, d["hits"], d["misses"], d["corrupt"], d["stores"])
        else:
            log.info("rule set built in %.2f s (compile cache off)", time.monotonic() - t0)
        return det

    def _engine_factory(self, det):
        from xdpfw._fast import engine as E

        cfg = self.cfg
        make = det.engine_factory(flow_capacity=cfg.flow_capacity, replies=True, check_sides=True,
                                  midstream=cfg.tcp_midstream == "accept",
                                  verify_checksums=cfg.stream_checksum_validation,
                                  normalize_ttl=cfg.stream_ttl_normalization,
                                  encryption_handling=cfg.tls_encryption_handling)
        pol = {"pass": E.POLICY_PASS, "drop": E.POLICY_DROP}

        def factory():
            eng = make()
            eng.decode_error_policy = pol[cfg.decode_error_policy]
            eng.no_flow_policy = pol[cfg.no_flow_policy]
            eng.policy_drop_records = cfg.policy_drop_records
            return eng
        return factory

    def reload(self) -> ReloadResult:
        """Load the rule files again and swap them in (see the class docstring). Called by
        the reload thread; serialised."""
        from xdpfw.detect.ruleset import RulesNotEnforceable, report_lines

        with self._reload_lock:
            t0 = time.monotonic()
            gen = self.generation
            try:
                if not self.cfg.rule_files:
                    raise RulesNotEnforceable("no rule files configured (rules.rule-files or --rules)")
                new = self.load(previous=self.det)
            except RulesNotEnforceable as e:
                lines = str(e).splitlines()
                summary = lines[-1] if lines and "rule files processed" in lines[-1] else ""
                res = ReloadResult(False, gen, [ln for ln in lines if ln != summary], summary)
            except Exception as e:  # unreadable threshold file, matcher build failure...
                res = ReloadResult(False, gen, [f"error: {type(e).__name__}: {e}"])
            else:
                res = self._swap(new, gen)
                res.counts = new.counts()
                res.skipped = report_lines(new)
                if res.ok:
                    _report_rules(new, "reload: ")
            res.seconds = time.monotonic() - t0
            res.when = time.time()
            self.last_reload = res
            if self.control is not None:
                self.control.reload_done(res.ok, self.det if res.ok else None, when=res.when)
            if res.ok:
                log.info("reload: generation %d live in %.2f s: %s", res.generation, res.seconds, res.summary)
            else:
                for e in res.errors:
                    log.error("reload: %s", e)
                log.error("reload failed (%d problem(s)); the running rule set (generation %d) is kept",
                          len(res.errors), gen)
            return res

    def _swap(self, new, gen: int) -> ReloadResult:
        err = swap_in(self.app, new, self.SWAP_TIMEOUT)
        if err is not None:
            return ReloadResult(False, gen, [err], new.summary)
        self.det = new
        self.generation += 1
        self.loaded_at = time.time()
        if self.sink is not None:
            self.sink.set_rules(new.tables.rules, new.classifications)
        return ReloadResult(True, self.generation, [], new.summary, len(new.in_kernel) + new.engine_rules,
                            len(new.in_kernel), new.engine_rules)

    def request_reload(self, wait: bool = False, timeout: float | None = None) -> ReloadResult | None:
        """Ask the reload thread for a reload (signal handlers: wait=False). With wait,
        returns the result of a reload that started after this request."""
        waiter = [threading.Event(), None]
        with self._reload_cv:
            self._reload_pending.append(waiter)
            self._reload_cv.notify()
        if not wait:
            return None
        waiter[0].wait(timeout)
        return waiter[1]

    def _reloader(self) -> None:
        while True:
            with self._reload_cv:
                while not self._reload_pending and not self._stop.is_set():
                    self._reload_cv.wait(0.5)
                if self._stop.is_set():
                    for w in self._reload_pending:
                        w[0].set()
                    return
                waiters, self._reload_pending = self._reload_pending, []
            res = self.reload()
            for w in waiters:
                w[1] = res
                w[0].set()

    # -- control socket commands -----------------------------------------------------------
    def _cmd_reload(self, req):
        res = self.request_reload(wait=True)
        if res is None:
            return False, "the daemon is stopping"
        return res.ok, res.message()

    def _cmd_ruleset_stats(self, req):
        det = self.det
        msg = {"generation": self.generation, "loaded_at": self.loaded_at,
               "rules_in_kernel": len(det.in_kernel) if det else 0,
               "rules_in_engine": det.engine_rules if det else 0,
               **{f"rules_{k}": v for k, v in (det.counts() if det else
                                               {"loaded": 0, "skipped": 0, "failed": 0}).items()},
               "summary": det.summary if det else "",
               "engine_generations": [e.rules_generation for e in (self.app.engines() if self.app else [])],
               "last_reload": self.last_reload.message() | {"ok": self.last_reload.ok} if self.last_reload else None}
        return True, msg

    def _cmd_version(self, req):
        import xdpfw

        return True, xdpfw.__version__

    # -- stats -------------------------------------------------------------------------------
    def stats_line(self, stats) -> str:
        from xdpfw.dataplane import shared
        from xdpfw.dataplane.stats import snapshot
        from xdpfw.service import metrics as M
        from xdpfw.service.eve import stats_counters

        snap = snapshot(self.app, parts=("xdp", "workers", "xsk", "engines"))
        det = self.det
        counters = stats_counters(
            xdp=snap.xdp, workers=[c for _, c in snap.workers], xsk=snap.xsk, engines=snap.engines.counters,
            alerts_written=self.sink.alerts if self.sink else 0, eve=self.outputs.counters(),
            xdp_action_labels=shared.XDP_ACTION_LABELS, drop_reason_labels=shared.DROP_REASON_LABELS,
            flow_event_labels=M.FLOW_EVENT_LABELS, tcp_result_labels=M.TCP_RESULT_LABELS)
        from xdpfw.service.eve import format_timestamp

        engines = None
        if det is not None:
            engines = [{"id": self.generation, "last_reload": format_timestamp(int(self.loaded_at * 1e9)),
                        "rules_loaded": det.loaded, "rules_failed": len(det.failed),
                        "rules_skipped": len(det.skipped)}]
        return stats.format(counters, engines=engines)

    # -- lifecycle ---------------------------------------------------------------------------
    def run(self) -> int:
        import signal

        from xdpfw.dataplane.bpfload import BpfLoadError
        from xdpfw.detect.ruleset import RulesNotEnforceable
        from xdpfw.service.eve import Stats
        from xdpfw.service.metrics import ControlStats, MetricsServer

        cfg = self.cfg
        det = None
        engine_factory = None
        if cfg.rule_files:
            try:
                det = self.load()
            except RulesNotEnforceable as e:
                print(str(e), file=self.err)
                return 1
            # An engine is bound whenever rules are configured, even if this set needs
            # none, so that a reload can add engine rules.
            engine_factory = self._engine_factory(det)
            _report_rules(det, "")
            log.info("%s: %d rule(s) in the kernel ACL, %d in the inspection engine", det.summary,
                     len(det.in_kernel), det.engine_rules)
        self.det = det
        acfg = ApplianceConfig(if_a=cfg.inline[0], if_b=cfg.inline[1], queues=cfg.queues,
                               fail_open=cfg.fail_mode == "open", xsk_mode=cfg.xsk_mode, xdp_mode=cfg.xdp_mode,
                               busy_poll=cfg.busy_poll, acl=det.acl if det else AclTables.empty(),
                               engine_factory=engine_factory, watchdog_ms=cfg.watchdog_ms,
                               bypass=cfg.tls_encryption_handling == "bypass")
        app = self.app = Appliance(acfg)
        try:
            self.outputs = EveOutputs(cfg.eve, stdout=self.out)
        except OSError as e:
            log.error("cannot open an EVE output: %s", e)
            return 1
        if det is not None:
            from xdpfw.service.alerts import AlertSink

            self.sink = AlertSink(det.tables.rules, lambda line: None, ips=True,
                                  in_iface=lambda side: (acfg.if_a, acfg.if_b)[side],
                                  classifications=det.classifications, write_event=self.outputs.write_event)
        self.control = ControlStats(sink=self.sink)
        self.control.compile_cache = self.cache or None
        if det is not None:
            self.control.set_detection(det)
        self.control.eve_outputs = self.outputs
        self._stats = Stats()

        def on_stop(*_):
            self._stop.set()

        def on_reload(signum, _frame):
            if signum == signal.SIGHUP:
                self.outputs.request_reopen()  # as Suricata: HUP also reopens log files
            self.request_reload()

        old_handlers = {s: signal.signal(s, on_stop) for s in (signal.SIGTERM, signal.SIGINT)}
        old_handlers.update({s: signal.signal(s, on_reload) for s in (signal.SIGHUP, signal.SIGUSR2)})
        ctl = None
        metrics = None
        rc = 0
        try:
            try:
                app.start()
            except (BpfLoadError, OSError, ValueError) as e:
                log.error("cannot start: %s (nothing left attached)", e)
                return 1
            self._reload_thread = threading.Thread(target=self._reloader, name="reload", daemon=True)
            self._reload_thread.start()
            if cfg.control_socket:
                from xdpfw.service.ctl import ControlError, ControlServer

                ctl = ControlServer(cfg.control_socket, {"reload": self._cmd_reload,
                                                         "ruleset-stats": self._cmd_ruleset_stats,
                                                         "version": self._cmd_version})
                try:
                    ctl.start()
                except (ControlError, OSError) as e:
                    log.error("control socket %s: %s; `xdpfw reload` will not reach this daemon "
                              "(SIGHUP/SIGUSR2 still reload)", cfg.control_socket, e)
                    ctl = None
            if cfg.metrics_listen:
                metrics = MetricsServer(app, cfg.metrics_listen, control=self.control)
                metrics.start()
            print("xdpfw: running", file=self.out, flush=True)  # readiness line for supervisors and tests
            while not self._stop.wait(0.2):
                self._drain()
                due = self.outputs.stats_due(time.monotonic())
                if due:
                    line = self.stats_line(self._stats)
                    for w in due:
                        w.write(line)
                self.outputs.flush()
                if app.workers_running() != len(app.pairs):
                    log.error("a worker thread died; stopping")
                    rc = 1
                    break
        finally:
            self._stop.set()
            with self._reload_cv:
                self._reload_cv.notify_all()
            if self._reload_thread is not None:
                self._reload_thread.join()
            if ctl is not None:
                ctl.stop()
            if metrics:
                metrics.stop()
            app.stop()
            self._drain()
            if self.outputs is not None:
                self.outputs.close()
            for s, h in old_handlers.items():
                signal.signal(s, h)
            log.info("stopped; XDP detached from %s and %s", acfg.if_a, acfg.if_b)
        return rc

    def _drain(self) -> None:
        if self.sink is None or self.app is None:
            return
        for engine in self.app.engines():
            self.sink.drain(engine)  # alert rings -> EVE, off the packet path


def _trim_heap() -> bool:
    """Give the heap's free pages back to the system after a rule-set build or load: its
    temporaries (parsed options, translations, compiler and unpickling buffers) are freed,
    but glibc keeps the memory mapped (about 80 MB with ET Open). False where the C
    library has no malloc_trim (not glibc): nothing else changes."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    trim(0)
    return True


def _report_rules(det, prefix: str) -> None:
    """The rules that do not run, loudly: each as file:line: reason (warning), then one
    summary line."""
    from xdpfw.detect.ruleset import report_lines

    lines = report_lines(det)
    for line in lines:
        log.warning("%s%s", prefix, line.replace(": error: ", ": warning: ", 1))
    if lines:
        log.warning("%s%d rule(s) not running (%d skipped, %d failed); %d loaded", prefix, len(lines),
                    len(det.skipped), len(det.failed), det.loaded)
