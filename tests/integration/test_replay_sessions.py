"""Replay: --list of archived passes, --time now with --from/--to, and --republish to MQTT."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiomqtt

from groundwatch.archive.writer import FrameArchive
from groundwatch.model import RawFrame
from groundwatch.replay.runner import ReplayOptions, run_replay
from groundwatch.services import ServiceHandle

from .pipeline_helpers import groundwatch_cli, query, settings_for, simulate_file, write_config
from .test_replay_speed import FRAME_NS, T0


def archive_with_gap(directory: Path, hex_file: Path, gap_after: int, gap_ns: int) -> list[int]:
    """One pass (one file) whose link falls silent for ``gap_ns`` after frame ``gap_after``."""
    archive = FrameArchive(directory)
    archive.open()
    erts = []
    for i, line in enumerate(hex_file.read_text().split()):
        t = T0 + i * FRAME_NS + (gap_ns if i > gap_after else 0)
        archive.append(RawFrame(bytes.fromhex(line), t, "gs1", "live", "mqtt"), "demo-lander-gs1")
        erts.append(t)
    archive.close()
    return erts


def iso(ns: int) -> str:
    s, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + f".{frac:09d}Z"


def test_list_passes_from_gaps_and_from_influx_events(
    mosquitto: ServiceHandle, influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    hex_file = simulate_file(tmp_path / "p.hex", count=30)
    erts = archive_with_gap(tmp_path / "arch", hex_file, gap_after=9, gap_ns=3_000_000_000)
    cfg = write_config(tmp_path / "gw.toml", mosquitto, influxd, influx_db, los_threshold=1.0)
    plain = groundwatch_cli("replay", "--list", str(tmp_path / "arch"))
    assert plain.returncode == 0, plain.stderr
    row = dict(zip(*[ln.split("\t") for ln in plain.stdout.splitlines()], strict=True))
    assert row["link"] == "demo-lander-gs1" and row["frames"] == "30"
    assert row["start"] == iso(erts[0]) and row["end"] == iso(erts[-1])
    # Threshold 5 s by default: the 3 s gap is no LOS; the end of the pass is.
    assert row["gaps"] == "0"
    assert row["LOS events"] == iso(erts[-1] + 5_000_000_000)

    # With a config: LOS events of the live run come from InfluxDB's events measurement.
    live_los = erts[9] + 1_000_000_000
    body = (
        "events,source=live,spacecraft=demo-lander,station=gs1,type=UNEXPECTED_LOS,"
        "severity=critical "
        f'title="x",condition="LOS/demo-lander/gs1" {live_los}\n'
    )
    import urllib.request

    req = urllib.request.Request(
        f"{influxd.url}/write?db={influx_db}&precision=ns", data=body.encode(), method="POST"
    )
    urllib.request.urlopen(req, timeout=10).close()
    with_db = groundwatch_cli("replay", "--list", str(tmp_path / "arch"), "--config", str(cfg))
    assert with_db.returncode == 0, with_db.stderr
    row = dict(zip(*[ln.split("\t") for ln in with_db.stdout.splitlines()], strict=True))
    assert row["gaps"] == "1"  # with a 1 s threshold the 3 s silence is a gap
    assert row["LOS events"] == iso(live_los)  # what live raised, not derived from gaps


async def test_time_now_with_window_and_republish(
    mosquitto: ServiceHandle, influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    hex_file = simulate_file(tmp_path / "p.hex", count=40)
    archive_with_gap(tmp_path / "arch", hex_file, gap_after=100, gap_ns=0)
    settings = settings_for(
        write_config(tmp_path / "gw.toml", mosquitto, influxd, influx_db, los_threshold=1.0)
    )
    received: list[bytes] = []

    async def listen(ready: asyncio.Event) -> None:
        async with aiomqtt.Client("127.0.0.1", mosquitto.port) as client:
            await client.subscribe("training/#", qos=1)
            ready.set()
            async for msg in client.messages:
                assert isinstance(msg.payload, bytes)
                received.append(msg.payload)
                if len(received) == 11:
                    return

    ready = asyncio.Event()
    listener = asyncio.create_task(listen(ready))
    await asyncio.wait_for(ready.wait(), 10)
    before = time.time_ns()
    result = await run_replay(
        settings,
        ReplayOptions(
            [tmp_path / "arch"],
            speed=10,
            session="training",
            time_mode="now",
            start="+1",
            end="+2",
            republish=mosquitto.url,
            topic="training/{station}/frames",
        ),
    )
    await asyncio.wait_for(listener, 10)
    frames = hex_file.read_text().split()
    assert result.fed == 11  # frames 10..20: from 1 s to 2 s into the pass
    assert received == [bytes.fromhex(h) for h in frames[10:21]]
    assert result.first_ert_ns is not None and before <= result.first_ert_ns < time.time_ns()
    rows = query(
        influxd, influx_db, 'SELECT "seq_count" FROM "gnc" WHERE source = \'replay:training\''
    )
    assert len(rows) == 11 and rows[0]["time"] == result.first_ert_ns
