"""Reference DNS decoder: what xdpfw/_fast/app_dns.pyx must report, from whole messages.

Reads a message with random access (slices, indexes), so it needs no state machine: it is
the definition the streaming decoder is compared against (same instances, same events in
the same order). The rules (framing, which names give dns.query, caps, pointer and
give-up policies) are stated in xdpfw/_fast/xdpfw_app_dns.h; event names come from its
table. Stdlib only; slow; never on the data path.

    decode_datagram(direction, data) -> (instances, events)   one UDP message
    decode_stream(direction, data)   -> (instances, events)   a TCP direction's bytes,
                                                               ended (FIN) after them
instances: [("dns.query", name bytes)] in completion order; events: names.
"""
from __future__ import annotations

from pathlib import Path

from xdpfw.cheader import CHeader

_H = CHeader(Path(__file__).resolve().parent.parent / "_fast" / "xdpfw_app_dns.h")
EVENTS = [label for _, label in _H.xmacro("XDPFW_DNS_EVENTS")]
NAME_MAX = _H.define("XDPFW_DNS_NAME_MAX")
MAX_STEPS = _H.define("XDPFW_DNS_MAX_STEPS")
HDR_LEN = _H.define("XDPFW_DNS_HDR_LEN")
TO_SERVER, TO_CLIENT = 0, 1
QUERY = "dns.query"


class _Stop(Exception):
    """The message was given up (or the stream ended inside it)."""


class _Message:
    """One message of declared length `size`, of which `data` (maybe fewer bytes, when
    the stream ends inside it) is at hand."""

    def __init__(self, direction: int, data: bytes, size: int, datagram: bool):
        self.dir, self.data, self.size, self.datagram = direction, data, size, datagram
        self.instances: list[tuple[str, bytes]] = []
        self.events: list[str] = []
        self.name: bytearray | None = None  # the open dns.query instance
        self.name_len = 0                   # rendered bytes of the current name
        self.capped = False
        self.failed = False

    # -- reading ---------------------------------------------------------------------
    def byte(self, i: int) -> int:
        if i < len(self.data):
            return self.data[i]
        self._ran_out()

    def _ran_out(self):
        if len(self.data) < self.size:  # the stream ended before the message did
            self.close()
            self.events.append("dns.truncated")
            raise _Stop
        self.fail(None)  # the message ended inside a field

    def need(self, start: int, length: int):
        if start + length > len(self.data):
            self._ran_out()

    # -- reporting -------------------------------------------------------------------
    def fail(self, event: str | None):
        if event:
            self.events.append(event)
        self.events.append("dns.malformed_data")
        self.close()
        self.failed = True
        raise _Stop

    def close(self):
        if self.name is not None:
            self.instances.append((QUERY, bytes(self.name)))
            self.name = None

    def emit(self, chunk: bytes):
        if not chunk or self.capped:
            return
        room = NAME_MAX - self.name_len
        if len(chunk) > room:
            chunk, self.capped = chunk[:room], True
        if chunk:
            if self.name is None:
                self.name = bytearray()
            self.name += chunk
            self.name_len += len(chunk)
        if self.capped:
            self.events.append("dns.name_too_long")

    def label(self, content: bytes):
        if self.name_len:
            self.emit(b".")
        self.emit(content)

    def name_done(self, reported: bool, terminated: bool):
        if not reported:
            return
        if self.name is not None:
            self.close()
        elif terminated:  # the root name
            self.instances.append((QUERY, b""))

    # -- parsing ---------------------------------------------------------------------
    def parse(self):
        try:
            self._parse()
        except _Stop:
            pass

    def _parse(self):
        self.need(0, HDR_LEN)
        h = self.data[:HDR_LEN]
        flags = int.from_bytes(h[2:4], "big")
        qr, opcode = flags >> 15, (flags >> 11) & 0xF
        if self.dir == TO_SERVER and qr:
            self.events.append("dns.not_request")
        elif self.dir == TO_CLIENT and not qr:
            self.events.append("dns.not_response")
        if flags & 0x0040:
            self.events.append("dns.z_flag_set")
        if opcode == 3 or opcode >= 7:
            self.events.append("dns.invalid_opcode")
        query = self.dir == TO_SERVER and not qr
        counts = [int.from_bytes(h[i:i + 2], "big") for i in (4, 6, 8, 10)]
        pos = HDR_LEN
        for _ in range(counts[0]):
            pos = self.walk_name(pos, report=query)
            self.need(pos, 4)
            pos += 4
        for _ in range(sum(counts[1:])):
            pos = self.walk_name(pos, report=False)
            self.need(pos, 10)
            rdlength = int.from_bytes(self.data[pos + 8:pos + 10], "big")
            pos += 10
            self.need(pos, rdlength)
            pos += rdlength
        if len(self.data) < self.size:  # complete, but the stream ended in its tail
            self.events.append("dns.truncated")

    def walk_name(self, pos: int, report: bool) -> int:
        """The name at pos; returns the position after it."""
        self.name_len, self.capped, steps = 0, False, 0
        while True:
            b = self.byte(pos)
            if b == 0:
                self.name_done(report, True)
                return pos + 1
            if b < 0x40 or b >= 0xC0:
                steps += 1
                if steps > MAX_STEPS:
                    self.fail("dns.too_many_labels")
            if 0x40 <= b < 0xC0:
                self.fail("dns.label_too_long")
            if b < 0x40:
                if b > self.size - pos - 1:
                    self.fail(None)
                content = self.data[pos + 1:pos + 1 + b]
                if report:
                    self.label(content)
                if len(content) < b:
                    self._ran_out()
                pos += 1 + b
                continue
            # a pointer
            if report and not self.datagram:
                self.events.append("dns.pointer_in_stream")
                self.close()
                self.failed = True
                raise _Stop
            target = ((b & 0x3F) << 8) | self.byte(pos + 1)
            if target >= self.size:
                self.fail("dns.invalid_pointer")
            terminated = True
            if target == pos:
                self.events.append("dns.infinite_loop")
                terminated = False
            elif report:
                terminated = self.follow(target, steps)
            self.name_done(report, terminated)
            return pos + 2

    def follow(self, pos: int, steps: int) -> bool:
        """The rest of a reported name from a pointer target, in the whole datagram.
        True if it reached its terminating 0, False if a cap or a loop ended it."""
        while True:
            if pos >= self.size:
                self.fail(None)
            b = self.data[pos]
            if b == 0:
                return True
            if b < 0x40 or b >= 0xC0:
                steps += 1
                if steps > MAX_STEPS:
                    self.events.append("dns.too_many_labels")
                    return False
            if b < 0x40:
                if pos + 1 + b > self.size:
                    self.fail(None)
                self.label(self.data[pos + 1:pos + 1 + b])
                pos += 1 + b
            elif b >= 0xC0:
                if pos + 1 >= self.size:
                    self.fail(None)
                target = ((b & 0x3F) << 8) | self.data[pos + 1]
                if target >= self.size:
                    self.fail("dns.invalid_pointer")
                if target == pos:
                    self.events.append("dns.infinite_loop")
                    return False
                pos = target
            else:
                self.fail("dns.label_too_long")


def decode_datagram(direction: int, data: bytes) -> tuple[list, list]:
    m = _Message(direction, bytes(data), len(data), True)
    m.parse()
    return m.instances, m.events


def decode_stream(direction: int, data: bytes) -> tuple[list, list]:
    """A TCP direction: 2-byte length, message, ...; the direction ends after `data`."""
    data = bytes(data)
    instances: list = []
    events: list = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < 2:
            events.append("dns.truncated")
            break
        size = int.from_bytes(data[pos:pos + 2], "big")
        m = _Message(direction, data[pos + 2:pos + 2 + size], size, False)
        m.parse()
        instances += m.instances
        events += m.events
        pos += 2 + size
    return instances, events


def render_name(labels: list[bytes]) -> bytes:
    """Suricata's form of a name given as labels: joined by '.', bytes as they are."""
    return b".".join(labels)
