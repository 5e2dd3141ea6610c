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



def build(cb: CompiledBuffer, rules: Sequence[Rule], backend, *, validate: bool, max_retries: int):
    """``backend``: the emitter class (mpm.Emitter) whose ``compile_database`` and
    ``database_error`` are used; see compile.build_database."""
    from xdpfw._fast import match

    t0 = time.perf_counter()
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
                cb.errors.append(backend.database_error(rules[idx], cb.buffer, cache[key] or ""))
        drop_rules(cb, bad)
    for _ in range(max_retries + 1):
        if not cb.patterns:
            if cb.errors:   # every rule rejected, each named in cb.errors: no database
                return None
            raise match.CompileError(None, f"no rule of buffer {cb.buffer} could be compiled")
        try:
            db = backend.compile_database(cb.patterns, cb.mode)
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
                cb.errors.append(backend.database_error(rules[idx], cb.buffer, e.message))
            drop_rules(cb, culprits)
    else:
        raise match.CompileError(None, f"more than {max_retries} rules rejected by {backend.label}")
    cb.build_time = time.perf_counter() - t0
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
