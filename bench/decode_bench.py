"""Decoder micro-benchmark: nanoseconds per packet of xdpfw_decode on real traffic.

    .venv/bin/python -m bench.decode_bench [--pcap PATH] [--rounds 5] [--repeat 7]

Loads every Ethernet frame of ../shared/corpus/pcaps/bench/mixed-realistic.pcap (133,299
packets of real traffic) into one contiguous buffer, then times two loops over all
frames, both in Cython without the GIL, alternately and in the same run:

  decode  xdpfw._fast.decode.decode_frames: xdpfw_decode() into one struct xdpfw_pkt
          per frame, as the worker will call it;
  touch   decode.touch_frames: the same loop reading only the first and last byte of
          each frame, the floor any per-frame work pays (loop, memory traffic).

Each measurement is --rounds passes over the capture; the median of --repeat
measurements is reported for both, with the ratio decode/touch and the difference, which
is the decoder's own cost per packet. On a shared or busy machine the medians wander;
the minimums are the least disturbed figures. Frames lie back to back here rather than one per
4 KiB UMEM chunk, so the cache behaves a little better than on the data path; the ratio
is the figure to compare between runs and machines, the absolute ns depend on the CPU.
"""
from __future__ import annotations

import argparse
import array
import platform
import statistics
import time
from pathlib import Path

from xdpfw._fast import decode
from xdpfw.ref.pcap import LINKTYPE_ETHERNET, read_packets

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PCAP = ROOT.parent / "shared" / "corpus" / "pcaps" / "bench" / "mixed-realistic.pcap"


def load(path: Path) -> tuple[bytes, array.array, array.array]:
    """All Ethernet frames of `path`, concatenated, with their offsets and lengths."""
    frames = [f for linktype, f in read_packets(path) if linktype == LINKTYPE_ETHERNET]
    offsets, lengths, pos = array.array("I"), array.array("I"), 0
    for f in frames:
        offsets.append(pos)
        lengths.append(len(f))
        pos += len(f)
    return b"".join(frames), offsets, lengths


def ns_per_packet(fn, buf, offsets, lengths, rounds: int) -> float:
    t0 = time.perf_counter_ns()
    fn(buf, offsets, lengths, rounds)
    return (time.perf_counter_ns() - t0) / (rounds * len(offsets))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pcap", type=Path, default=DEFAULT_PCAP)
    ap.add_argument("--rounds", type=int, default=5, help="passes over the capture per measurement")
    ap.add_argument("--repeat", type=int, default=7, help="measurements per loop (median reported)")
    args = ap.parse_args(argv)

    buf, offsets, lengths = load(args.pcap)
    invalid = decode.decode_frames(buf, offsets, lengths, 1)  # warm-up: pages, caches
    decode.touch_frames(buf, offsets, lengths, 1)
    dec, touch = [], []
    for _ in range(args.repeat):
        dec.append(ns_per_packet(decode.decode_frames, buf, offsets, lengths, args.rounds))
        touch.append(ns_per_packet(decode.touch_frames, buf, offsets, lengths, args.rounds))
    d, t = statistics.median(dec), statistics.median(touch)
    print(f"capture   {args.pcap.name}: {len(offsets)} Ethernet frames, {len(buf) / 1e6:.1f} MB, "
          f"{invalid} with a fatal decode anomaly")
    print(f"machine   {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(f"decode    {d:6.1f} ns/packet  (median of {args.repeat} x {args.rounds} passes; "
          f"min {min(dec):.1f}, max {max(dec):.1f})")
    print(f"touch     {t:6.1f} ns/packet  (first and last byte only; min {min(touch):.1f}, max {max(touch):.1f})")
    print(f"ratio     decode/touch = {d / t:.1f} (medians), {min(dec) / min(touch):.1f} (minimums); "
          f"decoder's own cost {d - t:.1f} ns/packet (~{1e3 / d:.0f} Mpps per core for decoding alone)")


if __name__ == "__main__":
    main()
