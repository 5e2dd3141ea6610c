#!/usr/bin/env bash
# Idempotent setup for a fresh Debian 12 machine (run as root):
#  - Debian packages: bcc (python3-bpfcc), kernel headers, libxdp/libbpf, Hyperscan,
#    suricata-update (the documented rule-update recipe and its test),
#    lab tools (iproute2, ethtool, netsniff-ng for trafgen), clang for the benchmark's BPF object,
#    python3-cryptography (tests: builds and parses the X.509 certificates the TLS decoder is checked on);
#  - kernel headers wired where bcc looks for them when the running kernel has none;
#  - bpffs mounted;
#  - a virtualenv in .venv with system site packages (bcc comes from Debian, the PyPI
#    "bcc" is an unrelated project), the Cython build installed editable;
#  - /usr/local/bin/xdpfw pointing at the venv's entry point.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

log() { printf 'setup: %s\n' "$*" >&2; }

pkgs=(python3 python3-venv python3-dev python3-bpfcc linux-headers-amd64
      libxdp-dev libbpf-dev libhyperscan-dev gcc make pkg-config clang
      iproute2 ethtool netsniff-ng iputils-ping procps suricata-update python3-cryptography)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Packages whose service must never start here (Prometheus would listen on :9090;
# Suricata's default configuration would sniff eth0): installed with service starts denied
# (policy-rc.d, any existing one restored), then disabled and stopped on every run.
install_without_service() {   # install_without_service PKG [apt-get install options...]
    local pkg=$1; shift
    log "installing $pkg (its service left disabled)"
    export DEBIAN_FRONTEND=noninteractive
    local policy=/usr/sbin/policy-rc.d saved had_policy=0 rc=0
    saved=$(mktemp)
    if [ -e "$policy" ]; then cp -p "$policy" "$saved"; had_policy=1; fi
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@" "$pkg" >/dev/null; } || rc=$?
    if ((had_policy)); then cp -p "$saved" "$policy"; else rm -f "$policy"; fi
    rm -f "$saved"
    ((rc == 0)) || { log "installing $pkg failed"; exit 1; }
}
keep_service_off() {          # keep_service_off UNIT
    if [ -d /run/systemd/system ]; then
        systemctl disable --now "$1.service" >/dev/null 2>&1 || true
    else
        deb-systemd-helper disable "$1.service" >/dev/null 2>&1 || true
        update-rc.d "$1" disable >/dev/null 2>&1 || true
        [ -x "/etc/init.d/$1" ] && "/etc/init.d/$1" stop >/dev/null 2>&1 || true
    fi
}

# Prometheus and promtool (Debian's package) for the deploy/ tests, which run their own
# instance on a private port.
dpkg-query -W -f='${Status}' prometheus 2>/dev/null | grep -q "install ok installed" || install_without_service prometheus
keep_service_off prometheus

# Suricata 7 from bookworm-backports: the detection oracle (replay differential tests) and
# the baseline the benchmarks measure in the same run. The backports suite is added on the
# mirror the machine's own apt sources already name (no host name is written here), and
# Suricata is installed with service starts denied; its service stays disabled and stopped:
# xdpfw's tests and benchmarks run it offline (-r, af-packet between their own veths).
bp_list=/etc/apt/sources.list.d/xdpfw-bookworm-backports.sources
if [ ! -f "$bp_list" ] && ! grep -rqsE '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    mirror=$(awk '
        /^URIs:/ { uri = $2 }
        /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") { print uri; exit } }
        /^deb[ \t]/ { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i ~ /:\/\//) { u = $i; s = $(i + 1); if (s == "bookworm") { print u; exit } break } }
    ' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -n1 || true)
    [ -n "$mirror" ] || { log "no bookworm mirror in the apt sources to add bookworm-backports from"; exit 1; }
    log "adding bookworm-backports (on the mirror the apt sources already use)"
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$mirror" > "$bp_list"
    apt-get update -qq
fi
suricata_ver=$(dpkg-query -W -f='${Status} ${Version}' suricata 2>/dev/null || true)
case "$suricata_ver" in
    "install ok installed 1:7."*|"install ok installed 7."*) ;;
    *) install_without_service suricata -t bookworm-backports ;;
esac
keep_service_off suricata

# bcc looks for headers at /lib/modules/$(uname -r)/{build,source}. Debian splits them
# into an arch package (generated headers, build) and a -common package (source tree).
kver=$(uname -r)
mod=/lib/modules/$kver
if [ ! -e "$mod/build/include/generated/autoconf.h" ] && [ ! -e /sys/kernel/kheaders.tar.xz ]; then
    arch=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n1)
    [ -n "$arch" ] || { log "no linux-headers-*-amd64 under /usr/src"; exit 1; }
    common=${arch%-amd64}-common
    log "running kernel $kver has no headers: pointing bcc at $arch (+ $common)"
    mkdir -p "$mod"
    ln -sfn "$arch" "$mod/build"
    ln -sfn "$common" "$mod/source"
fi

mountpoint -q /sys/fs/bpf || { log "mounting bpffs"; mount -t bpf bpf /sys/fs/bpf; }

# Debian's interpreter: python3-bpfcc is installed for it, not for any other python3.
py=/usr/bin/python3
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import bcc' 2>/dev/null; then
    log "creating .venv (system site packages, for bcc)"
    rm -rf .venv
    "$py" -m venv --system-site-packages .venv
fi
stamp=.venv/.xdpfw-build-stamp
src_hash=$(cat pyproject.toml setup.py $(find xdpfw -name '*.pyx' -o -name '*.pxd' -o -name '*.pxi' -o -name '*.h' -o -name '*.c' ! -path '*/_fast/*.c' | sort) 2>/dev/null | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$src_hash" ]; then
    log "building xdpfw (Cython extensions) into .venv"
    if ! .venv/bin/python -m pip install -q -e '.[test]' > .venv/pip.log 2>&1; then
        cat .venv/pip.log >&2
        log "pip install failed (log above)"
        exit 1
    fi
    echo "$src_hash" > "$stamp"
fi
ln -sfn "$here/.venv/bin/xdpfw" /usr/local/bin/xdpfw
log "ready: $(command -v xdpfw)"
