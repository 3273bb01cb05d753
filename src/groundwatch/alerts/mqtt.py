"""MQTT sink: event topic, retained state per link, and the acknowledgement command topic.

``[[alerts]] type = "mqtt"``, options: ``url`` (``mqtt://host:port``, default
``mqtt://127.0.0.1:1883``), ``username``/``password``, ``event_topic`` (default
``groundwatch/events``; each alert is published to ``<event_topic>/<spacecraft>``, or
``/ground`` for ground-path alerts), ``state_topic`` (default ``groundwatch/state``; retained
``<state_topic>/<spacecraft>/<station>``, ``<state_topic>/ground/<station>`` for the ground
path), ``ack_topic`` (default ``groundwatch/ack``), ``qos`` (default 1), ``client_id``
(default: random, clean session; set it to keep a persistent session so acknowledgements
sent while groundwatch is down are not lost: one client id per running instance).

Retained state (JSON): ``{"spacecraft", "station", "state" ("AOS", "LOS", "GROUND_PATH_DOWN",
...), "since", "last": <alert payload>, "active": {condition: {"id", "type", "severity",
"acknowledged", "acked_by"}}}``: a console that connects later gets it at once.

Acknowledgement command (``groundwatch ack`` publishes it): ``{"id": "...", "by": "...",
"comment": "..."}`` on ``ack_topic``.

Reconnects with backoff; an alert that could not be published is retried after reconnecting,
and the retained states are published again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Mapping
from typing import Any

import aiomqtt
from pydantic import Field

from groundwatch.alerts.alert import Alert, Notification, iso
from groundwatch.alerts.sinks import AlertSink, AlertSinkOptions
from groundwatch.config import parse_part_options
from groundwatch.model import EventType
from groundwatch.mqtt_url import mqtt_connection
from groundwatch.parts import ConfigError

log = logging.getLogger("groundwatch.alerts.mqtt")

LOS_TYPES = {EventType.LOS, EventType.EXPECTED_LOS, EventType.UNEXPECTED_LOS}


class MqttSinkOptions(AlertSinkOptions):
    """``[[alerts]] type = "mqtt"``: events, retained link state and acknowledgements."""

    url: str = "mqtt://127.0.0.1:1883"
    username: str | None = None
    password: str | None = None
    event_topic: str = "groundwatch/events"
    state_topic: str = "groundwatch/state"
    ack_topic: str | None = "groundwatch/ack"
    qos: int = Field(default=1, ge=0, le=2)
    client_id: str | None = None


def parse_mqtt_url(url: str, key: str = "url") -> tuple[str, int]:
    """Host and port of a broker URL, or a ConfigError naming ``key``."""
    try:
        conn = mqtt_connection(url)
    except ValueError as exc:
        raise ConfigError(key, str(exc)) from exc
    return str(conn["hostname"]), int(conn["port"])


class MqttSink(AlertSink):
    """Events, retained link state and acknowledgements on an MQTT broker."""

    Options = MqttSinkOptions
    type = "mqtt"
    paging = True

    def __init__(self, opts: MqttSinkOptions) -> None:
        super().__init__(opts.name, opts.queue_size)
        self.opts = opts
        self.host, self.port = parse_mqtt_url(opts.url)
        self.state: dict[str, dict[str, Any]] = {}  # retained topic -> state
        self._inflight: Alert | None = None
        self.connected = asyncio.Event()

    @classmethod
    def from_config(cls, options: Mapping[str, Any], key: str) -> MqttSink:
        o = parse_part_options(MqttSinkOptions, options, key)
        parse_mqtt_url(o.url, f"{key}.url")
        return cls(o)

    # --- retained state ------------------------------------------------------------------

    def state_topic(self, alert: Alert) -> str:
        e = alert.event
        if e.spacecraft is None:
            return f"{self.opts.state_topic}/ground/{e.station or 'broker'}"
        return f"{self.opts.state_topic}/{e.spacecraft}/{e.station or 'all'}"

    def update_state(self, alert: Alert) -> tuple[str, dict[str, Any]]:
        e = alert.event
        topic = self.state_topic(alert)
        st = self.state.setdefault(
            topic, {"spacecraft": e.spacecraft, "station": e.station, "state": None, "active": {}}
        )
        if alert.notification is Notification.NEW:
            st["active"][e.condition] = {
                "id": alert.id,
                "type": e.type.value,
                "severity": e.severity.label,
                "acknowledged": False,
                "acked_by": None,
            }
        elif alert.notification is Notification.RECOVERY:
            st["active"].pop(e.condition, None)
        elif alert.notification is Notification.ACK:
            for a in st["active"].values():
                if a["id"] == alert.id:
                    a["acknowledged"], a["acked_by"] = True, alert.acked_by
        if e.type in LOS_TYPES and alert.notification is Notification.NEW:
            st["state"], st["since"] = "LOS", iso(e.time_ns)
        elif e.type is EventType.AOS:
            st["state"], st["since"] = "AOS", iso(e.time_ns)
        elif e.type in (EventType.GROUND_PATH_DOWN, EventType.GROUND_PATH_UP):
            st["state"], st["since"] = e.type.value, iso(e.time_ns)
        st["last"] = alert.payload()
        return topic, st

    # --- connection ----------------------------------------------------------------------

    async def _run(self) -> None:
        delay = 0.2
        client_id = self.opts.client_id or f"groundwatch-alerts-{uuid.uuid4().hex[:8]}"
        while True:
            try:
                async with aiomqtt.Client(
                    self.host,
                    self.port,
                    username=self.opts.username,
                    password=self.opts.password,
                    identifier=client_id,
                    # a fixed client id gets a persistent session: acks published while
                    # groundwatch was down are delivered when it reconnects
                    clean_session=self.opts.client_id is None,
                    timeout=5,
                ) as client:
                    if delay > 0.2:
                        log.info("alert sink %s: connected to %s", self.name, self.opts.url)
                    delay = 0.2
                    await self._session(client)
            except aiomqtt.MqttError as exc:
                self.connected.clear()
                if delay == 0.2:
                    log.warning("alert sink %s: MQTT %s: %s", self.name, self.opts.url, exc)
                self.counters.bump("mqtt_reconnects")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _session(self, client: aiomqtt.Client) -> None:
        if self.opts.ack_topic:
            await client.subscribe(self.opts.ack_topic, qos=1)
        for topic, st in self.state.items():
            await client.publish(topic, json.dumps(st, default=str), qos=self.opts.qos, retain=True)
        self.connected.set()
        # Not a TaskGroup: its ExceptionGroup would hide the MqttError the reconnect loop
        # catches. Whichever task fails first ends the session; the other is cancelled.
        tasks = [
            asyncio.create_task(self._listen(client)),
            asyncio.create_task(self._publish_loop(client)),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for t in done:
                t.result()
            raise aiomqtt.MqttError("session ended")
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _publish_loop(self, client: aiomqtt.Client) -> None:
        while True:
            if self._inflight is None:
                self._inflight = await self.queue.get()
            await self._publish(client, self._inflight)
            self._inflight = None  # published: a reconnect does not send it again
            self.queue.task_done()
            self.counters.sent += 1

    async def _publish(self, client: aiomqtt.Client, alert: Alert) -> None:
        e = alert.event
        topic = f"{self.opts.event_topic}/{e.spacecraft or 'ground'}"
        await client.publish(topic, alert.to_json(), qos=self.opts.qos)
        state_topic, st = self.update_state(alert)
        await client.publish(
            state_topic, json.dumps(st, default=str), qos=self.opts.qos, retain=True
        )

    async def _listen(self, client: aiomqtt.Client) -> None:
        async for msg in client.messages:
            try:
                data = json.loads(bytes(msg.payload).decode())
                alert_id = str(data["id"])
            except (ValueError, KeyError, TypeError, UnicodeDecodeError):
                self.counters.bump("bad_ack_commands")
                log.warning("alert sink %s: ignored malformed ack on %s", self.name, msg.topic)
                continue
            if self.on_ack is not None:
                self.on_ack(alert_id, str(data.get("by") or "unknown"), data.get("comment"))
