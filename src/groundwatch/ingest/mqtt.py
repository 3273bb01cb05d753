"""MQTT ingestor: one binary frame per message, QoS 1, persistent session.

Delivery guarantee: the session is persistent (fixed client id, clean session off), so frames
queued at the broker while groundwatch restarts are delivered on reconnect. Messages are
acknowledged (PUBACK) only after the pipeline has archived the frame (``RawFrame.ack``): a
crash between receipt and archive makes the broker deliver the message again. aiomqtt does not
expose paho's manual acknowledgement, so this module reaches its paho client for it (the one
private attribute used, ``Client._client``). With manual acks the broker never has more than
its ``max_inflight_messages`` unacknowledged frames in flight to us, which bounds aiomqtt's
incoming queue from the broker side; the queue is bounded here as well and every drop counted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiomqtt
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from groundwatch.config import parse_part_options, read_secret
from groundwatch.ingest.base import ErtStamper, ItemQueue
from groundwatch.model import GroundPathChange, RawFrame, StationStatus
from groundwatch.mqtt_url import mqtt_connection
from groundwatch.parts import ConfigError, Counters

log = logging.getLogger(__name__)


class MqttSourceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "mqtt"
    url: str = "mqtt://127.0.0.1:1883"
    topics: list[str] = Field(default_factory=lambda: ["gs/+/frames"], min_length=1)
    station_segment: int | None = Field(
        default=1, ge=0, description="topic level holding the station name (gs/<station>/...)"
    )
    station: str | None = Field(default=None, description="fixed station name")
    heartbeat_topics: list[str] = Field(default_factory=lambda: ["gs/+/status"])
    client_id: str = "groundwatch"
    qos: int = Field(default=1, ge=0, le=2)
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    keepalive: int = Field(default=30, ge=5)
    max_queued: int = Field(default=10_000, gt=0, description="aiomqtt incoming queue bound")
    reconnect_min: float = Field(default=0.2, gt=0)
    reconnect_max: float = Field(default=10.0, gt=0)
    drain_timeout: float = Field(default=10.0, gt=0, description="seconds, at shutdown")


class _ReadPause:
    """Backpressure onto the broker: stop reading the socket while aiomqtt's queue is high.

    Measured with Mosquitto 2.0: once acknowledgements flow, the broker sends far more than
    ``max_inflight_messages`` unacknowledged messages to a slow subscriber, so a bounded
    aiomqtt queue overflows and drops (and a dropped QoS 1 message stays unacknowledged until
    the next reconnect). Not reading makes TCP push back instead: the broker keeps the
    frames queued for our session. aiomqtt has no such switch; this removes and re-adds the
    socket reader it installed (each read handles one MQTT packet, so the queue stops within
    one message of the high mark).
    """

    def __init__(self, client: aiomqtt.Client, high: int, low: int) -> None:
        self.client = client
        self.high, self.low = high, low
        self.paused = False
        self.pauses = 0
        self._fd: int | None = None

    def after_put(self, size: int) -> None:
        if not self.paused and size >= self.high:
            sock = self.client._client.socket()
            if sock is None:
                return
            self._fd = sock.fileno()
            asyncio.get_running_loop().remove_reader(self._fd)
            self.paused = True
            self.pauses += 1

    def after_get(self, size: int) -> None:
        if self.paused and size <= self.low:
            self.paused = False
            sock = self.client._client.socket()
            if sock is not None and sock.fileno() == self._fd:
                asyncio.get_running_loop().add_reader(self._fd, self._read)

    def _read(self) -> None:
        # What aiomqtt's own reader does: read, and report a broken connection.
        try:
            self.client._client.loop_read()
        except Exception as exc:
            disconnected = self.client._disconnected
            if not disconnected.done():
                disconnected.set_exception(exc)


class _CountingQueue(asyncio.Queue[aiomqtt.Message]):
    """aiomqtt's incoming queue: bounded, pausing the socket when high (``_ReadPause``);
    a drop (which aiomqtt only logs) can then only follow a failed pause, and is counted."""

    counters: Counters | None = None
    pause: _ReadPause | None = None

    def put_nowait(self, item: aiomqtt.Message) -> None:
        try:
            super().put_nowait(item)
        except asyncio.QueueFull:
            if self.counters is not None:
                self.counters.dropped += 1
                self.counters.bump("mqtt_queue_dropped")
            raise
        if self.pause is not None:
            self.pause.after_put(self.qsize())

    def get_nowait(self) -> aiomqtt.Message:
        item = super().get_nowait()
        if self.pause is not None:
            self.pause.after_get(self.qsize())
        return item


class MqttSource:
    """Receives frames from ``topics`` and heartbeats from ``heartbeat_topics``."""

    def __init__(self, cfg: MqttSourceConfig) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.counters = Counters()
        conn = mqtt_connection(cfg.url)
        self._host: str = conn["hostname"]
        self._port: int = conn["port"]
        self._user = cfg.username or conn["username"]
        self._url_password: str | None = conn["password"]
        self._stamper = ErtStamper()
        self._stopping = asyncio.Event()
        self._unacked = 0
        self._all_acked = asyncio.Event()
        self._all_acked.set()
        self.connected = False
        self.read_pause: _ReadPause | None = None

    @classmethod
    def from_config(cls, options: Mapping[str, Any], key: str = "sources[0]") -> MqttSource:
        cfg: MqttSourceConfig = parse_part_options(MqttSourceConfig, options, key)
        try:
            mqtt_connection(cfg.url)
        except ValueError as exc:
            raise ConfigError(f"{key}.url", str(exc)) from exc
        if cfg.station is None and cfg.station_segment is None:
            raise ConfigError(f"{key}.station", "set station or station_segment")
        return cls(cfg)

    def station_for(self, topic: str) -> str:
        if self.cfg.station is not None:
            return self.cfg.station
        parts = topic.split("/")
        seg = self.cfg.station_segment or 0
        return parts[seg] if seg < len(parts) else "unknown"

    async def stop(self) -> None:
        self._stopping.set()

    def _password(self) -> str | None:
        secret = read_secret(self.cfg.password, self.cfg.password_file, "sources.password")
        return secret if secret is not None else self._url_password

    async def run(self, out: ItemQueue) -> None:
        delay = self.cfg.reconnect_min
        state_logged: bool | None = None
        while not self._stopping.is_set():
            try:
                await self._session(out)
                return
            except aiomqtt.MqttError as exc:
                self.counters.errors += 1
                if self.connected or state_logged is not False:
                    log.warning(
                        "mqtt %s: broker %s:%s unreachable (%s); retrying with backoff",
                        self.name,
                        self._host,
                        self._port,
                        exc,
                    )
                    state_logged = False
                if self.connected:
                    self.connected = False
                    await out.put(GroundPathChange(self.name, False, time.time_ns(), str(exc)))
            with_stop = asyncio.ensure_future(self._stopping.wait())
            done, _ = await asyncio.wait({with_stop}, timeout=delay)
            if not done:
                with_stop.cancel()
            delay = min(delay * 2, self.cfg.reconnect_max)

    async def _session(self, out: ItemQueue) -> None:
        queue_cls = type("BoundedQueue", (_CountingQueue,), {"counters": self.counters})
        client = aiomqtt.Client(
            self._host,
            self._port,
            identifier=self.cfg.client_id,
            clean_session=False,
            username=self._user,
            password=self._password(),
            keepalive=self.cfg.keepalive,
            queue_type=queue_cls,
            max_queued_incoming_messages=self.cfg.max_queued,
        )
        client._client.manual_ack_set(True)
        bound = self.cfg.max_queued
        self.read_pause = _ReadPause(client, high=max(1, bound * 3 // 4), low=bound // 4)
        queue_cls.pause = self.read_pause  # type: ignore[attr-defined]
        async with client:
            self.connected = True
            log.info("mqtt %s: connected to %s:%s", self.name, self._host, self._port)
            await out.put(GroundPathChange(self.name, True, time.time_ns(), "connected"))
            for t in self.cfg.topics:
                await client.subscribe(t, qos=self.cfg.qos)
            for t in self.cfg.heartbeat_topics:
                await client.subscribe(t, qos=0)
            stop_wait = asyncio.ensure_future(self._stopping.wait())
            try:
                async for msg in _incoming(client, stop_wait):
                    await self._handle(client, msg, out)
                # Stopping: stay connected until the pipeline has archived (and so acked) every
                # frame we handed it; an ack after disconnect would be lost and the broker would
                # deliver the frame again on the next start.
                try:
                    await asyncio.wait_for(self._all_acked.wait(), self.cfg.drain_timeout)
                except TimeoutError:
                    log.warning(
                        "mqtt %s: %d frames not archived before disconnect; the broker "
                        "will deliver them again",
                        self.name,
                        self._unacked,
                    )
            finally:
                stop_wait.cancel()
                self.connected = False

    async def _handle(self, client: aiomqtt.Client, msg: aiomqtt.Message, out: ItemQueue) -> None:
        topic = msg.topic.value
        payload = msg.payload if isinstance(msg.payload, bytes | bytearray) else b""
        station = self.station_for(topic)
        if any(msg.topic.matches(t) for t in self.cfg.heartbeat_topics) and not any(
            msg.topic.matches(t) for t in self.cfg.topics
        ):
            await out.put(StationStatus(station, bytes(payload), time.time_ns()))
            return
        self.counters.received += 1
        paho = client._client
        mid, qos = msg.mid, msg.qos

        self._unacked += 1
        self._all_acked.clear()

        def ack() -> None:
            if qos > 0:
                paho.ack(mid, qos)
            self._unacked -= 1
            if self._unacked == 0:
                self._all_acked.set()

        frame = RawFrame(
            data=bytes(payload),
            ert_ns=self._stamper.stamp(station),
            station=station,
            source="live",
            ingest=self.name,
            ack=ack,
        )
        await out.put(frame)
        self.counters.sent += 1


async def _incoming(client: aiomqtt.Client, stop: asyncio.Future[Any]) -> Any:
    """aiomqtt's messages until ``stop``; raises MqttError on a disconnection.

    Like ``client.messages``, but a message already queued is taken without creating a task
    and waiting on it (aiomqtt's iterator does that for every message: under load, the
    queue is never empty and that overhead is most of the ingest cost).
    """
    queue: asyncio.Queue[aiomqtt.Message] = client._queue
    disconnected: asyncio.Future[Any] = client._disconnected
    while not stop.done():
        try:
            yield queue.get_nowait()
            continue
        except asyncio.QueueEmpty:
            pass
        get = asyncio.ensure_future(queue.get())
        done, _ = await asyncio.wait({get, stop, disconnected}, return_when=asyncio.FIRST_COMPLETED)
        if get in done:
            yield get.result()
            continue
        get.cancel()
        if disconnected in done:
            raise aiomqtt.MqttError("Disconnected during message iteration") from (
                disconnected.exception()
            )
        return
