"""Python view of xdpfw/bpf/xdpfw_shared.h, read from the header itself.

The header's X-macro tables (XDPFW_XDP_ACTIONS, XDPFW_DROP_REASONS) are the single
source of the enums and of their Prometheus label values; this module parses them so
that nothing is kept in sync by hand. Plain #define constants used by Python are read
the same way.
"""
from __future__ import annotations

import enum
from pathlib import Path

from xdpfw.cheader import CHeader

BPF_DIR = Path(__file__).resolve().parent.parent / "bpf"
SHARED_H = BPF_DIR / "xdpfw_shared.h"

_h = CHeader(SHARED_H)
_xmacro = _h.xmacro
_define = _h.define

XDP_ACTIONS = _xmacro("XDPFW_XDP_ACTIONS")
DROP_REASONS = _xmacro("XDPFW_DROP_REASONS")

XdpAction = enum.IntEnum("XdpAction", [(n.removeprefix("XDPFW_XDP_"), i) for i, (n, _) in enumerate(XDP_ACTIONS)])
DropReason = enum.IntEnum("DropReason", [(n.removeprefix("XDPFW_DROP_"), i) for i, (n, _) in enumerate(DROP_REASONS)])
XDP_ACTION_LABELS = [label for _, label in XDP_ACTIONS]
DROP_REASON_LABELS = [label for _, label in DROP_REASONS]

SIDE_A = _define("XDPFW_SIDE_A")
SIDE_B = _define("XDPFW_SIDE_B")
NSIDES = _define("XDPFW_NSIDES")
MAX_QUEUES = _define("XDPFW_MAX_QUEUES")
FAIL_CLOSED = _define("XDPFW_FAIL_CLOSED")
FAIL_OPEN = _define("XDPFW_FAIL_OPEN")
ACL_SRC_V4 = _define("XDPFW_ACL_SRC_V4")
ACL_DST_V4 = _define("XDPFW_ACL_DST_V4")
ACL_SRC_V6 = _define("XDPFW_ACL_SRC_V6")
ACL_DST_V6 = _define("XDPFW_ACL_DST_V6")
ACL_SPORT = _define("XDPFW_ACL_SPORT")
ACL_DPORT = _define("XDPFW_ACL_DPORT")
PROTO_TCP = _define("XDPFW_PROTO_TCP")
PROTO_UDP = _define("XDPFW_PROTO_UDP")
PROTO_ICMP = _define("XDPFW_PROTO_ICMP")
PROTO_OTHER = _define("XDPFW_PROTO_OTHER")
PROTO_ANY = PROTO_TCP | PROTO_UDP | PROTO_ICMP | PROTO_OTHER


def xsk_key(side: int, queue: int) -> int:
    """XSKMAP key of (side, queue): mirrors XDPFW_XSK_KEY in the header."""
    if not 0 <= queue < MAX_QUEUES:
        raise ValueError(f"queue {queue} out of range (XDPFW_MAX_QUEUES={MAX_QUEUES})")
    return side * MAX_QUEUES + queue
