"""What a keyword module provides, and small value parsers they share.

Each keyword module (``keywords.MODULES``) exports ``NAMES`` (its keywords), a
one-line ``DESC``, ``DOC_URL`` (an anchor in docs/RULES.md), ``parse(value, ctx)`` and
``KEYWORDS``: one :class:`KeywordSpec` row per keyword. The row's ``supported=`` flag says whether the
engine can honour the keyword; flipping it is a one-line change.
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from xdpfw.rules.errors import KeywordError

if TYPE_CHECKING:
    from xdpfw.rules.context import ParseContext
    from xdpfw.rules.model import IntMatch

ParseFn = Callable[[str | None, "ParseContext"], object]

DOCS = "docs/RULES.md"


class Value(enum.Enum):
    """Whether a keyword takes a value after ``:``."""

    REQUIRED = "required"
    NONE = "none"
    OPTIONAL = "optional"


class Kind(enum.StrEnum):
    META = "meta"
    PAYLOAD = "payload"          # content and content modifiers
    BUFFER = "sticky buffer"
    MODIFIER = "buffer modifier"  # legacy http_uri-style content modifiers
    TRANSFORM = "transform"
    FLOW = "flow"
    THRESHOLD = "threshold"
    OTHER = "other"
    PROTOCOL = "protocol"


@dataclass(frozen=True, slots=True)
class KeywordSpec:
    """One registry row."""

    name: str
    desc: str
    doc_url: str
    parse: ParseFn | None  # None only for header protocols, which are not options
    supported: bool = True
    aliases: tuple[str, ...] = ()
    kind: Kind = Kind.OTHER
    value: Value = Value.REQUIRED


def doc(anchor: str) -> str:
    return f"{DOCS}#{anchor}"


def parse_uint(text: str, what: str = "value", lo: int = 0, hi: int = 2**32 - 1) -> int:
    """A decimal integer within ``[lo, hi]``."""
    t = text.strip()
    if not t.isdigit():
        raise KeywordError(f"{what} {text!r} is not an integer")
    n = int(t)
    if not lo <= n <= hi:
        raise KeywordError(f"{what} {n} out of range {lo}-{hi}")
    return n


def parse_int(text: str, lo: int, hi: int, what: str = "value") -> int:
    """A signed decimal integer within ``[lo, hi]``."""
    t = text.strip()
    if not re.fullmatch(r"[+-]?\d+", t):
        raise KeywordError(f"{what} {text!r} is not an integer")
    n = int(t)
    if not lo <= n <= hi:
        raise KeywordError(f"{what} {n} out of range {lo}-{hi}")
    return n


# Suricata treats a value starting with a letter as a variable name; ET uses dots
# ("Certs.len").
_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


def is_var_name(text: str) -> bool:
    """True for a byte_extract/byte_math variable reference."""
    return bool(_VAR.fullmatch(text.strip()))


_INT_MATCH = re.compile(r"\s*(?:(!=|!|<=|>=|<|>|=)\s*(\d+)|(\d+)\s*(?:(<>|-)\s*(\d+))?)\s*")


def parse_int_match(text: str, hi: int) -> "IntMatch":
    """Suricata's integer comparison syntax: ``n``, ``=n``, ``!n``, ``!=n``, ``<n``,
    ``<=n``, ``>n``, ``>=n``, ``lo<>hi`` (exclusive range; ``lo-hi`` is the same),
    with values in ``0..hi``."""
    from xdpfw.rules.model import IntMatch

    m = _INT_MATCH.fullmatch(text)
    if not m:
        raise KeywordError(f"value {text!r} is not a number or comparison (n, <n, >n, !n, lo<>hi)")
    op, val, lo, rng, high = m.groups()
    if op is not None:
        n = int(val)
        if n > hi:
            raise KeywordError(f"value {n} out of range 0-{hi}")
        canon = {"!": "!=", "=": "="}.get(op, op)
        return IntMatch(canon, n)  # type: ignore[arg-type]
    a = int(lo)
    if a > hi:
        raise KeywordError(f"value {a} out of range 0-{hi}")
    if rng is None:
        return IntMatch("=", a)
    b = int(high)
    if b > hi:
        raise KeywordError(f"value {b} out of range 0-{hi}")
    if b <= a + 1:
        raise KeywordError(f"range {a}<>{b} is empty (bounds are exclusive)")
    return IntMatch("<>", a, b)
