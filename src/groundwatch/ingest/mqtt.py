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
import contextlib
import functools
import logging
import struct
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from groundwatch.config import parse_part_options, read_secret
from groundwatch.ingest.base import ErtStamper
from groundwatch.ingest.envelope import EnvelopeSettings
from groundwatch.ingest.station_time import EnvelopeFrames
from groundwatch.model import GroundPathChange, StationStatus
from groundwatch.mqtt_url import mqtt_connection
from groundwatch.parts import ConfigError, Counters, FrameQueue

log = logging.getLogger(__name__)


class MqttSourceOptions(EnvelopeSettings):
    """``payload``, ``json_preset``, ``json_fields``, ``clock_tolerance``, ...: see
    ``ingest.envelope`` (``mqtt5`` connects with MQTT 5 to read user properties)."""

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


PUBACK = struct.Struct("!BBH")  # MQTT 3.1.1 PUBACK: type 4, remaining length 2, packet id


class _Incoming(NamedTuple):
    """One received message, as paho handed it over (aiomqtt's Message costs more to make
    and gives nothing this source uses)."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    properties: Any = None  # MQTT 5 only


class _BufferedSocket:
    """paho's socket, read 64 KiB at a time.

    paho reads one message per call with three or four recv() calls (command octet, each
    length octet, body) and the event loop wakes once per message; under load that is most
    of the source's CPU. Reading large chunks and looping while bytes are buffered (paho's
    ``pending()`` hook, there for TLS) takes a burst of messages per wake-up and one system
    call. Everything else goes to the socket itself."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._buf = b""
        self._pos = 0

    def recv(self, n: int) -> bytes:
        buf, pos = self._buf, self._pos
        if pos >= len(buf):
            data: bytes = self._sock.recv(max(n, 65536))
            if len(data) <= n:
                return data
            self._buf = buf = data
            pos = 0
        end = self._pos = min(pos + n, len(buf))
        return buf[pos:end]

    def pending(self) -> int:
        inner = self._sock.pending() if hasattr(self._sock, "pending") else 0
        return len(self._buf) - self._pos + inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _ReadPause:
    """Reads the socket (several messages per wake-up, see ``_BufferedSocket``) and, for
    backpressure onto the broker, stops reading it while the incoming queue is high.

    Measured with Mosquitto 2.0: once acknowledgements flow, the broker sends far more than
    ``max_inflight_messages`` unacknowledged messages to a slow subscriber, so a bounded
    queue overflows and drops (and a dropped QoS 1 message stays unacknowledged until the
    next reconnect). Not reading makes TCP push back instead: the broker keeps the frames
    queued for our session. aiomqtt has no such switch; this replaces the socket reader it
    installed, and removes and re-adds it (the reader stops within one message of the high
    mark; messages already buffered wait for the resume).
    """

    BURST = 64  # messages per wake-up at most: the pipeline gets its turn between bursts

    def __init__(self, client: aiomqtt.Client, high: int, low: int) -> None:
        self.client = client
        self.high, self.low = high, low
        self.paused = False
        self.pauses = 0
        self._fd: int | None = None

    def install(self) -> None:
        """Take over reading from aiomqtt (once connected: its reader is registered)."""
        paho = self.client._client
        sock = paho.socket()
        if sock is None:
            return
        if not isinstance(sock, _BufferedSocket):
            paho._sock = sock = _BufferedSocket(sock)
        self._fd = sock.fileno()
        asyncio.get_running_loop().add_reader(self._fd, self._read)  # replaces aiomqtt's

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
                loop = asyncio.get_running_loop()
                loop.add_reader(self._fd, self._read)
                if isinstance(sock, _BufferedSocket) and sock.pending():
                    loop.call_soon(self._read)  # buffered: the socket may never wake us

    def _read(self) -> None:
        # What aiomqtt's own reader does (read, report a broken connection), for every
        # message already buffered unless the queue reached its high mark.
        paho = self.client._client
        try:
            for _ in range(self.BURST):
                paho.loop_read()
                sock = paho.socket()
                if self.paused or not isinstance(sock, _BufferedSocket) or not sock.pending():
                    return
            # Still buffered: go on after the other tasks had their turn (the socket may
            # not wake us again, the bytes are read already).
            asyncio.get_running_loop().call_soon(self._read)
        except Exception as exc:
            disconnected = self.client._disconnected
            if not disconnected.done():
                disconnected.set_exception(exc)


class _Acks:
    """PUBACKs of archived frames, written together.

    paho's ack() sends each PUBACK on its own, and through aiomqtt each costs a thread-safe
    call_soon (a self-pipe write), add_writer, one send() and remove_writer: more CPU per
    frame than receiving it (and the broker then reads them one by one too). Here acks wait
    up to ``DELAY`` (or until ``BATCH`` are due) and go out in one send(), in the order the
    frames were archived; through paho's output queue (so after anything paho has not
    finished writing) when that queue is not empty or the socket takes less than all.
    ``done(n)`` runs once n acks are written or queued (or lost with the connection: the
    broker then delivers those frames again)."""

    DELAY = 0.005  # s: at 1,000 frames/s an event-loop pass holds one ack; this batches ~5
    BATCH = 32  # at once: well below the broker's max_inflight_messages (100)

    def __init__(self, client: aiomqtt.Client, done: Callable[[int], None]) -> None:
        self.paho = client._client
        self.loop = asyncio.get_running_loop()
        self.done = done
        self.mids: list[int] = []
        self._timer: asyncio.TimerHandle | None = None

    def add(self, mid: int) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # not on the event loop's thread
            self.loop.call_soon_threadsafe(self.add, mid)
            return
        self.mids.append(mid)
        if len(self.mids) >= self.BATCH:
            self.flush()
        elif self._timer is None:
            self._timer = self.loop.call_later(self.DELAY, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        mids, self.mids = self.mids, []
        if not mids:
            return
        paho = self.paho
        data = b"".join([PUBACK.pack(0x40, 2, m) for m in mids])
        try:
            sock = paho.socket()
            if sock is not None and not paho._out_packet:
                with contextlib.suppress(BlockingIOError):
                    data = data[sock.send(data) :]
            if data and sock is not None:
                paho._packet_queue(0x40, data, 0, 0)
        except OSError as exc:  # the reader sees the broken connection too
            log.debug("mqtt: %d acks lost with the connection (%s)", len(mids), exc)
        finally:
            self.done(len(mids))


class _CountingQueue(asyncio.Queue[_Incoming]):
    """The incoming queue: bounded, pausing the socket when high (``_ReadPause``); a drop
    can then only follow a failed pause, and is counted."""

    counters: Counters | None = None
    pause: _ReadPause | None = None

    def put_nowait(self, item: _Incoming) -> None:
        try:
            super().put_nowait(item)
        except asyncio.QueueFull:
            if self.counters is not None:
                self.counters.dropped += 1
                self.counters.bump("mqtt_queue_dropped")
            raise
        if self.pause is not None:
            self.pause.after_put(self.qsize())

    def get_nowait(self) -> _Incoming:
        item = super().get_nowait()
        if self.pause is not None:
            self.pause.after_get(self.qsize())
        return item


class MqttSource:
    """Receives frames from ``topics`` and heartbeats from ``heartbeat_topics``."""

    Options: ClassVar[type[BaseModel]] = MqttSourceOptions

    def __init__(self, cfg: MqttSourceOptions) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.counters = Counters()
        self.due_ns: int | None = None  # frames are fed as they arrive, not paced
        conn = mqtt_connection(cfg.url)
        self._host: str = conn["hostname"]
        self._port: int = conn["port"]
        self._user = cfg.username or conn["username"]
        self._url_password: str | None = conn["password"]
        self._stamper = ErtStamper()
        self.frames = EnvelopeFrames(cfg, cfg.name, self.counters)
        self._stopping = asyncio.Event()
        self._unacked = 0
        self._all_acked = asyncio.Event()
        self._all_acked.set()
        self.connected = False
        self.read_pause: _ReadPause | None = None
        self._acks: _Acks | None = None
        self._routes: dict[str, tuple[str, bool]] = {}

    @classmethod
    def from_config(cls, options: Mapping[str, Any], key: str = "sources[0]") -> MqttSource:
        cfg: MqttSourceOptions = parse_part_options(MqttSourceOptions, options, key)
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

    async def start(self) -> None:
        """Nothing to open ahead: ``run`` connects, and reconnects with backoff."""

    async def stop(self) -> None:
        self._stopping.set()

    def _password(self) -> str | None:
        secret = read_secret(self.cfg.password, self.cfg.password_file, "sources.password")
        return secret if secret is not None else self._url_password

    async def run(self, out: FrameQueue) -> None:
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

    async def _session(self, out: FrameQueue) -> None:
        queue_cls = type("BoundedQueue", (_CountingQueue,), {"counters": self.counters})
        client = aiomqtt.Client(
            self._host,
            self._port,
            identifier=self.cfg.client_id,
            **_session_options(self.cfg.payload == "mqtt5"),
            username=self._user,
            password=self._password(),
            keepalive=self.cfg.keepalive,
            queue_type=queue_cls,
            max_queued_incoming_messages=self.cfg.max_queued,
        )
        paho = client._client
        paho.manual_ack_set(True)
        queue: _CountingQueue = client._queue  # type: ignore[assignment]

        def on_message(_c: Any, _u: Any, m: Any) -> None:
            try:
                queue.put_nowait(_Incoming(m.topic, m.payload, m.mid, m.qos, m.properties))
            except asyncio.QueueFull:  # counted by the queue
                pass

        paho.on_message = on_message  # instead of aiomqtt's (see _Incoming)
        bound = self.cfg.max_queued
        self.read_pause = _ReadPause(client, high=max(1, bound * 3 // 4), low=bound // 4)
        queue.pause = self.read_pause
        async with client:
            self.read_pause.install()
            self._acks = _Acks(client, self._acked)
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

    def _route(self, topic: str) -> tuple[str, bool]:
        """(station, is a heartbeat) of a topic; cached, topic matching costs microseconds."""
        route = self._routes.get(topic)
        if route is None:
            if len(self._routes) > 1000:  # bounded: topics come from the wire
                self._routes.clear()
            t = aiomqtt.Topic(topic)
            beat = any(t.matches(p) for p in self.cfg.heartbeat_topics) and not any(
                t.matches(p) for p in self.cfg.topics
            )
            route = self._routes[topic] = (self.station_for(topic), beat)
        return route

    def _paho_ack(self, client: aiomqtt.Client, mid: int, qos: int) -> None:
        if qos:
            client._client.ack(mid, qos)
        self._acked(1)

    def _acked(self, n: int) -> None:
        self._unacked -= n
        if self._unacked == 0:
            self._all_acked.set()

    async def _handle(self, client: aiomqtt.Client, msg: _Incoming, out: FrameQueue) -> None:
        station, heartbeat = self._route(msg.topic)
        if heartbeat:
            await out.put(StationStatus(station, bytes(msg.payload), time.time_ns()))
            return
        self.counters.received += 1
        mid, qos = msg.mid, msg.qos
        self._unacked += 1
        self._all_acked.clear()
        ack: Callable[[], None]
        if qos == 1 and self._acks is not None:
            ack = functools.partial(self._acks.add, mid)
        else:  # QoS 0 needs no ack, QoS 2 its PUBREC/PUBCOMP flow: paho's own
            ack = functools.partial(self._paho_ack, client, mid, qos)
        props = getattr(msg.properties, "UserProperty", None) or ()
        await out.put(self.frames.make(msg.payload, station, props, ack=ack))
        self.counters.sent += 1


def _session_options(mqtt5: bool) -> dict[str, Any]:
    """A persistent session: MQTT 3.1.1 clean session off, or (MQTT 5, to read user
    properties) clean start off with a session that outlives the connection."""
    if not mqtt5:
        return {"clean_session": False}
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 0xFFFFFFFF  # never expires while groundwatch is down
    return {"protocol": aiomqtt.ProtocolVersion.V5, "clean_start": False, "properties": props}


async def _incoming(client: aiomqtt.Client, stop: asyncio.Future[Any]) -> Any:
    """aiomqtt's messages until ``stop``; raises MqttError on a disconnection.

    Like ``client.messages``, but a message already queued is taken without creating a task
    and waiting on it (aiomqtt's iterator does that for every message: under load, the
    queue is never empty and that overhead is most of the ingest cost).
    """
    queue: asyncio.Queue[_Incoming] = client._queue  # type: ignore[assignment]
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
