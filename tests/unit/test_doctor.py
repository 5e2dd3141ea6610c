"""`xdpfw doctor`: each check against a fake machine (files, ethtool output, capabilities)."""
from __future__ import annotations

import gzip
import json

import pytest

from xdpfw.tools import doctor as D

CONFIG_OK = "CONFIG_BPF_SYSCALL=y\nCONFIG_XDP_SOCKETS=y\nCONFIG_BPF_JIT=y\n"
ALL_CAPS = "CapEff:\t000001ffffffffff\n"
# CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON, CAP_NET_RAW only (bits 39, 12, 38, 13)
UNIT_CAPS = f"CapEff:\t{(1 << 39) | (1 << 12) | (1 << 38) | (1 << 13):016x}\n"

ETHTOOL_I = "driver: {driver}\nversion: 1.0\nbus-info: 0000:00:03.0\n"
ETHTOOL_K = """Features for {dev}:
rx-checksumming: on
generic-receive-offload: {gro}
large-receive-offload: {lro}
rx-gro-hw: {grohw}
"""
ETHTOOL_L = """Channel parameters for {dev}:
Pre-set maximums:
RX:		n/a
TX:		n/a
Other:		1
Combined:	64
Current hardware settings:
RX:		n/a
TX:		n/a
Other:		1
Combined:	{q}
"""
ETHTOOL_X = """RX flow hash indirection table for {dev} with {q} RX ring(s):
    0:      0     1     0     1
RSS hash key:
{key}
RSS hash function:
    toeplitz: on
"""
SYM_KEY = ":".join(["6d:5a"] * 20)
RANDOM_KEY = "be:ac:01:fa:6a:42:b7:3b:80:30:f2:0c:77:cb:2d:a3:ae:7b:30:b4:0c:f2:03:95:dd:76:fe:10:e8:9c:04:71:55:66:a0:9c"


class FakeHost(D.Host):
    def __init__(self, release="6.1.0-18-amd64", files=None, mounts=("/sys/fs/bpf",), caps=ALL_CAPS,
                 memlock=8 << 20, af_xdp=0, bcc=None, ifaces=None, links=None):
        self.release = release
        self.files = {"/proc/config.gz": CONFIG_OK, "/sys/kernel/btf/vmlinux": "",
                      f"/lib/modules/{release}": "", f"/lib/modules/{release}/build/include/generated/autoconf.h": "",
                      "/proc/self/status": caps}
        self.files.update(files or {})
        self.links = {f"/lib/modules/{release}/build": f"/usr/src/linux-headers-{release}"}
        self.links.update(links or {})
        self.mounts = set(mounts)
        self.memlock = memlock
        self.xdp = af_xdp
        self.bcc = bcc
        self.ifaces = ifaces or {}
        self.commands: list[list[str]] = []

    def kernel_release(self):
        return self.release

    def read(self, path):
        return self.files.get(path)

    def exists(self, path):
        return path in self.files or any(k.startswith(path + "/") for k in self.files)

    def ismount(self, path):
        return path in self.mounts

    def listdir(self, path):
        pre = path.rstrip("/") + "/"
        return sorted({k[len(pre):].split("/")[0] for k in self.files if k.startswith(pre)})

    def realpath(self, path):
        return self.links.get(path, path)

    def memlock_limit(self):
        return self.memlock

    def af_xdp_probe(self):
        return self.xdp

    def bcc_import(self):
        return self.bcc

    def run(self, argv):
        self.commands.append(argv)
        prog, opt, dev = argv[0], argv[1], argv[-1]
        i = self.ifaces.get(dev)
        if prog != "ethtool" or i is None:
            return 71, "no such device"
        if opt == "-i":
            return 0, ETHTOOL_I.format(driver=i.get("driver", "ice"))
        if opt == "-k":
            return 0, ETHTOOL_K.format(dev=dev, gro=i.get("gro", "off"), lro=i.get("lro", "off"),
                                       grohw=i.get("grohw", "off"))
        if opt == "-l":
            return 0, ETHTOOL_L.format(dev=dev, q=i.get("queues", 1))
        if opt == "-x":
            if "key" not in i:
                return 95, "Operation not supported"
            return 0, ETHTOOL_X.format(dev=dev, q=i.get("queues", 1), key=i["key"])
        return 1, "unknown option"

    def add_iface(self, dev, mtu=1500, operstate="up", flags=0x1103, **ethtool):
        base = f"/sys/class/net/{dev}"
        self.files[f"{base}/mtu"] = f"{mtu}\n"
        self.files[f"{base}/operstate"] = f"{operstate}\n"
        self.files[f"{base}/flags"] = f"0x{flags:x}\n"
        for q in range(ethtool.get("queues", 1)):
            self.files[f"{base}/queues/rx-{q}/rps_cpus"] = "0"
        self.ifaces[dev] = ethtool
        return self


def by_check(findings):
    return {f.check: f for f in findings}


def statuses(findings):
    return {f.check: f.status for f in findings}


def test_healthy_machine_and_pair_pass():
    h = FakeHost().add_iface("eth1", driver="ice", queues=4, key=SYM_KEY).add_iface("eth2", driver="ice", queues=4,
                                                                                     key=SYM_KEY)
    f = D.diagnose(h, ("eth1", "eth2"))
    assert all(x.status == D.OK for x in f), D.render(f)
    s = statuses(f)
    for check in ("kernel", "kernel config", "AF_XDP", "BTF", "bpffs", "bcc", "kernel headers", "capabilities",
                  "memlock", "eth1: XDP", "eth1: zero-copy", "eth2: offloads", "MTU equal", "queues",
                  "eth1: symmetric RSS", "eth2: symmetric RSS"):
        assert s[check] == D.OK, check


def test_old_kernel_and_missing_config_options_fail():
    f = by_check(D.check_kernel(FakeHost(release="5.4.0-150-generic",
                                         files={"/proc/config.gz": "CONFIG_BPF_SYSCALL=y\n# CONFIG_XDP_SOCKETS is not set\n"})))
    assert f["kernel"].status == D.FAIL and "5.10" in f["kernel"].advice
    assert f["kernel config"].status == D.FAIL
    assert "CONFIG_XDP_SOCKETS" in f["kernel config"].detail and "CONFIG_BPF_JIT" in f["kernel config"].detail
    assert "CONFIG_BPF_SYSCALL" not in f["kernel config"].detail


def test_kernel_config_from_boot_when_no_proc_config():
    h = FakeHost()
    del h.files["/proc/config.gz"]
    h.files[f"/boot/config-{h.release}"] = CONFIG_OK
    assert by_check(D.check_kernel(h))["kernel config"].status == D.OK
    del h.files[f"/boot/config-{h.release}"]
    assert by_check(D.check_kernel(h))["kernel config"].status == D.WARN


def test_af_xdp_probe_errors():
    assert by_check(D.check_kernel(FakeHost(af_xdp=1)))["AF_XDP"].status == D.FAIL
    f = by_check(D.check_kernel(FakeHost(af_xdp=97)))["AF_XDP"]   # EAFNOSUPPORT
    assert f.status == D.FAIL and "CONFIG_XDP_SOCKETS" in f.advice


def test_btf_and_bpffs_missing_warn():
    h = FakeHost(mounts=())
    del h.files["/sys/kernel/btf/vmlinux"]
    f = by_check(D.check_kernel(h))
    assert f["BTF"].status == D.WARN and f["bpffs"].status == D.WARN
    assert "mount -t bpf" in f["bpffs"].advice


def test_bcc_headers_missing_mismatched_and_kheaders():
    h = FakeHost()
    del h.files[f"/lib/modules/{h.release}/build/include/generated/autoconf.h"]
    f = by_check(D.check_bcc(h))["kernel headers"]
    assert f.status == D.FAIL and "linux-headers" in f.advice
    h.files["/sys/kernel/kheaders.tar.xz"] = ""
    assert by_check(D.check_bcc(h))["kernel headers"].status == D.OK
    # no /lib/modules/RELEASE at all (e.g. systemd ProtectKernelModules=yes)
    h = FakeHost()
    for k in [k for k in h.files if k.startswith("/lib/modules")]:
        del h.files[k]
    f = by_check(D.check_bcc(h))["kernel headers"]
    assert f.status == D.FAIL and "ProtectKernelModules" in f.advice
    # headers of another kernel version: works, but say so
    h = FakeHost(release="6.18.4-custom", links={"/lib/modules/6.18.4-custom/build": "/usr/src/linux-headers-6.1.0-56-amd64"})
    f = by_check(D.check_bcc(h))["kernel headers"]
    assert f.status == D.WARN and "6.1.0-56" in f.detail


def test_bcc_not_importable_fails_with_debian_package_advice():
    f = by_check(D.check_bcc(FakeHost(bcc="ModuleNotFoundError: No module named 'bcc'")))["bcc"]
    assert f.status == D.FAIL and "python3-bpfcc" in f.advice and "system-site-packages" in f.advice


def test_capabilities_exact_unit_set_passes_but_memlock_matters():
    f = by_check(D.check_capabilities(FakeHost(caps=UNIT_CAPS, memlock=8 << 20)))
    assert f["capabilities"].status == D.OK
    assert f["memlock"].status == D.FAIL and "LimitMEMLOCK=infinity" in f["memlock"].advice
    f = by_check(D.check_capabilities(FakeHost(caps=UNIT_CAPS, memlock=-1)))
    assert f["memlock"].status == D.OK
    # 64 MiB is enough for one queue pair (32 MiB of UMEM), not for four
    assert by_check(D.check_capabilities(FakeHost(caps=UNIT_CAPS, memlock=64 << 20), 1))["memlock"].status == D.OK
    assert by_check(D.check_capabilities(FakeHost(caps=UNIT_CAPS, memlock=64 << 20), 4))["memlock"].status == D.FAIL


@pytest.mark.parametrize("missing", ["CAP_BPF", "CAP_NET_ADMIN", "CAP_PERFMON", "CAP_NET_RAW"])
def test_each_missing_capability_is_named(missing):
    mask = (1 << 39) | (1 << 12) | (1 << 38) | (1 << 13)
    mask &= ~(1 << D.CAPS[missing][0])
    f = by_check(D.check_capabilities(FakeHost(caps=f"CapEff:\t{mask:016x}\n")))["capabilities"]
    assert f.status == D.FAIL and missing in f.detail
    others = set(D.CAPS) - {missing}
    assert not any(o in f.detail for o in others)


def test_interface_missing():
    f = D.check_interface(FakeHost(), "nope0")
    assert [x.status for x in f] == [D.FAIL] and "nope0" in f[0].detail


def test_copy_mode_driver_and_unknown_xdp_driver_warn():
    h = FakeHost().add_iface("v0", driver="veth").add_iface("x0", driver="r8169")
    f = by_check(D.check_interface(h, "v0"))
    assert f["v0: XDP"].status == D.OK and f["v0: zero-copy"].status == D.WARN
    assert "v0: promiscuous" not in f   # a veth delivers every frame to its peer
    f = by_check(D.check_interface(h, "x0"))
    assert f["x0: XDP"].status == D.WARN and "generic" in f["x0: XDP"].advice


def test_offloads_lro_fails_gro_warns_fixed_warns():
    h = FakeHost().add_iface("e0", driver="ice", lro="on", gro="on", grohw="on [fixed]")
    f = by_check(D.check_interface(h, "e0"))
    assert f["e0: LRO"].status == D.FAIL and "ethtool -K e0 lro off" in f["e0: LRO"].advice
    assert f["e0: GRO"].status == D.WARN and "gro off" in f["e0: GRO"].advice
    assert f["e0: hardware GRO"].status == D.WARN


def test_promisc_and_link_down_and_jumbo_mtu():
    h = FakeHost().add_iface("e0", driver="ice", flags=0x1003, operstate="down", mtu=9000)
    f = by_check(D.check_interface(h, "e0"))
    assert f["e0: promiscuous"].status == D.WARN and "promisc on" in f["e0: promiscuous"].advice
    assert f["e0: link"].status == D.WARN
    assert f["e0: MTU"].status == D.FAIL
    h = FakeHost().add_iface("e1", driver="ice", flags=0x1103)
    assert "e1: promiscuous" not in by_check(D.check_interface(h, "e1"))


def test_pair_mtu_mismatch_and_queue_mismatch_fail():
    h = FakeHost().add_iface("a", driver="ice", mtu=1500, queues=8, key=SYM_KEY) \
                  .add_iface("b", driver="ice", mtu=1400, queues=4, key=SYM_KEY)
    f = by_check(D.check_pair(h, "a", "b"))
    assert f["MTU equal"].status == D.FAIL and "ip link set b mtu 1500" in f["MTU equal"].advice
    assert f["queues"].status == D.FAIL and "ethtool -L a combined 4" in f["queues"].advice
    assert "refuses to start" in f["queues"].advice   # run refuses a pair whose active counts differ


def test_symmetric_rss_hint():
    h = FakeHost().add_iface("a", driver="ice", queues=4, key=RANDOM_KEY).add_iface("b", driver="ice", queues=4)
    f = by_check(D.check_pair(h, "a", "b"))
    assert f["a: symmetric RSS"].status == D.WARN and "hkey 6d:5a" in f["a: symmetric RSS"].advice
    assert f["b: symmetric RSS"].status == D.WARN and "unknown" in f["b: symmetric RSS"].detail
    # one queue: RSS does not matter
    h = FakeHost().add_iface("a", driver="ice", queues=1).add_iface("b", driver="ice", queues=1)
    assert not any("RSS" in x.check for x in D.check_pair(h, "a", "b"))


def test_queue_count_falls_back_to_sysfs_without_ethtool_channels():
    h = FakeHost().add_iface("a", driver="ice", queues=2).add_iface("b", driver="ice", queues=2)
    h.run = lambda argv: (95, "Operation not supported")
    assert D._rx_queues(h, "a") == 2


def test_render_and_exit_status(monkeypatch, capsys):
    h = FakeHost(af_xdp=1)
    monkeypatch.setattr(D, "Host", lambda: h)

    class A:
        inline = None
        json = False
    assert D.run(A()) == 1
    out = capsys.readouterr().out
    assert "[FAIL] AF_XDP" in out and "-> run as root or with CAP_NET_RAW" in out and "1 failure(s)" in out
    A.json = True
    h.xdp = 0
    assert D.run(A()) == 0
    data = json.loads(capsys.readouterr().out)
    assert {d["status"] for d in data} == {"ok"}


def test_real_host_reads_gzip_config(tmp_path):
    p = tmp_path / "config.gz"
    with gzip.open(p, "wt") as f:
        f.write(CONFIG_OK)
    assert D.Host().read(str(p)) == CONFIG_OK
    assert D.Host().read(str(tmp_path / "missing")) is None
    assert D.Host().run(["/nonexistent-xdpfw-tool"])[0] == 127
