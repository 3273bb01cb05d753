"""A frame-queue harness: the bounded queue the pipeline hands to a source, with a way to
run the source against it and wait for what it put.

    harness = FrameQueueHarness(maxsize=10)
    async with harness.running(source):
        ...  # make the source receive something
        frames = await harness.frames(3)
    # the source was stopped and ``run`` returned (or the test fails)
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from groundwatch.model import GroundPathChange, RawFrame, StationStatus
from groundwatch.parts import IngestItem, Source


class FrameQueueHarness:
    """A real ``asyncio.Queue`` (bounded like the pipeline's) and the items taken from it."""

    def __init__(self, maxsize: int = 1000) -> None:
        self.queue: asyncio.Queue[IngestItem] = asyncio.Queue(maxsize=maxsize)
        self.items: list[IngestItem] = []

    async def put(self, item: IngestItem) -> None:  # the FrameQueue contract
        await self.queue.put(item)

    async def take(self, timeout: float = 5.0) -> IngestItem:
        """The next item; a frame is acknowledged as the pipeline does once it is archived."""
        item = await asyncio.wait_for(self.queue.get(), timeout)
        self._taken(item)
        return item

    def _taken(self, item: IngestItem) -> None:
        self.items.append(item)
        if isinstance(item, RawFrame) and item.ack is not None:
            item.ack()

    async def frames(self, n: int, timeout: float = 5.0) -> list[RawFrame]:
        """The next ``n`` frames (other items are kept in ``items``); TimeoutError if not."""
        out: list[RawFrame] = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            item = await self.take(max(0.01, deadline - time.monotonic()))
            if isinstance(item, RawFrame):
                out.append(item)
        return out

    def ground_path(self) -> list[GroundPathChange]:
        return [i for i in self.items if isinstance(i, GroundPathChange)]

    def heartbeats(self) -> list[StationStatus]:
        return [i for i in self.items if isinstance(i, StationStatus)]

    def drain(self) -> list[IngestItem]:
        """Whatever is queued now, without waiting."""
        got = []
        while not self.queue.empty():
            item = self.queue.get_nowait()
            self._taken(item)
            got.append(item)
        return got

    @contextlib.asynccontextmanager
    async def running(self, source: Source, stop_within: float = 5.0) -> AsyncIterator[Any]:
        """``start`` and ``run`` the source as the pipeline does; on exit ``stop`` it and
        fail unless ``run`` returns within ``stop_within`` seconds."""
        await source.start()
        task = asyncio.create_task(source.run(self), name=f"source:{source.name}")
        try:
            yield task
        finally:
            await source.stop()
            # A source hands over what it holds after stop(): keep taking, as the decode
            # stage does, so a full queue cannot hold it up.
            deadline = time.monotonic() + stop_within
            while not task.done() and time.monotonic() < deadline:
                self.drain()
                await asyncio.sleep(0.01)
            self.drain()
            if not task.done():
                task.cancel()
                raise AssertionError(f"{source.name}: run() did not return after stop()")
            task.result()  # a source that failed fails the test


async def wait_until(cond: Any, timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
