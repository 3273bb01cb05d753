"""Station envelopes end to end: simulator -> real Mosquitto -> pipeline -> real InfluxDB.

Every point lands at the station's earth-received time to the nanosecond, the ``link``
series carries the stations' radio metadata, and a station clock 30 s ahead is flagged."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path

import aiomqtt
import pytest

from groundwatch.archive.reader import ArchiveReader
from groundwatch.services import ServiceHandle

from .pipeline_helpers import (
    expected_packets,
    query,
    running_pipeline,
    settings_for,
    simulate,
    wait_for,
    write_config,
)

PAYLOAD = {
    "json": 'payload = "json"\n',
    "tinygs": 'payload = "json"\njson_preset = "tinygs"\n',
    "mqtt5": 'payload = "mqtt5"\n',
}


def envelope_config(
    tmp: Path, mqtt: ServiceHandle, influx: ServiceHandle, db: str, envelope: str, extra: str = ""
) -> Path:
    """A config whose MQTT source reads ``envelope``; its own client id (a persistent
    session of an earlier test would hold that test's frames)."""
    client = f"gw-feeds-{tmp.name}"
    cfg = write_config(tmp / "gw.toml", mqtt, influx, db, client_id=client)
    text = cfg.read_text().replace(
        f'client_id = "{client}"\n', f'client_id = "{client}"\n{PAYLOAD[envelope]}{extra}'
    )
    cfg.write_text(text)
    return cfg


async def station_sends(
    mosquitto: ServiceHandle, record: Path, station: str, envelope: str, n: int, *extra: str
) -> None:
    """The simulator as one station sending ``n`` frames in ``envelope``s, 200 a second."""
    args = ("--station", station, "--envelope", envelope, *extra)
    await asyncio.to_thread(simulate, mosquitto, record, *args, count=n, rate=200)


@pytest.mark.parametrize("envelope", ["json", "tinygs", "mqtt5"])
async def test_points_land_at_the_station_ert(
    envelope: str, mosquitto: ServiceHandle, influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    cfg = envelope_config(tmp_path, mosquitto, influxd, influx_db, envelope)
    record = tmp_path / "record.jsonl"
    n = 120
    async with running_pipeline(settings_for(cfg)) as pipeline:
        # the station's ERT is 250 ms before the message is published
        await station_sends(mosquitto, record, "gs4", envelope, n, "--latency", "250")
        await wait_for(lambda: pipeline.stats.frames >= n, 60, f"{n} frames")
    assert not pipeline.stats.rejected
    checked = 0
    for name, packets in expected_packets(record).items():
        rows = query(influxd, influx_db, f"SELECT * FROM \"{name}\" WHERE source = 'live'")
        by_key = {(r["seq_count"], r["obt"]): r for r in rows}
        assert len(rows) == len(packets)
        for p in packets:
            ert = p["_frame"]["ert_ns"]
            if envelope == "tinygs":  # TinyGS gives microseconds
                ert = ert // 1000 * 1000
            assert by_key[(p["seq_count"], p["obt_ns"])]["time"] == ert + p["index_in_frame"]
            assert p["_frame"]["publish_ns"] - p["_frame"]["ert_ns"] == 250_000_000
            checked += 1
    assert checked >= n
    link = query(
        influxd,
        influx_db,
        'SELECT * FROM "link" WHERE station = \'gs4\' AND "rssi_dbm_mean" > -200',
    )
    assert link, "no radio metadata in the link series"
    last = link[-1]
    assert last["rssi_dbm_min"] <= last["rssi_dbm_mean"] <= last["rssi_dbm_max"]
    assert -106 < last["rssi_dbm_mean"] < -104
    assert 7 < last["snr_db_mean"] < 9
    assert last["freq_offset_hz_mean"] < 0
    assert last["ert_station"] > 0 and last["ert_replaced"] == 0
    # receipt - ERT: the 250 ms the station held it, plus the trip through the broker
    assert 0.25 <= last["clock_offset_s"] < 1.5


@pytest.mark.parametrize("handling", ["reject", "receipt"])
async def test_a_station_clock_30_s_ahead_is_flagged(
    handling: str,
    mosquitto: ServiceHandle,
    influxd: ServiceHandle,
    influx_db: str,
    tmp_path: Path,
) -> None:
    extra = f'clock_tolerance = 5.0\nbad_station_time = "{handling}"\n'
    cfg = envelope_config(tmp_path, mosquitto, influxd, influx_db, "json", extra)
    record = tmp_path / "record.jsonl"
    n = 40
    async with running_pipeline(settings_for(cfg)) as pipeline:
        await station_sends(mosquitto, record, "gs9", "json", n, "--station-clock-offset", "30")
        if handling == "reject":
            await wait_for(lambda: sum(pipeline.stats.rejected.values()) >= n, 30, "rejects")
        else:
            await wait_for(lambda: pipeline.stats.frames >= n, 30, f"{n} frames")
    if handling == "reject":
        assert pipeline.stats.rejected == {"ert_future": n}
        rows = query(influxd, influx_db, "SELECT * FROM \"rejected\" WHERE station = 'gs9'")
        assert len(rows) == n and {r["reason"] for r in rows} == {"ert_future"}
        assert all('"frame":' in bytes.fromhex(r["hex"]).decode() for r in rows)  # kept raw
        return
    link = query(
        influxd, influx_db, "SELECT * FROM \"link\" WHERE station = 'gs9' AND ert_replaced > 0"
    )
    assert link, "replaced station times not counted"
    last = link[-1]
    assert last["ert_replaced"] == n and last["ert_station"] == 0
    assert -31 < last["clock_offset_s"] < -29  # the station's clock is 30 s ahead
    recs = {
        r["frame"]: r for r in (x["_frame"] for v in expected_packets(record).values() for x in v)
    }
    points = query(
        influxd, influx_db, "SELECT * FROM /.*/ WHERE source = 'live' AND station = 'gs9'"
    )
    assert points
    latest_ert = max(r["ert_ns"] for r in recs.values())
    assert all(p["time"] < latest_ert - 20_000_000_000 for p in points if "seq_count" in p)


async def test_a_rejected_envelope_is_archived_whole_before_its_ack(
    mosquitto: ServiceHandle, influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    cfg = envelope_config(tmp_path, mosquitto, influxd, influx_db, "json")
    frame = bytes(range(256)) * 8  # longer than the prefix a rejected point keeps
    future = time.time_ns() + 3600 * 1_000_000_000  # a station clock an hour ahead
    message = json.dumps({"frame": base64.b64encode(frame).decode(), "ert": future}).encode()
    async with running_pipeline(settings_for(cfg)) as pipeline:
        async with aiomqtt.Client("127.0.0.1", mosquitto.port) as pub:
            await pub.publish("gs/gs10/frames", message, qos=1)
        await wait_for(lambda: pipeline.stats.rejected.get("ert_future") == 1, 30, "the reject")
        archive = pipeline.archive
    assert archive is not None
    archived = [f for f, _ in ArchiveReader(archive.files()) if f.station == "gs10"]
    assert [f.data for f in archived] == [message]
