"""Frame-layer throughput: full TM frames carrying several packets, decoded generically.

Run: ``.venv/bin/python bench/bench_frames.py [--frames N]``. Prints frames/s and packets/s
for ``FrameDecoder`` (no dictionary: headers, CRC, FHP, reassembly) and, measured in the same
run on the same frames, a minimal hand-written loop (CRC + struct header reads + packet walk,
no reassembly or result objects) as the baseline, with the ratio between them. Times are
CPU time of this process (``time.process_time``), so a busy machine skews them less.
"""

from __future__ import annotations

import argparse
import random
import struct
import time
from binascii import crc_hqx

from groundwatch.decoders.api import FramingDef
from groundwatch.decoders.frame_decoder import FrameDecoder
from groundwatch.decoders.packing import TmFramePacker
from groundwatch.decoders.space_packet import build_space_packet
from groundwatch.model import RawFrame

FRAME_LENGTH = 1115
FRAMING = FramingDef(frame_length=FRAME_LENGTH, fecf=True, ocf=True)


def make_frames(n: int) -> list[bytes]:
    rng = random.Random(1)
    packer = TmFramePacker(0x2A, 1, FRAMING)
    frames: list[bytes] = []
    seq = [0] * 8
    while len(frames) < n:
        # Housekeeping-sized packets (60-300 octets) of 8 APIDs: ~6 per frame, some spanning
        # two; each APID counts its own sequence without gaps.
        size = rng.randint(60, 300)
        k = rng.randrange(8)
        frames += packer.pack([build_space_packet(0x100 + k, seq[k], rng.randbytes(size))])
        seq[k] += 1
    return frames[:n]


def baseline(frames: list[bytes]) -> int:
    """CRC, header fields and packet boundaries only: the least any decoder must do."""
    hdr = struct.Struct(">HBBH")
    packets = 0
    for f in frames:
        if crc_hqx(f, 0xFFFF) != 0:
            continue
        _w0, _mc, _vc, w2 = hdr.unpack_from(f, 0)
        pos = 6 + (w2 & 0x7FF)
        end = FRAME_LENGTH - 6
        while pos + 6 <= end:
            total = 7 + ((f[pos + 4] << 8) | f[pos + 5])
            if pos + total > end:
                break
            packets += 1
            pos += total
    return packets


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    frames = make_frames(args.frames)
    raws = [RawFrame(f, i * 1000, "gs1") for i, f in enumerate(frames)]

    best_decoder = best_base = float("inf")
    packets = 0
    for _ in range(args.repeat):
        decoder = FrameDecoder(None, FRAMING)
        t0 = time.process_time()
        packets = sum(len(decoder.decode(r).packets) for r in raws)
        best_decoder = min(best_decoder, time.process_time() - t0)
        assert not decoder.summary.rejected, decoder.summary.rejected
        t0 = time.process_time()
        baseline(frames)
        best_base = min(best_base, time.process_time() - t0)

    n = len(frames)
    print(f"frames: {n} x {FRAME_LENGTH} octets, {packets} packets ({packets / n:.1f}/frame)")
    print(
        f"FrameDecoder (generic): {n / best_decoder:,.0f} frames/s, "
        f"{packets / best_decoder:,.0f} packets/s, "
        f"{n * FRAME_LENGTH / best_decoder / 1e6:.1f} MB/s"
    )
    print(f"hand-written baseline:  {n / best_base:,.0f} frames/s")
    print(f"ratio decoder/baseline time: {best_decoder / best_base:.2f}x")


if __name__ == "__main__":
    main()
