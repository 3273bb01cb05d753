"""The link monitor through the whole product: simulator -> Mosquitto -> pipeline -> link monitor ->
alert sinks (real MQTT, a real local webhook server) and InfluxDB."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiomqtt

from groundwatch.services import ServiceHandle

from ..helpers.http import http_receiver
from .pipeline_helpers import (
    expected_packets,
    query,
    records,
    running_pipeline,
    settings_for,
    simulate,
    wait_for,
    write_config,
)

THRESHOLD = 1.5


async def _collect(
    mqtt: ServiceHandle, topic: str, into: list[tuple[float, str, Any]], ready: asyncio.Event
) -> None:
    async with aiomqtt.Client("127.0.0.1", mqtt.port) as c:
        await c.subscribe(topic, qos=1)
        ready.set()
        async for msg in c.messages:
            payload = msg.payload if isinstance(msg.payload, bytes) else b"{}"
            into.append((time.time(), msg.topic.value, json.loads(payload)))


async def test_simulated_pass_stops_los_on_mqtt_webhook_and_influx_then_recovery(
    mosquitto: ServiceHandle, influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    async with http_receiver() as hook:
        alerts = (
            '[[alerts]]\ntype = "influx"\n'
            f'[[alerts]]\ntype = "mqtt"\nurl = "{mosquitto.url}"\n'
            f'[[alerts]]\ntype = "webhook"\nurl = "http://127.0.0.1:{hook.port}/hook"\n'
        )
        cfg = write_config(
            tmp_path / "gw.toml",
            mosquitto,
            influxd,
            influx_db,
            client_id="gw-link-e2e",
            los_threshold=THRESHOLD,
            alerts=alerts,
        )
        got: list[tuple[float, str, Any]] = []
        ready = asyncio.Event()
        collector = asyncio.create_task(_collect(mosquitto, "groundwatch/#", got, ready))
        await ready.wait()
        try:
            async with running_pipeline(settings_for(cfg)) as pipeline:
                await asyncio.to_thread(
                    simulate,
                    mosquitto,
                    tmp_path / "r1.jsonl",
                    "--station",
                    "gs1",
                    "--no-heartbeat",
                    count=40,
                    rate=40,
                )

                def los_events() -> list[dict[str, Any]]:
                    return [
                        p
                        for _t, topic, p in got
                        if topic.startswith("groundwatch/events")
                        and p.get("type") == "LOS"
                        and not p.get("recovery")
                    ]

                await wait_for(lambda: los_events(), THRESHOLD + 5, "LOS on MQTT")
                arrived, los = next((t, p) for t, tp, p in got if p in los_events())
                # The LOS time is the last good frame + threshold; the alert is out within
                # 0.5 s of it (the alerting latency we promise).
                assert arrived - los["time_ns"] / 1e9 < 0.5
                hooked: dict[str, Any] = {}
                while hooked.get("type") != "LOS":  # AOS came first
                    _t, hooked = await asyncio.wait_for(hook.got.get(), 5)
                assert hooked["id"] == los["id"]
                # The retained state topic says LOS to a console that connects now.
                async with aiomqtt.Client("127.0.0.1", mosquitto.port) as late:
                    await late.subscribe("groundwatch/state/demo-lander/#")
                    msg = await asyncio.wait_for(anext(aiter(late.messages)), 5)
                    assert msg.retain
                    state = json.loads(msg.payload if isinstance(msg.payload, bytes) else b"")
                    assert state["state"] == "LOS"
                # Frames resume: AOS again, the LOS condition recovers.
                await asyncio.to_thread(
                    simulate,
                    mosquitto,
                    tmp_path / "r2.jsonl",
                    "--station",
                    "gs1",
                    "--no-heartbeat",
                    count=20,
                    rate=40,
                )
                await wait_for(
                    lambda: any(p.get("clears") == los["id"] for _t, _tp, p in got),
                    10,
                    "recovery of the LOS alert",
                )
                frames = pipeline.stats.frames
        finally:
            collector.cancel()
    assert frames == 60
    rows = query(influxd, influx_db, 'SELECT * FROM "events" WHERE "type" = \'LOS\'')
    assert any(r["id"] == los["id"] for r in rows)


async def _relay_as_second_station(mqtt: ServiceHandle, n: int, ready: asyncio.Event) -> None:
    """Station gsB hears the same frames as gsA (same octets, a little later) for ``n``
    frames, with its heartbeat; then it goes quiet: heartbeat and frames stop."""
    async with aiomqtt.Client("127.0.0.1", mqtt.port) as c:
        await c.subscribe("gs/gsA/frames", qos=1)
        ready.set()
        relayed = 0
        last_beat = 0.0
        async for msg in c.messages:
            await c.publish("gs/gsB/frames", msg.payload, qos=1)
            if time.monotonic() - last_beat > 0.5:
                await c.publish("gs/gsB/status", b'{"station": "gsB", "status": "ok"}')
                last_beat = time.monotonic()
            relayed += 1
            if relayed >= n:
                return


async def test_two_stations_store_once_and_ground_path_down_is_not_los(
    mosquitto: ServiceHandle, influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    cfg = write_config(
        tmp_path / "gw.toml",
        mosquitto,
        influxd,
        influx_db,
        client_id="gw-two-stations",
        los_threshold=THRESHOLD,
    )
    events: list[Any] = []
    settings = settings_for(cfg)
    settings.link.heartbeat_timeout = 2.0
    async with running_pipeline(settings, event_listeners=[events.append]) as pipeline:
        ready = asyncio.Event()
        relay = asyncio.create_task(_relay_as_second_station(mosquitto, 60, ready))
        await ready.wait()
        await asyncio.to_thread(
            simulate, mosquitto, tmp_path / "a.jsonl", "--station", "gsA", count=210, rate=30
        )
        await relay
        await wait_for(lambda: pipeline.stats.frames >= 270, 20, "270 copies")
        duplicates = pipeline.stats.duplicates
        counts = pipeline.merger.counts()
    gsa_last = max(r["publish_ns"] for r in records(tmp_path / "a.jsonl"))
    # gsB went quiet while gsA still heard the spacecraft: ground path down, not LOS.
    down = [e for e in events if e.type.value == "GROUND_PATH_DOWN" and e.station == "gsB"]
    assert down and down[0].time_ns < gsa_last
    los = [e for e in events if e.type.value.endswith("LOS") and not e.recovery]
    assert all(e.time_ns > gsa_last for e in los), los
    # Each packet stored once although two stations delivered the first 60 frames.
    assert duplicates == 60
    assert counts["gsA"]["first"] + counts["gsB"]["first"] == 210
    assert counts["gsB"]["duplicates"] + counts["gsA"]["duplicates"] == 60
    sent = {
        (p["seq_count"], p["obt_ns"]) for p in expected_packets(tmp_path / "a.jsonl").get("gnc", [])
    }
    rows = query(influxd, influx_db, 'SELECT count("seq_count") FROM "gnc"')
    assert rows[0]["count"] == len(sent)
