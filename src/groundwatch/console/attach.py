"""Attach mode: feed a console model from a running deployment (MQTT + InfluxDB).

* MQTT (``aiomqtt``): the retained state topics ``<state_topic>/#`` give every link's
  current state as soon as the console connects; ``<event_topic>/#`` gives each alert as
  it is raised (payloads: ``alerts/alert.py`` and ``alerts/mqtt.py``). Reconnects with
  backoff; while the broker is unreachable the footer says so.
* InfluxDB (v1 HTTP API, InfluxQL, ``aiohttp``): every ``poll_s`` the latest ``link_state``
  row per link (state, seconds since the last frame, frames in pass), the latest row of
  each packet that carries key parameters, the latest ``link`` row per link (frames/s,
  rejected) for the footer, and per spacecraft and station the last value of each radio
  figure in ``link`` (``console.radio``). At start, the last hour's ``events`` fill the
  alert log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import aiomqtt

from groundwatch.alerts.mqtt import connection_for
from groundwatch.console.radio import RADIO_FIELDS
from groundwatch.console.state import ConsoleModel
from groundwatch.influx_access import InfluxAccess
from groundwatch.influxql import quote_ident, quote_str, series_rows
from groundwatch.tasks import cancel_and_wait
from groundwatch.tls import redact_url

log = logging.getLogger(__name__)


@dataclass(slots=True)
class AttachOptions:
    mqtt_url: str = "mqtt://127.0.0.1:1883"
    influx_url: str = "http://127.0.0.1:8086"
    database: str = "groundwatch"
    source: str = "live"
    event_topic: str = "groundwatch/events"
    state_topic: str = "groundwatch/state"
    poll_s: float = 1.0
    history: str = "1h"  # how far back the alert log is filled at start
    window: str = "1d"  # how far back the latest link state and values are looked for
    # credentials and TLS of the store; None: influx_url with the environment's credentials
    influx: InfluxAccess | None = None


class InfluxPoller:
    """Latest link states, key values and counters from InfluxDB into the model."""

    def __init__(self, model: ConsoleModel, opts: AttachOptions) -> None:
        self.model = model
        self.opts = opts
        self.access = opts.influx or InfluxAccess.from_env(opts.influx_url, opts.database)
        self.url = self.access.url
        self._session: aiohttp.ClientSession | None = None
        self.polls = 0
        self.errors = 0

    async def query(self, q: str) -> list[tuple[dict[str, str], dict[str, Any]]]:
        assert self._session is not None
        params = {"db": self.opts.database, "q": q, "epoch": "ns"}
        async with self._session.get(f"{self.url}/query", params=params) as resp:
            body = await resp.json(content_type=None)
            if resp.status != 200:
                raise RuntimeError(f"InfluxDB {self.access.shown}: HTTP {resp.status}: {body}")
        return series_rows(body)

    def _where(self) -> str:
        return f"source = {quote_str(self.opts.source)}"

    async def poll(self) -> None:
        """One round: links, key values, counters."""
        await self.poll_links()
        await self.poll_radio()
        await self.poll_values()
        await self.poll_counters()
        self.polls += 1

    async def poll_links(self) -> None:
        rows = await self.query(
            f"SELECT * FROM link_state WHERE {self._where()} AND time > now() - {self.opts.window} "
            "GROUP BY spacecraft, station, vcid ORDER BY time DESC LIMIT 1"
        )
        for tags, row in rows:
            if tags.get("vcid"):
                continue
            self.model.on_link_row(
                tags.get("spacecraft", "?"),
                tags.get("station", "?"),
                str(row.get("state_text") or "NO_SIGNAL"),
                time_ns=row.get("time"),
                seconds_since_last_frame=row.get("seconds_since_last_frame"),
                frames_in_pass=row.get("frames_in_pass"),
                ground_path_up=bool(row.get("ground_path_up", 1)),
            )

    async def poll_radio(self) -> None:
        """Each radio figure's last value, not the latest row's: a second without
        enveloped frames (after LOS) has none, and the console keeps how the link ended."""
        cols = ", ".join(f"last({quote_ident(f)}) AS {quote_ident(f)}" for f in RADIO_FIELDS)
        rows = await self.query(
            f"SELECT {cols} FROM link WHERE {self._where()} AND time > now() - "
            f"{self.opts.window} GROUP BY spacecraft, station"
        )
        for tags, row in rows:
            self.model.on_radio_row(tags.get("spacecraft", "?"), tags.get("station", "?"), row)

    async def poll_values(self) -> None:
        packets: dict[str, list[str]] = {}
        for p in self.model.key_parameters:
            packets.setdefault(p.packet, []).append(p.name)
        for packet, names in packets.items():
            cols = ", ".join(quote_ident(n) for n in names)
            rows = await self.query(
                f"SELECT {cols} FROM {quote_ident(packet)} WHERE {self._where()} "
                f"AND time > now() - {self.opts.window} GROUP BY spacecraft "
                "ORDER BY time DESC LIMIT 1"
            )
            for tags, row in rows:
                values = {n: row[n] for n in names if row.get(n) is not None}
                self.model.on_values(tags.get("spacecraft", "?"), values, row.get("time"))

    async def poll_counters(self) -> None:
        rows = await self.query(
            f"SELECT * FROM link WHERE {self._where()} AND time > now() - {self.opts.window} "
            "GROUP BY spacecraft, station, vcid ORDER BY time DESC LIMIT 1"
        )
        if not rows:
            return
        self.model.on_counters(
            frames=sum(int(r.get("frames") or 0) for _, r in rows),
            frames_per_s=sum(float(r.get("frames_per_s") or 0.0) for _, r in rows),
            rejected=sum(int(r.get("rejected") or 0) for _, r in rows),
        )

    async def load_history(self) -> None:
        rows = await self.query(
            f"SELECT * FROM events WHERE {self._where()} AND time > now() - {self.opts.history} "
            "ORDER BY time ASC"
        )
        for _, row in rows[-self.model.alerts.maxlen if self.model.alerts.maxlen else 0 :]:
            details: Any = row.get("details") or "{}"
            with contextlib.suppress(ValueError, TypeError):
                details = json.loads(details)
            self.model.on_alert_payload(
                {
                    "id": row.get("id", ""),
                    "notification": "recovery" if row.get("recovery") else "new",
                    "type": row.get("type"),
                    "severity": row.get("severity"),
                    "spacecraft": row.get("spacecraft") or None,
                    "station": row.get("station") or None,
                    "title": row.get("title"),
                    "time_ns": row.get("time"),
                    "details": details if isinstance(details, dict) else {},
                }
            )

    def session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=max(5.0, self.opts.poll_s * 5)),
            headers=self.access.headers(),
            connector=aiohttp.TCPConnector(ssl=self.access.ssl_context() or True),
        )

    async def poll_once(self) -> None:
        """The alert history and one round of polls (``groundwatch console`` at start)."""
        async with self.session() as session:
            self._session = session
            try:
                await self.load_history()
                await self.poll()
            finally:
                self._session = None

    async def run(self, stop: asyncio.Event) -> None:
        async with self.session() as session:
            self._session = session
            first = True
            while not stop.is_set():
                try:
                    if first:
                        await self.load_history()
                        first = False
                    await self.poll()
                    self.model.footer.extra.pop("influx", None)
                except (aiohttp.ClientError, TimeoutError, RuntimeError, ValueError) as exc:
                    self.errors += 1
                    self.model.footer.extra["influx"] = f"DOWN ({type(exc).__name__})"
                    log.debug("console: InfluxDB poll failed: %s", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.opts.poll_s)
            self._session = None


class MqttFeed:
    """Retained state and events from the alerts' MQTT sink into the model."""

    def __init__(self, model: ConsoleModel, opts: AttachOptions) -> None:
        self.model = model
        self.opts = opts
        self.conn = connection_for(opts.mqtt_url, None, "--mqtt")  # TLS: mqtts://…?ca=…
        self.host, self.port = self.conn["hostname"], self.conn["port"]
        self.messages = 0
        self.connected = asyncio.Event()

    def handle(self, topic: str, payload: bytes) -> None:
        try:
            data = json.loads(payload.decode("utf-8")) if payload else None
        except (UnicodeDecodeError, ValueError):
            log.debug("console: ignored non-JSON message on %s", topic)
            return
        if not isinstance(data, dict):
            return
        self.messages += 1
        if topic.startswith(self.opts.state_topic.rstrip("/") + "/"):
            self.model.on_state_payload(topic, data)
        elif topic.startswith(self.opts.event_topic.rstrip("/") + "/"):
            self.model.on_alert_payload(data)

    async def run(self, stop: asyncio.Event) -> None:
        delay = 0.2
        topics: Sequence[str] = (
            self.opts.state_topic.rstrip("/") + "/#",
            self.opts.event_topic.rstrip("/") + "/#",
        )
        while not stop.is_set():
            try:
                async with aiomqtt.Client(
                    **self.conn,
                    identifier=f"groundwatch-console-{uuid.uuid4().hex[:8]}",
                    timeout=5,
                ) as client:
                    for t in topics:
                        await client.subscribe(t, qos=1)
                    self.connected.set()
                    self.model.footer.extra.pop("mqtt", None)
                    delay = 0.2
                    listen = asyncio.ensure_future(self._listen(client))
                    stopped = asyncio.ensure_future(stop.wait())
                    await asyncio.wait({listen, stopped}, return_when=asyncio.FIRST_COMPLETED)
                    await cancel_and_wait((listen, stopped))
                    if listen.done() and not listen.cancelled() and listen.exception():
                        raise listen.exception()  # type: ignore[misc]
            except aiomqtt.MqttError as exc:
                self.connected.clear()
                self.model.footer.extra["mqtt"] = "DOWN"
                log.debug("console: MQTT %s: %s", redact_url(self.opts.mqtt_url), exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                delay = min(delay * 2, 5.0)

    async def _listen(self, client: aiomqtt.Client) -> None:
        async for msg in client.messages:
            payload = msg.payload
            data = payload if isinstance(payload, bytes | bytearray) else str(payload).encode()
            self.handle(str(msg.topic), bytes(data))


async def attach(model: ConsoleModel, opts: AttachOptions, stop: asyncio.Event) -> None:
    """Run both feeds until ``stop`` is set."""
    mqtt = MqttFeed(model, opts)
    influx = InfluxPoller(model, opts)
    async with asyncio.TaskGroup() as tg:
        tg.create_task(mqtt.run(stop), name="console-mqtt")
        tg.create_task(influx.run(stop), name="console-influx")
