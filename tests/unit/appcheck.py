"""The contract every registered application-layer decoder keeps, as test helpers.

A decoder (xdpfw/_fast/app_<proto>.pyx) is driven here only through the app-layer
registry (xdpfw._fast.app_registry.AppDecoder, its ops table), so these helpers work for
any registered protocol. The contract (xdpfw_app.h): the same instances and events
whether a direction arrives whole, one byte at a time or split anywhere; the piece
protocol (START .. END) always holds; and the output equals the protocol's pure-Python
reference (xdpfw/ref/app_<proto>.py). CONTRACTS says, per protocol, how to ask its
reference; tests/unit/test_app_contract.py runs the contract for every registered decoder
(one without an entry here fails there), and the protocol test files (test_app_dns.py,
test_app_tls.py, test_app_http.py) check their own cases with check().
"""
from __future__ import annotations

import importlib
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from xdpfw._fast.app_registry import AppDecoder
from xdpfw.cheader import CHeader
from xdpfw.ref import app_dns, app_http, app_tls
from xdpfw.ref.app_pieces import assemble, by_buffer

TS, TC = 0, 1
DGRAM, GAP = 1, 2
FAST = Path(__file__).resolve().parents[2] / "xdpfw" / "_fast"


# ---- feeding a decoder -------------------------------------------------------------------

def run(name: str, conv, flags: int = 0, split=None, ends=(TS, TC)):
    """Feed a conversation [(direction, bytes), ...] in order to one decoder of protocol
    `name`, each chunk cut by split() if given, then end the directions in `ends`.
    Returns ({direction: pieces}, {direction: events})."""
    dec = AppDecoder(name)
    pieces = {TS: [], TC: []}
    events = {TS: [], TC: []}
    for d, data in conv:
        for chunk in (split(data) if split else [data]):
            p, e = dec.feed(d, chunk, flags)
            pieces[d] += p
            events[d] += e
    for d in ends:
        p, e = dec.end(d)
        pieces[d] += p
        events[d] += e
    return pieces, events


def decode(name: str, conv, flags: int = 0, split=None, ends=(TS, TC)):
    """run(), with the piece protocol checked: ({direction: instances}, {direction: events})."""
    pieces, events = run(name, conv, flags, split, ends)
    return {d: assemble(pieces[d]) for d in (TS, TC)}, events


def bytewise(data: bytes) -> list[bytes]:
    return [data[i:i + 1] for i in range(len(data))]


def cut(conv, k: int, positions):
    """The conversation with its chunk k cut at the given positions."""
    out = []
    for j, (d, data) in enumerate(conv):
        if j != k:
            out.append((d, data))
            continue
        last = 0
        for p in positions:
            out.append((d, data[last:p]))
            last = p
        out.append((d, data[last:]))
    return out


# ---- the protocols' references -----------------------------------------------------------

def _per_direction(decode_stream, decode_datagram=None):
    """A reference that decodes each direction on its own (DNS, TLS)."""
    def reference(conv, flags):
        inst, events = {TS: [], TC: []}, {TS: [], TC: []}
        for d in (TS, TC):
            chunks = [x for dd, x in conv if dd == d]
            if flags & DGRAM:
                parts = [decode_datagram(d, x) for x in chunks]
            else:
                parts = [decode_stream(d, b"".join(chunks))] if chunks else []
            for i, e in parts:
                inst[d] += list(i)
                events[d] += list(e)
        return inst, events
    return reference


def http_server_at(conv):
    """to_client offset -> to_server bytes fed before it (xdpfw/ref/app_http.py)."""
    marks, sv, cl = [], 0, 0
    for d, x in conv:
        if d == TS:
            sv += len(x)
        else:
            cl += len(x)
            marks.append((cl, sv))

    def at(y):
        for end, s in marks:
            if y < end:
                return s
        return sv
    return at


def _http_reference(conv, flags):
    to_server = b"".join(x for d, x in conv if d == TS)
    to_client = b"".join(x for d, x in conv if d == TC)
    r = app_http.decode(to_server, to_client, server_at=http_server_at(conv))
    return r.instances, r.events


@dataclass(frozen=True)
class Contract:
    reference: Callable          # (conv, flags) -> ({dir: instances}, {dir: events})
    events: list                 # the reference's event table (= the decoder's, in order)
    ends_fed_only: bool          # end only the directions fed (else both: HTTP reads a
    #                              response knowing its request)
    ordered: bool                # instances and events compared with the reference in order
    #                              (False: per buffer, events as a multiset)
    samples_module: str          # test module whose CONTRACT_SAMPLES [(conv, flags)] the
    #                              contract suite runs

    def samples(self):
        return importlib.import_module(self.samples_module).CONTRACT_SAMPLES


CONTRACTS: dict[str, Contract] = {
    "dns": Contract(_per_direction(app_dns.decode_stream, app_dns.decode_datagram), app_dns.EVENTS,
                    True, True, "test_app_dns"),
    "tls": Contract(_per_direction(app_tls.decode_stream), app_tls.EVENTS, True, True, "test_app_tls"),
    "http": Contract(_http_reference, [label for _, label in CHeader(FAST / "xdpfw_app_http.h").xmacro("XDPFW_HTTP_EVENTS")],
                     False, False, "test_app_http"),
}


def ends_of(name: str, conv):
    if CONTRACTS[name].ends_fed_only:
        return tuple(sorted({d for d, _ in conv}))
    return (TS, TC)


def assert_same_as_reference(name: str, conv, flags, inst, events):
    want_inst, want_events = CONTRACTS[name].reference(conv, flags)
    for d in (TS, TC):
        if CONTRACTS[name].ordered:
            assert (inst[d], events[d]) == (list(want_inst[d]), list(want_events[d])), \
                f"{name} direction {d}: decoder vs reference"
        else:
            assert by_buffer(inst[d]) == by_buffer(want_inst[d]), f"{name} direction {d}: decoder vs reference"
            assert sorted(events[d]) == sorted(want_events[d]), \
                f"{name} direction {d}: decoder vs reference events"


def check(name: str, conv, flags: int = 0, *, splits="all", pair_limit: int = 0):
    """The instances and events of a conversation ({dir: instances}, {dir: events}),
    after checking the contract: fed whole, one byte at a time and with each chunk split at
    every position (splits="all"), at `splits` sampled positions (an int), or not split
    ("none"), and at every pair of positions in chunks of at most pair_limit bytes, the
    output is the same, and it equals the reference. A datagram (DGRAM) is one feed: it is
    only compared with the reference."""
    ends = ends_of(name, conv)
    whole = decode(name, conv, flags, ends=ends)
    if not flags & DGRAM:
        assert decode(name, conv, flags, split=bytewise, ends=ends) == whole, "one byte at a time differs from whole"
        for k, (_, data) in enumerate(conv):
            if splits == "none":
                positions = []
            elif splits == "all":
                positions = range(1, len(data))
            else:
                positions = sorted(random.Random(k).sample(range(1, len(data)), min(splits, max(0, len(data) - 1))))
            for p in positions:
                assert decode(name, cut(conv, k, [p]), flags, ends=ends) == whole, f"split of chunk {k} at {p} differs"
            if len(data) <= pair_limit:
                for p in range(1, len(data)):
                    for q in range(p + 1, len(data)):
                        assert decode(name, cut(conv, k, [p, q]), flags, ends=ends) == whole, \
                            f"splits {p},{q} of chunk {k} differ"
    assert_same_as_reference(name, conv, flags, *whole)
    return whole
