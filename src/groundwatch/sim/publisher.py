"""Publishing simulated frames: to MQTT like a ground station, to a file, and a record.

``SimPublisher`` paces frames at ``rate`` per second of wall time (frame ``k`` leaves at
``start + k / rate``, so a slow publish does not shift the schedule), publishes each one to
every station's topic (the same octets: several stations hearing one spacecraft), and stops
after ``count`` frames, ``duration`` seconds or the end of the scenario. A frame the link
model lost holds its slot but is published nowhere. Each station may also send a heartbeat
on ``gs/<station>/status`` once a second, as a real station's software does, and goes on
sending it for ``linger`` seconds after the last frame so that a monitor can tell a
spacecraft that went silent from a station that went away.

After a broker restart the publisher reconnects and sends again what the broker had not
acknowledged (``sim.connection``).

The record (``record=``) is one JSON line per frame and station: what was sent where and
when, and each packet's values *as they decode* (see ``framer``), so a test can compare a
database's contents with it exactly. A frame's line is written once the broker acknowledged
it; ``sent`` is false for a frame it never acknowledged (stopped during an outage).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from groundwatch.kiss import kiss_encode
from groundwatch.parts import Counters
from groundwatch.sim.connection import BrokerLink
from groundwatch.sim.envelopes import Envelope, StationClock, radio_of, wrap
from groundwatch.sim.framer import SimFrame, SimFramer
from groundwatch.sim.scenario import Scenario
from groundwatch.tasks import cancel_and_wait

if TYPE_CHECKING:  # aiomqtt loads when publishing starts, not when the CLI lists commands
    import aiomqtt

DEFAULT_TOPIC = "gs/{station}/frames"
STATUS_TOPIC = "gs/{station}/status"
PUBLISH_WINDOW = 100  # publishes awaiting their acknowledgement (mosquitto's inflight limit)
ACK_TIMEOUT = 5.0  # seconds a publish waits for its acknowledgement before reconnecting


class OutputFormat(StrEnum):
    HEX = "hex"  # one frame per line, hex digits (``groundwatch decode --format hex``)
    KISS = "kiss"  # KISS frames back to back (a TNC's byte stream)
    RAW = "raw"  # frames back to back (fixed-length TM frames need no delimiter)


@dataclass(slots=True)
class PublisherSettings:
    mqtt_url: str | None = "mqtt://127.0.0.1:1883"  # None: no MQTT (file output only)
    stations: Sequence[str] = ("gs1",)
    topic: str = DEFAULT_TOPIC  # "{station}" is replaced by each station's name
    rate: float = 10.0  # frames per second of wall time; 0 = as fast as possible
    speedup: float = 1.0  # scenario seconds per wall second
    count: int | None = None  # frames (lost ones included)
    duration: float | None = None  # wall seconds
    qos: int = 1
    heartbeat: bool = True
    heartbeat_interval: float = 1.0
    linger: float = 0.0  # seconds of heartbeats after the last frame
    record: Path | None = None
    output: Path | None = None
    output_format: OutputFormat = OutputFormat.HEX
    client_id: str | None = None
    give_up_after: float = 300.0  # seconds of broker outage before the publisher stops
    envelope: Envelope = Envelope.RAW  # what a station sends around each frame
    station_clock: StationClock = field(default_factory=StationClock)

    def topic_for(self, station: str) -> str:
        return self.topic.replace("{station}", station)

    @property
    def tick_dt(self) -> float:
        """Scenario seconds per tick, independent of how fast frames leave."""
        return self.speedup / self.rate if self.rate > 0 else self.speedup / 10.0


@dataclass(slots=True)
class PublishSummary:
    frames: int = 0  # built
    published: int = 0  # frames sent (to at least one topic)
    lost: int = 0
    corrupted: int = 0
    packets: int = 0
    scenario_end: bool = False  # the scenario ran out before count/duration
    reconnects: int = 0  # broker connections made again after a loss
    unacked: int = 0  # publishes the broker never acknowledged (stopped or gave up first)
    last_t: float = 0.0
    per_station: dict[str, int] = field(default_factory=dict)


def record_lines(
    frame: SimFrame,
    station: str,
    topic: str,
    publish_ns: int | None,
    ert_ns: int | None = None,
    acked: bool = True,
) -> str:
    entry = {
        "frame": frame.index,
        "station": station,
        "topic": topic,
        "publish_ns": publish_ns,
        "ert_ns": ert_ns,  # the station's receive time in its envelope (None: bare frame)
        "t": frame.t_s,
        "obt_ns": frame.obt_ns,
        "fate": frame.fate.value,
        "sent": frame.sent and acked,
        "length": len(frame.data),
        "packets": [asdict(p) for p in frame.packets],
        "truth": frame.truth,
    }
    return json.dumps(entry, separators=(",", ":")) + "\n"


class SimPublisher:
    """Runs a scenario through a framer and sends the frames; ``run()`` returns a summary."""

    def __init__(self, scenario: Scenario, framer: SimFramer, settings: PublisherSettings):
        if settings.rate < 0:
            raise ValueError("rate must be >= 0")
        if not settings.stations:
            raise ValueError("at least one station is needed")
        if settings.mqtt_url is not None:
            # The URL parser (pydantic) loads when a simulator runs, not to list commands.
            from groundwatch.mqtt_url import mqtt_connection

            mqtt_connection(settings.mqtt_url)  # fail early on a bad URL
        self.scenario = scenario
        self.framer = framer
        self.settings = settings
        self.counters = Counters()
        self.summary = PublishSummary(per_station={s: 0 for s in settings.stations})
        self._stop = asyncio.Event()
        self._link: BrokerLink | None = None

    async def stop(self) -> None:
        self._stop.set()

    async def run(self) -> PublishSummary:
        s = self.settings
        with contextlib.ExitStack() as files:
            record = output = None
            if s.record is not None:
                record = files.enter_context(await asyncio.to_thread(open, s.record, "w"))
            if s.output is not None:
                mode = "w" if s.output_format is OutputFormat.HEX else "wb"
                output = files.enter_context(await asyncio.to_thread(open, s.output, mode))
            if s.mqtt_url is None:
                await self._frames(None, record, output)
                return self.summary
            import aiomqtt

            from groundwatch.mqtt_url import mqtt_connection

            ident = s.client_id or f"groundwatch-sim-{time.time_ns() % 10**9}"
            conn: dict[str, Any] = dict(mqtt_connection(s.mqtt_url))
            if s.envelope is Envelope.MQTT5:  # user properties need MQTT 5
                conn["protocol"] = aiomqtt.ProtocolVersion.V5

            def connect() -> aiomqtt.Client:
                client = aiomqtt.Client(**conn, identifier=ident, timeout=ACK_TIMEOUT)
                client.pending_calls_threshold = PUBLISH_WINDOW  # the window is by design
                return client

            link = self._link = BrokerLink(
                connect,
                self._stop,
                self.counters,
                window=PUBLISH_WINDOW,
                give_up_after=s.give_up_after,
            )
            await link.open()
            try:
                client = link.client
                beats = None
                if s.heartbeat:
                    beats = asyncio.create_task(self._heartbeats())
                try:
                    try:
                        await self._frames(client, record, output)
                    finally:
                        await self._drain()
                    if beats is not None and s.linger > 0:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._stop.wait(), s.linger)
                finally:
                    if beats is not None:
                        await cancel_and_wait(beats)
            finally:
                self.summary.reconnects, self.summary.unacked = link.reconnects, link.unacked
                await link.close()
        return self.summary

    def _finished(self, started: float) -> bool:
        s = self.settings
        if self._stop.is_set():
            return True
        if s.count is not None and self.summary.frames >= s.count:
            return True
        return s.duration is not None and time.monotonic() - started >= s.duration

    async def _frames(
        self, client: aiomqtt.Client | None, record: IO[str] | None, output: IO[Any] | None
    ) -> None:
        s, summary = self.settings, self.summary
        started = time.monotonic()
        while not self._finished(started):
            tick = self.scenario.next_tick(s.tick_dt)
            if tick is None:
                summary.scenario_end = True
                return
            summary.last_t = tick.t_s
            for frame in self.framer.frames(tick):
                if self._finished(started):
                    return
                if s.rate > 0:
                    due = started + summary.frames / s.rate
                    delay = due - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                else:
                    await asyncio.sleep(0)  # stay fair to the other tasks
                summary.frames += 1
                await self._send(client, frame, record, output)

    async def _send(
        self,
        client: aiomqtt.Client | None,
        frame: SimFrame,
        record: IO[str] | None,
        output: IO[Any] | None,
    ) -> None:
        s, summary = self.settings, self.summary
        summary.lost += not frame.sent
        summary.corrupted += frame.fate.value == "corrupted"
        if frame.sent:
            summary.published += 1
            summary.packets += sum(1 for p in frame.packets if p.expected)
            if output is not None:
                self._write_output(output, frame.data)
        for station in s.stations:
            topic = s.topic_for(station)
            publish_ns = ert = None
            if frame.sent and client is not None:
                publish_ns = time.time_ns()
                payload, props = frame.data, None
                if s.envelope is not Envelope.RAW:
                    ert = s.station_clock.stamp(publish_ns)
                    radio = radio_of(frame.truth, frame.index)
                    payload, props = wrap(s.envelope, frame.data, station, ert, radio)
                await self._publish(client, topic, payload, props)
                summary.per_station[station] += 1
            if record is not None:
                line = functools.partial(record_lines, frame, station, topic, publish_ns, ert)
                if self._link is None:
                    record.write(line())
                else:  # once the broker acknowledged it (the record says what it has)
                    self._link.after_last(_writer(record, line))

    async def _publish(
        self,
        client: aiomqtt.Client,
        topic: str,
        data: bytes,
        user_properties: list[tuple[str, str]] | None = None,
    ) -> None:
        """Start a publish without waiting for its acknowledgement, keeping at most
        ``PUBLISH_WINDOW`` in flight: waiting for each PUBACK in turn would cap the rate at
        one round trip per frame. Messages keep their order, also when sent again after a
        reconnect (``BrokerLink``)."""
        assert self._link is not None
        props = None
        if user_properties is not None:
            from paho.mqtt.packettypes import PacketTypes  # with aiomqtt: only when publishing
            from paho.mqtt.properties import Properties

            props = Properties(PacketTypes.PUBLISH)
            props.UserProperty = user_properties
        await self._link.publish(topic, data, qos=self.settings.qos, properties=props)

    async def _drain(self) -> None:
        if self._link is not None:
            await self._link.drain()

    def _write_output(self, output: IO[Any], data: bytes) -> None:
        fmt = self.settings.output_format
        if fmt is OutputFormat.HEX:
            output.write(data.hex() + "\n")
        elif fmt is OutputFormat.KISS:
            output.write(kiss_encode(data))
        else:
            output.write(data)

    async def _heartbeats(self) -> None:
        import aiomqtt

        s = self.settings
        while True:
            now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            for station in s.stations:
                payload = json.dumps({"station": station, "status": "ok", "time": now})
                client = self._link.client if self._link is not None else None
                if client is None:  # reconnecting
                    continue
                try:
                    await client.publish(STATUS_TOPIC.format(station=station), payload, qos=0)
                except aiomqtt.MqttError:
                    self.counters.errors += 1
            await asyncio.sleep(s.heartbeat_interval)


def _writer(record: IO[str], line: Callable[[bool], str]) -> Callable[[bool], None]:
    def write(acked: bool) -> None:
        record.write(line(acked))

    return write
