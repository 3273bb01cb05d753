"""The pipeline's clock: wall time live, recorded pass time (scaled) in a replay.

The link monitor and limit checks read time only from here, so the same code raises the same
events at the same pass times whether a pass is live or replayed faster than real time.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now_ns(self) -> int: ...

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of pipeline time."""


class WallClock:
    def now_ns(self) -> int:
        return time.time_ns()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class ReplayClock:
    """Pass time that runs ``speed`` times faster than the wall, from a start point.

    ``speed=None`` is "max": time jumps to each frame's earth-received time as the replay
    source feeds it (``advance``), and sleeping only yields to the loop.
    """

    def __init__(self, start_ns: int, speed: float | None) -> None:
        self.speed = speed
        self.restart(start_ns)

    def restart(self, start_ns: int) -> None:
        """Pass time ``start_ns`` is now (call when the pipeline is ready to take frames, so
        a paced replay does not start behind its own clock)."""
        self._pass_start = start_ns
        self._wall_start = time.monotonic_ns()
        self._now = start_ns

    def now_ns(self) -> int:
        if self.speed is None:
            return self._now
        elapsed = time.monotonic_ns() - self._wall_start
        return self._pass_start + int(elapsed * self.speed)

    def advance(self, t_ns: int) -> None:
        if t_ns > self._now:
            self._now = t_ns

    async def sleep(self, seconds: float) -> None:
        if self.speed is None:
            await asyncio.sleep(0)
        else:
            await asyncio.sleep(seconds / self.speed)

    async def wait_until(self, t_ns: int) -> None:
        """Sleep until pass time ``t_ns``. A no-op at max speed: there time moves only with
        the frames the decode stage takes (moving it here, ahead of frames still queued,
        would make the link monitor see a silence that is not there)."""
        if self.speed is None:
            return
        delay = (t_ns - self.now_ns()) / 1e9
        if delay > 0:
            await asyncio.sleep(delay / self.speed)
