"""Minimal capture-file reader: classic pcap and pcapng, stdlib only.

    for linktype, frame in read_packets(path): ...

Classic pcap: either byte order, microsecond or nanosecond magic. pcapng: sections of
either byte order, interface descriptions (one link type per interface), enhanced,
simple and obsolete packet blocks; other blocks are skipped. A record cut short by the
end of the file ends the iteration, as tcpdump does; a file that is neither format
raises PcapError. `read_packets` gives frames; `read_packets_ts` also their capture
time in ns since the epoch (pcapng: per interface if_tsresol, default microseconds).
"""
from __future__ import annotations

import struct
from pathlib import Path
from typing import Iterator

LINKTYPE_ETHERNET = 1

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_BYTE_ORDER = 0x1A2B3C4D
PCAPNG_IDB, PCAPNG_PB, PCAPNG_SPB, PCAPNG_EPB = 1, 2, 3, 6


class PcapError(ValueError):
    """The file is not a pcap or pcapng capture."""


def read_packets(path: str | Path) -> Iterator[tuple[int, bytes]]:
    """Yield (link type, captured bytes) for every packet of the capture at `path`."""
    return ((lt, frame) for lt, _ts, frame in read_packets_ts(path))


def read_packets_ts(path: str | Path) -> Iterator[tuple[int, int, bytes]]:
    """Yield (link type, capture time in ns since the epoch, captured bytes)."""
    data = Path(path).read_bytes()
    if len(data) >= 4 and struct.unpack_from("<I", data)[0] == PCAPNG_SHB:
        return _pcapng(data)
    return _pcap(data)


def _pcap(data: bytes) -> Iterator[tuple[int, bytes]]:
    if len(data) < 24:
        raise PcapError("shorter than a pcap file header")
    for order in "<>":
        if struct.unpack_from(order + "I", data)[0] in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
            break
    else:
        raise PcapError(f"unknown magic {data[:4].hex()}")
    # The link-type field may carry FCS information in its upper bits (draft-ietf-opsawg-pcap).
    linktype = struct.unpack_from(order + "I", data, 20)[0] & 0xFFFF
    record = struct.Struct(order + "IIII")
    frac_ns = 1 if struct.unpack_from(order + "I", data)[0] == PCAP_MAGIC_NS else 1000
    return _pcap_records(data, record, linktype, frac_ns)


def _pcap_records(data: bytes, record: struct.Struct, linktype: int,
                  frac_ns: int) -> Iterator[tuple[int, int, bytes]]:
    pos = 24
    while pos + record.size <= len(data):
        sec, frac, caplen, _wirelen = record.unpack_from(data, pos)
        pos += record.size
        if pos + caplen > len(data):
            return
        yield linktype, sec * 1_000_000_000 + frac * frac_ns, data[pos:pos + caplen]
        pos += caplen


def _tsresol_ns(body: bytes, order: str) -> float:
    """ns per timestamp unit of an interface: its if_tsresol option (9), default 10^-6 s."""
    pos = 8
    while pos + 4 <= len(body):
        code, length = struct.unpack_from(order + "HH", body, pos)
        if code == 0:
            break
        if code == 9 and length >= 1:
            v = body[pos + 4]
            return 1e9 / (2 ** (v & 0x7F) if v & 0x80 else 10 ** v)
        pos += 4 + (length + 3) // 4 * 4
    return 1000.0


def _pcapng(data: bytes) -> Iterator[tuple[int, bytes]]:
    pos, order, linktypes, units = 0, "<", [], []
    while pos + 12 <= len(data):
        btype = struct.unpack_from(order + "I", data, pos)[0]
        if btype == PCAPNG_SHB:
            # A new section may switch byte order: the magic after the length says which.
            magic = data[pos + 8:pos + 12]
            if magic == struct.pack("<I", PCAPNG_BYTE_ORDER):
                order = "<"
            elif magic == struct.pack(">I", PCAPNG_BYTE_ORDER):
                order = ">"
            else:
                raise PcapError(f"pcapng section at {pos}: bad byte-order magic {magic.hex()}")
            linktypes, units = [], []
        blen = struct.unpack_from(order + "I", data, pos + 4)[0]
        if blen < 12 or blen % 4 or pos + blen > len(data):
            return
        body = data[pos + 8:pos + blen - 4]
        if btype == PCAPNG_IDB and len(body) >= 2:
            linktypes.append(struct.unpack_from(order + "H", body)[0])
            units.append(_tsresol_ns(body, order))
        elif btype == PCAPNG_EPB and len(body) >= 20:
            ifid, hi, lo, caplen, _wirelen = struct.unpack_from(order + "IIIII", body)
            if ifid < len(linktypes) and 20 + caplen <= len(body):
                yield linktypes[ifid], int(((hi << 32) | lo) * units[ifid]), body[20:20 + caplen]
        elif btype == PCAPNG_SPB and len(body) >= 4 and linktypes:
            wirelen = struct.unpack_from(order + "I", body)[0]
            yield linktypes[0], 0, body[4:4 + min(wirelen, len(body) - 4)]  # SPBs carry no time
        elif btype == PCAPNG_PB and len(body) >= 20:
            ifid, _drops, hi, lo, caplen, _wirelen = struct.unpack_from(order + "HHIIII", body)
            if ifid < len(linktypes) and 20 + caplen <= len(body):
                yield linktypes[ifid], int(((hi << 32) | lo) * units[ifid]), body[20:20 + caplen]
        pos += blen
