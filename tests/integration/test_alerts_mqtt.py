"""Alerts through a real Mosquitto and a real local HTTP webhook server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
import typer
from typer.testing import CliRunner

from groundwatch.alerts.commands import register
from groundwatch.alerts.manager import AlertManager
from groundwatch.config import LinkConfig, PartConfig
from groundwatch.link.monitor import LinkMonitor
from groundwatch.link.schedule import Schedule
from groundwatch.model import Event, LinkKey
from groundwatch.plugins import builtin_registry
from groundwatch.services import ServiceHandle, free_port

from ..helpers.http import http_receiver

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def subscriber(
    broker: ServiceHandle, *topics: str
) -> AsyncIterator[asyncio.Queue[tuple[float, str, dict[str, Any]]]]:
    q: asyncio.Queue[tuple[float, str, dict[str, Any]]] = asyncio.Queue()
    async with aiomqtt.Client("127.0.0.1", broker.port) as client:
        for t in topics:
            await client.subscribe(t, qos=1)

        async def pump() -> None:
            async for msg in client.messages:
                data = json.loads(bytes(msg.payload))  # type: ignore[arg-type]
                await q.put((time.monotonic(), msg.topic.value, data))

        task = asyncio.create_task(pump())
        try:
            yield q
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def next_of(q: asyncio.Queue[Any], pred: Any, timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        item = await asyncio.wait_for(q.get(), max(0.01, deadline - time.monotonic()))
        if pred(item):
            return item


def manager(
    broker: ServiceHandle, hook_url: str, mqtt: dict[str, Any] | None = None, **kw: Any
) -> AlertManager:
    return AlertManager.from_config(
        [
            PartConfig(type="log"),
            PartConfig(type="mqtt", url=broker.url, queue_size=100, **(mqtt or {})),
            PartConfig(type="webhook", url=hook_url, timeout=1.0, retries=1, backoff=0.1),
        ],
        builtin_registry(),
        **kw,
    )


async def drive(mon: LinkMonitor, alerts: AlertManager, frames_for: float, then: float,
                tick: float = 0.05) -> float:  # fmt: skip
    """Frames at 10/s for ``frames_for`` s, then ticks only; returns the last frame's
    monotonic time. The monitor runs on the wall clock like the live pipeline."""
    start = time.monotonic()
    next_frame = start
    last = start
    while time.monotonic() - start < frames_for + then:
        now = time.time_ns()
        events: list[Event] = mon.tick(now)
        if time.monotonic() - start < frames_for and time.monotonic() >= next_frame:
            events += mon.observe_frame(LinkKey("lander", "gs1", 0), now, True, now)
            last = time.monotonic()
            next_frame += 0.1
        alerts.submit(events)
        alerts.tick(now)
        await asyncio.sleep(tick)
    return last


async def test_los_on_mqtt_and_webhook_retained_state_and_recovery(
    mosquitto: ServiceHandle,
) -> None:
    cfg = LinkConfig(los_threshold=0.5, aos_frames=2)
    mon = LinkMonitor.from_config(cfg, [], {}, None)
    async with http_receiver() as hook, subscriber(mosquitto, "groundwatch/events/#") as sub:
        alerts = manager(mosquitto, f"http://127.0.0.1:{hook.port}/hook")
        await alerts.start()
        try:
            last = await drive(mon, alerts, frames_for=1.0, then=1.5)
            _, _, _aos = await next_of(sub, lambda m: m[2]["type"] == "AOS")
            t_mqtt, topic, los = await next_of(sub, lambda m: m[2]["type"] == "LOS")
            assert topic == "groundwatch/events/lander"
            assert los["severity"] == "warning" and los["notification"] == "new"
            assert t_mqtt - last <= 0.5 + 0.5
            t_hook, body = await next_of(hook.got, lambda m: m[1]["type"] == "LOS")
            assert t_hook - last <= 0.5 + 0.5
            assert body["id"] == los["id"] and body["text"].startswith("[WARNING] LOS lander")
            assert body["details"]["frames_in_pass"] == 0  # no decoded results were fed
            assert body["details"]["station_frames"]["gs1"] >= 9
            # a console connecting now gets the retained state at once
            async with subscriber(mosquitto, "groundwatch/state/lander/#") as late:
                _, stopic, state = await next_of(late, lambda m: True, timeout=2)
            assert stopic == "groundwatch/state/lander/gs1"
            assert state["state"] == "LOS" and "LOS/lander" in state["active"]
            # frames resume: recovery
            await drive(mon, alerts, frames_for=0.5, then=0.1)
            _, _, rec = await next_of(sub, lambda m: m[2]["type"] == "AOS")
            assert rec["notification"] == "recovery" and rec["clears"] == los["id"]
        finally:
            await alerts.stop()


@pytest.mark.parametrize("dead", ["refused", "hangs"])
async def test_dead_webhook_does_not_delay_mqtt(mosquitto: ServiceHandle, dead: str) -> None:
    async with contextlib.AsyncExitStack() as stack:
        if dead == "hangs":
            hook = await stack.enter_async_context(http_receiver(hang=True))
            url = f"http://127.0.0.1:{hook.port}/hook"
        else:
            url = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
        sub = await stack.enter_async_context(subscriber(mosquitto, "groundwatch/events/#"))
        alerts = manager(mosquitto, url)
        await alerts.start()
        stack.push_async_callback(alerts.stop, 0.5)
        mon = LinkMonitor.from_config(LinkConfig(los_threshold=0.3), [], {}, None)
        delays = []
        for _i in range(5):  # five LOS events in a row; the webhook never answers
            last = await drive(mon, alerts, frames_for=0.3, then=0.45)
            t, _, _msg = await next_of(sub, lambda m: m[2]["type"] == "LOS", timeout=3)
            delays.append(t - last)
        assert max(delays) <= 0.3 + 0.5, delays
        assert alerts.sink("mqtt").counters.sent >= 10  # AOS + LOS each time
        assert alerts.sink("webhook").counters.sent == 0


async def test_ack_over_mqtt_stops_renotification(mosquitto: ServiceHandle, tmp_path: Path) -> None:
    secrets_file = tmp_path / "ack-secrets"
    secrets_file.write_text("flight:flight-secret\n")
    async with http_receiver() as hook, subscriber(mosquitto, "groundwatch/events/#") as sub:
        alerts = manager(
            mosquitto,
            f"http://127.0.0.1:{hook.port}/hook",
            mqtt={"ack_secrets_file": str(secrets_file)},
            renotify_interval=0.3,
        )
        await alerts.start()
        try:
            await asyncio.wait_for(alerts.sink("mqtt").connected.wait(), 5)  # type: ignore[attr-defined]
            mon = LinkMonitor.from_config(LinkConfig(los_threshold=0.3), [], {}, None)
            # a contact planned around now makes the LOS critical (UNEXPECTED_LOS)
            now_s = time.time()
            mon.schedule = Schedule.from_yaml(
                f"- {{spacecraft: lander, station: gs1, start: '{_iso(now_s - 60)}', "
                f"end: '{_iso(now_s + 600)}'}}"
            )
            await drive(mon, alerts, frames_for=0.3, then=1.2)
            _, _, los = await next_of(sub, lambda m: m[2]["type"] == "UNEXPECTED_LOS")
            await next_of(sub, lambda m: m[2]["notification"] == "repeat")
            # acknowledge through the CLI command, over the MQTT command topic
            app = typer.Typer()
            register(app)

            @app.command("noop")
            def _noop() -> None:  # typer needs two commands to keep sub-command names
                pass

            res = await asyncio.to_thread(
                CliRunner().invoke,
                app,
                [
                    "ack",
                    los["id"],
                    "--by",
                    "flight",
                    "--comment",
                    "on it",
                    "--mqtt",
                    mosquitto.url,
                    "--secret-file",
                    str(secrets_file),
                ],
            )
            assert res.exit_code == 0, res.output
            ack_deadline = time.monotonic() + 3
            while time.monotonic() < ack_deadline:
                alerts.tick(time.time_ns())
                await asyncio.sleep(0.05)
                if alerts.active["LOS/lander"].acknowledged:
                    break
            _, _, ack = await next_of(sub, lambda m: m[2]["notification"] == "ack")
            assert ack["id"] == los["id"] and ack["acked_by"] == "flight"
            assert ack["type"] == "ACK" and ack["ack_comment"] == "on it"
            t_ack = time.monotonic()
            for _ in range(20):  # 1 s of ticks: no more reminders
                alerts.tick(time.time_ns())
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)
            later = []
            while not sub.empty():
                later.append(sub.get_nowait())
            assert [m for m in later if m[2]["notification"] == "repeat" and m[0] > t_ack] == []
            async with subscriber(mosquitto, "groundwatch/state/lander/gs1") as late:
                _, _, state = await next_of(late, lambda m: True, timeout=2)
            assert state["active"]["LOS/lander"]["acknowledged"] is True
            _, body = await next_of(hook.got, lambda m: m[1]["notification"] == "ack")
            assert body["acked_by"] == "flight"
        finally:
            await alerts.stop()


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


async def test_mqtt_sink_reconnects_after_broker_restart(own_mosquitto: ServiceHandle) -> None:
    from groundwatch import services

    alerts = AlertManager.from_config(
        [PartConfig(type="mqtt", url=own_mosquitto.url)], builtin_registry()
    )
    sink = alerts.sink("mqtt")
    await alerts.start()
    try:
        await asyncio.wait_for(sink.connected.wait(), 5)  # type: ignore[attr-defined]
        broker = await asyncio.to_thread(services.restart, own_mosquitto)
        mon = LinkMonitor.from_config(LinkConfig(los_threshold=0.3), [], {}, None)
        async with subscriber(broker, "groundwatch/events/#") as sub:
            # alerts raised while the sink reconnects are queued and published after
            await drive(mon, alerts, frames_for=0.3, then=0.6)
            _, _, los = await next_of(sub, lambda m: m[2]["type"] == "LOS", timeout=15)
        assert los["notification"] == "new"
        assert sink.counters.extra.get("mqtt_reconnects", 0) >= 1
        assert sink.counters.errors == 0 and sink.counters.dropped == 0
    finally:
        await alerts.stop()
