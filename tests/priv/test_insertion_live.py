"""Insertion, live: a segment really is lost past the appliance (a router whose TTL check
drops it), the attacker then sends other bytes at the same sequence numbers, and the host
never reads them (docs/EVASION.md, "Insertion").

    [client] c0 == a0 [fw: xdpfw] b0 == s0 [server ns: a router] r0 == f0 [far host]

The client's kernel owns the connection; the test injects two segments into it with raw
sockets: the benign copy with TTL 1 (the appliance inspects it, the router drops it), then
the attack with a normal TTL. Then the kernel sends the benign bytes itself, as its
retransmission would.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from xdpfw.dataplane.appliance import Appliance, ApplianceConfig
from xdpfw.detect.ruleset import build_detection
from xdpfw.rules import parse_rule
from xdpfw.tools.netns import call_in_netns, popen_in, run_in

FAR = "198.18.1.2"
PORT = 7101
BENIGN = b"xxGOODPAYLOADxx"
ATTACK = b"xxEVILPAYLOADxx"

FAR_SERVER = textwrap.dedent(f"""
    import socket, sys
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("{FAR}", {PORT}))
    s.listen(1)
    print("listening", flush=True)
    s.settimeout(20)
    c, _ = s.accept()
    c.settimeout(10)
    got = b""
    try:
        while True:
            b = c.recv(65536)
            if not b:
                break
            got += b
    except socket.timeout:
        pass
    print(got.hex(), flush=True)
""")

CLIENT = textwrap.dedent(f"""
    import json, socket, time
    from scapy.all import AsyncSniffer, IP, TCP, send, conf
    conf.verb = 0
    seen = []
    sn = AsyncSniffer(iface="c0", store=False, lfilter=lambda p: TCP in p and {PORT} in (p[TCP].sport, p[TCP].dport),
                      prn=lambda p: seen.append((p[IP].src, p[TCP].seq, p[TCP].ack, len(p[TCP].payload), str(p[TCP].flags))))
    sn.start()
    time.sleep(0.5)
    s = socket.socket()
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for _ in range(50):
        try:
            s.connect(("{FAR}", {PORT}))
            break
        except OSError:
            time.sleep(0.1)
            s.close(); s = socket.socket(); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(b"GET /")
    time.sleep(0.5)
    mine = [x for x in seen if x[0] != "{FAR}"]
    theirs = [x for x in seen if x[0] == "{FAR}"]
    nxt = mine[-1][1] + mine[-1][3]
    ack = max(x[1] + x[3] + (1 if "S" in x[4] else 0) for x in theirs)
    sport = s.getsockname()[1]
    seg = lambda ttl, data: IP(dst="{FAR}", ttl=ttl) / TCP(sport=sport, dport={PORT}, seq=nxt, ack=ack,
                                                        flags="PA", window=65535) / data
    send(seg(1, {BENIGN!r}))          # inspected by the appliance, dropped by the router
    time.sleep(0.2)
    send(seg(64, {ATTACK!r}))         # other bytes at the same sequence numbers
    time.sleep(0.3)
    s.sendall({BENIGN!r})              # the kernel's own copy of the benign bytes
    time.sleep(0.5)
    s.close()
    time.sleep(0.3)
    sn.stop()
    print(json.dumps({{"nxt": nxt, "ack": ack, "segments": len(seen)}}))
""")


def _icmp_time_exceeded(ns: str) -> int:
    lines = [ln.split() for ln in run_in(ns, ["cat", "/proc/net/snmp"]).stdout.splitlines() if ln.startswith("Icmp:")]
    return int(dict(zip(lines[0][1:], lines[1][1:]))["OutTimeExcds"])


def _router_behind_the_server_side(lab) -> str:
    """A far host one routed hop behind the server namespace; removed with the lab."""
    far = f"{lab.prefix}-far"
    run_in(None, ["ip", "netns", "add", far])
    lab.created.insert(0, far)                    # lab.destroy() removes it, whatever happens
    run_in(lab.server.ns, ["ip", "link", "add", "r0", "type", "veth", "peer", "name", "f0", "netns", far])
    run_in(lab.server.ns, ["ip", "addr", "add", "198.18.1.1/24", "dev", "r0"])
    run_in(lab.server.ns, ["ip", "link", "set", "r0", "up"])
    run_in(lab.server.ns, ["sysctl", "-qw", "net.ipv4.ip_forward=1"])
    run_in(far, ["ip", "addr", "add", f"{FAR}/24", "dev", "f0"])
    run_in(far, ["ip", "link", "set", "f0", "up"])
    run_in(far, ["ip", "link", "set", "lo", "up"])
    run_in(far, ["ip", "route", "add", "default", "via", "198.18.1.1"])
    run_in(lab.client.ns, ["ip", "route", "add", "198.18.1.0/24", "via", lab.server.ip])
    # the injected segments carry no TCP timestamps: let the connection have none
    run_in(lab.client.ns, ["sysctl", "-qw", "net.ipv4.tcp_timestamps=0"])
    return far


def test_segment_lost_past_the_appliance_cannot_be_replaced(lab):
    far = _router_behind_the_server_side(lab)
    det = build_detection([parse_rule('drop tcp any any -> any any (msg:"attack"; content:"EVILPAYLOAD"; '
                                      'sid:9000400;)')], kernel_acl=False)
    cfg = ApplianceConfig(lab.side_a, lab.side_b, engine_factory=det.engine_factory(flow_capacity=4096,
                                                                                  stream_pool=1024))
    app = call_in_netns(lab.fw_ns, lambda: (lambda a: (a.start(), a)[1])(Appliance(cfg)))
    server = None
    try:
        exceeded_before = _icmp_time_exceeded(lab.server.ns)
        server = popen_in(far, [sys.executable, "-c", FAR_SERVER], stdout=subprocess.PIPE, text=True)
        assert server.stdout.readline().strip() == "listening"
        client = run_in(lab.client.ns, [sys.executable, "-c", CLIENT], timeout=60)
        info = json.loads(client.stdout.strip().splitlines()[-1])
        got = bytes.fromhex(server.communicate(timeout=30)[0].split()[-1])
        # the premise: the TTL-1 copy really died past the appliance
        assert _icmp_time_exceeded(lab.server.ns) > exceeded_before, info
        # the host read the benign bytes, never the attack
        assert got == b"GET /" + BENIGN, (got, info)
        eng = app.engines()[0]
        tcp = eng.counters()["flows"]["tcp"]
        from xdpfw.service.metrics import TCP_RESULT_LABELS
        assert tcp[TCP_RESULT_LABELS.index("retransmit_conflict")] >= 1
        assert tcp[TCP_RESULT_LABELS.index("retransmit")] >= 1       # the kernel's benign copy
        assert eng.drain_alerts() == []       # EVILPAYLOAD never reached the engine as stream bytes
    finally:
        if server and server.poll() is None:
            server.kill()
            server.wait()
        call_in_netns(lab.fw_ns, app.stop)
    assert all(acc["consistent"] for acc in app.final_accounting)
