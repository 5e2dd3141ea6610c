"""Rules -> kernel ACL compilation (no privileges: the tables are plain dicts)."""
from __future__ import annotations

import ipaddress

import pytest

from xdpfw.dataplane import shared
from xdpfw.detect.acl import compile_acl, fold_covering
from xdpfw.rules import parse_rule

N = ipaddress.ip_network
TCP, UDP, ICMP, ANY = shared.PROTO_TCP, shared.PROTO_UDP, shared.PROTO_ICMP, shared.PROTO_ANY


def rules(*texts):
    return [parse_rule(t) for t in texts]


def test_fold_covering_ors_shorter_prefixes():
    folded = fold_covering({N("10.0.0.0/8"): UDP, N("10.1.0.0/16"): TCP, N("10.1.2.3/32"): ICMP,
                            N("11.0.0.0/8"): TCP})
    assert folded[N("10.1.2.3/32")] == UDP | TCP | ICMP
    assert folded[N("10.1.0.0/16")] == UDP | TCP
    assert folded[N("11.0.0.0/8")] == TCP


def test_source_and_destination_lists():
    c = compile_acl(rules(
        'drop ip [198.18.7.0/24,2001:db8::/32] any -> any any (sid:1;)',
        'drop udp any any -> 198.19.0.66 any (sid:2;)'))
    assert len(c.in_kernel) == 2 and not c.rest
    assert c.tables.src == {N("198.18.7.0/24"): ANY, N("2001:db8::/32"): ANY}
    assert c.tables.dst == {N("198.19.0.66/32"): UDP}
    assert c.tables.flags() == (shared.ACL_SRC_V4 | shared.ACL_SRC_V6 | shared.ACL_DST_V4)


def test_ports_and_bidirectional():
    c = compile_acl(rules('drop tcp any any <> any [23,2323:2324] (sid:1;)'))
    assert c.tables.dport == {23: TCP, 2323: TCP, 2324: TCP}
    assert c.tables.sport == c.tables.dport


@pytest.mark.parametrize("text,why", [
    ('alert ip 1.2.3.4 any -> any any (sid:1;)', "not a drop"),
    ('drop ip any any -> any any (sid:1;)', "nothing constrained"),
    ('drop tcp 1.2.3.4 any -> any 22 (sid:1;)', "AND of two constraints"),
    ('drop ip !1.2.3.4 any -> any any (sid:1;)', "negated address"),
    ('drop tcp 1.2.3.4 any -> any any (content:"x"; sid:1;)', "payload option"),
    ('drop ip any any -> any 23 (sid:1;)', "ports on an ip rule"),
])
def test_left_to_the_engine(text, why):
    c = compile_acl(rules(text))
    assert c.in_kernel == [] and len(c.rest) == 1, why
    assert len(c.tables) == 0


def test_pass_rule_keeps_overlapping_drop_out_of_the_kernel():
    c = compile_acl(rules(
        'drop ip 198.18.7.0/24 any -> any any (sid:1;)',
        'pass tcp 198.18.7.5 any -> any 80 (sid:2;)',
        'drop ip 203.0.113.0/24 any -> any any (sid:3;)'))
    assert [r.sid for r in c.in_kernel] == [3]
    assert sorted(r.sid for r in c.rest) == [1, 2]


def test_disjoint_pass_rule_does_not_block_compilation():
    c = compile_acl(rules(
        'drop udp any any -> any 69 (sid:1;)',
        'pass tcp any any -> any 69 (sid:2;)'))
    assert [r.sid for r in c.in_kernel] == [1]
