"""IP-only drop rules, compiled into the XDP ACL, stop exactly the matching traffic."""
from __future__ import annotations

from xdpfw.tools.lab import ApplianceProcess, metric, ping, tcp_probe, tcp_transfer

RULES = """\
drop ip 198.18.0.66 any -> any any (msg:"blocked host"; sid:1; rev:1;)
drop tcp any any -> any 2323 (msg:"blocked port"; sid:2; rev:1;)
"""


def test_ip_only_drop_rules_in_the_kernel(lab, tmp_path):
    rules = tmp_path / "t.rules"
    rules.write_text(RULES)
    lab.add_address(lab.client, "198.18.0.66/24")
    with ApplianceProcess(lab, "--rules", str(rules)) as app:
        assert any("2 ACL entries" in line for line in app.output), app.output
        # the blocked host: nothing from it gets through, in any protocol
        assert ping(lab, lab.client.ns, lab.server.ip, count=3, source="198.18.0.66") == 0
        # the same client from its other address is untouched
        assert ping(lab, lab.client.ns, lab.server.ip, count=3) == 3
        # the blocked port: connection refused by silence; its neighbour connects
        assert not tcp_probe(lab, lab.client.ns, lab.server.ns, lab.server.ip, 2323)
        assert tcp_probe(lab, lab.client.ns, lab.server.ns, lab.server.ip, 2324)
        t = tcp_transfer(lab, lab.client.ns, lab.server.ns, lab.server.ip, 1 << 20, port=8080)
        assert t.ok, t.detail
        m = app.metrics()
        acl = metric(m, "xdpfw_dropped_packets_total", device=lab.side_a, reason="acl")
        assert acl == metric(m, "xdpfw_xdp_packets_total", device=lab.side_a, action="acl_drop")
        assert acl >= 3 + 1  # three pings, at least one SYN to 2323
        assert metric(m, "xdpfw_dropped_packets_total", device=lab.side_b, reason="acl") == 0
        assert metric(m, "xdpfw_acl_entries") == 2


def test_rule_the_data_path_cannot_enforce_is_refused_with_its_location(lab, tmp_path):
    """A drop rule that cannot be enforced exactly refuses the start, named file:line; the
    same rule as an alert is left out with a located warning and the rest runs."""
    rules = tmp_path / "bad.rules"
    rules.write_text('drop ip 198.18.0.66 any -> any any (sid:1;)\n'
                     'drop http any any -> any 80 (msg:"mixed"; content:"y"; http.uri; content:"/x"; sid:2;)\n')
    app = ApplianceProcess(lab, "--rules", str(rules))
    try:
        app.start(timeout=30)
        raise AssertionError("xdpfw run started with a drop rule it cannot enforce")
    except RuntimeError as e:
        assert f"{rules}:2" in str(e) and "sid:2" in str(e)
    assert app.proc.wait(5) == 1

    rules.write_text(rules.read_text().replace("drop http", "alert http"))
    with ApplianceProcess(lab, "--rules", str(rules)) as app:
        warned = [ln for ln in app.output if f"{rules}:2" in ln and "sid:2" in ln]
        assert warned, app.output
        assert ping(lab, lab.client.ns, lab.server.ip, count=2) == 2
