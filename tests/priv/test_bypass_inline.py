"""XDP flow bypass, live (issue 12): `xdpfw run` inline with
`app-layer.protocols.tls.encryption-handling: bypass`. A real TLS connection (Python's ssl
both ends, a certificate made here) settles once its application data starts; the worker
hands it to the XDP program, which forwards the bulk of its frames to the peer NIC with no
worker, and the transfer arrives intact. The same transfer with `default` is never
bypassed, and a plain TCP transfer beside it stays inspected: its attack is dropped."""
from __future__ import annotations

from xdpfw.tools.lab import ApplianceProcess, metric, tcp_transfer, tls_certificate

RULES = 'drop tcp any any -> any any (msg:"attack"; content:"ATTACK-BYPASS-9"; sid:1; rev:1;)\n'


def _xdp(m, action: str) -> float:
    return sum(v for (name, labels), v in m.items()
               if name == "xdpfw_xdp_packets_total" and ("action", action) in labels)


def _run(lab, tmp_path, mode: str, port: int):
    rules = tmp_path / "bypass.rules"
    rules.write_text(RULES)
    conf = tmp_path / f"{mode}.yaml"
    conf.write_text(f"app-layer:\n  protocols:\n    tls:\n      encryption-handling: {mode}\n")
    tls = tls_certificate(tmp_path)
    with ApplianceProcess(lab, "-c", str(conf), "--rules", str(rules)) as app:
        # the attack inside TLS is ciphertext on the wire: nothing to match
        res = tcp_transfer(lab, lab.client.ns, lab.server.ns, lab.server.ip, 4 << 20, port=port, timeout=30,
                           prefix="ATTACK-BYPASS-9", tls=tls)
        # a plain transfer beside it is inspected: its attack is dropped
        plain = tcp_transfer(lab, lab.client.ns, lab.server.ns, lab.server.ip, 64 << 10, port=port + 1,
                             timeout=5, prefix="ATTACK-BYPASS-9")
        m = app.metrics()
    return res, plain, m


def test_tls_flow_is_bypassed_in_xdp_and_arrives_intact(lab, tmp_path):
    res, plain, m = _run(lab, tmp_path, "bypass", 7443)
    assert res.ok and res.bytes == 4 << 20, res
    assert not plain.ok, plain
    assert metric(m, "xdpfw_bypass_offloaded_flows_total") == 1, m
    assert metric(m, "xdpfw_bypass_offload_failed_flows_total") == 0
    bypassed, to_worker = _xdp(m, "bypass"), _xdp(m, "to_worker")
    print(f"bypass: {bypassed:.0f} frames in XDP, {to_worker:.0f} to the workers")
    # 4 MiB is some 3,000 full frames one way and their ACKs the other: most skip the worker
    assert bypassed > 1000 and bypassed > 10 * to_worker, (bypassed, to_worker)


def test_tls_flow_is_not_bypassed_by_default(lab, tmp_path):
    res, plain, m = _run(lab, tmp_path, "default", 7543)
    assert res.ok, res
    assert not plain.ok, plain
    assert metric(m, "xdpfw_tls_encrypted_flows_total") == 1, m
    assert _xdp(m, "bypass") == 0
