"""Packets packed into frames and decoded back: spanning 2-5 frames, lost frames, idle
frames and idle packets (hypothesis round trips through TmFramePacker and FrameDecoder)."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from groundwatch.decoders.api import FramingDef
from groundwatch.decoders.frame_decoder import FrameDecoder
from groundwatch.decoders.packing import TmFramePacker
from groundwatch.decoders.space_packet import build_primary_header, build_space_packet
from groundwatch.model import DecodedPacket, RawFrame, RejectReason


@dataclass
class Sent:
    wire: bytes
    frames: set[int]  # indices of the frames that carry part of it
    idle: bool = False


def _bytes(p: DecodedPacket) -> bytes:
    assert p.header is not None and p.payload is not None
    return build_primary_header(p.header) + p.payload


@st.composite
def downlinks(draw: st.DrawFn) -> tuple[FramingDef, list[bytes], list[Sent]]:
    """Batches of packets packed into frames, idle frames between batches; returns the
    frames and every packet with the frames it lies in (a model of the packer)."""
    framing = FramingDef(
        frame_length=draw(st.integers(24, 160)), fecf=draw(st.booleans()), ocf=draw(st.booleans())
    )
    packer = TmFramePacker(
        draw(st.integers(0, 1023)), draw(st.integers(0, 7)), framing, vcfc=draw(st.integers(0, 255))
    )
    size = packer.data_field_length
    frames: list[bytes] = []
    sent: list[Sent] = []
    stream_frame_index: list[int] = []  # data-field stream frame -> index in frames
    pos = 0
    seq: Counter[int] = Counter()

    def place(length: int) -> set[int]:
        nonlocal pos
        first, last = pos // size, (pos + length - 1) // size
        pos += length
        while len(stream_frame_index) <= last:
            stream_frame_index.append(-1)
        return set(range(first, last + 1))

    for _ in range(draw(st.integers(1, 4))):
        batch = []
        for _ in range(draw(st.integers(1, 6))):
            apid = draw(st.sampled_from([10, 11, 300, 2046]))
            # Up to 5 frames long; some packets skip sequence counts (a gap at the source).
            length = draw(st.integers(1, 4 * size - 7))
            seq[apid] += draw(st.sampled_from([1, 1, 1, 2]))
            wire = build_space_packet(
                apid, seq[apid], draw(st.binary(min_size=length, max_size=length))
            )
            batch.append(wire)
            sent.append(Sent(wire, place(len(wire))))
        new = packer.frames_for(batch)
        if pos % size:
            room = size - pos % size
            sent.append(Sent(b"", place(room + (size if room < 7 else 0)), idle=True))
        for f in new:
            stream_frame_index[stream_frame_index.index(-1)] = len(frames)
            frames.append(f)
        for _ in range(draw(st.integers(0, 2))):
            frames.append(packer.idle_frame())
    assert -1 not in stream_frame_index
    for s in sent:
        s.frames = {stream_frame_index[i] for i in s.frames}
    return framing, frames, sent


def _decode(
    framing: FramingDef, frames: list[bytes], keep: set[int]
) -> tuple[FrameDecoder, list[bytes], Counter[str], int]:
    decoder = FrameDecoder(None, framing)
    got: list[bytes] = []
    reasons: Counter[str] = Counter()
    idle_packets = 0
    for i, data in enumerate(frames):
        if i not in keep:
            continue
        result = decoder.decode(RawFrame(data, i, "gs1"))
        assert result.valid
        got += [_bytes(p) for p in result.packets]
        reasons.update(r.reason.value for r in result.rejections)
        idle_packets += result.idle_packets
    return decoder, got, reasons, idle_packets


@settings(max_examples=60, deadline=None)
@given(downlinks())
def test_every_packet_comes_back(downlink: tuple[FramingDef, list[bytes], list[Sent]]) -> None:
    framing, frames, sent = downlink
    decoder, got, reasons, idle_packets = _decode(framing, frames, set(range(len(frames))))
    assert got == [s.wire for s in sent if not s.idle]
    assert not reasons
    assert idle_packets == sum(s.idle for s in sent)
    assert decoder.summary.idle_frames == len(frames) - len({i for s in sent for i in s.frames})
    assert decoder.summary.packets == len(got)
    assert max(len(s.frames) for s in sent if not s.idle) <= 5


@settings(max_examples=60, deadline=None)
@given(downlinks(), st.data())
def test_lost_frames_drop_only_the_packets_they_carried(
    downlink: tuple[FramingDef, list[bytes], list[Sent]], data: st.DataObject
) -> None:
    framing, frames, sent = downlink
    lost = data.draw(st.sets(st.integers(0, len(frames) - 1), max_size=len(frames) - 1))
    keep = set(range(len(frames))) - lost
    decoder, got, reasons, idle_packets = _decode(framing, frames, keep)
    assert got == [s.wire for s in sent if not s.idle and s.frames <= keep]
    assert idle_packets == sum(1 for s in sent if s.idle and s.frames <= keep)
    # At each gap (received frames a < b, frames between lost), one LOST_CONTINUATION when
    # the decoder held the start of a packet running into the gap (all its frames up to a
    # received), or else when frame b begins with the tail of a packet begun before it.
    received = sorted(keep)
    expected = 0
    for a, b in itertools.pairwise(received):
        if b - a > 1:
            hole = set(range(a + 1, b))
            held = any(
                a in s.frames and s.frames & hole and set(range(min(s.frames), a + 1)) <= keep
                for s in sent
            )
            tail = any(b in s.frames and min(s.frames) < b for s in sent)
            expected += held or tail
    assert reasons == (
        Counter({RejectReason.LOST_CONTINUATION.value: expected}) if expected else Counter()
    )
    gaps = sum(b - a - 1 for a, b in itertools.pairwise(received))
    assert decoder.counters.extra.get("vc_gap_frames", 0) == gaps


def test_idle_frame_inside_a_packet_drops_it() -> None:
    framing = FramingDef(frame_length=40, fecf=True)
    packer = TmFramePacker(7, 0, framing)
    long_packet = build_space_packet(5, 0, bytes(60))  # spans 3 frames of 32 octets
    frames = packer.pack([long_packet])
    frames.append(packer.idle_frame())  # a broken transmitter: idle frame mid-packet
    frames += packer.frames_for([build_space_packet(5, 1, b"after")])
    decoder, got, reasons, _ = _decode(framing, frames, set(range(len(frames))))
    assert got == [build_space_packet(5, 1, b"after")]
    assert reasons == Counter({"lost_continuation": 1})
    assert decoder.summary.idle_frames == 1


def test_sequence_count_gaps_per_apid() -> None:
    framing = FramingDef(frame_length=64)
    packer = TmFramePacker(7, 0, framing)
    packets = [
        build_space_packet(a, s, b"x")
        for a, s in [(1, 16382), (2, 0), (1, 16383), (1, 1), (2, 5), (1, 2)]
    ]
    decoder, got, _, _ = _decode(framing, packer.frames_for(packets), {0, 1, 2})
    assert got == packets
    # apid 1: 16383 -> 1 skips 0 (wrap); apid 2: 0 -> 5 skips 4.
    assert decoder.seq_gaps == 5 and decoder.counters.extra["seq_gaps"] == 5
