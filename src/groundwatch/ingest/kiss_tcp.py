"""KISS over TCP client: the way SDR decoders (gr-satellites, Direwolf) and TNCs serve frames.

Connects to ``host:port``, reads the byte stream, cuts KISS frames (``KissDecoder`` from the
decoders package: KISS is the transport's framing, so this ingestor owns no layout of its
own) and hands each data frame on as a RawFrame. A frame with a bad escape is handed on raw
too: the decoder rejects it and it is counted and kept, never dropped here. Reconnects with
backoff when the server goes away; logs each state change once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from groundwatch.config import parse_part_options
from groundwatch.ingest.base import ErtStamper, station_problem
from groundwatch.kiss import KissCommand, KissDecoder, KissError
from groundwatch.model import GroundPathChange, RawFrame
from groundwatch.parts import ConfigError, Counters, FrameQueue

log = logging.getLogger(__name__)


class KissTcpOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(default="kiss", description="name in /health and /metrics")
    host: str = Field(default="127.0.0.1", description="KISS TCP server (TNC, SDR decoder)")
    port: int = Field(default=8001, gt=0, lt=65536, description="its port")
    station: str = Field(description="ground station this TNC/SDR belongs to")
    reconnect_min: float = Field(default=0.2, gt=0, description="first reconnect delay, s")
    reconnect_max: float = Field(default=10.0, gt=0, description="longest reconnect delay, s")
    read_size: int = Field(default=65536, gt=0, description="bytes read at once")


class KissTcpSource:
    """Frames from a KISS TCP server (an SDR decoder or a TNC), one station per source."""

    Options: ClassVar[type[BaseModel]] = KissTcpOptions

    def __init__(self, cfg: KissTcpOptions) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.counters = Counters()
        self.due_ns: int | None = None  # frames are fed as they arrive, not paced
        self.connected = False
        self._stamper = ErtStamper()
        self._stopping = asyncio.Event()

    @classmethod
    def from_config(cls, options: Mapping[str, Any], key: str = "sources[0]") -> KissTcpSource:
        cfg = parse_part_options(KissTcpOptions, options, key)
        if problem := station_problem(cfg.station):
            raise ConfigError(f"{key}.station", problem)
        return cls(cfg)

    async def start(self) -> None:
        """Nothing to open ahead: ``run`` connects, and reconnects with backoff."""

    async def stop(self) -> None:
        self._stopping.set()

    async def run(self, out: FrameQueue) -> None:
        delay = self.cfg.reconnect_min
        warned = False
        while not self._stopping.is_set():
            try:
                reader, writer = await asyncio.open_connection(self.cfg.host, self.cfg.port)
            except OSError as exc:
                self.counters.errors += 1
                if not warned:
                    log.warning(
                        "kiss %s: %s:%s unreachable (%s); retrying with backoff",
                        self.name,
                        self.cfg.host,
                        self.cfg.port,
                        exc,
                    )
                    warned = True
            else:
                warned = False
                delay = self.cfg.reconnect_min
                await self._session(reader, writer, out)
            if self._stopping.is_set():
                return
            try:
                await asyncio.wait_for(self._stopping.wait(), delay)
            except TimeoutError:
                pass
            delay = min(delay * 2, self.cfg.reconnect_max)

    async def _session(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, out: FrameQueue
    ) -> None:
        self.connected = True
        log.info("kiss %s: connected to %s:%s", self.name, self.cfg.host, self.cfg.port)
        await out.put(
            GroundPathChange(self.name, True, time.time_ns(), "connected", (self.cfg.station,))
        )
        kiss = KissDecoder()
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            while True:
                read = asyncio.ensure_future(reader.read(self.cfg.read_size))
                done, _ = await asyncio.wait({read, stop}, return_when=asyncio.FIRST_COMPLETED)
                if read not in done:
                    read.cancel()
                    return
                chunk = read.result()
                if not chunk:
                    log.warning("kiss %s: server closed the connection", self.name)
                    break
                for item in kiss.feed(chunk):
                    if isinstance(item, KissError):
                        self.counters.bump("kiss_errors")
                        data = item.data
                    elif item.command != KissCommand.DATA:
                        continue  # TNC parameters, not telemetry
                    else:
                        data = item.data
                    self.counters.received += 1
                    await out.put(
                        RawFrame(
                            data,
                            self._stamper.stamp(self.cfg.station),
                            self.cfg.station,
                            "live",
                            self.name,
                        )
                    )
                    self.counters.sent += 1
        except OSError as exc:
            self.counters.errors += 1
            log.warning("kiss %s: connection lost (%s)", self.name, exc)
        finally:
            stop.cancel()
            writer.close()
            self.connected = False
        await out.put(
            GroundPathChange(self.name, False, time.time_ns(), "disconnected", (self.cfg.station,))
        )
