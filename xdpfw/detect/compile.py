"""The detection pipeline: rules -> matcher patterns, one database per inspected buffer.

``compile_buffer(rules, buffer, mode)`` translates every rule's content/pcre/isdataat
conditions on ``buffer`` into Hyperscan patterns such that the rule's report id is
reported exactly when Suricata's inspection of that buffer would succeed (see
docs/DETECT.md for the translation table and what is exact). The engine then checks the
rule's header, flow and size conditions (``CompiledRule.checks``) in C.

How a rule becomes patterns:

* its matches on the buffer are split into *chains*: a chain starts at a non-relative
  content or pcre (or at the buffer start when the first match is relative) and takes
  every following relative keyword whose previous content/pcre belongs to it;
* a chain is built as a list of *templates*: token sequences (literal bytes, byte
  classes, gaps ``.{lo,hi}``, embedded pcre text, start/end anchors) with the position of
  the last match (the cursor). A relative content is placed at every offset its
  distance/within allow: beyond the current end as a gap, and, for offsets that overlap
  bytes already placed (negative distance), by merging it byte by byte, one template per
  offset (bounded by :data:`MAX_ALTERNATIVES`). A chain's templates become one regex
  (an alternation when there are several);
* negated keywords and absolute isdataat become further expressions; a rule with more
  than one expression is a Hyperscan logical combination of quiet sub-expressions, and a
  rule with a negation also requires the end-of-data sentinel so the combination is
  evaluated on the whole buffer (Hyperscan's NOT means "not matched yet").

Everything that cannot be translated is a :class:`CompileError` naming file, line, sid
and keyword; translations that are knowingly not exact are listed per rule in
``CompiledRule.approximations``.

The pipeline's modules, in the order a rule goes through them: ``translate`` (per-rule
translation into chains of ``tokens`` templates, with ``pcre_text`` for embedded pcre
and ``regex_emit`` for the regex text), then one matcher backend's emitter (``mpm`` the
common part, ``mpm_hs`` Hyperscan, ``mpm_ac`` Aho-Corasick; registered in
:data:`EMITTERS`) turns each rule into that matcher's patterns and a ``CompiledRule``
(``results``, ``formula``, ``buffers``), and ``databases`` compiles them, mapping the
matcher's rejections back to rules. This module is the entry point: the functions below
are what the rest of xdpfw calls.
"""
from __future__ import annotations

from typing import Iterable, Sequence

from xdpfw.detect import databases
from xdpfw.detect.buffers import transforms_of
from xdpfw.detect.formula import evaluate
from xdpfw.detect.mpm import Emitter
from xdpfw.detect.mpm_ac import AhoCorasickEmitter
from xdpfw.detect.mpm_hs import HyperscanEmitter
from xdpfw.detect.regex_emit import MAX_REPEAT, avoid_regex
from xdpfw.detect.results import CompiledBuffer, CompiledRule, CompileError, EngineCheck
from xdpfw.detect.tokens import MAX_ALTERNATIVES
from xdpfw.detect.translate import RuleOut, translate_rule
from xdpfw.rules.model import PAYLOAD, Rule

__all__ = ["EMITTERS", "MAX_ALTERNATIVES", "MAX_REPEAT", "CompileError", "CompiledBuffer", "CompiledRule",
           "EngineCheck", "avoid_regex", "buffer_keys", "build_database", "compile_buffer",
           "compile_literals", "compile_matcher", "compile_rule", "evaluate"]

#: The matcher backends (``--matcher``): name -> emitter class (see mpm.py).
EMITTERS: dict[str, type[Emitter]] = {
    HyperscanEmitter.name: HyperscanEmitter,
    AhoCorasickEmitter.name: AhoCorasickEmitter,
}

MODES = ("stream", "block")


def buffer_keys(rules: Iterable[Rule]) -> list[tuple[str, tuple[str, ...]]]:
    """The (buffer, transforms) pairs the rules inspect: one database each."""
    keys: dict[tuple[str, tuple[str, ...]], None] = {}
    for r in rules:
        for buf, ms in r.buffers().items():
            keys.setdefault((buf, tuple(transforms_of(ms))), None)
    return list(keys)


def compile_rule(rule: Rule, buffer: str = PAYLOAD) -> RuleOut:
    """Translate one rule's matches on ``buffer`` (raises CompileError)."""
    return translate_rule(rule, buffer)


def compile_matcher(matcher: str, rules: Sequence[Rule], buffer: str = PAYLOAD, mode: str = "stream",
                    **options) -> CompiledBuffer:
    """Translate every rule that inspects ``buffer`` into patterns for one database of the
    ``matcher`` backend (a key of :data:`EMITTERS`; ``options`` go to its emitter)."""
    if mode not in MODES:
        raise ValueError(f"mode must be 'stream' or 'block', got {mode!r}")
    emitter = EMITTERS[matcher](len(rules), mode, **options)
    report: dict[int, int] = {}
    compiled: dict[int, CompiledRule] = {}
    errors: list[CompileError] = []
    owners: dict[int, list[int]] = {}
    for idx, rule in enumerate(rules):
        ms = rule.buffers().get(buffer)
        if not ms:
            continue
        try:
            cr = emitter.rule(idx, rule, buffer, ms)
        except CompileError as e:
            errors.append(e)
            continue
        if cr is None:
            continue
        for pid in cr.pattern_ids:
            owners.setdefault(pid, []).append(idx)
        if cr.report_id >= 0:
            report[cr.report_id] = idx
        compiled[idx] = cr
    return CompiledBuffer(buffer, mode, emitter.patterns, report, compiled, errors, owners, emitter.eod_id,
                          emitter.combine)


def compile_buffer(rules: Sequence[Rule], buffer: str = PAYLOAD, mode: str = "stream", *,
                   transforms: tuple[str, ...] | None = None, singlematch: bool = True,
                   combine: str = "hyperscan") -> CompiledBuffer:
    """Translate every rule that inspects ``buffer`` into Hyperscan patterns for one database.

    ``transforms``: only rules whose matches on the buffer carry these transforms (None:
    all, each rule's transforms recorded). ``singlematch``: report each rule at most once
    per stream (until finish/reset) or block scan. ``combine``: how a rule made of several
    expressions is reported: ``"hyperscan"`` compiles a logical combination of quiet
    operands reported under the rule's id (in stream mode Hyperscan reports it only when a
    later match or end of data comes: docs/DETECT.md); ``"engine"`` reports the operands
    themselves and leaves ``CompiledRule.formula`` to the engine (see :func:`evaluate`).
    """
    return compile_matcher("hs", rules, buffer, mode, transforms=transforms, singlematch=singlematch,
                           combine=combine)


def compile_literals(rules: Sequence[Rule], buffer: str = PAYLOAD, mode: str = "stream") -> CompiledBuffer:
    """The rules for the Aho-Corasick backend (``--matcher ac``): plain literals only.

    A rule qualifies when each of its matches on ``buffer`` is a content that is not
    relative (no distance/within), not endswith, without transforms; offset, depth and
    startswith bound the literal's end offset (min/max_offset). The backend has neither
    SINGLEMATCH nor combinations, so in stream mode every rule is a formula the engine
    evaluates over its contents as operands (negated contents as ``not``): that also
    reports it once per stream. In block mode a rule must be a single positive content,
    reported directly. Rules that do not qualify are CompileErrors naming the keyword.
    """
    return compile_matcher("ac", rules, buffer, mode)


def build_database(cb: CompiledBuffer, rules: Sequence[Rule], *, validate: bool = True,
                   max_retries: int = 50, cache=None):
    """Compile ``cb`` with Hyperscan (mode ``cb.mode``) and return the database.

    A rule Hyperscan rejects (a pcre construct it lacks, a pattern too large) is removed
    from ``cb`` and recorded in ``cb.errors`` with Hyperscan's message; with ``validate``
    every rule that embeds a pcre or a large bounded repeat is first compiled alone, so
    one bad rule costs one small compile instead of a full one. ``cache``: a
    cache.CompileCache (the outcome and the database from disk when there).
    """
    return databases.build(cb, rules, HyperscanEmitter, validate=validate, max_retries=max_retries, cache=cache)
