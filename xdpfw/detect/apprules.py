"""Rules on application-layer buffers -> what the engine's app layer runs (engine_app.pxi).

The decoders (xdpfw/_fast/app_<proto>.pyx) report each instance of a buffer (the URI of
one request, the name of one DNS question...) as pieces; the engine scans them through one
streaming database per buffer, reset at the instance's start and finished at its end, so
anchors (startswith, endswith, `$`) and bsize hold per instance. A rule may inspect several
buffers (`http.method; content:"POST"; http.uri; content:"/x.php"`): it holds when, within
one transaction (a request, a response, a DNS message, a TLS handshake direction), every
buffer it names has ended and its formula over what they matched holds. So this module
compiles, per buffer, the rules' expressions (xdpfw/detect/compile.py, combine="engine":
operands reported once per instance) and, per rule, a formula over operand indices shared
by all buffers, plus the length checks (bsize, urilen) as operands set at a buffer's end.

What is refused, with the reason named: buffers no decoder produces, rules mixing packet
payload and app buffers, rules needing both directions of a transaction (http.uri with
http.stat_code), transforms, and anything the per-buffer compiler refuses.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from xdpfw import applayer
from xdpfw.cheader import CHeader
from xdpfw.detect.results import Problem, problems_of
from xdpfw.detect.sigtables import NotEngineRule, SigTables, _dsize
from xdpfw.detect.streamgroups import group_databases, rule_groups
from xdpfw.rules.model import PAYLOAD

_APP_H = CHeader(Path(__file__).resolve().parents[1] / "_fast" / "xdpfw_app.h")
BUFFERS: list[str] = [label for _, label in _APP_H.xmacro("XDPFW_APP_BUFFERS")]  # index = buffer id
PROTOS: list[str] = [label for _, label in _APP_H.xmacro("XDPFW_APP_PROTOS")]    # index = app proto id
BUF_ID = {name: i for i, name in enumerate(BUFFERS)}
PROTO_ID = {name: i for i, name in enumerate(PROTOS)}
# The protocols with a decoder in this build (the others' rules are refused), which buffer
# each decoder produces and in which direction: from the header (xdpfw/applayer.py).
APP_PROTOS = DECODERS = applayer.DECODERS


def proto_of_buffer(name: str) -> str:
    return applayer.BUFFER_PROTO.get(name, name.partition(".")[0])


# Buffers that exist in one direction only (the rest - headers, protocol, file.data - in both).
TO_SERVER = applayer.TO_SERVER
TO_CLIENT = applayer.TO_CLIENT

@dataclass
class AppBuffer:
    buf: int                      # buffer id (XDPFW_BUF_*)
    db: object                    # streaming database: one stream per instance of the buffer
    variant: int = 0              # 0: the buffer as it is; 1: dotprefix (a "." first)
    groups: list | None = None    # per stream group (streamgroups.py) its database or None; None: db everywhere
    report: dict[int, int] = field(default_factory=dict)  # database pattern id -> signature
    every: list[int] = field(default_factory=list)         # signatures checked at every instance's end
    every_parts: list[int] = field(default_factory=list)   # parts (see AppTables.parts) likewise


PART_FLAG = 1 << 31   # a report value with this bit names a part, not a signature


@dataclass
class AppPart:
    """One buffer's share of a rule that inspects several buffers of a transaction: it
    holds when an instance of that buffer matched its expressions (and passed its length
    check). Identical shares of different rules are one part (`http.method;
    content:"POST";` is one part for hundreds of rules), so a transaction holds few."""
    blen: tuple[int, int, int] | None = None   # (op, lo, hi) length check on this buffer


@dataclass
class AppTables:
    buffers: list[AppBuffer] = field(default_factory=list)
    parts: list[AppPart] = field(default_factory=list)
    multi: list[tuple[int, list[int]]] = field(default_factory=list)  # (signature, its parts)
    home: tuple | None = None     # H of the buffers' groups (streamgroups.choose_home), None: by direction

    def __bool__(self) -> bool:
        return any(b.report or b.every for b in self.buffers)


def rule_buffers(rule) -> list[str]:
    """The app buffers a rule inspects: those with matches, and those only a length check
    (bsize, urilen) names."""
    out = [b for b in rule.buffers() if b != PAYLOAD]
    for b in [x.buffer for x in rule.bsize] + ([("http.uri.raw" if rule.urilen.raw else "http.uri")]
                                               if rule.urilen is not None else []):
        if b not in out and b != PAYLOAD:
            out.append(b)
    return out


def app_proto_of(rule) -> str | None:
    """The application protocol a rule applies to (from its protocol or its buffers), None
    for a plain L3/L4 rule; raises NotEngineRule when they disagree."""
    protos = {proto_of_buffer(b) for b in rule_buffers(rule)}
    if rule.proto in APP_PROTOS:
        protos.add(rule.proto)
    if len(protos) > 1:
        raise NotEngineRule(f"mixes application protocols {', '.join(sorted(protos))}")
    return protos.pop() if protos else None


def build_app(rules, tables: SigTables, problems: list[str], problem, cache=None, pool=None,
              home=None) -> AppTables:
    """Compile the rules that inspect one application-layer buffer into that buffer's
    database; add their signatures (with their app protocol and length check) to `tables`.
    Rules that cannot run are appended to `problems` (problem(rule, msg) formats one)."""
    from xdpfw._fast import match
    from xdpfw.detect.compile import build_database, compile_buffer

    out = AppTables()
    by_buf: dict[tuple[str, int], list] = {}   # (buffer, variant) -> rules
    every: dict[str, list] = {}       # rules with only a length check on their buffer
    multi: list = []                  # rules on several buffers of a transaction
    for r in rules:
        bufs = rule_buffers(r)
        proto = app_proto_of(r)
        if proto not in DECODERS:
            problems.append(problem(r, f"needs the {proto} decoder, which is not in this build yet"))
        elif [b for b in bufs if b not in BUF_ID]:
            problems.append(problem(r, f"inspects {', '.join(b for b in bufs if b not in BUF_ID)}: "
                                       "no decoder produces it"))
        elif PAYLOAD in r.buffers():
            problems.append(problem(r, "mixes packet payload and application-layer buffers"))
        elif len(bufs) > 8:
            problems.append(problem(r, f"inspects {len(bufs)} buffers (at most 8 per rule)"))
        elif bufs[0] not in r.buffers() and len(bufs) == 1:
            every.setdefault(bufs[0], []).append(r)
        else:
            trs = {b: next((tuple(m.transforms) for m in r.buffers().get(b, []) if getattr(m, "transforms", ())), ())
                   for b in bufs}
            bad = [t for t in trs.values() if t not in ((), ("dotprefix",))]
            if bad:
                problems.append(problem(r, f"transform {', '.join(bad[0])}: only dotprefix is applied yet"))
                continue
            if len(bufs) > 1:
                multi.append(r)
            for b in bufs:
                if b in r.buffers():
                    by_buf.setdefault((b, len(trs[b])), []).append(r)

    # Parts of the multi-buffer rules, shared between rules: the first rule with a given
    # share represents it in that buffer's compile, which reports the part.
    part_of: dict[tuple[int, str], int] = {}    # (id(rule), buffer) -> part index
    part_key: dict[tuple, int] = {}
    reps: set[tuple[int, str]] = set()          # (id(rule), buffer) compiled as the part
    abufs: dict[str, AppBuffer] = {}
    for r in multi:
        for b in rule_buffers(r):
            checks = [x.match for x in r.bsize if x.buffer == b] + (
                [r.urilen.match] if r.urilen and b == ("http.uri.raw" if r.urilen.raw else "http.uri") else [])
            blen = _dsize(checks[0]) if checks else None
            key = (b, _canon(r.buffers().get(b, [])), blen)
            if key not in part_key:
                part_key[key] = len(out.parts)
                out.parts.append(AppPart(blen))
                if b in r.buffers():
                    reps.add((id(r), b))
                else:                 # a buffer with only a length check
                    abufs.setdefault(f"{b}/0", AppBuffer(BUF_ID[b], None)).every_parts.append(part_key[key])
            part_of[(id(r), b)] = part_key[key]
    for key, group in list(by_buf.items()):     # a part is compiled once, for its representative
        by_buf[key] = [r for r in group if (id(r), key[0]) not in part_of or (id(r), key[0]) in reps]
    failed_parts: set[int] = set()
    for b, group in every.items():    # no expression: decided at each instance's end
        ab = abufs.setdefault(f"{b}/0", AppBuffer(BUF_ID[b], None))
        for r in group:
            checks = [x.match for x in r.bsize if x.buffer == b] + ([r.urilen.match] if r.urilen else [])
            if len(checks) != 1:
                problems.append(problem(r, f"{len(checks)} length checks on {b} (one is supported)"))
                continue
            try:
                ab.every.append(tables.add(r, has_payload=True, app_proto=PROTO_ID[app_proto_of(r)],
                                           buf_len=_dsize(checks[0])))
            except NotEngineRule as e:
                problems.append(problem(r, f"not supported by the engine: {e}"))

    # Translate every buffer's rules first, then compile the databases concurrently
    # (Hyperscan's compiler runs without the GIL: `pool`), then take the results in
    # buffer order, so signatures, problems and buffers come out as from one loop.
    jobs = []                         # (buffer, variant, group, cb, problems of its translation)
    for (b, variant), group in by_buf.items():
        # Hyperscan's own combinations: an instance always ends (finish), which is when a
        # combination or an end anchor is decided, and a plain expression is reported as it
        # matches, so a drop takes the packet that completed it. The dotprefix variant is
        # the same buffer with a "." before its first byte (the engine scans it).
        tr = ("dotprefix",) if variant else ()
        cb = compile_buffer(group, b, "stream", singlematch=True, transforms=tr)
        refused = {id(e.rule) for e in cb.errors}
        pre = list(problems_of(cb.errors))
        for idx, cr in cb.rules.items():
            is_part = (id(group[idx]), b) in part_of   # its length check is in its AppPart
            lens = [c for c in cr.checks if c.keyword in ("bsize", "urilen")]
            other = [c.keyword for c in cr.checks if c.keyword not in ("dsize", "bsize", "urilen")]
            why = (f"transform {cr.transforms[0]} on {b}: only dotprefix is applied yet"
                   if tuple(cr.transforms) != tr
                   else f"needs {', '.join(other)} on {b}, which the engine does not apply yet" if other
                   else f"{len(lens)} length checks on {b} (one is supported)" if len(lens) > 1 and not is_part
                   else None)
            if why:
                if is_part:
                    failed_parts.add(part_of[(id(group[idx]), b)])
                pre.append(problem(group[idx], why))
                refused.add(id(group[idx]))
        if refused:
            group = [r for r in group if id(r) not in refused]
            if not group:
                problems.extend(pre)
                continue
            cb = compile_buffer(group, b, "stream", singlematch=True, transforms=tr)
        jobs.append((b, variant, group, cb, pre))
    run = (lambda f, *a, **k: pool.submit(f, *a, **k)) if pool is not None else _now
    futures = [run(build_database, cb, group, cache=cache) for _, _, group, cb, _ in jobs]
    # A part is shared by rules of different headers: its groups are all of theirs.
    part_rules: dict[int, list] = {}
    for r in multi:
        for b in rule_buffers(r):
            part_rules.setdefault(part_of[(id(r), b)], []).append(r)
    out.home = home
    grouped = []                      # (AppBuffer, future of its group databases)
    for (b, variant, group, cb, pre), fut in zip(jobs, futures):
        problems.extend(pre)
        try:
            db = fut.result()
        except match.CompileError as e:      # not pinned to rules: a problem of the set, refused
            problems.append(Problem(f"<{b} database>:0: error: {e}"))
            continue
        problems.extend(problems_of(cb.errors))     # rules Hyperscan itself rejected
        failed_parts.update(part_of[(id(e.rule), b)] for e in cb.errors if (id(e.rule), b) in part_of)
        if db is None:            # no rule of this buffer compiled (each named above)
            continue
        ab = abufs.setdefault(f"{b}/{variant}", AppBuffer(BUF_ID[b], None, variant))
        ab.db = db
        for rid, idx in cb.report.items():
            if idx not in cb.rules:
                continue
            r = group[idx]
            if (id(r), b) in part_of:
                ab.report[rid] = PART_FLAG | part_of[(id(r), b)]
                continue
            lens = [c for c in cb.rules[idx].checks if c.keyword in ("bsize", "urilen")]
            try:
                sig = tables.add(r, has_payload=True, app_proto=PROTO_ID[app_proto_of(r)],
                                 buf_len=_dsize(lens[0].match) if lens else None)
            except NotEngineRule as e:
                problems.append(problem(r, f"not supported by the engine: {e}"))
                continue
            ab.report[rid] = sig
        grouped.append((ab, run(group_databases, cb, _groups_of(cb, group, b, part_of, part_rules, home),
                                sys.modules[type(db).__module__], cache, db)))
    for ab, fut in grouped:
        ab.groups = fut.result()
    for r in multi:
        parts = [part_of[(id(r), b)] for b in rule_buffers(r)]
        if any(p in failed_parts for p in parts):
            problems.append(problem(r, "one of its buffers' conditions could not be compiled (see the error "
                                       "for the rule that shares it)"))
            continue
        try:
            sig = tables.add(r, has_payload=True, app_proto=PROTO_ID[app_proto_of(r)])
        except NotEngineRule as e:
            problems.append(problem(r, f"not supported by the engine: {e}"))
            continue
        out.multi.append((sig, sorted(set(parts))))
    out.buffers = [ab for ab in abufs.values() if ab.report or ab.every or ab.every_parts]
    return out


def _groups_of(cb, group, b, part_of, part_rules, home):
    """cb.rules index -> its stream groups: a rule's own, a part's every user's."""
    def of(idx):
        r = group[idx]
        users = part_rules.get(part_of[(id(r), b)], [r]) if (id(r), b) in part_of else [r]
        out: set[int] = set()
        for u in users:
            out |= rule_groups(u, home)
        return out
    return of


def _now(f, *args, **kw):
    """A finished future of f(*args, **kw) (no pool: build in this thread)."""
    from concurrent.futures import Future

    fut: Future = Future()
    try:
        fut.set_result(f(*args, **kw))
    except BaseException as e:      # noqa: BLE001 - re-raised by result(), as from a pool
        fut.set_exception(e)
    return fut


def _canon(matches) -> str:
    """A buffer's matches of a rule, as a key: equal keys match the same instances."""
    out = []
    for m in matches:
        fields = getattr(m, "__dataclass_fields__", {})
        out.append((type(m).__name__,) + tuple(
            getattr(m, f) for f in fields if f not in ("col", "fast_pattern", "legacy_modifier")))
    return repr(out)
