"""The TLS decoder (xdpfw/_fast/app_tls.pyx) against hand-written expectations, its
pure-Python reference (xdpfw/ref/app_tls.py), independent computations (JA3 strings from
the field values a test builds, MD5 from hashlib, certificate names from the
`cryptography` package's parse of certificates it builds) and the shared captures.

Every input is fed whole, one byte at a time and split at every position: the instances
(xdpfw.ref.app_pieces.assemble, which checks the piece protocol) and the events must be
the same, and equal to the reference's.
"""
from __future__ import annotations

import datetime
import hashlib
import struct

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
import appcheck
from test_app_dns import SV, pcap_flows

from xdpfw._fast import app_tls
from xdpfw._fast.app_registry import AppDecoder, probe
from xdpfw.ref import app_tls as ref
from xdpfw.ref.app_pieces import assemble

TS, TC = 0, 1
GAP = 2
PROBE_NO, PROBE_YES, PROBE_MORE = 0, 1, 2


# ---- building TLS ------------------------------------------------------------------------

def record(rtype: int, body: bytes, version: int = 0x0303) -> bytes:
    return struct.pack(">BHH", rtype, version, len(body)) + body


def handshake(htype: int, body: bytes) -> bytes:
    return bytes([htype]) + len(body).to_bytes(3, "big") + body


def ext(etype: int, data: bytes = b"") -> bytes:
    return struct.pack(">HH", etype, len(data)) + data


def ext_sni(*names: bytes, name_type: int = 0) -> bytes:
    entries = b"".join(bytes([name_type]) + struct.pack(">H", len(n)) + n for n in names)
    return ext(0, struct.pack(">H", len(entries)) + entries)


def ext_groups(groups) -> bytes:
    return ext(10, struct.pack(">H", 2 * len(groups)) + b"".join(struct.pack(">H", g) for g in groups))


def ext_points(points) -> bytes:
    return ext(11, bytes([len(points)]) + bytes(points))


def client_hello(version=0x0303, ciphers=(0x1301, 0xC02F), exts: bytes | None = b"", sid=b"") -> bytes:
    body = (struct.pack(">H", version) + bytes(range(32)) + bytes([len(sid)]) + sid
            + struct.pack(">H", 2 * len(ciphers)) + b"".join(struct.pack(">H", c) for c in ciphers)
            + b"\x01\x00")
    if exts is not None:
        body += struct.pack(">H", len(exts)) + exts
    return handshake(1, body)


def server_hello(version=0x0303, cipher=0xC02F, exts: bytes | None = b"") -> bytes:
    body = struct.pack(">H", version) + bytes(32) + b"\x20" + bytes(32) + struct.pack(">H", cipher) + b"\0"
    if exts is not None:
        body += struct.pack(">H", len(exts)) + exts
    return handshake(2, body)


def certificate_msg(*ders: bytes) -> bytes:
    chain = b"".join(len(d).to_bytes(3, "big") + d for d in ders)
    return handshake(11, len(chain).to_bytes(3, "big") + chain)


SERVER_HELLO_DONE = handshake(14, b"")
CCS = record(20, b"\x01")


# ---- certificates (built and parsed by `cryptography`, independently) --------------------

_KEY = ec.generate_private_key(ec.SECP256R1())
SHORT = {NameOID.COMMON_NAME: "CN", NameOID.COUNTRY_NAME: "C", NameOID.LOCALITY_NAME: "L",
         NameOID.STATE_OR_PROVINCE_NAME: "ST", NameOID.ORGANIZATION_NAME: "O",
         NameOID.ORGANIZATIONAL_UNIT_NAME: "OU", NameOID.DOMAIN_COMPONENT: "DC",
         NameOID.EMAIL_ADDRESS: "Email"}


def make_cert(subject: x509.Name, issuer: x509.Name, serial: int) -> bytes:
    now = datetime.datetime(2024, 1, 1)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
            .public_key(_KEY.public_key()).serial_number(serial)
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=30))
            .sign(_KEY, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER)


def expected_name(name: x509.Name) -> bytes:
    """Suricata's form from cryptography's parse: RDNs in order, ', ' and ' + '."""
    return ", ".join(" + ".join(f"{SHORT.get(a.oid, a.oid.dotted_string)}={a.value}" for a in rdn)
                     for rdn in name.rdns).encode()


def expected_serial(der: bytes) -> bytes:
    n = x509.load_der_x509_certificate(der).serial_number
    content = n.to_bytes(n.bit_length() // 8 + 1, "big")  # DER INTEGER: a sign bit kept clear
    return ":".join(f"{b:02X}" for b in content).encode()


def name(*attrs) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attrs])


SUBJECT = name((NameOID.COUNTRY_NAME, "US"), (NameOID.STATE_OR_PROVINCE_NAME, "California"),
               (NameOID.LOCALITY_NAME, "Mountain View"), (NameOID.ORGANIZATION_NAME, "Google LLC"),
               (NameOID.COMMON_NAME, "*.google.com"))
ISSUER = name((NameOID.COUNTRY_NAME, "US"), (NameOID.ORGANIZATION_NAME, "Google Trust Services LLC"),
              (NameOID.COMMON_NAME, "GTS CA 1C3"))
LEAF = make_cert(SUBJECT, ISSUER, 0x00E7F9B6DEA65793E2446A3B95C6B3ECDF)
CA = make_cert(ISSUER, ISSUER, 7)


# ---- running the decoder -----------------------------------------------------------------

def run(direction: int, chunks, end: bool = True, flags: int = 0):
    inst, events = appcheck.decode("tls", [(direction, c) for c in chunks], flags, ends=(direction,) if end else ())
    return inst[direction], events[direction]


def check(direction: int, data: bytes, *, every_split: bool = True):
    """Whole, byte by byte and (optionally) split at every position: identical, and equal
    to the reference (appcheck.check)."""
    inst, events = appcheck.check("tls", [(direction, data)], splits="all" if every_split else "none")
    return inst[direction], events[direction]


def buffers(result) -> dict[str, list[bytes]]:
    out: dict[str, list[bytes]] = {}
    for buf, value in result[0]:
        out.setdefault(buf, []).append(value)
    return out


# ---- MD5 and state ---------------------------------------------------------------------

RFC1321 = [(b"", "d41d8cd98f00b204e9800998ecf8427e"), (b"a", "0cc175b9c0f1b6a831c399e269772661"),
           (b"abc", "900150983cd24fb0d6963f7d28e17f72"),
           (b"message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
           (b"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"),
           (b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
            "d174ab98d277d9f5a5611c2c9f419d9f"),
           (b"1234567890" * 8, "57edf4a22be3c955ac49da2e2107b67a")]


@pytest.mark.parametrize("data,digest", RFC1321)
def test_md5_rfc1321_vectors(data, digest):
    for split in (0, 1, 3, 63, 64, 65):
        assert app_tls.md5_hex(data, split) == digest


@given(st.binary(max_size=300), st.integers(0, 70))
def test_md5_matches_hashlib(data, split):
    assert app_tls.md5_hex(data, split) == hashlib.md5(data).hexdigest()


def test_state_sizes_and_event_table():
    # stated in xdpfw_app_tls.h and docs/APP_TLS_DNS.md
    assert (app_tls.DIR_SIZE, app_tls.CH_SIZE, app_tls.SH_SIZE, app_tls.CERT_SIZE) == (20, 200, 108, 80)
    assert app_tls.STATE_SIZE == 348
    assert list(app_tls.EVENTS) == ref.EVENTS
    assert len(set(ref.EVENTS)) == len(ref.EVENTS) and all(e.startswith("tls.") for e in ref.EVENTS)


# ---- ClientHello: SNI and JA3 -------------------------------------------------------------

def test_ja3_public_test_vector():
    # the example of Salesforce's JA3 README: this string hashes to ada70206...
    ciphers = [47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4]
    exts = ext_sni(b"example.com") + ext_groups([23, 24, 25]) + ext_points([0])
    got = check(TS, record(22, client_hello(769, ciphers, exts), 0x0301))
    assert got == ([("tls.sni", b"example.com"),
                    ("ja3.string", b"769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0"),
                    ("ja3.hash", b"ada70206e40642a3e4461f35503241d5")], [])


def test_ja3_drops_grease_and_keeps_extension_order():
    ciphers = [0x3A3A, 4865, 4866, 49195, 0xFAFA]
    exts = (ext(0x0A0A) + ext_sni(b"grease.example") + ext(23) + ext(65281, b"\0")
            + ext_groups([0x2A2A, 29, 23]) + ext_points([0]) + ext(35) + ext(16, b"\0\x0c\x02h2\x08http/1.1")
            + ext(0x1A1A, b"\0") + ext(21, bytes(40)))
    ext_types = [0x0A0A, 0, 23, 65281, 10, 11, 35, 16, 0x1A1A, 21]
    want = ref.ja3_string(771, ciphers, ext_types, [0x2A2A, 29, 23], [0])
    assert want == "771,4865-4866-49195,0-23-65281-10-11-35-16-21,29-23,0"
    b = buffers(check(TS, record(22, client_hello(771, ciphers, exts), 0x0301)))
    assert b == {"tls.sni": [b"grease.example"], "ja3.string": [want.encode()],
                 "ja3.hash": [hashlib.md5(want.encode()).hexdigest().encode()]}


def test_ja3_without_extensions_and_without_groups():
    b = buffers(check(TS, record(22, client_hello(0x0301, [5, 4], exts=None))))
    assert b["ja3.string"] == [b"769,5-4,,,"]
    assert "tls.sni" not in b
    b = buffers(check(TS, record(22, client_hello(0x0303, [0xC02F], ext(23)))))
    assert b["ja3.string"] == [b"771,49199,23,,"]


def test_client_hello_spanning_records_and_records_holding_two_messages():
    msg = client_hello(exts=ext_sni(b"split.example.org") + ext_groups([29]))
    records = b"".join(record(22, msg[i:i + 17]) for i in range(0, len(msg), 17))
    b = buffers(check(TS, records))
    assert b["tls.sni"] == [b"split.example.org"] and len(b["ja3.hash"]) == 1
    # a record with a ClientHello and the start of a second message (HelloRetryRequest flow)
    two = client_hello(exts=ext_sni(b"one.example")) + client_hello(exts=ext_sni(b"two.example"))
    b = buffers(check(TS, record(22, two[:len(two) - 10]) + record(22, two[len(two) - 10:])))
    assert b["tls.sni"] == [b"one.example", b"two.example"] and len(b["ja3.string"]) == 2


def test_sni_events():
    def sni_of(exts):
        return check(TS, record(22, client_hello(exts=exts)))
    got = sni_of(ext_sni(b"first.example") + ext_sni(b"second.example"))
    assert buffers(got)["tls.sni"] == [b"first.example"] and got[1] == ["tls.multiple_sni_extensions"]
    got = sni_of(ext_sni(b"x.example", name_type=1))
    assert "tls.sni" not in buffers(got) and got[1] == ["tls.invalid_sni_type"]
    got = sni_of(ext_sni(b"a" * 256))
    assert "tls.sni" not in buffers(got) and got[1] == ["tls.invalid_sni_length"]
    assert buffers(sni_of(ext_sni(b"a" * 255)))["tls.sni"] == [b"a" * 255]
    got = sni_of(ext_sni(b""))
    assert "tls.sni" not in buffers(got) and got[1] == ["tls.invalid_sni_length"]
    got = sni_of(ext(0, b"\x00\x09\x00\x00\x05abcde"))  # list longer than the extension
    assert got[1] == ["tls.invalid_sni_length"]
    got = sni_of(ext(0, b""))  # an empty server_name extension (a server's acknowledgement)
    assert got[1] == ["tls.invalid_sni_length"]
    # only the first host_name of the list
    got = sni_of(ext_sni(b"one.example", b"two.example"))
    assert buffers(got)["tls.sni"] == [b"one.example"] and got[1] == []


def test_ja3_caps():
    groups = list(range(1, 41))
    got = check(TS, record(22, client_hello(exts=ext_groups(groups))))
    assert got[1] == ["tls.ja3_truncated"]
    assert buffers(got)["ja3.string"][0].endswith(("," + "-".join(map(str, groups[:32])) + ",").encode())


def test_handshake_invalid_length_ends_the_instances_without_a_hash():
    msg = bytearray(client_hello(ciphers=[1, 2, 3], exts=ext_sni(b"cut.example")))
    msg[4 + 35:4 + 37] = struct.pack(">H", 400)  # cipher list past the message
    got = check(TS, record(22, bytes(msg)))
    assert got == ([("ja3.string", b"771,")], ["tls.handshake_invalid_length"])
    # an extension longer than the extension block
    exts = ext_sni(b"ok.example") + struct.pack(">HH", 23, 50)
    msg = client_hello(exts=exts)
    got = check(TS, record(22, msg))
    assert got[1] == ["tls.handshake_invalid_length"]
    assert [b for b, _ in got[0]] == ["tls.sni", "ja3.string"]
    # a message that ends inside a field
    got = check(TS, record(22, handshake(1, b"\x03\x03" + bytes(20))))
    assert got == ([("ja3.string", b"771,")], ["tls.handshake_invalid_length"])


# ---- ServerHello and Certificate -------------------------------------------------------

def test_server_hello_ja3s():
    exts = ext(65281, b"\0") + ext(0) + ext(11, b"\x01\x00") + ext(35)
    got = check(TC, record(22, server_hello(0x0303, 0xC02F, exts)))
    want = b"771,49199,65281-0-11-35"
    assert got == ([("ja3s.string", want), ("ja3s.hash", hashlib.md5(want).hexdigest().encode())], [])
    got = check(TC, record(22, server_hello(0x0301, 5, exts=None)))
    assert buffers(got)["ja3s.string"] == [b"769,5,"]


def test_tls13_server_flight_gives_ja3s_only():
    sh = server_hello(0x0303, 0x1301, ext(43, b"\x03\x04") + ext(51, b"\0\x1d\0\x20" + bytes(32)))
    flight = record(22, sh) + CCS + record(23, bytes(300)) + record(23, bytes(50))
    got = check(TC, flight)
    assert [b for b, _ in got[0]] == ["ja3s.string", "ja3s.hash"] and got[1] == []
    assert buffers(got)["ja3s.string"] == [b"771,4865,43-51"]


def test_certificate_subject_issuer_serial():
    flight = record(22, server_hello() + certificate_msg(LEAF, CA) + SERVER_HELLO_DONE)
    b = buffers(check(TC, flight))
    assert b["tls.cert_subject"] == [expected_name(SUBJECT)]
    assert b["tls.cert_subject"] == [b"C=US, ST=California, L=Mountain View, O=Google LLC, CN=*.google.com"]
    assert b["tls.cert_issuer"] == [b"C=US, O=Google Trust Services LLC, CN=GTS CA 1C3"]
    assert b["tls.cert_serial"] == [expected_serial(LEAF)]
    assert b["tls.cert_serial"] == [b"00:E7:F9:B6:DE:A6:57:93:E2:44:6A:3B:95:C6:B3:EC:DF"]
    assert b["tls.certs"] == [LEAF, CA]                    # the chain, DER, leaf first
    # the certificate message across several records, split everywhere
    msg = certificate_msg(LEAF)
    records = b"".join(record(22, msg[i:i + 100]) for i in range(0, len(msg), 100))
    assert buffers(check(TC, records)) == {**{k: b[k] for k in ("tls.cert_serial", "tls.cert_issuer",
                                                               "tls.cert_subject")}, "tls.certs": [LEAF]}


def test_certificate_chain_instances():
    """tls.certs: one instance per certificate of the list, the DER bytes as they are,
    whether or not the leaf's DER walk can follow them; leaf instances complete first."""
    got = check(TC, record(22, certificate_msg(LEAF, CA, LEAF)))
    names = [b for b, _ in got[0]]
    assert names == ["tls.cert_serial", "tls.cert_issuer", "tls.cert_subject"] + ["tls.certs"] * 3
    assert buffers(got)["tls.certs"] == [LEAF, CA, LEAF] and got[1] == []
    # a leaf the DER walk cannot follow is still a tls.certs instance (its event is the walk's)
    junk = b"\x04\x03abc" + bytes(40)
    got = check(TC, record(22, certificate_msg(junk, CA)))
    assert buffers(got)["tls.certs"] == [junk, CA] and got[1] == ["tls.invalid_certificate"]
    # an empty certificate in the list gives no instance; the next ones still do
    got = check(TC, record(22, certificate_msg(LEAF, b"", CA)))
    assert buffers(got)["tls.certs"] == [LEAF, CA]
    # a later certificate's length past the list: the chain's event, what came before stays
    chain = len(LEAF).to_bytes(3, "big") + LEAF + (len(CA) + 9).to_bytes(3, "big") + CA
    msg = handshake(11, len(chain).to_bytes(3, "big") + chain)
    got = check(TC, record(22, msg))
    assert buffers(got)["tls.certs"] == [LEAF] and got[1] == ["tls.handshake_invalid_length"]
    # the message cut by another record type: the open instance ends as it is
    msg = certificate_msg(LEAF, CA)
    cut = len(msg) - 50
    got = check(TC, record(22, msg[:cut]) + record(21, b"\x02\x28"))
    assert buffers(got)["tls.certs"] == [LEAF, CA[:len(CA) - 50]]
    assert "tls.invalid_handshake_message" in got[1]
    # to the server a Certificate message is not parsed (as the leaf's buffers)
    assert check(TS, record(22, certificate_msg(LEAF))) == ([], [])


def test_certificate_name_forms():
    subject = x509.Name([
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.DOMAIN_COMPONENT, "com")]),
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Ops"),
                                        x509.NameAttribute(NameOID.COMMON_NAME, "multi")]),
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.EMAIL_ADDRESS, "a@b.example")]),
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.SERIAL_NUMBER, "1234")]),
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME, "ünïcode")]),
    ])
    der = make_cert(subject, name(), 1)
    b = buffers(check(TC, record(22, certificate_msg(der))))
    got = b["tls.cert_subject"][0]
    # the decoder follows the certificate's bytes; cryptography encodes a multi-valued
    # RDN sorted as DER's SET OF requires (OU's shorter encoding first) but does not
    # iterate its parse in that order, so RDNs are compared as sets of attributes
    want = expected_name(x509.load_der_x509_certificate(der).subject)
    assert [set(r.split(b" + ")) for r in got.split(b", ")] == [set(r.split(b" + ")) for r in want.split(b", ")]
    assert got.startswith(b"DC=com, OU=Ops + CN=multi, Email=a@b.example, ")
    assert b"2.5.4.5=1234" in got and "CN=ünïcode".encode() in got
    assert b["tls.cert_issuer"] == [b""]  # an empty name is an empty instance
    assert b["tls.cert_serial"] == [b"01"]


def der(tag: int, content: bytes) -> bytes:
    n = len(content)
    length = bytes([n]) if n < 0x80 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes(
        (n.bit_length() + 7) // 8, "big")
    return bytes([tag]) + length + content


def hand_cert(issuer: bytes, subject: bytes, serial: bytes = b"\x05", version: bool = True) -> bytes:
    """A certificate's structure down to the subject (what the decoder walks)."""
    tbs = ((der(0xA0, der(0x02, b"\x02")) if version else b"") + der(0x02, serial) + der(0x30, der(0x06, b"\x2a\x03"))
           + issuer + der(0x30, b"") + subject + der(0x30, b"spki"))
    return der(0x30, der(0x30, tbs) + der(0x30, b"alg") + der(0x03, b"\0sig"))


def atv(oid: bytes, tag: int, value: bytes) -> bytes:
    return der(0x30, der(0x06, oid) + der(tag, value))


def test_certificate_hand_built_forms_and_events():
    cn = atv(b"\x55\x04\x03", 0x0C, b"host")
    nm = der(0x30, der(0x31, cn))
    # v1 certificate (no version), a non-string value as hex, an unknown and a long OID
    odd = der(0x30, der(0x31, atv(b"\x2b\x06\x01\x04\x01\x82\x37\x3c\x02\x01\x03", 0x13, b"US"))
              + der(0x31, atv(b"\x55\x04\x2d", 0x03, b"\x00\xab"))
              + der(0x31, atv(b"\x2b" + b"\x81" * 30 + b"\x01", 0x0C, b"x")))
    got = check(TC, record(22, certificate_msg(hand_cert(nm, odd, b"\x7f\x00", version=False))))
    b = buffers(got)
    assert b["tls.cert_serial"] == [b"7F:00"] and b["tls.cert_issuer"] == [b"CN=host"]
    assert b["tls.cert_subject"] == [b"1.3.6.1.4.1.311.60.2.1.3=US, 2.5.4.45=00AB, UNKNOWN=x"]
    assert got[1] == ["tls.certificate_unknown_element"]
    # a wrong tag where the issuer should be
    wrong = hand_cert(der(0x31, b""), nm)
    got = check(TC, record(22, certificate_msg(wrong)))
    assert buffers(got) == {"tls.cert_serial": [b"05"], "tls.certs": [wrong]}
    assert got[1] == ["tls.invalid_certificate"]
    # a length past its parent
    bad = bytearray(hand_cert(nm, nm))
    i = bad.index(b"\x55\x04\x03") + 3
    bad[i + 1] = 0x7F  # the issuer CN's value length
    got = check(TC, record(22, certificate_msg(bytes(bad))))
    assert got[1] == ["tls.certificate_invalid_length"]
    assert buffers(got)["tls.cert_issuer"] == [b"CN="]
    # indefinite length
    got = check(TC, record(22, certificate_msg(b"\x30\x80" + bytes(10))))
    assert got == ([("tls.certs", b"\x30\x80" + bytes(10))], ["tls.certificate_invalid_length"])
    # a TBS that ends before the subject
    short = der(0x30, der(0x30, der(0x02, b"\x01") + der(0x30, b"") + nm) + der(0x30, b""))
    got = check(TC, record(22, certificate_msg(short)))
    assert buffers(got) == {"tls.cert_serial": [b"01"], "tls.cert_issuer": [b"CN=host"], "tls.certs": [short]}
    assert got[1] == ["tls.certificate_missing_element"]
    # an empty certificate list is not an error; an empty certificate is
    assert check(TC, record(22, handshake(11, b"\0\0\0"))) == ([], [])
    assert check(TC, record(22, handshake(11, b"\0\0\3\0\0\0"))) == ([], ["tls.invalid_certificate"])
    # a certificate list too short to hold the leaf's length field
    assert check(TC, record(22, handshake(11, b"\0\0\1\0\0\x10" + bytes(16)))) == (
        [], ["tls.handshake_invalid_length"])
    # client certificates are not parsed
    assert check(TS, record(22, certificate_msg(LEAF))) == ([], [])


# ---- records, encryption, events --------------------------------------------------------

def test_nothing_is_parsed_after_change_cipher_spec():
    hello = record(22, client_hello(exts=ext_sni(b"before.example")))
    late = record(22, client_hello(exts=ext_sni(b"after.example")))
    got = check(TS, hello + CCS + late + record(23, bytes(40)) + late)
    assert buffers(got)["tls.sni"] == [b"before.example"] and got[1] == []
    got = check(TS, record(23, b"early") + hello)
    assert got == ([], [])


def test_record_header_events_give_up_the_direction():
    hello = record(22, client_hello(exts=ext_sni(b"x.example")))
    for bad, event in [(b"\x19\x03\x03\x00\x01\x00", "tls.invalid_record_type"),
                       (b"\x16\x03\x05\x00\x01\x00", "tls.invalid_record_version"),
                       (b"\x16\x02\x00\x00\x01\x00", "tls.invalid_record_version"),
                       (b"\x17\x03\x03\x48\x01", "tls.record_too_long")]:
        assert check(TS, bad + hello) == ([], [event])
    assert check(TS, b"\x17\x03\x03\x48\x00" + bytes(0x4800) + hello)[1] == []


def test_record_and_handshake_events():
    hello = client_hello(exts=ext_sni(b"h.example"))
    got = check(TS, record(22, b"") + record(22, hello))
    assert got[1] == ["tls.invalid_record_length"] and buffers(got)["tls.sni"] == [b"h.example"]
    got = check(TS, record(24, b"\x01\x40\x00") + record(22, hello))
    assert got[1] == ["tls.heartbeat_message"] and buffers(got)["tls.sni"] == [b"h.example"]
    # a ClientHello sent to the client, an unknown handshake type
    assert check(TC, record(22, hello))[1] == ["tls.invalid_handshake_message"]
    assert check(TS, record(22, handshake(99, b"xyz") + hello))[1] == ["tls.invalid_handshake_message"]
    # a message cut by another record type: its instances end as they are
    cut = len(hello) - 4  # inside the SNI, the last extension
    got = check(TS, record(22, hello[:cut]) + record(21, b"\x02\x28") + record(22, hello))
    assert got[1] == ["tls.invalid_handshake_message"]
    assert got[0][:2] == [("tls.sni", b"h.exa"), ("ja3.string", b"771,4865-49199,0")]
    assert [b for b, _ in got[0][2:]] == ["tls.sni", "ja3.string", "ja3.hash"]


def test_direction_ending_inside_a_handshake_message():
    data = record(22, client_hello(exts=ext_sni(b"truncated.example.net")))
    for end in range(1, len(data)):
        got = run(TS, [data[:end]])
        assert got == tuple(list(x) for x in ref.decode_stream(TS, data[:end])), end
        assert got[1] == (["tls.truncated"] if end > 5 else [])
    got = run(TS, [data[:-3]])
    assert got[0][0] == ("tls.sni", b"truncated.example.")


def test_gap_gives_up_the_direction():
    d = AppDecoder("tls")
    data = record(22, client_hello(exts=ext_sni(b"gap.example")))
    p1, e1 = d.feed(TS, data[:60])
    p2, e2 = d.feed(TS, data[70:], GAP)
    p3, e3 = d.feed(TS, data)
    p4, e4 = d.end(TS)
    assert assemble(p1 + p2 + p3 + p4) == [("ja3.string", b"771,4865-49199,0")]  # up to the SNI type
    assert e1 + e2 + e3 + e4 == ["tls.gap"]
    assert buffers((assemble(d.feed(TC, record(22, server_hello()))[0]), []))["ja3s.string"] == [b"771,49199,"]


def test_sslv2_compatible_client_hello():
    v2 = bytes([0x80, 0x2E, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10]) + bytes(21) + bytes(16)
    assert len(v2) == 2 + 0x2E
    hello = record(22, client_hello(exts=ext_sni(b"after.v2.example")))
    got = check(TS, v2 + hello)
    assert buffers(got)["tls.sni"] == [b"after.v2.example"] and got[1] == []
    assert check(TS, bytes([0x80, 0x05, 0x04]) + bytes(4)) == ([], ["tls.invalid_sslv2_header"])
    # only as the first record of the client
    assert check(TS, hello + v2)[1] == ["tls.invalid_record_type"]
    assert check(TC, v2) == ([], ["tls.invalid_record_type"])


def test_probe():
    hello = record(22, client_hello(), 0x0301)
    assert probe("tls", hello, TS) == PROBE_YES
    assert probe("tls", record(22, server_hello()), TC) == PROBE_YES
    assert probe("tls", record(23, b"x"), TC) == PROBE_YES  # either side, any of 20-23
    for i in range(5):
        assert probe("tls", hello[:i], TS) == PROBE_MORE
    assert probe("tls", hello, TS, 1) == PROBE_NO  # a datagram: DTLS is not decoded
    assert probe("tls", b"\x18\x03\x03\x00\x03abc", TS) == PROBE_NO  # heartbeat first
    assert probe("tls", b"\x16\x03\x05\x00\x10", TS) == PROBE_NO
    assert probe("tls", b"\x16\x02", TS) == PROBE_NO
    assert probe("tls", b"\x16\x03\x01\x00\x00", TS) == PROBE_NO
    assert probe("tls", b"\x16\x03\x01\x48\x01", TS) == PROBE_NO
    assert probe("tls", b"GET / HTTP/1.1\r\n", TS) == PROBE_NO
    v2 = bytes([0x80, 0x2E, 0x01, 0x03, 0x01])
    assert probe("tls", v2, TS) == PROBE_YES and probe("tls", v2, TC) == PROBE_NO
    assert probe("tls", v2[:4], TS) == PROBE_MORE
    assert probe("tls", bytes([0x80, 0x2E, 0x01, 0x00, 0x02]), TS) == PROBE_YES  # SSL 2.0
    assert probe("tls", bytes([0x80, 0x2E, 0x02, 0x03, 0x01]), TS) == PROBE_NO


# ---- random input ------------------------------------------------------------------------

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
SEEDS_TS = [record(22, client_hello(exts=ext_sni(b"r.example") + ext_groups([29, 23]) + ext_points([0]))),
            record(22, client_hello(exts=None)) + CCS + record(23, b"abc")]
SEEDS_TC = [record(22, server_hello(exts=ext(43, b"\x03\x04")) + certificate_msg(hand_cert(
    der(0x30, der(0x31, atv(b"\x55\x04\x03", 0x0C, b"i")) + der(0x31, atv(b"\x2a\x83", 0x02, b"\x01"))),
    der(0x30, der(0x31, atv(b"\x55\x04\x06", 0x13, b"s"))))) + SERVER_HELLO_DONE)]


@st.composite
def mutated(draw, seeds):
    m = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 5))):
        i = draw(st.integers(0, len(m) - 1))
        m[i] = draw(st.sampled_from([0, 1, 2, 3, 0x16, 0x30, 0x80, 0xff, (m[i] + 1) & 0xff, (m[i] - 1) & 0xff]))
    if draw(st.booleans()):
        m = m[:draw(st.integers(0, len(m)))]
    return bytes(m)


@settings(max_examples=300, **SETTINGS)
@given(st.one_of(st.tuples(st.just(TS), st.one_of(mutated(SEEDS_TS), st.binary(max_size=60))),
                 st.tuples(st.just(TC), st.one_of(mutated(SEEDS_TC), st.binary(max_size=60)))), st.data())
def test_random_streams_match_the_reference_and_any_segmentation(case, draw):
    direction, data = case
    whole = run(direction, [data])
    assert whole == tuple(list(x) for x in ref.decode_stream(direction, data))
    cuts = sorted(draw.draw(st.lists(st.integers(0, len(data)), max_size=6)))
    chunks = [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]
    assert run(direction, chunks) == whole
    assert run(direction, [data[i:i + 1] for i in range(len(data))]) == whole


# Random bytes against the piece protocol, the event table and the probe: the contract
# suite (test_app_contract.py), for every registered decoder.

CONTRACT_SAMPLES = [([(TS, m)], 0) for m in SEEDS_TS] + [([(TC, m)], 0) for m in SEEDS_TC]
"""(conversation, flags) the contract suite runs through the TLS decoder."""


# ---- the shared captures -----------------------------------------------------------------

def tls_flows():
    """TCP flows on port 443, or whose first bytes in a direction the probe calls TLS."""
    flows, _, _ = pcap_flows()
    out = []
    for fl in flows:
        if fl.proto != 6:
            continue
        firsts = [fl.chunks[d][0] for d in (TS, TC) if fl.chunks[d]]
        if 443 in fl.ports() or any(probe("tls", c[:5], d) == PROBE_YES for d, c in zip((TS, TC), firsts)):
            out.append(fl)
    return out


def test_corpus_tls_flows_match_the_reference():
    compared = skipped = 0
    found: dict[str, int] = {}
    for fl in tls_flows():
        if fl.gap:
            skipped += 1
            continue
        for d in (TS, TC):
            got = run(d, fl.chunks[d])
            want = ref.decode_stream(d, b"".join(fl.chunks[d]))
            assert got == (list(want[0]), list(want[1])), (fl.client, fl.server, d)
            for buf, _ in got[0]:
                found[buf] = found.get(buf, 0) + 1
        compared += 1
    print(f"TLS corpus: {compared} TCP flows compared ({skipped} with gaps skipped): {found}")
    assert compared > 500
    assert found.get("tls.sni", 0) > 300 and found.get("ja3.hash", 0) > 300 and found.get("ja3s.hash", 0) > 300
    assert found.get("tls.cert_subject", 0) > 30


def test_corpus_ja3_hashes_are_md5_of_the_strings():
    checked = 0
    for fl in tls_flows()[:300]:
        for d in (TS, TC):
            inst = run(d, fl.chunks[d])[0]
            for (b1, s), (b2, h) in zip(inst, inst[1:]):
                if (b1, b2) in (("ja3.string", "ja3.hash"), ("ja3s.string", "ja3s.hash")):
                    assert h == hashlib.md5(s).hexdigest().encode()
                    checked += 1
    assert checked > 100


def test_suricata_verify_client_hello_fragmented():
    # tls.sni; content:"google" -> one alert; EVE tls.sni is www.google.com. The
    # ClientHello arrives in 300-byte segments.
    from xdpfw._fast import decode as fast_decode
    from xdpfw.ref.pcap import read_packets
    dec = AppDecoder("tls")
    pieces, events, segments = [], [], 0
    for _, frame in read_packets(SV / "tls" / "tls-client-hello-frag-01" / "dump_mtu300.pcap"):
        pk = fast_decode.decode_to_dict(frame)
        payload = frame[pk["payload_off"]:pk["payload_off"] + pk["payload_len"]]
        if not payload or pk["dport"] != 443:
            continue
        segments += 1
        p, e = dec.feed(TS, payload)
        pieces += p
        events += e
    p, e = dec.end(TS)
    b = buffers((assemble(pieces + p), []))
    assert segments > 1
    assert b["tls.sni"] == [b"www.google.com"]
