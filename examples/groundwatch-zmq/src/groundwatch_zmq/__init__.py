"""A groundwatch source for frames sent as ZeroMQ messages, one raw frame per message.

Follows ``groundwatch.parts.Source``: ``from_config`` validates without I/O, ``start``
creates the socket (ZeroMQ connects in the background and reconnects by itself), ``run``
puts each frame, stamped with its earth-received time, into the pipeline's bounded queue,
``stop`` makes ``run`` return after the frame in hand is handed over.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import zmq
import zmq.asyncio
from pydantic import BaseModel, ConfigDict, Field

from groundwatch.config import parse_part_options
from groundwatch.ingest.base import ErtStamper
from groundwatch.model import RawFrame
from groundwatch.parts import ConfigError, Counters, FrameQueue

log = logging.getLogger(__name__)
POLL_MS = 200  # how soon run() notices stop()


class ZmqPduSourceOptions(BaseModel):
    """``[[sources]] type = "zmq"``."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(default="zmq", description="name in /health and /metrics")
    endpoint: str = Field(
        default="tcp://127.0.0.1:5555", description="ZeroMQ endpoint to connect to"
    )
    station: str = Field(description="ground station these frames come from")
    socket: Literal["sub", "pull"] = Field(default="sub", description="sub (PUB) or pull (PUSH)")
    topic: str = Field(default="", description="subscription prefix (sub only)")
    receive_hwm: int = Field(default=1000, gt=0, description="messages held by ZeroMQ")


class ZmqPduSource:
    """Frames as ZeroMQ messages (gr-satellites, GNU Radio), one station per source."""

    Options: ClassVar[type[BaseModel]] = ZmqPduSourceOptions

    def __init__(self, options: ZmqPduSourceOptions) -> None:
        self.options = options
        self.name = options.name
        self.counters = Counters()
        self.connected = False
        self.due_ns: int | None = None  # frames are fed as they arrive
        self._stamper = ErtStamper()
        self._stopping = asyncio.Event()
        self._context: zmq.asyncio.Context | None = None
        self._socket: zmq.asyncio.Socket | None = None

    @classmethod
    def from_config(cls, options: Mapping[str, Any], key: str) -> ZmqPduSource:
        opts: ZmqPduSourceOptions = parse_part_options(ZmqPduSourceOptions, options, key)
        if "://" not in opts.endpoint:
            raise ConfigError(f"{key}.endpoint", f"not a ZeroMQ endpoint: {opts.endpoint!r}")
        return cls(opts)

    async def start(self) -> None:
        if self._socket is not None:
            return
        self._context = zmq.asyncio.Context()
        kind = zmq.SUB if self.options.socket == "sub" else zmq.PULL
        sock = self._context.socket(kind)
        sock.setsockopt(zmq.RCVHWM, self.options.receive_hwm)
        sock.setsockopt(zmq.LINGER, 0)
        if kind == zmq.SUB:
            sock.setsockopt(zmq.SUBSCRIBE, self.options.topic.encode())
        sock.connect(self.options.endpoint)
        self._socket = sock
        self.connected = True  # ZeroMQ has no session to wait for: it connects when it can
        log.info("zmq %s: connected to %s", self.name, self.options.endpoint)

    async def run(self, out: FrameQueue) -> None:
        await self.start()
        sock = self._socket
        assert sock is not None
        station = self.options.station
        try:
            while not self._stopping.is_set():
                if not await sock.poll(POLL_MS):
                    continue
                parts = await sock.recv_multipart()
                self.counters.received += 1
                data = parts[-1]  # topic (if sent as its own part) first, frame last
                if not data:
                    self.counters.dropped += 1
                    continue
                ert = self._stamper.stamp(station)
                await out.put(RawFrame(bytes(data), ert, station, "live", self.name))
                self.counters.sent += 1
        finally:
            self.connected = False
            sock.close(0)
            self._socket = None
            if self._context is not None:
                self._context.term()
                self._context = None

    async def stop(self) -> None:
        self._stopping.set()
