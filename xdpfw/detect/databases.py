"""Databases: compile a CompiledBuffer with its matcher backend, removing the rules the
backend rejects (each recorded in ``cb.errors``) and retrying, in one build: every rule
the backend rejects is named (validated alone first, then dropped one compile error at a
time), and a buffer none of whose rules compile has no database (None)."""
from __future__ import annotations

import time
from typing import Iterable, Sequence

from xdpfw.detect.results import CompiledBuffer
from xdpfw.rules.model import Rule


def drop_rules(cb: CompiledBuffer, indexes: Iterable[int]) -> None:
    """Remove rules from ``cb``, with the patterns no remaining rule uses."""
    drop = set(indexes)
    keep_ids: set[int] = set()
    for idx, cr in list(cb.rules.items()):
        if idx in drop:
            del cb.rules[idx]
            cb.report.pop(cr.report_id, None)
        else:
            keep_ids.update(cr.pattern_ids)
    cb.patterns = [p for p in cb.patterns if p.id in keep_ids]
    cb.owners = {pid: [i for i in own if i not in drop] for pid, own in cb.owners.items()
                 if pid in keep_ids}



def build(cb: CompiledBuffer, rules: Sequence[Rule], backend, *, validate: bool, max_retries: int,
          cache=None):
    """``backend``: the emitter class (mpm.Emitter) whose ``compile_database`` and
    ``database_error`` are used; see compile.build_database. ``cache`` (a
    cache.CompileCache, Hyperscan only): the outcome (rules rejected, with the messages)
    and the database are taken from it when there, stored otherwise."""
    from xdpfw._fast import match

    t0 = time.perf_counter()
    if cache is None or not getattr(backend, "cacheable", False):
        db = _build(cb, rules, backend, validate=validate, max_retries=max_retries)
        cb.build_time = time.perf_counter() - t0
        return db
    import importlib
    import json

    from xdpfw.detect.cache import build_key

    mod = importlib.import_module(backend.database)
    key = build_key(cb, backend.name, mod.Database.cache_key(cb.patterns, cb.mode) if cb.patterns else "",
                    validate=validate, max_retries=max_retries)
    raw = cache.get("build", key)
    outcome = None
    if raw is not None:
        try:
            outcome = json.loads(raw)
            dropped = [(int(i), str(m)) for i, m in outcome["dropped"]]
            if any(i not in cb.rules for i, _ in dropped):
                raise ValueError("names a rule this buffer does not have")
        except (ValueError, KeyError, TypeError) as e:
            cache.discard("build", key, f"bad outcome: {e}", read=True)
            outcome = None
    if outcome is not None:
        for idx, message in dropped:
            cb.errors.append(backend.database_error(rules[idx], cb.buffer, message))
        drop_rules(cb, [i for i, _ in dropped])
        if not cb.patterns:
            if not cb.errors:
                raise match.CompileError(None, f"no rule of buffer {cb.buffer} could be compiled")
            db = None
        else:
            db = cache.database(mod, cb.patterns, cb.mode)
        cb.build_time = time.perf_counter() - t0
        return db
    before, record = dict(cb.rules), []
    db = _build(cb, rules, backend, validate=validate, max_retries=max_retries, record=record,
                compile_final=lambda pats, mode: cache.database(mod, pats, mode))
    if sorted(i for i, _ in record) == sorted(i for i in before if i not in cb.rules):
        cache.put("build", key, json.dumps({"dropped": record}).encode())
    cb.build_time = time.perf_counter() - t0
    return db


def _build(cb: CompiledBuffer, rules: Sequence[Rule], backend, *, validate: bool, max_retries: int,
           compile_final=None, record=None):
    """The build itself; ``record`` (a list) gets (rule index, message) per rule rejected."""
    from xdpfw._fast import match

    compile_final = compile_final or backend.compile_database
    record = [] if record is None else record
    if validate:
        by_id = {p.id: p for p in cb.patterns}
        bad: list[int] = []
        cache: dict[tuple, str | None] = {}
        for idx, cr in cb.rules.items():
            if not cr.validate:
                continue
            pats = [by_id[i] for i in cr.pattern_ids]
            key = tuple((p.expression, p.min_offset, p.max_offset, p.combination) for p in pats)
            if key not in cache:
                try:
                    backend.compile_database(pats, cb.mode)
                    cache[key] = None
                except match.CompileError as e:
                    cache[key] = e.message
            if cache[key] is not None:
                bad.append(idx)
                record.append((idx, cache[key] or ""))
                cb.errors.append(backend.database_error(rules[idx], cb.buffer, cache[key] or ""))
        drop_rules(cb, bad)
    for _ in range(max_retries + 1):
        if not cb.patterns:
            if cb.errors:   # every rule rejected, each named in cb.errors: no database
                return None
            raise match.CompileError(None, f"no rule of buffer {cb.buffer} could be compiled")
        try:
            db = compile_final(cb.patterns, cb.mode)
            break
        except match.CompileError as e:
            if e.pattern_id is None:
                # Not pinned to a pattern (e.g. "Have unordered match in sub-expressions"):
                # find the rules that fail alone.
                culprits = _failing_alone(cb, backend)
            else:
                culprits = cb.owners.get(e.pattern_id, [])
            if not culprits:
                raise
            for idx in culprits:
                record.append((idx, e.message))
                cb.errors.append(backend.database_error(rules[idx], cb.buffer, e.message))
            drop_rules(cb, culprits)
    else:
        raise match.CompileError(None, f"more than {max_retries} rules rejected by {backend.label}")
    return db


def _failing_alone(cb: CompiledBuffer, backend) -> list[int]:
    from xdpfw._fast import match
    by_id = {p.id: p for p in cb.patterns}
    bad = []
    for idx, cr in cb.rules.items():
        try:
            backend.compile_database([by_id[i] for i in cr.pattern_ids], cb.mode)
        except match.CompileError:
            bad.append(idx)
    return bad
