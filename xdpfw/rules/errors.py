"""Problems found while loading rules, in the GCC-style form editors understand.

Every problem the loader finds is a :class:`RuleError`. Keyword parsers raise the
lighter :class:`KeywordError` (message only); the rule parser adds where it happened.
"""
from __future__ import annotations

from typing import Literal

Severity = Literal["error", "warning"]


class RuleError(Exception):
    """One problem in a rule or configuration file.

    ``line`` is the first physical line of the rule, ``col`` the 1-based column of the
    offending token within the logical rule (multi-line rules are joined first), both
    best effort. ``str(err)`` is ``path:line:col: severity: message``.
    """

    def __init__(self, message: str, *, path: str = "<string>", line: int = 1, col: int = 1,
                 keyword: str | None = None, severity: Severity = "error",
                 sid: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.col = col
        self.keyword = keyword
        self.severity: Severity = severity
        self.sid = sid

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.severity}: {self.message}"

    def __repr__(self) -> str:
        return f"RuleError({str(self)!r})"


class KeywordError(ValueError):
    """Raised by a keyword's ``parse``; the rule parser prefixes the keyword name.

    ``offset`` is a best-effort 0-based position inside the option value, used to
    refine the reported column.
    """

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


class ExprError(ValueError):
    """A bad address/port expression or variable; ``pos`` is the offset in the text."""

    def __init__(self, message: str, pos: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos
