"""A reject rule inline: the sender's connection is reset at once, not left to time out."""
from __future__ import annotations

import time

from xdpfw.control.lab import ApplianceProcess, tcp_transfer


def test_reject_resets_the_senders_connection(lab, tmp_path):
    rules = tmp_path / "r.rules"
    rules.write_text('reject tcp any any -> any any (msg:"reject me"; content:"REJECT-ME-NOW"; sid:500;)\n')
    eve = tmp_path / "eve.json"
    with ApplianceProcess(lab, "--rules", str(rules), "--eve", str(eve)) as app:
        t = tcp_transfer(lab, lab.client.ns, lab.server.ns, lab.server.ip, 1 << 20, port=7100, timeout=10,
                         prefix="hello REJECT-ME-NOW")
        assert not t.ok
        assert "ConnectionResetError" in t.detail["sent"].get("error", ""), t.detail
        assert t.detail["sent"]["seconds"] < 3  # the sender was reset, not left to time out
        ok = tcp_transfer(lab, lab.client.ns, lab.server.ns, lab.server.ip, 1 << 20, port=7101)
        assert ok.ok, ok.detail
        time.sleep(0.5)
        m = app.metrics()
    text = eve.read_text()
    assert '"signature_id":500' in text and '"action":"blocked"' in text
    assert any(v >= 1 for (name, labels), v in m.items()
               if name == "xdpfw_dropped_packets_total" and ("reason", "rule") in labels)
