"""MQTT ingestor: one binary frame per message, QoS 1, persistent session.

Delivery guarantee: the session is persistent (fixed client id, clean session off), so frames
queued at the broker while groundwatch restarts are delivered on reconnect. Messages are
acknowledged (PUBACK) only after the pipeline has archived the frame (``RawFrame.ack``): a
crash between receipt and archive makes the broker deliver the message again. aiomqtt does not
expose paho's manual acknowledgement nor a way to pause reading; ``paho_adapter`` holds the
code that reaches into both libraries for that (pinned versions). With manual acks the broker
never has more than its ``max_inflight_messages`` unacknowledged frames in flight to us, and
the incoming queue is bounded in messages and bytes (the socket is paused when it is high).

Ground path: the pipeline is told (``GroundPathChange``) when the broker connection comes up
and every time it is lost or cannot be made, including at start-up before the broker was ever
reached, so a lost broker is a ground path outage and not a spacecraft silence. Every outage
is logged once, when it starts.

Frames longer than ``max_frame_bytes``, and frames whose topic names a station outside the
allowed station name (``ingest.base.STATION_NAME``), are handed over as ``RefusedFrame``:
archived raw, acknowledged and rejected (``oversized``, ``bad_station``), never decoded nor
stored whole. Heartbeats of such stations are dropped and counted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import BaseModel, ConfigDict, Field

from groundwatch.config import parse_part_options, read_secret
from groundwatch.envelope import EnvelopeSettings
from groundwatch.ingest.base import (
    INVALID_STATION,
    station_problem,
)
from groundwatch.ingest.paho_adapter import (
    Acks,
    CountingQueue,
    Incoming,
    ReadPause,
    Session,
    check_versions,
)
from groundwatch.ingest.station_time import EnvelopeFrames
from groundwatch.model import GroundPathChange, RawFrame, RefusedFrame, RejectReason, StationStatus
from groundwatch.mqtt_url import MqttClientOptions, mqtt_connection
from groundwatch.parts import ConfigError, Counters, FrameQueue

log = logging.getLogger(__name__)


class MqttSourceOptions(EnvelopeSettings, MqttClientOptions):
    """``payload``, ``json_preset``, ``json_fields``, ``clock_tolerance``, ...: see
    ``groundwatch.envelope`` (``mqtt5`` connects with MQTT 5 to read user properties)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(default="mqtt", description="name in /health and /metrics")
    topics: list[str] = Field(
        default_factory=lambda: ["gs/+/frames"],
        min_length=1,
        description="topic filters, one binary frame per message",
    )
    station_segment: int | None = Field(
        default=1, ge=0, description="topic level holding the station name (gs/<station>/...)"
    )
    station: str | None = Field(default=None, description="fixed station name")
    heartbeat_topics: list[str] = Field(
        default_factory=lambda: ["gs/+/status"], description="station heartbeats"
    )
    client_id: str = Field(
        default="groundwatch", description="fixed, so the broker keeps the session"
    )
    qos: int = Field(default=1, ge=0, le=2, description="subscription QoS")
    keepalive: int = Field(default=30, ge=5, description="MQTT keepalive, seconds")
    max_queued: int = Field(default=10_000, gt=0, description="aiomqtt incoming queue bound")
    max_queued_mb: float = Field(default=64, gt=0, description="the same queue, in payload MB")
    max_frame_bytes: int = Field(
        default=65_536, gt=0, description="longer messages are rejected as oversized"
    )
    max_status_bytes: int = Field(
        default=4096, gt=0, description="a longer heartbeat payload is cut to this length"
    )
    reconnect_min: float = Field(default=0.2, gt=0, description="first reconnect delay, s")
    reconnect_max: float = Field(default=10.0, gt=0, description="longest reconnect delay, s")
    drain_timeout: float = Field(default=10.0, gt=0, description="seconds, at shutdown")


class MqttSource:
    """Receives frames from ``topics`` and heartbeats from ``heartbeat_topics``."""

    Options: ClassVar[type[BaseModel]] = MqttSourceOptions

    def __init__(self, cfg: MqttSourceOptions) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.counters = Counters()
        self.due_ns: int | None = None  # frames are fed as they arrive, not paced
        conn = mqtt_connection(cfg.url, cfg.tls_files())
        self._tls = conn["tls_context"]
        self._host: str = conn["hostname"]
        self._port: int = conn["port"]
        self._user = cfg.username or conn["username"]
        self._url_password: str | None = conn["password"]
        self.frames = EnvelopeFrames(cfg, cfg.name, self.counters)
        self._stopping = asyncio.Event()
        self._unacked = 0
        self._all_acked = asyncio.Event()
        self._all_acked.set()
        self.connected = False
        self.path_up: bool | None = None  # what the pipeline was last told (None: nothing)
        self.read_pause: ReadPause | None = None
        self._acks: Acks | None = None
        self._routes: dict[str, tuple[str, bool, str | None]] = {}

    @classmethod
    def from_config(cls, options: Mapping[str, Any], key: str = "sources[0]") -> MqttSource:
        cfg: MqttSourceOptions = parse_part_options(MqttSourceOptions, options, key)
        try:
            mqtt_connection(cfg.url, cfg.tls_files(), key)
        except ConfigError:
            raise
        except ValueError as exc:
            raise ConfigError(f"{key}.url", str(exc)) from exc
        if cfg.station is None and cfg.station_segment is None:
            raise ConfigError(f"{key}.station", "set station or station_segment")
        if cfg.station is not None and (problem := station_problem(cfg.station)):
            raise ConfigError(f"{key}.station", problem)
        read_secret(cfg.password, cfg.password_file, f"{key}.password")  # readable now
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
        for wrong in check_versions():  # the adapter's private hooks may not be there
            log.warning("mqtt %s: %s", self.name, wrong)
        delay = self.cfg.reconnect_min
        while not self._stopping.is_set():
            try:
                await self._session(out)
                return
            except aiomqtt.MqttError as exc:
                self.counters.errors += 1
                if self.path_up:  # it was connected: retry soon
                    delay = self.cfg.reconnect_min
                await self._path_down(out, str(exc))
            with_stop = asyncio.ensure_future(self._stopping.wait())
            done, _ = await asyncio.wait({with_stop}, timeout=delay)
            if not done:
                with_stop.cancel()
            delay = min(delay * 2, self.cfg.reconnect_max)

    async def _path_down(self, out: FrameQueue, why: str) -> None:
        """Tell the pipeline the broker is lost (or was never reached), once per outage."""
        self.connected = False
        if self.path_up is False:
            log.debug(
                "mqtt %s: broker %s:%s still unreachable (%s)",
                self.name,
                self._host,
                self._port,
                why,
            )
            return
        log.warning(
            "mqtt %s: broker %s:%s unreachable (%s); retrying with backoff",
            self.name,
            self._host,
            self._port,
            why,
        )
        self.path_up = False
        self.counters.bump("broker_outages")
        await out.put(GroundPathChange(self.name, False, time.time_ns(), why))

    async def _session(self, out: FrameQueue) -> None:
        queue_cls = type("BoundedQueue", (CountingQueue,), {"counters": self.counters})
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
            tls_context=self._tls,
        )
        session = Session(client)
        queue = session.queue
        queue.max_bytes = int(self.cfg.max_queued_mb * (1 << 20))

        def on_message(msg: Incoming) -> None:
            try:
                queue.put_nowait(msg)
            except asyncio.QueueFull:  # counted by the queue
                pass

        session.take_messages(on_message)
        bound = self.cfg.max_queued
        self.read_pause = ReadPause(client, high=max(1, bound * 3 // 4), low=bound // 4)
        queue.pause = self.read_pause
        async with client:
            self.read_pause.install()
            self._acks = Acks(client, self._acked)
            self.connected = True
            self.path_up = True
            log.info("mqtt %s: connected to %s:%s", self.name, self._host, self._port)
            await out.put(GroundPathChange(self.name, True, time.time_ns(), "connected"))
            for t in self.cfg.topics:
                await client.subscribe(t, qos=self.cfg.qos)
            for t in self.cfg.heartbeat_topics:
                await client.subscribe(t, qos=0)
            stop_wait = asyncio.ensure_future(self._stopping.wait())
            try:
                async for msg in session.messages(stop_wait):
                    await self._handle(session, msg, out)
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

    def _route(self, topic: str) -> tuple[str, bool, str | None]:
        """(station, is a heartbeat, why the station name is refused) of a topic; cached,
        topic matching costs microseconds."""
        route = self._routes.get(topic)
        if route is None:
            if len(self._routes) > 1000:  # bounded: topics come from the wire
                self._routes.clear()
            t = aiomqtt.Topic(topic)
            beat = any(t.matches(p) for p in self.cfg.heartbeat_topics) and not any(
                t.matches(p) for p in self.cfg.topics
            )
            station = self.station_for(topic)
            problem = station_problem(station)
            if problem is not None:
                station = INVALID_STATION
            route = self._routes[topic] = (station, beat, problem)
        return route

    def _paho_ack(self, session: Session, mid: int, qos: int) -> None:
        if qos:
            session.ack(mid, qos)
        self._acked(1)

    def _acked(self, n: int) -> None:
        self._unacked -= n
        if self._unacked == 0:
            self._all_acked.set()

    async def _handle(self, session: Session, msg: Incoming, out: FrameQueue) -> None:
        station, heartbeat, problem = self._route(msg.topic)
        if heartbeat:
            if problem is not None:
                self.counters.bump("bad_station_status")
                return
            payload = msg.payload
            if len(payload) > self.cfg.max_status_bytes:  # kept and shown in /health
                self.counters.bump("status_truncated")
                payload = payload[: self.cfg.max_status_bytes]
            await out.put(StationStatus(station, bytes(payload), time.time_ns()))
            return
        self.counters.received += 1
        mid, qos = msg.mid, msg.qos
        self._unacked += 1
        self._all_acked.clear()
        ack: Callable[[], None]
        if qos == 1 and self._acks is not None:
            ack = functools.partial(self._acks.add, mid)
        else:  # QoS 0 needs no ack, QoS 2 its PUBREC/PUBCOMP flow: paho's own
            ack = functools.partial(self._paho_ack, session, mid, qos)
        if len(msg.payload) > self.cfg.max_frame_bytes:  # before any envelope is parsed
            ert = self.frames.time.unique(station, time.time_ns(), count=False)
            raw = RawFrame(msg.payload, ert, station, "live", self.name, ack)
            await out.put(self._checked(raw, problem))
            self.counters.sent += 1
            return
        props = getattr(msg.properties, "UserProperty", None) or ()
        item = self.frames.make(msg.payload, station, props, ack=ack)
        if isinstance(item, RawFrame):
            if item.station != station:  # named by its envelope: the same name rule
                problem = station_problem(item.station)
            await out.put(self._checked(item, problem))
        else:
            await out.put(item)  # a malformed envelope: rejected, kept raw
        self.counters.sent += 1

    def _checked(self, frame: RawFrame, station_problem: str | None) -> RawFrame | RefusedFrame:
        """The frame, or the refusal the pipeline archives and rejects instead of decoding."""
        if station_problem is not None:
            self.counters.bump("bad_station")
            if frame.station != INVALID_STATION:  # the name is in the detail, not a file name
                frame = dataclasses.replace(frame, station=INVALID_STATION)
            return RefusedFrame(frame, RejectReason.BAD_STATION, station_problem)
        if len(frame.data) > self.cfg.max_frame_bytes:
            self.counters.bump("oversized")
            detail = (
                f"{len(frame.data)} bytes, more than max_frame_bytes {self.cfg.max_frame_bytes}"
            )
            return RefusedFrame(frame, RejectReason.OVERSIZED, detail)
        return frame


def _session_options(mqtt5: bool) -> dict[str, Any]:
    """A persistent session: MQTT 3.1.1 clean session off, or (MQTT 5, to read user
    properties) clean start off with a session that outlives the connection."""
    if not mqtt5:
        return {"clean_session": False}
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 0xFFFFFFFF  # never expires while groundwatch is down
    return {"protocol": aiomqtt.ProtocolVersion.V5, "clean_start": False, "properties": props}
