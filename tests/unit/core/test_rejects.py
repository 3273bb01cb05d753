"""Reject reasons: one list, each with its meaning, counted by one rule."""

from __future__ import annotations

from dataclasses import dataclass

from groundwatch.rejects import DESCRIPTIONS, RejectReason, count_rejections, seeded


def test_every_reason_says_what_it_means() -> None:
    assert set(DESCRIPTIONS) == set(RejectReason)
    for reason in RejectReason:
        assert reason.description and reason.value == reason.value.lower()


@dataclass
class R:
    reason: RejectReason


def test_counted_under_their_reason_and_seeded_at_zero() -> None:
    counts: dict[str, int] = {}
    count_rejections(counts, [R(RejectReason.BAD_CRC), R(RejectReason.BAD_CRC)])
    count_rejections(counts, [R(RejectReason.NOT_SYNCED)])
    assert counts == {"bad_crc": 2, "not_synced": 1}
    full = seeded(counts)
    assert full["bad_crc"] == 2 and full["short_frame"] == 0
    assert list(full) == [r.value for r in RejectReason]
