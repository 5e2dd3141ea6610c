"""The application layer as its C header declares it, for the Python control plane.

xdpfw/_fast/xdpfw_app.h is the one definition of the application protocols
(XDPFW_APP_PROTOS) and of the rule buffers the decoders produce (XDPFW_APP_BUFFERS: id,
name, owning protocol, directions). Everything here is read from it, so a decoder added
to the header and to the registry (xdpfw/_fast/app_registry.pyx) is known to the rule
compiler with no Python edit. tests/unit/test_app_contract.py checks that the C tables,
the Cython registry and this module agree.
"""
from __future__ import annotations

from pathlib import Path

from xdpfw.cheader import CHeader

_H = CHeader(Path(__file__).resolve().parent / "_fast" / "xdpfw_app.h")
_PROTO_ROWS = _H.xmacro("XDPFW_APP_PROTOS")
_BUFFER_ROWS = _H.xmacro_rows("XDPFW_APP_BUFFERS")
_PROTO_OF_C = {c: label for c, label in _PROTO_ROWS}

PROTOS: list[str] = [label for _, label in _PROTO_ROWS]      # index = XDPFW_APP_* id
# The protocols with a decoder: every XDPFW_APP_* but "not detected yet" and "gave up"
# (each has exactly one entry in the registry, tested).
DECODERS: tuple[str, ...] = tuple(label for c, label in _PROTO_ROWS
                                  if c not in ("XDPFW_APP_UNKNOWN", "XDPFW_APP_FAILED"))
BUFFERS: list[str] = [row[1] for row in _BUFFER_ROWS]        # index = XDPFW_BUF_* id
BUFFER_PROTO: dict[str, str] = {row[1]: _PROTO_OF_C[row[2]] for row in _BUFFER_ROWS}
_DIRS = {row[1]: _H.define(row[3]) for row in _BUFFER_ROWS}  # XDPFW_APP_D_* bits
# Buffers that exist in one direction only (the rest - headers, protocol, file.data - in both).
TO_SERVER: frozenset[str] = frozenset(b for b, d in _DIRS.items() if d == _H.define("XDPFW_APP_D_TOSERVER"))
TO_CLIENT: frozenset[str] = frozenset(b for b, d in _DIRS.items() if d == _H.define("XDPFW_APP_D_TOCLIENT"))
