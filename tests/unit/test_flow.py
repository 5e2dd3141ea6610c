"""Flow table and TCP in-order tracker (xdpfw._fast.flow)."""
from __future__ import annotations

import ipaddress
import random

import pytest

from xdpfw._fast import flow as F

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
S = 1_000_000_000  # ns
RESULTS = ["in_order", "partial_overlap", "retransmit", "gap", "no_data", "midstream", "out_of_window",
           "gap_resync", "rst_out_of_sequence",
           "syn_on_established", "retransmit_conflict", "retransmit_unverifiable"]
STATES = ["none", "syn_sent", "syn_recv", "established", "closing", "closed"]
EV = ["created", "timed_out", "evicted", "no_room", "closed", "evicted_unverified", "wrong_side", "side_takeover",
      "source_share", "verified", "emergency_entered"]


def a16(ip: str) -> bytes:
    addr = ipaddress.ip_address(ip)
    return (ipaddress.IPv6Address(f"::ffff:{ip}") if addr.version == 4 else addr).packed


C, SRV = a16("198.18.0.1"), a16("198.18.0.2")


class Conn:
    """Drive one TCP connection through a FlowTable."""

    def __init__(self, table, isn_c=1000, isn_s=5000, sport=40000, dport=80, now=S):
        self.t, self.now = table, now
        self.sport, self.dport = sport, dport
        self.isn_c, self.isn_s = isn_c, isn_s

    def c(self, seq, flags=ACK | PSH, plen=0, dt=0, data=None, ack=0):
        self.now += dt
        return self.t.packet(C, SRV, self.sport, self.dport, 6, now_ns=self.now, seq=seq, flags=flags, plen=plen,
                             payload=data, ack=ack)

    def s(self, seq, flags=ACK | PSH, plen=0, dt=0, data=None, ack=0):
        self.now += dt
        return self.t.packet(SRV, C, self.dport, self.sport, 6, now_ns=self.now, seq=seq, flags=flags, plen=plen,
                             payload=data, ack=ack)

    def handshake(self):
        r1 = self.c(self.isn_c, SYN)
        r2 = self.s(self.isn_s, SYN | ACK)
        r3 = self.c(self.isn_c + 1, ACK)
        return r1, r2, r3


def res(r):
    return RESULTS[r["result"]]


def test_entry_size_is_bounded():
    assert F.FLOW_ENTRY_SIZE <= 512


def test_handshake_directions_and_state():
    t = F.FlowTable(1024)
    conn = Conn(t)
    r1, r2, r3 = conn.handshake()
    assert (r1["direction"], r2["direction"], r3["direction"]) == (F.DIR_TOSERVER, F.DIR_TOCLIENT, F.DIR_TOSERVER)
    assert r1["slot"] == r2["slot"] == r3["slot"] and r1["flow_id"] == r3["flow_id"]
    assert [STATES[r["state"]] for r in (r1, r2, r3)] == ["syn_sent", "syn_recv", "established"]
    assert r3["next_seq"] == [1001, 5001]
    assert t.active == 1


def test_initiator_is_the_first_sender_even_if_it_sorts_higher():
    t = F.FlowTable(1024)
    r1 = t.packet(SRV, C, 80, 40000, 6, now_ns=S, seq=7, flags=SYN)
    r2 = t.packet(C, SRV, 40000, 80, 6, now_ns=S, seq=9, flags=SYN | ACK)
    assert (r1["direction"], r2["direction"]) == (F.DIR_TOSERVER, F.DIR_TOCLIENT)


def test_in_order_retransmit_overlap_gap():
    t = F.FlowTable(1024)
    conn = Conn(t)
    conn.handshake()
    r = conn.c(1001, plen=50)
    assert res(r) == "in_order" and r["skip"] == 0 and r["next_seq"][0] == 1051
    r = conn.c(1051, plen=50)
    assert res(r) == "in_order" and r["next_seq"][0] == 1101
    assert r["stream_off"][0] == 100
    r = conn.c(1001, plen=100)  # both segments re-sent as one, the same bytes
    assert res(r) == "retransmit" and r["next_seq"][0] == 1101
    r = conn.c(1051, plen=100)  # 50 old bytes, 50 new ones
    assert res(r) == "partial_overlap" and r["skip"] == 50 and r["next_seq"][0] == 1151
    assert r["stream_off"][0] == 150
    r = conn.c(1300, plen=10)   # 149 bytes missing
    assert res(r) == "gap" and r["next_seq"][0] == 1151 and r["stream_off"][0] == 150
    r = conn.c(1151, plen=149)  # the sender fills the gap in order
    assert res(r) == "in_order" and r["next_seq"][0] == 1300
    r = conn.c(1300, plen=10)
    assert res(r) == "in_order"


def test_directions_are_tracked_separately():
    t = F.FlowTable(1024)
    conn = Conn(t)
    conn.handshake()
    assert res(conn.s(5001, plen=200)) == "in_order"
    assert res(conn.c(1001, plen=10)) == "in_order"
    r = conn.s(5201, plen=1)
    assert r["next_seq"] == [1011, 5202]


def test_sequence_wraparound():
    t = F.FlowTable(1024)
    conn = Conn(t, isn_c=0xFFFFFF00)
    conn.handshake()
    data = bytes(range(256)) * 2
    r = conn.c(0xFFFFFF01, data=data)
    assert res(r) == "in_order" and r["next_seq"][0] == (0xFFFFFF01 + 0x200) & 0xFFFFFFFF
    assert res(conn.c(0xFFFFFF01, data=data)) == "retransmit"          # across the wrap
    assert res(conn.c(0xFFFFFF01, data=data[:-1] + b"!")) == "retransmit_conflict"
    assert res(conn.c(0xFFFFFF01, plen=0x100)) == "retransmit_unverifiable"  # cuts the segment
    assert res(conn.c((0xFFFFFF01 + 0x200) & 0xFFFFFFFF, plen=0x10)) == "in_order"


def test_far_jump_is_out_of_window():
    t = F.FlowTable(1024)
    conn = Conn(t)
    conn.handshake()
    assert res(conn.c(1001 + (1 << 30) + 1, plen=10)) == "out_of_window"


def test_midstream_pickup_and_policy():
    t = F.FlowTable(1024)
    r = t.packet(C, SRV, 40000, 80, 6, now_ns=S, seq=777, flags=ACK | PSH, plen=50)
    assert res(r) == "midstream" and r["midstream"] and STATES[r["state"]] == "established"
    assert r["next_seq"][0] == 827
    strict = F.FlowTable(1024, midstream=False)
    r = strict.packet(C, SRV, 40000, 80, 6, now_ns=S, seq=777, flags=ACK | PSH, plen=50)
    assert res(r) == "gap"


def test_fin_and_rst_close():
    t = F.FlowTable(1024)
    conn = Conn(t)
    conn.handshake()
    conn.c(1001, plen=10)
    r = conn.c(1011, flags=FIN | ACK)
    assert STATES[r["state"]] == "closing" and r["next_seq"][0] == 1012
    r = conn.s(5001, flags=FIN | ACK)
    assert STATES[r["state"]] == "closed"
    t2 = F.FlowTable(1024)
    c2 = Conn(t2)
    c2.handshake()
    assert STATES[c2.s(5001, flags=RST)["state"]] == "closed"


def test_rst_closes_only_at_the_next_expected_byte():
    # RFC 5961: a reset elsewhere in (or out of) the window gets a challenge ACK from the
    # host and leaves the connection open; a forged one must not close the flow here.
    for seq in (1000, 1005, 1010, 1012, 1011 + 65535, 1 << 31):
        t = F.FlowTable(1024)
        conn = Conn(t)
        conn.handshake()
        conn.c(1001, plen=10)
        r = conn.c(seq, flags=RST)
        assert res(r) == "rst_out_of_sequence" and STATES[r["state"]] == "established", seq
        r = conn.c(1011, plen=5)                      # the connection goes on, in order
        assert res(r) == "in_order" and r["next_seq"][0] == 1016
        r = conn.s(5001, flags=RST | ACK)             # the server's reset at its next byte
        assert res(r) == "no_data" and STATES[r["state"]] == "closed"
    # A reset answering a SYN (the responder's sequence is not known yet) is honoured.
    t = F.FlowTable(1024)
    conn = Conn(t)
    conn.c(1000, SYN)
    r = conn.s(0, flags=RST | ACK)
    assert STATES[r["state"]] == "closed"


def test_syn_inside_a_live_connection_changes_nothing():
    # RFC 5961 4.2: the host answers with a challenge ACK. Re-basing on it would make the
    # connection's next real bytes look like retransmissions (forwarded uninspected).
    t = F.FlowTable(1024)
    conn = Conn(t)
    conn.handshake()
    conn.c(1001, plen=10)
    r = conn.c(90000, SYN)
    assert res(r) == "syn_on_established" and r["next_seq"][0] == 1011
    assert STATES[r["state"]] == "established"
    assert res(conn.c(1011, plen=5)) == "in_order"
    # After one FIN the connection is still live for the other side: the same holds.
    conn.c(1016, flags=FIN | ACK)
    r = conn.c(91000, SYN)
    assert res(r) == "syn_on_established" and STATES[r["state"]] == "closing"
    assert r["flow_id"] == conn.c(1017, flags=ACK)["flow_id"]
    r = conn.s(5001, plen=7)                          # the server may still send
    assert res(r) == "in_order" and r["next_seq"][1] == 5008


def test_segment_from_before_the_stream_start_is_out_of_window():
    t = F.FlowTable(1024)
    conn = Conn(t)
    conn.handshake()
    conn.c(1001, plen=10)
    assert res(conn.c(1001, plen=10)) == "retransmit"      # a real retransmission
    assert res(conn.c(1000, plen=11)) == "retransmit"      # from the SYN's sequence number on
    for seq in (999, 1011 - 100000, 1011 - (1 << 30)):
        assert res(conn.c(seq & 0xFFFFFFFF, plen=5)) == "out_of_window", seq
    r = conn.c((1011 - 50000) & 0xFFFFFFFF, plen=50010)    # starts before, ends after
    assert res(r) == "out_of_window" and r["next_seq"][0] == 1011
    # Midstream: the stream starts at the first segment seen.
    t = F.FlowTable(1024)
    conn = Conn(t)
    assert res(conn.c(7000, plen=100)) == "midstream"
    assert res(conn.c(7000, plen=100)) == "retransmit"
    assert res(conn.c(6990, plen=20)) == "out_of_window"


def test_fin_carried_on_a_gap_segment_is_not_applied():
    t = F.FlowTable(1024)
    conn = Conn(t)
    conn.handshake()
    r = conn.c(1500, flags=FIN | ACK, plen=5)
    assert res(r) == "gap" and STATES[r["state"]] == "established"


def test_port_reuse_after_close_starts_a_new_connection():
    t = F.FlowTable(1024)
    conn = Conn(t)
    conn.handshake()
    conn.c(1001, flags=RST)
    r = conn.c(90000, SYN)
    assert STATES[r["state"]] == "syn_sent" and r["next_seq"][0] == 90001


def test_vlan_and_protocol_separate_flows():
    t = F.FlowTable(1024)
    a = t.packet(C, SRV, 1, 2, 17, 10, now_ns=S)
    b = t.packet(C, SRV, 1, 2, 17, 20, now_ns=S)
    c = t.packet(C, SRV, 1, 2, 6, 10, now_ns=S, flags=SYN)
    assert len({a["flow_id"], b["flow_id"], c["flow_id"]}) == 3
    assert t.packet(SRV, C, 2, 1, 17, 10, now_ns=S)["flow_id"] == a["flow_id"]


def test_timeout_gives_a_new_flow():
    t = F.FlowTable(1024, timeout_new_s=30)
    a = t.packet(C, SRV, 1, 2, 17, now_ns=S)
    b = t.packet(C, SRV, 1, 2, 17, now_ns=S + 29 * S)
    assert a["flow_id"] == b["flow_id"]
    c = t.packet(C, SRV, 1, 2, 17, now_ns=S + 29 * S + 31 * S)
    assert c["flow_id"] != a["flow_id"]
    ev = t.counters()["events"]
    assert ev[0] == 2 and ev[1] == 1  # created twice, timed out once
    assert t.active == 1


def test_entries_are_handed_out_densely_in_first_use_order():
    """A table touches memory for the flows it has seen, not for its capacity: the n-th
    bucket ever used gets entry n-1 (engine state indexed by entry follows), an entry keeps
    its bucket when its flow expires and a new flow takes it, and nothing is handed out
    beyond the capacity however many flows come and go."""
    t = F.FlowTable(1 << 16)
    slots = [t.packet(a16("198.18.3.1"), SRV, 1000 + i, 53, 17, now_ns=S)["slot"] for i in range(300)]
    assert sorted(slots) == list(range(300)) and t.nslots == 300
    again = [t.packet(a16("198.18.3.1"), SRV, 1000 + i, 53, 17, now_ns=2 * S)["slot"] for i in range(300)]
    assert again == slots and t.nslots == 300            # known flows: no new entries
    late = t.packet(a16("198.18.3.1"), SRV, 1000, 53, 17, now_ns=100 * S)   # expired: a new flow, same entry
    assert late["slot"] == slots[0] and t.nslots == 300
    small = F.FlowTable(64, share_host=0, share_prefix=0)
    for i in range(3000):
        r = small.packet(a16("198.18.3.2"), SRV, i + 1, 53, 17, now_ns=S + i * S)
        assert r is not None and r["slot"] < 64
    assert small.nslots == 64


def test_full_table_evicts_but_keeps_established_tcp():
    t = F.FlowTable(64)  # one probe window covers a quarter of it
    conns = []
    for i in range(64):
        c = Conn(t, sport=10000 + i)
        r1 = c.c(c.isn_c, SYN)
        if r1 is None:  # the window of this hash is full of live connections
            continue
        c.s(c.isn_s, SYN | ACK)
        c.c(c.isn_c + 1, ACK)
        conns.append(c)
    live = t.active
    assert live == len(conns) and live > 16
    # UDP flood: every new flow needs room; established connections are never evicted,
    # so some UDP packets get no flow and every connection survives.
    got_none = 0
    before = t.counters()["events"][3]
    for i in range(500):
        if t.packet(a16(f"198.18.1.{i % 250}"), SRV, 1000 + i, 53, 17, now_ns=2 * S) is None:
            got_none += 1
    assert got_none > 0
    ev = t.counters()["events"]
    assert ev[3] - before == got_none  # no_room
    for c in conns:
        r = c.c(c.isn_c + 1, plen=1, dt=0)
        assert r is not None and STATES[r["state"]] == "established"


def test_udp_flows_evict_each_other_lru():
    t = F.FlowTable(64, share_host=0, share_prefix=0)   # one source: no share limit here
    for i in range(2000):
        assert t.packet(a16("198.18.2.1"), SRV, i + 1, 53, 17, now_ns=S + i) is not None
    ev = t.counters()["events"]
    # one-way flows are unverified: they evict each other (unverified first)
    assert ev[0] == 2000 and ev[EV.index("evicted_unverified")] > 0 and ev[EV.index("evicted")] == 0
    assert t.active <= 64


def test_random_segmentation_inspects_every_byte_once():
    """Any mix of in-order, duplicated, overlapping and early segments: the bytes marked
    new, in order, are exactly the stream, each once."""
    rng = random.Random(7)
    for trial in range(200):
        t = F.FlowTable(64)
        conn = Conn(t, isn_c=rng.randrange(1 << 32))
        conn.handshake()
        total = rng.randrange(1, 3000)
        base = (conn.isn_c + 1) & 0xFFFFFFFF
        inspected = []
        delivered = 0  # what the receiver has (the sender retransmits from there)
        sends = 0
        while delivered < total and sends < 10000:
            sends += 1
            start = max(0, delivered - rng.randrange(0, 50)) if rng.random() < 0.7 else \
                min(total - 1, delivered + rng.randrange(1, 100))
            length = min(total - start, rng.randrange(1, 200))
            r = conn.c((base + start) & 0xFFFFFFFF, plen=length)
            kind = res(r)
            if kind in ("in_order", "partial_overlap"):
                inspected.append((start + r["skip"], start + length))
                delivered = start + length
            else:
                # a re-sent range that cuts an inspected segment cannot be compared: refused
                assert kind in ("retransmit", "gap", "retransmit_unverifiable"), kind
        assert delivered == total
        pos = 0
        for lo, hi in inspected:
            assert lo == pos, (trial, inspected)
            pos = hi
        assert pos == total and r["stream_off"][0] == total


@pytest.mark.parametrize("capacity,expected", [(1, 64), (100, 128), (65536, 65536)])
def test_capacity_rounds_to_power_of_two(capacity, expected):
    assert F.FlowTable(capacity).size == expected


def test_gap_resync_only_when_asked_and_after_a_run_of_gaps():
    inline = F.FlowTable(64)
    conn = Conn(inline)
    conn.handshake()
    for i in range(50):  # inline never gives up waiting: the sender must retransmit
        assert res(conn.c(2000 + 10 * i, plen=10)) == "gap"
    replay = F.FlowTable(64, gap_resync=3)
    conn = Conn(replay)
    conn.handshake()
    assert res(conn.c(2000, plen=10)) == "gap"
    assert res(conn.c(2010, plen=10)) == "gap"
    # a run of 3 gap segments, but the hole is milliseconds old: a reorder, not a loss
    assert res(conn.c(2020, plen=10, dt=S // 2)) == "gap"
    r = conn.c(2030, plen=10, dt=S // 2)               # 1 s after the first gap segment
    assert res(r) == "gap_resync" and r["next_seq"][0] == 2040
    assert res(conn.c(2040, plen=5)) == "in_order"
    assert res(conn.c(1001, plen=10)) == "retransmit"  # the hole's late bytes are history now
    # an in-order segment resets the run
    assert res(conn.c(3000, plen=1)) == "gap"
    assert res(conn.c(2045, plen=1)) == "in_order"
    assert res(conn.c(3000, plen=1)) == "gap"
    assert res(conn.c(3001, plen=1)) == "gap"


def test_clock_stepping_back_does_not_expire_flows():
    t = F.FlowTable(64, timeout_new_s=30)
    a = t.packet(C, SRV, 1, 2, 17, now_ns=100 * S)
    b = t.packet(C, SRV, 1, 2, 17, now_ns=99 * S)    # an earlier capture timestamp
    c = t.packet(C, SRV, 1, 2, 17, now_ns=125 * S)   # 25 s after the latest seen: still live
    assert a["flow_id"] == b["flow_id"] == c["flow_id"]
    assert t.counters()["events"][1] == 0


# ---- insertion: records of inspected, unacknowledged ranges (xdpfw_seqrec.h) -------------

def test_records_are_released_by_the_peers_acknowledgement():
    t = F.FlowTable(1024)
    conn = Conn(t)
    r = conn.handshake()[0]
    slot = r["slot"]
    for i in range(40):                                     # 40 segments in flight
        conn.c(1001 + 10 * i, data=bytes([i]) * 10)
    rec = t.records(slot, F.DIR_TOSERVER)
    assert (rec["una"], rec["top"]) == (1001, 1401) and rec["chunks"] == 3
    assert t.counters()["records"]["chunks_in_use"] == 3
    assert res(conn.c(1011, data=bytes([1]) * 10)) == "retransmit"     # any one of them
    assert res(conn.c(1391, data=bytes([39]) * 10)) == "retransmit"
    conn.s(5001, flags=ACK, ack=1201)                       # the server has the first 20
    rec = t.records(slot, F.DIR_TOSERVER)
    assert rec["una"] == 1201 and rec["chunks"] == 2
    assert res(conn.c(1001, plen=200)) == "retransmit"      # acknowledged: the host discards it
    assert res(conn.c(1201, plen=10)) == "retransmit_conflict"
    conn.s(5001, flags=ACK, ack=1205)                       # inside a segment: it stays whole
    assert t.records(slot, F.DIR_TOSERVER)["una"] == 1201
    assert res(conn.c(1205, data=bytes([20]) * 6)) == "retransmit_unverifiable"
    conn.s(5001, flags=ACK, ack=1401)
    rec = t.records(slot, F.DIR_TOSERVER)
    assert (rec["una"], rec["top"], rec["chunks"]) == (1401, 1401, 0)
    assert t.counters()["records"]["chunks_in_use"] == 0
    # an acknowledgement of more than was forwarded releases nothing
    conn.c(1401, data=b"z" * 10)
    conn.s(5001, flags=ACK, ack=1500)
    assert t.records(slot, F.DIR_TOSERVER)["una"] == 1401
    assert res(conn.c(1401, data=b"y" * 10)) == "retransmit_conflict"


def test_a_direction_over_its_cap_merges_records_and_stays_exact():
    t = F.FlowTable(1024, record_dir_chunks=1)
    conn = Conn(t)
    conn.handshake()
    segs = [(1001 + 10 * i, bytes([65 + i]) * 10) for i in range(20)]
    for seq, data in segs:
        conn.c(seq, data=data)
    # 14 records in the chunk; the newest record took in the other six
    assert t.counters()["records"]["merged"] == 5
    assert res(conn.c(segs[3][0], data=segs[3][1])) == "retransmit"
    assert res(conn.c(segs[17][0], data=segs[17][1])) == "retransmit_unverifiable"       # inside the merged record
    merged = b"".join(d for _, d in segs[14:])
    assert res(conn.c(segs[14][0], data=merged)) == "retransmit"
    assert res(conn.c(segs[14][0], data=merged[:-1] + b"?")) == "retransmit_conflict"


def test_one_flow_cannot_take_the_pool_and_flows_give_their_chunks_back():
    t = F.FlowTable(1024, record_chunks=3, record_dir_chunks=2)
    a, b = Conn(t, sport=1), Conn(t, sport=2)
    a.handshake()
    b.handshake()
    for i in range(60):
        a.c(1001 + i, data=b"a")
    assert t.counters()["records"]["chunks_in_use"] == 2          # its cap, not the pool
    for i in range(20):
        b.c(1001 + i, data=b"b")
    assert t.counters()["records"]["chunks_in_use"] == 3          # b got the last one
    assert res(b.c(1005, data=b"b")) == "retransmit"
    a.c(1061, flags=RST)                                           # a ends; a new SYN reuses it
    assert res(a.c(77, SYN)) == "no_data"
    assert t.counters()["records"]["chunks_in_use"] == 1


def test_forwarded_bytes_are_the_inspected_ones():
    """The guarantee, against a model that keeps the bytes: whatever a sender re-sends
    (same or other bytes, any boundaries) and whenever the receiver acknowledges, a byte is
    forwarded at a position the receiver has not acknowledged only if it is the byte the
    engine inspected there. And a faithful retransmission of what was sent is never
    refused."""
    rng = random.Random(11)
    for trial in range(150):
        t = F.FlowTable(64, record_dir_chunks=rng.choice((1, 2, 64)))
        isn = rng.randrange(1 << 32)
        conn = Conn(t, isn_c=isn)
        conn.handshake()
        base = (isn + 1) & 0xFFFFFFFF
        truth = bytes(rng.randrange(256) for _ in range(3000))
        inspected = {}        # stream offset -> byte inspected there
        sent = []             # (start, end) of segments forwarded in order: what a sender re-sends
        nxt = acked = 0
        for _ in range(300):
            roll = rng.random()
            if roll < 0.15 and nxt > acked:                   # the receiver acknowledges
                acked = rng.choice([e for _, e in sent if acked < e <= nxt] or [nxt])
                conn.s(conn.isn_s + 1, flags=ACK, ack=(base + acked) & 0xFFFFFFFF)
                continue
            if roll < 0.5 or not sent:                        # new data, in order
                start, end = nxt, min(len(truth), nxt + rng.randrange(1, 120))
            elif roll < 0.75:                                 # a faithful retransmission
                start, end = rng.choice([(s, e) for s, e in sent if e > acked] or sent[-1:])
            else:                                             # anything, anywhere before nxt
                start = rng.randrange(max(0, nxt - 400), nxt)
                end = min(len(truth), start + rng.randrange(1, 200))
            if start >= end:
                continue
            data = bytearray(truth[start:end])
            faithful = roll < 0.75
            if not faithful and rng.random() < 0.6:
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            r = conn.c((base + start) & 0xFFFFFFFF, data=bytes(data))
            kind = res(r)
            if kind in ("in_order", "partial_overlap", "retransmit"):
                for i, byte in enumerate(data):
                    pos = start + i
                    if pos >= nxt:
                        inspected[pos] = byte                 # new: inspected now
                    elif pos >= acked:
                        assert inspected[pos] == byte, (trial, kind, start, end, pos)
                if kind != "retransmit":
                    sent.append((nxt, end))                   # the new part is one record
                    nxt = end
            else:
                assert kind in ("retransmit_conflict", "retransmit_unverifiable"), kind
                if faithful and data == truth[start:end] and all(
                        inspected.get(p) == truth[p] for p in range(max(start, acked), min(end, nxt))):
                    # a faithful copy is refused only when its edges cut a merged record
                    assert kind == "retransmit_unverifiable" and t.counters()["records"]["merged"], \
                        (trial, start, end)


def test_record_layout_is_as_documented():
    # docs/EVASION.md and docs/ARCHITECTURE.md state these sizes
    assert (F.RECORD_DIR_SIZE, F.RECORD_CHUNK_SIZE, F.RECORDS_PER_CHUNK) == (32, 176, 14)
