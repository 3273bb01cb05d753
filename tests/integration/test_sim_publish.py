"""The simulator publishes to a real Mosquitto: every frame arrives, on every station's
topic, byte for byte, with heartbeats on the status topics."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiomqtt

from groundwatch.decoders.dictionary import load_dictionary
from groundwatch.decoders.frame_decoder import FrameDecoder
from groundwatch.model import RawFrame
from groundwatch.services import ServiceHandle
from groundwatch.sim.commands import run_simulation
from groundwatch.sim.publisher import PublisherSettings

DEMO = Path(__file__).resolve().parents[2] / "missions" / "demo-lander.yaml"


async def collect(
    port: int, topics: list[str], ready: asyncio.Event, want: int, out: list[aiomqtt.Message]
) -> None:
    async with aiomqtt.Client("127.0.0.1", port, identifier="sim-test-sub") as client:
        for topic in topics:
            await client.subscribe(topic, qos=1)
        ready.set()
        async for message in client.messages:
            out.append(message)
            if sum(1 for m in out if str(m.topic).endswith("/frames")) >= want:
                return


async def test_every_published_frame_arrives_on_both_stations(
    mosquitto: ServiceHandle, tmp_path: Path
) -> None:
    d = load_dictionary(DEMO)
    n = 300
    received: list[aiomqtt.Message] = []
    ready = asyncio.Event()
    sub = asyncio.create_task(
        collect(mosquitto.port, ["simtest/+/frames", "gs/+/status"], ready, 2 * n, received)
    )
    await asyncio.wait_for(ready.wait(), 10)
    settings = PublisherSettings(
        mqtt_url=mosquitto.url,
        stations=("gs-a", "gs-b"),
        topic="simtest/{station}/frames",
        rate=200.0,
        count=n,
        heartbeat_interval=0.2,
        linger=0.5,
        record=tmp_path / "record.jsonl",
    )
    summary = await run_simulation(d, settings, seed=2, start_ns=1_780_000_000_000_000_000)
    assert summary.frames == summary.published == n  # generic scenario: no link losses
    await asyncio.wait_for(sub, 20)

    records = [json.loads(x) for x in (tmp_path / "record.jsonl").read_text().splitlines()]
    decoder = FrameDecoder(d)
    for station in ("gs-a", "gs-b"):
        frames = [m for m in received if str(m.topic) == f"simtest/{station}/frames"]
        assert len(frames) == n
        mine = [r for r in records if r["station"] == station]
        for message, rec in zip(frames, mine, strict=True):
            assert message.qos == 1
            result = decoder.decode(RawFrame(bytes(message.payload), 0, station))  # type: ignore[arg-type]
            assert [p.name for p in result.packets] == [p["name"] for p in rec["packets"]]
            for got, want in zip(result.packets, rec["packets"], strict=True):
                assert {k: v.eng for k, v in got.params.items()} == want["values"]
        beats = [json.loads(m.payload) for m in received if str(m.topic) == f"gs/{station}/status"]  # type: ignore[arg-type]
        assert beats and beats[0]["station"] == station and beats[0]["status"] == "ok"
    assert summary.per_station == {"gs-a": n, "gs-b": n}


async def test_lunar_descent_over_mqtt_ends_with_the_link(mosquitto: ServiceHandle) -> None:
    """The accelerated HAKUTO scenario runs to its end by itself: no count, no duration."""
    d = load_dictionary(DEMO)
    received: list[aiomqtt.Message] = []
    ready = asyncio.Event()
    sub = asyncio.create_task(collect(mosquitto.port, ["descent/+/frames"], ready, 10**9, received))
    await asyncio.wait_for(ready.wait(), 10)
    settings = PublisherSettings(
        mqtt_url=mosquitto.url,
        stations=("gs1",),
        topic="descent/{station}/frames",
        rate=0,
        speedup=40.0,
        heartbeat=False,
    )
    summary = await run_simulation(d, settings, scenario="lunar-descent", variant="hakuto", seed=1)
    assert summary.scenario_end
    await asyncio.sleep(0.5)
    sub.cancel()
    assert len(received) == summary.published > 200
    assert summary.lost > 0 and summary.corrupted > 0
