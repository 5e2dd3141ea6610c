"""Rule variables: defaults, configuration shapes, recursion, cycles, errors."""
from __future__ import annotations

import ipaddress

import pytest
import yaml

from xdpfw.rules import RuleError, Variables, parse_rule
from xdpfw.rules.addresses import parse_addresses
from xdpfw.rules.errors import ExprError
from xdpfw.rules.ports import parse_ports
from xdpfw.rules.variables import DEFAULT_ADDRESS_GROUPS, DEFAULT_PORT_GROUPS

SURICATA_YAML = """
%YAML 1.1
---
vars:
  address-groups:
    HOME_NET: "[198.18.0.0/15]"
    EXTERNAL_NET: "!$HOME_NET"
    DNS_SERVERS: "[$HOME_NET, 192.0.2.53]"
  port-groups:
    HTTP_PORTS: "[80,8080:8081]"
    ORACLE_PORTS: 1521
    WEB_PORTS: [$HTTP_PORTS, 443]
"""


def test_default_groups_are_suricatas():
    assert DEFAULT_ADDRESS_GROUPS["HOME_NET"] == "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]"
    assert DEFAULT_ADDRESS_GROUPS["EXTERNAL_NET"] == "!$HOME_NET"
    assert DEFAULT_ADDRESS_GROUPS["AIM_SERVERS"] == "$EXTERNAL_NET"
    assert {"HTTP_SERVERS", "SMTP_SERVERS", "SQL_SERVERS", "DNS_SERVERS", "TELNET_SERVERS", "DC_SERVERS",
            "DNP3_SERVER", "DNP3_CLIENT", "MODBUS_CLIENT", "MODBUS_SERVER", "ENIP_CLIENT", "ENIP_SERVER"} \
        <= set(DEFAULT_ADDRESS_GROUPS)
    assert DEFAULT_PORT_GROUPS == {
        "HTTP_PORTS": "80", "SHELLCODE_PORTS": "!80", "ORACLE_PORTS": "1521", "SSH_PORTS": "22",
        "DNP3_PORTS": "20000", "MODBUS_PORTS": "502", "FILE_DATA_PORTS": "[$HTTP_PORTS,110,143]",
        "FTP_PORTS": "21", "GENEVE_PORTS": "6081", "VXLAN_PORTS": "4789", "TEREDO_PORTS": "3544"}
    v = Variables()
    aim = parse_addresses("$AIM_SERVERS", v)  # -> $EXTERNAL_NET -> !$HOME_NET, three levels
    assert aim.contains(ipaddress.ip_address("8.8.8.8")) and not aim.contains(ipaddress.ip_address("10.0.0.1"))


def test_suricata_yaml_document():
    v = Variables(yaml.safe_load(SURICATA_YAML))
    dns = parse_addresses("$DNS_SERVERS", v)
    assert dns.contains("198.19.255.1") and dns.contains("192.0.2.53") and not dns.contains("10.0.0.1")
    assert parse_ports("$HTTP_PORTS", v).ranges() == [(80, 80), (8080, 8081)]
    assert parse_ports("$ORACLE_PORTS", v).ranges() == [(1521, 1521)]
    assert parse_ports("$WEB_PORTS", v).ranges() == [(80, 80), (443, 443), (8080, 8081)]
    # groups not in the document keep Suricata's defaults
    assert parse_ports("$SSH_PORTS", v).ranges() == [(22, 22)]
    ext = parse_addresses("$EXTERNAL_NET", v)
    assert ext.contains("10.0.0.1") and not ext.contains("198.18.0.1")


def test_flat_config_and_position_kinds():
    v = Variables({"$MY_NET": "10.9.0.0/16", "MY_PORTS": "[1,2]", "HTTP_PORTS": "81"})
    assert parse_addresses("$MY_NET", v).contains("10.9.1.1")
    assert parse_ports("$MY_PORTS", v).ranges() == [(1, 2)]
    assert parse_ports("$HTTP_PORTS", v).ranges() == [(81, 81)]
    with pytest.raises(ExprError) as ei:
        parse_addresses("$HTTP_PORTS", v)
    assert ei.value.message == "unknown variable $HTTP_PORTS ($HTTP_PORTS is a port variable)"


def test_undefined_variable_errors_name_it():
    with pytest.raises(RuleError) as ei:
        parse_rule("alert tcp any any -> $NOPE any (sid:1;)")
    assert ei.value.message == "unknown variable $NOPE in destination address" and ei.value.col == 22
    v = Variables({"address-groups": {"A": "[1.2.3.4,$B]"}})
    with pytest.raises(RuleError) as ei:
        parse_rule("alert tcp $A any -> any any (sid:1;)", variables=v)
    assert ei.value.message == "unknown variable $B (used by $A) in source address"
    with pytest.raises(RuleError) as ei:
        parse_rule("alert tcp any $NOPORTS -> any any (sid:1;)")
    assert ei.value.message == "unknown variable $NOPORTS in source port"


def test_cycles_are_detected():
    v = Variables({"address-groups": {"A": "[1.2.3.4,$B]", "B": "!$C", "C": "$A"}})
    with pytest.raises(ExprError) as ei:
        parse_addresses("$A", v)
    assert ei.value.message == "variable cycle $A -> $B -> $C -> $A"
    with pytest.raises(ExprError) as ei:
        parse_ports("$P", Variables({"port-groups": {"P": "[80,$P]"}}))
    assert "variable cycle $P -> $P" in ei.value.message


def test_bad_variable_values():
    v = Variables({"address-groups": {"BAD": "[1.2.3.4", "EMPTY": "", "NEG": "!any"}})
    for name, msg in (("BAD", "missing ']' in the value of $BAD '[1.2.3.4'"), ("EMPTY", "variable $EMPTY is empty"),
                      ("NEG", "complete IPv4 space negated")):
        with pytest.raises(ExprError) as ei:
            parse_addresses(f"${name}", v)
        assert msg in ei.value.message, ei.value.message
    with pytest.raises(ExprError):
        Variables({"HOME_NET": None})
