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
"comment": "...", "ts": ..., "nonce": "...", "sig": "..."}`` on ``ack_topic``, authorised as
``ack_auth`` says (``ack_auth.py``: HMAC with the operator secrets of ``ack_secrets_file``,
or ``broker``: ``<ack_topic>/<operator>`` limited by the broker's ACL). Refused ones are
logged and counted (``acks_refused``); accepted ones are recorded (by whom, when) as the
ACK event every sink receives.

TLS: an ``mqtts://`` URL with ``ca_file``, ``cert_file``, ``key_file`` (``groundwatch.tls``).

Reconnects with backoff; an alert that could not be published is retried after reconnecting,
and the retained states are published again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import aiomqtt
from pydantic import Field

from groundwatch.alerts.ack_auth import AckRefused, AckVerifier, read_secrets
from groundwatch.alerts.alert import Alert, Notification, iso, strict_json
from groundwatch.alerts.sinks import AlertSink, AlertSinkOptions
from groundwatch.config import parse_part_options, read_secret
from groundwatch.model import EventType
from groundwatch.mqtt_url import MqttClientOptions, mqtt_connection
from groundwatch.parts import ConfigError
from groundwatch.tasks import cancel_and_wait
from groundwatch.tls import TlsFiles, redact_url

log = logging.getLogger("groundwatch.alerts.mqtt")
# Link states kept (and published again after a reconnect): the least recently updated go
# first (their retained messages stay on the broker).
MAX_STATE_TOPICS = 2_000

# An acknowledgement is an id, a name, a comment, a time, a nonce and a signature.
MAX_ACK_BYTES = 4096

LOS_TYPES = {EventType.LOS, EventType.EXPECTED_LOS, EventType.UNEXPECTED_LOS}


class MqttSinkOptions(AlertSinkOptions, MqttClientOptions):
    """``[[alerts]] type = "mqtt"``: events, retained link state and acknowledgements."""

    event_topic: str = Field(
        default="groundwatch/events", description="events go to <event_topic>/<spacecraft>"
    )
    state_topic: str = Field(
        default="groundwatch/state",
        description="retained state per link: <state_topic>/<spacecraft>/<station>",
    )
    ack_topic: str | None = Field(
        default="groundwatch/ack", description="acknowledgements are read here (none: off)"
    )
    qos: int = Field(default=1, ge=0, le=2, description="publish QoS")
    client_id: str | None = Field(default=None, description="MQTT client id (default: random)")
    ack_auth: Literal["hmac", "broker"] = Field(
        default="hmac",
        description="hmac: acks signed per operator; broker: per-operator topics the ACL limits",
    )
    ack_secrets_file: Path | None = Field(
        default=None, description="operator:secret lines for signed acknowledgements"
    )
    ack_max_age: float = Field(default=300.0, gt=0, description="seconds a signed ack is valid")


def connection_for(url: str, tls: TlsFiles | None = None, key: str = "url") -> dict[str, Any]:
    """aiomqtt.Client arguments for a broker URL, or a ConfigError naming ``key``."""
    try:
        return mqtt_connection(url, tls, key)
    except ConfigError:
        raise
    except ValueError as exc:
        raise ConfigError(key, str(exc)) from exc


def parse_mqtt_url(url: str, key: str = "url") -> tuple[str, int]:
    """Host and port of a broker URL, or a ConfigError naming ``key``."""
    conn = connection_for(url, None, key)
    return str(conn["hostname"]), int(conn["port"])


class MqttSink(AlertSink):
    """Events, retained link state and acknowledgements on an MQTT broker."""

    Options = MqttSinkOptions
    type = "mqtt"
    paging = True

    def __init__(self, opts: MqttSinkOptions) -> None:
        super().__init__(opts.name, opts.queue_size)
        self.opts = opts
        self.conn = connection_for(opts.url, self._tls_files(opts))
        self.host, self.port = self.conn["hostname"], self.conn["port"]
        self.verifier: AckVerifier | None = None
        if opts.ack_topic and opts.ack_auth == "hmac" and opts.ack_secrets_file is not None:
            self.verifier = AckVerifier(read_secrets(opts.ack_secrets_file), opts.ack_max_age)
        self._last_refusal_log = -1e9
        # retained topic -> state, least recently updated first (bounded: MAX_STATE_TOPICS)
        self.state: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.counters.extra["state_topics_dropped"] = 0
        self._inflight: Alert | None = None
        self.connected = asyncio.Event()

    @classmethod
    def from_config(cls, options: Mapping[str, Any], key: str) -> MqttSink:
        o = parse_part_options(MqttSinkOptions, options, key)
        connection_for(o.url, cls._tls_files(o), f"{key}.url")
        if o.ack_secrets_file is not None:
            read_secrets(o.ack_secrets_file, f"{key}.ack_secrets_file")
        read_secret(o.password, o.password_file, f"{key}.password")
        return cls(o)

    async def open(self) -> None:
        if self.opts.ack_topic and self.opts.ack_auth == "hmac" and self.verifier is None:
            log.warning(
                "alert sink %s: no ack_secrets_file, so every acknowledgement on %s is "
                "refused (see README, Security)",
                self.name,
                self.opts.ack_topic,
            )

    @staticmethod
    def _tls_files(o: MqttSinkOptions) -> TlsFiles:
        return o.tls_files()

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
        self.state.move_to_end(topic)
        while len(self.state) > MAX_STATE_TOPICS:  # stations come from the wire
            self.state.popitem(last=False)
            self.counters.bump("state_topics_dropped")
        if alert.notification in (Notification.NEW, Notification.ESCALATION):
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
                    username=self.opts.username or self.conn["username"],
                    password=read_secret(
                        self.opts.password, self.opts.password_file, "alerts.password"
                    )
                    or self.conn["password"],
                    tls_context=self.conn["tls_context"],
                    identifier=client_id,
                    # a fixed client id gets a persistent session: acks published while
                    # groundwatch was down are delivered when it reconnects
                    clean_session=self.opts.client_id is None,
                    timeout=5,
                ) as client:
                    if delay > 0.2:
                        log.info(
                            "alert sink %s: connected to %s", self.name, redact_url(self.opts.url)
                        )
                    delay = 0.2
                    await self._session(client)
            except (aiomqtt.MqttError, ConfigError) as exc:
                # ConfigError: the password file went away; retried, it may come back
                self.connected.clear()
                if delay == 0.2:
                    log.warning(
                        "alert sink %s: MQTT %s: %s", self.name, redact_url(self.opts.url), exc
                    )
                self.counters.errors += isinstance(exc, ConfigError)
                self.counters.bump("mqtt_reconnects")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _session(self, client: aiomqtt.Client) -> None:
        if self.opts.ack_topic:
            topic = self.opts.ack_topic
            await client.subscribe(f"{topic}/+" if self.opts.ack_auth == "broker" else topic, qos=1)
        for topic, st in self.state.items():
            await client.publish(topic, strict_json(st), qos=self.opts.qos, retain=True)
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
            await cancel_and_wait(tasks)

    async def _publish_loop(self, client: aiomqtt.Client) -> None:
        while True:
            if self._inflight is None:
                self._inflight = await self.take()
            await self._publish(client, self._inflight)
            self._inflight = None  # published: a reconnect does not send it again
            self.delivered()
            self.counters.sent += 1

    async def _publish(self, client: aiomqtt.Client, alert: Alert) -> None:
        e = alert.event
        topic = f"{self.opts.event_topic}/{e.spacecraft or 'ground'}"
        await client.publish(topic, alert.to_json(), qos=self.opts.qos)
        state_topic, st = self.update_state(alert)
        await client.publish(state_topic, strict_json(st), qos=self.opts.qos, retain=True)

    async def _listen(self, client: aiomqtt.Client) -> None:
        async for msg in client.messages:
            try:
                payload = bytes(msg.payload)
                if len(payload) > MAX_ACK_BYTES:  # anyone on the topic could send megabytes
                    raise ValueError("acknowledgement too long")
                data = json.loads(payload.decode())
                alert_id = str(data["id"])
            except (ValueError, KeyError, TypeError, UnicodeDecodeError):
                self.counters.bump("bad_ack_commands")
                if self._may_log():
                    log.warning("alert sink %s: ignored malformed ack on %s", self.name, msg.topic)
                continue
            try:
                by = self.authorise(str(msg.topic), data)
            except AckRefused as exc:
                self.counters.bump("acks_refused")
                if self._may_log():
                    log.warning(
                        "alert sink %s: refused acknowledgement of %r on %s: %s "
                        "(%d refused so far)",
                        self.name,
                        alert_id[:64],
                        msg.topic,
                        exc,
                        self.counters.extra["acks_refused"],
                    )
                continue
            self.counters.bump("acks_accepted")
            if self.on_ack is not None:
                self.on_ack(alert_id, by, data.get("comment"))

    def _may_log(self) -> bool:
        """At most one refusal logged a second: a flood on the ack topic must not flood the
        log (every refusal is counted)."""
        now = time.monotonic()
        if now - self._last_refusal_log < 1.0:
            return False
        self._last_refusal_log = now
        return True

    def authorise(self, topic: str, data: dict[str, Any]) -> str:
        """The operator an acknowledgement is authorised for, or AckRefused."""
        if self.opts.ack_auth == "broker":
            # The broker's ACL lets each operator write only <ack_topic>/<its user name>.
            operator = topic.rsplit("/", 1)[-1]
            claimed = data.get("by")
            if claimed not in (None, operator):
                raise AckRefused(f"'by' {str(claimed)[:64]!r} is not the topic's operator")
            return operator
        if self.verifier is None:
            raise AckRefused("no ack_secrets_file: signed acknowledgements cannot be checked")
        return self.verifier.verify(data)
