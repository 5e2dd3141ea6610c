"""Reference TLS decoder: what xdpfw/_fast/app_tls.pyx must report, from a direction's
whole byte stream.

It cuts the stream into records, concatenates the handshake records' bodies into
messages (it may buffer: it is not on the data path) and parses each message with random
access; JA3 hashes come from hashlib. The rules (records, which messages and fields give
which buffer, the caps, the give-up policies) are stated in xdpfw/_fast/xdpfw_app_tls.h;
event names come from its table. Stdlib only; slow.

    decode_stream(direction, data) -> (instances, events)   the direction ends after data

instances: [(buffer name, bytes)] in completion order; events: names in order.

The streaming decoder reports a message's events as its bytes arrive, and a record
header's as the header does. To give the same order, this reference re-parses the
message in progress after each record and reports what is new (a parse of a prefix
gives a prefix of the events, and the instances completed in it); an instance still open
when a message is cut short is ended as it is.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from xdpfw.cheader import CHeader

_H = CHeader(Path(__file__).resolve().parent.parent / "_fast" / "xdpfw_app_tls.h")
EVENTS = [label for _, label in _H.xmacro("XDPFW_TLS_EVENTS")]
SNI_MAX = _H.define("XDPFW_TLS_SNI_MAX")
JA3_GROUPS = _H.define("XDPFW_TLS_JA3_GROUPS")
JA3_POINTS = _H.define("XDPFW_TLS_JA3_POINTS")
OID_MAX = _H.define("XDPFW_TLS_OID_MAX")
REC_MAX = 16384 + 2048
TO_SERVER, TO_CLIENT = 0, 1

SNI, SUBJECT, ISSUER, SERIAL = "tls.sni", "tls.cert_subject", "tls.cert_issuer", "tls.cert_serial"
JA3_HASH, JA3, JA3S_HASH, JA3S = "ja3.hash", "ja3.string", "ja3s.hash", "ja3s.string"
CERTS = "tls.certs"
BUFFER_ORDER = [SNI, SUBJECT, ISSUER, SERIAL, JA3_HASH, JA3, JA3S_HASH, JA3S, CERTS]  # xdpfw_app.h order

HIL = "tls.handshake_invalid_length"
KNOWN_HANDSHAKE = set(range(0, 7)) | {8} | set(range(11, 17)) | set(range(20, 26)) | {254}
ATTRIBUTE_NAMES = {
    bytes.fromhex("550403"): "CN", bytes.fromhex("550406"): "C", bytes.fromhex("550407"): "L",
    bytes.fromhex("550408"): "ST", bytes.fromhex("55040a"): "O", bytes.fromhex("55040b"): "OU",
    bytes.fromhex("0992268993f22c640119"): "DC", bytes.fromhex("2a864886f70d010901"): "Email",
}
STRING_TAGS = {0x07, 0x0C, 0x12, 0x13, 0x14, 0x15, 0x16, 0x19, 0x1A, 0x1B, 0x1E}


def grease(v: int) -> bool:
    """RFC 8701 GREASE values: 0x0a0a, 0x1a1a, ..., 0xfafa."""
    return v & 0x0F0F == 0x0A0A and v >> 8 == v & 0xFF


class _Cut(Exception):
    """The bytes at hand ended before the message did."""


class _Stop(Exception):
    """The message was given up (its events are recorded)."""


class _Message:
    """One handshake message body: `data` at hand (a prefix of `length` bytes)."""

    def __init__(self, direction: int, mtype: int, data: bytes, length: int):
        self.dir, self.type, self.data, self.length = direction, mtype, data, length
        self.events: list[str] = []
        self.done: list[tuple[str, bytes]] = []
        self.open: dict[str, bytearray] = {}

    # -- reading ---------------------------------------------------------------------
    def need(self, pos: int, k: int):
        if pos + k <= len(self.data):
            return
        if len(self.data) < self.length:
            raise _Cut
        self.fail(HIL)  # the message ended inside a field

    def u(self, pos: int, k: int) -> int:
        self.need(pos, k)
        return int.from_bytes(self.data[pos:pos + k], "big")

    def avail(self, pos: int, k: int) -> bytes:
        """The bytes [pos, pos+k) at hand (the caller checked they are in the message)."""
        return self.data[pos:pos + k]

    # -- reporting -------------------------------------------------------------------
    def emit(self, buf: str, chunk: bytes | str):
        if isinstance(chunk, str):
            chunk = chunk.encode()
        if chunk:
            self.open.setdefault(buf, bytearray()).extend(chunk)

    def end(self, buf: str):
        self.done.append((buf, bytes(self.open.pop(buf, b""))))

    def abort(self, *bufs: str):
        for buf in BUFFER_ORDER:
            if buf in bufs and buf in self.open:
                self.done.append((buf, bytes(self.open.pop(buf))))

    def fail(self, event: str | None, *bufs: str):
        if event:
            self.events.append(event)
        self.abort(*(bufs or BUFFER_ORDER))
        raise _Stop

    def parse(self):
        try:
            if self.type == 1:
                self.client_hello()
            elif self.type == 2:
                self.server_hello()
            else:
                self.certificate()
        except (_Cut, _Stop):
            pass
        if self.type == 11:
            self.chain()

    # -- ClientHello -----------------------------------------------------------------
    def client_hello(self):
        version = self.u(0, 2)
        self.emit(JA3, f"{version},")
        pos = 2 + 32
        self.need(2, 32)
        sid = self.u(pos, 1)
        pos += 1
        if sid > self.length - pos:
            self.fail(HIL, SNI, JA3)
        self.need(pos, sid)
        pos += sid
        cs = self.u(pos, 2)
        pos += 2
        if cs > self.length - pos or cs & 1:
            self.fail(HIL, SNI, JA3)
        listed = False
        for _ in range(cs // 2):
            v = self.u(pos, 2)
            pos += 2
            if not grease(v):
                self.emit(JA3, ("-" if listed else "") + str(v))
                listed = True
        self.emit(JA3, ",")
        comp = self.u(pos, 1)
        pos += 1
        if comp > self.length - pos:
            self.fail(HIL, SNI, JA3)
        self.need(pos, comp)
        pos += comp
        groups: list[int] = []
        points: list[int] = []
        if pos != self.length:
            self.extensions(pos, groups, points)
        self.emit(JA3, "," + "-".join(map(str, groups)) + "," + "-".join(map(str, points)))
        text = bytes(self.open.get(JA3, b""))
        self.end(JA3)
        self.done.append((JA3_HASH, hashlib.md5(text).hexdigest().encode()))

    def extensions(self, pos: int, groups: list, points: list):
        total = self.u(pos, 2)
        pos += 2
        if total > self.length - pos:
            self.fail(HIL, SNI, JA3)
        block_end = pos + total
        listed = sni_seen = capped = False
        while pos != block_end:
            if block_end - pos < 4:
                self.fail(HIL, SNI, JA3)
            etype = self.u(pos, 2)
            if not grease(etype):
                self.emit(JA3, ("-" if listed else "") + str(etype))
                listed = True
            elen = self.u(pos + 2, 2)
            pos += 4
            if elen > block_end - pos:
                self.fail(HIL, SNI, JA3)
            ext_end = pos + elen
            if etype == 0:
                if sni_seen:
                    self.events.append("tls.multiple_sni_extensions")
                elif elen < 2:
                    self.events.append("tls.invalid_sni_length")
                else:
                    self.server_name(pos, ext_end)
                sni_seen = True
            elif etype == 10 and elen >= 2:
                n = self.u(pos, 2)
                if n > ext_end - pos - 2:
                    self.events.append(HIL)
                else:
                    for at in range(pos + 2, pos + 2 + n - 1, 2):
                        v = self.u(at, 2)
                        if grease(v):
                            continue
                        if len(groups) < JA3_GROUPS:
                            groups.append(v)
                        elif not capped:
                            capped = True
                            self.events.append("tls.ja3_truncated")
            elif etype == 11 and elen >= 1:
                n = self.u(pos, 1)
                if n > ext_end - pos - 1:
                    self.events.append(HIL)
                else:
                    for at in range(pos + 1, pos + 1 + n):
                        v = self.u(at, 1)
                        if len(points) < JA3_POINTS:
                            points.append(v)
                        elif not capped:
                            capped = True
                            self.events.append("tls.ja3_truncated")
            self.need(pos, elen)
            pos = ext_end

    def server_name(self, pos: int, ext_end: int):
        n = self.u(pos, 2)
        pos += 2
        if n > ext_end - pos or n < 3:
            self.events.append("tls.invalid_sni_length")
            return
        list_end = pos + n
        if self.u(pos, 1) != 0:
            self.events.append("tls.invalid_sni_type")
            return
        pos += 1
        if list_end - pos < 2:
            self.events.append("tls.invalid_sni_length")
            return
        length = self.u(pos, 2)
        pos += 2
        if length == 0 or length > SNI_MAX or length > list_end - pos:
            self.events.append("tls.invalid_sni_length")
            return
        name = self.avail(pos, length)
        self.emit(SNI, name)
        if len(name) < length:
            raise _Cut
        self.end(SNI)

    # -- ServerHello -----------------------------------------------------------------
    def server_hello(self):
        version = self.u(0, 2)
        self.emit(JA3S, f"{version},")
        self.need(2, 32)
        pos = 34
        sid = self.u(pos, 1)
        pos += 1
        if sid > self.length - pos:
            self.fail(HIL, JA3S)
        self.need(pos, sid)
        pos += sid
        self.emit(JA3S, f"{self.u(pos, 2)},")
        self.u(pos + 2, 1)
        pos += 3
        if pos != self.length:
            total = self.u(pos, 2)
            pos += 2
            if total > self.length - pos:
                self.fail(HIL, JA3S)
            block_end = pos + total
            listed = False
            while pos != block_end:
                if block_end - pos < 4:
                    self.fail(HIL, JA3S)
                etype = self.u(pos, 2)
                if not grease(etype):
                    self.emit(JA3S, ("-" if listed else "") + str(etype))
                    listed = True
                elen = self.u(pos + 2, 2)
                pos += 4
                if elen > block_end - pos:
                    self.fail(HIL, JA3S)
                self.need(pos, elen)
                pos += elen
        text = bytes(self.open.get(JA3S, b""))
        self.end(JA3S)
        self.done.append((JA3S_HASH, hashlib.md5(text).hexdigest().encode()))

    # -- Certificate -----------------------------------------------------------------
    def certificate(self):
        total = self.u(0, 3)
        if total > self.length - 3:
            self.fail(HIL)
        if total == 0:
            return
        list_end = 3 + total
        length = self.u(3, 3)
        if length > list_end - 6:
            self.fail(HIL)
        if length == 0:
            self.fail("tls.invalid_certificate")
        self.leaf(6, 6 + length)

    def chain(self):
        """tls.certs: every certificate of the list, its DER as it is, one instance each
        (after the leaf's DER walk, which it does not depend on). The list's length and
        the leaf's are the DER walk's events; a later certificate's length past the list
        is the chain's."""
        d = self.data
        if len(d) < 3:
            return
        total = int.from_bytes(d[0:3], "big")
        if total == 0 or total > self.length - 3:
            return
        list_end, pos, later = 3 + total, 3, False
        while pos < list_end:
            if len(d) < pos + 3:
                return                              # cut here, or the message ends inside
            v = int.from_bytes(d[pos:pos + 3], "big")
            pos += 3
            if pos > list_end or v > list_end - pos:
                if later:
                    self.events.append(HIL)
                return
            if v:
                self.emit(CERTS, d[pos:pos + v])
                if len(d) < pos + v:
                    return                          # open: the rest has not arrived
                self.end(CERTS)
            later = True
            pos += v

    def tlv(self, pos: int, parent_end: int, *tags: int) -> tuple[int, int, int]:
        """The DER element at pos, inside parent_end: (tag, content start, content end).
        An element expected where its parent ends is missing; `tags` (if given) are
        the tags allowed."""
        if pos >= parent_end:
            self.fail("tls.certificate_missing_element")
        tag = self.u(pos, 1)
        if tag & 0x1F == 0x1F:
            self.fail("tls.invalid_certificate")
        first = self.u(pos + 1, 1)
        if first < 0x80:
            length, start = first, pos + 2
        elif first == 0x80 or first > 0x84:
            self.fail("tls.certificate_invalid_length")
        else:
            k = first & 0x7F
            length, start = self.u(pos + 2, k), pos + 2 + k
        if start > parent_end or length > parent_end - start:
            self.fail("tls.certificate_invalid_length")
        if tags and tag not in tags:
            self.fail("tls.invalid_certificate")
        return tag, start, start + length

    def skip_to(self, pos: int, end: int):
        self.need(pos, end - pos)

    def leaf(self, pos: int, cert_end: int):
        _, pos, seq_end = self.tlv(pos, cert_end, 0x30)
        _, pos, tbs_end = self.tlv(pos, seq_end, 0x30)
        tag, start, end = self.tlv(pos, tbs_end, 0xA0, 0x02)
        if tag == 0xA0:  # explicit version
            self.skip_to(start, end)
            tag, start, end = self.tlv(end, tbs_end, 0x02)
        if start == end:
            self.fail("tls.invalid_certificate")
        for i, byte in enumerate(self.avail(start, end - start)):
            self.emit(SERIAL, (":" if i else "") + f"{byte:02X}")
        self.need(start, end - start)
        self.end(SERIAL)
        _, start, end = self.tlv(end, tbs_end, 0x30)  # signature algorithm
        self.skip_to(start, end)
        end = self.name(end, tbs_end, ISSUER)
        _, start, end = self.tlv(end, tbs_end, 0x30)  # validity
        self.skip_to(start, end)
        self.name(end, tbs_end, SUBJECT)

    def name(self, pos: int, tbs_end: int, buf: str) -> int:
        _, pos, name_end = self.tlv(pos, tbs_end, 0x30)
        written = False
        while pos != name_end:
            _, pos, rdn_end = self.tlv(pos, name_end, 0x31)
            in_rdn = False
            while pos != rdn_end:
                _, pos, atv_end = self.tlv(pos, rdn_end, 0x30)
                _, start, end = self.tlv(pos, atv_end, 0x06)
                self.need(start, end - start)
                oid = self.data[start:end]
                self.emit(buf, " + " if in_rdn else ", " if written else "")
                written = in_rdn = True
                label = ATTRIBUTE_NAMES.get(oid) or dotted_oid(oid)
                if label is None:
                    self.events.append("tls.certificate_unknown_element")
                    label = "UNKNOWN"
                self.emit(buf, label + "=")
                tag, start, end = self.tlv(end, atv_end)
                value = self.avail(start, end - start)
                self.emit(buf, value if tag in STRING_TAGS else value.hex().upper())
                self.need(start, end - start)
                self.skip_to(end, atv_end)
                pos = atv_end
            pos = rdn_end
        self.end(buf)
        return name_end


def dotted_oid(oid: bytes) -> str | None:
    """Dotted-decimal form of OID content bytes, or None if not rendered (longer than
    OID_MAX, empty, cut inside an arc, an arc of more than 8 base-128 digits)."""
    if not oid or len(oid) > OID_MAX or oid[-1] & 0x80:
        return None
    arcs, value, digits = [], 0, 0
    for b in oid:
        value, digits = value << 7 | b & 0x7F, digits + 1
        if digits > 8:
            return None
        if not b & 0x80:
            arcs.append(value)
            value, digits = 0, 0
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(map(str, head + arcs[1:]))


class _Direction:
    def __init__(self, direction: int):
        self.dir = direction
        self.instances: list[tuple[str, bytes]] = []
        self.events: list[str] = []
        self.started = self.encrypted = self.dead = False
        self.cur = bytearray()       # header and body bytes of the handshake message at hand
        self.reported = (0, 0)       # its events and instances already reported

    # -- handshake layer -------------------------------------------------------------
    def hs_busy(self) -> bool:
        return bool(self.cur)

    def msg_type(self) -> int:
        return self.cur[0]

    def msg_len(self) -> int:
        return int.from_bytes(self.cur[1:4], "big")

    def parsed(self) -> bool:
        t = self.msg_type()
        return (t == 1 and self.dir == TO_SERVER) or (t == 2 and self.dir == TO_CLIENT) or (
            t == 11 and self.dir == TO_CLIENT)

    def progress(self, abort: bool = False):
        """Report what parsing the message at hand adds; with abort, end its open
        instances as they are."""
        if len(self.cur) < 4 or not self.parsed():
            return
        m = _Message(self.dir, self.msg_type(), bytes(self.cur[4:]), self.msg_len())
        m.parse()
        ne, ni = self.reported
        self.events += m.events[ne:]
        self.instances += m.done[ni:]
        self.reported = (len(m.events), len(m.done))
        if abort:
            m.abort(*BUFFER_ORDER)
            self.instances += m.done[self.reported[1]:]

    def msg_start(self):
        t = self.msg_type()
        if (t == 1 and self.dir != TO_SERVER) or (t == 2 and self.dir == TO_SERVER) or t not in KNOWN_HANDSHAKE:
            self.events.append("tls.invalid_handshake_message")

    def msg_done(self):
        self.progress()
        self.cur = bytearray()
        self.reported = (0, 0)

    def hs_abandon(self):
        self.progress(abort=True)
        self.cur = bytearray()
        self.reported = (0, 0)

    def hs_feed(self, body: bytes):
        i = 0
        while i < len(body):
            if len(self.cur) < 4:
                take = min(4 - len(self.cur), len(body) - i)
                self.cur += body[i:i + take]
                i += take
                if len(self.cur) == 4:
                    self.msg_start()
                    if self.msg_len() == 0:
                        self.msg_done()
                continue
            take = min(4 + self.msg_len() - len(self.cur), len(body) - i)
            self.cur += body[i:i + take]
            i += take
            if len(self.cur) == 4 + self.msg_len():
                self.msg_done()
        self.progress()

    # -- record layer ----------------------------------------------------------------
    def die(self):
        self.hs_abandon()
        self.dead = True

    def record_start(self, rtype: int, length: int):
        if rtype != 22 and not self.encrypted and self.hs_busy():
            self.events.append("tls.invalid_handshake_message")
            self.hs_abandon()
        if rtype in (20, 23):
            self.encrypted = True
        elif rtype == 24:
            self.events.append("tls.heartbeat_message")
        if length == 0 and rtype in (20, 21, 22):
            self.events.append("tls.invalid_record_length")

    def run(self, data: bytes):
        pos, n = 0, len(data)
        while pos < n and not self.dead:
            b = data[pos]
            if b & 0x80 and not self.started and self.dir == TO_SERVER:
                if n - pos < 3:
                    break
                self.started = True
                length = (b & 0x7F) << 8 | data[pos + 1]
                if data[pos + 2] != 1 or length == 0:
                    self.events.append("tls.invalid_sslv2_header")
                    self.die()
                    break
                pos += 2 + length
                continue
            self.started = True
            if not 20 <= b <= 24:
                self.events.append("tls.invalid_record_type")
                self.die()
                break
            if n - pos < 3:
                break
            if not 0x0300 <= int.from_bytes(data[pos + 1:pos + 3], "big") <= 0x0304:
                self.events.append("tls.invalid_record_version")
                self.die()
                break
            if n - pos < 5:
                break
            length = int.from_bytes(data[pos + 3:pos + 5], "big")
            if length > REC_MAX:
                self.events.append("tls.record_too_long")
                self.die()
                break
            self.record_start(b, length)
            if b == 22 and not self.encrypted:
                self.hs_feed(data[pos + 5:pos + 5 + length])
            pos += 5 + length
        if self.dead:
            return
        if not self.encrypted and self.hs_busy():
            self.events.append("tls.truncated")
        self.die()


def decode_stream(direction: int, data: bytes) -> tuple[list, list]:
    d = _Direction(direction)
    d.run(bytes(data))
    return d.instances, d.events


def ja3_string(version: int, ciphers, extensions, groups, points) -> str:
    """JA3 from field values (GREASE dropped): for tests building expectations."""
    def dash(values):
        return "-".join(str(v) for v in values if not grease(v))
    return f"{version},{dash(ciphers)},{dash(extensions)},{dash(groups)},{'-'.join(map(str, points))}"
