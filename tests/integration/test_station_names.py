"""Station names from topics: only the allowed name is taken (it becomes a tag, an archive file
name and a label); any other is archived raw and rejected as ``bad_station``, counted, and
never stored altered. Real Mosquitto and influxd."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiomqtt

from groundwatch import services
from groundwatch.ingest.base import INVALID_STATION
from groundwatch.model import EventType
from groundwatch.services import ServiceHandle

from .pipeline_helpers import (
    running_pipeline,
    settings_for,
    simulated_frames,
    wait_for,
    write_config,
)

GOOD = "Ok-station.1_" + "x" * 51  # 64 characters, every allowed kind
BAD = ["a\\b", "s" * 300, "q\"uo'te", "sta tion", "..", "-lead"]




def _stations(influx: ServiceHandle, db: str, measurement: str) -> set[str]:
    rows = services.influx_query(
        influx.url, f'SHOW TAG VALUES FROM "{measurement}" WITH KEY = "station"', db=db
    )
    series = rows["results"][0].get("series", [])  # type: ignore[index]
    return {v[1] for s in series for v in s["values"]}


async def test_station_names_outside_the_rule_are_rejected_not_altered(
    mosquitto: ServiceHandle, influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path / "gw.toml", mosquitto, influxd, influx_db, client_id="gw-names")
    frames = simulated_frames(tmp_path, 5 + len(BAD))
    async with running_pipeline(settings_for(cfg)) as pipeline:
        async with aiomqtt.Client("127.0.0.1", mosquitto.port) as pub:
            for data in frames[:5]:
                await pub.publish(f"gs/{GOOD}/frames", data, qos=1)
            for name, data in zip(BAD, frames[5:], strict=True):
                await pub.publish(f"gs/{name}/frames", data, qos=1)
                await pub.publish(f"gs/{name}/status", b"{}", qos=1)
        await wait_for(lambda: pipeline.stats.frames >= 5 + len(BAD), 20, "every frame")
        source = pipeline.sources[0]
        await wait_for(lambda: source._unacked == 0, 10, "every frame acknowledged")
        await asyncio.sleep(1.5)  # a link series and the flush
        assert pipeline.stats.rejected.get("bad_station") == len(BAD)
        assert source.counters.extra["bad_station"] == len(BAD)
        assert source.counters.extra["bad_station_status"] == len(BAD)
        aos = [e for e in pipeline.stats.events if e.type is EventType.AOS]
    assert [e.station for e in aos] == [GOOD]
    packet_stations = _stations(influxd, influx_db, "HK_POWER") | _stations(
        influxd, influx_db, "link_state"
    )
    assert packet_stations == {GOOD}  # the tag is the station of the events, unaltered
    assert _stations(influxd, influx_db, "rejected") == {INVALID_STATION}
    rows = services.influx_query(
        influxd.url,
        'SELECT "detail" FROM "rejected" WHERE "reason" = \'bad_station\'',
        db=influx_db,
    )
    details = [v[1] for v in rows["results"][0]["series"][0]["values"]]  # type: ignore[index]
    assert len(details) == len(BAD)
    assert any("'a\\\\b'" in d for d in details) and any("longer than 64" in d for d in details)
    # Every frame is archived, under file names made of allowed names only.
    names = [f.name for f in (tmp_path / "var" / "archive").rglob("*") if f.is_file()]
    assert any(GOOD in n for n in names) and any(INVALID_STATION in n for n in names)
    assert all(len(n.encode()) < 255 and "\\" not in n for n in names)
