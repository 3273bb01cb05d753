"""End to end: simulator -> real Mosquitto -> pipeline -> real InfluxDB."""

from __future__ import annotations

import asyncio
import math
import signal
import time
from pathlib import Path
from typing import Any

from groundwatch.services import ServiceHandle

from .pipeline_helpers import (
    expected_packets,
    query,
    running_pipeline,
    settings_for,
    simulate,
    start_run,
    stop_run,
    wait_for,
    write_config,
)


def _field_values(name: str, value: Any, raw: Any) -> dict[str, Any]:
    """The InfluxDB fields one parameter becomes (README schema)."""
    if isinstance(value, list):
        out: dict[str, Any] = {}
        raws = raw if isinstance(raw, list) else [None] * len(value)
        for i, (v, r) in enumerate(zip(value, raws, strict=True)):
            out.update(_field_values(f"{name}_{i}", v, r))
        return out
    if isinstance(value, str) and isinstance(raw, int) and not isinstance(raw, bool):
        return {name: value, f"{name}_raw": raw}
    return {name: value}


def assert_db_matches_record(
    influx: ServiceHandle, db: str, record: Path, station: str, max_latency_s: float | None = 1.0
) -> int:
    """Every recorded packet is in InfluxDB exactly once with every value exact."""
    expected = expected_packets(record)
    assert expected, "the simulator recorded nothing"
    checked = 0
    for name, packets in expected.items():
        rows = query(influx, db, f"SELECT * FROM \"{name}\" WHERE source = 'live'")
        by_key = {(r["seq_count"], r["obt"]): r for r in rows}
        assert len(by_key) == len(rows), f"{name}: two rows share seq_count and obt"
        assert len(rows) == len(packets), f"{name}: {len(rows)} rows for {len(packets)} sent"
        times = [r["time"] for r in rows]
        assert len(set(times)) == len(times), f"{name}: duplicate timestamps"
        for p in packets:
            row = by_key[(p["seq_count"], p["obt_ns"])]
            assert row["spacecraft"] == "demo-lander"
            assert row["station"] == station
            for pname, value in p["values"].items():
                for field, want in _field_values(pname, value, p["raw"].get(pname)).items():
                    got = row[field]
                    if isinstance(want, float) and not isinstance(got, bool):
                        assert math.isclose(got, want, rel_tol=0, abs_tol=0) or got == want, (
                            f"{name}.{field}: {got!r} != {want!r}"
                        )
                    else:
                        assert got == want, f"{name}.{field}: {got!r} != {want!r}"
            # Earth-received time: after publishing, within a second, ordered in the frame.
            sent = p["_frame"]["publish_ns"]
            assert row["time"] >= sent
            if max_latency_s is not None:
                assert row["time"] - sent < max_latency_s * 1e9
            checked += 1
    return checked


async def test_2000_frames_land_in_influxdb_exactly(
    mosquitto: ServiceHandle, influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path / "gw.toml", mosquitto, influxd, influx_db, client_id="gw-e2e-2000")
    record = tmp_path / "record.jsonl"
    async with running_pipeline(settings_for(cfg)) as pipeline:
        await asyncio.to_thread(simulate, mosquitto, record, "--station", "gs7", count=2000)
        await wait_for(lambda: pipeline.stats.frames >= 2000, 120, "2000 frames")
    assert pipeline.stats.frames == 2000
    assert not pipeline.stats.rejected
    checked = assert_db_matches_record(influxd, influx_db, record, "gs7")
    assert checked >= 2000
    # Frame accounting lands in the link measurement.
    link = query(influxd, influx_db, 'SELECT last("frames") FROM "link" GROUP BY "station"')
    assert link and link[0]["last"] == 2000


def stop_and_restart_mid_pass(
    mqtt: ServiceHandle,
    influx: ServiceHandle,
    db: str,
    tmp: Path,
    station: str,
    sig: int,
    rate: float,
) -> Path:
    """``groundwatch run`` as a process; the simulator publishes 1,500 frames at QoS 1;
    mid-pass the process gets ``sig`` and is started again. Returns the record, once every
    recorded packet is in InfluxDB (or the wait times out)."""
    cfg = write_config(tmp / "gw.toml", mqtt, influx, db, client_id=f"gw-restart-{station}")
    log = tmp / "run.log"
    record = tmp / "record.jsonl"
    proc = start_run(cfg, log)
    try:
        _wait_log(log, "connected", 20)
        sim = simulate(mqtt, record, "--station", station, count=1500, rate=rate, background=True)
        time.sleep(2.5)
        proc.send_signal(sig)
        proc.wait(60)
        if sig == signal.SIGTERM:
            assert proc.returncode == 0, log.read_text()[-3000:]
        time.sleep(1.5)  # frames keep arriving at the broker, queued for our session
        proc = start_run(cfg, log)
        assert sim.wait(60) == 0  # type: ignore[union-attr]
        want = sum(len(v) for v in expected_packets(record).values())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and stored_live(influx, db) < want:
            time.sleep(0.5)
    finally:
        assert stop_run(proc) == 0, log.read_text()[-3000:]
    return record


def stored_live(influx: ServiceHandle, db: str) -> int:
    rows = query(influx, db, "SELECT count(\"seq_count\") FROM /.*/ WHERE source = 'live'")
    return sum(r["count"] for r in rows if r.get("count"))


def test_restart_mid_stream_loses_nothing(
    mosquitto: ServiceHandle, influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    """SIGTERM groundwatch while the simulator publishes at QoS 1, start it again."""
    record = stop_and_restart_mid_pass(
        mosquitto, influxd, influx_db, tmp_path, "gs2", signal.SIGTERM, rate=150
    )
    assert (tmp_path / "run.log").read_text().count("stopped:") == 2
    # Frames queued at the broker while groundwatch was down are stamped when received.
    assert_db_matches_record(influxd, influx_db, record, "gs2", max_latency_s=None)


def _wait_log(log: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text():
            return
        time.sleep(0.05)
    raise TimeoutError(f"{text!r} not in {log}: {log.read_text()[-2000:] if log.exists() else ''}")
