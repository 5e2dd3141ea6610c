"""What a NIC uses, as opposed to what it allocated: the active RX queue count.

A device allocates `num_rx_queues` queues (netlink's IFLA_NUM_RX_QUEUES) and uses
`real_num_rx_queues` of them (ethtool's current channels; the rx-N entries under
/sys/class/net/DEV/queues). Real NICs allocate many more than they use (mlx5, ice,
i40e: one per possible CPU or more), and so does a veth created without numrxqueues on
a multi-core machine. AF_XDP can bind only to an active queue, so the worker count comes
from the active one. ETHTOOL_GCHANNELS goes through a socket ioctl, which follows the
caller's network namespace (sysfs follows the namespace /sys was mounted in); sysfs is
the fallback for drivers without channel support.
"""
from __future__ import annotations

import ctypes as ct
import errno
import fcntl
import os
import socket
import struct

SIOCETHTOOL = 0x8946
ETHTOOL_GCHANNELS = 0x0000003C
_CHANNELS = struct.Struct("9I")   # struct ethtool_channels: cmd, 4 maxima, 4 current counts


class NicError(ValueError):
    pass


def active_rx_queues(ifname: str) -> int:
    """RX queues the device uses now (at least 1); NicError if there is no such device."""
    if not ifname or len(ifname.encode()) >= 16:
        raise NicError(f"not an interface name: {ifname!r}")
    buf = ct.create_string_buffer(_CHANNELS.pack(ETHTOOL_GCHANNELS, *([0] * 8)), _CHANNELS.size)
    ifr = struct.pack("16sP", ifname.encode(), ct.addressof(buf)).ljust(40, b"\0")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifr)
        except OSError as e:
            if e.errno == errno.ENODEV:
                raise NicError(f"no such interface: {ifname}") from None
            if e.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                raise
            return _sysfs_rx_queues(ifname)
    _, _, _, _, _, rx, _, _, combined = _CHANNELS.unpack(buf.raw)
    return (rx + combined) or _sysfs_rx_queues(ifname)


def _sysfs_rx_queues(ifname: str) -> int:
    try:
        return max(1, sum(1 for q in os.listdir(f"/sys/class/net/{ifname}/queues") if q.startswith("rx-")))
    except OSError:
        return 1


def pair_queue_count(if_a: str, if_b: str, requested: int | None = None) -> int:
    """Worker count for an inline pair: one per active RX queue, the same on both sides.

    Both directions of a flow must reach the same worker, so queue i of A pairs with
    queue i of B: NICs with different active counts are refused (a frame on an unpaired
    queue would find no worker and get the fail mode), and so is a `requested` count
    above what both use."""
    qa, qb = active_rx_queues(if_a), active_rx_queues(if_b)
    if qa != qb:
        big, small = (if_a, if_b) if qa > qb else (if_b, if_a)
        raise NicError(f"{if_a} uses {qa} RX queue(s) and {if_b} {qb}: both sides need the same count "
                       f"(queue i of one pairs with queue i of the other). Equalise them, e.g. "
                       f"`ethtool -L {big} combined {min(qa, qb)}` (or rx/tx for drivers without combined channels)")
    if requested is not None and not 1 <= requested <= qa:
        raise NicError(f"--queues {requested}: {if_a} and {if_b} use {qa} RX queue(s) each "
                       f"(AF_XDP binds only to an active queue)")
    return requested or qa
