"""``flowbits``: set and test named flags on the flow.

``set``, ``unset``, ``toggle``, ``isset``, ``isnotset`` take a name; ``noalert`` takes
none and suppresses the rule's alert. ``isset,a|b`` (Suricata) is true if any name
is set (``isnotset,a|b``: if any is unset); ``|`` is only valid with these two.
``a&b`` (Snort's form, not Suricata's) applies to all names. A rule that requires a
bit both set and not set can never match and is an error.
"""
from __future__ import annotations

from typing import Literal

from xdpfw.rules.context import ParseContext
from xdpfw.rules.errors import KeywordError
from xdpfw.rules.keywords.base import Kind, KeywordSpec, doc
from xdpfw.rules.model import Flowbit

NAMES = ("flowbits",)
DESC = "set, clear and test named flags kept on the flow"
DOC_URL = doc("flowbits")

_COMMANDS = ("set", "isset", "isnotset", "unset", "toggle")
MAX_NAMES = 100


def parse(value: str | None, ctx: ParseContext) -> Flowbit | None:
    assert value is not None
    cmd, sep, names_text = value.partition(",")
    cmd = cmd.strip()
    names_text = names_text.strip()
    if cmd == "noalert":
        if names_text:
            raise KeywordError("'noalert' takes no name")
        ctx.rule.noalert = True
        return None
    if cmd not in _COMMANDS:
        raise KeywordError(f"unknown command {cmd!r} (expected set, isset, isnotset, unset, toggle, noalert)")
    if not names_text:
        raise KeywordError(f"'{cmd}' needs a flowbit name")
    group: Literal["any", "all"] | None = None
    if "|" in names_text and "&" in names_text:
        raise KeywordError("'|' and '&' cannot be mixed")
    if "|" in names_text:
        if cmd not in ("isset", "isnotset"):
            raise KeywordError(f"'|' (any of) is only valid with isset and isnotset, not {cmd!r}")
        group = "any"
        parts = names_text.split("|")
    elif "&" in names_text:
        group = "all"
        parts = names_text.split("&")
    else:
        parts = [names_text]
    names = tuple(p.strip() for p in parts)
    if any(not n for n in names):
        raise KeywordError(f"empty flowbit name in {names_text!r}")
    if any(ch.isspace() for n in names for ch in n):
        raise KeywordError("flowbit names cannot contain spaces")
    if len(names) > MAX_NAMES:
        raise KeywordError(f"more than {MAX_NAMES} names")
    fb = Flowbit(cmd, names, group)  # type: ignore[arg-type]
    if fb.is_check:
        opposite = "isnotset" if cmd == "isset" else "isset"
        for other in ctx.rule.flowbits:
            # A single name required both set and not set can never match.
            if other.command == opposite and len(other.names) == 1 and len(names) == 1 \
                    and other.names == names:
                raise KeywordError(f"'{cmd},{names[0]}' contradicts '{opposite},{names[0]}' in the same rule")
    ctx.rule.flowbits.append(fb)
    return fb


KEYWORDS = (KeywordSpec("flowbits", DESC, DOC_URL, parse, kind=Kind.FLOW),)
