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


def test_puts_without_a_checkpoint_wait_with_the_next_one() -> None:
    got: list[Any] = []
    t = CheckpointTracker(got.append)
    a = t.open(2, None)  # e.g. link series: no archive position
    b = t.open(1, "b")
    assert a == b  # one entry: b needs a's lines too
    t.done(Batch([b"x"], {b: 1}))
    assert got == [] and t.pending == 1
    t.done(Batch([b"x", b"y"], {a: 2}))
    assert got == ["b"] and t.pending == 0
    c = t.open(1, None)
    t.done(Batch([b"z"], {c: 1}))
    assert t.pending == 0  # all delivered; the open entry may still grow
    d = t.open(0, "d")  # joins the (delivered) open entry and is released at once
    assert d == c and got == ["b", "d"]


def test_a_refusal_closes_the_open_entry() -> None:
    got: list[Any] = []
    t = CheckpointTracker(got.append)
    a = t.open(1, None)
    t.stall()
    b = t.open(1, "b")
    assert b != a
    t.done(Batch([b"x", b"y"], {a: 1, b: 1}))
    assert got == [] and t.pending == 0  # b was put after the refusal
