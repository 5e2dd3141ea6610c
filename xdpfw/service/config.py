"""The YAML configuration of `xdpfw run -c FILE` and `xdpfw check -c FILE`.

One file says everything the daemon needs: the inline interface pair, queues, rule files
and their variables, threshold/classification files, the fail mode and watchdog, the
engine's policies, the flow table size, the metrics endpoint, the control socket, and the
EVE outputs. docs/CONFIG.md documents every key with its default and an example.

Validation is strict and positional: the file is composed with PyYAML (so every node
keeps its line and column), walked against the schema below, and every problem is a
``path:line:col: error: message`` line (the GCC form `xdpfw check` uses for rules). An
unknown key is an error that names it (a misspelt key silently ignored would leave a
setting at its default without anyone noticing). All problems are reported, not only
the first.

Precedence: built-in defaults < the file < command-line flags (``merge_flags``).
Relative paths in the file are relative to the file's directory; rule files relative to
``rules.default-rule-path`` (Suricata's convention), itself relative to the file.
"""
from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import yaml

DEFAULT_CONTROL_SOCKET = "/run/xdpfw/xdpfw.sock"
DEFAULT_METRICS_LISTEN = "127.0.0.1:9640"
DEFAULT_STATS_INTERVAL = 8.0          # seconds, Suricata's stats.interval default
EVE_FILETYPES = ("regular", "unix_stream", "unix_dgram")
EVE_TYPES = ("alert", "drop", "stats")
POLICIES = ("pass", "drop")


class ConfigError(Exception):
    """Problems in a configuration file; ``problems`` holds each ``path:line:col: error:
    message`` line, str() all of them."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class EveOutput:
    """One EVE output: where (a file or a unix socket) and which event types."""

    filetype: str = "regular"                 # regular | unix_stream | unix_dgram
    filename: str = "eve.json"
    types: tuple[str, ...] = ("alert", "drop")
    stats_interval: float = DEFAULT_STATS_INTERVAL


@dataclass
class Config:
    """Everything `xdpfw run` needs; the defaults are those of a run with no file."""

    path: str | None = None                    # the file this came from
    inline: tuple[str, str] | None = None      # interfaces: A (client side) and B
    queues: int | None = None                  # None: as many as both interfaces have
    xdp_mode: str = "native"
    xsk_mode: str = "auto"
    busy_poll: bool = False
    default_rule_path: str | None = None
    rule_files: list[str] = field(default_factory=list)
    classification_file: str | None = None
    threshold_file: str | None = None
    matcher: str = "hs"
    rules_strict: bool = False                 # rules.strict: refuse to start if any rule cannot run
    address_groups: dict[str, str] = field(default_factory=dict)
    port_groups: dict[str, str] = field(default_factory=dict)
    fail_mode: str = "open"
    watchdog_ms: int = 1000
    decode_error_policy: str = "drop"          # inline: what cannot be inspected is not forwarded
    no_flow_policy: str = "drop"
    policy_drop_records: int = 100   # EVE drop records per second per policy drop reason (0: every drop)
    tcp_midstream: str = "accept"               # accept | drop
    flow_capacity: int = 1 << 16
    stream_checksum_validation: bool = True     # inline: drop TCP segments with a wrong checksum
    stream_ttl_normalization: bool = True       # inline: raise a TCP segment's TTL to its direction's highest
    tls_encryption_handling: str = "default"    # app-layer.protocols.tls.encryption-handling (engine.pyx ENC_*)
    metrics_listen: str = DEFAULT_METRICS_LISTEN  # "" disables
    control_socket: str = DEFAULT_CONTROL_SOCKET  # "" disables
    eve: list[EveOutput] = field(default_factory=list)  # none: alerts and drops to stdout
    cache_enabled: bool = True                  # cache.enabled: the compile cache (xdpfw/detect/cache.py)
    cache_dir: str | None = None                # cache.directory; None: cache.default_dir("run")
    cache_max_mb: int = 1024                    # cache.max-size-mb

    def compile_cache(self, command: str = "run"):
        """The compile cache this configuration asks for (None: off or unusable)."""
        from xdpfw.detect.cache import open_cache

        return open_cache(self.cache_dir, enabled=self.cache_enabled, max_bytes=self.cache_max_mb << 20,
                          command=command)

    def rule_paths(self) -> list[str]:
        """Rule files as paths (relative ones under default_rule_path)."""
        base = self.default_rule_path
        return [f if os.path.isabs(f) or base is None else os.path.join(base, f) for f in self.rule_files]

    def var_items(self) -> list[str]:
        """Variables as NAME=VALUE items (the --var form load_detection takes)."""
        return [f"{k}={v}" for k, v in {**self.address_groups, **self.port_groups}.items()]

    def variables(self) -> dict[str, dict[str, str]]:
        """Variables in Suricata's shape, for xdpfw.rules.variables.Variables."""
        return {"address-groups": dict(self.address_groups), "port-groups": dict(self.port_groups)}


# -- the schema ---------------------------------------------------------------------------------
#
# A schema node is either a dict {key: (schema, setter)} for a mapping, or a leaf
# converter: fn(node, ctx) -> value, raising _Bad(message) (placed at the node).


class _Bad(Exception):
    def __init__(self, message: str, node: yaml.Node | None = None):
        super().__init__(message)
        self.message = message
        self.node = node


class _Ctx:
    def __init__(self, path: str):
        self.path = path
        self.base = os.path.dirname(os.path.abspath(path)) if path != "<string>" else os.getcwd()
        self.problems: list[str] = []

    def error(self, node: yaml.Node | None, message: str) -> None:
        if node is None:
            self.problems.append(f"{self.path}:1:1: error: {message}")
        else:
            m = node.start_mark
            self.problems.append(f"{self.path}:{m.line + 1}:{m.column + 1}: error: {message}")


_BOOL_TAG = "tag:yaml.org,2002:bool"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_NULL_TAG = "tag:yaml.org,2002:null"
_STR_TAG = "tag:yaml.org,2002:str"


def _scalar(node: yaml.Node) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise _Bad("expected a single value, got a " + ("list" if isinstance(node, yaml.SequenceNode) else "mapping"))
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    except yaml.constructor.ConstructorError as e:
        raise _Bad(str(e.problem)) from None
    finally:
        loader.dispose()


def _str(node: yaml.Node, ctx: _Ctx) -> str:
    v = _scalar(node)
    if isinstance(v, bool) or v is None or isinstance(v, (list, dict)):
        raise _Bad(f"expected a string, got {v!r}")
    return str(v)


def _opt_str(node: yaml.Node, ctx: _Ctx) -> str:
    """A string; null or false mean "" (disabled)."""
    if isinstance(node, yaml.ScalarNode) and node.tag in (_NULL_TAG, _BOOL_TAG):
        v = _scalar(node)
        if v is None or v is False:
            return ""
    return _str(node, ctx)


def _path(node: yaml.Node, ctx: _Ctx) -> str:
    s = _str(node, ctx)
    if not s:
        raise _Bad("empty path")
    return s if os.path.isabs(s) else os.path.normpath(os.path.join(ctx.base, s))


def _bool(node: yaml.Node, ctx: _Ctx) -> bool:
    v = _scalar(node)
    if not isinstance(v, bool):
        raise _Bad(f"expected true or false, got {v!r}")
    return v


def _int(lo: int, hi: int) -> Callable[[yaml.Node, _Ctx], int]:
    def conv(node: yaml.Node, ctx: _Ctx) -> int:
        v = _scalar(node)
        if isinstance(v, bool) or not isinstance(v, int):
            raise _Bad(f"expected an integer, got {v!r}")
        if not lo <= v <= hi:
            raise _Bad(f"{v} is out of range [{lo}, {hi}]")
        return v
    return conv


def _number(lo: float, hi: float) -> Callable[[yaml.Node, _Ctx], float]:
    def conv(node: yaml.Node, ctx: _Ctx) -> float:
        v = _scalar(node)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise _Bad(f"expected a number, got {v!r}")
        if not lo <= v <= hi:
            raise _Bad(f"{v} is out of range [{lo}, {hi}]")
        return float(v)
    return conv


def _choice(*choices: str) -> Callable[[yaml.Node, _Ctx], str]:
    def conv(node: yaml.Node, ctx: _Ctx) -> str:
        v = _scalar(node)
        if v not in choices:
            raise _Bad(f"expected one of {', '.join(choices)}, got {v!r}")
        return v
    return conv


def _queues(node: yaml.Node, ctx: _Ctx) -> int | None:
    v = _scalar(node)
    if v == "auto" or v is None:
        return None
    from xdpfw.dataplane.shared import MAX_QUEUES

    return _int(1, MAX_QUEUES)(node, ctx)


def _inline(node: yaml.Node, ctx: _Ctx) -> tuple[str, str]:
    if not isinstance(node, yaml.SequenceNode) or len(node.value) != 2:
        raise _Bad("expected a list of two interface names: [IF_A, IF_B]")
    a, b = (_str(n, ctx) for n in node.value)
    if not a or not b:
        raise _Bad("empty interface name")
    if a == b:
        raise _Bad("the two sides must be different interfaces")
    return (a, b)


def _str_list(node: yaml.Node, ctx: _Ctx) -> list[str]:
    if isinstance(node, yaml.ScalarNode):
        return [_str(node, ctx)]
    if not isinstance(node, yaml.SequenceNode):
        raise _Bad("expected a list")
    out = []
    for n in node.value:
        try:
            out.append(_str(n, ctx))
        except _Bad as e:
            raise _Bad(e.message, n) from None
    return out


def _listen(node: yaml.Node, ctx: _Ctx) -> str:
    s = _opt_str(node, ctx)
    if s:
        host, sep, port = s.rpartition(":")
        if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise _Bad(f"expected ADDRESS:PORT (e.g. {DEFAULT_METRICS_LISTEN}), got {s!r}")
    return s


def _group(kind: str) -> Callable[[yaml.Node, _Ctx], dict[str, str]]:
    def conv(node: yaml.Node, ctx: _Ctx) -> dict[str, str]:
        if not isinstance(node, yaml.MappingNode):
            raise _Bad(f"{kind}-groups: expected a mapping NAME: VALUE")
        out: dict[str, str] = {}
        for kn, vn in node.value:
            name = _str(kn, ctx).lstrip("$")
            if not name:
                ctx.error(kn, "empty variable name")
                continue
            try:
                v = _scalar(vn) if isinstance(vn, yaml.ScalarNode) else [_str(n, ctx) for n in vn.value]
            except (_Bad, AttributeError):
                ctx.error(vn, f"variable ${name}: expected a string or a list")
                continue
            if isinstance(v, bool) or v is None:
                ctx.error(vn, f"variable ${name}: {v!r} is not an {kind} list")
                continue
            out[name] = "[" + ",".join(map(str, v)) + "]" if isinstance(v, list) else str(v).strip()
            _check_var(name, out[name], kind, vn, ctx)
        return out
    return conv


def _check_var(name: str, text: str, kind: str, node: yaml.Node, ctx: _Ctx) -> None:
    """Parse a variable's value now, so a typo is reported at its line."""
    from xdpfw.rules import listexpr
    from xdpfw.rules.errors import ExprError

    if not text:
        ctx.error(node, f"variable ${name} is empty")
        return
    try:
        listexpr.parse(text)
    except ExprError as e:
        ctx.error(node, f"variable ${name}: {e.message} in {text!r}")


def _eve_list(node: yaml.Node, ctx: _Ctx) -> list[EveOutput]:
    if not isinstance(node, yaml.SequenceNode):
        raise _Bad("outputs.eve: expected a list of outputs (- filetype: ..., filename: ...)")
    outs = []
    for item in node.value:
        o = EveOutput()
        _walk(item, _EVE_SCHEMA, o, ctx, "outputs.eve[]")
        if o.filetype != "regular" and o.filename == "eve.json":
            ctx.error(item, f"a {o.filetype} output needs filename: the socket's path")
        if not o.filename:
            ctx.error(item, "empty filename")
        elif o.filetype == "regular" and not os.path.isabs(o.filename):
            o.filename = os.path.normpath(os.path.join(ctx.base, o.filename))
        outs.append(o)
    return outs


def _types(node: yaml.Node, ctx: _Ctx) -> tuple[str, ...]:
    out = _str_list(node, ctx)
    bad = [t for t in out if t not in EVE_TYPES]
    if bad:
        raise _Bad(f"unknown event type(s) {', '.join(map(repr, bad))}; expected some of {', '.join(EVE_TYPES)}")
    if not out:
        raise _Bad("no event types")
    return tuple(dict.fromkeys(out))


def _eve_path(node: yaml.Node, ctx: _Ctx) -> str:
    return _str(node, ctx)  # made absolute in _eve_list once filetype is known


def _set(attr: str) -> Callable[[Any, Any], None]:
    return lambda obj, v: setattr(obj, attr, v)


_EVE_SCHEMA: dict[str, Any] = {
    "filetype": (_choice(*EVE_FILETYPES), _set("filetype")),
    "filename": (_eve_path, _set("filename")),
    "types": (_types, _set("types")),
    "stats-interval": (_number(0.1, 86400), _set("stats_interval")),
}

_SCHEMA: dict[str, Any] = {
    "interfaces": {
        "inline": (_inline, _set("inline")),
        "xdp-mode": (_choice("native", "generic"), _set("xdp_mode")),
        "xsk-mode": (_choice("auto", "copy", "zerocopy"), _set("xsk_mode")),
        "busy-poll": (_bool, _set("busy_poll")),
    },
    "queues": (_queues, _set("queues")),
    "rules": {
        "default-rule-path": (_path, _set("default_rule_path")),
        "rule-files": (_str_list, _set("rule_files")),
        "classification-file": (_path, _set("classification_file")),
        "threshold-file": (_path, _set("threshold_file")),
        "matcher": (_choice("hs", "ac"), _set("matcher")),
        "strict": (_bool, _set("rules_strict")),
    },
    "vars": {
        "address-groups": (_group("address"), _set("address_groups")),
        "port-groups": (_group("port"), _set("port_groups")),
    },
    "fail-mode": (_choice("open", "closed"), _set("fail_mode")),
    "watchdog-ms": (_int(0, 3_600_000), _set("watchdog_ms")),
    "policies": {
        "decode-error": (_choice(*POLICIES), _set("decode_error_policy")),
        "no-flow": (_choice(*POLICIES), _set("no_flow_policy")),
        "drop-records-per-second": (_int(0, 10_000_000), _set("policy_drop_records")),
        "tcp-midstream": (_choice("accept", "drop"), _set("tcp_midstream")),
    },
    "flows": {
        "capacity": (_int(64, 1 << 26), _set("flow_capacity")),
    },
    "stream": {
        "checksum-validation": (_bool, _set("stream_checksum_validation")),
        "ttl-normalization": (_bool, _set("stream_ttl_normalization")),
    },
    "app-layer": {
        "protocols": {
            "tls": {
                "encryption-handling": (_choice("default", "bypass", "full"), _set("tls_encryption_handling")),
            },
        },
    },
    "metrics": {
        "listen": (_listen, _set("metrics_listen")),
    },
    "control": {
        "socket": (lambda n, c: (lambda s: s and (s if os.path.isabs(s) else os.path.join(c.base, s)))(_opt_str(n, c)),
                   _set("control_socket")),
    },
    "outputs": {
        "eve": (_eve_list, _set("eve")),
    },
    "cache": {
        "enabled": (_bool, _set("cache_enabled")),
        "directory": (_path, _set("cache_dir")),
        "max-size-mb": (_int(1, 1 << 20), _set("cache_max_mb")),
    },
}


def _walk(node: yaml.Node, schema: dict[str, Any], obj: Any, ctx: _Ctx, where: str) -> None:
    if isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG:
        return  # an empty section: all defaults
    if not isinstance(node, yaml.MappingNode):
        ctx.error(node, f"{where or 'the file'}: expected a mapping of keys")
        return
    seen: set[str] = set()
    for kn, vn in node.value:
        key = kn.value if isinstance(kn, yaml.ScalarNode) else str(kn)
        name = f"{where}.{key}" if where else key
        if key in seen:
            ctx.error(kn, f"duplicate key '{name}'")
            continue
        seen.add(key)
        entry = schema.get(key)
        if entry is None:
            known = ", ".join(sorted(schema))
            ctx.error(kn, f"unknown key '{name}' (known here: {known})")
            continue
        if isinstance(entry, dict):
            _walk(vn, entry, obj, ctx, name)
            continue
        conv, setter = entry
        try:
            setter(obj, conv(vn, ctx))
        except _Bad as e:
            ctx.error(e.node or vn, f"{name}: {e.message}")


def parse_config(text: str, path: str = "<string>") -> Config:
    """A Config from YAML text; raises ConfigError with every problem found."""
    ctx = _Ctx(path)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        m = e.problem_mark
        where = f"{path}:{m.line + 1}:{m.column + 1}" if m else f"{path}:1:1"
        raise ConfigError([f"{where}: error: YAML syntax: {e.problem or e}"]) from None
    except yaml.YAMLError as e:
        raise ConfigError([f"{path}:1:1: error: YAML: {e}"]) from None
    cfg = Config(path=path)
    if root is not None:
        _walk(root, _SCHEMA, cfg, ctx, "")
    if cfg.default_rule_path is None:
        cfg.default_rule_path = ctx.base  # relative rule files: next to the configuration
    if ctx.problems:
        raise ConfigError(ctx.problems)
    return cfg


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a configuration file (ConfigError on any problem, OSError too
    is turned into one)."""
    p = os.fspath(path)
    try:
        text = Path(p).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError([f"{p}:0:0: error: cannot read the configuration: {e}"]) from None
    return parse_config(text, p)


def check_runnable(cfg: Config) -> list[str]:
    """What `xdpfw run` needs beyond a valid file: the interface pair."""
    where = f"{cfg.path}:1:1" if cfg.path else "<flags>:1:1"
    out = []
    if cfg.inline is None:
        out.append(f"{where}: error: interfaces.inline is required (or --inline IF_A IF_B)")
    return out


# -- flags over the file ---------------------------------------------------------------------------

class _Explicit(argparse.Action):
    """Marker base: see track_explicit()."""


def track_explicit(parser: argparse.ArgumentParser) -> None:
    """Make ``parser`` record which options the command line gave (in the namespace's
    ``_explicit`` set), so a flag overrides the file only when given, even when its
    value equals the built-in default. argparse calls an option's action only for options
    present on the command line; each action is wrapped to note its dest."""
    for action in parser._actions:  # noqa: SLF001 - argparse has no public action list
        if isinstance(action, (argparse._HelpAction, argparse._VersionAction, _Explicit)):
            continue
        base = type(action)

        def call(self, parser, namespace, values, option_string=None, _base=base):
            given = getattr(namespace, "_explicit", None)
            if given is None:
                given = set()
                setattr(namespace, "_explicit", given)
            given.add(self.dest)
            _base.__call__(self, parser, namespace, values, option_string)

        action.__class__ = type(f"Tracked{base.__name__}", (base, _Explicit), {"__call__": call})


# run flag dest -> (Config attribute, conversion)
_FLAG_MAP: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "inline": ("inline", tuple),
    "queues": ("queues", lambda v: v),
    "rules": ("rule_files", list),
    "threshold": ("threshold_file", lambda v: v),
    "classification": ("classification_file", lambda v: v),
    "fail_mode": ("fail_mode", lambda v: v),
    "metrics_listen": ("metrics_listen", lambda v: v),
    "xsk_mode": ("xsk_mode", lambda v: v),
    "xdp_mode": ("xdp_mode", lambda v: v),
    "busy_poll": ("busy_poll", bool),
    "watchdog_ms": ("watchdog_ms", int),
    "flows": ("flow_capacity", int),
    "matcher": ("matcher", lambda v: v),
    "strict": ("rules_strict", bool),
    "control_socket": ("control_socket", lambda v: v),
    "cache_dir": ("cache_dir", lambda v: os.path.abspath(v) if v else None),
    "no_cache": ("cache_enabled", lambda v: not v),
}


def merge_flags(cfg: Config, args: argparse.Namespace, *, all_flags: bool = False) -> Config:
    """The file's config with the command line's flags over it. Without a file
    (``all_flags``), every flag's value (defaults included) is taken."""
    given = set(vars(args)) if all_flags else set(getattr(args, "_explicit", ()) or ())
    out = replace(cfg, eve=list(cfg.eve), rule_files=list(cfg.rule_files),
                  address_groups=dict(cfg.address_groups), port_groups=dict(cfg.port_groups))
    for dest, (attr, conv) in _FLAG_MAP.items():
        if dest in given and hasattr(args, dest):
            v = getattr(args, dest)
            if v is None and attr in ("inline", "rule_files"):
                continue
            setattr(out, attr, conv(v) if v is not None else None)
    if "rules" in given and getattr(args, "rules", None):
        out.default_rule_path = None  # flags name paths as given
        out.rule_files = [os.path.abspath(p) for p in args.rules]
    if "var" in given:
        for item in getattr(args, "var", []) or []:
            name, sep, value = item.partition("=")
            name = name.strip().lstrip("$")
            if not sep or not name:
                raise ConfigError([f"<flags>:1:1: error: --var expects NAME=VALUE, got {item!r}"])
            group = out.port_groups if name in out.port_groups else out.address_groups
            group[name] = value.strip()
    if "eve" in given and getattr(args, "eve", None):
        out.eve = [EveOutput("regular", os.path.abspath(args.eve), ("alert", "drop"))]
    return out


# -- `xdpfw check -c FILE` ---------------------------------------------------------------------

def cmd_check(args, out=None, err=None) -> int:
    """Validate a configuration and build its rule set exactly as `xdpfw run` (and a
    reload) would: kernel ACL placement, engine tables, matcher databases. PATHs, when
    given, replace the configuration's rule files (Suricata's -S). Exit 0 when `run`
    would start with it, 1 otherwise (every problem printed as path:line:col)."""
    import sys
    import time as _time

    from xdpfw.detect.ruleset import RulesNotEnforceable, load_detection, report_lines

    out = out or sys.stdout
    err = err or sys.stderr
    try:
        cfg = load_config(args.config)
    except ConfigError as e:
        for p in e.problems:
            print(p, file=err)
        print(f"configuration {args.config}: {len(e.problems)} problem(s)", file=out)
        return 1
    problems = check_runnable(cfg)
    paths = [os.path.abspath(p) for p in (getattr(args, "paths", None) or [])]
    if paths:
        cfg = replace(cfg, rule_files=paths, default_rule_path=None)
    for item in getattr(args, "var", None) or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip().lstrip("$"):
            problems.append(f"<flags>:1:1: error: --var expects NAME=VALUE, got {item!r}")
            continue
        cfg.address_groups[name.strip().lstrip("$")] = value.strip()
    for p in problems:
        print(p, file=err)
    if not cfg.rule_files:
        print(f"configuration {cfg.path}: no rule files (rules.rule-files); the appliance would only forward",
              file=out)
        return 1 if problems else 0
    if getattr(args, "strict", False):
        cfg = replace(cfg, rules_strict=True)
    t0 = _time.monotonic()
    try:
        if getattr(args, "no_cache", False):
            cfg = replace(cfg, cache_enabled=False)
        elif getattr(args, "cache_dir", None):
            cfg = replace(cfg, cache_dir=os.path.abspath(args.cache_dir))
        det = load_detection(cfg.rule_paths(), cfg.var_items(), kernel_acl=True, threshold=cfg.threshold_file,
                             classification=cfg.classification_file, matcher=cfg.matcher,
                             strict=cfg.rules_strict, cache=cfg.compile_cache("run"))  # the daemon's: a check before a reload fills it
    except RulesNotEnforceable as e:
        lines = str(e).splitlines()
        for line in lines[:-1]:
            print(line, file=err)
        print(lines[-1] if lines else "rules failed", file=out)
        if getattr(args, "disable_conf_out", None):
            n = write_disable_conf(args.disable_conf_out, lines[:-1])
            print(f"{args.disable_conf_out}: {n} rule(s) to disable (suricata-update --disable-conf)", file=out)
        return 1
    except (OSError, ValueError) as e:
        print(f"{cfg.path}:0:0: error: {e}", file=err)
        return 1
    for line in report_lines(det):
        print(line.replace(": error: ", ": warning: ", 1), file=err)
    if getattr(args, "disable_conf_out", None):
        n = write_disable_conf(args.disable_conf_out, report_lines(det))
        print(f"{args.disable_conf_out}: {n} rule(s) to disable (suricata-update --disable-conf)", file=out)
    print(det.summary, file=out)
    print(f"configuration {cfg.path}: OK for `xdpfw run`: {len(det.in_kernel)} rule(s) in the kernel ACL, "
          f"{det.engine_rules} in the inspection engine (built in {_time.monotonic() - t0:.1f} s)"
          if not problems else f"configuration {cfg.path}: {len(problems)} problem(s)", file=out)
    return 1 if problems else 0


_SID_IN_ERROR = re.compile(r": (?:error|warning): (?:rule )?sid:(\d+) ")


def write_disable_conf(path: str, problems: list[str]) -> int:
    """suricata-update's disable.conf listing every rule `run` refused (one sid a line,
    the first reason as a comment), so the next update leaves them out. Returns the
    number of sids written."""
    reasons: dict[int, str] = {}
    for p in problems:
        m = _SID_IN_ERROR.search(p)
        if m:
            reasons.setdefault(int(m.group(1)), p[m.end():].strip())
    with open(path, "w", encoding="utf-8") as f:
        f.write("# Rules this xdpfw build cannot enforce exactly (written by `xdpfw check -c ... "
                "--disable-conf-out`).\n")
        for sid, why in sorted(reasons.items()):
            f.write(f"{sid}  # {why}\n")
    return len(reasons)
