#!/usr/bin/env bash
# Manual end-to-end check of bench/xsk_fwd (not the benchmark). Run as root:
#
#   bench/xsk_fwd_selftest.sh            # GRO left off on the end hosts
#   GRO=on bench/xsk_fwd_selftest.sh     # GRO (i.e. veth NAPI) on c0 and s0
#
# Builds a three-namespace lab, runs xsk_fwd inline, and checks: ping, a TCP transfer
# each way (sha256), a paced UDP stream (every packet must arrive), two unpaced 60-byte
# UDP floods (rate reported), a clean exit with frame accounting OK, and that the XDP
# program is gone afterwards. Exits 0 only if every check passed. Everything it
# created is removed on exit, also on failure or Ctrl-C.
#
#   <PREFIX>-c: c0 198.18.0.1/24 ==veth== xa  <PREFIX>-fw: xsk_fwd --if-a xa --if-b xb
#   <PREFIX>-s: s0 198.18.0.2/24 ==veth== xb
#
# Environment: XBENCH_PREFIX (default xbench), GRO (off|on), PACED_COUNT (50000),
# FLOOD_COUNT (1000000), XSK_FWD_ARGS (extra forwarder options, e.g. --busy-poll).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
PREFIX=${XBENCH_PREFIX:-xbench}
NS_C=$PREFIX-c NS_S=$PREFIX-s NS_FW=$PREFIX-fw
GRO=${GRO:-off}
PACED_COUNT=${PACED_COUNT:-50000}
FLOOD_COUNT=${FLOOD_COUNT:-1000000}
XSK_FWD_ARGS=${XSK_FWD_ARGS:-}
C_IP=198.18.0.1 S_IP=198.18.0.2
C_MAC=02:00:c6:12:00:01 S_MAC=02:00:c6:12:00:02 # c6:12 = 198.18, locally administered

log() { printf 'selftest: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root"
for t in ip ethtool trafgen curl python3 taskset make cc clang cpp; do
	command -v "$t" >/dev/null || die "missing tool: $t"
done
case $GRO in on|off) ;; *) die "GRO must be on or off" ;; esac

created_ns=()
pids=()
fwd_pid=""
tmp=$(mktemp -d /tmp/xsk_fwd_selftest.XXXXXX)

cleanup() {
	local rc=$? p ns i
	set +e
	if [ -n "$fwd_pid" ] && kill -0 "$fwd_pid" 2>/dev/null; then
		kill -INT "$fwd_pid"
		for i in $(seq 30); do kill -0 "$fwd_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$fwd_pid" 2>/dev/null
	fi
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	# Deleting a namespace deletes its veth ends and the XDP programs on them.
	for ns in "${created_ns[@]}"; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for ns in "$NS_C" "$NS_S" "$NS_FW"; do
	[ ! -e "/run/netns/$ns" ] || die "namespace $ns already exists (not ours?): not touching it; set XBENCH_PREFIX"
done

log "building"
make -s -C "$here" >/dev/null

log "lab: $NS_C / $NS_FW / $NS_S, GRO $GRO on c0 and s0"
for ns in "$NS_C" "$NS_S" "$NS_FW"; do
	ip netns add "$ns"
	created_ns+=("$ns")
	ip -n "$ns" link set lo up
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
# One queue per veth end: xsk_fwd serves one queue (see README, "Queues").
ip link add c0 netns "$NS_C" address $C_MAC numtxqueues 1 numrxqueues 1 \
	type veth peer name xa netns "$NS_FW" numtxqueues 1 numrxqueues 1
ip link add s0 netns "$NS_S" address $S_MAC numtxqueues 1 numrxqueues 1 \
	type veth peer name xb netns "$NS_FW" numtxqueues 1 numrxqueues 1
ip -n "$NS_C" addr add $C_IP/24 dev c0
ip -n "$NS_S" addr add $S_IP/24 dev s0
# CHECKSUM_PARTIAL does not survive AF_XDP: the end hosts must send full checksums.
ip netns exec "$NS_C" ethtool -K c0 tx off gro "$GRO" >/dev/null
ip netns exec "$NS_S" ethtool -K s0 tx off gro "$GRO" >/dev/null
ip -n "$NS_C" link set c0 up
ip -n "$NS_S" link set s0 up
ip -n "$NS_FW" link set xa up
ip -n "$NS_FW" link set xb up

ncpu=$(nproc)
fwd_cpu=$((ncpu - 1)) gen_cpu=0
log "starting xsk_fwd on CPU $fwd_cpu (traffic generator on CPU $gen_cpu)"
# shellcheck disable=SC2086
ip netns exec "$NS_FW" taskset -c "$fwd_cpu" "$here/xsk_fwd" --if-a xa --if-b xb \
	$XSK_FWD_ARGS >"$tmp/fwd.json" 2>"$tmp/fwd.log" &
fwd_pid=$!
for _ in $(seq 50); do
	grep -q ' ready: ' "$tmp/fwd.log" && break
	kill -0 "$fwd_pid" 2>/dev/null || break
	sleep 0.1
done
grep -q ' ready: ' "$tmp/fwd.log" || { cat "$tmp/fwd.log" >&2; die "xsk_fwd did not start"; }

failures=0
results=()
check() { # check NAME OK(0|1) DETAIL
	if [ "$2" = 1 ]; then results+=("PASS  $1: $3"); else results+=("FAIL  $1: $3"); failures=$((failures + 1)); fi
}
s0_rx() { ip netns exec "$NS_S" cat /sys/class/net/s0/statistics/rx_packets; }
s0_rx_start=$(s0_rx)

# 1. ping (ARP and ICMP, both directions)
if ip netns exec "$NS_C" ping -c 3 -i 0.2 -W 1 -q $S_IP >"$tmp/ping.log" 2>&1; then
	check ping 1 "$(grep -o '[0-9]* received' "$tmp/ping.log")"
else
	check ping 0 "$(grep -o '[0-9]*% packet loss' "$tmp/ping.log" || echo 'no reply')"
fi

# 2. TCP, s -> c (HTTP download) and c -> s (raw upload), sha256 compared
mkdir "$tmp/www"
head -c 8M /dev/urandom >"$tmp/www/blob"
want=$(sha256sum <"$tmp/www/blob" | cut -d' ' -f1)
ip netns exec "$NS_S" python3 -m http.server 8080 --bind $S_IP --directory "$tmp/www" \
	>"$tmp/http.log" 2>&1 &
pids+=($!)
ip netns exec "$NS_S" python3 -c '
import hashlib, socket, sys
s = socket.create_server((sys.argv[1], 9000)); c, _ = s.accept(); h = hashlib.sha256()
while True:
    b = c.recv(1 << 16)
    if not b: break
    h.update(b)
open(sys.argv[2], "w").write(h.hexdigest())' $S_IP "$tmp/up.sha" &
up_pid=$!
pids+=($up_pid)
for _ in $(seq 50); do
	ip netns exec "$NS_C" curl -s -o /dev/null --max-time 1 "http://$S_IP:8080/" && break
	sleep 0.1
done
if ip netns exec "$NS_C" curl -sS --max-time 30 -o "$tmp/got" "http://$S_IP:8080/blob" 2>"$tmp/curl.err"; then
	got=$(sha256sum <"$tmp/got" | cut -d' ' -f1)
	[ "$got" = "$want" ] && check tcp_download 1 "8 MiB, sha256 matches" ||
		check tcp_download 0 "sha256 mismatch"
else
	check tcp_download 0 "curl: $(cat "$tmp/curl.err")"
fi
if ip netns exec "$NS_C" timeout 30 python3 -c '
import socket, sys
c = socket.create_connection((sys.argv[1], 9000), timeout=20)
c.sendall(open(sys.argv[2], "rb").read()); c.shutdown(socket.SHUT_WR); c.recv(1)' \
	$S_IP "$tmp/www/blob" 2>"$tmp/up.err"; then
	wait "$up_pid" 2>/dev/null || true
	[ "$(cat "$tmp/up.sha" 2>/dev/null)" = "$want" ] && check tcp_upload 1 "8 MiB, sha256 matches" ||
		check tcp_upload 0 "sha256 mismatch"
else
	check tcp_upload 0 "upload failed: $(tail -1 "$tmp/up.err")"
fi

# 3. UDP: 60-byte frames (64 on a wire with FCS), c -> s. DST_MAC is s0 (the packets climb
# s0's IP/UDP stack) or a MAC s0 does not own (dropped right after eth_type_trans: a cheap
# sink). s0's rx_packets counts both.
cat >"$tmp/udp.cfg" <<'EOF'
{
  DST_MAC,
  0x02, 0x00, 0xc6, 0x12, 0x00, 0x01,
  c16(0x0800),
  0x45, 0x00, c16(46), c16(0), c16(0x4000), 64, 17, csumip(14, 33),
  198, 18, 0, 1,  198, 18, 0, 2,
  c16(4000), c16(9), c16(26), c16(0),
  fill(0x41, 18)
}
EOF
to_s0="0x02, 0x00, 0xc6, 0x12, 0x00, 0x02"
to_other="0x02, 0x00, 0xc6, 0x12, 0x00, 0x99"
udp() { # udp DST_MAC COUNT [trafgen args] -> "delivered seconds"
	local dst=$1 n=$2 r0 r1 t0 t1
	shift 2
	r0=$(s0_rx)
	t0=$(date +%s.%N)
	ip netns exec "$NS_C" taskset -c $gen_cpu trafgen --cpp -D "DST_MAC=$dst" --dev c0 \
		--conf "$tmp/udp.cfg" -n "$n" -P 1 -C "$@" >>"$tmp/trafgen.log" 2>&1
	t1=$(date +%s.%N)
	sleep 0.5
	r1=$(s0_rx)
	echo "$((r1 - r0)) $(python3 -c "print(f'{$t1 - $t0:.3f}')")"
}
# trafgen's --rate is an average: it sends bursts at full speed, then idles. --gap paces
# each packet (about 20 kpps here): every packet must arrive.
read -r d secs < <(udp "$to_s0" "$PACED_COUNT" --gap 10us)
ok=0; [ "$d" -ge $((PACED_COUNT * 995 / 1000)) ] && ok=1
check udp_paced $ok "$d of $PACED_COUNT arrived in s0 in ${secs}s"
for sink in other s0; do
	[ $sink = other ] && dst=$to_other || dst=$to_s0
	read -r d secs < <(udp "$dst" "$FLOOD_COUNT")
	ok=0; [ "$d" -gt 0 ] && ok=1
	check "udp_flood_sink_$sink" $ok "$(python3 -c "n, d, s = $FLOOD_COUNT, $d, $secs
print(f'{d} of {n} arrived ({100 * d / n:.1f}%) in {s:.2f}s: offered {n / s / 1e3:.0f} kpps, forwarded {d / s / 1e3:.0f} kpps')")"
done
s0_rx_total=$(($(s0_rx) - s0_rx_start))

# 4. clean stop: exit 0, JSON, frame accounting, consistent counters, XDP detached
kill -INT "$fwd_pid" 2>/dev/null || log "xsk_fwd had already exited"
set +e
wait "$fwd_pid"
fwd_rc=$?
set -e
fwd_pid=""
check exit_code "$([ $fwd_rc = 0 ] && echo 1 || echo 0)" "xsk_fwd exited $fwd_rc"
summary=$(python3 - "$tmp/fwd.json" "$s0_rx_total" <<'EOF' 2>&1
import json, sys
j = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
s0 = int(sys.argv[2])
a, b = j["a"], j["b"]
ok = (j["frames_ok"] and a["rx"] == a["fwd"] + a["drop_txfull"]
      and b["rx"] == b["fwd"] + b["drop_txfull"] and j["a_to_b_pkts"] == a["fwd"] == b["tx"]
      and j["a_to_b_pkts"] >= s0)
print(int(ok), f'a_to_b {j["a_to_b_pkts"]} (s0 received {s0}), b_to_a {j["b_to_a_pkts"]}, '
      f'drops {j["drops"]}, frames_ok {j["frames_ok"]}, '
      f'kernel xa rx_ring_full {a["k_rx_ring_full"]} fill_empty {a["k_rx_fill_ring_empty"]}')
EOF
) || summary="0 cannot parse JSON: $summary"
check json_and_accounting "${summary%% *}" "${summary#* }"
leftover=0
for dev in xa xb; do
	ip -n "$NS_FW" link show "$dev" | grep -q 'prog/xdp' && leftover=1
done
check xdp_detached $((1 - leftover)) "$([ $leftover = 0 ] && echo 'no XDP program left on xa/xb' || echo 'XDP program still attached')"

grep -E 'frames:|final|kicks' "$tmp/fwd.log" | sed 's/^/  /' >&2
printf '%s\n' "${results[@]}"
if [ "$failures" -gt 0 ]; then
	log "$failures check(s) FAILED (GRO $GRO)"
	exit 1
fi
log "all checks passed (GRO $GRO)"
