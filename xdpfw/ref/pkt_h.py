"""Python view of xdpfw/_fast/xdpfw_pkt.h, read from the header itself.

The decode-event X-macro table and the flag #defines are the single definition; this
module parses them (as xdpfw/dataplane/shared.py does for xdpfw_shared.h) so the reference
decoder and the control plane never keep a copy.
"""
from __future__ import annotations

from pathlib import Path

from xdpfw.cheader import CHeader

PKT_H = Path(__file__).resolve().parent.parent / "_fast" / "xdpfw_pkt.h"

_h = CHeader(PKT_H)
_xmacro = _h.xmacro
_define = _h.define


EVENTS = _xmacro("XDPFW_DECODE_EVENTS")
"""(C name, label) of every decode event, in bit order."""
EVENT_LABELS = [label for _, label in EVENTS]
EVENT_BIT = {label: i for i, label in enumerate(EVENT_LABELS)}

MAX_VLAN = _define("XDPFW_MAX_VLAN")
IPV6_MAX_EXTHDRS = _define("XDPFW_IPV6_MAX_EXTHDRS")
MAX_TUNNELS = _define("XDPFW_MAX_TUNNELS")
EV_WORDS = _define("XDPFW_EV_WORDS")

TUN_IPIP = _define("XDPFW_TUN_IPIP")
TUN_GRE = _define("XDPFW_TUN_GRE")
TUN_GRE_ETH = _define("XDPFW_TUN_GRE_ETH")
TUN_VXLAN = _define("XDPFW_TUN_VXLAN")
TUN_GENEVE = _define("XDPFW_TUN_GENEVE")
TUN_TEREDO = _define("XDPFW_TUN_TEREDO")
TUN_MPLS = _define("XDPFW_TUN_MPLS")

LAYER_L2 = _define("XDPFW_LAYER_L2")
LAYER_L3 = _define("XDPFW_LAYER_L3")
LAYER_L4 = _define("XDPFW_LAYER_L4")

IP_FRAG = _define("XDPFW_IP_FRAG")
IP_MF = _define("XDPFW_IP_MF")
IP_DF = _define("XDPFW_IP_DF")
IP_RF = _define("XDPFW_IP_RF")

EXT_HOPOPTS = _define("XDPFW_EXT_HOPOPTS")
EXT_ROUTING = _define("XDPFW_EXT_ROUTING")
EXT_FRAG = _define("XDPFW_EXT_FRAG")
EXT_DSTOPTS = _define("XDPFW_EXT_DSTOPTS")
EXT_AH = _define("XDPFW_EXT_AH")

TCPOPT_MSS = _define("XDPFW_TCPOPT_MSS")
TCPOPT_WSCALE = _define("XDPFW_TCPOPT_WSCALE")
TCPOPT_SACK_PERM = _define("XDPFW_TCPOPT_SACK_PERM")
TCPOPT_SACK = _define("XDPFW_TCPOPT_SACK")
TCPOPT_TS = _define("XDPFW_TCPOPT_TS")
TCPOPT_MD5 = _define("XDPFW_TCPOPT_MD5")
TCPOPT_AO = _define("XDPFW_TCPOPT_AO")
TCPOPT_MPTCP = _define("XDPFW_TCPOPT_MPTCP")
TCPOPT_FASTOPEN = _define("XDPFW_TCPOPT_FASTOPEN")
