"""Formulas: a rule as a tree of operand ids, its Hyperscan combination text, and its
value over the operands that matched (the reference for combine="engine")."""
from __future__ import annotations

Formula = "int | tuple"  # an operand id, ("and", f...), ("or", f...), ("not", f)


def render(f) -> str:
    if isinstance(f, int):
        return str(f)
    op, *args = f
    if op == "not":
        inner = render(args[0])
        return f"!{inner}" if isinstance(args[0], int) else f"!({inner})"
    sep = " & " if op == "and" else " | "
    parts = [(render(a) if isinstance(a, int) or a[0] == "not" or a[0] == op else f"({render(a)})")
             for a in args]
    return sep.join(parts)


def evaluate(formula, matched: "set[int] | frozenset[int]") -> bool:
    """A formula's value when exactly the operand ids in ``matched`` have matched.

    This is the reference for an engine that evaluates rules itself (``combine="engine"``):
    positive operands may be evaluated as soon as they are reported; a formula with a
    negation (or the end-of-data sentinel) must be evaluated once, at end of data.
    """
    if isinstance(formula, int):
        return formula in matched
    op, *args = formula
    if op == "not":
        return not evaluate(args[0], matched)
    if op == "and":
        return all(evaluate(a, matched) for a in args)
    return any(evaluate(a, matched) for a in args)



def operands(f) -> list[int]:
    if isinstance(f, int):
        return [f]
    out: list[int] = []
    for a in f[1:]:
        out += [x for x in operands(a) if x not in out]
    return out
