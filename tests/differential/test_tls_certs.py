"""tls.certs against Suricata 7: the same capture and rules, the same alerts.

The public corpus holds no certificate that ET's tls.certs rules (431, nearly all the
Sliver/Havoc C2 family) look for, so this capture is made here: TLS 1.2 server flights
whose chains carry a certificate with the subject those rules describe (empty ST, L and
street, a four-digit postal code, no O, a CN, no e-mail), as leaf or as the second
certificate, with twins that differ where each rule's conditions do, the handshake
spread over TCP segments that cut the certificates. ET's own rule file runs on both
sides, plus rules that need the chain beyond the leaf and the instance boundaries.
"""
from __future__ import annotations

import datetime
import struct
from pathlib import Path

import pytest

from tests.differential import compare, oracle

ET_FILE = compare.ET_OPEN / "emerging-attack_response.rules"
SLIVER_SIDS = range(2037281, 2037300)


def _cert(subject, issuer_name, key, issuer_key, serial: int) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    t0 = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    c = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name)
         .public_key(key.public_key()).serial_number(serial)
         .not_valid_before(t0).not_valid_after(t0 + datetime.timedelta(days=365))
         .sign(issuer_key, hashes.SHA256()))
    return c.public_bytes(serialization.Encoding.DER)


def _names():
    from cryptography import x509
    from cryptography.x509.name import _ASN1Type
    from cryptography.x509.oid import NameOID as N

    def attr(oid, value, t=_ASN1Type.PrintableString):
        return x509.NameAttribute(oid, value, t)

    sliver = x509.Name([x509.RelativeDistinguishedName([a]) for a in (
        attr(N.COUNTRY_NAME, "US"), attr(N.STATE_OR_PROVINCE_NAME, ""), attr(N.LOCALITY_NAME, ""),
        attr(N.STREET_ADDRESS, ""), attr(N.POSTAL_CODE, "8431"), attr(N.COMMON_NAME, "localhost"))])
    # the twin has an organisation: the rules' negated content rules it out
    with_org = x509.Name([x509.RelativeDistinguishedName([a]) for a in (
        attr(N.COUNTRY_NAME, "US"), attr(N.STATE_OR_PROVINCE_NAME, ""), attr(N.LOCALITY_NAME, ""),
        attr(N.STREET_ADDRESS, ""), attr(N.POSTAL_CODE, "8431"), attr(N.ORGANIZATION_NAME, "Example"),
        attr(N.COMMON_NAME, "localhost"))])
    ca = x509.Name([attr(N.COUNTRY_NAME, "DE"), attr(N.ORGANIZATION_NAME, "Chain Test CA", _ASN1Type.UTF8String),
                    attr(N.COMMON_NAME, "chain-test-root", _ASN1Type.UTF8String)])
    return sliver, with_org, ca


def _tls_flights(chain: list[bytes]) -> tuple[bytes, bytes]:
    def rec(body: bytes) -> bytes:
        return struct.pack(">BHH", 22, 0x0303, len(body)) + body

    def hs(t: int, body: bytes) -> bytes:
        return bytes([t]) + len(body).to_bytes(3, "big") + body

    hello = hs(1, struct.pack(">H", 0x0303) + bytes(32) + b"\0" + b"\0\x02\xc0\x2f" + b"\x01\x00")
    sh = hs(2, struct.pack(">H", 0x0303) + bytes(32) + b"\0" + b"\xc0\x2f\x00")
    lst = b"".join(len(c).to_bytes(3, "big") + c for c in chain)
    cert = hs(11, len(lst).to_bytes(3, "big") + lst)
    return rec(hello), rec(sh + cert) + rec(hs(14, b""))


def _capture(path: Path, flows: list[list[bytes]]):
    from scapy.all import IP, TCP, Ether, wrpcap

    pkts = []
    for i, chain in enumerate(flows):
        cli, srv, sp = "10.7.0.2", f"203.0.113.{10 + i}", 41000 + i
        up, down = _tls_flights(chain)
        e = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        cs, ss = 1000, 5000

        def c(flags, data=b""):
            return e / IP(src=cli, dst=srv) / TCP(sport=sp, dport=443, flags=flags, seq=cs, ack=ss) / data

        def s(flags, data=b""):
            return e / IP(src=srv, dst=cli) / TCP(sport=443, dport=sp, flags=flags, seq=ss, ack=cs) / data

        pkts.append(e / IP(src=cli, dst=srv) / TCP(sport=sp, dport=443, flags="S", seq=cs - 1))
        pkts.append(e / IP(src=srv, dst=cli) / TCP(sport=443, dport=sp, flags="SA", seq=ss - 1, ack=cs))
        pkts.append(c("A"))
        pkts.append(c("PA", up))
        cs += len(up)
        pkts.append(s("A"))
        step = 97 + 31 * i                       # segments that cut the certificates anywhere
        for k in range(0, len(down), step):
            pkts.append(s("PA", down[k:k + step]))
            ss += len(down[k:k + step])
            pkts.append(c("A"))
        pkts.append(c("FA"))
        cs += 1
        pkts.append(s("FA"))
        ss += 1
        pkts.append(c("A"))
    t = 1_700_000_000.0
    for k, p in enumerate(pkts):
        p.time = t + k * 0.001
    wrpcap(str(path), pkts)


HAND_RULES = [
    # the chain beyond the leaf: the CA's own subject
    'alert tls any any -> any any (msg:"chain CA"; flow:established,to_client; tls.certs; '
    'content:"chain-test-root"; sid:9100001;)',
    # an instance begins at the certificate's first byte: the leaf and the CA alike
    'alert tls any any -> any any (msg:"cert start"; flow:established,to_client; tls.certs; '
    'content:"|30 82|"; startswith; content:"chain-test-root"; distance:0; sid:9100002;)',
    # instances are not joined: the leaf's end and the next certificate's start
    'alert tls any any -> any any (msg:"across"; flow:established,to_client; tls.certs; '
    'content:"localhost"; content:"chain-test-root"; distance:0; sid:9100003;)',
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from cryptography.hazmat.primitives.asymmetric import ec

    assert oracle.suricata_version().startswith("7."), "the oracle must be Suricata 7"
    d = tmp_path_factory.mktemp("tlscerts")
    sliver, with_org, ca = _names()
    ca_key, k1, k2 = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = _cert(ca, ca, ca_key, ca_key, 1)
    leaf = _cert(sliver, ca, k1, ca_key, 0x1234)
    twin = _cert(with_org, ca, k2, ca_key, 0x5678)
    self_signed = _cert(sliver, sliver, k1, k1, 99)
    flows = [[leaf, root], [twin, root], [root, self_signed], [self_signed], [twin]]
    pcap = d / "tls-certs.pcap"
    _capture(pcap, flows)
    hand = d / "hand.rules"
    hand.write_text("\n".join(HAND_RULES) + "\n")
    rules = [str(ET_FILE), str(hand)]
    x = compare.XdpfwSide(rules).build()
    mine, err = x.run(pcap)
    assert err is None, err
    with oracle.Suricata(rules, vars_=compare.oracle_vars()) as s:
        theirs = oracle.read_eve(s.run(pcap, d / "suricata"))
    return x, mine, theirs


def test_xdpfw_runs_the_tls_certs_rules(run):
    x, _, _ = run
    sliver = [sid for sid in SLIVER_SIDS if sid in x.runs]
    assert len(sliver) >= 10, sorted(x.refused.items())[:5]
    assert {9100001, 9100002, 9100003} <= x.runs


def test_same_alerts_as_suricata(run):
    x, mine, theirs = run
    key = lambda r: (r["alert"]["signature_id"], r["src_ip"], r["dest_ip"], r["dest_port"])
    sk = {key(r) for r in theirs if r["alert"]["signature_id"] in x.runs}
    xk = {key(r) for r in mine}
    assert sk == xk, f"suricata only {sorted(sk - xk)}, xdpfw only {sorted(xk - sk)}"
    sids = {k[0] for k in xk}
    # what the capture is built to show, on both sides: a Sliver-shaped certificate as the
    # leaf and as the chain's second one, never its twin with an organisation; the CA
    # beyond the leaf; no match across two certificates
    assert any(s in SLIVER_SIDS for s in sids), sorted(sk)
    hits = {(k[0], k[1]) for k in xk}
    assert not any(sid in SLIVER_SIDS and src in ("203.0.113.11", "203.0.113.14") for sid, src in hits)
    assert any(sid in SLIVER_SIDS and src == "203.0.113.12" for sid, src in hits)
    assert {9100001, 9100002} <= sids and 9100003 not in sids
