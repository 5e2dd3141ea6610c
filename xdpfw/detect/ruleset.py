"""A loaded rule set -> everything the data path needs: the kernel ACL, the engine's
signature tables and its matcher databases. Used by `xdpfw run` and `xdpfw replay`.

Where each rule goes:
  - `xdpfw run` (kernel_acl=True): IP-only drop rules the kernel can decide alone go to the
    XDP ACL (xdpfw/detect/acl.py), and to the engine as well (for the frames the kernel
    cannot see through); everything else to the inspection engine.
  - `xdpfw replay` (kernel_acl=False): every rule to the engine (there is no kernel).
  - In the engine, a rule without payload conditions is checked on every packet of its
    protocol; a rule with payload conditions is compiled (xdpfw/detect/compile.py) into
    the streaming database (TCP payload, matched across segments) and/or the block database
    (the payload of one UDP/ICMP/other packet), and checked when reported.

A rule the engine cannot honour exactly is named with file:line: an alert rule is left out
(reported), a drop/reject/pass rule refuses the start (load_detection).
"""
from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field

from xdpfw.dataplane.bpfload import AclTables
from xdpfw.detect import apprules
from xdpfw.detect.acl import compile_acl
from xdpfw.detect.results import Problem, problems_of
from xdpfw.detect.sigtables import NotEngineRule, SigTables
from xdpfw.rules.model import PAYLOAD

STREAM_PROTOS = ("tcp", "ip", "http", "tls", "dns")   # DNS runs over TCP too
BLOCK_PROTOS = ("udp", "icmp", "ip", "dns")


@dataclass
class Detection:
    acl: AclTables
    tables: SigTables
    stream_db: object = None
    block_db: object = None
    app: object = None                 # apprules.AppTables: per app buffer databases
    frag_db: object = None             # the block rules compiled for streaming: IP fragments
    block_pre: object = None           # prefilter.BlockPrefilter of block_db (Hyperscan), or None
    stream_groups: object = None       # streamgroups.StreamGroups of stream_db (Hyperscan), or None
    in_kernel: list = field(default_factory=list)
    kernel_backstop: int = 0           # of the engine's signatures, the in_kernel rules (also there)
    problems: list[str] = field(default_factory=list)
    summary: str = ""                  # the loader's "N rule files processed ..." line
    skipped: list[str] = field(default_factory=list)   # alert rules that cannot run (file:line: why)
    failed: list[str] = field(default_factory=list)    # alert rules that did not parse
    classifications: dict | None = None  # classification.config given, else Suricata's table
    cached: bool = False               # loaded from the compile cache (its rules carry no match options)
    load_seconds: float = 0.0          # how long load_detection's caller took to get it (daemon: logged, metric)

    @property
    def engine_rules(self) -> int:
        """Rules only the engine decides (the kernel ACL's rules, which the engine also
        holds as a backstop, are counted as in_kernel)."""
        return len(self.tables.sigs) - self.kernel_backstop

    @property
    def loaded(self) -> int:
        return len(self.in_kernel) + self.engine_rules

    def counts(self) -> dict[str, int]:
        """Rules per state: loaded, skipped (cannot run), failed (did not parse)."""
        return {"loaded": self.loaded, "skipped": len(self.skipped), "failed": len(self.failed)}

    def engine_factory(self, **engine_kw):
        """A callable making one Engine per worker (databases shared, state per worker)."""
        from xdpfw._fast.engine import Engine

        tables, sdb, bdb, fdb, app, pre, sg = (self.tables, self.stream_db, self.block_db, self.frag_db,
                                               self.app, self.block_pre, self.stream_groups)
        return lambda: Engine(tables, stream_db=sdb, block_db=bdb, frag_db=fdb, app=app, rules=tables.rules,
                              block_pre=pre, stream_groups=sg, **engine_kw)

    def stage(self, engine) -> int:
        """Hand this rule set to a running engine (live reload): it is built aside and the
        worker swaps it in between batches. Returns the generation to wait for
        (engine.finish_swap())."""
        return engine.stage_rules(self.tables, stream_db=self.stream_db, block_db=self.block_db,
                                  frag_db=self.frag_db, app=self.app, rules=self.tables.rules,
                                  block_pre=self.block_pre, stream_groups=self.stream_groups)


def _problem(rule, msg: str) -> Problem:
    return Problem(f"{rule.file}:{rule.line}: error: sid:{rule.sid} {msg}", rule)


MATCHERS = ("hs", "ac")


def build_detection(rules, *, kernel_acl: bool, previous: Detection | None = None,
                    matcher: str = "hs", cache=None, jobs: int | None = None) -> Detection:
    """previous: the running rule set, on reload: flowbit names keep their numbers, so the
    flowbits live flows carry keep their meaning across the swap. matcher: "hs" (Hyperscan:
    contents, pcre, relative modifiers) or "ac" (Aho-Corasick: plain literals; a rule it
    cannot express is refused, see compile_literals). cache: a cache.CompileCache for the
    Hyperscan databases (None: compile everything). jobs: threads compiling databases
    concurrently (None: one per CPU; 1: all in this thread)."""
    if matcher not in MATCHERS:
        raise ValueError(f"matcher must be one of {MATCHERS}, got {matcher!r}")

    rules = list(rules)
    det = Detection(AclTables.empty(),
                    SigTables(flowbit_ids=dict(previous.tables.flowbit_ids) if previous else {}))
    if kernel_acl:
        # The kernel ACL decides on the headers the XDP program can see: the outer ones.
        # Its rules also go to the engine, which applies them to every frame the kernel
        # let through: a frame whose real header the program cannot reach (a tunnelled
        # packet, a chain longer than it walks, stacked VLAN tags, AH) or that arrived
        # while the ACL was disabled for a rewrite. The kernel drops what it can see
        # early; the engine enforces the rest, on the innermost packet.
        comp = compile_acl(rules)
        det.acl, det.in_kernel = comp.tables, comp.in_kernel
        det.kernel_backstop = len(comp.in_kernel)

    header_only, payload, app_rules = [], [], []
    app_proto: dict[int, int] = {}    # id(rule) -> XDPFW_APP_* it requires (0: none)
    for r in rules:
        bufs = set(r.buffers())
        try:
            proto = apprules.app_proto_of(r)
        except NotEngineRule as e:
            det.problems.append(_problem(r, str(e)))
            continue
        if r.events:
            _event_rule(det, r, proto)
            continue
        if apprules.rule_buffers(r):
            app_rules.append(r)       # apprules checks the decoder and the buffers
            continue
        if proto is not None and proto not in apprules.DECODERS:
            det.problems.append(_problem(r, f"applies to '{proto}' flows: the {proto} decoder is not in "
                                            "this build yet"))
            continue
        app_proto[id(r)] = apprules.PROTO_ID[proto] if proto else 0
        if not bufs:
            header_only.append(r)
        else:
            payload.append(r)
    for r in header_only:
        try:
            det.tables.add(r, has_payload=False, app_proto=app_proto[id(r)])
        except NotEngineRule as e:
            det.problems.append(_problem(r, f"not supported by the engine: {e}"))

    sig_of_rule: dict[int, int | None] = {}  # id(rule) -> signature (a rule of proto ip is in both databases)
    # Both databases are translated first and compiled concurrently (Hyperscan's compiler
    # runs without the GIL), then their results are taken in order (stream, block), so
    # signatures and problems come out as from one loop.
    pool = None
    if matcher == "hs" and (jobs if jobs is not None else os.cpu_count() or 1) > 1:
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(jobs or os.cpu_count(), thread_name_prefix="xdpfw-compile")
    # The address set stream and app-buffer rules are grouped by (streamgroups.py): one
    # for the whole set, so a flow direction has one group everywhere.
    from xdpfw.detect.streamgroups import choose_home

    home = choose_home(payload + app_rules) if matcher == "hs" else None
    try:
        _payload_databases(det, payload, app_proto, sig_of_rule, matcher, cache, pool, home)
        if app_rules:
            if matcher != "hs":
                det.problems.extend(_problem(r, "application-layer buffers need the Hyperscan matcher")
                                    for r in app_rules)
            else:
                det.app = apprules.build_app(app_rules, det.tables, det.problems, _problem, cache=cache, pool=pool,
                                             home=home)
        if hasattr(det.frag_db, "result"):    # a Future
            det.frag_db = det.frag_db.result()
        if hasattr(det.block_pre, "result"):
            det.block_pre = det.block_pre.result()
        if hasattr(det.stream_groups, "result"):
            det.stream_groups = det.stream_groups.result()
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    return det


def _payload_databases(det: Detection, payload, app_proto, sig_of_rule, matcher: str, cache, pool,
                       home=None) -> None:
    """The stream and block databases of the packet-payload rules, and their signatures."""
    from xdpfw._fast.match import CompileError as CompileErrorHS
    from xdpfw.detect.compile import build_database, compile_buffer, compile_literals
    from xdpfw.detect.prefilter import build_block_prefilter
    from xdpfw.detect.streamgroups import build_stream_groups

    run = (lambda f, *a, **k: pool.submit(f, *a, **k)) if pool is not None else apprules._now
    jobs = []
    for mode, protos, report in (("stream", STREAM_PROTOS, det.tables.report),
                                 ("block", BLOCK_PROTOS, det.tables.block_report)):
        subset = [r for r in payload if r.proto in protos]
        if not subset:
            continue
        # Stream mode: a rule made of several expressions is evaluated by the engine from the
        # operands each stream has seen (Hyperscan would report its combination only at the
        # stream's next match or end: too late to drop the packet completing it). Block
        # mode: Hyperscan's combinations, reported at the end of the block.
        combine = "engine" if mode == "stream" else "hyperscan"

        def compile_(subset, mode=mode, combine=combine):
            if matcher == "ac":
                return compile_literals(subset, PAYLOAD, mode)
            return compile_buffer(subset, PAYLOAD, mode, singlematch=True, combine=combine)

        cb = compile_(subset)
        refused = {id(e.rule) for e in cb.errors}
        pre = list(problems_of(cb.errors))
        by_id = {p.id: p for p in cb.patterns}
        for idx, cr in cb.rules.items():
            extra = [c.keyword for c in cr.checks if c.keyword != "dsize"]
            at_end = cr.eod or (matcher == "hs" and any(b"\\z" in by_id[i].expression for i in cr.pattern_ids))
            if extra or (at_end and mode == "stream"):
                pre.append(_problem(subset[idx], "needs " + (", ".join(extra) if extra else
                                                             "an end-of-stream check")
                                    + ", which the engine does not apply yet"))
                refused.add(id(subset[idx]))
        if refused:  # compile again without them, so their patterns cost nothing
            subset = [r for r in subset if id(r) not in refused]
            if not subset:
                det.problems.extend(pre)
                continue
            cb = compile_(subset)
        if matcher == "ac":
            from xdpfw._fast import match_ac

            fut = apprules._now(match_ac.Database.compile, cb.patterns, mode=mode)
        else:
            fut = run(build_database, cb, subset, cache=cache)
        jobs.append((mode, report, subset, cb, pre, fut))
    for mode, report, subset, cb, pre, fut in jobs:
        det.problems.extend(pre)
        try:
            db = fut.result()
        except CompileErrorHS as e:   # not pinned to rules: a problem of the set, refused
            det.problems.append(Problem(f"<{mode} database>:0: error: {e}"))
            continue
        det.problems.extend(problems_of(cb.errors))  # rules Hyperscan itself rejected
        if db is None:                               # none compiled (each named above)
            continue
        reports = [(rid, idx) for rid, idx in cb.report.items() if idx in cb.rules]
        reports += [(None, idx) for idx, cr in cb.rules.items() if cr.report_id < 0]
        for rid, idx in reports:
            r = subset[idx]
            if id(r) not in sig_of_rule:
                try:
                    sig_of_rule[id(r)] = det.tables.add(r, has_payload=True, app_proto=app_proto[id(r)])
                except NotEngineRule as e:
                    det.problems.append(_problem(r, f"not supported by the engine: {e}"))
                    sig_of_rule[id(r)] = None
            if sig_of_rule[id(r)] is None:
                continue
            if rid is None:
                det.tables.stream_combos.append((sig_of_rule[id(r)], cb.rules[idx].tree))
            else:
                report[rid] = sig_of_rule[id(r)]
        if mode == "stream":
            det.stream_db = db
            if matcher == "hs":
                # Each flow direction scanned with the rules its header can match
                # (streamgroups.py); the whole database stays the set's reference.
                det.stream_groups = run(build_stream_groups, cb, subset, sys.modules[type(db).__module__], cache,
                                        home=home, whole=db)
        else:
            det.block_db = db
            # The same patterns for streaming: a datagram split into IP fragments is
            # scanned fragment by fragment, in place (engine.pyx, FRAG_*); compiled
            # meanwhile, taken at the end of build_detection.
            if matcher == "hs":
                # Prefilter and verify (prefilter.py): one literal per rule first, the
                # rule's own expressions only where it occurred and its header holds.
                det.block_pre = run(build_block_prefilter, cb, subset, dict(sig_of_rule),
                                    sys.modules[type(db).__module__], cache)
            if cache is not None and matcher == "hs":
                det.frag_db = run(cache.database, sys.modules[type(db).__module__], cb.patterns, "stream")
            elif matcher == "hs":
                det.frag_db = run(type(db).compile, cb.patterns, mode="stream")
            else:
                det.frag_db = type(db).compile(cb.patterns, mode="stream")


def _event_rule(det: Detection, r, proto: str | None) -> None:
    """A decode-event / app-layer-event rule: it matches the packets its event is reported
    on (the engine looks its signature up by event; its header is checked as any rule's)."""
    from xdpfw.rules.keywords.events import app_events, decode_events

    if len(r.events) != 1:
        det.problems.append(_problem(r, f"{len(r.events)} event keywords: one per rule is supported"))
        return
    if r.buffers():
        det.problems.append(_problem(r, "an event with payload or buffer conditions is not supported yet"))
        return
    kind, name = r.events[0]
    if kind != "decode" and kind not in apprules.DECODERS:
        det.problems.append(_problem(r, f"needs the {kind} decoder, which is not in this build"))
        return
    try:
        sig = det.tables.add(r, has_payload=True, app_proto=apprules.PROTO_ID[proto] if proto else 0)
    except NotEngineRule as e:
        det.problems.append(_problem(r, f"not supported by the engine: {e}"))
        return
    if kind == "decode":
        det.tables.event_rules.append((0, decode_events().index(name), sig))
    else:
        det.tables.event_rules.append((apprules.PROTO_ID[kind], app_events(kind).index(name), sig))


class RulesNotEnforceable(Exception):
    """Rules the data path cannot honour; str() lists each as path:line: error."""


ENFORCING = ("drop", "reject", "pass")   # a rule of these actions never skipped: refuse


_WHERE = re.compile(r"(.*?):(\d+):")


def _where(line: str) -> tuple[str, int]:
    """(path, line) of a problem line, for listing them in file order."""
    m = _WHERE.match(line)
    return (m.group(1), int(m.group(2))) if m else (line, 0)


def _action_at(path: str, line: int, files: dict) -> str | None:
    """The action word of the rule at path:line (for a rule that did not parse)."""
    if line <= 0:
        return None
    lines = files.get(path)
    if lines is None:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            lines = []
        files[path] = lines
    if line > len(lines):
        return None
    words = lines[line - 1].split(None, 1)
    return words[0].lower() if words else None


def load_detection(paths: list[str], var_items: list[str], *, kernel_acl: bool,
                   threshold: str | None = None, classification: str | None = None,
                   previous: Detection | None = None, matcher: str = "hs",
                   strict: bool = False, cache=None) -> Detection:
    """Load rule files for `xdpfw run`, `replay`, `check` and a reload: the one function
    deciding which rules run.

    Every rule that cannot run exactly is collected in one pass (parse errors, unsupported
    keywords, engine limits, matcher compile errors): an `alert` rule is left out and
    reported (det.failed: it did not parse; det.skipped: it cannot run), the others run.
    RulesNotEnforceable (every problem, file:line, then the summary) when a `drop`,
    `reject` or `pass` rule cannot run (an IPS never silently does not drop, and a pass
    rule left out would let others fire), when a problem names no rule (a missing file),
    or, with `strict`, when any rule cannot run.

    cache: a cache.CompileCache (xdpfw/detect/cache.py): a rule set built before from the
    same inputs (files by content, options, code version) is loaded from it, and the
    Hyperscan databases of a new build come from it where their patterns are unchanged.
    None: everything is built."""
    from xdpfw.detect.acl import parse_vars
    from xdpfw.rules import load_ruleset

    key = None
    prev_ids = previous.tables.flowbit_ids if previous is not None else {}
    if cache is not None and matcher == "hs":
        from xdpfw.detect import cache as cache_mod

        key = cache_mod.ruleset_key(paths, var_items, kernel_acl=kernel_acl, threshold=threshold,
                                    classification=classification, matcher=matcher, strict=strict)
        det = cache_mod.load_ruleset(cache, key, prev_ids)
        if det is not None:
            det.cached = True
            return det
        prev_ids = dict(prev_ids)
    rs = load_ruleset(paths, variables=parse_vars(var_items) or None, strict=False,
                      threshold=threshold, classification=classification)
    det = build_detection(rs.rules, kernel_acl=kernel_acl, previous=previous, matcher=matcher, cache=cache)
    files: dict = {}
    fatal: list[str] = []
    failed: list[str] = []
    for e in rs.errors:
        action = _action_at(e.path, e.line, files) if e.sid is not None or e.line > 0 else None
        (failed if action == "alert" else fatal).append(str(e))
    skipped: list[str] = []
    for e, rule in rs.unsupported:
        (skipped if rule.action == "alert" else fatal).append(str(e))
    seen: set[int] = set()
    for p in det.problems:
        rule = getattr(p, "rule", None)
        if rule is not None:
            if id(rule) in seen:      # one line per rule (the first reason)
                continue
            seen.add(id(rule))
        (skipped if rule is not None and rule.action == "alert" else fatal).append(str(p))
    if strict:      # as the loader's strict: a rule that cannot run has failed
        failed, skipped = failed + skipped, []
    fatal, failed, skipped = (sorted(x, key=_where) for x in (fatal, failed, skipped))
    det.skipped, det.failed = skipped, failed
    det.summary = (f"{rs.files} rule files processed. {det.loaded} rules successfully loaded, "
                   f"{len(failed)} rules failed, {len(skipped)} rules skipped")
    if fatal or (strict and failed):
        why = (f"{len(fatal)} rule(s) that must run exactly (drop, reject, pass) cannot" if fatal
               else f"--strict: {len(failed)} rule(s) cannot run")
        raise RulesNotEnforceable("\n".join(fatal + failed + skipped
                                            + [f"{det.summary}; {why}: nothing loaded"]))
    if classification is not None:
        from xdpfw.rules.classification import load_classification

        det.classifications = load_classification(classification)[0]
    if key is not None:
        cache_mod.store_ruleset(cache, key, det, prev_ids)
    return det


def report_lines(det: Detection) -> list[str]:
    """What did not load, one line a rule (file:line: reason), for the start's warnings."""
    return det.failed + det.skipped
