"""Fuzz: 100,000+ random and mutated frames through FrameDecoder.decode/peek.

No exception may escape and memory must not grow (tracemalloc over the last 20,000, after
the others have filled the decoder's bounded per-channel state). Plain ``random`` with a
fixed seed rather than hypothesis: 100k examples through hypothesis would take minutes.
"""

from __future__ import annotations

import random
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from groundwatch.decoders.api import Framing, FramingDef
from groundwatch.decoders.ax25 import Ax25Frame, build_ax25
from groundwatch.decoders.crc import append_crc16
from groundwatch.decoders.decode_cli import load_dictionary_file
from groundwatch.decoders.frame_decoder import FrameDecoder
from groundwatch.decoders.packing import TmFramePacker
from groundwatch.decoders.space_packet import build_space_packet
from groundwatch.model import RawFrame

from .test_frame_decoder import TINY

FRAMES = 100_000
WARM_UP = 10_000
TRACED = 20_000  # the last frames run under tracemalloc (it slows Python about 5x)


def _mutators(rng: random.Random) -> list[Callable[[bytes], bytes]]:
    def flip(b: bytes) -> bytes:
        out = bytearray(b)
        for _ in range(rng.randint(1, 4)):
            if out:
                out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
        return bytes(out)

    def overwrite(b: bytes) -> bytes:
        out = bytearray(b)
        if out:
            i = rng.randrange(len(out))
            out[i : i + 6] = rng.randbytes(min(6, len(out) - i))
        return bytes(out)

    return [
        flip,
        overwrite,
        lambda b: b[: rng.randrange(len(b) + 1)],
        lambda b: b + rng.randbytes(rng.randint(1, 20)),
        lambda b: append_crc16(flip(b[:-2])),  # damaged but CRC-valid: reaches the packets
        lambda b: append_crc16(overwrite(b[:-2])),
    ]


def test_fuzz_frames_never_raise_and_memory_stays_flat(tmp_path: Path) -> None:
    rng = random.Random(20260101)
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    tiny = load_dictionary_file(path)
    decoders = [
        FrameDecoder(tiny),  # TM 64 octets, FECF, OCF, dictionary layouts
        FrameDecoder(None, FramingDef(frame_length=64, fecf=False)),  # no CRC to stop junk
        FrameDecoder(None, FramingDef(fecf=True)),  # any length
        FrameDecoder(tiny, FramingDef(kind=Framing.AX25)),
        FrameDecoder(None, FramingDef(kind=Framing.NONE)),
    ]
    packer = TmFramePacker(0x2A, 1, tiny.framing)
    choices = [
        (0x10, bytes.fromhex("01c201")),
        (0x10, b"\x00\x10\x00"),
        (0x11, b"?" * 40),
        (0x7FF, b"\x55" * 9),
        (0x12, rng.randbytes(90)),
    ]
    packets = [
        [build_space_packet(apid, i, data) for apid, data in rng.choices(choices, k=4)]
        for i in range(40)
    ]
    tm_seeds = [f for batch in packets for f in packer.frames_for(batch)]
    tm_seeds.append(packer.idle_frame())
    seeds = [
        tm_seeds,
        [f[:-2] + rng.randbytes(2) for f in tm_seeds],
        tm_seeds,
        [build_ax25(Ax25Frame("CQ", "TINY1", b"".join(batch[:2]))) for batch in packets],
        [b"".join(batch) for batch in packets],
    ]
    mutators = _mutators(rng)

    def one(n: int) -> None:
        for _ in range(n):
            k = rng.randrange(len(decoders))
            if rng.random() < 0.3:
                data = rng.randbytes(rng.choice([0, 1, 5, 6, 7, 20, 64, 64, 64, 200]))
            else:
                data = rng.choice(mutators)(rng.choice(seeds[k]))
            frame = RawFrame(data, 0, "gs1")
            decoders[k].peek(frame)
            decoders[k].decode(frame)

    start = time.monotonic()
    one(WARM_UP + FRAMES - TRACED)
    warm = time.monotonic()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        one(TRACED)
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.monotonic() - start
    print(
        f"untraced {warm - start:.1f} s, traced {time.monotonic() - warm:.1f} s, "
        f"+{after - before} B"
    )
    assert all(d.counters.errors == 0 for d in decoders), [d.counters for d in decoders]
    assert sum(d.counters.received for d in decoders) == WARM_UP + FRAMES
    # Something got through to the packet layer, and something was rejected, on each.
    assert decoders[0].summary.packets > 1000 and decoders[1].summary.packets > 1000
    assert decoders[3].summary.packets > 100 and decoders[4].summary.packets > 100
    assert all(sum(d.summary.rejected.values()) > 1000 for d in decoders)
    # Bounded state may churn a little; a leak of even 10 octets a frame would show.
    assert after - before < 200_000, f"memory grew by {after - before} octets"
    assert elapsed < 120  # about 15 s here; the bound only catches a pathological slowdown
