"""The replay source: time window, --time now, pacing on the clock, max speed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

from groundwatch.clock import ReplayClock
from groundwatch.model import RawFrame
from groundwatch.replay.recording import RecordedFrame, TimeLine
from groundwatch.replay.source import ReplaySource, TimeWindow

T0 = 1_700_000_000_000_000_000
STEP = 100_000_000  # 0.1 s


def recorded(n: int) -> Iterator[RecordedFrame]:
    for i in range(n):
        yield RecordedFrame(bytes([i]), T0 + i * STEP, "gs1", i)


async def feed(source: ReplaySource) -> list[RawFrame]:
    q: asyncio.Queue[RawFrame] = asyncio.Queue()
    await source.run(q)
    return [q.get_nowait() for _ in range(q.qsize())]


def make(n: int, speed: float | None, **kw: object) -> tuple[ReplaySource, ReplayClock]:
    clock = ReplayClock(0, speed)
    src = ReplaySource(
        recorded(n),
        session="s",
        clock=clock,
        timeline=TimeLine(STEP, T0),
        **kw,  # type: ignore[arg-type]
    )
    return src, clock


async def test_window_and_labels() -> None:
    src, _ = make(20, None, window=TimeWindow(T0 + 5 * STEP, T0 + 9 * STEP))
    frames = await feed(src)
    assert [f.data[0] for f in frames] == [5, 6, 7, 8, 9]
    assert {f.source for f in frames} == {"replay:s"} and {f.ingest for f in frames} == {"replay"}
    assert frames[0].ert_ns == T0 + 5 * STEP  # --time original keeps recorded times


async def test_time_now_shifts_the_whole_pass() -> None:
    now = T0 + 10**15
    src, _ = make(5, None, shift_to_ns=now)
    frames = await feed(src)
    assert [f.ert_ns for f in frames] == [now + i * STEP for i in range(5)]


async def test_max_speed_moves_the_clock_only_after_the_pipeline_drained() -> None:
    processed = {"n": 0}
    src, clock = make(10, None, tail_ns=5 * STEP, drained=lambda fed: processed["n"] >= fed)
    q: asyncio.Queue[RawFrame] = asyncio.Queue()
    task = asyncio.create_task(src.run(q))
    await asyncio.sleep(0.05)
    assert q.qsize() == 10 and not task.done()
    assert clock.now_ns() == T0  # feeding never moved time (the decode stage does)
    processed["n"] = 10
    await asyncio.wait_for(task, 1)
    assert clock.now_ns() == T0 + 14 * STEP  # last frame + tail: a final LOS can fire


async def test_paced_replay_follows_the_clock() -> None:
    src, clock = make(11, 10.0, tail_ns=0)  # 1 s of pass at 10x: ~0.1 s of wall time
    t = time.monotonic()
    frames = await feed(src)
    wall = time.monotonic() - t
    assert len(frames) == 11
    assert 0.09 <= wall < 0.5
    assert clock.now_ns() >= T0 + 10 * STEP
