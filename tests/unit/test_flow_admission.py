"""Flow-table admission (xdpfw._fast.flow): the NIC check, verification, eviction order,
the per-source share and emergency mode (docs/EVASION.md, "Exhausting the flow table")."""
from __future__ import annotations

import ipaddress
import random

from xdpfw._fast import flow as F

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
S = 1_000_000_000
EV = ["created", "timed_out", "evicted", "no_room", "closed", "evicted_unverified", "wrong_side", "side_takeover",
      "source_share", "verified", "emergency_entered"]
STATES = ["none", "syn_sent", "syn_recv", "established", "closing", "closed"]
A, B = 0, 1          # the appliance's NICs: clients behind A, servers behind B


def a16(ip: str) -> bytes:
    addr = ipaddress.ip_address(ip)
    return (ipaddress.IPv6Address(f"::ffff:{ip}") if addr.version == 4 else addr).packed


CLI, SRV = a16("198.18.0.1"), a16("198.18.0.2")


def ev(t, name):
    return t.counters()["events"][EV.index(name)]


def handshake(t, cli=CLI, srv=SRV, sport=40000, dport=80, now=S, isn_c=1000, isn_s=5000, side_c=A, side_s=B):
    """A handshake whose segments come in on the NICs given; returns the three results."""
    r1 = t.packet(cli, srv, sport, dport, 6, now_ns=now, seq=isn_c, flags=SYN, side=side_c)
    r2 = t.packet(srv, cli, dport, sport, 6, now_ns=now, seq=isn_s, ack=isn_c + 1, flags=SYN | ACK, side=side_s)
    r3 = t.packet(cli, srv, sport, dport, 6, now_ns=now, seq=isn_c + 1, ack=isn_s + 1, flags=ACK, side=side_c)
    return r1, r2, r3


def test_entry_still_bounded():
    assert F.FLOW_ENTRY_SIZE <= 512


def test_real_handshake_is_verified_and_established():
    t = F.FlowTable(1024, sides=True)
    r1, r2, r3 = handshake(t)
    assert not any(r["wrong_side"] for r in (r1, r2, r3))
    assert STATES[r3["state"]] == "established" and r3["verified"] and r3["init_side"] == A
    assert not r1["verified"] and not r2["verified"]   # SYN-ACK alone is no proof: the ACK of it is
    assert ev(t, "verified") == 1 and t.unverified() == 0


def test_one_sided_handshake_is_refused_its_syn_ack():
    """SYN, forged SYN-ACK and ACK all sent from the clients' NIC: the SYN-ACK claims the
    server, which sends from the other NIC, so it is dropped; the ACK completes nothing."""
    t = F.FlowTable(1024, sides=True)
    r1, r2, r3 = handshake(t, side_s=A)
    assert r2["wrong_side"] and not r3["wrong_side"]
    assert STATES[r3["state"]] == "syn_sent" and not r3["verified"]
    assert ev(t, "wrong_side") == 1 and t.unverified() == 1


def test_replay_trusts_the_addresses():
    """No NICs (replay): the same one-sided handshake is a handshake."""
    t = F.FlowTable(1024, sides=False)
    r1, r2, r3 = handshake(t, side_s=A)
    assert not r2["wrong_side"] and STATES[r3["state"]] == "established" and r3["verified"]


def test_blind_ack_to_a_real_syn_ack_does_not_verify():
    """A spoofed SYN gets a real SYN-ACK from the server's NIC; the spoofer's blind ACK
    does not acknowledge it: half-open, unverified, though ESTABLISHED for the tracker."""
    t = F.FlowTable(1024, sides=True)
    t.packet(CLI, SRV, 40000, 80, 6, now_ns=S, seq=1000, flags=SYN, side=A)
    t.packet(SRV, CLI, 80, 40000, 6, now_ns=S, seq=5000, ack=1001, flags=SYN | ACK, side=B)
    r = t.packet(CLI, SRV, 40000, 80, 6, now_ns=S, seq=1001, ack=123456, flags=ACK, side=A)
    assert not r["verified"]
    r = t.packet(CLI, SRV, 40000, 80, 6, now_ns=S, seq=1001, ack=5000, flags=ACK, side=A)   # acks nothing
    assert not r["verified"]
    r = t.packet(CLI, SRV, 40000, 80, 6, now_ns=S, seq=1001, ack=5001, flags=ACK, side=A)
    assert r["verified"]


def test_spoofed_packets_of_a_live_connection_change_nothing():
    t = F.FlowTable(1024, sides=True)
    handshake(t)
    # a RST "from the server" at exactly its next byte, but from the clients' NIC
    r = t.packet(SRV, CLI, 80, 40000, 6, now_ns=S, seq=5001, flags=RST, side=A)
    assert r["wrong_side"]
    # data "from the client" sent from the servers' NIC
    r = t.packet(CLI, SRV, 40000, 80, 6, now_ns=S, seq=1001, ack=5001, flags=ACK | PSH, plen=10, side=B)
    assert r["wrong_side"]
    # a SYN from the wrong NIC does not take over a verified connection
    r = t.packet(SRV, CLI, 80, 40000, 6, now_ns=S, seq=77, flags=SYN, side=A)
    assert r["wrong_side"]
    r = t.packet(CLI, SRV, 40000, 80, 6, now_ns=S, seq=1001, ack=5001, flags=ACK | PSH, plen=10, side=A)
    assert STATES[r["state"]] == "established" and r["next_seq"][0] == 1011 and r["result"] == 0
    assert ev(t, "wrong_side") == 3


def test_planted_entry_is_taken_over_by_the_real_syn():
    """A spoofer plants the reverse of a future connection (server -> client, from the
    clients' NIC). The client's real SYN comes from the NIC the planted entry expects for
    the server: the entry heard one NIC only, so the opener takes it over."""
    t = F.FlowTable(1024, sides=True)
    p = t.packet(SRV, CLI, 80, 40000, 6, now_ns=S, seq=9, flags=ACK, side=A)
    r1, r2, r3 = handshake(t)
    assert r1["flow_id"] != p["flow_id"] and r1["direction"] == F.DIR_TOSERVER and r1["init_side"] == A
    assert not r2["wrong_side"] and r3["verified"] and STATES[r3["state"]] == "established"
    assert ev(t, "side_takeover") == 1
    # a non-opener from the wrong NIC of a one-sided entry is still just spoofed
    t.packet(a16("198.18.0.9"), SRV, 1, 80, 6, now_ns=S, seq=1, flags=SYN, side=A)
    assert t.packet(SRV, a16("198.18.0.9"), 80, 1, 6, now_ns=S, seq=1, flags=ACK, side=A)["wrong_side"]


def test_udp_planted_entry_taken_over_and_verified_both_ways():
    t = F.FlowTable(1024, sides=True)
    t.packet(SRV, CLI, 53, 5353, 17, now_ns=S, side=A)                  # spoofed "reply" first
    r = t.packet(CLI, SRV, 5353, 53, 17, now_ns=S, side=A)              # the real query
    assert not r["wrong_side"] and r["direction"] == F.DIR_TOSERVER and not r["verified"]
    r = t.packet(SRV, CLI, 53, 5353, 17, now_ns=S, side=B)              # the real reply
    assert r["verified"] and ev(t, "side_takeover") == 1
    assert t.packet(SRV, CLI, 53, 5353, 17, now_ns=S, side=A)["wrong_side"]


def test_syn_ack_first_reverses_the_flow():
    t = F.FlowTable(1024, sides=True)
    r = t.packet(SRV, CLI, 80, 40000, 6, now_ns=S, seq=5000, ack=1001, flags=SYN | ACK, side=B)
    assert r["direction"] == F.DIR_TOCLIENT and r["init_side"] == A
    r = t.packet(CLI, SRV, 40000, 80, 6, now_ns=S, seq=1001, ack=5001, flags=ACK | PSH, plen=10, side=A)
    assert r["direction"] == F.DIR_TOSERVER and not r["wrong_side"] and not r["verified"]
    # the client's SYN was not seen: the server proves itself by acknowledging its data
    r = t.packet(SRV, CLI, 80, 40000, 6, now_ns=S, seq=5001, ack=1011, flags=ACK, side=B)
    assert r["verified"]


def test_midstream_pickup_unverified_until_both_nics():
    t = F.FlowTable(1024, sides=True)
    r = t.packet(CLI, SRV, 40000, 80, 6, now_ns=S, seq=1000, ack=7000, flags=ACK | PSH, plen=100, side=A)
    assert r["midstream"] and STATES[r["state"]] == "established" and not r["verified"]
    r = t.packet(SRV, CLI, 80, 40000, 6, now_ns=S, seq=7000, ack=1100, flags=ACK | PSH, plen=50, side=B)
    assert not r["verified"]   # the server acknowledged the client's bytes, from its own NIC
    r = t.packet(CLI, SRV, 40000, 80, 6, now_ns=S, seq=1100, ack=6999, flags=ACK, side=A)
    assert not r["verified"]   # acknowledges nothing the server sent
    r = t.packet(CLI, SRV, 40000, 80, 6, now_ns=S, seq=1100, ack=7050, flags=ACK, side=A)
    assert r["verified"]       # and the client the server's


def test_unverified_entries_time_out_early_verified_ones_do_not():
    t = F.FlowTable(1024, sides=True)
    handshake(t)
    t.packet(a16("198.18.3.3"), SRV, 1234, 80, 6, now_ns=S, seq=1, flags=ACK | PSH, plen=5, side=A)
    later = S + 31 * S
    r = t.packet(a16("198.18.3.3"), SRV, 1234, 80, 6, now_ns=later, seq=6, flags=ACK | PSH, plen=5, side=A)
    assert ev(t, "timed_out") == 1 and r["midstream"]        # a new pickup: the old one timed out
    r = t.packet(CLI, SRV, 40000, 80, 6, now_ns=later, seq=1001, ack=5001, flags=ACK, side=A)
    assert r["verified"] and ev(t, "timed_out") == 1          # the verified connection is still there


def flood(t, n, rng, now, side=A, prefix=None, v6=False):
    """n one-sided spoofed handshakes (SYN, forged SYN-ACK, ACK, all from one NIC) from
    random sources (or sources within `prefix`)."""
    for i in range(n):
        if v6:
            src = ipaddress.IPv6Address(rng.getrandbits(128)).packed
        elif prefix:
            net = ipaddress.ip_network(prefix)
            src = a16(str(net[rng.randrange(net.num_addresses)]))
        else:
            src = a16(str(ipaddress.IPv4Address(rng.getrandbits(32))))
        sp, isn = rng.randrange(1024, 65536), rng.getrandbits(32)
        t.packet(src, SRV, sp, 80, 6, now_ns=now, seq=isn, flags=SYN, side=side)
        t.packet(SRV, src, 80, sp, 6, now_ns=now, seq=99, ack=isn + 1, flags=SYN | ACK, side=side)
        t.packet(src, SRV, sp, 80, 6, now_ns=now, seq=isn + 1, ack=100, flags=ACK, side=side)


def test_one_sided_flood_pins_nothing():
    """The issue's figure: 1,500 one-sided handshakes into a 1,024-slot table. Inline, live
    connections made before survive it and new ones still get entries, during and after."""
    rng = random.Random(11)
    t = F.FlowTable(1024, sides=True)
    before = [handshake(t, sport=20000 + i)[2]["flow_id"] for i in range(100)]
    flood(t, 1500, rng, S)
    assert ev(t, "no_room") == 0 and ev(t, "evicted") == 0 and ev(t, "evicted_unverified") > 0
    for i in range(100):
        r = t.packet(CLI, SRV, 20000 + i, 80, 6, now_ns=S, seq=1001, ack=5001, flags=ACK, side=A)
        assert r["flow_id"] == before[i] and r["verified"]
    for i in range(200):          # new connections during the flood
        flood(t, 5, rng, S)
        r3 = handshake(t, sport=30000 + i)[2]
        assert r3 is not None and r3["verified"] and STATES[r3["state"]] == "established"
    assert t.active <= 1024 and ev(t, "wrong_side") >= 1500


def test_the_same_flood_pins_a_table_that_trusts_addresses():
    """Why the NIC check exists: without it (replay), forged handshakes are connections
    and live ones are never evicted, so the table fills and new flows get none."""
    rng = random.Random(12)
    t = F.FlowTable(1024, sides=False, share_host=0, share_prefix=0)
    flood(t, 1500, rng, S)
    got = [handshake(t, sport=30000 + i)[0] for i in range(200)]
    assert sum(r is None for r in got) > 100 and ev(t, "no_room") > 0


def fill_verified(t, n, now=S):
    """n verified UDP conversations (query from A, reply from B), two per /24: the table
    is under pressure (half full) and no share is touched."""
    ok = 0
    for i in range(n):
        src = a16(f"198.19.{i % 256}.{i // 256 + 1}")
        t.packet(src, SRV, 5000, 53, 17, now_ns=now, side=A)
        ok += bool((t.packet(SRV, src, 53, 5000, 17, now_ns=now, side=B) or {}).get("verified"))
    # (a source whose two sketch cells both collide with a held-up host's is refused:
    # count-min errs on the side of "over"; rare at these sizes)
    assert ok >= n - 3


def test_over_share_source_gets_only_free_slots_while_the_table_is_light():
    t = F.FlowTable(1024, sides=True)
    src = a16("198.18.5.5")
    got = [t.packet(src, SRV, 1000 + i, 80, 6, now_ns=S, seq=i, flags=SYN, side=A) for i in range(40)]
    assert all(r is not None for r in got) and ev(t, "source_share") == 0
    fill_verified(t, 480)       # now past half full: the host is held to its share
    assert t.packet(src, SRV, 999, 80, 6, now_ns=S, seq=1, flags=SYN, side=A) is None
    assert ev(t, "source_share") == 1


def test_host_share():
    t = F.FlowTable(1024, sides=True)
    fill_verified(t, 512)
    assert (t.share_host, t.share_prefix) == (32, 128)
    src = a16("198.18.5.5")
    got = [t.packet(src, SRV, 1000 + i, 80, 6, now_ns=S, seq=i, flags=SYN, side=A) for i in range(40)]
    # 8 over the share (fewer when one of the host's own entries was evicted to make room)
    assert sum(r is None for r in got) == ev(t, "source_share") == 8 - ev(t, "evicted_unverified")
    assert t.share_count(src)[0] == 32
    # another host of the same /24 still gets entries
    assert t.packet(a16("198.18.5.6"), SRV, 1, 80, 6, now_ns=S, seq=1, flags=SYN, side=A) is not None
    # an entry that becomes verified leaves its source's share
    t2 = F.FlowTable(1024, sides=True)
    for i in range(32):
        t2.packet(src, SRV, 1000 + i, 80, 6, now_ns=S, seq=i, flags=SYN, side=A)
    assert t2.share_count(src) == (32, 32)
    t2.packet(SRV, src, 80, 1000, 6, now_ns=S, seq=50, ack=1, flags=SYN | ACK, side=B)
    assert t2.packet(src, SRV, 1000, 80, 6, now_ns=S, seq=1, ack=51, flags=ACK, side=A)["verified"]
    assert t2.share_count(src) == (31, 31)


def test_prefix_share_many_sources_in_one_prefix():
    rng = random.Random(13)
    t = F.FlowTable(1024, sides=True)
    flood(t, 1500, rng, S, prefix="198.19.7.0/24")
    # past its share the prefix got only free slots, and none once the table was half full
    held = t.share_count(a16("198.19.7.1"))[1]
    assert ev(t, "source_share") > 0 and 128 < held <= 512
    assert ev(t, "source_share") >= 1500 - held - ev(t, "evicted_unverified")
    # nobody else is refused: another prefix gets entries and completes handshakes
    for i in range(100):
        assert handshake(t, sport=30000 + i)[2]["verified"]
    assert ev(t, "no_room") == 0


def test_ipv6_shares_per_64_and_per_48():
    t = F.FlowTable(1024, sides=True)
    fill_verified(t, 512)
    srv6 = a16("2001:db8:ffff::2")
    refused = sum(t.packet(a16(f"2001:db8:1:2::{i:x}"), srv6, 1000, 80, 6, now_ns=S, seq=1, flags=SYN, side=A)
                  is None for i in range(1, 41))
    # one /64 is one host (an eviction of one of its own entries makes room for one more)
    assert refused == 8 - ev(t, "evicted_unverified")
    assert t.share_count(a16("2001:db8:1:2::1"))[0] == 32
    refused = sum(t.packet(a16(f"2001:db8:1:{i:x}::1"), srv6, 1000, 80, 6, now_ns=S, seq=1, flags=SYN, side=A)
                  is None for i in range(100, 300))
    # the /48 holds 128 in all (every unverified entry in the table is of this /48)
    assert t.share_count(a16("2001:db8:1:ffff::1"))[1] == 128 == t.unverified()
    # every SYN was refused, or made an entry still held or since evicted
    assert 240 == ev(t, "source_share") + ev(t, "evicted_unverified") + 128 and refused >= 200 - 96 - 16
    assert t.packet(a16("2001:db8:2::1"), srv6, 1000, 80, 6, now_ns=S, seq=1, flags=SYN, side=A) is not None


def test_share_is_kept_per_nic():
    """A sender on A spoofing the server's address (forged SYN-ACKs first, or SYNs)
    charges the server's share on A only: the server's own connections, from B, are not
    held to it."""
    t = F.FlowTable(1024, sides=True)
    fill_verified(t, 512)
    for i in range(40):
        t.packet(SRV, a16(f"198.19.200.{i + 1}"), 80, 1000 + i, 6, now_ns=S, seq=i, flags=SYN, side=A)
    assert ev(t, "source_share") == 8 - ev(t, "evicted_unverified")
    assert t.share_count(SRV, A)[0] == 32 and t.share_count(SRV, B)[0] == 0
    assert t.packet(SRV, a16("198.19.201.1"), 2222, 443, 6, now_ns=S, seq=1, flags=SYN, side=B) is not None
    # a forged SYN-ACK first from A: the initiator it names (on B) is charged, not the server
    srv2 = a16("198.18.0.3")
    assert t.packet(srv2, a16("198.19.202.1"), 80, 3333, 6, now_ns=S, seq=1, ack=1, flags=SYN | ACK, side=A)
    assert t.share_count(a16("198.19.202.1"), B)[0] == 1 and t.share_count(srv2, A)[0] == 0


def test_share_cells_depend_on_the_table_seed():
    """Two tables (two seeds) put the same sources in different cells: a sender cannot
    compute which addresses share a cell with its victim."""
    srcs = [a16(f"198.18.{i // 250}.{i % 250 + 1}") for i in range(2000)]
    t1, t2 = (F.FlowTable(1024, sides=True, share_host=1, share_prefix=0) for _ in range(2))
    refused = []
    for t in (t1, t2):
        r = set()
        for i, s in enumerate(srcs):
            before = ev(t, "source_share")
            t.packet(s, SRV, 1, 80, 17, now_ns=S, side=A)
            if ev(t, "source_share") > before:
                # refused as over its share: its cells held an entry at that moment (later
                # evictions of unverified entries may release them again)
                assert t.share_count(s)[0] >= 1
                r.add(i)
        refused.append(r)
    # with 2000 sources over 256-cell rows, each table refuses its own collision set
    assert refused[0] and refused[1] and refused[0] != refused[1]
    assert len(refused[0]) == ev(t1, "source_share") and len(refused[1]) == ev(t2, "source_share")
    t3 = F.FlowTable(1024, sides=True, share_host=1, share_prefix=0)
    got1 = [t3.packet(s, SRV, 2, 80, 17, now_ns=S, side=A) is None for s in srcs]
    t4 = F.FlowTable(1024, sides=True, share_host=1, share_prefix=0)
    got2 = [t4.packet(s, SRV, 2, 80, 17, now_ns=S, side=A) is None for s in srcs]
    assert got1 != got2


def test_emergency_mode_under_a_flood_and_after():
    rng = random.Random(14)
    t = F.FlowTable(1024, sides=True)
    assert not t.emergency
    flood(t, 1500, rng, S)
    assert t.emergency and ev(t, "emergency_entered") == 1
    # in emergency, an unverified entry times out after 5 s, not 30
    src = a16("198.18.9.9")
    t.packet(src, SRV, 4444, 80, 6, now_ns=S, seq=1, flags=SYN, side=A)
    before = ev(t, "timed_out")
    t.packet(src, SRV, 4444, 80, 6, now_ns=S + 6 * S, seq=1, flags=SYN, side=A)
    assert ev(t, "timed_out") == before + 1
    # the flood stops: new flows sweep the expired entries out of `active`, and past the
    # hold with the table mostly free again, emergency mode ends
    later = S + 6 * S + int(F.EMERGENCY_HOLD_S * S) + S
    assert t.active > 1000
    for i in range(300):
        handshake(t, sport=50000 + i, now=later)
    assert not t.emergency and ev(t, "emergency_entered") == 1
    assert t.active == 300 == sum(1 for i in range(300) if handshake(t, sport=50000 + i, now=later)[2]["verified"])


# ---- through the engine: the drop reasons and the IDS / replay behaviour ----------------
def _engine(**kw):
    from xdpfw._fast import engine as E
    from xdpfw._fast import match_hs
    from xdpfw._fast.match import Pattern
    from xdpfw.detect.sigtables import SigTables
    from xdpfw.rules import parse_rule

    t = SigTables()
    idx = t.add(parse_rule('drop tcp any any -> any any (msg:"x"; content:"EVIL"; sid:1;)'), has_payload=True)
    t.report[100] = idx
    t.block_report[100] = idx
    db = match_hs.Database.compile([Pattern(100, b"EVIL")], mode="stream")
    return E.Engine(t, stream_db=db, flow_capacity=1024, **kw)


def _tcp(src, dst, sport, dport, seq, ack, flags, data=b""):
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    return bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src=src, dst=dst)
                 / TCP(sport=sport, dport=dport, seq=seq, ack=ack, flags=flags) / data)


def test_engine_drops_wrong_side_inline_and_counts_it():
    from xdpfw.dataplane import shared
    eng = _engine(check_sides=True)
    c, s = "198.18.0.1", "198.18.0.2"
    assert eng.inspect_frame(_tcp(c, s, 4000, 80, 100, 0, "S"), A, S) == ("pass", None)
    # the forged SYN-ACK from the clients' NIC
    assert eng.inspect_frame(_tcp(s, c, 80, 4000, 900, 101, "SA"), A, S) == ("drop", shared.DropReason.WRONG_SIDE)
    assert eng.inspect_frame(_tcp(s, c, 80, 4000, 900, 101, "SA"), B, S) == ("pass", None)
    assert eng.inspect_frame(_tcp(c, s, 4000, 80, 101, 901, "A"), A, S) == ("pass", None)
    # payload of the client, spoofed from the servers' NIC: dropped before inspection
    assert eng.inspect_frame(_tcp(c, s, 4000, 80, 101, 901, "PA", b"EVIL"), B, S) == \
        ("drop", shared.DropReason.WRONG_SIDE)
    assert eng.inspect_frame(_tcp(c, s, 4000, 80, 101, 901, "PA", b"EVIL"), A, S) == ("drop", shared.DropReason.RULE)
    fl = eng.flow_table
    assert fl.counters()["events"][EV.index("wrong_side")] == 2 and fl.counters()["events"][EV.index("verified")] == 1
    recs = eng.drain_alerts(policy_drops=True)
    assert [r["policy_reason"] for r in recs if r.get("policy_reason") is not None] == \
        [shared.DropReason.WRONG_SIDE] * 2


def test_engine_replay_trusts_addresses_and_ids_only_counts():
    eng = _engine()                       # replay / tests: no NIC check
    c, s = "198.18.0.1", "198.18.0.2"
    assert eng.inspect_frame(_tcp(c, s, 4000, 80, 100, 0, "S"), A, S) == ("pass", None)
    assert eng.inspect_frame(_tcp(s, c, 80, 4000, 900, 101, "SA"), A, S) == ("pass", None)
    ids = _engine(check_sides=True, ips=False)
    ids.inspect_frame(_tcp(c, s, 4000, 80, 100, 0, "S"), A, S)
    assert ids.inspect_frame(_tcp(s, c, 80, 4000, 900, 101, "SA"), A, S) == ("pass", None)
    assert ids.counters()["ids_would_drop"] == 1


def test_engine_share_refusal_has_its_own_reason():
    from xdpfw.dataplane import shared
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    eng = _engine(check_sides=True)
    for i in range(512):        # verified UDP conversations: the table is half full
        q = Ether() / IP(src=f"198.19.{i % 256}.{i // 256 + 1}", dst="198.18.0.2") / UDP(sport=5000, dport=53)
        r = Ether() / IP(src="198.18.0.2", dst=f"198.19.{i % 256}.{i // 256 + 1}") / UDP(sport=53, dport=5000)
        assert eng.inspect_frame(bytes(q), A, S) == eng.inspect_frame(bytes(r), B, S) == ("pass", None)
    got = [eng.inspect_frame(_tcp("198.18.0.7", "198.18.0.2", 1000 + i, 80, 1, 0, "S"), A, S) for i in range(40)]
    evicted = eng.counters()["flows"]["events"][EV.index("evicted_unverified")]
    assert got.count(("drop", shared.DropReason.FLOW_SOURCE_SHARE)) == 8 - evicted >= 6
    assert eng.counters()["no_flow"] == 8 - evicted


def test_kernel_rx_losses_are_drops_in_the_metrics():
    """Frames the kernel lost before a worker saw them (RX ring full, no fill buffer) are
    counted in xdpfw_dropped_packets_total, per device, beside the ring statistics."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from metrics_fake import FakeAppliance, registry

    app = FakeAppliance(xsk=[{"rx_ring_full": 7, "rx_dropped": 2}, {"rx_ring_full": 0, "rx_dropped": 5}],
                        drops={(0, "rule"): 3})
    reg = registry(app)
    get = reg.get_sample_value
    assert get("xdpfw_dropped_packets_total", {"device": "a0", "reason": "xsk_rx_ring_full"}) == 7
    assert get("xdpfw_dropped_packets_total", {"device": "a0", "reason": "xsk_rx_dropped"}) == 2
    assert get("xdpfw_dropped_packets_total", {"device": "b0", "reason": "xsk_rx_dropped"}) == 5
    assert get("xdpfw_dropped_packets_total", {"device": "b0", "reason": "xsk_rx_ring_full"}) == 0
    assert get("xdpfw_dropped_bytes_total", {"device": "a0", "reason": "xsk_rx_ring_full"}) == 0
    assert get("xdpfw_xsk_rx_ring_full_total", {"device": "a0"}) == 7
    assert get("xdpfw_dropped_packets_total", {"device": "a0", "reason": "rule"}) == 3
