"""A reject rule inline: the sender's connection is reset at once, not left to time out."""
from __future__ import annotations

import time

from xdpfw.tools.lab import ApplianceProcess, tcp_transfer


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


def test_rejectboth_resets_both_ends_and_reject_on_udp_answers_icmp(lab, tmp_path):
    """rejectboth: the sender and the receiver both see their connection reset at once.
    reject on UDP: the sender gets an ICMP port unreachable (its socket reports it)."""
    rules = tmp_path / "r.rules"
    rules.write_text('rejectboth tcp any any -> any any (msg:"both"; content:"RESET-BOTH-ENDS"; sid:501;)\n'
                     'reject udp any any -> any 7200 (msg:"udp"; content:"NO-UDP-HERE"; sid:502;)\n')
    eve = tmp_path / "eve.json"
    with ApplianceProcess(lab, "--rules", str(rules), "--eve", str(eve)) as app:
        t = tcp_transfer(lab, lab.client.ns, lab.server.ns, lab.server.ip, 1 << 20, port=7110, timeout=10,
                         prefix="hello RESET-BOTH-ENDS")
        assert not t.ok
        assert "ConnectionResetError" in t.detail["sent"].get("error", ""), t.detail
        assert t.detail["received"].get("error") == "ConnectionResetError", t.detail
        assert t.detail["received"]["seconds"] < 3   # reset at once, not a timeout
        # a UDP "connected" socket learns the ICMP port unreachable on its next call
        code = ("import socket,sys\n"
                f"s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(2); s.connect(('{lab.server.ip}',7200))\n"
                "s.send(b'xx NO-UDP-HERE xx')\n"
                "try:\n    s.recv(100); print('no-error')\n"
                "except ConnectionRefusedError: print('refused')\n"
                "except socket.timeout: print('timeout')\n")
        from xdpfw.tools.netns import run_in
        import sys
        out = run_in(lab.client.ns, [sys.executable, "-c", code], check=False).stdout.strip()
        assert out == "refused", out
        time.sleep(0.5)
        m = app.metrics()
    text = eve.read_text()
    assert '"signature_id":501' in text and '"signature_id":502' in text
    # two resets (one per end) and one ICMP unreachable left the workers
    assert sum(v for (name, labels), v in m.items() if name == "xdpfw_replies_sent_total") >= 3
    assert sum(v for (name, labels), v in m.items() if name == "xdpfw_rejects_sent_total") >= 3
