"""Check EVE output: every line parses, has no duplicate key, and fits our schema.

The same checks suricata-verify's check-eve runs on Suricata's eve.json, against
xdpfw/service/eve_schema.json. Any test can call it::

    from eve_check import assert_eve_valid, check_eve
    assert_eve_valid(tmp_path / "eve.json")      # a path, a file, bytes, or lines
    errors = check_eve(lines)                    # ["line 3: ...", ...]

or from a shell: ``python tests/eve_check.py eve.json [more.json ...]``.

The validator below implements the part of JSON Schema (2020-12) that our schema uses;
a keyword outside that part is an error, so the schema cannot silently rely on something
this checker ignores. No third-party package is needed.
"""
from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Iterable

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "xdpfw" / "service" / "eve_schema.json"

_ANNOTATIONS = frozenset(("$schema", "$id", "$comment", "title", "description", "$defs", "examples"))
_KEYWORDS = frozenset((
    "type", "enum", "const", "pattern", "minimum", "maximum", "minLength", "maxLength",
    "minItems", "maxItems", "properties", "required", "additionalProperties", "items",
    "propertyNames", "$ref", "allOf", "anyOf", "oneOf", "not", "if", "then", "else",
)) | _ANNOTATIONS


class DuplicateKeyError(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise DuplicateKeyError(f"duplicate key {k!r}")
        out[k] = v
    return out


def parse_line(line: str | bytes) -> dict[str, Any]:
    """One EVE line as a dict; raises ValueError on bad JSON, a duplicate key, or a
    value that is not an object."""
    if isinstance(line, bytes):
        line = line.decode("utf-8")   # EVE is UTF-8; anything else is an error
    obj = json.loads(line, object_pairs_hook=_no_duplicates)
    if not isinstance(obj, dict):
        raise ValueError(f"not a JSON object: {type(obj).__name__}")
    return obj


def _is_type(v: Any, t: str) -> bool:
    if t == "object":
        return isinstance(v, dict)
    if t == "array":
        return isinstance(v, list)
    if t == "string":
        return isinstance(v, str)
    if t == "boolean":
        return isinstance(v, bool)
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if t == "null":
        return v is None
    raise ValueError(f"schema: unknown type {t!r}")


def _json_equal(a: Any, b: Any) -> bool:
    # JSON Schema equality: true is not 1.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


class Validator:
    """Validates instances against one schema document (local ``$ref`` only)."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.root = schema
        self._patterns: dict[str, re.Pattern[str]] = {}
        self._check_schema(schema, "#")

    def _check_schema(self, s: Any, where: str) -> None:
        if isinstance(s, bool):
            return
        if not isinstance(s, dict):
            raise ValueError(f"schema at {where} is not an object")
        unknown = set(s) - _KEYWORDS
        if unknown:
            raise ValueError(f"schema at {where} uses keywords this checker does not implement: {sorted(unknown)}")
        for k in ("additionalProperties", "items", "propertyNames", "not", "if", "then", "else"):
            if k in s:
                self._check_schema(s[k], f"{where}/{k}")
        for k in ("properties", "$defs"):
            for name, sub in s.get(k, {}).items():
                self._check_schema(sub, f"{where}/{k}/{name}")
        for k in ("allOf", "anyOf", "oneOf"):
            for i, sub in enumerate(s.get(k, ())):
                self._check_schema(sub, f"{where}/{k}/{i}")
        if "$ref" in s:
            self._resolve(s["$ref"])
        if "pattern" in s:
            self._pattern(s["pattern"])

    def _pattern(self, p: str) -> re.Pattern[str]:
        r = self._patterns.get(p)
        if r is None:
            r = self._patterns[p] = re.compile(p)
        return r

    def _resolve(self, ref: str) -> Any:
        if not ref.startswith("#"):
            raise ValueError(f"schema: only local $ref is supported, got {ref!r}")
        node: Any = self.root
        for part in ref[1:].split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                raise ValueError(f"schema: unresolvable $ref {ref!r}")
            node = node[part]
        return node

    def errors(self, instance: Any) -> list[str]:
        out: list[str] = []
        self._validate(instance, self.root, "", out)
        return out

    def is_valid(self, instance: Any, schema: Any | None = None) -> bool:
        out: list[str] = []
        self._validate(instance, self.root if schema is None else schema, "", out)
        return not out

    def _validate(self, v: Any, s: Any, path: str, out: list[str]) -> None:
        where = path or "(top)"
        if s is True:
            return
        if s is False:
            out.append(f"{where}: not allowed here")
            return
        if "$ref" in s:
            self._validate(v, self._resolve(s["$ref"]), path, out)
        if "type" in s:
            types = s["type"] if isinstance(s["type"], list) else [s["type"]]
            if not any(_is_type(v, t) for t in types):
                out.append(f"{where}: {json.dumps(v)[:60]} is not of type {'/'.join(types)}")
                return
        if "enum" in s and not any(_json_equal(v, e) for e in s["enum"]):
            out.append(f"{where}: {json.dumps(v)[:60]} is not one of {s['enum']}")
        if "const" in s and not _json_equal(v, s["const"]):
            out.append(f"{where}: {json.dumps(v)[:60]} is not {json.dumps(s['const'])}")
        if isinstance(v, str):
            if "pattern" in s and not self._pattern(s["pattern"]).search(v):
                out.append(f"{where}: {v!r} does not match {s['pattern']!r}")
            if "minLength" in s and len(v) < s["minLength"]:
                out.append(f"{where}: {v!r} is shorter than {s['minLength']}")
            if "maxLength" in s and len(v) > s["maxLength"]:
                out.append(f"{where}: {v!r} is longer than {s['maxLength']}")
        if _is_type(v, "number"):
            if "minimum" in s and v < s["minimum"]:
                out.append(f"{where}: {v} is less than {s['minimum']}")
            if "maximum" in s and v > s["maximum"]:
                out.append(f"{where}: {v} is greater than {s['maximum']}")
        if isinstance(v, list):
            if "minItems" in s and len(v) < s["minItems"]:
                out.append(f"{where}: fewer than {s['minItems']} items")
            if "maxItems" in s and len(v) > s["maxItems"]:
                out.append(f"{where}: more than {s['maxItems']} items")
            if "items" in s:
                for i, item in enumerate(v):
                    self._validate(item, s["items"], f"{path}[{i}]", out)
        if isinstance(v, dict):
            for k in s.get("required", ()):
                if k not in v:
                    out.append(f"{where}: missing required key {k!r}")
            props = s.get("properties", {})
            for k, item in v.items():
                sub = f"{path}.{k}" if path else k
                if k in props:
                    self._validate(item, props[k], sub, out)
                elif "additionalProperties" in s:
                    if s["additionalProperties"] is False:
                        out.append(f"{where}: unexpected key {k!r}")
                    else:
                        self._validate(item, s["additionalProperties"], sub, out)
                if "propertyNames" in s:
                    self._validate(k, s["propertyNames"], f"{sub} (key)", out)
        for sub in s.get("allOf", ()):
            self._validate(v, sub, path, out)
        if "anyOf" in s and not any(self.is_valid(v, sub) for sub in s["anyOf"]):
            out.append(f"{where}: matches none of the anyOf alternatives")
        if "oneOf" in s and sum(self.is_valid(v, sub) for sub in s["oneOf"]) != 1:
            out.append(f"{where}: does not match exactly one oneOf alternative")
        if "not" in s and self.is_valid(v, s["not"]):
            out.append(f"{where}: matches a 'not' schema")
        if "if" in s:
            branch = s.get("then") if self.is_valid(v, s["if"]) else s.get("else")
            if branch is not None:
                self._validate(v, branch, path, out)


_validator: Validator | None = None


def load_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"), object_pairs_hook=_no_duplicates)


def validator() -> Validator:
    global _validator
    if _validator is None:
        _validator = Validator(load_schema())
    return _validator


def validate_event(obj: Any) -> list[str]:
    """Schema errors of one parsed event (empty when valid)."""
    return validator().errors(obj)


def _read(source: Any) -> tuple[list[str | bytes], bool]:
    """(lines, whole_stream): whole_stream when each line must carry its newline."""
    if isinstance(source, os.PathLike) or (isinstance(source, str) and "\n" not in source):
        with open(source, "rb") as f:
            return f.readlines(), True
    if isinstance(source, str):
        return source.splitlines(keepends=True), True
    if isinstance(source, bytes):
        return source.splitlines(keepends=True), True
    if isinstance(source, (list, tuple)):
        return list(source), False
    return list(source), True   # a file object or another iterator of lines


def _check(lines: list[str | bytes], whole_stream: bool) -> tuple[list[str], list[dict[str, Any]]]:
    problems: list[str] = []
    events: list[dict[str, Any]] = []
    for n, raw in enumerate(lines, 1):
        nl: Any = b"\n" if isinstance(raw, bytes) else "\n"
        cr: Any = b"\r" if isinstance(raw, bytes) else "\r"
        if whole_stream and not raw.endswith(nl):
            problems.append(f"line {n}: no newline at the end")
        body = raw[:-1] if raw.endswith(nl) else raw
        if cr in body:
            problems.append(f"line {n}: carriage return in the line")
        if not body.strip():
            problems.append(f"line {n}: blank line")
            continue
        try:
            obj = parse_line(body)
        except (ValueError, UnicodeDecodeError) as e:
            problems.append(f"line {n}: {e}")
            continue
        events.append(obj)
        problems.extend(f"line {n}: {e}" for e in validate_event(obj))
    return problems, events


def check_eve(source: str | os.PathLike[str] | bytes | Iterable[str | bytes]) -> list[str]:
    """Every problem in an EVE stream, as ``"line N: ..."`` strings (empty: all good).

    ``source``: a path, the text or bytes of a whole stream, a file object, or a list of
    lines. In a stream every line must end with a newline (the last one too); a list
    holds lines with or without it. No line may be blank.
    """
    return _check(*_read(source))[0]


def assert_eve_valid(source: Any, *, min_lines: int = 1) -> list[dict[str, Any]]:
    """Assert the stream is valid and holds at least ``min_lines`` events; return them."""
    problems, events = _check(*_read(source))
    assert not problems, "invalid EVE output:\n" + "\n".join(problems[:50])
    assert len(events) >= min_lines, f"expected at least {min_lines} EVE lines, got {len(events)}"
    return events


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: eve_check.py EVE.json [...]", file=sys.stderr)
        return 2
    bad = 0
    for path in argv:
        problems = check_eve(path)
        for p in problems:
            print(f"{path}: {p}")
        bad += bool(problems)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
