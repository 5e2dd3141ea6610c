"""Load rule files into a :class:`RuleSet`, collecting every problem on the way.

Nothing in a rule or config file makes the loader raise: each bad rule becomes a
:class:`RuleError` (severity ``error``, the rule is not loaded), each rule using a
keyword the engine cannot honour yet becomes a ``warning`` (the rule is skipped and
counted per keyword), and loading continues with the next rule.
"""
from __future__ import annotations

import collections
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from xdpfw.rules.classification import DEFAULT_CLASSIFICATIONS, Classification, load_classification
from xdpfw.rules.errors import ExprError, RuleError
from xdpfw.rules.lexer import logical_rules
from xdpfw.rules.model import Rule
from xdpfw.rules.parser import parse_rule_text
from xdpfw.rules.threshold import apply_threshold_config, load_threshold
from xdpfw.rules.variables import Variables

PathLike = str | os.PathLike[str]


@dataclass
class RuleSet:
    """The result of :func:`load_ruleset`."""

    rules: list[Rule] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)
    warnings: list[RuleError] = field(default_factory=list)
    skipped: collections.Counter[str] = field(default_factory=collections.Counter)
    files: int = 0
    failed_rules: int = 0
    skipped_rules: int = 0
    unsupported: list[tuple[RuleError, Rule]] = field(default_factory=list)  # each skip, with its rule

    def summary(self) -> str:
        """Suricata's load summary line."""
        return (f"{self.files} rule files processed. {len(self.rules)} rules successfully loaded, "
                f"{self.failed_rules} rules failed, {self.skipped_rules} rules skipped")

    def by_id(self) -> dict[tuple[int, int], Rule]:
        """Loaded rules keyed by ``(gid, sid)``."""
        return {(r.gid, r.sid): r for r in self.rules}


def _rule_files(paths: Iterable[PathLike], errors: list[RuleError]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            files.extend(sorted(f for f in path.iterdir() if f.suffix == ".rules" and f.is_file()))
        elif path.exists():
            files.append(path)
        else:
            errors.append(RuleError("no such file or directory", path=str(path), line=0, col=0))
    return files


def _skip_message(rule: Rule) -> str:
    names = rule.unsupported
    if len(names) == 1:
        return f"rule sid:{rule.sid} skipped: keyword '{names[0]}' is not supported"
    listed = ", ".join(f"'{n}'" for n in names)
    return f"rule sid:{rule.sid} skipped: keywords {listed} are not supported"


def load_ruleset(paths: Iterable[PathLike] | PathLike, variables: Mapping[str, Any] | Variables | None = None,
                 classification: PathLike | None = None, threshold: PathLike | None = None,
                 strict: bool = False) -> RuleSet:
    """Load rules from files and directories (``*.rules``, sorted, in a directory).

    ``variables`` overlays Suricata's default address/port groups (see
    :mod:`xdpfw.rules.variables`). ``classification``/``threshold`` are paths to
    classification.config and threshold.config; without the first, Suricata's shipped
    classification table is used. With ``strict``, a rule using an unsupported keyword
    fails (error) instead of being skipped (warning).
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    rs = RuleSet()
    try:
        vars_ = variables if isinstance(variables, Variables) else Variables(variables)
    except ExprError as e:
        rs.errors.append(RuleError(f"variables: {e.message}; using Suricata's defaults",
                                   path="<variables>", line=0, col=0))
        vars_ = Variables()
    classes: Mapping[str, Classification] = DEFAULT_CLASSIFICATIONS
    if classification is not None:
        classes, cerrors = load_classification(classification)
        rs.errors.extend(cerrors)
    seen: dict[tuple[int, int], Rule] = {}
    for path in _rule_files(paths, rs.errors):
        rs.files += 1
        try:
            with open(path, encoding="utf-8", errors="surrogateescape", newline="") as f:
                text = f.read()   # newline="": no "\r" becomes a line break (lexer.logical_rules)
        except OSError as e:
            rs.errors.append(RuleError(f"cannot read rule file: {e.strerror}", path=str(path), line=0, col=0))
            continue
        _load_text(text, str(path), vars_, classes, strict, seen, rs)
    if threshold is not None:
        entries, terrors, twarnings = load_threshold(threshold, vars_)
        rs.errors.extend(terrors)
        rs.warnings.extend(twarnings)
        rs.warnings.extend(apply_threshold_config(rs.rules, entries))
    return rs


def _load_text(text: str, path: str, variables: Variables, classes: Mapping[str, Classification],
               strict: bool, seen: dict[tuple[int, int], Rule], rs: RuleSet) -> None:
    for lr in logical_rules(text):
        try:
            rule = parse_rule_text(lr.text, variables=variables, classifications=classes,
                                   path=path, line=lr.line, indent=lr.indent)
        except RuleError as e:
            rs.errors.append(e)
            rs.failed_rules += 1
            continue
        key = (rule.gid, rule.sid)
        first = seen.get(key)
        if first is not None:
            rs.errors.append(RuleError(f"duplicate sid:{rule.sid} (gid {rule.gid}); first defined at "
                                       f"{first.file}:{first.line}", path=path, line=lr.line,
                                       col=lr.indent + 1, keyword="sid", sid=rule.sid))
            rs.failed_rules += 1
            continue
        seen[key] = rule
        if rule.unsupported:
            for name in rule.unsupported:
                rs.skipped[name] += 1
            err = RuleError(_skip_message(rule), path=path, line=lr.line, col=_skip_col(rule, lr.indent),
                            keyword=rule.unsupported[0], sid=rule.sid,
                            severity="error" if strict else "warning")
            if strict:
                rs.errors.append(err)
                rs.failed_rules += 1
            else:
                rs.warnings.append(err)
                rs.skipped_rules += 1
            rs.unsupported.append((err, rule))
            continue
        rs.rules.append(rule)


def _skip_col(rule: Rule, indent: int) -> int:
    """Column of the first unsupported keyword (the protocol for protocol:<x>)."""
    first = rule.unsupported[0]
    if first.startswith("protocol:"):
        return indent + rule.text.find(" ") + 2
    for o in rule.options:
        if o.keyword == first:
            return o.col
    return indent + 1


def parse_rule(text: str, variables: Mapping[str, Any] | Variables | None = None,
               classification: Mapping[str, Classification] | None = None,
               allow_unsupported: bool = False) -> Rule:
    """Parse one rule from a string; raises :class:`RuleError`.

    A rule using an unsupported keyword raises a ``warning``-severity RuleError,
    unless ``allow_unsupported`` (then ``rule.unsupported`` lists the keywords).
    """
    vars_ = variables if isinstance(variables, Variables) else Variables(variables)
    found = list(logical_rules(text))
    if len(found) != 1:
        raise RuleError(f"expected one rule, found {len(found)}")
    lr = found[0]
    rule = parse_rule_text(lr.text, variables=vars_, line=lr.line, indent=lr.indent,
                           classifications=classification if classification is not None
                           else DEFAULT_CLASSIFICATIONS)
    if rule.unsupported and not allow_unsupported:
        raise RuleError(_skip_message(rule), line=lr.line, col=_skip_col(rule, lr.indent),
                        keyword=rule.unsupported[0], severity="warning", sid=rule.sid)
    return rule
