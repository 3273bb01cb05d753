"""The UDP source keeps the source contract over a real loopback socket."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from groundwatch.ingest.udp import UdpSource
from groundwatch.parts import Source

from ...helpers.source_template import SourceContract


class TestUdpSource(SourceContract):
    def make_source(self, peer: Any) -> Source:
        return UdpSource.from_config({"station": self.station, "port": 0}, "sources[0]")

    async def send(self, peer: Any, source: Source, frames: list[bytes]) -> None:
        assert isinstance(source, UdpSource) and source.bound_port is not None
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for f in frames:
                sock.sendto(f, ("127.0.0.1", source.bound_port))
                await asyncio.sleep(0)  # let the loop read: the socket buffer is finite


async def test_a_port_in_use_fails_the_start_not_a_task_later() -> None:
    first = UdpSource.from_config({"station": "gs1", "port": 0}, "sources[0]")
    await first.start()
    try:
        second = UdpSource.from_config({"station": "gs1", "port": first.bound_port}, "sources[1]")
        try:
            await second.start()
        except OSError:
            pass
        else:
            raise AssertionError("a second bind of the same port was accepted")
    finally:
        await first.stop()


async def test_datagrams_held_while_the_pipeline_is_busy_are_bounded_in_bytes() -> None:
    src = UdpSource.from_config(
        {"station": "gs1", "port": 0, "buffer": 1000, "buffer_bytes": 256 * 1024}, "sources[0]"
    )
    await src.start()  # bound, not run: nothing takes from the buffer
    try:
        big = bytes(60_000)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for _ in range(20):
                sock.sendto(big, ("127.0.0.1", src.bound_port))
                await asyncio.sleep(0.001)
        for _ in range(100):
            if src.counters.received == 20:
                break
            await asyncio.sleep(0.01)
        assert src.counters.received == 20
        held = src._buffer.qsize()
        assert 4 <= held <= 5  # 256 KiB of 60 KB datagrams, not 20 of them
        assert src.counters.dropped == 20 - held
    finally:
        await src.stop()
