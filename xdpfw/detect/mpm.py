"""The multi-pattern matcher backends' common part (Suricata's ``MpmTableElmt``).

The pipeline (compile.py) walks a buffer's rules and hands each to one *emitter*: the
object that knows what its matcher accepts and turns a rule into that matcher's patterns
(``xdpfw._fast.match.Pattern``) and a :class:`~xdpfw.detect.results.CompiledRule`. This
base class holds what every backend shares: pattern ids (the rules' own ids ``0..n-1``,
operands from ``n`` up, each operand compiled once per database however many rules use
it), reporting a rule by its single pattern, and a rule as a formula over operands, either
compiled as the backend's own combination or left to the engine (``report_id`` -1).

A backend (one module, one entry in ``compile.EMITTERS``) subclasses :class:`Emitter` and
sets ``name``/``label``/``database``/``combine``/``combines`` and defines :meth:`rule`
and the pattern constructors it uses; :meth:`compile_database` and :meth:`database_error`
(overridable) are what ``databases.build`` compiles with.
"""
from __future__ import annotations

import importlib
from typing import Hashable, Sequence

from xdpfw.detect.formula import operands, render
from xdpfw.detect.results import CompiledRule, CompileError
from xdpfw.rules.model import Match, Rule


class Emitter:
    name = ""           # the --matcher value
    label = ""          # in messages: "rejected by <label>"
    database = ""       # the Cython matcher module whose Database.compile(patterns, mode) builds it
    combine = "engine"  # CompiledBuffer.combine: who evaluates a rule of several operands
    combines = False    # True: a formula is compiled as the backend's combination pattern

    def __init__(self, n_rules: int, mode: str):
        from xdpfw._fast.match import Pattern

        self.Pattern = Pattern
        self.mode = mode
        self.patterns: list = []
        self.eod_id: int | None = None
        self._ids: dict[Hashable, int] = {}
        self._next_id = n_rules

    # -- what a backend defines --------------------------------------------------------
    def rule(self, idx: int, rule: Rule, buffer: str, matches: Sequence[Match]) -> CompiledRule | None:
        """The rule's patterns (appended) and how it is reported; None: not for this
        database (left out silently); raises CompileError when the backend cannot."""
        raise NotImplementedError

    def operand_pattern(self, pid: int, key):
        """The pattern of an operand (a part of a formula)."""
        raise NotImplementedError

    def report_pattern(self, pid: int, key):
        """The pattern of a rule made of one pattern, reported under the rule's id."""
        raise NotImplementedError

    def combination_pattern(self, pid: int, text: str):
        """A formula compiled by the backend (only when ``combines``)."""
        raise NotImplementedError

    @classmethod
    def compile_database(cls, patterns, mode: str):
        """The backend's database (its Cython matcher, xdpfw._fast.match_*)."""
        return importlib.import_module(cls.database).Database.compile(patterns, mode=mode)

    @classmethod
    def database_error(cls, rule: Rule, buffer: str, message: str) -> CompileError:
        """A CompileError for a rule the backend's compiler rejected with ``message``."""
        return CompileError(rule, "content", f"{cls.label}: {message}", cls.name)

    # -- shared ------------------------------------------------------------------------
    def new_id(self) -> int:
        pid = self._next_id
        self._next_id += 1
        return pid

    def operand(self, key) -> int:
        """The id of the operand ``key`` (compiled once per database)."""
        pid = self._ids.get(key)
        if pid is None:
            pid = self._ids[key] = self.new_id()
            self.patterns.append(self.operand_pattern(pid, key))
        return pid

    def term(self, keys: Sequence) -> "int | tuple":
        """Any of ``keys`` matches: one operand, or ("or", ...)."""
        ids = [self.operand(k) for k in keys]
        return ids[0] if len(ids) == 1 else ("or", *ids)

    def report(self, cr: CompiledRule, key) -> None:
        """``cr`` is reported by one pattern, under its own id."""
        self.patterns.append(self.report_pattern(cr.report_id, key))
        cr.formula, cr.tree, cr.pattern_ids = str(cr.report_id), cr.report_id, (cr.report_id,)

    def formula(self, cr: CompiledRule, parts: list) -> None:
        """``cr`` holds when all of ``parts`` (operand trees) do."""
        tree = parts[0] if len(parts) == 1 else ("and", *parts)
        cr.tree = tree
        cr.formula = render(tree)
        ids = operands(tree)
        if self.combines:
            text = cr.formula if len(parts) > 1 or not isinstance(tree, int) else f"{tree} | {tree}"
            self.patterns.append(self.combination_pattern(cr.report_id, text))
            cr.pattern_ids = (cr.report_id, *ids)
        else:
            cr.report_id = -1  # the engine evaluates the formula over the operands
            cr.pattern_ids = tuple(ids)
