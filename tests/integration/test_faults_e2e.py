"""Fault tests through the whole pipeline, against real Mosquitto and InfluxDB that
the tests stop, pause, restart or kill: nothing published is lost, nothing counts twice."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

from groundwatch import services
from groundwatch.services import ServiceHandle

from .pipeline_helpers import (
    expected_packets,
    running_pipeline,
    settings_for,
    simulate,
    wait_for,
    write_config,
)
from .test_pipeline_e2e import assert_db_matches_record, stop_and_restart_mid_pass, stored_live


def _wanted(record: Path) -> int:
    return sum(len(v) for v in expected_packets(record).values())


async def _wait_stored(influx: ServiceHandle, db: str, want: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(stored_live, influx, db) >= want:
            return
        await asyncio.sleep(0.5)
    raise TimeoutError(f"{stored_live(influx, db)} of {want} points stored")


async def test_influxdb_down_mid_pass_then_back(
    mosquitto: ServiceHandle, own_influxd: ServiceHandle, tmp_path: Path
) -> None:
    """InfluxDB stopped during a pass at 200 frames/s, then started: every point, once."""
    cfg = write_config(
        tmp_path / "gw.toml", mosquitto, own_influxd, "groundwatch", client_id="gw-fault-db-down"
    )
    record = tmp_path / "record.jsonl"
    influx = own_influxd
    async with running_pipeline(settings_for(cfg)) as pipeline:
        sim = simulate(mosquitto, record, "--station", "gs1", count=1600, rate=200, background=True)
        await asyncio.sleep(2)
        await asyncio.to_thread(services.stop_pid, influx.pid)
        await asyncio.sleep(4)  # a 30 s outage, shortened for the suite
        assert pipeline.store.health()["spool_points"] > 0  # the outage went to the spool
        influx = await asyncio.to_thread(services.restart, influx)
        assert await asyncio.to_thread(sim.wait, 60) == 0  # type: ignore[union-attr]
        await wait_for(lambda: pipeline.stats.frames >= 1600, 60, "all frames")
        await _wait_stored(influx, "groundwatch", _wanted(record), 60)
    assert_db_matches_record(influx, "groundwatch", record, "gs1", max_latency_s=None)


async def test_influxdb_paused_memory_stays_bounded(
    mosquitto: ServiceHandle, own_influxd: ServiceHandle, tmp_path: Path
) -> None:
    """InfluxDB answering nothing (SIGSTOP) for a while, then SIGCONT: nothing lost, and the
    store's memory never exceeds its bound: the rest went to the spool."""
    cfg = write_config(
        tmp_path / "gw.toml",
        mosquitto,
        own_influxd,
        "groundwatch",
        client_id="gw-fault-db-stop",
        extra="",
    )
    settings = settings_for(cfg)
    settings.store.queue_size = 2000
    settings.store.timeout = 1.0
    record = tmp_path / "record.jsonl"
    async with running_pipeline(settings) as pipeline:
        sim = simulate(mosquitto, record, "--station", "gs1", count=1200, rate=200, background=True)
        await asyncio.sleep(1.5)
        os.kill(own_influxd.pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(5)
        finally:
            os.kill(own_influxd.pid, signal.SIGCONT)
        assert await asyncio.to_thread(sim.wait, 60) == 0  # type: ignore[union-attr]
        await wait_for(lambda: pipeline.stats.frames >= 1200, 60, "all frames")
        await _wait_stored(own_influxd, "groundwatch", _wanted(record), 60)
        peak = pipeline.store.peak_in_memory
    assert peak <= 2000
    assert_db_matches_record(own_influxd, "groundwatch", record, "gs1", max_latency_s=None)


async def test_broker_restart_mid_pass_reconnects_by_itself(
    own_mosquitto: ServiceHandle, influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    cfg = write_config(
        tmp_path / "gw.toml", own_mosquitto, influxd, influx_db, client_id="gw-fault-broker"
    )
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    async with running_pipeline(settings_for(cfg)) as pipeline:
        await asyncio.to_thread(
            simulate, own_mosquitto, first, "--station", "gs1", count=200, rate=100
        )
        await wait_for(lambda: pipeline.stats.frames >= 200, 30, "first 200 frames")
        broker = await asyncio.to_thread(services.restart, own_mosquitto)
        source = pipeline.sources[0]
        await wait_for(lambda: not source.connected, 10, "the source to notice")
        await wait_for(lambda: source.connected, 30, "the source to reconnect by itself")
        await asyncio.sleep(0.5)
        await asyncio.to_thread(simulate, broker, second, "--station", "gs1", count=200, rate=100)
        await wait_for(lambda: pipeline.stats.frames >= 400, 30, "second 200 frames")
    want = _wanted(first) + _wanted(second)
    assert stored_live(influxd, influx_db) == want


def test_sigkill_mid_pass_then_restart_loses_nothing(
    mosquitto: ServiceHandle, influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    record = stop_and_restart_mid_pass(
        mosquitto, influxd, influx_db, tmp_path, "gs3", signal.SIGKILL, rate=200
    )
    # Every packet exactly once: archived-but-unconfirmed frames were decoded again at the
    # restart, and the broker's redelivery of unacknowledged ones was recognised as copies.
    assert_db_matches_record(influxd, influx_db, record, "gs3", max_latency_s=None)
