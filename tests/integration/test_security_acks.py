"""Acknowledgements over the secured broker: only an operator's signed acknowledgement
silences a critical alert; unsigned, forged and replayed ones are refused and counted."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from groundwatch.alerts.ack_auth import sign
from groundwatch.alerts.commands import publish_ack
from groundwatch.alerts.manager import AlertManager
from groundwatch.alerts.mqtt import MqttSink
from groundwatch.config import PartConfig
from groundwatch.mqtt_url import mqtt_connection
from groundwatch.plugins import builtin_registry
from groundwatch.tls import TlsFiles
from tests.helpers.events import unexpected_los
from tests.integration.conftest import SecureBroker

pytestmark = pytest.mark.integration


async def _manager(broker: SecureBroker, **opts: Any) -> AlertManager:
    alerts = AlertManager.from_config(
        [
            PartConfig(
                type="mqtt",
                url=broker.url("groundwatch"),
                **broker.tls_options("groundwatch"),
                **opts,
            )
        ],
        builtin_registry(),
    )
    await alerts.start()
    sink = alerts.sink("mqtt")
    assert isinstance(sink, MqttSink)
    await asyncio.wait_for(sink.connected.wait(), 10)
    return alerts


async def _raw_publish(broker: SecureBroker, user: str, topic: str, payload: Any) -> None:
    conn = mqtt_connection(broker.url(user), TlsFiles(**broker.tls_options(user)))  # type: ignore[arg-type]
    async with aiomqtt.Client(**conn, timeout=10) as client:
        await client.publish(topic, json.dumps(payload), qos=1)


async def _settle(alerts: AlertManager, counter: str, n: int, timeout: float = 5) -> None:
    sink = alerts.sink("mqtt")
    deadline = time.monotonic() + timeout
    while sink.counters.extra.get(counter, 0) < n:
        assert time.monotonic() < deadline, sink.counters.as_dict()
        await asyncio.sleep(0.05)


async def test_only_a_signed_ack_silences_a_critical_alert(
    secure_mosquitto: SecureBroker, tmp_path: Path
) -> None:
    secrets_file = tmp_path / "ack-secrets"
    secrets_file.write_text("# operators\nop1:first-secret\nop2:second-secret\n")
    secrets_file.chmod(0o600)
    alerts = await _manager(secure_mosquitto, ack_secrets_file=str(secrets_file))
    try:
        (alert,) = alerts.submit([unexpected_los()])
        # unsigned, by an operator the broker lets publish on the ack topic
        await _raw_publish(
            secure_mosquitto, "op2", "groundwatch/ack", {"id": alert.id, "by": "op1"}
        )
        # forged: op2 signs in op1's name with its own secret
        forged = sign(b"second-secret", alert.id, "op1", None)
        await _raw_publish(secure_mosquitto, "op2", "groundwatch/ack", forged)
        await _settle(alerts, "acks_refused", 2)
        assert not alerts.active["LOS/lander"].acknowledged
        # signed, but longer than any acknowledgement: not even parsed
        huge = sign(b"first-secret", alert.id, "op1", "x" * 10_000)
        await _raw_publish(secure_mosquitto, "op1", "groundwatch/ack", huge)
        await _settle(alerts, "bad_ack_commands", 1)
        assert not alerts.active["LOS/lander"].acknowledged

        # signed by op1 through the ack command (its secret from a file)
        own = tmp_path / "op1-secret"
        own.write_text("first-secret\n")
        await publish_ack(
            secure_mosquitto.url("op1"),
            alert.id,
            "op1",
            "on it",
            secret=own.read_bytes().strip(),
            tls=TlsFiles(**secure_mosquitto.tls_options("op1")),  # type: ignore[arg-type]
        )
        await _settle(alerts, "acks_accepted", 1)
        acked = alerts.active["LOS/lander"]
        assert acked.acknowledged and acked.acked_by == "op1"
        assert acked.ack_comment == "on it"
    finally:
        await alerts.stop(0.5)


async def test_a_replayed_signed_ack_is_refused(
    secure_mosquitto: SecureBroker, tmp_path: Path
) -> None:
    secrets_file = tmp_path / "ack-secrets"
    secrets_file.write_text("op1:first-secret\n")
    alerts = await _manager(secure_mosquitto, ack_secrets_file=str(secrets_file))
    try:
        (first,) = alerts.submit([unexpected_los()])
        signed = sign(b"first-secret", first.id, "op1", None)
        await _raw_publish(secure_mosquitto, "op1", "groundwatch/ack", signed)
        await _settle(alerts, "acks_accepted", 1)
        await _raw_publish(secure_mosquitto, "op1", "groundwatch/ack", signed)
        await _settle(alerts, "acks_refused", 1)
        stale = sign(b"first-secret", first.id, "op1", None, now=time.time() - 3600)
        await _raw_publish(secure_mosquitto, "op1", "groundwatch/ack", stale)
        await _settle(alerts, "acks_refused", 2)
    finally:
        await alerts.stop(0.5)


async def test_broker_acl_mode_takes_the_operator_from_its_own_topic(
    secure_mosquitto: SecureBroker,
) -> None:
    alerts = await _manager(secure_mosquitto, ack_auth="broker")
    try:
        (alert,) = alerts.submit([unexpected_los()])
        # a station and another operator cannot write op1's topic: the ACL drops both
        await _raw_publish(secure_mosquitto, "gs1", "groundwatch/ack/op1", {"id": alert.id})
        await _raw_publish(secure_mosquitto, "op2", "groundwatch/ack/op1", {"id": alert.id})
        # op2 on its own topic claiming to be op1: refused
        await _raw_publish(
            secure_mosquitto, "op2", "groundwatch/ack/op2", {"id": alert.id, "by": "op1"}
        )
        await _settle(alerts, "acks_refused", 1)
        assert not alerts.active["LOS/lander"].acknowledged
        await publish_ack(
            secure_mosquitto.url("op1"),
            alert.id,
            "op1",
            None,
            tls=TlsFiles(**secure_mosquitto.tls_options("op1")),  # type: ignore[arg-type]
        )
        await _settle(alerts, "acks_accepted", 1)
        assert alerts.active["LOS/lander"].acked_by == "op1"
        assert alerts.sink("mqtt").counters.extra["acks_accepted"] == 1
    finally:
        await alerts.stop(0.5)


async def test_sink_survives_its_password_file_going_away(
    secure_mosquitto: SecureBroker, tmp_path: Path
) -> None:
    pw = tmp_path / "mqtt-password"
    pw.write_text(secure_mosquitto.passwords["groundwatch"])
    alerts = AlertManager.from_config(
        [
            PartConfig(
                type="mqtt",
                url=f"mqtts://groundwatch@localhost:{secure_mosquitto.handle.port}",
                password_file=str(pw),
                ack_auth="broker",
                **secure_mosquitto.tls_options("groundwatch"),
            )
        ],
        builtin_registry(),
    )
    pw.unlink()  # checked at configuration, gone when the sink starts
    await alerts.start()
    sink = alerts.sink("mqtt")
    assert isinstance(sink, MqttSink)
    try:
        deadline = time.monotonic() + 5
        while sink.counters.errors == 0:
            assert time.monotonic() < deadline, sink.counters.as_dict()
            await asyncio.sleep(0.05)
        assert sink._task is not None and not sink._task.done()  # still trying
        pw.write_text(secure_mosquitto.passwords["groundwatch"])
        await asyncio.wait_for(sink.connected.wait(), 15)
    finally:
        await alerts.stop(0.5)
