"""UDP ingestor: one frame per datagram (how many ground-station modems forward frames).

UDP has no flow control: when the pipeline's queue is full, a datagram cannot wait, so it is
counted as dropped (``counters.dropped``) — and, being a lost frame, it shows as a
frame-count gap on its link. Use MQTT (QoS 1) where no frame may be lost.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from groundwatch.config import parse_part_options
from groundwatch.envelope import EnvelopeSettings
from groundwatch.ingest.base import INVALID_STATION, BoundedItemQueue, station_problem
from groundwatch.ingest.station_time import EnvelopeFrames
from groundwatch.model import RawFrame, RefusedFrame, RejectedInput, RejectReason
from groundwatch.parts import ConfigError, Counters, FrameQueue

log = logging.getLogger(__name__)


class UdpOptions(EnvelopeSettings):
    """``payload = "json"`` reads station envelopes (see ``groundwatch.envelope``)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(default="udp", description="name in /health and /metrics")
    listen: str = Field(default="127.0.0.1", description="address to listen on")
    port: int = Field(default=10015, ge=0, lt=65536, description="UDP port (0: any free)")
    station: str = Field(description="ground station these datagrams come from")
    buffer: int = Field(default=1000, gt=0, description="datagrams held while the queue is full")
    buffer_bytes: int = Field(
        default=16 << 20, gt=0, description="bytes of datagrams held while the queue is full"
    )


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, source: UdpSource) -> None:
        self.source = source

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.source.received(data)


class UdpSource:
    """One frame per UDP datagram, from one station's modem."""

    Options: ClassVar[type[BaseModel]] = UdpOptions

    def __init__(self, cfg: UdpOptions) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.counters = Counters()
        self.due_ns: int | None = None  # frames are fed as they arrive, not paced
        self.connected = False
        self.bound_port: int | None = None
        self._frames = EnvelopeFrames(cfg, cfg.name, self.counters)
        # Bounded in bytes too: a datagram can carry 64 KiB.
        self._buffer = BoundedItemQueue(cfg.buffer, cfg.buffer_bytes)
        self._stopping = asyncio.Event()
        self._transport: asyncio.DatagramTransport | None = None

    @classmethod
    def from_config(cls, options: Mapping[str, Any], key: str = "sources[0]") -> UdpSource:
        cfg = parse_part_options(UdpOptions, options, key)
        if cfg.payload == "mqtt5":
            raise ConfigError(f"{key}.payload", "mqtt5 needs an MQTT source; use raw or json")
        if problem := station_problem(cfg.station):
            raise ConfigError(f"{key}.station", problem)
        return cls(cfg)

    def received(self, data: bytes) -> None:
        self.counters.received += 1
        frame: RawFrame | RejectedInput | RefusedFrame = self._frames.make(data, self.cfg.station)
        if (
            isinstance(frame, RawFrame)
            and frame.station != self.cfg.station  # named by its envelope: the same name rule
            and (problem := station_problem(frame.station)) is not None
        ):
            self.counters.bump("bad_station")
            refused = dataclasses.replace(frame, station=INVALID_STATION)
            frame = RefusedFrame(refused, RejectReason.BAD_STATION, problem)
        try:
            self._buffer.put_nowait(frame)
        except asyncio.QueueFull:
            self.counters.dropped += 1

    async def start(self) -> None:
        """Bind the socket, so a port already in use fails the start, not a task later."""
        if self._transport is not None:
            return
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self), local_addr=(self.cfg.listen, self.cfg.port)
        )
        self.bound_port = self._transport.get_extra_info("sockname")[1]
        log.info("udp %s: listening on %s:%s", self.name, self.cfg.listen, self.bound_port)

    async def stop(self) -> None:
        self._stopping.set()
        if not self.connected and self._transport is not None:  # started, never run
            self._transport.close()
            self._transport = None

    async def run(self, out: FrameQueue) -> None:
        await self.start()  # bound already when the pipeline started it
        transport = self._transport
        assert transport is not None
        self.connected = True
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            while True:
                get = asyncio.ensure_future(self._buffer.get())
                done, _ = await asyncio.wait({get, stop}, return_when=asyncio.FIRST_COMPLETED)
                if get not in done:
                    get.cancel()
                    break
                await out.put(get.result())
                self.counters.sent += 1
        finally:
            transport.close()
            self._transport = None
            stop.cancel()
            self.connected = False
            while not self._buffer.empty():  # hand over what arrived before the stop
                await out.put(self._buffer.get_nowait())
                self.counters.sent += 1
