"""Split rule files into logical rules and rules into header tokens and options.

File level (as Suricata's ``DetectLoadSigFile``): a line whose first non-blank
character is ``#`` is a comment, so a disabled rule ``# alert ...`` is not a rule;
blank lines are skipped; a line ending in ``\\`` (trailing blanks ignored) continues on
the next line, which is appended as is. Unlike Suricata, a rule line may be indented.

Rule level: ``keyword[:value];`` options end at the first ``;`` not escaped by a
backslash; quotes do not protect a ``;`` (write ``\\;``), exactly as in Suricata.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from xdpfw.rules.errors import KeywordError

_OPTION = re.compile(r"\s*((?:[^;\\]|\\.)*);", re.S)


@dataclass(frozen=True, slots=True)
class LogicalRule:
    """A rule as assembled from the file: ``line`` is its first physical line and
    ``indent`` the blanks before it (added to columns so they match the file)."""

    text: str
    line: int
    indent: int


def logical_rules(text: str) -> Iterator[LogicalRule]:
    """Yield the rules of a rule file's text, in order."""
    parts: list[str] = []
    start = 0
    indent = 0
    # Lines end at "\n" only (a trailing "\r" of CRLF files is white space), as Suricata
    # reads them and as editors and grep number them: str.splitlines() would also split
    # at "\r", "\v", "\f", "\x1c".."\x1e", "\x85" and U+2028/9 inside a rule, and every
    # later line number would be wrong.
    lines = text.split("\n")
    if lines and not lines[-1]:
        lines.pop()
    for lineno, raw in enumerate(lines, 1):
        if not parts:
            stripped = raw.lstrip()
            if not stripped or stripped[0] == "#":
                continue
            start = lineno
            indent = len(raw) - len(stripped)
            raw = stripped
        body = raw.rstrip()
        if body.endswith("\\"):
            parts.append(body[:-1])
            continue
        parts.append(body)
        yield LogicalRule("".join(parts), start, indent)
        parts = []
    if parts:
        yield LogicalRule("".join(parts), start, indent)


@dataclass(frozen=True, slots=True)
class RawOption:
    """One ``keyword[:value]`` of a rule; ``col`` is the 0-based offset of the keyword
    and ``value_col`` of the value in the rule text."""

    name: str
    value: str | None
    col: int
    value_col: int


def split_options(text: str, base: int) -> Iterator[RawOption]:
    """Split the text between a rule's parentheses into options.

    ``base`` is the offset of ``text`` in the rule, for columns. Raises
    :class:`KeywordError` (offset relative to the rule) when text is left after the
    last ``;``.
    """
    pos = 0
    for m in _OPTION.finditer(text):
        if m.start() != pos:
            break
        pos = m.end()
        body = m.group(1)
        if not body.strip():
            continue
        col = base + m.start(1)
        name, sep, value = body.partition(":")
        stripped = name.strip()
        lead = len(name) - len(name.lstrip())
        if not sep:
            yield RawOption(stripped, None, col + lead, col + lead)
            continue
        vlead = len(value) - len(value.lstrip())
        yield RawOption(stripped, value.strip(), col + lead, col + len(name) + 1 + vlead)
    rest = text[pos:]
    if rest.strip():
        off = base + pos + (len(rest) - len(rest.lstrip()))
        raise KeywordError(f"option {rest.strip()[:40]!r} is not terminated by ';'", off)


def split_header(text: str) -> list[tuple[str, int]]:
    """Whitespace-separated header tokens with their 0-based offsets; brackets may
    contain blanks (``[1.2.3.4, 5.6.7.8]`` is one token)."""
    tokens: list[tuple[str, int]] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        start = i
        depth = 0
        while i < n and (depth > 0 or not text[i].isspace()):
            c = text[i]
            if c == "[":
                depth += 1
            elif c == "]":
                depth -= 1
            i += 1
        tokens.append((text[start:i], start))
    return tokens


def unescape(text: str) -> str:
    """Drop the backslash of each escape (``\\;`` -> ``;``)."""
    if "\\" not in text:
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            if i + 1 >= n:
                raise KeywordError("trailing backslash", i)
            out.append(text[i + 1])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def unquote(value: str, required: bool = True) -> tuple[str, int]:
    """Strip one pair of double quotes; returns the inner text and its offset.

    With ``required``, a value without quotes is an error; quotes that do not pair up
    always are.
    """
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"' and not _escaped_end(value):
        return value[1:-1], 1
    if value.startswith('"') or (value.endswith('"') and not _escaped_end(value)):
        raise KeywordError("unbalanced double quotes")
    if required:
        raise KeywordError("value must be enclosed in double quotes")
    return value, 0


def _escaped_end(value: str) -> bool:
    """True when the final quote is escaped (odd number of backslashes before it)."""
    n = 0
    i = len(value) - 2
    while i >= 0 and value[i] == "\\":
        n += 1
        i -= 1
    return n % 2 == 1
