"""``xdpfw check PATH... [--classification FILE] [--threshold FILE] [--var NAME=VALUE ...]
[--strict] [--quiet]``: validate rule files the way the appliance would load them.

Each problem goes to stderr as ``path:line:col: severity: message`` (errors are
followed by the rule text, indented); then stdout gets Suricata's summary line and the
number of rules skipped per unsupported keyword, most frequent first. The rules are then
built as `xdpfw run` builds them (detect.ruleset.load_detection, one build): every rule
the engine or its matcher cannot run is named ``path:line`` too, and the summary counts
the set `run` would start with. The exit status is 1 when any rule failed, a file could
not be used, or `run` would refuse to start (a drop/reject/pass rule that cannot run
exactly; with --strict, any rule that cannot run), else 0.

Among PATHs, files named like ``*classification*.config`` and ``*threshold*.config``
are used as classification.config and threshold.config.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from xdpfw.rules.loader import load_ruleset


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``check`` options to ``parser`` (the CLI owner wires the subcommand)."""
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="rule files, directories (*.rules) or classification/threshold .config files")
    parser.add_argument("--classification", metavar="FILE",
                        help="classification.config (default: Suricata's shipped table)")
    parser.add_argument("--threshold", metavar="FILE", help="threshold.config to apply")
    parser.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                        help="set an address or port variable, e.g. HOME_NET=[10.0.0.0/8] (repeatable)")
    parser.add_argument("--strict", action="store_true",
                        help="rules that cannot run (unsupported keywords, engine limits) fail instead of being skipped")
    parser.add_argument("--quiet", action="store_true",
                        help="print errors and the summary only (no skip warnings, no per-keyword counts)")


class UsageError(ValueError):
    pass


def _split_paths(args: argparse.Namespace) -> tuple[list[str], str | None, str | None]:
    rules: list[str] = []
    classification, threshold = args.classification, args.threshold
    for p in args.paths:
        name = Path(p).name
        if name.endswith(".config"):
            if "classification" in name:
                if classification is not None:
                    raise UsageError(f"more than one classification file ({classification}, {p})")
                classification = p
            elif "threshold" in name:
                if threshold is not None:
                    raise UsageError(f"more than one threshold file ({threshold}, {p})")
                threshold = p
            else:
                raise UsageError(f"{p}: unknown .config file (expected classification.config or threshold.config)")
        else:
            rules.append(p)
    if not rules:
        raise UsageError("no rule files given")
    return rules, classification, threshold


def _variables(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip().lstrip("$")
        if not sep or not name:
            raise UsageError(f"--var expects NAME=VALUE, got {item!r}")
        out[name] = value.strip()
    return out


def run(args: argparse.Namespace, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run the check; returns the exit status (0 ok, 1 failures, 2 usage error)."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        paths, classification, threshold = _split_paths(args)
        variables = _variables(args.var)
    except UsageError as e:
        print(f"xdpfw check: error: {e}", file=err)
        return 2
    rs = load_ruleset(paths, variables=variables or None, classification=classification,
                      threshold=threshold, strict=args.strict)
    problems = rs.errors if args.quiet else sorted(rs.errors + rs.warnings,
                                                   key=lambda e: (e.path, e.line, e.col))
    files: dict[str, list[str]] = {}
    for problem in problems:
        print(_printable(str(problem)), file=err)
        if problem.severity == "error" and problem.line > 0:
            text = _rule_text(problem.path, problem.line, files)
            if text:
                print(f"    {_printable(text)}", file=err)
    status, summary = _build(args, paths, classification, threshold, rs, err)
    print(summary or rs.summary(), file=out)
    if rs.skipped and not args.quiet:
        print("rules skipped per unsupported keyword:", file=out)
        width = len(str(max(rs.skipped.values())))
        for keyword, n in sorted(rs.skipped.items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"  {n:>{width}}  {_printable(keyword)}", file=out)
    return 1 if rs.errors or status else 0


def _build(args, paths, classification, threshold, rs, err) -> tuple[int, str]:
    """Build the rules as `xdpfw run` would (detect.ruleset.load_detection, the one
    function deciding the running set): every rule the engine cannot run is printed
    here, file:line, beyond what the loader found. Returns (status, summary)."""
    from xdpfw.detect.ruleset import RulesNotEnforceable, load_detection

    if not rs.rules:
        return 0, ""
    def plain(line: str) -> str:   # the same problem, whichever severity it was printed with
        return line.replace(": warning: ", ": error: ", 1)

    already = {plain(str(e)) for e in rs.errors + rs.warnings}
    var_items = [f"{k}={v}" for k, v in _variables(args.var).items()]
    try:
        det = load_detection(paths, var_items, kernel_acl=True, threshold=threshold,
                             classification=classification, strict=args.strict)
    except RulesNotEnforceable as e:
        lines = str(e).splitlines()
        for line in lines[:-1]:
            if plain(line) not in already:
                print(_printable(line), file=err)
        return 1, lines[-1] if lines else ""
    for line in det.skipped:
        if plain(line) not in already:
            print(_printable(line.replace(": error: ", ": warning: ", 1)), file=err)
    return 0, det.summary


def _printable(text: str) -> str:
    """Rule files are read with surrogateescape (bytes kept exactly); turn invalid UTF-8
    back into replacement characters so printing can never fail."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _rule_text(path: str, line: int, files: dict[str, list[str]]) -> str:
    """First physical line of the rule at ``path:line`` (for context after an error);
    ``files`` caches file contents for one run."""
    lines = files.get(path)
    if lines is None:
        try:
            lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            lines = []
        files[path] = lines
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point: ``python -m xdpfw.rules.check``."""
    parser = argparse.ArgumentParser(prog="xdpfw check", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
