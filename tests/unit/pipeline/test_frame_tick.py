"""The link monitor's tick before each frame: skipped only while the monitor says nothing
can be due (``tick_due_ns``), and run for every frame when it cannot say."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from groundwatch.clock import ReplayClock
from groundwatch.decoders.frame_decoder import FrameIdentity
from groundwatch.link.accounting import FrameAccounting
from groundwatch.link.merge import FrameMerger
from groundwatch.model import DecodeResult, Event, LinkKey, Point, RawFrame
from groundwatch.pipeline import Pipeline

T0 = 1_700_000_000_000_000_000
STEP = 10_000_000  # 10 ms between frames


class Decoder:
    def peek(self, frame: RawFrame) -> FrameIdentity:
        return FrameIdentity(1, 0, frame.data[0], True, "sc")

    def decode(self, frame: RawFrame) -> DecodeResult:
        return DecodeResult(frame, "sc", valid=True, crc_ok=True)


@dataclass
class Monitor:
    """Records the times it was ticked at; due: what ``tick_due_ns`` answers."""

    due: int | None = None
    ticks: list[int] = field(default_factory=list)

    def tick(self, now_ns: int) -> list[Event]:
        self.ticks.append(now_ns)
        return []

    def observe_frame(self, key: LinkKey, ert_ns: int, valid: bool, now_ns: int) -> list[Event]:
        return []

    def observe_result(self, result: DecodeResult, now_ns: int) -> list[Event]:
        return []

    def state_points(self, now_ns: int) -> list[Point]:
        return []


class DueMonitor(Monitor):
    def tick_due_ns(self) -> int | None:
        return self.due


class Alerts:
    def tick(self, now_ns: int) -> None:
        pass

    def submit(self, events: list[Event]) -> None:
        pass


class Store:
    def __init__(self) -> None:
        self.puts: list[list[Point]] = []

    async def put(self, points: list[Point], checkpoint: Any = None) -> bool:
        self.puts.append(points)
        return True


def pipeline(monitor: Monitor) -> Pipeline:
    return Pipeline(
        sources=[],
        decoder=Decoder(),
        store=Store(),
        monitor=monitor,
        accounting=FrameAccounting(),
        merger=FrameMerger(),
        alerts=Alerts(),
        archive=None,
        to_points=lambda result: [],
        clock=ReplayClock(T0, None),
        source_label="replay:t",
    )


async def feed(p: Pipeline, n: int) -> None:
    for i in range(n):
        await p.process(RawFrame(bytes([i]), T0 + i * STEP, "gs1", "replay:t", "replay"))


async def test_a_monitor_that_cannot_say_is_ticked_before_every_frame() -> None:
    monitor = Monitor()
    await feed(pipeline(monitor), 5)
    assert monitor.ticks == [T0 + i * STEP for i in range(5)]


async def test_tick_skipped_until_due_then_run_at_the_first_frame_past_it() -> None:
    monitor = DueMonitor(due=T0 + 25_000_000)
    p = pipeline(monitor)
    await feed(p, 5)
    assert monitor.ticks == [T0 + 3 * STEP, T0 + 4 * STEP]  # 30 ms and 40 ms: past 25 ms
    monitor.due = None  # nothing can be due: no tick before a frame
    monitor.ticks.clear()
    await feed(p, 3)
    assert monitor.ticks == []
    await p.advance(T0 + 10 * STEP)  # the tick loop's (and shutdown's) tick always runs
    assert monitor.ticks == [T0 + 10 * STEP]


async def test_link_series_still_written_each_second_without_ticks() -> None:
    monitor = DueMonitor(due=None)
    p = pipeline(monitor)
    store = p.store
    await feed(p, 1)
    p.accounting_interval_ns = STEP  # link series every 10 ms of pass time
    p._next_accounting = T0 + STEP
    await p.process(RawFrame(b"\x01", T0 + STEP, "gs1", "replay:t", "replay"))
    series = [pts for pts in store.puts if any(pt.measurement == "link" for pt in pts)]
    assert monitor.ticks == [] and len(series) == 1


async def test_a_frame_is_acknowledged_even_when_the_tick_before_it_fails() -> None:
    """An unacknowledged frame holds one of the broker's in-flight slots for the session:
    acknowledged (no archive here) before the link monitor's tick, which may fail."""

    class FailingMonitor(Monitor):
        def tick(self, now_ns: int) -> list[Event]:
            raise RuntimeError("tick failed")

    p = pipeline(FailingMonitor())
    acked: list[int] = []
    for i in range(3):
        frame = RawFrame(bytes([i]), T0 + i * STEP, "gs1", "replay:t", "replay",
                         ack=lambda i=i: acked.append(i))  # fmt: skip
        await p.process(frame)
    assert acked == [0, 1, 2]
    assert p.counters.errors == 3  # each failure counted
