"""Frames that arrive after newer ones (a broker's out-of-order redelivery): they fill the gap
counted when the counter jumped, instead of counting a jump of almost a whole cycle."""

from __future__ import annotations

from groundwatch.decoders.reassembly import PacketReassembler
from groundwatch.decoders.space_packet import build_space_packet

KEY = ("live", 1, 0)


def _field(i: int) -> bytes:
    return build_space_packet(5, i % 16384, i.to_bytes(4, "big"))


def _feed(order: list[int]) -> tuple[int, int, int, int]:
    r = PacketReassembler()
    missing = gaps = late = packets = 0
    for i in order:
        out = r.feed(KEY, i % 256, 0, _field(i))
        missing += out.vc_gap - out.vc_late
        gaps += (out.vc_gap > 0) - out.vc_gap_closed
        late += out.vc_late
        packets += len(out.packets)
        assert not out.losses
    return missing, gaps, late, packets


def test_out_of_order_redelivery_counts_nothing_missing() -> None:
    order = [*range(0, 20), *range(40, 60), *range(20, 40), *range(60, 300)]
    assert _feed(order) == (0, 0, 20, 300)


def test_two_redeliveries_and_a_wrap() -> None:
    order = [*range(0, 250), *range(260, 270), *range(250, 260), *range(290, 300)]
    order += [*range(270, 290), *range(300, 600)]
    assert _feed(order) == (0, 0, 30, 600)


def test_a_real_loss_stays_counted() -> None:
    order = [*range(0, 20), *range(40, 60), *range(25, 30), *range(60, 200)]
    assert _feed(order) == (15, 1, 5, 185)
    # frames that never come: still missing once the counter moved on a whole window
    assert _feed([*range(0, 20), *range(40, 600)]) == (20, 1, 0, 580)
