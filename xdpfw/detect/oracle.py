"""Reference matcher: Suricata's payload inspection of ONE buffer, in plain Python.

This is the specification the Hyperscan translation (:mod:`xdpfw.detect.compile`) is
tested against, not a product: it is slow, allocates, and backtracks. It follows the
algorithm of Suricata 7's ``DetectEngineContentInspectionInternal``
(src/detect-engine-content-inspection.c) for content, pcre and isdataat, step by step,
including the parts that are not "declarative":

* every content/pcre is searched in a window computed from the previous match's end
  (``buffer_offset``); a relative content searches ``[max(0, P + distance),
  P + distance + within)`` clipped to the buffer, where P is that end;
* after a match, the following keywords are tried; if they fail, the content is searched
  again one byte after the start of its previous match, but only when the next keyword
  depends on it through ``within`` (the ``WITHIN_NEXT`` flag; a relative pcre or
  isdataat, and a negated content with ``distance``, count as both distance and within).
  Without it the whole inspection gives up (-1), which is sound for windows that only
  shrink as the match moves right, and is where Suricata and an "exists a placement"
  reading can differ (a keyword with within behind an absolute or negated one);
* ``P + distance + within`` is computed in unsigned 32-bit arithmetic and compared as
  signed: when it is negative the window end wraps to the end of the buffer (Suricata's
  behaviour for e.g. ``distance:-64; within:4`` after a match ending before byte 60);
* a pcre is one PCRE search from a start offset (the subject starts at P for ``R``); it
  yields one (start, end) per start, PCRE's preferred end, and is retried from its start
  + 1 only when a relative keyword follows;
* a negated content does not move ``buffer_offset``; a negated ``endswith`` content is
  satisfied when its first occurrence in the window does not end at the window length
  (Suricata compares the window length with the absolute end offset);
* ``isdataat:!1,relative`` right after a content becomes ``endswith`` on that content
  (Suricata's setup does this);
* relative isdataat: ``P + n <= len``; absolute: ``n < len``; a failing positive one
  stops the whole inspection.

An empty buffer never matches (Suricata does not inspect an empty payload). The PCRE
engine here is Python's ``re`` on bytes, which agrees with PCRE on the syntax the tests
use (literals, classes, \\d \\w \\s, quantifiers, alternation, ^ $, i s m x); ``E``
(dollar end only) is emulated by rewriting an unescaped ``$`` to ``\\Z``. Suricata's
recursion limit (3000 steps) is not emulated: Hyperscan has no such limit either.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from xdpfw.rules.model import Content, IsDataAt, Match, Pcre, Rule

WITHIN_NEXT = 1
DISTANCE_NEXT = 2
RELATIVE_NEXT = WITHIN_NEXT | DISTANCE_NEXT


class OracleError(ValueError):
    """The oracle cannot evaluate this match list (e.g. a byte_extract variable)."""


@dataclass
class _Sm:
    """One inspection step, as Suricata's setup leaves it (a SigMatch with its flags)."""

    m: Match
    next_flags: int = 0
    endswith: bool = False  # content, possibly set by isdataat:!1,relative
    regex: "re.Pattern[bytes] | None" = None


def _int(v: object, what: str) -> int:
    if not isinstance(v, int):
        raise OracleError(f"{what} {v!r} is a byte_extract variable; not supported")
    return v


def _i32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def _u32(v: int) -> int:
    return v & 0xFFFFFFFF


def _python_regex(p: Pcre) -> "re.Pattern[bytes]":
    src = p.regex
    if p.dollar_endonly and not p.multiline:
        src = _dollar_to_end(src)
    flags = 0
    if p.caseless:
        flags |= re.IGNORECASE
    if p.dotall:
        flags |= re.DOTALL
    if p.multiline:
        flags |= re.MULTILINE
    if p.extended:
        flags |= re.VERBOSE
    try:
        return re.compile(src.encode("utf-8", "surrogateescape"), flags)
    except re.error as e:
        raise OracleError(f"pcre {p.regex!r}: Python re cannot compile it: {e}") from None


def _dollar_to_end(src: str) -> str:
    out = []
    i, n, in_class = 0, len(src), False
    while i < n:
        c = src[i]
        if c == "\\" and i + 1 < n:
            out.append(src[i:i + 2])
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
        elif c == "[":
            in_class = True
            out.append(c)
            i += 1
            if i < n and src[i] == "^":
                out.append("^")
                i += 1
            if i < n and src[i] == "]":
                out.append("]")
                i += 1
            continue
        elif c == "$":
            out.append(r"\Z")
            i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def prepare(matches: Sequence[Match]) -> list[_Sm]:
    """The inspection list Suricata's setup builds from a buffer's matches (rule order)."""
    sms: list[_Sm] = []
    last_cp: _Sm | None = None  # last content/pcre: what relative keywords attach to
    for m in matches:
        if isinstance(m, IsDataAt):
            _int(m.offset, "isdataat")
            if (m.relative and m.negated and m.offset == 1 and last_cp is not None
                    and isinstance(last_cp.m, Content)):
                last_cp.endswith = True  # Suricata: 'ends with' scenario, no sm appended
                continue
            if m.relative and last_cp is not None:
                last_cp.next_flags |= RELATIVE_NEXT
            sms.append(_Sm(m))
            continue
        sm = _Sm(m)
        if isinstance(m, Content):
            for v, what in ((m.offset, "offset"), (m.depth, "depth"),
                            (m.distance, "distance"), (m.within, "within")):
                if v is not None:
                    _int(v, what)
            sm.endswith = m.endswith
            if last_cp is not None:
                if m.distance is not None:
                    # A negated content after it may fail where a later match would not:
                    # Suricata (detect-distance.c) then retries the previous match.
                    last_cp.next_flags |= RELATIVE_NEXT if m.negated else DISTANCE_NEXT
                if m.within is not None:
                    last_cp.next_flags |= WITHIN_NEXT
        else:
            sm.regex = _python_regex(m)
            if m.relative and last_cp is not None:
                last_cp.next_flags |= RELATIVE_NEXT
        sms.append(sm)
        last_cp = sm
    return sms


class _State:
    __slots__ = ("buf", "sms", "buffer_offset", "pcre_start")

    def __init__(self, buf: bytes, sms: list[_Sm]):
        self.buf = buf
        self.sms = sms
        self.buffer_offset = 0
        self.pcre_start = 0


def _find(hay: bytes, needle: bytes, nocase: bool) -> int:
    if nocase:
        return hay.lower().find(needle.lower())  # bytes.lower folds ASCII only
    return hay.find(needle)


def _next(st: _State, i: int) -> int:
    if i + 1 == len(st.sms):
        return 1
    return _inspect(st, i + 1)


def _content(st: _State, i: int, sm: _Sm, c: Content) -> int:
    buf = st.buf
    n = len(buf)
    L = len(c.pattern)
    relative = c.distance is not None or c.within is not None
    prev_offset = 0
    prev_buffer_offset = st.buffer_offset
    single = not (relative or sm.next_flags or c.offset is not None or c.depth is not None
                  or c.startswith)
    while True:
        depth = n
        offset = 0
        if relative:
            offset = prev_buffer_offset
            distance = c.distance if c.distance is not None else 0
            assert isinstance(distance, int)
            if c.distance is not None:
                if distance < 0 and -distance > offset:
                    offset = 0
                else:
                    offset += distance
            if c.within is not None:
                assert isinstance(c.within, int)
                lim = _u32(prev_buffer_offset + c.within + distance)
                if _i32(depth) > _i32(lim):
                    depth = lim
        else:
            if c.startswith:
                depth, offset = L, 0
            else:
                o = c.offset if c.offset is not None else 0
                assert isinstance(o, int)
                if c.depth is not None:
                    assert isinstance(c.depth, int)
                    depth = o + c.depth  # Suricata stores depth counted from 0
                offset = o
            prev_buffer_offset = 0
        if prev_offset != 0:
            offset = prev_offset
        if depth > n:
            depth = n
        if offset > depth or depth == 0:
            return _next(st, i) if c.negated else 0
        window = buf[offset:depth]
        if sm.endswith and depth < n:
            found = -1
        elif L > len(window):
            found = -1
        else:
            found = _find(window, c.pattern, c.nocase)
        if found < 0:
            if not c.negated:
                return 0 if relative else -1
            return _next(st, i)
        match_offset = offset + found + L
        if c.negated:
            if sm.endswith and (depth - offset) != match_offset:
                return _next(st, i)
            return -1 if single else 0
        st.buffer_offset = match_offset
        if not sm.endswith or match_offset == n:
            if i + 1 == len(st.sms):
                return 1
            r = _inspect(st, i + 1)
            if r == 1:
                return 1
            if r == -1:
                return -1
            if not (sm.next_flags & WITHIN_NEXT):
                return -1
        prev_offset = match_offset - (L - 1)


def _pcre_match(st: _State, sm: _Sm, p: Pcre) -> int:
    assert sm.regex is not None
    buf = st.buf
    base = st.buffer_offset if p.relative else 0
    subject = buf[base:]
    start = st.pcre_start - base if st.pcre_start != 0 else 0
    if start < 0 or start > len(subject):
        m = None
    elif p.anchored:
        m = sm.regex.match(subject, start)
    else:
        m = sm.regex.search(subject, start)
    if m is None:
        return 1 if p.negated else 0
    if p.negated:
        return 0
    st.buffer_offset = base + m.end()
    st.pcre_start = base + m.start() + 1
    return 1


def _pcre(st: _State, i: int, sm: _Sm, p: Pcre) -> int:
    prev_buffer_offset = st.buffer_offset
    st.pcre_start = 0
    while True:
        if _pcre_match(st, sm, p) == 0:
            return 0
        if not sm.next_flags:
            return _next(st, i)
        prev_offset = st.pcre_start
        r = _inspect(st, i + 1)
        if r == 1:
            return 1
        if r == -1:
            return -1
        if prev_offset == 0:
            return 0
        st.buffer_offset = prev_buffer_offset
        st.pcre_start = prev_offset


def _isdataat(st: _State, i: int, d: IsDataAt) -> int:
    n = len(st.buf)
    at = d.offset
    assert isinstance(at, int)
    if d.relative:
        if st.buffer_offset + at > n:
            return _next(st, i) if d.negated else -1
        return 0 if d.negated else _next(st, i)
    if at < n:
        return -1 if d.negated else _next(st, i)
    return _next(st, i) if d.negated else -1


def _inspect(st: _State, i: int) -> int:
    sm = st.sms[i]
    m = sm.m
    if isinstance(m, Content):
        return _content(st, i, sm, m)
    if isinstance(m, Pcre):
        return _pcre(st, i, sm, m)
    return _isdataat(st, i, m)


def buffer_matches(matches: Sequence[Match], buf: bytes) -> bool:
    """Does this buffer satisfy these matches (one buffer's list, in rule order)?"""
    if not buf:
        return False
    sms = prepare(matches)
    if not sms:
        return True
    return _inspect(_State(bytes(buf), sms), 0) == 1


def rule_matches(rule: Rule, buffer: str, buf: bytes) -> bool:
    """Does ``rule``'s condition list for buffer ``buffer`` hold on ``buf``?"""
    return buffer_matches(rule.buffers().get(buffer, []), buf)
