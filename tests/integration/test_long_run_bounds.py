"""What grows with distinct stations is bounded, and a broker's out-of-order redelivery is not
counted as lost frames (real Mosquitto and influxd)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiomqtt

from groundwatch import services
from groundwatch.ingest.base import INVALID_STATION
from groundwatch.services import ServiceHandle

from .pipeline_helpers import (
    running_pipeline,
    settings_for,
    simulated_frames,
    wait_for,
    write_config,
)


def _last_link(influx: ServiceHandle, db: str, station: str) -> dict[str, float]:
    rows = services.influx_query(
        influx.url,
        f'SELECT last("frames_missing"), last("frame_gaps"), last("late_frames"), last("frames") '
        f'FROM "link" WHERE "station" = \'{station}\'',
        db=db,
    )
    values = rows["results"][0]["series"][0]["values"][0]  # type: ignore[index]
    return dict(zip(["missing", "gaps", "late", "frames"], values[1:], strict=True))


async def test_out_of_order_redelivery_counts_no_missing_frames(
    mosquitto: ServiceHandle, influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    frames = simulated_frames(tmp_path, 200)
    order = [*range(0, 60), *range(100, 130), *range(60, 100), *range(130, 200)]
    cfg = write_config(tmp_path / "gw.toml", mosquitto, influxd, influx_db, client_id="gw-ooo")
    async with running_pipeline(settings_for(cfg)) as pipeline:
        async with aiomqtt.Client("127.0.0.1", mosquitto.port) as pub:
            for i in order:
                await pub.publish("gs/gs-ooo/frames", frames[i], qos=1)
        await wait_for(lambda: pipeline.stats.frames >= 200, 30, "every frame")
        await asyncio.sleep(1.5)  # the next link series
    link = _last_link(influxd, influx_db, "gs-ooo")
    assert link == {"missing": 0, "gaps": 0, "late": 40, "frames": 200}


async def test_stations_past_the_bound_are_rejected_and_counted(
    mosquitto: ServiceHandle, influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    frames = simulated_frames(tmp_path, 8)
    cfg = write_config(tmp_path / "gw.toml", mosquitto, influxd, influx_db, client_id="gw-many")
    settings = settings_for(cfg)
    settings.link.max_stations = 5
    async with running_pipeline(settings) as pipeline:
        async with aiomqtt.Client("127.0.0.1", mosquitto.port) as pub:
            for i, data in enumerate(frames):
                await pub.publish(f"gs/many{i}/status", b"{}", qos=1)
                await pub.publish(f"gs/many{i}/frames", data, qos=1)
        await wait_for(lambda: pipeline.stats.frames >= 8, 30, "every frame")
        status = pipeline.status()
        assert status["rejected"]["too_many_stations"] == 3
        assert status["stations_known"] == 5
        assert status["stations_refused"] == 6  # 3 frames and 3 heartbeats
        snapshot = pipeline.monitor.snapshot()
        assert set(snapshot["stations"]) == {f"many{i}" for i in range(5)}
        assert {k.station for k in pipeline.accounting.counts()} == {
            *(f"many{i}" for i in range(5)),
            INVALID_STATION,
        }


async def test_stations_silent_for_long_are_forgotten_and_make_room(
    mosquitto: ServiceHandle, influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    frames = simulated_frames(tmp_path, 10)
    cfg = write_config(tmp_path / "gw.toml", mosquitto, influxd, influx_db, client_id="gw-forget")
    settings = settings_for(cfg)
    settings.link.max_stations = 5
    settings.link.station_forget_after = 2.0
    settings.link.heartbeat_timeout = 0.5
    async with running_pipeline(settings) as pipeline:
        async with aiomqtt.Client("127.0.0.1", mosquitto.port) as pub:
            for i in range(5):
                await pub.publish(f"gs/old{i}/status", b'{"status": "ok"}', qos=1)
                await pub.publish(f"gs/old{i}/frames", frames[i], qos=1)
            await wait_for(lambda: pipeline.stats.frames >= 5, 30, "the first five")
            # their heartbeats stop: each station's ground path goes down, an open alert
            await wait_for(
                lambda: sum(c.startswith("GROUND/old") for c in pipeline.alerts.active) == 5,
                10,
                "the stations' ground paths down",
            )
            await wait_for(
                lambda: pipeline.status()["stations_forgotten"] == 5, 10, "silent ones forgotten"
            )
            for i in range(5):
                await pub.publish(f"gs/new{i}/frames", frames[5 + i], qos=1)
            await wait_for(lambda: pipeline.stats.frames >= 10, 30, "the next five")
        status = pipeline.status()
        assert status["stations_refused"] == 0 and status["stations_known"] == 5
        links = {link["station"] for link in pipeline.monitor.snapshot()["links"]}
        assert links == {f"new{i}" for i in range(5)}
        assert {k.station for k in pipeline.accounting.counts()} == {f"new{i}" for i in range(5)}
        assert set(pipeline.merger.counts()) == {f"new{i}" for i in range(5)}
        # the forgotten stations' open alerts were let go with them
        assert not any(c.startswith("GROUND/old") for c in pipeline.alerts.active)
        assert status["alerts"]["forgotten"] >= 5


async def test_oversized_frames_of_stations_past_the_bound_grow_nothing(
    mosquitto: ServiceHandle, influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path / "gw.toml", mosquitto, influxd, influx_db, client_id="gw-big")
    cfg.write_text(cfg.read_text().replace("[store]", "max_frame_bytes = 16\n\n[store]"))
    settings = settings_for(cfg)
    settings.link.max_stations = 3
    async with running_pipeline(settings) as pipeline:
        async with aiomqtt.Client("127.0.0.1", mosquitto.port) as pub:
            for i in range(8):
                await pub.publish(f"gs/big{i}/frames", bytes(64), qos=1)
        await wait_for(lambda: pipeline.stats.frames >= 8, 30, "every frame")
        status = pipeline.status()
        assert status["rejected"]["oversized"] == 8
        assert status["stations_known"] == 3
        assert {k.station for k in pipeline.accounting.counts()} == {
            *(f"big{i}" for i in range(3)),
            INVALID_STATION,
        }
