"""A pass received in station envelopes and replayed from its archive: the same points at
the same station ERTs, the same events, and the stations' metadata again in ``link``."""

from __future__ import annotations

import asyncio
from pathlib import Path

from groundwatch.archive.reader import ArchiveReader
from groundwatch.model import ErtSource, EventType
from groundwatch.replay.runner import ReplayOptions, run_replay
from groundwatch.services import ServiceHandle

from .pipeline_helpers import query, running_pipeline, settings_for, simulate, wait_for
from .test_replay_determinism import event_rows, packet_measurements, rows_of
from .test_station_feeds import envelope_config


async def test_an_envelope_archive_replays_to_the_same_points_and_events(
    mosquitto: ServiceHandle, influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    cfg = envelope_config(tmp_path, mosquitto, influxd, influx_db, "json")
    cfg.write_text(cfg.read_text().replace("los_threshold = 3.0", "los_threshold = 1.0"))
    settings = settings_for(cfg)
    record = tmp_path / "record.jsonl"
    async with running_pipeline(settings) as live:
        await asyncio.to_thread(
            simulate,
            mosquitto,
            record,
            "--station",
            "gs6",
            "--no-heartbeat",
            "--envelope",
            "json",
            "--latency",
            "300",  # station ERTs 300 ms before receipt: the replay must keep the ERTs
            count=100,
            rate=60,
        )
        await wait_for(lambda: live.stats.frames >= 100, 60, "100 live frames")
        await wait_for(
            lambda: any(e.type is EventType.LOS for e in live.stats.events), 10, "live LOS"
        )
    live_events = [(e.type, e.spacecraft, e.station, e.time_ns) for e in live.stats.events]

    archive = settings.archive.dir
    archived = [f for f, _ in ArchiveReader(sorted(archive.glob("*.gwa")))]
    assert len(archived) == 100
    assert all(f.meta is not None and f.meta.ert_source is ErtSource.STATION for f in archived)
    assert all(
        f.meta and f.meta.receipt_ns and f.meta.receipt_ns - f.ert_ns >= 3e8 for f in archived
    )

    result = await run_replay(
        settings, ReplayOptions([archive], speed=None, session="env", time_mode="original")
    )
    assert result.fed == 100
    assert [(e.type, e.spacecraft, e.station, e.time_ns) for e in result.events] == live_events
    compared = 0
    for name in packet_measurements():
        live_rows = rows_of(influxd, influx_db, name, "live")
        assert rows_of(influxd, influx_db, name, "replay:env") == live_rows, name
        compared += len(live_rows)
    assert compared == live.stats.packets > 0
    assert event_rows(influxd, influx_db, "replay:env") == event_rows(influxd, influx_db, "live")
    radio = query(
        influxd,
        influx_db,
        "SELECT * FROM \"link\" WHERE source = 'replay:env' AND rssi_dbm_mean < 0",
    )
    assert radio and radio[-1]["ert_station"] == 100
