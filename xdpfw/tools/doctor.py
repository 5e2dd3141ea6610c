"""`xdpfw doctor [--inline A B]`: is this machine (and this pair of interfaces) ready to run
xdpfw inline, and if not, what to do about it.

Every check yields a Finding: ok, warn (xdpfw runs, but something will hurt: performance,
inspection coverage, a surprise) or fail (xdpfw will not start, or will not inspect all
traffic), each with the advice to fix it. The exit status is 1 when any check failed.

The machine is read through a `Host` (files, sysfs, ethtool, capabilities, a socket
probe), so the checks are unit-tested against fakes (tests/unit/test_doctor.py) and the
real Host is tested against veths in a namespace (tests/priv/test_doctor_veth.py).
"""
from __future__ import annotations

import gzip
import json
import os
import re
import resource
import socket
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

OK, WARN, FAIL = "ok", "warn", "fail"
MIN_KERNEL = (5, 10)        # XDP_SHARED_UMEM across devices (one UMEM, two NICs)
AF_XDP = 44
UMEM_BYTES_PER_QUEUE = 8192 * 4096   # default frames x frame size, per queue pair
UMEM_FRAME = 4096
L2_OVERHEAD = 14 + 2 * 4             # Ethernet header + two VLAN tags

# Linux capability numbers (include/uapi/linux/capability.h) the appliance needs, and why.
CAPS = {
    "CAP_NET_ADMIN": (12, "XDP program type, DEVMAP, attaching XDP to the interfaces"),
    "CAP_NET_RAW": (13, "creating AF_XDP sockets"),
    "CAP_PERFMON": (38, "the verifier refuses the program's packet-pointer arithmetic without it"),
    "CAP_BPF": (39, "creating maps, loading BTF and the XDP program"),
}
CAP_IPC_LOCK = 14
CAP_SYS_ADMIN = 21

# Drivers with native (driver-mode) XDP, and those whose AF_XDP sockets can bind zero-copy
# (kernel 6.x drivers/net; "auto" tries zero-copy and falls back to copy mode).
NATIVE_XDP = {"veth", "virtio_net", "tun", "i40e", "ice", "ixgbe", "ixgbevf", "igb", "igc", "mlx4_en",
              "mlx5_core", "bnxt_en", "nfp", "ena", "qede", "thunder_nicvf", "stmmac", "dpaa2-eth",
              "sfc", "netsec", "mvneta", "mvpp2", "fec", "enetc", "lan743x", "ionic", "idpf", "gve",
              "bond", "netdevsim"}
ZERO_COPY = {"i40e", "ice", "ixgbe", "igc", "mlx5_core", "stmmac", "gve", "idpf", "fec", "enetc"}
# Symmetric Toeplitz key (0x6d5a repeated): both directions of a flow hash alike.
SYMMETRIC_KEY = "6d:5a"


@dataclass
class Finding:
    check: str
    status: str           # ok | warn | fail
    detail: str
    advice: str = ""


class Host:
    """The real machine. Tests replace it with a fake that has the same methods."""

    def kernel_release(self) -> str:
        return os.uname().release

    def read(self, path: str) -> str | None:
        try:
            if path.endswith(".gz"):
                with gzip.open(path, "rt", errors="replace") as f:
                    return f.read()
            return Path(path).read_text(errors="replace")
        except OSError:
            return None

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def ismount(self, path: str) -> bool:
        return os.path.ismount(path)

    def listdir(self, path: str) -> list[str]:
        try:
            return os.listdir(path)
        except OSError:
            return []

    def realpath(self, path: str) -> str:
        return os.path.realpath(path)

    def run(self, argv: list[str]) -> tuple[int, str]:
        """(exit status, stdout+stderr); 127 when the program is missing."""
        try:
            res = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        except FileNotFoundError:
            return 127, f"{argv[0]}: not found"
        except subprocess.TimeoutExpired:
            return 124, f"{argv[0]}: timed out"
        return res.returncode, res.stdout + res.stderr

    def memlock_limit(self) -> int:
        """Soft RLIMIT_MEMLOCK in bytes (-1: unlimited)."""
        soft, _ = resource.getrlimit(resource.RLIMIT_MEMLOCK)
        return -1 if soft == resource.RLIM_INFINITY else soft

    def af_xdp_probe(self) -> int:
        """0 if an AF_XDP socket can be created, else the errno."""
        try:
            socket.socket(AF_XDP, socket.SOCK_RAW, 0).close()
            return 0
        except OSError as e:
            return e.errno or -1

    def bcc_import(self) -> str | None:
        """None if bcc imports, else the error."""
        try:
            import bcc  # noqa: F401
            return None
        except Exception as e:  # noqa: BLE001 - reported as a finding
            return f"{type(e).__name__}: {e}"


def _version(release: str) -> tuple[int, int]:
    m = re.match(r"(\d+)\.(\d+)", release)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def _cap_mask(status: str | None, field: str = "CapEff") -> int | None:
    if status is None:
        return None
    m = re.search(rf"^{field}:\s*([0-9a-fA-F]+)", status, re.M)
    return int(m.group(1), 16) if m else None


# -- system checks ---------------------------------------------------------------------------

def check_kernel(h: Host) -> list[Finding]:
    rel = h.kernel_release()
    out = []
    ver = _version(rel)
    if ver < MIN_KERNEL:
        out.append(Finding("kernel", FAIL, f"Linux {rel}",
                           f"xdpfw needs Linux >= {MIN_KERNEL[0]}.{MIN_KERNEL[1]} (AF_XDP shared UMEM across "
                           "two devices); upgrade the kernel (Debian 12: 6.1)"))
    else:
        out.append(Finding("kernel", OK, f"Linux {rel}"))
    config = None
    for path in ("/proc/config.gz", f"/boot/config-{rel}"):
        config = h.read(path)
        if config:
            break
    if not config:
        out.append(Finding("kernel config", WARN, "no /proc/config.gz or /boot/config-RELEASE to read",
                           "the AF_XDP probe below still tells whether sockets can be made"))
    else:
        need = {"CONFIG_BPF_SYSCALL": "bpf(2)", "CONFIG_XDP_SOCKETS": "AF_XDP", "CONFIG_BPF_JIT": "BPF JIT"}
        missing = [f"{k} ({v})" for k, v in need.items() if not re.search(rf"^{k}=y", config, re.M)]
        if missing:
            out.append(Finding("kernel config", FAIL, "not built in: " + ", ".join(missing),
                               "use a kernel built with these options (every Debian kernel is)"))
        else:
            out.append(Finding("kernel config", OK, "BPF syscall, AF_XDP sockets and the BPF JIT built in"))
    err = h.af_xdp_probe()
    if err == 0:
        out.append(Finding("AF_XDP", OK, "an AF_XDP socket can be created"))
    elif err == 1:  # EPERM
        out.append(Finding("AF_XDP", FAIL, "creating an AF_XDP socket is not permitted",
                           "run as root or with CAP_NET_RAW (deploy/systemd/xdpfw.service)"))
    else:
        out.append(Finding("AF_XDP", FAIL, f"cannot create an AF_XDP socket: {os.strerror(err) if err > 0 else err}",
                           "the kernel lacks CONFIG_XDP_SOCKETS"))
    if h.exists("/sys/kernel/btf/vmlinux"):
        out.append(Finding("BTF", OK, "/sys/kernel/btf/vmlinux present"))
    else:
        out.append(Finding("BTF", WARN, "no /sys/kernel/btf/vmlinux",
                           "xdpfw does not need BTF (bcc compiles against headers), but bpftool and "
                           "CO-RE tools do: a kernel with CONFIG_DEBUG_INFO_BTF=y"))
    if h.ismount("/sys/fs/bpf"):
        out.append(Finding("bpffs", OK, "/sys/fs/bpf mounted"))
    else:
        out.append(Finding("bpffs", WARN, "/sys/fs/bpf is not mounted",
                           "xdpfw pins nothing, but the tests and bpftool expect it: mount -t bpf bpf /sys/fs/bpf "
                           "(under `ip netns exec`, /sys is remounted for the namespace, without bpffs)"))
    return out


def check_bcc(h: Host) -> list[Finding]:
    out = []
    err = h.bcc_import()
    if err is None:
        out.append(Finding("bcc", OK, "python bcc module imports"))
    else:
        out.append(Finding("bcc", FAIL, f"cannot import bcc ({err})",
                           "apt install python3-bpfcc, and use a venv made with --system-site-packages "
                           "(the PyPI package named bcc is unrelated)"))
    rel = h.kernel_release()
    build = f"/lib/modules/{rel}/build"
    if h.exists(f"{build}/include/generated/autoconf.h"):
        target = h.realpath(build)
        m = re.search(r"linux-headers-(\d+\.\d+)", target)
        if m and _version(m.group(1)) != _version(rel):
            out.append(Finding("kernel headers", WARN, f"{build} -> {target} (not {rel})",
                               "bcc compiles the XDP program against these; the program uses only stable "
                               f"UAPI, so it works, but install linux-headers-{rel} when it exists"))
        else:
            out.append(Finding("kernel headers", OK, f"{build} ({target})"))
    elif h.exists("/sys/kernel/kheaders.tar.xz"):
        out.append(Finding("kernel headers", OK, "in-kernel headers (/sys/kernel/kheaders.tar.xz)"))
    elif not h.exists(f"/lib/modules/{rel}"):
        out.append(Finding("kernel headers", FAIL, f"/lib/modules/{rel} is not there",
                           "apt install linux-headers-$(uname -r) (or scripts/setup.sh); under systemd, "
                           "ProtectKernelModules=yes hides /lib/modules: do not set it"))
    else:
        out.append(Finding("kernel headers", FAIL, f"no headers at {build} for bcc",
                           "apt install linux-headers-$(uname -r), or run scripts/setup.sh which points "
                           "bcc at the distribution's headers"))
    return out


def check_capabilities(h: Host, queues: int = 1) -> list[Finding]:
    status = h.read("/proc/self/status")
    eff = _cap_mask(status)
    if eff is None:
        return [Finding("capabilities", WARN, "cannot read /proc/self/status", "")]
    missing = [f"{name} ({why})" for name, (bit, why) in CAPS.items() if not eff >> bit & 1]
    out = []
    if missing:
        out.append(Finding("capabilities", FAIL, "missing: " + "; ".join(missing),
                           "run as root, or with the unit's AmbientCapabilities "
                           "(deploy/systemd/xdpfw.service)"))
    else:
        out.append(Finding("capabilities", OK, "CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON, CAP_NET_RAW"))
    need = UMEM_BYTES_PER_QUEUE * max(1, queues)
    limit = h.memlock_limit()
    if eff >> CAP_IPC_LOCK & 1:
        out.append(Finding("memlock", OK, "CAP_IPC_LOCK: UMEM is not charged to RLIMIT_MEMLOCK"))
    elif limit != -1 and limit < need:
        out.append(Finding("memlock", FAIL,
                           f"RLIMIT_MEMLOCK {limit >> 20} MiB < {need >> 20} MiB of UMEM for {queues} queue pair(s)",
                           "LimitMEMLOCK=infinity in the unit, or `ulimit -l unlimited` before xdpfw run"))
    else:
        out.append(Finding("memlock", OK, "RLIMIT_MEMLOCK unlimited" if limit == -1
                           else f"RLIMIT_MEMLOCK {limit >> 20} MiB >= {need >> 20} MiB"))
    return out


# -- interface checks ------------------------------------------------------------------------

def _ethtool_features(text: str) -> dict[str, tuple[bool, bool]]:
    """`ethtool -k` -> {feature: (on, fixed)}"""
    out = {}
    for line in text.splitlines():
        m = re.match(r"\s*([\w-]+):\s+(on|off)(\s+\[fixed\])?", line)
        if m:
            out[m.group(1)] = (m.group(2) == "on", bool(m.group(3)))
    return out


def _ifnum(h: Host, dev: str, name: str) -> int | None:
    v = h.read(f"/sys/class/net/{dev}/{name}")
    try:
        return int(v.strip(), 0) if v is not None else None
    except ValueError:
        return None


def check_interface(h: Host, dev: str) -> list[Finding]:
    c = f"{dev}:"
    if not h.exists(f"/sys/class/net/{dev}"):
        return [Finding(f"{c} present", FAIL, f"no interface {dev} in this network namespace",
                        "check the name (ip link); in a namespace, run doctor inside it (ip netns exec NS ...)")]
    out = []
    oper = (h.read(f"/sys/class/net/{dev}/operstate") or "unknown").strip()
    out.append(Finding(f"{c} link", OK if oper in ("up", "unknown") else WARN, f"operstate {oper}",
                       "" if oper in ("up", "unknown") else f"ip link set {dev} up, and check the cable/peer"))
    rc, text = h.run(["ethtool", "-i", dev])
    m = re.search(r"^driver:\s*(\S+)", text, re.M) if rc == 0 else None
    driver = m.group(1) if m else None
    if driver is None:
        out.append(Finding(f"{c} driver", WARN, "ethtool -i gave no driver" + ("" if rc != 127 else " (ethtool missing)"),
                           "apt install ethtool"))
    else:
        if driver in NATIVE_XDP:
            out.append(Finding(f"{c} XDP", OK, f"driver {driver}: native XDP"))
        else:
            out.append(Finding(f"{c} XDP", WARN, f"driver {driver}: native XDP not known to be supported",
                               "if attaching fails, xdp-mode: generic works everywhere (much slower)"))
        if driver in ZERO_COPY:
            out.append(Finding(f"{c} zero-copy", OK, f"driver {driver} supports AF_XDP zero-copy"))
        else:
            out.append(Finding(f"{c} zero-copy", WARN, f"driver {driver}: AF_XDP copy mode (one copy per frame "
                               "in the kernel)", "fine for labs and modest rates; zero-copy needs e.g. ice, i40e, "
                               "ixgbe, igc, mlx5_core"))
    mtu = _ifnum(h, dev, "mtu")
    if mtu is not None and mtu + L2_OVERHEAD > UMEM_FRAME - 256:
        out.append(Finding(f"{c} MTU", FAIL, f"MTU {mtu} does not fit a {UMEM_FRAME}-byte UMEM frame",
                           f"ip link set {dev} mtu 1500 (jumbo frames are not supported yet)"))
    rc, text = h.run(["ethtool", "-k", dev])
    feats = _ethtool_features(text) if rc == 0 else {}
    for feat, name in (("large-receive-offload", "LRO"), ("rx-gro-hw", "hardware GRO")):
        on, fixed = feats.get(feat, (False, False))
        if on and fixed:
            out.append(Finding(f"{c} {name}", WARN, f"{feat} on [fixed]",
                               "the driver cannot turn it off; drivers disable it while an XDP program is "
                               "attached - check the xdpfw_xsk_rx_dropped_total metric"))
        elif on:
            out.append(Finding(f"{c} {name}", FAIL, f"{feat} on: merged frames exceed the MTU and a UMEM frame",
                               f"ethtool -K {dev} {'lro' if feat.startswith('large') else 'rx-gro-hw'} off"))
    on, _ = feats.get("generic-receive-offload", (False, False))
    if on:
        out.append(Finding(f"{c} GRO", WARN, "generic-receive-offload on",
                           f"harmless in native XDP mode (XDP runs first), merges frames in generic mode; "
                           f"Suricata's IPS guide says off: ethtool -K {dev} gro off"))
    elif feats:
        out.append(Finding(f"{c} offloads", OK, "GRO and LRO off"))
    flags = _ifnum(h, dev, "flags")
    if flags is not None and driver not in ("veth", None) and not flags & 0x100:
        out.append(Finding(f"{c} promiscuous", WARN, "not in promiscuous mode",
                           f"an inline bridge must receive frames for every MAC: ip link set {dev} promisc on"))
    return out


def _rx_queues(h: Host, dev: str) -> int:
    rc, text = h.run(["ethtool", "-l", dev])
    if rc == 0:
        cur = text.split("Current hardware settings:")[-1]
        vals = {k: int(v) for k, v in re.findall(r"^(RX|Combined):\s*(\d+)", cur, re.M)}
        n = vals.get("Combined", 0) + vals.get("RX", 0)
        if n:
            return n
    return max(1, len([q for q in h.listdir(f"/sys/class/net/{dev}/queues") if q.startswith("rx-")]))


def check_pair(h: Host, a: str, b: str) -> list[Finding]:
    out = []
    if a == b:
        return [Finding("pair", FAIL, "the two sides are the same interface", "give two interfaces")]
    mtu_a, mtu_b = _ifnum(h, a, "mtu"), _ifnum(h, b, "mtu")
    if mtu_a is not None and mtu_b is not None:
        if mtu_a != mtu_b:
            out.append(Finding("MTU equal", FAIL, f"{a} {mtu_a} != {b} {mtu_b}",
                               f"a frame that fits one side is dropped on the other: "
                               f"ip link set {b if mtu_b < mtu_a else a} mtu {max(mtu_a, mtu_b)}"))
        else:
            out.append(Finding("MTU equal", OK, f"{mtu_a} on both"))
    qa, qb = _rx_queues(h, a), _rx_queues(h, b)
    if qa != qb:
        out.append(Finding("queues", FAIL, f"{a} has {qa} RX queue(s), {b} has {qb}",
                           "xdpfw refuses to start (queue i of one side pairs with queue i of the other, "
                           "and frames on an unpaired queue would find no worker). Equalise: "
                           f"ethtool -L {a if qa > qb else b} combined {min(qa, qb)}"))
    else:
        out.append(Finding("queues", OK, f"{qa} RX queue(s) on both: {qa} worker(s)"))
    if max(qa, qb) > 1:
        for dev in (a, b):
            rc, text = h.run(["ethtool", "-x", dev])
            key = re.search(r"RSS hash key:\s*\n?\s*([0-9a-fA-F:]+)", text) if rc == 0 else None
            k = key.group(1).lower() if key else ""
            if k and k.startswith(SYMMETRIC_KEY) and set(k.replace(":", "")) <= set("6d5a") and \
                    all(k[i:i + 5] == SYMMETRIC_KEY for i in range(0, len(k) - 4, 6)):
                out.append(Finding(f"{dev}: symmetric RSS", OK, "RSS key 6d:5a repeated (symmetric Toeplitz)"))
            else:
                out.append(Finding(f"{dev}: symmetric RSS", WARN,
                                   "RSS key is not the symmetric 6d:5a pattern" if k else "RSS key unknown",
                                   "both directions of a flow must reach the same queue index on both sides: "
                                   f"ethtool -X {dev} hkey " + ":".join(["6d:5a"] * 20) +
                                   f", or hash on addresses only: ethtool -N {dev} rx-flow-hash tcp4 sd"))
    return out


def diagnose(h: Host | None = None, inline: tuple[str, str] | None = None) -> list[Finding]:
    h = h or Host()
    out = check_kernel(h) + check_bcc(h)
    queues = 1
    if inline:
        queues = min(_rx_queues(h, d) for d in inline) if all(h.exists(f"/sys/class/net/{d}") for d in inline) else 1
    out += check_capabilities(h, queues)
    if inline:
        for dev in inline:
            out += check_interface(h, dev)
        if all(h.exists(f"/sys/class/net/{d}") for d in inline):
            out += check_pair(h, *inline)
    return out


def render(findings: list[Finding], color: bool = False) -> str:
    tag = {OK: " ok ", WARN: "WARN", FAIL: "FAIL"}
    col = {OK: "\033[32m", WARN: "\033[33m", FAIL: "\033[31m"}
    lines = []
    width = max((len(f.check) for f in findings), default=10)
    for f in findings:
        t = f"[{tag[f.status]}]"
        if color:
            t = f"{col[f.status]}{t}\033[0m"
        lines.append(f"{t} {f.check:<{width}}  {f.detail}")
        if f.advice and f.status != OK:
            lines.append(f"{'':6} {'':<{width}}  -> {f.advice}")
    n = {s: sum(1 for f in findings if f.status == s) for s in (OK, WARN, FAIL)}
    lines.append(f"\n{n[OK]} ok, {n[WARN]} warning(s), {n[FAIL]} failure(s)")
    return "\n".join(lines)


def add_arguments(p) -> None:
    p.add_argument("--inline", nargs=2, metavar=("IF_A", "IF_B"),
                   help="also check these two interfaces (driver, XDP/zero-copy, MTU, offloads, queues, RSS)")
    p.add_argument("--json", action="store_true", help="findings as JSON")


def run(args) -> int:
    findings = diagnose(Host(), tuple(args.inline) if args.inline else None)
    if args.json:
        print(json.dumps([asdict(f) for f in findings], indent=2))
    else:
        print(render(findings, color=sys.stdout.isatty()))
    return 1 if any(f.status == FAIL for f in findings) else 0
