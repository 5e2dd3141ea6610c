"""Header tricks and encapsulation, live (issue 11, family 2): `xdpfw run` inline in the
lab, with its defaults (decode-error: drop). What the server's kernel receives is what
counts: a UDP socket for what the kernel accepts (nine IPv6 Destination Options headers,
a real VXLAN tunnel between the two hosts), a packet socket on the server's link for
layouts the lab kernel has no tunnel driver for (GRE) and for frames it would discard.
Every attack is checked against a clean twin that does arrive, so a broken path cannot
pass for a drop."""
from __future__ import annotations

import socket
import time

from pyroute2 import IPRoute
from scapy.layers.inet import GRE, IP, UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrDestOpt
from scapy.layers.l2 import Ether

from xdpfw.tools.lab import ApplianceProcess, metric
from xdpfw.tools.netns import call_in_netns, run_in

RULES = """\
drop udp any any -> any 5353 (msg:"attack payload"; content:"ATTACK-7"; sid:1; rev:1;)
drop ip any any -> 198.19.78.3 any (msg:"blocked inner host"; sid:2; rev:1;)
"""
C6, S6 = "2001:db8:77::1", "2001:db8:77::2"
VX_C, VX_S, VX_BLOCKED = "198.19.78.1", "198.19.78.2", "198.19.78.3"
ETH_P_ALL = 0x0003


def _mac(ns: str, ifname: str) -> str:
    with IPRoute(netns=ns) as ipr:
        return ipr.get_links(ifname=ifname)[0].get_attr("IFLA_ADDRESS")


def _udp_server(ns: str, family: int, port: int = 5353) -> socket.socket:
    def make():
        s = socket.socket(family, socket.SOCK_DGRAM)
        s.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", port))
        s.settimeout(0.2)
        return s
    return call_in_netns(ns, make)


def _received(sock: socket.socket, seconds: float) -> list[bytes]:
    out, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            out.append(sock.recv(65535))
        except (TimeoutError, socket.timeout, BlockingIOError):
            pass
    return out


def _link_socket(ns: str, ifname: str) -> socket.socket:
    def make():
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind((ifname, ETH_P_ALL))
        s.settimeout(0.2)
        return s
    return call_in_netns(ns, make)


def _send_frames(ns: str, ifname: str, frames: list[bytes]) -> None:
    def send():
        with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
            s.bind((ifname, 0))
            for f in frames:
                s.send(f)
    call_in_netns(ns, send)


def _udp_send(ns: str, family: int, dst: str, payloads: list[bytes], sport: int) -> None:
    def send():
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", sport))
            for p in payloads:
                s.sendto(p, (dst, 5353))
    call_in_netns(ns, send)


def _vxlan(lab) -> None:
    for host, peer, inner in ((lab.client, lab.server, VX_C), (lab.server, lab.client, VX_S)):
        run_in(host.ns, ["ip", "link", "add", "vx0", "type", "vxlan", "id", "42", "local", host.ip,
                         "remote", peer.ip, "dstport", "4789", "dev", host.ifname])
        run_in(host.ns, ["ip", "addr", "add", f"{inner}/24", "dev", "vx0"])
        run_in(host.ns, ["ip", "link", "set", "vx0", "up"])
        run_in(host.ns, ["ethtool", "-K", "vx0", "tx", "off"])
    run_in(lab.server.ns, ["ip", "addr", "add", f"{VX_BLOCKED}/24", "dev", "vx0"])


def test_encapsulated_and_chained_attacks_are_dropped_inline(lab, tmp_path):
    rules = tmp_path / "encap.rules"
    rules.write_text(RULES)
    for host, addr in ((lab.client, C6), (lab.server, S6)):
        run_in(host.ns, ["ip", "-6", "addr", "add", f"{addr}/64", "dev", host.ifname, "nodad"])
    _vxlan(lab)
    cmac, smac = _mac(lab.client.ns, lab.client.ifname), _mac(lab.server.ns, lab.server.ifname)
    eth = Ether(src=cmac, dst=smac)

    def dstopts9(payload: bytes, sport: int) -> bytes:
        ip = IPv6(src=C6, dst=S6, hlim=64)
        for _ in range(9):
            ip = ip / IPv6ExtHdrDestOpt()
        return bytes(eth / ip / UDP(sport=sport, dport=5353) / payload)

    def gre(payload: bytes, sport: int) -> bytes:
        return bytes(eth / IP(src=lab.client.ip, dst=lab.server.ip, ttl=64) / GRE(proto=0x0800)
                     / IP(src="198.19.77.1", dst="198.19.77.2", ttl=64) / UDP(sport=sport, dport=5353) / payload)

    def unknown_nh(payload: bytes) -> bytes:   # a mobility header (135) before UDP
        udp = bytes(UDP(sport=4999, dport=5353, len=8 + len(payload), chksum=0)) + payload
        return bytes(eth / IPv6(src=C6, dst=S6, hlim=64, nh=135) / (bytes([17, 0]) + bytes(6) + udp))

    with ApplianceProcess(lab, "--rules", str(rules)) as app:
        assert any("1 ACL entries" in line for line in app.output), app.output   # sid 2 is in the kernel
        # 1. Nine destination options headers: the server's kernel accepts them (the clean
        #    datagram arrives on its socket); the attack never does.
        srv6 = _udp_server(lab.server.ns, socket.AF_INET6)
        try:
            _send_frames(lab.client.ns, lab.client.ifname, [dstopts9(b"clean-nine", 5001)])
            assert _received(srv6, 1.5) == [b"clean-nine"]
            _send_frames(lab.client.ns, lab.client.ifname, [dstopts9(b"xx ATTACK-7 xx", 5002)])
            assert _received(srv6, 1.5) == []
        finally:
            srv6.close()

        # 2. A real VXLAN tunnel between the hosts: the attack inside is dropped, clean
        #    datagrams arrive, and a host inside the tunnel that a kernel-ACL rule blocks
        #    (the XDP program sees only the outer header) is blocked by the engine.
        srv4 = _udp_server(lab.server.ns, socket.AF_INET)
        try:
            got = []
            for _ in range(20):          # the first ones wait for ARP over the tunnel
                _udp_send(lab.client.ns, socket.AF_INET, VX_S, [b"clean-vxlan"], 6001)
                got = _received(srv4, 0.25)
                if got:
                    break
            assert got and set(got) == {b"clean-vxlan"}
            _received(srv4, 0.5)
            _udp_send(lab.client.ns, socket.AF_INET, VX_S, [b"xx ATTACK-7 xx"], 6002)
            assert _received(srv4, 1.5) == []
            _udp_send(lab.client.ns, socket.AF_INET, VX_S, [b"clean-again"], 6003)
            assert _received(srv4, 1.5) == [b"clean-again"]
            _udp_send(lab.client.ns, socket.AF_INET, VX_BLOCKED, [b"to-blocked-host"] * 3, 6004)
            assert _received(srv4, 1.5) == []
        finally:
            srv4.close()

        # 3. GRE (no GRE driver in the lab kernel): what reaches the server's link.
        link = _link_socket(lab.server.ns, lab.server.ifname)
        try:
            _send_frames(lab.client.ns, lab.client.ifname,
                         [gre(b"clean-gre", 7001), gre(b"xx ATTACK-7 xx", 7002), unknown_nh(b"clean-unknown-nh")])
            seen = b"".join(_received(link, 1.5))
            assert b"clean-gre" in seen
            assert b"ATTACK-7" not in seen
            assert b"clean-unknown-nh" not in seen      # not inspectable: the decode-error default drops it
        finally:
            link.close()

        m = app.metrics()
        assert metric(m, "xdpfw_dropped_packets_total", device=lab.side_a, reason="rule") >= 4
        assert metric(m, "xdpfw_dropped_packets_total", device=lab.side_a, reason="decode_error") >= 1
        assert metric(m, "xdpfw_decode_events_total", event="ipv6.unknown_next_header") >= 1
        assert metric(m, "xdpfw_decode_events_total", event="ipv6.exthdr_too_many") >= 2
