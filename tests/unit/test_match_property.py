"""Property tests of the streaming matchers: any literal set, any payload, any way of
cutting the payload into segments (down to one byte each) gives exactly the matches a
plain search of the whole payload finds, in both backends, and the backends agree.

The reference is bytes.find over the whole payload (case-insensitive: both sides
lower-cased, which folds ASCII only, as the matchers do), cross-checked against Python's
re. Literal sets are drawn so that matches are frequent: a small alphabet with case pairs,
NUL and 0xFF, patterns that are prefixes and suffixes of one another, one-byte patterns,
and end-offset windows.
"""
from __future__ import annotations

import re
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xdpfw._fast import match, match_ac, match_hs
from xdpfw._fast.match import MatchBuffer, Pattern, StreamTable

ALPHABET = list(b"aAbBz\x00\xff")
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])

small_bytes = st.lists(st.sampled_from(ALPHABET), min_size=1, max_size=8).map(bytes)
any_bytes = st.binary(min_size=1, max_size=5)


@st.composite
def literal_sets(draw, max_patterns=12):
    pats: list[Pattern] = []
    for i in range(draw(st.integers(1, max_patterns))):
        kind = draw(st.sampled_from(["new", "new", "prefix", "suffix", "one"])) if pats else "new"
        if kind == "new":
            expr = draw(small_bytes | any_bytes)
        elif kind == "one":
            expr = bytes([draw(st.sampled_from(ALPHABET))])
        else:
            base = draw(st.sampled_from(pats)).expression
            k = draw(st.integers(1, len(base)))
            expr = base[:k] if kind == "prefix" else base[-k:]
        lo = draw(st.none() | st.integers(0, 40))
        hi = draw(st.none() | st.integers(len(expr), 60))
        if lo is not None and hi is not None and lo > hi:
            lo, hi = hi, lo
            hi = max(hi, len(expr))
        pats.append(Pattern(i, expr, nocase=draw(st.booleans()), min_offset=lo, max_offset=hi))
    return pats


payloads = st.lists(st.sampled_from(ALPHABET), max_size=150).map(bytes) | st.binary(max_size=150)


@st.composite
def segmentations(draw, payload):
    """Cut points: none, every byte, or a random set."""
    how = draw(st.sampled_from(["whole", "bytes", "random"]))
    if how == "whole" or not payload:
        return [payload]
    if how == "bytes":
        return [payload[i:i + 1] for i in range(len(payload))]
    cuts = sorted(set(draw(st.lists(st.integers(0, len(payload)), max_size=20))))
    bounds = [0, *cuts, len(payload)]
    return [payload[a:b] for a, b in zip(bounds, bounds[1:])]


def reference(patterns, payload: bytes) -> Counter:
    found = Counter()
    for p in patterns:
        hay, needle = (payload.lower(), p.expression.lower()) if p.nocase else (payload, p.expression)
        ends = []
        k = hay.find(needle)
        while k != -1:
            ends.append(k + len(needle))
            k = hay.find(needle, k + 1)
        flags = re.IGNORECASE if p.nocase else 0
        assert ends == [m.start() + len(needle) for m in
                        re.finditer(b"(?=" + re.escape(p.expression) + b")", payload, flags)]
        for end in ends:
            if (p.min_offset is None or end >= p.min_offset) and (p.max_offset is None or end <= p.max_offset):
                found[(p.id, end)] += 1
    return found


def stream_matches(backend, patterns, segments) -> Counter:
    db = backend.Database.compile(patterns)
    t = StreamTable(db, backend.Scratch(db), backend.StreamPool(db, 1), 1)
    t.open(0)
    buf = MatchBuffer(1 << 16)
    for seg in segments:
        t.scan(0, seg, buf)
    t.close(0, out=buf)
    assert buf.overflow == 0
    return Counter(buf.matches())


def block_matches(backend, patterns, payload) -> Counter:
    db = backend.Database.compile(patterns, mode="block")
    return Counter(match.scan_bytes(db, backend.Scratch(db), payload, MatchBuffer(1 << 16)))


# Each property runs once per backend: the same body, bound by parametrize (hypothesis
# keeps one example database per test function, which a mixin bound to two classes would
# share between the backends).
BACKENDS = pytest.mark.parametrize("backend", [match_hs, match_ac], ids=["hyperscan", "aho-corasick"])


@BACKENDS
@settings(max_examples=300, **SETTINGS)
@given(data=st.data())
def test_streaming_equals_search_of_the_whole_payload(backend, data):
    patterns = data.draw(literal_sets())
    payload = data.draw(payloads)
    segments = data.draw(segmentations(payload))
    assert stream_matches(backend, patterns, segments) == reference(patterns, payload)


@BACKENDS
@settings(max_examples=150, **SETTINGS)
@given(patterns=literal_sets(), payload=payloads)
def test_block_mode_equals_search_of_the_buffer(backend, patterns, payload):
    assert block_matches(backend, patterns, payload) == reference(patterns, payload)


@BACKENDS
@settings(max_examples=40, **SETTINGS)
@given(data=st.data())
def test_many_long_patterns_one_byte_at_a_time(backend, data):
    # Long patterns sharing prefixes: deep automaton states beyond the dense rows.
    stem = data.draw(st.binary(min_size=2, max_size=4))
    tails = data.draw(st.lists(st.binary(min_size=1, max_size=12), min_size=20, max_size=80))
    patterns = [Pattern(i, stem + t, nocase=bool(i % 3 == 0)) for i, t in enumerate(tails)]
    payload = b"".join(data.draw(st.permutations([p.expression for p in patterns]))[:30])
    payload = payload.swapcase() if data.draw(st.booleans()) else payload
    segments = [payload[i:i + 1] for i in range(len(payload))]
    assert stream_matches(backend, patterns, segments) == reference(patterns, payload)


@settings(max_examples=200, **SETTINGS)
@given(st.data())
def test_backends_agree_on_literal_sets(data):
    patterns = data.draw(literal_sets(max_patterns=30))
    payload = data.draw(payloads)
    segments = data.draw(segmentations(payload))
    assert stream_matches(match_hs, patterns, segments) == stream_matches(match_ac, patterns, segments)
