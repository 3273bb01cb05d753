"""A pass ingested live and replayed from its archive gives the same points and events.

Simulator -> real Mosquitto -> pipeline (archive on) -> real InfluxDB; then the archive is
replayed with ``--time original`` into another session of the same database, and every packet
measurement with ``source='live'`` is compared with ``source='replay:<session>'``: same
timestamps, same values. The events (type, spacecraft, station, time) must be the same too.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from groundwatch.model import EventType
from groundwatch.replay.runner import ReplayOptions, run_replay
from groundwatch.services import ServiceHandle

from .pipeline_helpers import (
    DEMO_DICTIONARY,
    query,
    running_pipeline,
    settings_for,
    simulate,
    wait_for,
    write_config,
)


def packet_measurements() -> list[str]:
    import yaml

    doc = yaml.safe_load(DEMO_DICTIONARY.read_text())
    return [p["name"] for p in doc["packets"]]


def rows_of(influx: ServiceHandle, db: str, measurement: str, source: str) -> list[dict[str, Any]]:
    rows = query(influx, db, f"SELECT * FROM \"{measurement}\" WHERE source = '{source}'")
    for r in rows:
        r.pop("source")
    return rows


def event_rows(influx: ServiceHandle, db: str, source: str) -> list[tuple[Any, ...]]:
    rows = query(influx, db, f'SELECT * FROM "events" WHERE source = \'{source}\' GROUP BY "type"')
    return sorted((r["time"], r["type"], r["spacecraft"], r["station"]) for r in rows)


async def test_live_pass_and_its_replay_write_identical_points_and_events(
    mosquitto: ServiceHandle, influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    cfg = write_config(
        tmp_path / "gw.toml",
        mosquitto,
        influxd,
        influx_db,
        client_id="gw-replay-det",
        los_threshold=1.0,
    )
    settings = settings_for(cfg)
    record = tmp_path / "record.jsonl"
    async with running_pipeline(settings) as live:
        await asyncio.to_thread(
            simulate, mosquitto, record, "--station", "gs5", "--no-heartbeat", count=120, rate=60
        )
        await wait_for(lambda: live.stats.frames >= 120, 60, "120 live frames")
        await wait_for(
            lambda: any(e.type is EventType.LOS for e in live.stats.events), 10, "live LOS"
        )
    live_events = [(e.type, e.spacecraft, e.station, e.time_ns) for e in live.stats.events]
    assert live.stats.frames == 120 and live.stats.packets > 0
    assert {e[0] for e in live_events} >= {EventType.AOS, EventType.LOS}

    archive = settings.archive.dir
    assert list(archive.glob("*.gwa")), "the live run archived nothing"
    result = await run_replay(
        settings, ReplayOptions([archive], speed=None, session="det", time_mode="original")
    )
    assert result.fed == 120
    assert result.stats.packets == live.stats.packets
    replay_events = [(e.type, e.spacecraft, e.station, e.time_ns) for e in result.events]
    assert replay_events == live_events
    assert all(e.source == "replay:det" for e in result.events)

    compared = 0
    for name in packet_measurements():
        live_rows = rows_of(influxd, influx_db, name, "live")
        replay_rows = rows_of(influxd, influx_db, name, "replay:det")
        assert replay_rows == live_rows, name
        compared += len(live_rows)
    assert compared == live.stats.packets
    assert event_rows(influxd, influx_db, "replay:det") == event_rows(influxd, influx_db, "live")
    assert event_rows(influxd, influx_db, "live"), "no events stored"
