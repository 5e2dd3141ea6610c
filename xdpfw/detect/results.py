"""Results of the pipeline: what a buffer's rules compiled to, and the errors."""
from __future__ import annotations

from dataclasses import dataclass, field

from xdpfw.detect.formula import evaluate
from xdpfw.rules.model import IntMatch, Rule


class CompileError(Exception):
    """A rule that cannot be translated: ``file:line: error: sid:N keyword 'X': message``.

    (Not to be confused with :class:`xdpfw._fast.match.CompileError`, which names a
    pattern id; :func:`build_database` maps those back to rules.)
    """

    def __init__(self, rule: Rule, keyword: str, message: str, reason: str = "unsupported"):
        self.rule = rule
        self.sid = rule.sid
        self.keyword = keyword
        self.message = message
        self.reason = reason  # a short category for statistics
        super().__init__(f"{rule.file}:{rule.line}: error: sid:{rule.sid} keyword '{keyword}': {message}")


class Problem(str):
    """One rule the data path cannot run, as its ``file:line: error: ...`` line; ``rule``
    is the rule it names (None: a problem of no one rule, e.g. a file)."""

    rule: Rule | None

    def __new__(cls, text: str, rule: Rule | None = None):
        self = super().__new__(cls, text)
        self.rule = rule
        return self


def problems_of(errors) -> list[Problem]:
    """CompileErrors as Problems naming their rules."""
    return [Problem(str(e), e.rule) for e in errors]


@dataclass(frozen=True)
class EngineCheck:
    """A condition the engine checks itself after the rule's id is reported."""

    keyword: str        # dsize, bsize, urilen
    match: IntMatch
    what: str           # e.g. "packet payload length", "length of http.uri"


@dataclass
class CompiledRule:
    index: int                      # position in the rules given to compile_buffer
    sid: int
    report_id: int                  # the id Hyperscan reports for this rule (-1: engine evaluates)
    formula: str                    # Hyperscan combination text, or the single expression's id
    pattern_ids: tuple[int, ...]    # every pattern id this rule uses (report id first)
    checks: list[EngineCheck] = field(default_factory=list)
    eod: bool = False               # may be reported only at end of data (finish / block end)
    approximations: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # translation techniques used (informational)
    fast_pattern: bytes | None = None
    transforms: tuple[str, ...] = ()
    validate: bool = False          # embeds a pcre or a large repeat: compiled alone first
    tree: object = None             # the formula as a tree (see evaluate())

    def holds(self, matched: "set[int] | frozenset[int]") -> bool:
        """Does the rule hold when exactly these operand ids have matched (at end of data)?"""
        return evaluate(self.tree, matched)

    @property
    def exact(self) -> bool:
        return not self.approximations


@dataclass
class CompiledBuffer:
    buffer: str
    mode: str
    patterns: list  # list[match.Pattern]
    report: dict[int, int]            # reported id -> rule index
    rules: dict[int, CompiledRule]    # rule index -> how it was compiled
    errors: list[CompileError]
    owners: dict[int, list[int]] = field(default_factory=dict)  # pattern id -> rule indexes
    eod_id: int | None = None         # the end-of-data sentinel, when a rule needs it
    combine: str = "hyperscan"        # or "engine": operands reported, formulas evaluated by the engine
    build_time: float = 0.0           # seconds spent in build_database (validation + compile)

    def checks(self, index: int) -> list[EngineCheck]:
        return self.rules[index].checks

    def summary(self) -> dict[str, object]:
        reasons: dict[str, int] = {}
        for e in self.errors:
            reasons[e.reason] = reasons.get(e.reason, 0) + 1
        approx: dict[str, int] = {}  # rules per approximation tag
        for r in self.rules.values():
            for k in {a.split(":")[0] for a in r.approximations}:
                approx[k] = approx.get(k, 0) + 1
        return {"buffer": self.buffer, "rules": len(self.rules), "rejected": len(self.errors),
                "patterns": len(self.patterns), "rejected_by_reason": reasons,
                "approximate": approx, "eod": sum(r.eod for r in self.rules.values())}
