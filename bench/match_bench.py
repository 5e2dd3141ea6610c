"""Streaming matcher benchmark: ET Open contents over real traffic, three ways.

    .venv/bin/python -m bench.match_bench [--rules DIR] [--pcap PATH] [--repeat 5]

Compiles every distinct `content:"..."` of the enabled rules in ../shared/corpus/et-open
(|hex| decoded, `nocase` kept; a simple regex, not the rule parser) into one database per
backend, then scans the TCP/UDP payload of every packet of
../shared/corpus/pcaps/bench/mixed-realistic.pcap, in capture order, with:

  1. hs-block    Hyperscan block mode, each payload on its own (the reference: the
                 fastest Hyperscan can be, and what per-packet matching costs);
  2. hs-stream   Hyperscan stream mode, one stream per flow direction, taken from a
                 per-worker pool of pre-opened streams (match.pxd: the stream design);
  3. ac-stream   the Aho-Corasick backend in stream mode, one stream per flow direction.

The loops run in Cython without the GIL (match.scan_block_many, StreamTable.scan_many),
clearing a 1024-entry match buffer per packet as the engine will. Streams are opened on
a flow direction's first packet (inside the timed loop) and start afresh every round.
The median of --repeat rounds is reported as MB/s of payload and ns per packet, with the
ratios (2)/(1) and (3)/(1) in time per packet, plus stream state sizes and compile times,
and the cost of the three stream-state designs measured on this database
(match_hs.measure_stream_designs). Absolute figures depend on the CPU; ratios are the result.
"""
from __future__ import annotations

import argparse
import array
import platform
import re
import statistics
import struct
from pathlib import Path

from xdpfw._fast import match, match_ac, match_hs
from xdpfw.ref.pcap import LINKTYPE_ETHERNET, read_packets

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
DEFAULT_RULES = CORPUS / "et-open"
DEFAULT_PCAP = CORPUS / "pcaps" / "bench" / "mixed-realistic.pcap"

CONTENT = re.compile(r'(?<![\w.])content:\s*!?\s*"((?:[^"\\]|\\.)*)"\s*;')
NOCASE = re.compile(r"(?<![\w.])nocase\s*;")
FAST = re.compile(r"(?<![\w.])fast_pattern\s*[;:]")


def decode_content(text: str) -> bytes:
    """Suricata content text: |hex| runs, and \\-escaped ", ; and \\ elsewhere."""
    out = bytearray()
    for i, part in enumerate(text.split("|")):
        if i % 2:
            out += bytes.fromhex(part.replace(" ", ""))
        else:
            out += re.sub(r"\\(.)", r"\1", part).encode("latin-1", errors="replace")
    return bytes(out)


def load_contents(rules_dir: Path, fast_only: bool) -> list[match.Pattern]:
    """Distinct (bytes, nocase) contents of the enabled rules, one Pattern each: all of
    them, or per rule only its fast pattern (the content marked fast_pattern, else the
    longest), which is what a prefilter holds."""
    seen: dict[tuple[bytes, bool], int] = {}
    for path in sorted(rules_dir.glob("*.rules")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if not re.match(r"\s*(alert|drop|reject|pass)\s", line):
                continue
            hits = list(CONTENT.finditer(line))
            contents = []
            for k, m in enumerate(hits):
                # a content's modifiers run up to the next content keyword
                end = hits[k + 1].start() if k + 1 < len(hits) else len(line)
                try:
                    value = decode_content(m.group(1))
                except ValueError:
                    continue  # malformed hex: not this benchmark's business
                if value:
                    contents.append((value, bool(NOCASE.search(line, m.end(), end)),
                                     bool(FAST.search(line, m.end(), end))))
            if fast_only and contents:
                contents = [max(contents, key=lambda c: (c[2], len(c[0])))]
            for value, nocase, _ in contents:
                seen.setdefault((value, nocase), len(seen))
    return [match.Pattern(i, v, nocase=nc) for (v, nc), i in seen.items()]


def l4_payload(frame: bytes) -> tuple[tuple, bytes] | None:
    """(flow direction key, payload) of a TCP or UDP frame, else None."""
    off, etype = 14, struct.unpack_from("!H", frame, 12)[0] if len(frame) >= 14 else 0
    while etype in (0x8100, 0x88A8) and len(frame) >= off + 4:
        etype = struct.unpack_from("!H", frame, off + 2)[0]
        off += 4
    if etype == 0x0800 and len(frame) >= off + 20:
        ihl = (frame[off] & 0x0F) * 4
        total = struct.unpack_from("!H", frame, off + 2)[0]
        if struct.unpack_from("!H", frame, off + 6)[0] & 0x1FFF:
            return None  # a later fragment: no L4 header
        proto, src, dst = frame[off + 9], frame[off + 12:off + 16], frame[off + 16:off + 20]
        end = min(len(frame), off + total)
        off += ihl
    elif etype == 0x86DD and len(frame) >= off + 40:
        proto, src, dst = frame[off + 6], frame[off + 8:off + 24], frame[off + 24:off + 40]
        end = min(len(frame), off + 40 + struct.unpack_from("!H", frame, off + 4)[0])
        off += 40
        while proto in (0, 43, 60) and len(frame) >= off + 8:  # hop-by-hop, routing, dst opts
            proto, off = frame[off], off + (frame[off + 1] + 1) * 8
    else:
        return None
    if proto == 6 and len(frame) >= off + 20:
        hlen = (frame[off + 12] >> 4) * 4
    elif proto == 17 and len(frame) >= off + 8:
        hlen = 8
    else:
        return None
    sport, dport = struct.unpack_from("!HH", frame, off)
    payload = frame[off + hlen:end]
    return ((proto, src, sport, dst, dport), payload) if payload else None


def load_payloads(path: Path):
    """Payloads concatenated, with offsets, lengths and flow-direction slots."""
    slots, offsets, lengths = array.array("I"), array.array("Q"), array.array("I")
    chunks, directions, pos = [], {}, 0
    for linktype, frame in read_packets(path):
        if linktype != LINKTYPE_ETHERNET:
            continue
        got = l4_payload(frame)
        if got is None:
            continue
        key, payload = got
        slots.append(directions.setdefault(key, len(directions)))
        offsets.append(pos)
        lengths.append(len(payload))
        chunks.append(payload)
        pos += len(payload)
    return b"".join(chunks), offsets, lengths, slots, len(directions)


def run_block(db, scratch, data, offsets, lengths):
    return match.scan_block_many(db, scratch, offsets, lengths, data)


def run_stream(backend, db, scratch, data, offsets, lengths, slots, ndirs):
    pool = backend.StreamPool(db, ndirs)
    table = match.StreamTable(db, scratch, pool, ndirs)
    return table.scan_many(slots, offsets, lengths, data)


def bench_set(label, patterns, data, offsets, lengths, slots, ndirs, repeat):
    npkt = len(offsets)
    print(f"\n[{label}] {len(patterns)} distinct contents ({sum(p.nocase for p in patterns)} nocase, "
          f"{sum(len(p.expression) for p in patterns)} bytes)")
    hs_block = match_hs.Database.compile(patterns, mode="block")
    hs_stream = match_hs.Database.compile(patterns, mode="stream")
    ac = match_ac.Database.compile(patterns, mode="stream")
    hs_scratch = match_hs.Scratch(hs_block, hs_stream)
    ac_scratch = match_ac.Scratch(ac)
    variants = {
        "hs-block": lambda: run_block(hs_block, hs_scratch, data, offsets, lengths),
        "hs-stream": lambda: run_stream(match_hs, hs_stream, hs_scratch, data, offsets, lengths, slots, ndirs),
        "ac-stream": lambda: run_stream(match_ac, ac, ac_scratch, data, offsets, lengths, slots, ndirs),
    }
    results: dict[str, list[dict]] = {name: [] for name in variants}
    for _ in range(repeat):  # interleaved, so machine drift hits every variant alike
        for name, fn in variants.items():
            results[name].append(fn())

    medians = {name: statistics.median(r["ns"] for r in runs) for name, runs in results.items()}
    for name, runs in results.items():
        ns, r = medians[name], runs[0]
        print(f"  {name:10} {r['bytes'] / ns * 1e3:8.1f} MB/s  {ns / npkt:8.1f} ns/packet  "
              f"x{ns / medians['hs-block']:5.2f} vs hs-block  (min {min(x['ns'] for x in runs) / npkt:.1f} "
              f"ns/packet; {r['matches']} matches, {r['overflow']} past a full 1024-entry buffer)")

    ac_states = ac.automata
    print(f"  compile    hs-block {hs_block.compile_time:.2f} s, hs-stream {hs_stream.compile_time:.2f} s, "
          f"ac {ac.compile_time:.2f} s")
    print(f"  databases  hs-block {hs_block.database_size / 1e6:.1f} MB, hs-stream "
          f"{hs_stream.database_size / 1e6:.1f} MB, ac {ac.database_size / 1e6:.1f} MB "
          f"(exact {ac_states['exact'][0]} states / {ac_states['exact'][1]} dense, "
          f"folded {ac_states['folded'][0]} / {ac_states['folded'][1]})")
    print(f"  stream     hs {hs_stream.stream_size} B in the pool + the {match.STREAM_STRUCT_SIZE} B slab "
          f"entry ({ndirs} directions: {ndirs * hs_stream.stream_size / 1e6:.2f} MB of pool); "
          f"ac {ac.stream_size} B inside the {match.STREAM_STRUCT_SIZE} B slab entry")
    # The designs' costs on a full-size payload from the middle of the capture.
    big = max(range(npkt // 2, npkt), key=lambda k: lengths[k] == 1460 or lengths[k])
    sample = data[offsets[big]:offsets[big] + lengths[big]]
    d = match_hs.measure_stream_designs(hs_stream, hs_scratch, sample)
    per_pkt = medians["hs-stream"] / npkt
    print(f"  designs    (a) hs_open_stream+hs_close_stream {d['per_flow_open_close']:.0f} ns per flow; "
          f"(c) pool open+close {d['pool_open_close']:.0f} ns per flow; (b) compress+expand "
          f"{d['compress_expand']:.0f} ns per packet ({d['compressed_bytes']} B image, "
          f"{100 * d['compress_expand'] / per_pkt:.1f}% of the mean hs-stream packet)")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rules", type=Path, default=DEFAULT_RULES)
    ap.add_argument("--pcap", type=Path, default=DEFAULT_PCAP)
    ap.add_argument("--repeat", type=int, default=5, help="rounds per variant (median reported)")
    ap.add_argument("--set", choices=("all", "fast", "both"), default="both",
                    help="all contents, one fast pattern per rule, or both (default)")
    args = ap.parse_args(argv)

    data, offsets, lengths, slots, ndirs = load_payloads(args.pcap)
    print(f"machine    {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"Hyperscan {match_hs.VERSION.split()[0]}")
    print(f"traffic    {args.pcap.name}: {len(offsets)} TCP/UDP payloads, {len(data) / 1e6:.1f} MB, "
          f"{ndirs} flow directions")
    sets = {"all": "all contents", "fast": "fast patterns"}
    for key in (("all", "fast") if args.set == "both" else (args.set,)):
        bench_set(sets[key], load_contents(args.rules, key == "fast"), data, offsets, lengths, slots,
                  ndirs, args.repeat)


if __name__ == "__main__":
    main()
