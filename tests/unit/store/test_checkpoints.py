from __future__ import annotations

from typing import Any

from groundwatch.store.checkpoints import Batch, CheckpointTracker


def test_checkpoints_are_released_in_put_order_only() -> None:
    got: list[Any] = []
    t = CheckpointTracker(got.append)
    a = t.open(3, "a")
    b = t.open(2, "b")
    c = t.open(0, "c")  # no points: durable as soon as everything before it is
    t.done(Batch([b"x"] * 2, {b: 2}))  # b is done, but a is not: nothing yet
    assert got == []
    t.done(Batch([b"x"] * 2, {a: 2}))
    assert got == []
    t.done(Batch([b"x"], {a: 1}))  # a's last line (the put was split across batches)
    assert got == ["a", "b", "c"] and c == 2 and t.pending == 0


def test_after_a_refusal_no_later_checkpoint_is_reported() -> None:
    got: list[Any] = []
    t = CheckpointTracker(got.append)
    a = t.open(1, "a")
    t.stall()
    b = t.open(1, "b")
    t.done(Batch([b"x", b"y"], {a: 1, b: 1}))
    assert got == ["a"] and t.pending == 0  # a was put before the refusal
