"""The piece protocol of the application decoders (xdpfw/_fast/xdpfw_app.h), checked and
assembled into buffer instances. Used by the decoder tests and the reference decoders'
differential tests, so both sides are compared as whole instances.

A piece is (buffer_name, data: bytes, flags) with flags START=1, END=2.
"""
from __future__ import annotations

START, END = 1, 2


class PieceProtocolError(AssertionError):
    """The decoder broke the contract (a piece outside START..END, a second START ...)."""


def assemble(pieces, *, allow_open: bool = False) -> list[tuple[str, bytes]]:
    """Instances in the order they completed. A piece of a buffer with no open instance
    and no START flag, or a START while an instance of that buffer is open, is a
    PieceProtocolError; so are instances still open at the end unless allow_open."""
    open_: dict[str, bytearray] = {}
    done: list[tuple[str, bytes]] = []
    for i, (buf, data, flags) in enumerate(pieces):
        if flags & START:
            if buf in open_:
                raise PieceProtocolError(f"piece {i}: START of {buf} while an instance is open")
            open_[buf] = bytearray()
        elif buf not in open_:
            raise PieceProtocolError(f"piece {i}: {buf} piece without an open instance")
        open_[buf] += data
        if flags & END:
            done.append((buf, bytes(open_.pop(buf))))
    if open_ and not allow_open:
        raise PieceProtocolError(f"instances never ended: {sorted(open_)}")
    return done


def by_buffer(instances) -> dict[str, list[bytes]]:
    out: dict[str, list[bytes]] = {}
    for buf, data in instances:
        out.setdefault(buf, []).append(data)
    return out
