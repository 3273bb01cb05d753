"""The replay source: recorded frames fed to the pipeline on the recorded time line.

At ``--speed N`` each frame is put when the pipeline's ``ReplayClock`` reaches its
earth-received time, so the link monitor's timers (ticked by the pipeline on that clock) fire
at the recorded pass times. At ``max`` the source never touches the clock: the decode stage
advances it to each frame's time as it takes the frame, so time cannot run ahead of the frames
still queued (which would raise a false LOS).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from groundwatch.clock import ReplayClock
from groundwatch.model import RawFrame
from groundwatch.parts import Counters, FrameQueue
from groundwatch.replay.recording import RecordedFrame, TimeLine


class FramePublisher(Protocol):
    """Where ``--republish`` sends each frame as it is fed (e.g. an MQTT topic)."""

    async def publish(self, frame: RawFrame) -> None: ...


@dataclass(slots=True)
class TimeWindow:
    """``--from/--to`` on the recorded (unshifted) time line; None is open-ended."""

    start_ns: int | None = None
    end_ns: int | None = None

    def before(self, t: int) -> bool:
        return self.start_ns is not None and t < self.start_ns

    def after(self, t: int) -> bool:
        return self.end_ns is not None and t > self.end_ns


class ReplaySource:
    """A ``parts.Source`` over a recording; ends by itself once the pass (and tail) is fed."""

    def __init__(
        self,
        frames: Iterator[RecordedFrame],
        *,
        session: str,
        clock: ReplayClock,
        timeline: TimeLine,
        shift_to_ns: int | None = None,
        window: TimeWindow | None = None,
        tail_ns: int = 0,
        drained: Callable[[int], bool] | None = None,
        publisher: FramePublisher | None = None,
    ) -> None:
        self.name = "replay"
        self.counters = Counters()
        self.session = session
        self.label = f"replay:{session}"
        self._frames = frames
        self._clock = clock
        self._timeline = timeline
        self._shift_to = shift_to_ns  # --time now: the first frame lands at this time
        self._window = window or TimeWindow()
        self._tail_ns = tail_ns
        self._drained = drained  # fed frame count -> has the decode stage processed them all?
        self._publisher = publisher
        self._stopping = False
        self.first_ert_ns: int | None = None  # on the replayed (possibly shifted) time line
        self.last_ert_ns: int | None = None
        self.position = 0  # bytes of the recording read (progress)
        self.started_wall: float | None = None
        self.finished_wall: float | None = None
        self.last_fed_wall: float | None = None
        self.due_ns: int | None = None  # pass time of the next frame to feed (paced replay)
        self.connected = True  # a recording has nothing to connect to

    async def start(self) -> None:
        """The recording is opened by whoever made ``frames``; nothing to open here."""

    async def run(self, out: FrameQueue) -> None:
        # Once per frame at up to ~9,000 frames/s: the loop keeps to plain local values.
        shift = 0
        yielded = 0
        start_ns, end_ns = self._window.start_ns, self._window.end_ns
        ert = self._timeline.ert
        paced = self._clock.speed is not None
        label = self.label
        counters = self.counters
        # An asyncio.Queue with room takes the frame at once: what put() does, minus a
        # coroutine per frame.
        put_nowait = getattr(out, "put_nowait", None)
        full = getattr(out, "full", None)
        for rec in self._frames:
            if self._stopping:
                break
            counters.received += 1
            self.position = rec.position
            t = ert(rec)
            if start_ns is not None and t < start_ns:
                continue
            if end_ns is not None and t > end_ns:
                break
            if self.first_ert_ns is None:
                if self._shift_to is not None:
                    shift = self._shift_to - t
                self.first_ert_ns = t + shift
                self._clock.restart(t + shift)
                self.started_wall = time.monotonic()
            t += shift
            if paced:
                self.due_ns = t  # the pipeline's timers wait for this frame (see Pipeline)
                await self._clock.wait_until(t)
            elif yielded % 256 == 0:
                await asyncio.sleep(0)  # a file read without I/O waits must not hog the loop
            yielded += 1
            frame = RawFrame(rec.data, t, rec.station, label, "replay", meta=rec.meta)
            if self._publisher is not None:
                await self._publisher.publish(frame)
            if put_nowait is not None and full is not None and not full():
                put_nowait(frame)
            else:
                await out.put(frame)
            counters.sent += 1
            self.last_fed_wall = time.monotonic()
            if self.last_ert_ns is None or t > self.last_ert_ns:
                self.last_ert_ns = t
        await self._finish()

    async def _finish(self) -> None:
        """Let pass time run on past the last frame, so a LOS at its end is raised."""
        if self.last_ert_ns is None or self._stopping:
            self.finished_wall = time.monotonic()
            return
        end = self.last_ert_ns + self._tail_ns
        self.due_ns = None  # no more frames: pass time may run on
        if self._clock.speed is not None:
            await self._clock.wait_until(end)
        else:
            # Jump only once the decode stage has taken every frame (see module docstring).
            # Polled: the pipeline has no "queue drained" signal to wait on.
            while self._drained is not None and not self._drained(self.counters.sent):  # noqa: ASYNC110
                await asyncio.sleep(0.002)
            self._clock.advance(end)
        self.finished_wall = time.monotonic()

    async def stop(self) -> None:
        self._stopping = True
