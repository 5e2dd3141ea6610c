"""Suricata rule language front end: parse, validate and model rules.

Public API::

    from xdpfw.rules import load_ruleset, parse_rule, RuleSet, Rule, RuleError, AddressSet, PortSet
    rs = load_ruleset(paths, variables=None, classification=None, threshold=None, strict=False)
    rule = parse_rule(text, variables=None)

See docs/RULES.md for the supported language and the semantics of each keyword.
"""
from xdpfw.rules.addresses import AddressSet
from xdpfw.rules.errors import RuleError
from xdpfw.rules.loader import RuleSet, load_ruleset, parse_rule
from xdpfw.rules.model import Action, Rule, action_sort_key
from xdpfw.rules.ports import PortSet
from xdpfw.rules.variables import Variables

__all__ = ["Action", "AddressSet", "PortSet", "Rule", "RuleError", "RuleSet", "Variables",
           "action_sort_key", "load_ruleset", "parse_rule"]
