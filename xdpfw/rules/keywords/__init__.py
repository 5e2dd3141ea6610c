"""The keyword registry: every rule option keyword the front end knows.

``REGISTRY`` maps each name and alias to its :class:`KeywordSpec`. A keyword that is
not in it makes the rule skipped (counted under its name); one whose row says
``supported=False`` is parsed as far as it can be and the rule is skipped too.
Header protocols are listed as ``protocol:<name>`` rows (see
:mod:`xdpfw.rules.protocols`) so ``xdpfw check`` counts them the same way.
"""
from __future__ import annotations

from types import ModuleType

from xdpfw.rules import protocols
from xdpfw.rules.keywords import (app_layer, bsize, buffers, byte_ops, classtype, content, dsize, events,
                                  fast_pattern, flow, flowbits, header_fields, ids, isdataat, metadata,
                                  misc, modifiers, msg, noalert, pcre, priority, reference, state_vars,
                                  target, threshold, transforms, urilen)
from xdpfw.rules.keywords.base import Kind, KeywordSpec, Value

MODULES: tuple[ModuleType, ...] = (
    msg, ids, classtype, priority, metadata, reference, target,
    content, modifiers, fast_pattern, pcre, buffers, transforms,
    bsize, isdataat, dsize, urilen,
    flow, flowbits, noalert, threshold,
    byte_ops, state_vars, header_fields, app_layer, misc, events,
)


def _build() -> dict[str, KeywordSpec]:
    table: dict[str, KeywordSpec] = {}
    for mod in MODULES:
        for spec in mod.KEYWORDS:
            for name in (spec.name, *spec.aliases):
                if name in table:
                    raise RuntimeError(f"keyword {name!r} registered twice ({mod.__name__})")
                table[name] = spec
    return table


#: name or alias -> spec, for option keywords.
REGISTRY: dict[str, KeywordSpec] = _build()


def lookup(name: str) -> KeywordSpec | None:
    """The spec of an option keyword (any spelling), or None when unknown."""
    return REGISTRY.get(name)


def all_keywords() -> list[KeywordSpec]:
    """Every registry row once (aliases folded), plus the header protocols."""
    seen: dict[int, KeywordSpec] = {}
    for spec in REGISTRY.values():
        seen.setdefault(id(spec), spec)
    return [*seen.values(), *protocols.KEYWORDS]


__all__ = ["Kind", "KeywordSpec", "MODULES", "REGISTRY", "Value", "all_keywords", "lookup"]
