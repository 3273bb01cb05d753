"""What every source must do, as tests a source's test class inherits.

    class TestUdpSource(SourceContract):
        def make_source(self, peer): ...        # the part, from its options
        async def send(self, peer, source, frames): ...   # make it receive these frames

``peer`` is the class's ``peer`` fixture (a broker, a server the source connects to, or
None); override it when the source needs one. The contract: frames arrive in order as
``RawFrame``s stamped with the station and a strictly increasing earth-received time,
counters add up, ``connected`` says so while running, and ``run`` returns after ``stop``
having handed over everything it took.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from groundwatch.model import RawFrame
from groundwatch.parts import Source

from .frames import FrameQueueHarness, wait_until


class SourceContract:
    station = "gs1"
    frames_to_send = 20

    @pytest.fixture
    def peer(self) -> Any:
        return None

    def make_source(self, peer: Any) -> Source:
        raise NotImplementedError

    async def send(self, peer: Any, source: Source, frames: list[bytes]) -> None:
        raise NotImplementedError

    def payloads(self, n: int) -> list[bytes]:
        return [bytes([i % 256]) * (20 + i) for i in range(n)]

    async def test_frames_arrive_in_order_stamped_and_counted(self, peer: Any) -> None:
        source = self.make_source(peer)
        harness = FrameQueueHarness()
        sent = self.payloads(self.frames_to_send)
        async with harness.running(source):
            await wait_until(lambda: source.connected, 10, f"{source.name} connected")
            await self.send(peer, source, sent)
            got = await harness.frames(len(sent), timeout=10)
        assert [f.data for f in got] == sent
        assert all(isinstance(f, RawFrame) and f.station == self.station for f in got)
        erts = [f.ert_ns for f in got]
        assert erts == sorted(erts) and len(set(erts)) == len(erts)
        assert source.counters.received >= len(sent)
        assert source.counters.sent == len(got) + len(harness.drain())
        assert source.counters.errors == 0

    async def test_stop_returns_and_clears_connected(self, peer: Any) -> None:
        source = self.make_source(peer)
        harness = FrameQueueHarness()
        async with harness.running(source) as task:
            await wait_until(lambda: source.connected, 10, f"{source.name} connected")
        assert task.done() and not source.connected
        assert source.due_ns is None  # a live source does not pace the pipeline clock

    async def test_a_full_queue_loses_nothing_uncounted(self, peer: Any) -> None:
        """A consumer that stalls: the source waits (flow control) or counts its drops."""
        source = self.make_source(peer)
        harness = FrameQueueHarness(maxsize=2)
        sent = self.payloads(self.frames_to_send)

        def delivered() -> list[RawFrame]:
            harness.drain()
            return [i for i in harness.items if isinstance(i, RawFrame)]

        async with harness.running(source):
            await wait_until(lambda: source.connected, 10, f"{source.name} connected")
            await self.send(peer, source, sent)
            await asyncio.sleep(0.3)  # nobody reads: the queue stays full
            await wait_until(
                lambda: len(delivered()) + source.counters.dropped >= len(sent),
                10,
                "every frame delivered or counted as dropped",
            )
        got = [f.data for f in delivered()]
        assert len(got) + source.counters.dropped == len(sent)
        assert got == [d for d in sent if d in set(got)]  # in order
