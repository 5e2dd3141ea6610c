"""Network namespaces and veth pairs for the lab, the tests and the benchmarks.

The lab is three namespaces: a client and a server, each joined by a veth pair to a
firewall namespace whose two ends are the appliance's "NICs" (side A faces the client,
side B the server). Client and server share one subnet, so the appliance is a bump in
the wire: it forwards frames, it does not route.

    [client ns]  c0 ===veth=== a0  [fw ns: xdpfw]  b0 ===veth=== s0  [server ns]

Everything is created with pyroute2 in namespaces this module names, and removed by
`Lab.destroy()` (deleting a namespace deletes its veths and their XDP programs). Only
addresses from 198.18.0.0/15 (RFC 2544 benchmarking space) are used.
"""
from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import subprocess
import threading
from dataclasses import dataclass, field

from pyroute2 import IPRoute, netns

log = logging.getLogger("xdpfw.lab")

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def netns_exists(name: str) -> bool:
    return name in netns.listnetns()


def run_in(ns: str | None, argv: list[str], check: bool = True, **kw) -> subprocess.CompletedProcess:
    """Run argv inside namespace ns (None = this namespace)."""
    full = (["ip", "netns", "exec", ns] if ns else []) + argv
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    res = subprocess.run(full, **kw)
    if check and res.returncode != 0:
        raise RuntimeError(f"{' '.join(full)} failed ({res.returncode}): {res.stderr.strip()}")
    return res


def popen_in(ns: str | None, argv: list[str], **kw) -> subprocess.Popen:
    full = (["ip", "netns", "exec", ns] if ns else []) + argv
    return subprocess.Popen(full, **kw)


def call_in_netns(ns: str, fn, *args, **kwargs):
    """Call fn in a thread that has entered namespace ns (setns is per thread), so the
    sockets fn opens live there. Returns fn's result or raises its exception."""
    out: dict = {}

    def target():
        try:
            fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns({ns}) failed")
            finally:
                os.close(fd)
            out["value"] = fn(*args, **kwargs)
        except BaseException as e:  # re-raised in the caller's thread
            out["error"] = e

    t = threading.Thread(target=target, name=f"netns-{ns}")
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


@dataclass
class Host:
    ns: str
    ifname: str
    addr: str          # "198.18.0.1/24"

    @property
    def ip(self) -> str:
        return self.addr.split("/")[0]


@dataclass
class Lab:
    """The three-namespace lab. Use as a context manager: destroy() runs even on error."""

    prefix: str = "xdpfw"
    queues: int | None = 1              # active RX/TX queues per veth; None: a plain veth (the kernel's default)
    allocated: int | None = None        # queues allocated, when more than active (as real NICs do)
    subnet: str = "198.18.0"
    client: Host = field(init=False)
    server: Host = field(init=False)
    fw_ns: str = field(init=False)
    side_a: str = "a0"
    side_b: str = "b0"
    created: list[str] = field(default_factory=list, init=False)

    def __post_init__(self):
        self.fw_ns = f"{self.prefix}-fw"
        self.client = Host(f"{self.prefix}-client", "c0", f"{self.subnet}.1/24")
        self.server = Host(f"{self.prefix}-server", "s0", f"{self.subnet}.2/24")

    @property
    def namespaces(self) -> list[str]:
        return [self.client.ns, self.server.ns, self.fw_ns]

    def __enter__(self) -> "Lab":
        try:
            self.create()
        except BaseException:
            self.destroy()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.destroy()

    def create(self) -> None:
        # A previous run killed before its cleanup may have left our namespaces behind.
        for ns in self.namespaces:
            if netns_exists(ns):
                log.warning("removing stale namespace %s", ns)
                netns.remove(ns)
        for ns in self.namespaces:
            netns.create(ns)
            self.created.append(ns)
        for host, fw_if in ((self.client, self.side_a), (self.server, self.side_b)):
            self._veth(host, fw_if)
        log.info("lab up: %s %s -- [%s: %s | %s] -- %s %s", self.client.ns, self.client.addr,
                 self.fw_ns, self.side_a, self.side_b, self.server.ns, self.server.addr)

    def _veth(self, host: Host, fw_if: str) -> None:
        # A veth given numrxqueues uses all of them; one given none allocates one per
        # possible CPU and uses one. `allocated` > `queues` leaves the extra ones unused
        # (ethtool -L), like a NIC with fewer channels configured than it has.
        q = self.allocated or self.queues
        sizes = {"num_rx_queues": q, "num_tx_queues": q} if q else {}
        with IPRoute(netns=self.fw_ns) as ipr:
            ipr.link("add", ifname=fw_if, kind="veth", **sizes,
                     peer={"ifname": host.ifname, "net_ns_fd": host.ns, **sizes})
            idx = ipr.link_lookup(ifname=fw_if)[0]
            ipr.link("set", index=idx, state="up")
        if self.queues and q != self.queues:
            self.set_channels(self.fw_ns, fw_if, self.queues)
            self.set_channels(host.ns, host.ifname, self.queues)
        with IPRoute(netns=host.ns) as ipr:
            idx = ipr.link_lookup(ifname=host.ifname)[0]
            ip, plen = host.addr.split("/")
            ipr.addr("add", index=idx, address=ip, prefixlen=int(plen))
            ipr.link("set", index=idx, state="up")
            lo = ipr.link_lookup(ifname="lo")[0]
            ipr.link("set", index=lo, state="up")
        # End hosts would put complete checksums on a wire; a veth leaves them to be
        # filled later (CHECKSUM_PARTIAL), and that metadata does not survive AF_XDP.
        # GRO on the host end enables its NAPI, which a veth needs to receive frames
        # redirected by XDP (the fail-open devmap path).
        run_in(host.ns, ["ethtool", "-K", host.ifname, "tx", "off", "gro", "on"])

    @staticmethod
    def set_channels(ns: str, ifname: str, n: int) -> None:
        """Make `n` RX and TX queues of a device active (the rest stay allocated, unused)."""
        run_in(ns, ["ethtool", "-L", ifname, "rx", str(n), "tx", str(n)])

    def add_address(self, host: Host, addr: str) -> None:
        with IPRoute(netns=host.ns) as ipr:
            idx = ipr.link_lookup(ifname=host.ifname)[0]
            ip, plen = addr.split("/")
            ipr.addr("add", index=idx, address=ip, prefixlen=int(plen))

    def destroy(self) -> None:
        for ns in reversed(self.created):
            with contextlib.suppress(Exception):
                netns.remove(ns)
        self.created.clear()
        # Namespaces removed by name can linger while a process still runs in them; the
        # veths go with the last reference. Check nothing of ours is left listed.
        left = [ns for ns in self.namespaces if netns_exists(ns)]
        if left:
            log.error("namespaces still present after destroy: %s", left)
