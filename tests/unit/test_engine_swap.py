"""Live rule-set swap in the engine: build aside, swap between batches, per-flow state that
indexes the old set is dropped, flow state is kept, alert records name the right rules."""
from __future__ import annotations

import pytest

from xdpfw.detect.ruleset import build_detection
from xdpfw.rules import parse_rule

from tests.unit.test_engine import CLI, SRV, PASS, RULE_DROP, Tcp, _udp


def det(*texts, previous=None):
    return build_detection([parse_rule(t) for t in texts], kernel_acl=False, previous=previous)


OLD = 'drop tcp any any -> any 80 (msg:"old"; content:"OLDBAD"; sid:1;)'
NEW = 'drop tcp any any -> any 80 (msg:"new"; content:"NEWBAD"; sid:2;)'


def test_staged_set_applies_only_at_the_swap_point_and_flows_survive():
    d1 = det(OLD)
    eng = d1.engine_factory(flow_capacity=256)()
    c = Tcp(eng)
    assert c.handshake() == [PASS] * 3
    assert c.c(b"hello NEW") == PASS
    gen = det(NEW).stage(eng)
    assert gen == 1 and eng.rules_generation == 0
    # not swapped yet: the old rule still decides
    assert Tcp(eng, sport=40100).handshake() == [PASS] * 3
    assert eng.rules_generation == 0
    eng.apply_staged()
    assert eng.rules_generation == 1
    assert [r.sid for r in eng.rules] == [2]
    # the TCP flow is still tracked (in-order continues), its stream starts afresh with
    # the new database: "NEW" before the swap and "BAD" after do not join
    assert c.c(b"BAD") == PASS
    assert c.c(b"OLDBAD") == PASS
    assert c.c(b"xxNEWBADxx") == RULE_DROP
    recs = eng.drain_alerts()
    assert [(r["gen"], r["rule"].sid) for r in recs] == [(1, 2)]


def test_alerts_queued_before_the_swap_still_name_the_old_rules():
    eng = det(OLD).engine_factory(flow_capacity=256)()
    c = Tcp(eng)
    c.handshake()
    assert c.c(b"OLDBAD") == RULE_DROP
    det(NEW).stage(eng)
    eng.apply_staged()
    recs = eng.drain_alerts()
    assert [(r["gen"], r["rule"].sid, r["rule"].msg) for r in recs] == [(0, 1, "old")]


def test_second_stage_while_pending_is_refused_and_finish_swap_times_out_without_worker():
    eng = det(OLD).engine_factory(flow_capacity=64)()
    det(NEW).stage(eng)
    with pytest.raises(RuntimeError, match="pending"):
        det(NEW).stage(eng)
    assert eng.finish_swap(timeout=0.05) is False  # nobody runs the worker loop
    eng.apply_staged()
    assert eng.finish_swap(timeout=0.05) is True
    det(OLD).stage(eng)  # after a completed swap a new one may be staged
    eng.apply_staged()
    assert eng.rules_generation == 2 and [r.sid for r in eng.rules] == [1]


def test_header_only_cache_and_thresholds_follow_the_new_set():
    eng = det('alert udp any any -> any 9 (msg:"a"; threshold:type limit, track by_src, count 1, seconds 60; sid:5;)'
              ).engine_factory(flow_capacity=64)()
    eng.inspect_frame(_udp(), 0, 1)
    eng.inspect_frame(_udp(), 0, 2)
    assert [r["rule"].sid for r in eng.drain_alerts()] == [5]  # limit 1
    det('alert udp any any -> any 9 (msg:"b"; threshold:type limit, track by_src, count 1, seconds 60; sid:6;)'
        ).stage(eng)
    eng.apply_staged()
    eng.inspect_frame(_udp(), 0, 3)  # same flow: its cached "header rules apply" is redone
    assert [r["rule"].sid for r in eng.drain_alerts()] == [6]
    det('alert udp any any -> any 7 (msg:"c"; sid:7;)').stage(eng)
    eng.apply_staged()
    eng.inspect_frame(_udp(), 0, 4)  # port 9: the new rule does not apply
    assert eng.drain_alerts() == []


def test_flowbit_numbers_are_kept_across_a_reload():
    setter = 'alert tcp any any -> any 80 (msg:"set"; content:"LOGIN"; flowbits:set,auth; flowbits:noalert; sid:10;)'
    other = 'alert tcp any any -> any 80 (msg:"x"; flowbits:isset,other; content:"zz"; sid:11;)'
    checker = 'alert tcp any any -> any 80 (msg:"chk"; content:"SECRET"; flowbits:isset,auth; sid:12;)'
    d1 = det(setter)
    eng = d1.engine_factory(flow_capacity=64)()
    c = Tcp(eng)
    c.handshake()
    c.c(b"LOGIN")
    # the new set names 'other' first: without the previous set, 'auth' would get bit 1
    d2 = det(other, checker, previous=d1)
    assert d2.tables.flowbit_ids["auth"] == d1.tables.flowbit_ids["auth"]
    d2.stage(eng)
    eng.apply_staged()
    c.c(b"SECRET")
    assert [r["rule"].sid for r in eng.drain_alerts()] == [12]
