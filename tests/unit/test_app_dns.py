"""The DNS decoder (xdpfw/_fast/app_dns.pyx) against hand-written expectations, its
pure-Python reference (xdpfw/ref/app_dns.py) and the shared captures.

Every TCP input is fed whole, one byte at a time and split at every position: the
instances (xdpfw.ref.app_pieces.assemble, which checks the piece protocol) and the events
must be the same, and equal to the reference's. The corpus part rebuilds each DNS flow of
../shared/corpus/pcaps (UDP or TCP port 53) from in-order segments and compares the two
decoders on all of them; `pcap_flows` is also used by test_app_tls.py.
"""
from __future__ import annotations

import csv
import functools
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import appcheck

from xdpfw._fast import app_dns
from xdpfw._fast import decode as fast_decode
from xdpfw._fast.app_registry import AppDecoder, probe
from xdpfw.ref import app_dns as ref
from xdpfw.ref.app_pieces import assemble
from xdpfw.ref.pcap import LINKTYPE_ETHERNET, read_packets

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
PCAPS = CORPUS / "pcaps"
SV = CORPUS / "suricata-verify" / "tests"
TS, TC = 0, 1
DGRAM, GAP = 1, 2
PROBE_NO, PROBE_YES, PROBE_MORE = 0, 1, 2


# ---- building messages -------------------------------------------------------------------

def name(text: bytes | str) -> bytes:
    """Wire form of a dotted name (no compression)."""
    text = text.encode() if isinstance(text, str) else text
    if not text:
        return b"\0"
    return b"".join(bytes([len(label)]) + label for label in text.split(b".")) + b"\0"


def header(*, qd=1, an=0, ns=0, ar=0, flags=0x0100, txid=0x1234) -> bytes:
    return struct.pack(">HHHHHH", txid, flags, qd, an, ns, ar)


def query(*names, flags=0x0100, tail=b"\0\x01\0\x01", **counts) -> bytes:
    """A query whose questions are the given wire names (bytes) or dotted names (str)."""
    body = b"".join((n if isinstance(n, bytes) else name(n)) + tail for n in names)
    return header(qd=len(names), flags=flags, **counts) + body


def rr(owner: bytes, rtype=1, rdata=b"\x7f\0\0\1") -> bytes:
    return owner + struct.pack(">HHIH", rtype, 1, 60, len(rdata)) + rdata


def tcp(*messages: bytes) -> bytes:
    return b"".join(struct.pack(">H", len(m)) + m for m in messages)


# ---- running the decoder -----------------------------------------------------------------

def run(direction: int, chunks, flags: int = 0, end: bool = True):
    """Feed the chunks to one decoder; (instances, events) with the piece protocol checked."""
    inst, events = appcheck.decode("dns", [(direction, c) for c in chunks], flags, ends=(direction,) if end else ())
    return inst[direction], events[direction]


def udp(direction: int, datagram: bytes):
    inst, events = appcheck.check("dns", [(direction, datagram)], DGRAM)
    return inst[direction], events[direction]


def stream(direction: int, data: bytes, *, every_split: bool = True):
    """Whole, byte by byte and (optionally) split at every position: identical, and equal
    to the reference on the whole stream (appcheck.check)."""
    inst, events = appcheck.check("dns", [(direction, data)], splits="all" if every_split else "none")
    return inst[direction], events[direction]


def queries(result) -> list[bytes]:
    instances, _ = result
    assert all(buf == "dns.query" for buf, _ in instances)
    return [v for _, v in instances]


# ---- hand-written cases ------------------------------------------------------------------

def test_state_size_and_event_table():
    assert app_dns.STATE_SIZE == 80  # 2 x 40: stated in xdpfw_app_dns.h and the docs
    assert list(app_dns.EVENTS) == ref.EVENTS
    assert len(set(ref.EVENTS)) == len(ref.EVENTS) and all(e.startswith("dns.") for e in ref.EVENTS)


def test_simple_query_udp_and_tcp():
    m = query("mail.google.com")
    assert udp(TS, m) == ([("dns.query", b"mail.google.com")], [])
    assert stream(TS, tcp(m)) == ([("dns.query", b"mail.google.com")], [])


def test_pieces_point_into_the_input_label_by_label():
    d = AppDecoder("dns")
    pieces, events = d.feed(TS, query("a.bc"), DGRAM)
    assert pieces == [("dns.query", b"a", 1), ("dns.query", b".", 0), ("dns.query", b"bc", 0),
                      ("dns.query", b"", 2)]
    assert events == []


def test_several_questions_and_messages():
    m1 = query("one.example", "two.example.org")
    m2 = query("three.test")
    assert queries(udp(TS, m1)) == [b"one.example", b"two.example.org"]
    assert queries(stream(TS, tcp(m1, m2, m1))) == [b"one.example", b"two.example.org", b"three.test",
                                                   b"one.example", b"two.example.org"]


def test_root_name_is_an_empty_instance():
    assert udp(TS, query(b"\0")) == ([("dns.query", b"")], [])


def test_dot_inside_a_label_is_rendered_as_a_dot():
    # Suricata renders label bytes as they are: |03|a.b|03|com|00| reads "a.b.com"
    assert queries(udp(TS, query(b"\x03a.b\x03com\0"))) == [b"a.b.com"]
    assert queries(udp(TS, query(b"\x02\x00\xff\x01Z\0"))) == [b"\x00\xff.Z"]


def test_responses_give_no_query_buffer():
    resp = header(flags=0x8180, an=1) + name("example.com") + b"\0\x01\0\x01" + rr(b"\xc0\x0c")
    assert udp(TC, resp) == ([], [])
    assert stream(TC, tcp(resp)) == ([], [])
    # a response sent to the server is not a request
    assert udp(TS, resp) == ([], ["dns.not_request"])
    # a query sent to the client is not a response, and gives no dns.query either
    assert udp(TC, query("x.example")) == ([], ["dns.not_response"])


def test_header_events():
    assert udp(TS, query("z.example", flags=0x0140)) == ([("dns.query", b"z.example")], ["dns.z_flag_set"])
    assert udp(TS, query("o.example", flags=3 << 11)) == ([("dns.query", b"o.example")], ["dns.invalid_opcode"])
    assert udp(TS, query("o.example", flags=15 << 11))[1] == ["dns.invalid_opcode"]
    assert udp(TS, query("n.example", flags=5 << 11))[1] == []  # UPDATE is assigned


def test_label_too_long_gives_up_the_message():
    m = query(b"\x03abc\x40" + b"x" * 64 + b"\0")
    assert udp(TS, m) == ([("dns.query", b"abc")], ["dns.label_too_long", "dns.malformed_data"])
    # over TCP the next message is decoded
    assert stream(TS, tcp(m, query("ok.test"))) == (
        [("dns.query", b"abc"), ("dns.query", b"ok.test")], ["dns.label_too_long", "dns.malformed_data"])


def test_name_too_long_is_capped_and_the_walk_goes_on():
    labels = [bytes([97 + i % 26]) * 63 for i in range(17)]  # 17 * 64 - 1 = 1087 rendered
    wire = b"".join(bytes([63]) + lab for lab in labels) + b"\0"
    full = b".".join(labels)
    assert len(full) > app_dns.NAME_MAX == 1025
    m = query(wire, "after.test")
    got = udp(TS, m)
    assert got == ([("dns.query", full[:1025]), ("dns.query", b"after.test")], ["dns.name_too_long"])
    stream(TS, tcp(m))
    # split positions around the cap
    data = tcp(m)
    for i in range(1000, 1100):
        assert run(TS, [data[:i], data[i:]]) == got


def test_too_many_labels():
    m = query(b"\x01a" * 256 + b"\0")
    got = udp(TS, m)
    assert got[1] == ["dns.too_many_labels", "dns.malformed_data"]
    assert queries(got) == [b".".join([b"a"] * 255)]
    assert queries(udp(TS, query(b"\x01a" * 255 + b"\0"))) == [b".".join([b"a"] * 255)]


def test_compression_pointer_followed_in_a_datagram():
    # second question: "mail" + pointer to "google.com" inside the first (offset 12 + 4)
    m = header(qd=2) + name("www.google.com") + b"\0\x01\0\x01" + b"\x04mail\xc0\x10" + b"\0\x01\0\x01"
    assert udp(TS, m) == ([("dns.query", b"www.google.com"), ("dns.query", b"mail.google.com")], [])
    # a question that is only a pointer
    m = header(qd=2) + name("a.example") + b"\0\x01\0\x01" + b"\xc0\x0c" + b"\0\x01\0\x01"
    assert queries(udp(TS, m)) == [b"a.example", b"a.example"]
    # a pointer forward, to a name after the question section
    m = header(qd=1) + b"\x01x\xc0\x14" + b"\0\x01\0\x01" + name("fwd.test")
    assert queries(udp(TS, m)) == [b"x.fwd.test"]


def test_compression_pointer_in_a_tcp_query_is_not_followed():
    m = header(qd=2) + name("www.google.com") + b"\0\x01\0\x01" + b"\x04mail\xc0\x10" + b"\0\x01\0\x01"
    got = stream(TS, tcp(m, query("next.test")))
    assert got == ([("dns.query", b"www.google.com"), ("dns.query", b"mail"), ("dns.query", b"next.test")],
                   ["dns.pointer_in_stream"])
    # a name that is only a pointer: no instance
    m = header(qd=2) + name("a.example") + b"\0\x01\0\x01" + b"\xc0\x0c" + b"\0\x01\0\x01"
    assert stream(TS, tcp(m)) == ([("dns.query", b"a.example")], ["dns.pointer_in_stream"])


def test_pointers_in_records_are_checked_not_followed():
    good = header(flags=0x8180, an=1) + name("r.example") + b"\0\x01\0\x01" + rr(b"\xc0\x0c")
    assert stream(TC, tcp(good)) == ([], [])
    bad = header(flags=0x8180, an=1) + name("r.example") + b"\0\x01\0\x01" + rr(b"\xc3\xff")
    assert stream(TC, tcp(bad)) == ([], ["dns.invalid_pointer", "dns.malformed_data"])
    assert udp(TC, bad) == ([], ["dns.invalid_pointer", "dns.malformed_data"])


def test_pointer_loops():
    # a pointer to itself
    m = header(qd=1) + b"\x01a\xc0\x0e" + b"\0\x01\0\x01"
    assert udp(TS, m) == ([("dns.query", b"a")], ["dns.infinite_loop"])
    # two pointers to each other: the step cap ends it, the message goes on
    m = header(qd=2) + b"\x01a\xc0\x14" + b"\0\x01\0\x01" + b"\x01b\xc0\x0c" + b"\0\x01\0\x01"
    got = udp(TS, m)
    assert got[1] == ["dns.too_many_labels", "dns.too_many_labels"]
    first, second = queries(got)
    assert first.startswith(b"a.b.a.b.") and second.startswith(b"b.a.b.a.")
    assert first.count(b".") + 1 == 128  # 128 labels + 127 pointers = 255 steps, the 256th ends it
    # a pointer past the end of the message
    m = header(qd=1) + b"\x01a\xc0\xff" + b"\0\x01\0\x01"
    assert udp(TS, m) == ([("dns.query", b"a")], ["dns.invalid_pointer", "dns.malformed_data"])


def test_sections_running_past_the_message_are_malformed():
    m = query("cut.example")[:-2]  # question without its class
    assert udp(TS, m) == ([("dns.query", b"cut.example")], ["dns.malformed_data"])
    assert stream(TS, tcp(m)) == ([("dns.query", b"cut.example")], ["dns.malformed_data"])
    # a label longer than what is left of the message: not reported
    m = header() + b"\x03abc\x30xyz"
    assert udp(TS, m) == ([("dns.query", b"abc")], ["dns.malformed_data"])
    # counts promising more records than the message holds
    m = query("a.test", an=2) + rr(b"\0")
    assert udp(TS, m) == ([("dns.query", b"a.test")], ["dns.malformed_data"])
    # shorter than a header, empty
    assert udp(TS, b"\x12\x34\x01") == ([], ["dns.malformed_data"])
    assert udp(TS, b"") == ([], ["dns.malformed_data"])
    assert stream(TS, tcp(b"", query("z.test"))) == ([("dns.query", b"z.test")], ["dns.malformed_data"])


def test_trailing_bytes_after_the_sections_are_ignored():
    assert udp(TS, query("t.example") + b"garbage") == ([("dns.query", b"t.example")], [])


def test_tcp_direction_ending_inside_a_message_is_truncated():
    data = tcp(query("whole.example"), query("half.example.net"))
    cut = data[:-12]  # inside the second name
    got = run(TS, [cut])
    assert got == ([("dns.query", b"whole.example"), ("dns.query", b"half.exam")], ["dns.truncated"])
    assert got == tuple(list(x) for x in ref.decode_stream(TS, cut))
    assert run(TS, [data[:1]]) == ([], ["dns.truncated"])  # inside the length prefix
    assert run(TS, [data[:5]]) == ([], ["dns.truncated"])  # inside the header
    assert run(TS, [b""]) == ([], [])
    for i in range(len(data) + 1):  # every prefix of the stream, split at every position
        want = run(TS, [data[:i]])
        assert want == tuple(list(x) for x in ref.decode_stream(TS, data[:i]))
        for j in range(i):
            assert run(TS, [data[:j], data[j:i]]) == want


def test_gap_gives_up_the_tcp_direction():
    d = AppDecoder("dns")
    data = tcp(query("before.gap.example"))
    p1, e1 = d.feed(TS, data[:21])  # prefix 2 + header 12 + length 1 + "before"
    p2, e2 = d.feed(TS, data[30:], GAP)
    p3, e3 = d.feed(TS, tcp(query("after.example")))
    p4, e4 = d.end(TS)
    assert assemble(p1 + p2 + p3 + p4) == [("dns.query", b"before")]
    assert e1 + e2 + e3 + e4 == ["dns.gap"]
    # the other direction is unaffected
    assert d.feed(TC, tcp(header(flags=0x8180, qd=0)))[1] == []


def test_gap_flag_on_a_datagram_changes_nothing():
    d = AppDecoder("dns")
    pieces, events = d.feed(TS, query("g.example"), DGRAM | GAP)
    assert assemble(pieces) == [("dns.query", b"g.example")] and events == []


def test_directions_are_independent():
    d = AppDecoder("dns")
    q, r = tcp(query("both.example")), tcp(header(flags=0x8180, an=1) + rr(b"\0"))
    out = []
    for i in range(max(len(q), len(r))):
        out += d.feed(TS, q[i:i + 1])[0]
        out += d.feed(TC, r[i:i + 1])[0]
    assert assemble(out) == [("dns.query", b"both.example")]


def test_probe():
    m = query("p.example")
    assert probe("dns", m, TS, DGRAM) == PROBE_YES
    assert probe("dns", m, TC, DGRAM) == PROBE_NO  # a query to the client
    resp = header(flags=0x8180, an=1) + name("p.example") + b"\0\x01\0\x01" + rr(b"\xc0\x0c")
    assert probe("dns", resp, TC, DGRAM) == PROBE_YES
    assert probe("dns", resp, TS, DGRAM) == PROBE_NO
    t = tcp(m)
    assert probe("dns", t, TS, 0) == PROBE_YES
    for i in range(len(t)):  # a TCP prefix too short to tell
        assert probe("dns", t[:i], TS, 0) == (PROBE_MORE if i < 15 else PROBE_YES), i
    assert probe("dns", m[:16], TS, DGRAM) == PROBE_NO  # shorter than header + question
    assert probe("dns", query("x.y", flags=3 << 11), TS, DGRAM) == PROBE_NO  # unassigned opcode
    assert probe("dns", query("x.y", flags=0x0101), TS, DGRAM) == PROBE_NO  # rcode in a query
    assert probe("dns", header(qd=0) + b"\0" * 8, TS, DGRAM) == PROBE_NO
    assert probe("dns", header(qd=20) + b"\0" * 200, TS, DGRAM) == PROBE_NO
    assert probe("dns", query("x.y", an=50), TS, DGRAM) == PROBE_NO  # counts beyond the message
    assert probe("dns", header() + b"\xc0\x0c\0\x01\0\x01", TS, DGRAM) == PROBE_NO  # pointer first
    assert probe("dns", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", TS, 0) == PROBE_NO
    assert probe("dns", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\0" * 40, TS, 0) == PROBE_NO


# ---- random input ------------------------------------------------------------------------

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
VALID = [query("www.example.com"), query("a.b", "c.d.e", an=1) + rr(b"\xc0\x0c"),
         header(flags=0x8180, an=1) + name("x.org") + b"\0\x01\0\x01" + rr(b"\xc0\x0c", rtype=5,
                                                                          rdata=name("y.org")),
         header(qd=2) + name("www.google.com") + b"\0\x01\0\x01" + b"\x04mail\xc0\x10" + b"\0\x01\0\x01"]


@st.composite
def mutated(draw):
    m = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(0, 6))):
        i = draw(st.integers(0, len(m) - 1))
        m[i] = draw(st.sampled_from([0, 1, 2, 0x3f, 0x40, 0x80, 0xc0, 0xc1, 0xff, m[i] ^ 0x20]))
    if draw(st.booleans()):
        m = m[:draw(st.integers(0, len(m)))]
    return bytes(m)


@settings(max_examples=400, **SETTINGS)
@given(st.one_of(st.binary(max_size=80), mutated()), st.sampled_from([TS, TC]))
def test_random_datagrams_match_the_reference(data, direction):
    udp(direction, data)


@settings(max_examples=250, **SETTINGS)
@given(st.lists(st.one_of(st.binary(max_size=40), mutated()), min_size=1, max_size=3),
       st.sampled_from([TS, TC]), st.data())
def test_random_streams_match_the_reference_and_any_segmentation(messages, direction, draw):
    data = tcp(*messages)
    if draw.draw(st.booleans()):
        data = data[:draw.draw(st.integers(0, len(data)))]  # ends anywhere
    if draw.draw(st.booleans()):
        data = draw.draw(st.binary(max_size=60)) + data  # not even framed
    whole = run(direction, [data])
    assert whole == tuple(list(x) for x in ref.decode_stream(direction, data))
    cuts = sorted(draw.draw(st.lists(st.integers(0, len(data)), max_size=6)))
    chunks = [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]
    assert run(direction, chunks) == whole
    assert run(direction, [data[i:i + 1] for i in range(len(data))]) == whole


# Random bytes against the piece protocol, the event table and the probe: the contract
# suite (test_app_contract.py), for every registered decoder.

CONTRACT_SAMPLES = [([(TS, m)], DGRAM) for m in VALID] + [([(TC, VALID[2])], DGRAM), ([(TS, tcp(*VALID[:2]))], 0),
                                                         ([(TC, tcp(VALID[2]))], 0)]
"""(conversation, flags) the contract suite runs through the DNS decoder."""


# ---- the shared captures -----------------------------------------------------------------

def _inventory() -> list[str]:
    inv = PCAPS / "pcap-inventory.tsv"
    with inv.open(newline="") as f:
        return [r["file"] for r in csv.DictReader(f, delimiter="\t")]


class Flow:
    """One connection (TCP) or address/port pair (UDP) of a capture: `chunks[d]` the
    in-order payload runs of direction d (TCP: new bytes of each segment; UDP: each
    datagram), `gap` when a TCP direction skipped bytes (the flow is not compared)."""

    def __init__(self, proto: int, client: tuple, server: tuple):
        self.proto, self.client, self.server = proto, client, server
        self.chunks: list[list[bytes]] = [[], []]
        self.next_seq: list[int | None] = [None, None]
        self.gap = False
        self.syn_seen = False

    def ports(self) -> tuple[int, int]:
        return self.client[1], self.server[1]

    def add_tcp(self, d: int, seq: int, flags: int, payload: bytes):
        if flags & 0x02:  # SYN
            self.next_seq[d] = (seq + 1) & 0xFFFFFFFF
            return
        if not payload:
            return
        nxt = self.next_seq[d]
        if nxt is None:
            nxt = seq
        delta = (seq - nxt) & 0xFFFFFFFF
        if delta >= 1 << 31:  # starts before the next expected byte
            back = (1 << 32) - delta
            if back >= len(payload):
                return  # retransmission
            payload = payload[back:]
        elif delta:
            self.gap = True
            return
        self.chunks[d].append(payload)
        self.next_seq[d] = (nxt + len(payload)) & 0xFFFFFFFF


@functools.lru_cache(maxsize=1)
def pcap_flows() -> tuple[list[Flow], int, int]:
    """Every TCP and UDP flow of every capture (Ethernet frames; IP fragments are left
    out: their flows are marked as having a gap). Returns (flows, frames, skipped frames
    of other link types)."""
    flows: list[Flow] = []
    frames = other = 0
    for rel in _inventory():
        table: dict = {}
        for linktype, frame in read_packets(PCAPS / rel):
            if linktype != LINKTYPE_ETHERNET:
                other += 1
                continue
            frames += 1
            pk = fast_decode.decode_to_dict(frame)
            proto = pk["l4_proto"]
            if proto not in (6, 17) or not pk["layers"] & 4 or pk["invalid_layer"]:
                continue
            a, b = (pk["src"], pk["sport"]), (pk["dst"], pk["dport"])
            key = (proto,) + tuple(sorted([a, b]))
            payload = frame[pk["payload_off"]:pk["payload_off"] + pk["payload_len"]]
            fl = table.get(key)
            syn = proto == 6 and pk["tcp_flags"] & 0x12 == 0x02
            if fl is None or (syn and fl.syn_seen and any(fl.chunks)):
                fl = Flow(proto, a, b)
                if not syn and proto == 6 and _looks_like_server(a[1], b[1]):
                    fl = Flow(proto, b, a)  # picked up mid-stream: the well-known port serves
                elif proto == 17 and _looks_like_server(a[1], b[1]):
                    fl = Flow(proto, b, a)
                table[key] = fl
                flows.append(fl)
            d = 0 if a == fl.client else 1
            if pk["ip_flags"] & 1:  # a fragment
                fl.gap = True
                continue
            if proto == 6:
                fl.syn_seen |= syn
                fl.add_tcp(d, pk["tcp_seq"], pk["tcp_flags"], payload)
            elif payload:
                fl.chunks[d].append(payload)
    return flows, frames, other


WELL_KNOWN = {53, 443, 80, 853, 8443}


def _looks_like_server(port_a: int, port_b: int) -> bool:
    """True if a's port is the service and b's the client's."""
    return port_a in WELL_KNOWN and port_b not in WELL_KNOWN


def dns_flows():
    flows, _, _ = pcap_flows()
    return [f for f in flows if 53 in f.ports()]


def test_corpus_dns_flows_match_the_reference():
    compared_udp = compared_tcp = skipped = names = 0
    for fl in dns_flows():
        if fl.proto == 17:
            dec = AppDecoder("dns")
            for d in (TS, TC):
                for dgram in fl.chunks[d]:
                    pieces, events = dec.feed(d, dgram, DGRAM)
                    want = ref.decode_datagram(d, dgram)
                    assert (assemble(pieces), events) == (list(want[0]), list(want[1])), dgram.hex()
                    names += len(want[0])
                    compared_udp += 1
        else:
            if fl.gap:
                skipped += 1
                continue
            for d in (TS, TC):
                got = run(d, fl.chunks[d])
                want = ref.decode_stream(d, b"".join(fl.chunks[d]))
                assert got == (list(want[0]), list(want[1]))
                names += len(want[0])
            compared_tcp += 1
    print(f"DNS corpus: {compared_udp} UDP datagrams and {compared_tcp} TCP flows compared "
          f"({skipped} TCP flows with gaps skipped), {names} dns.query instances")
    assert compared_udp > 1000 and compared_tcp >= 1 and names > 500


def _sv_queries(pcap: Path) -> tuple[list[bytes], list[str]]:
    table: dict = {}
    instances, events = [], []
    for linktype, frame in read_packets(pcap):
        pk = fast_decode.decode_to_dict(frame) if linktype == LINKTYPE_ETHERNET else None
        if pk is None or not pk["payload_len"]:
            continue
        payload = frame[pk["payload_off"]:pk["payload_off"] + pk["payload_len"]]
        d = TS if pk["dport"] == 53 else TC
        key = (pk["l4_proto"],) + tuple(sorted([(pk["src"], pk["sport"]), (pk["dst"], pk["dport"])]))
        dec = table.setdefault(key, AppDecoder("dns"))
        pieces, ev = dec.feed(d, payload, DGRAM if pk["l4_proto"] == 17 else 0)
        instances += assemble(pieces)
        events += ev
    return [v for _, v in instances], events


@pytest.mark.parametrize("case,transport", [("dns/dns-query/dns-detect-query-01", "udp"),
                                            ("dns/dns-query/dns-detect-query-03", "tcp")])
def test_suricata_verify_dns_query(case, transport):
    # rule: dns_query; content:"google"; nocase -> exactly one alert
    names, events = _sv_queries(SV / case / "input.pcap")
    assert [n for n in names if b"google" in n.lower()] == [b"google.com"]
    assert events == []


def test_suricata_verify_issue_4759_dns_over_tcp():
    # rule: dns.query; content:".com" -> 2 alerts; 4 DNS records (2 queries, 2 responses)
    names, events = _sv_queries(SV / "issues" / "issue-4759.1" / "tcpdns.pcap")
    assert len([n for n in names if b".com" in n]) == 2
    assert events == []
