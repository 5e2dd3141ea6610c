"""Sets of integers as sorted, disjoint, inclusive ``(lo, hi)`` intervals.

Addresses (as 32/128-bit integers) and ports use the same arithmetic. Tuples keep the
results hashable and immutable.
"""
from __future__ import annotations

from bisect import bisect_right
from typing import Iterable

Interval = tuple[int, int]
Intervals = tuple[Interval, ...]


def normalize(items: Iterable[Interval]) -> Intervals:
    """Sort and merge overlapping or adjacent intervals."""
    out: list[list[int]] = []
    for lo, hi in sorted(items):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1][1] = hi
        else:
            out.append([lo, hi])
    return tuple((lo, hi) for lo, hi in out)


def subtract(a: Intervals, b: Intervals) -> Intervals:
    """``a`` minus ``b``; both normalized."""
    out: list[Interval] = []
    j = 0
    for lo, hi in a:
        cur = lo
        while j < len(b) and b[j][1] < cur:
            j += 1
        k = j
        while k < len(b) and b[k][0] <= hi:
            blo, bhi = b[k]
            if blo > cur:
                out.append((cur, blo - 1))
            cur = max(cur, bhi + 1)
            if cur > hi:
                break
            k += 1
        if cur <= hi:
            out.append((cur, hi))
    return tuple(out)


def covers(a: Intervals, lo: int, hi: int) -> bool:
    """True when normalized ``a`` contains every integer of ``[lo, hi]``."""
    return any(alo <= lo and hi <= ahi for alo, ahi in a)


def member(a: Intervals, starts: list[int], x: int) -> bool:
    """Membership test; ``starts`` is ``[lo for lo, _ in a]`` (precomputed)."""
    i = bisect_right(starts, x) - 1
    return i >= 0 and x <= a[i][1]


def to_prefixes(lo: int, hi: int, bits: int) -> list[tuple[int, int]]:
    """Smallest list of ``(network, prefixlen)`` CIDR blocks covering ``[lo, hi]``."""
    out: list[tuple[int, int]] = []
    while lo <= hi:
        # Largest block aligned at lo (trailing zero bits) that does not pass hi.
        size = (lo & -lo).bit_length() - 1 if lo else bits
        while size > 0 and lo + (1 << size) - 1 > hi:
            size -= 1
        out.append((lo, bits - size))
        lo += 1 << size
    return out
