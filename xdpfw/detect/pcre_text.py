"""pcre text: a rule's pcre -> a Hyperscan expression with the same matches (anchors,
end assertions, named groups, flags), and what the translation needs to know about it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from xdpfw.detect.tokens import Unsupported
from xdpfw.rules.model import Pcre

try:  # Python >= 3.11
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_parse as _sre_parse  # type: ignore[no-redef]


@dataclass
class RegexInfo:
    leading_caret: bool = False     # the regex starts with ^ (or \A), no top-level |
    other_anchor: bool = False      # ^ or \A elsewhere
    top_alternation: bool = False
    word_boundary: bool = False     # \b or \B
    nul: bool = False

    def anchor(self, at_start: bool) -> None:
        """A ``^`` or ``\\A``: leading when first at the top level."""
        if at_start:
            self.leading_caret = True
        else:
            self.other_anchor = True


def class_body(src: str, i: int) -> int:
    """Where the body of the character class opened at ``src[i]`` starts: after ``[``,
    ``[^``, ``[]`` or ``[^]`` (a ``]`` right after the opener is a literal)."""
    j, n = i + 1, len(src)
    if j < n and src[j] == "^":
        j += 1
    if j < n and src[j] == "]":
        j += 1
    return j


def scan_regex(src: str) -> RegexInfo:
    info = RegexInfo()
    i, n, depth, first = 0, len(src), 0, True
    while i < n:
        c = src[i]
        if c == "\\" and i + 1 < n:
            e = src[i + 1]
            if e == "Q":
                j = src.find("\\E", i + 2)
                i = n if j < 0 else j + 2
                first = False
                continue
            if e in "bB":
                info.word_boundary = True
            if e == "A":
                info.anchor(first and depth == 0)
            i += 2
            first = False
            continue
        if c == "[":
            j = class_body(src, i)
            while j < n and src[j] != "]":
                j += 2 if src[j] == "\\" else 1
            i = j + 1
            first = False
            continue
        if c == "(":
            if src.startswith("(?#", i):
                j = src.find(")", i)
                i = n if j < 0 else j + 1
                continue
            depth += 1
            if src.startswith("(?", i) and not src.startswith("(?:", i):
                # inline option setting at the very start keeps "first"
                j = i + 2
                while j < n and src[j] in "imsxJUX-":
                    j += 1
                if j < n and src[j] == ")":
                    depth -= 1
                    i = j + 1
                    continue
            first = False
            i += 1
            continue
        if c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            info.top_alternation = True
        elif c == "^":
            info.anchor(first and depth == 0)
        elif c == "\0":
            info.nul = True
        first = False
        i += 1
    if info.top_alternation and info.leading_caret:
        info.leading_caret, info.other_anchor = False, True
    return info


def strip_leading_caret(src: str) -> str:
    i = 0
    while src.startswith("(?", i) and not src.startswith("(?:", i):
        j = i + 2
        while j < len(src) and src[j] in "imsxJUX-":
            j += 1
        if j < len(src) and src[j] == ")":
            i = j + 1
        else:
            break
    if src.startswith("^", i):
        return src[:i] + src[i + 1:]
    if src.startswith("\\A", i):
        return src[:i] + src[i + 2:]
    return src


def regex_tokens(src: str) -> Iterator[tuple[int, str, bool]]:
    """(position, token, inside a character class) over a regex: an escape is one token of
    two characters, a class opener (``[``, ``[^``, ``[]``, ``[^]``: a ``]`` right after the
    opener is a literal) is one token, anything else one character. The one scanner the
    rewrites below share, so they agree on where classes start and end."""
    i, n, in_class = 0, len(src), False
    while i < n:
        c = src[i]
        if c == "\\" and i + 1 < n:
            yield i, src[i:i + 2], in_class
            i += 2
        elif in_class:
            yield i, c, True
            in_class = c != "]"
            i += 1
        elif c == "[":
            j = class_body(src, i)
            yield i, src[i:j], True
            in_class = True
            i = j
        else:
            yield i, c, False
            i += 1


def rewrite_ends(src: str, endonly: bool, multiline: bool) -> str:
    """End assertions Hyperscan reports in order: a non-multiline ``$`` (end, or before a
    final newline) becomes ``(?:\\n?\\z)``, ``$`` with E becomes ``\\z``, ``\\Z`` as ``$``.
    Same matches, the end offset may include the final newline; a multiline ``$`` stays."""
    eol = r"\z" if endonly else r"(?:\n?\z)"
    out = []
    for _, tok, in_class in regex_tokens(src):
        if tok == "\\Z" and not in_class:
            out.append(r"(?:\n?\z)")
        elif tok == "$" and not in_class and not multiline:
            out.append(eol)
        else:
            out.append(tok)
    return "".join(out)


def trailing_multiline_dollar(src: str) -> str:
    """A multiline ``$`` ending the regex (top level) -> ``(?:\\n|\\z)``: the same buffers
    match, and Hyperscan accepts it in a combination (a trailing ``$`` is an "unordered"
    operand)."""
    toks = list(regex_tokens(src))
    if not toks or toks[-1][1:] != ("$", False):
        return src
    depth = 0
    for _, tok, in_class in toks[:-1]:
        if in_class:
            continue
        if tok == "(":
            depth += 1
        elif tok == ")":
            depth -= 1
        elif tok == "|" and depth == 0:
            return src
    return src[:-1] + r"(?:\n|\z)" if depth == 0 else src


def has_boundary(text: str) -> bool:
    return any(tok in ("\\b", "\\B") and not in_class for _, tok, in_class in regex_tokens(text))


def unname_groups(src: str) -> str:
    """(?P<n>...), (?<n>...), (?'n'...) -> (?:...): Hyperscan ignores captures, and a pcre
    repeated in several alternatives would otherwise define a name twice."""
    out, skip_to = [], 0
    for i, tok, in_class in regex_tokens(src):
        if i < skip_to:
            continue
        if tok == "(" and not in_class and src.startswith("(?", i):
            for opener, closer in (("(?P<", ">"), ("(?<", ">"), ("(?'", "'")):
                if src.startswith(opener, i) and src[i + len(opener):i + len(opener) + 1] not in ("=", "!"):
                    j = src.find(closer, i + len(opener))
                    if j > 0 and src[i + len(opener):j].replace("_", "a").isalnum():
                        out.append("(?:")
                        skip_to = j + 1
                        break
            else:
                out.append(tok)
            continue
        out.append(tok)
    return "".join(out)


def pcre_text(p: Pcre, body: str) -> str:
    on = "".join(f for f, v in (("i", p.caseless), ("m", p.multiline), ("s", p.dotall),
                                ("x", p.extended)) if v)
    off = "".join(f for f in "ims" if f not in on)
    body = rewrite_ends(body, p.dollar_endonly, p.multiline)
    if any(k in body for k in ("(?P=", "\\k<", "\\k{", "\\k'", "\\g")):
        raise Unsupported("Hyperscan: Back-references are unsupported.", "hyperscan")
    body = unname_groups(body)
    if p.multiline:
        body = trailing_multiline_dollar(body)
    if p.extended:
        body += "\n"  # a trailing # comment must not swallow the closing parenthesis
    return f"(?{on}{'-' + off if off else ''}:{body})"


def fixed_width(p: Pcre) -> bool:
    import re as _re
    flags = (_re.IGNORECASE if p.caseless else 0) | (_re.VERBOSE if p.extended else 0)
    try:
        lo, hi = _sre_parse.parse(p.regex, flags).getwidth()
    except Exception:
        return False
    return lo == hi
