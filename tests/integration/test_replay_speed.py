"""A recorded pass that ends in LOS, replayed at --speed 20.

The LOS is raised at the recorded pass time (last good frame + threshold, exactly), while the
replay runs (not only at its end), and the whole replay takes ~1/20 of the pass on the wall.
"""

from __future__ import annotations

import time
from pathlib import Path

from groundwatch.archive.writer import FrameArchive
from groundwatch.model import Event, EventType, RawFrame
from groundwatch.pipeline import Pipeline
from groundwatch.replay.recording import Recording
from groundwatch.replay.runner import ReplayOptions, run_replay
from groundwatch.replay.source import ReplaySource
from groundwatch.services import ServiceHandle

from .pipeline_helpers import query, settings_for, simulate_file, write_config

T0 = 1_790_000_000_000_000_000
FRAME_NS = 100_000_000


def archive_pass(directory: Path, hex_file: Path, station: str = "gs1") -> list[int]:
    """Write a recorded pass (one frame every 0.1 s) to a raw frame archive, as live would."""
    archive = FrameArchive(directory)
    archive.open()
    erts = []
    for i, line in enumerate(hex_file.read_text().split()):
        t = T0 + i * FRAME_NS
        archive.append(RawFrame(bytes.fromhex(line), t, station, "live", "mqtt"), f"x-{station}")
        erts.append(t)
    archive.close()
    return erts


async def test_los_at_recorded_time_and_20x_wall_clock(
    mosquitto: ServiceHandle, influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path / "gw.toml", mosquitto, influxd, influx_db, los_threshold=1.0)
    settings = settings_for(cfg)
    erts = archive_pass(tmp_path / "arch", simulate_file(tmp_path / "p.hex", count=300))
    seen: list[tuple[Event, float]] = []
    started: list[ReplaySource] = []

    def on_start(_p: Pipeline, source: ReplaySource, _r: Recording) -> None:
        started.append(source)

    result = await run_replay(
        settings,
        ReplayOptions([tmp_path / "arch"], speed=20, session="speed20"),
        on_event=lambda e: seen.append((e, time.monotonic())),
        on_start=on_start,
    )
    assert result.fed == 300
    los = [(e, wall) for e, wall in seen if e.type is EventType.LOS]
    assert len(los) == 1
    event, wall_at = los[0]
    assert event.time_ns == erts[-1] + 1_000_000_000  # last good frame + threshold
    assert event.source == "replay:speed20"
    # Raised while the replay ran, at its pass time scaled by 20 (within a few ticks).
    t0_wall = started[0].started_wall
    assert t0_wall is not None
    assert abs((wall_at - t0_wall) - (event.time_ns - erts[0]) / 1e9 / 20) < 0.3

    pass_s = (erts[-1] - erts[0]) / 1e9 + 2.0  # frames + the tail (threshold + 1 s)
    assert pass_s / 20 * 0.9 <= result.wall_s < pass_s / 10, result.wall_s

    rows = query(
        influxd,
        influx_db,
        'SELECT "title" FROM "events" WHERE source = \'replay:speed20\' AND "type" = \'LOS\'',
    )
    assert [r["time"] for r in rows] == [event.time_ns]
