"""A lost broker is a ground path outage, never a spacecraft LOS (real Mosquitto killed -9).

Each outage raises one GROUND_PATH_DOWN and is logged; ``broker_up`` is false in /health and
/metrics while the broker is down and when it was never reached; no LOS and no STALE come
from the silence the outage causes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest

from groundwatch import services
from groundwatch.model import EventType
from groundwatch.pipeline import Pipeline
from groundwatch.services import ServiceHandle
from groundwatch.wiring import build_pipeline

from .pipeline_helpers import running_pipeline, settings_for, simulate, wait_for, write_config


def _get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
        return str(resp.read().decode())


async def _broker_up(port: int) -> tuple[bool, float]:
    health = json.loads(await asyncio.to_thread(_get, port, "/health"))
    metrics = await asyncio.to_thread(_get, port, "/metrics")
    line = next(m for m in metrics.splitlines() if m.startswith("groundwatch_links_broker_up "))
    return bool(health["links"]["broker_up"]), float(line.split()[1])


def _types(pipeline: Pipeline) -> list[EventType]:
    return [e.type for e in pipeline.stats.events]


async def _kill_broker(broker: ServiceHandle) -> None:
    os.kill(broker.pid, signal.SIGKILL)
    await wait_for(lambda: not services.pid_alive(broker.pid), 5, "the broker to die")


async def test_broker_killed_twice_is_two_ground_path_outages_and_no_los(
    own_mosquitto: ServiceHandle,
    influxd: ServiceHandle,
    influx_db: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="groundwatch.ingest.mqtt")
    cfg = write_config(
        tmp_path / "gw.toml", own_mosquitto, influxd, influx_db, client_id="gw-ground-path"
    )
    settings = settings_for(cfg)
    settings.health.listen = f"127.0.0.1:{services.free_port()}"
    settings.link.stale_after = 2.0  # a STALE would come well inside each outage
    broker = own_mosquitto
    sims: list[subprocess.Popen[bytes]] = []
    try:
        async with running_pipeline(settings) as pipeline:
            assert pipeline.health is not None
            port = pipeline.health.port
            for outage in (1, 2):
                sim = simulate(
                    broker,
                    tmp_path / f"r{outage}.jsonl",
                    "--station",
                    "gs1",
                    count=100_000,
                    rate=20,
                    background=True,
                )
                assert isinstance(sim, subprocess.Popen)
                sims.append(sim)
                frames = pipeline.stats.frames
                await wait_for(lambda f=frames: pipeline.stats.frames >= f + 40, 30, "frames")
                assert await _broker_up(port) == (True, 1.0)
                await _kill_broker(broker)
                downs = outage
                await wait_for(
                    lambda d=downs: _types(pipeline).count(EventType.GROUND_PATH_DOWN) >= d,
                    5,
                    f"GROUND_PATH_DOWN for outage {outage}",
                )
                assert await _broker_up(port) == (False, 0.0)
                await asyncio.sleep(4.5)  # past los_threshold (3 s) and stale_after (2 s)
                assert await _broker_up(port) == (False, 0.0)
                assert _types(pipeline).count(EventType.GROUND_PATH_DOWN) == outage
                sim.kill()
                broker = await asyncio.to_thread(
                    services.start_mosquitto, Path(own_mosquitto.data_dir), own_mosquitto.port
                )
                await wait_for(
                    lambda u=outage: _types(pipeline).count(EventType.GROUND_PATH_UP) >= u,
                    15,
                    "GROUND_PATH_UP",
                )
                assert await _broker_up(port) == (True, 1.0)
            silence = {EventType.LOS, EventType.UNEXPECTED_LOS, EventType.STALE}
            assert not silence & set(_types(pipeline)), _types(pipeline)
    finally:
        for sim in sims:
            sim.kill()
            sim.wait()
    unreachable = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(unreachable) == 2, [r.getMessage() for r in unreachable]


async def test_broker_never_reached_is_down_in_health_and_metrics(
    influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    nowhere = ServiceHandle("mosquitto", 0, services.free_port(), str(tmp_path), "")
    cfg = write_config(tmp_path / "gw.toml", nowhere, influxd, influx_db, client_id="gw-never")
    settings = settings_for(cfg)
    settings.health.listen = f"127.0.0.1:{services.free_port()}"
    pipeline = build_pipeline(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop))
    try:
        await asyncio.wait_for(pipeline.started.wait(), 10)
        await wait_for(
            lambda: EventType.GROUND_PATH_DOWN in _types(pipeline), 5, "GROUND_PATH_DOWN"
        )
        assert pipeline.health is not None
        assert await _broker_up(pipeline.health.port) == (False, 0.0)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
