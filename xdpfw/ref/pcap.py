"""Minimal capture-file reader: classic pcap and pcapng, stdlib only.

    for linktype, frame in read_packets(path): ...

Classic pcap: either byte order, microsecond or nanosecond magic. pcapng: sections of
either byte order, interface descriptions (one link type per interface), enhanced,
simple and obsolete packet blocks; other blocks are skipped. A record cut short by the
end of the file ends the iteration, as tcpdump does; a file that is neither format
raises PcapError. Timestamps are not returned: the decoder tests and benchmarks need
only the frames.
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
    return _pcap_records(data, record, linktype)


def _pcap_records(data: bytes, record: struct.Struct, linktype: int) -> Iterator[tuple[int, bytes]]:
    pos = 24
    while pos + record.size <= len(data):
        _sec, _frac, caplen, _wirelen = record.unpack_from(data, pos)
        pos += record.size
        if pos + caplen > len(data):
            return
        yield linktype, data[pos:pos + caplen]
        pos += caplen


def _pcapng(data: bytes) -> Iterator[tuple[int, bytes]]:
    pos, order, linktypes = 0, "<", []
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
            linktypes = []
        blen = struct.unpack_from(order + "I", data, pos + 4)[0]
        if blen < 12 or blen % 4 or pos + blen > len(data):
            return
        body = data[pos + 8:pos + blen - 4]
        if btype == PCAPNG_IDB and len(body) >= 2:
            linktypes.append(struct.unpack_from(order + "H", body)[0])
        elif btype == PCAPNG_EPB and len(body) >= 20:
            ifid, _hi, _lo, caplen, _wirelen = struct.unpack_from(order + "IIIII", body)
            if ifid < len(linktypes) and 20 + caplen <= len(body):
                yield linktypes[ifid], body[20:20 + caplen]
        elif btype == PCAPNG_SPB and len(body) >= 4 and linktypes:
            wirelen = struct.unpack_from(order + "I", body)[0]
            yield linktypes[0], body[4:4 + min(wirelen, len(body) - 4)]
        elif btype == PCAPNG_PB and len(body) >= 20:
            ifid, _drops, _hi, _lo, caplen, _wirelen = struct.unpack_from(order + "HHIIII", body)
            if ifid < len(linktypes) and 20 + caplen <= len(body):
                yield linktypes[ifid], body[20:20 + caplen]
        pos += blen
