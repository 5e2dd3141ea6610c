"""Load, configure, attach and detach the XDP program (xdpfw/bpf/xdpfw_kern.c) with bcc.

bcc compiles the C at load time against the running kernel's headers (scripts/setup.sh
makes sure they exist) and gives ctypes layouts of every map key and value, built from
the same C text: the shared header is the only definition of those structs.
"""
from __future__ import annotations

import ctypes as ct
import ipaddress
import logging
import socket
import time
from dataclasses import dataclass

from xdpfw.dataplane import shared

log = logging.getLogger("xdpfw.bpf")

KERN_C = shared.BPF_DIR / "xdpfw_kern.c"
PROG_NAME = "xdpfw_ingress"

# bcc attach flags (linux/if_link.h)
XDP_FLAGS_SKB_MODE = 1 << 1
XDP_FLAGS_DRV_MODE = 1 << 2


class BpfLoadError(RuntimeError):
    pass


@dataclass
class AclTables:
    """Compiled kernel ACL: CIDR -> protocol mask per direction and family, port -> mask."""

    src: dict[ipaddress.IPv4Network | ipaddress.IPv6Network, int]
    dst: dict[ipaddress.IPv4Network | ipaddress.IPv6Network, int]
    sport: dict[int, int]
    dport: dict[int, int]

    @classmethod
    def empty(cls) -> "AclTables":
        return cls({}, {}, {}, {})

    def flags(self) -> int:
        f = 0
        for nets, v4flag, v6flag in ((self.src, shared.ACL_SRC_V4, shared.ACL_SRC_V6),
                                     (self.dst, shared.ACL_DST_V4, shared.ACL_DST_V6)):
            if any(n.version == 4 for n in nets):
                f |= v4flag
            if any(n.version == 6 for n in nets):
                f |= v6flag
        if self.sport:
            f |= shared.ACL_SPORT
        if self.dport:
            f |= shared.ACL_DPORT
        return f

    def __len__(self) -> int:
        return len(self.src) + len(self.dst) + len(self.sport) + len(self.dport)


class XdpProgram:
    """The loaded program and its maps for one appliance (one pair of interfaces)."""

    def __init__(self, cflags: list[str] | None = None):
        try:
            from bcc import BPF  # Debian's python3-bpfcc (the PyPI "bcc" is unrelated)
        except ImportError as e:  # pragma: no cover - setup.sh installs it
            raise BpfLoadError("bcc is not importable: install Debian's python3-bpfcc "
                               "and use a venv with --system-site-packages") from e
        self._BPF = BPF
        flags = [f"-I{shared.BPF_DIR}", "-Wno-unused-function"] + list(cflags or [])
        try:
            self.bpf = BPF(src_file=str(KERN_C).encode(), cflags=flags)
            self.fn = self.bpf.load_func(PROG_NAME.encode(), BPF.XDP)
        except Exception as e:
            raise BpfLoadError(f"cannot load {KERN_C.name}: {e} (kernel headers for bcc: "
                               "run scripts/setup.sh; `xdpfw doctor` explains)") from e
        self.attached: list[str] = []

    # -- configuration -------------------------------------------------------------
    def configure(self, ifindex_a: int, ifindex_b: int, fail_open: bool, acl: AclTables) -> None:
        cfg_map = self.bpf[b"config_map"]
        cfg = cfg_map.Leaf()
        cfg.ifindex[shared.SIDE_A] = ifindex_a
        cfg.ifindex[shared.SIDE_B] = ifindex_b
        cfg.fail_mode = shared.FAIL_OPEN if fail_open else shared.FAIL_CLOSED
        cfg.acl_flags = 0  # enable lookups only once the maps are filled
        cfg_map[ct.c_int(0)] = cfg
        peers = self.bpf[b"peer_map"]
        peers[ct.c_int(shared.SIDE_A)] = ct.c_int(ifindex_b)
        peers[ct.c_int(shared.SIDE_B)] = ct.c_int(ifindex_a)
        self.load_acl(acl)

    def load_acl(self, acl: AclTables, *, live: bool = False, add_only: bool = False,
                 flags: int | None = None) -> None:
        """The one writer of the kernel ACL maps: start (configure) and reload both use it.

        Entries are written in place, never by clearing a map; unless `add_only`, entries
        not in `acl` are deleted afterwards, so the maps end up holding exactly `acl`.
        The lookup-enable mask `flags` (default: acl.flags()) is stored last.

        While the maps change:
          - live=False (start): every ACL lookup is disabled first, so a frame never sees
            a half-written ACL; frames in that window go to the worker.
          - live=True (reload): lookups stay on and an entry present before and after is
            never missing, not even for one frame. When entries are removed, the lookups
            of maps that become empty stop (mask narrowed to the current one AND `flags`)
            before their entries go.
        """
        flags = acl.flags() if flags is None else flags
        cfg_map = self.bpf[b"config_map"]
        if not live or not add_only:
            cfg = cfg_map[ct.c_int(0)]
            cfg.acl_flags = cfg.acl_flags & flags if live else 0
            cfg_map[ct.c_int(0)] = cfg
        for name, nets in (("src", acl.src), ("dst", acl.dst)):
            for fam in (4, 6):
                table = self.bpf[f"acl_{name}_v{fam}".encode()]
                wanted = {}
                for net, mask in nets.items():
                    if net.version != fam:
                        continue
                    k = table.Key()
                    k.prefixlen = net.prefixlen
                    ct.memmove(k.addr, net.network_address.packed, len(net.network_address.packed))
                    wanted[(net.prefixlen, bytes(k.addr))] = (k, mask)
                for k, mask in wanted.values():
                    table[k] = ct.c_uint32(mask)
                if not add_only:
                    for k in list(table.keys()):
                        if (k.prefixlen, bytes(k.addr)) not in wanted:
                            del table[k]
        for name, ports in (("sport", acl.sport), ("dport", acl.dport)):
            table = self.bpf[f"acl_{name}".encode()]
            for port, mask in ports.items():
                table[ct.c_int(port)] = ct.c_uint32(mask)
            if not add_only:
                for port in range(65536):
                    if port not in ports and table[ct.c_int(port)].value:
                        table[ct.c_int(port)] = ct.c_uint32(0)
        cfg = cfg_map[ct.c_int(0)]
        cfg.acl_flags = flags
        cfg_map[ct.c_int(0)] = cfg

    def set_watchdog(self, timeout_ns: int) -> None:
        """Fail over when no beat() came for timeout_ns (0: never). Beats first."""
        self.beat()
        cfg_map = self.bpf[b"config_map"]
        cfg = cfg_map[ct.c_int(0)]
        cfg.watchdog_ns = timeout_ns
        cfg_map[ct.c_int(0)] = cfg

    def beat(self) -> None:
        """Record that the workers are alive (CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns)."""
        self.bpf[b"heartbeat_map"][ct.c_int(0)] = ct.c_uint64(time.monotonic_ns())

    def set_fail_open(self, fail_open: bool) -> None:
        cfg_map = self.bpf[b"config_map"]
        cfg = cfg_map[ct.c_int(0)]
        cfg.fail_mode = shared.FAIL_OPEN if fail_open else shared.FAIL_CLOSED
        cfg_map[ct.c_int(0)] = cfg

    # -- flow bypass (bypass_map, xdpfw_shared.h) --------------------------------------
    def set_bypass(self, on: bool) -> None:
        """Look frames up in bypass_map (the engines write it, see Engine.set_bypass_map)."""
        cfg_map = self.bpf[b"config_map"]
        cfg = cfg_map[ct.c_int(0)]
        cfg.bypass = 1 if on else 0
        cfg_map[ct.c_int(0)] = cfg

    @property
    def bypass_map_fd(self) -> int:
        return self.bpf[b"bypass_map"].map_fd

    def sweep_bypass(self, idle_ns: int, now_ns: int | None = None) -> tuple[int, int, int]:
        """Remove entries idle for idle_ns or more (the flow timeout: XDP itself removes a
        flow's entries at its SYN, FIN or RST). Returns (entries left, removed, packets the
        removed ones had forwarded)."""
        now = time.monotonic_ns() if now_ns is None else now_ns
        table = self.bpf[b"bypass_map"]
        left = removed = pkts = 0
        for k, v in list(table.items()):
            if now - v.last_ns >= idle_ns:
                try:
                    del table[k]
                except KeyError:
                    continue   # XDP removed it meanwhile
                removed += 1
                pkts += v.packets
            else:
                left += 1
        return left, removed, pkts

    def bind_socket(self, side: int, queue: int, fd: int) -> None:
        self.bpf[b"xsks_map"][ct.c_int(shared.xsk_key(side, queue))] = ct.c_int(fd)

    def unbind_socket(self, side: int, queue: int) -> None:
        try:
            del self.bpf[b"xsks_map"][ct.c_int(shared.xsk_key(side, queue))]
        except KeyError:
            pass  # already gone: the kernel removes entries when a socket closes

    # -- attach / detach -------------------------------------------------------------
    def attach(self, ifname: str, mode: str = "native") -> None:
        flags = {"native": XDP_FLAGS_DRV_MODE, "generic": XDP_FLAGS_SKB_MODE}[mode]
        try:
            self._BPF.attach_xdp(ifname.encode(), self.fn, flags)
        except Exception as e:
            raise BpfLoadError(f"cannot attach XDP ({mode}) to {ifname}: {e}") from e
        self.attached.append(ifname)
        log.info("attached %s (%s XDP) to %s", PROG_NAME, mode, ifname)

    def detach_all(self) -> None:
        while self.attached:
            ifname = self.attached.pop()
            detach(ifname)

    # -- counters ----------------------------------------------------------------------
    def action_counters(self) -> list[list[tuple[int, int]]]:
        """[side][action] -> (packets, bytes), summed over CPUs. Scrape time only."""
        stats = self.bpf[b"stats_map"]
        out = []
        for side in range(shared.NSIDES):
            row = []
            for action in range(len(shared.XDP_ACTIONS)):
                per_cpu = stats[ct.c_int(side * len(shared.XDP_ACTIONS) + action)]
                row.append((sum(v.packets for v in per_cpu), sum(v.bytes for v in per_cpu)))
            out.append(row)
        return out


def detach(ifname: str) -> None:
    """Remove whatever XDP program is attached to ifname (all modes)."""
    from bcc import BPF

    for flags in (XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE):
        try:
            BPF.remove_xdp(ifname.encode(), flags)
        except Exception as e:  # the link may be gone already
            log.debug("remove_xdp(%s, %#x): %s", ifname, flags, e)
    log.info("detached XDP from %s", ifname)


def ifindex(ifname: str) -> int:
    try:
        return socket.if_nametoindex(ifname)
    except OSError as e:
        raise BpfLoadError(f"no such interface: {ifname}") from e
