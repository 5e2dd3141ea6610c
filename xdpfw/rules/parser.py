"""Parse one rule: header, options in order, then whole-rule validation.

``action proto src sport dir dst dport (keyword[:value]; ...)``

The result is a :class:`Rule`. Problems raise :class:`RuleError` with the rule's
file, first line, the column of the offending token and the keyword. A rule that is
valid but uses keywords the engine does not support yet comes back with
``rule.unsupported`` set; the loader turns that into a skip.
"""
from __future__ import annotations

import re
from typing import Mapping

from xdpfw.rules import protocols
from xdpfw.rules.addresses import AddressSet, parse_addresses
from xdpfw.rules.classification import DEFAULT_CLASSIFICATIONS, Classification
from xdpfw.rules.context import ParseContext
from xdpfw.rules.errors import ExprError, KeywordError, RuleError
from xdpfw.rules.keywords import lookup
from xdpfw.rules.keywords.base import Value
from xdpfw.rules.keywords.buffers import BY_NAME as BUFFERS
from xdpfw.rules.lexer import split_header, split_options
from xdpfw.rules.model import PAYLOAD, Action, Option, RawOption, Rule
from xdpfw.rules.ports import PortSet, parse_ports
from xdpfw.rules.variables import Variables

_HEADER_FIELDS = ("action", "protocol", "source address", "source port", "direction",
                  "destination address", "destination port")
_ACTIONS = {a.value: a for a in Action}


_SID_HINT = re.compile(r"[(;]\s*sid\s*:\s*(\d+)\s*;")


class _Where:
    """Builds RuleErrors located in one rule."""

    __slots__ = ("path", "line", "indent", "text")

    def __init__(self, path: str, line: int, indent: int, text: str = "") -> None:
        self.path, self.line, self.indent, self.text = path, line, indent, text

    def error(self, message: str, offset: int, keyword: str | None = None, sid: int = 0) -> RuleError:
        """``offset`` is 0-based in the logical rule text. The sid is often written after
        the faulty option, so when it is not parsed yet it is looked up in the text."""
        if not sid:
            m = _SID_HINT.search(self.text)
            sid = int(m.group(1)) if m else 0
        return RuleError(message, path=self.path, line=self.line, col=self.indent + offset + 1,
                         keyword=keyword, sid=sid or None)


def parse_rule_text(text: str, *, variables: Variables,
                    classifications: Mapping[str, Classification] = DEFAULT_CLASSIFICATIONS,
                    path: str = "<string>", line: int = 1, indent: int = 0) -> Rule:
    """Parse one logical rule; see the module docstring."""
    where = _Where(path, line, indent, text)
    end = len(text.rstrip())
    open_paren = text.find("(")
    if open_paren < 0:
        raise where.error("missing '(' before the rule options", max(end - 1, 0))
    if not text[:end].endswith(")"):
        raise where.error("rule options must end with ')'", max(end - 1, 0))
    rule = _parse_header(text[:open_paren], where, variables)
    rule.file, rule.line, rule.text = path, line, text
    ctx = ParseContext(rule, classifications)
    if not protocols.PROTOCOLS[rule.proto][1]:
        ctx.unsupported.append(f"protocol:{rule.proto}")
    _parse_options(text[open_paren + 1:end - 1], open_paren + 1, ctx, where)
    _finish(ctx, where, open_paren)
    rule.unsupported = tuple(dict.fromkeys(ctx.unsupported))
    return rule


def _parse_header(header: str, where: _Where, variables: Variables) -> Rule:
    tokens = split_header(header)
    if len(tokens) != 7:
        raise where.error(f"rule header needs 7 fields (action protocol src_addr src_port direction "
                          f"dst_addr dst_port), found {len(tokens)}", tokens[0][1] if tokens else 0)
    (act, act_col), (proto, proto_col) = tokens[0], tokens[1]
    action = _ACTIONS.get(act.lower())
    if action is None:
        raise where.error(f"unknown action {act!r} (expected alert, drop, pass, reject, rejectsrc, "
                          "rejectdst or rejectboth)", act_col)
    proto = proto.lower()
    if proto not in protocols.PROTOCOLS:
        raise where.error(f"unknown protocol {proto!r}", proto_col)
    direction, dir_col = tokens[4]
    if direction not in ("->", "<>"):
        raise where.error(f"invalid direction {direction!r} (expected '->' or '<>')", dir_col)
    return Rule(action=action, proto=proto,
                src=_addresses(tokens[2], 2, where, variables),
                src_ports=_ports(tokens[3], 3, where, variables),
                bidirectional=direction == "<>",
                dst=_addresses(tokens[5], 5, where, variables),
                dst_ports=_ports(tokens[6], 6, where, variables))


def _addresses(token: tuple[str, int], field: int, where: _Where, variables: Variables) -> AddressSet:
    text, col = token
    try:
        return parse_addresses(text, variables)
    except ExprError as e:
        raise where.error(f"{e.message} in {_HEADER_FIELDS[field]}", col + e.pos) from None


def _ports(token: tuple[str, int], field: int, where: _Where, variables: Variables) -> PortSet:
    text, col = token
    try:
        return parse_ports(text, variables)
    except ExprError as e:
        raise where.error(f"{e.message} in {_HEADER_FIELDS[field]}", col + e.pos) from None


def _parse_options(body: str, base: int, ctx: ParseContext, where: _Where) -> None:
    rule = ctx.rule
    try:
        raw_options = list(split_options(body, base))
    except KeywordError as e:
        raise where.error(e.message, e.offset) from None
    for raw in raw_options:
        name = raw.name
        value = raw.value or None
        spec = lookup(name)
        if spec is None and name.lower() != name:
            spec = lookup(name.lower())
            name = name.lower()
        if spec is None:
            # Unknown to the registry: the rule is skipped, counted under this name. It
            # may well match on the sticky buffer, so that buffer is not reported empty.
            ctx.unsupported.append(name)
            if ctx.sticky_keyword is not None:
                ctx.matched()
            rule.options.append(Option(name, value, where.indent + raw.col + 1, RawOption(value)))
            continue
        try:
            if spec.value is Value.NONE and value is not None:
                raise KeywordError(f"takes no value (got {value!r})")
            if spec.value is Value.REQUIRED and value is None:
                raise KeywordError("needs a value")
            if not spec.supported:
                ctx.unsupported.append(name)
            ctx.keyword = name
            ctx.col = where.indent + raw.col + 1
            assert spec.parse is not None
            parsed = spec.parse(value, ctx)
        except KeywordError as e:
            offset = raw.value_col + e.offset if e.offset else raw.col
            raise where.error(f"keyword '{name}': {e.message}", offset, name, rule.sid) from None
        rule.options.append(Option(name, value, ctx.col, parsed))


def _finish(ctx: ParseContext, where: _Where, open_paren: int) -> None:
    """Checks that need the whole rule."""
    rule = ctx.rule
    try:
        ctx.close_sticky()
    except KeywordError as e:
        raise where.error(e.message, ctx.sticky_col - where.indent - 1, ctx.sticky_keyword, rule.sid) from None
    if not rule.sid:
        raise where.error("rule has no sid", open_paren)
    _check_buffers(ctx, where)
    _check_protocol(ctx, where)


def _check_buffers(ctx: ParseContext, where: _Where) -> None:
    rule = ctx.rule
    for c in rule.contents:
        buf = BUFFERS.get(c.buffer)
        if buf is not None and buf.lowercase and not c.nocase and any(65 <= b <= 90 for b in c.pattern):
            raise where.error(f"keyword 'content': pattern has upper-case letters but {c.buffer} is "
                              "normalized to lower case; use nocase or a lower-case pattern",
                              c.col - where.indent - 1, "content", rule.sid)
    for b in rule.bsize:
        top = b.match.max_value(2**64 - 1)
        for c in rule.contents:
            if c.buffer == b.buffer and not c.negated and len(c.pattern) > top:
                raise where.error(f"keyword 'bsize': content of {len(c.pattern)} bytes can never match "
                                  f"a {b.buffer} buffer of at most {max(top, 0)} bytes",
                                  c.col - where.indent - 1, "bsize", rule.sid)


def _check_protocol(ctx: ParseContext, where: _Where) -> None:
    """Every buffer must be valid with the header protocol, and all must belong to the
    same application protocol; record that protocol on the rule."""
    rule = ctx.rule
    proto = rule.proto
    apps: dict[str, tuple[str, str, int]] = {}
    for buffer, (keyword, col) in ctx.buffer_uses.items():
        if buffer == PAYLOAD:
            continue
        buf = BUFFERS[buffer]
        if buf.protos and proto not in buf.protos:
            raise where.error(f"keyword '{keyword}' ({buffer}) cannot be used in a rule for protocol {proto}",
                              col - where.indent - 1, keyword, rule.sid)
        if buf.app is not None:
            apps.setdefault(buf.app, (buffer, keyword, col))
    if len(apps) > 1:
        (a1, (_, k1, _)), (a2, (_, k2, c2)) = list(apps.items())[:2]
        raise where.error(f"keywords '{k1}' ({a1}) and '{k2}' ({a2}) need different application protocols",
                          c2 - where.indent - 1, k2, rule.sid)
    header_app = protocols.PROTOCOLS[proto][0]
    rule.app_proto = header_app or (next(iter(apps)) if apps else None)
