"""The KISS TCP source keeps the source contract against a real local KISS server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from groundwatch.ingest.kiss_tcp import KissTcpSource
from groundwatch.kiss import kiss_encode
from groundwatch.parts import Source

from ...helpers.frames import FrameQueueHarness, wait_until
from ...helpers.source_template import SourceContract


class KissServer:
    """A TNC stand-in: a TCP server that writes KISS frames to whoever connects."""

    def __init__(self) -> None:
        self.clients: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _client(self, _r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self.clients.append(w)

    async def write(self, data: bytes) -> None:
        await wait_until(lambda: bool(self.clients), 5, "a KISS client")
        self.clients[-1].write(data)
        await self.clients[-1].drain()

    async def close(self) -> None:
        for w in self.clients:
            w.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


class TestKissTcpSource(SourceContract):
    @pytest.fixture
    async def peer(self) -> AsyncIterator[KissServer]:
        server = KissServer()
        await server.start()
        yield server
        await server.close()

    def make_source(self, peer: Any) -> Source:
        return KissTcpSource.from_config(
            {"station": self.station, "port": peer.port, "reconnect_min": 0.05},
            "sources[0]",
        )

    async def send(self, peer: Any, source: Source, frames: list[bytes]) -> None:
        await peer.write(b"".join(kiss_encode(f) for f in frames))


async def test_lost_server_is_a_ground_path_change_then_reconnects() -> None:
    server = KissServer()
    await server.start()
    source = KissTcpSource.from_config(
        {"station": "gs1", "port": server.port, "reconnect_min": 0.05}, "sources[0]"
    )
    harness = FrameQueueHarness()
    try:
        async with harness.running(source):
            await server.write(kiss_encode(b"\x01" * 30))
            await harness.frames(1)
            server.clients.pop().close()  # the TNC drops the connection
            await wait_until(lambda: len(server.clients) == 1, 5, "the source to reconnect")
            await server.write(kiss_encode(b"\x02" * 30))
            assert (await harness.frames(1))[0].data == b"\x02" * 30
    finally:
        await server.close()
    ups = [c.up for c in harness.ground_path()]
    assert ups[:3] == [True, False, True]
