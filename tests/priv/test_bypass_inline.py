"""XDP flow bypass, live (issue 12): `xdpfw run` inline with
`app-layer.protocols.tls.encryption-handling: bypass`. A real TLS connection (Python's ssl
both ends, a certificate made here) settles once its application data starts; the worker
hands it to the XDP program, which forwards the bulk of its frames to the peer NIC with no
worker, and the transfer arrives intact. The same transfer with `default` is never
bypassed, and a plain TCP transfer beside it stays inspected: its attack is dropped."""
from __future__ import annotations

import datetime
import json
import subprocess
import sys
import textwrap

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from xdpfw.tools.lab import ApplianceProcess, metric, tcp_transfer
from xdpfw.tools.netns import popen_in

RULES = 'drop tcp any any -> any any (msg:"attack"; content:"ATTACK-BYPASS-9"; sid:1; rev:1;)\n'

SERVER = textwrap.dedent("""\
    import hashlib, json, socket, ssl, struct, sys
    cert, key, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    with socket.create_server(("0.0.0.0", port)) as srv:
        srv.settimeout(30)
        print(json.dumps({"listening": port}), flush=True)
        conn, _ = srv.accept()
        conn.settimeout(30)
        with ctx.wrap_socket(conn, server_side=True) as c:
            head = b""
            while len(head) < 8:
                head += c.recv(8 - len(head))
            n, = struct.unpack(">Q", head)
            h, total = hashlib.sha256(), 0
            while total < n:
                b = c.recv(min(65536, n - total))
                if not b:
                    break
                h.update(b)
                total += len(b)
            c.sendall(h.hexdigest().encode())
        print(json.dumps({"bytes": total, "sha256": h.hexdigest()}), flush=True)
    """)

CLIENT = textwrap.dedent("""\
    import hashlib, json, socket, ssl, struct, sys
    host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    data = (b"ATTACK-BYPASS-9 " * 4096)[:65536]
    h = hashlib.sha256()
    with socket.create_connection((host, port), timeout=30) as s, ctx.wrap_socket(s) as c:
        c.sendall(struct.pack(">Q", n))
        sent = 0
        while sent < n:
            c.sendall(data)
            h.update(data)
            sent += len(data)
        echoed = b""
        while len(echoed) < 64:
            b = c.recv(64 - len(echoed))
            if not b:
                break
            echoed += b
    print(json.dumps({"sent": sent, "ok": echoed.decode() == h.hexdigest()}), flush=True)
    """)


def _cert(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bypass.test")])
    now = datetime.datetime(2025, 1, 1)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(7).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
            .sign(key, hashes.SHA256()))
    cp, kp = tmp_path / "c.pem", tmp_path / "k.pem"
    cp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    kp.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()))
    return cp, kp


def _tls_transfer(lab, tmp_path, port: int, nbytes: int) -> dict:
    cp, kp = _cert(tmp_path)
    srv_py, cli_py = tmp_path / "srv.py", tmp_path / "cli.py"
    srv_py.write_text(SERVER)
    cli_py.write_text(CLIENT)
    srv = popen_in(lab.server.ns, [sys.executable, str(srv_py), str(cp), str(kp), str(port)],
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert "listening" in srv.stdout.readline()
        cli = popen_in(lab.client.ns, [sys.executable, str(cli_py), lab.server.ip, str(port), str(nbytes)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out, _ = cli.communicate(timeout=60)
        res = json.loads(out.strip().splitlines()[-1])
        srv.wait(timeout=10)
        return res
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.wait()


def _xdp(m, action: str) -> float:
    return sum(v for (name, labels), v in m.items()
               if name == "xdpfw_xdp_packets_total" and ("action", action) in labels)


def _run(lab, tmp_path, mode: str, port: int):
    rules = tmp_path / "bypass.rules"
    rules.write_text(RULES)
    conf = tmp_path / f"{mode}.yaml"
    conf.write_text(f"app-layer:\n  protocols:\n    tls:\n      encryption-handling: {mode}\n")
    with ApplianceProcess(lab, "-c", str(conf), "--rules", str(rules)) as app:
        res = _tls_transfer(lab, tmp_path, port, 4 << 20)
        # a plain transfer beside it is inspected: its attack is dropped
        plain = tcp_transfer(lab, lab.client.ns, lab.server.ns, lab.server.ip, 64 << 10, port=port + 1,
                             timeout=5, prefix=b"ATTACK-BYPASS-9")
        m = app.metrics()
    return res, plain, m


def test_tls_flow_is_bypassed_in_xdp_and_arrives_intact(lab, tmp_path):
    res, plain, m = _run(lab, tmp_path, "bypass", 7443)
    assert res["ok"] and res["sent"] == 4 << 20, res
    assert not plain.ok, plain
    assert metric(m, "xdpfw_bypass_offloaded_flows_total") == 1, m
    assert metric(m, "xdpfw_bypass_offload_failed_flows_total") == 0
    bypassed = _xdp(m, "bypass")
    to_worker = _xdp(m, "to_worker")
    # 4 MiB is some 3,000 full frames one way and their ACKs the other: most skip the worker
    print(f"bypass: {bypassed:.0f} frames in XDP, {to_worker:.0f} to the workers")
    assert bypassed > 1000 and bypassed > to_worker, (bypassed, to_worker)


def test_tls_flow_is_not_bypassed_by_default(lab, tmp_path):
    res, plain, m = _run(lab, tmp_path, "default", 7543)
    assert res["ok"], res
    assert not plain.ok, plain
    assert metric(m, "xdpfw_tls_encrypted_flows_total") == 1, m
    assert _xdp(m, "bypass") == 0
