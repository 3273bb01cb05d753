"""Every recording format replays through the pipeline into the real InfluxDB.

One simulated pass (30 frames of the demo lander) is written in each format: the simulator's
hex, KISS and raw file output, and by hand hex with timestamps, a SatNOGS export (with a
corrupt line), raw with attached sync markers and the raw frame archive. Each replay must
decode every packet the simulator recorded and store it under its session.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from groundwatch.decoders.sync import ASM
from groundwatch.replay.detect import ReplayFormat, detect_format
from groundwatch.replay.runner import ReplayOptions, run_replay
from groundwatch.services import ServiceHandle

from .pipeline_helpers import (
    expected_packets,
    groundwatch_cli,
    query,
    settings_for,
    simulate_file,
    write_config,
)
from .test_replay_speed import T0, archive_pass

FRAMES = 30


def stamp(i: int) -> str:
    seconds, frac = divmod(T0 + i * 100_000_000, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{frac // 1000:06d}Z"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The simulator's files, written once for the module (each run costs a process start)."""
    d = tmp_path_factory.mktemp("recorded")
    record = d / "record.jsonl"
    return {
        "record": record,
        "hex": simulate_file(d / "pass.hex", count=FRAMES, record=record),
        "kiss": simulate_file(d / "pass.kiss", "kiss", count=FRAMES),
        "raw": simulate_file(d / "pass.raw", "raw", count=FRAMES),
    }


def make_file(kind: str, d: Path, recorded: dict[str, Path]) -> Path:
    if kind in ("hex", "kiss", "raw"):
        return recorded[kind]
    lines = recorded["hex"].read_text().split()
    if kind == "hex-timestamps":
        path = d / "stamped.hex"
        path.write_text("".join(f"{stamp(i)} {h}\n" for i, h in enumerate(lines)))
        return path
    if kind == "satnogs":
        path = d / "satnogs.txt"
        path.write_text("".join(f"{stamp(i)}|{h.upper()}\n" for i, h in enumerate(lines)))
        return path
    if kind == "raw-asm":
        path = d / "asm.bin"
        path.write_bytes(b"".join(ASM + bytes.fromhex(h) for h in lines))
        return path
    assert kind == "archive"
    archive_pass(d / "archive", recorded["hex"])
    return d / "archive"


DETECTED = {
    "hex": ReplayFormat.HEX,
    "kiss": ReplayFormat.KISS,
    "raw": ReplayFormat.RAW,
    "hex-timestamps": ReplayFormat.HEX,
    "satnogs": ReplayFormat.SATNOGS,
    "raw-asm": ReplayFormat.RAW,
    "archive": ReplayFormat.ARCHIVE,
}


@pytest.mark.parametrize("kind", list(DETECTED))
async def test_each_format_replays_every_packet(
    kind: str,
    recorded: dict[str, Path],
    mosquitto: ServiceHandle,
    influxd: ServiceHandle,
    influx_db: str,
    tmp_path: Path,
) -> None:
    path = make_file(kind, tmp_path, recorded)
    assert detect_format(path) is DETECTED[kind]
    settings = settings_for(write_config(tmp_path / "gw.toml", mosquitto, influxd, influx_db))
    result = await run_replay(settings, ReplayOptions([path], speed=None, session=kind))
    want = sum(len(v) for v in expected_packets(recorded["record"]).values())
    assert result.fed == FRAMES
    assert result.stats.packets == want
    assert not result.stats.rejected and not result.problems
    rows = query(
        influxd, influx_db, f"SELECT count(\"seq_count\") FROM /.*/ WHERE source = 'replay:{kind}'"
    )
    assert sum(r["count"] for r in rows if r.get("count")) == want
    if kind in ("hex-timestamps", "satnogs", "archive"):
        assert result.first_ert_ns == T0  # the recorded times are kept
    else:
        assert result.last_ert_ns is not None and result.first_ert_ns is not None
        assert result.last_ert_ns - result.first_ert_ns == (FRAMES - 1) * 100_000_000


def test_satnogs_file_with_corrupt_line_through_the_cli(
    recorded: dict[str, Path],
    mosquitto: ServiceHandle,
    influxd: ServiceHandle,
    influx_db: str,
    tmp_path: Path,
) -> None:
    lines = [f"{stamp(i)}|{h}" for i, h in enumerate(recorded["hex"].read_text().split())]
    lines.insert(6, f"{stamp(6)}|{lines[6].split('|')[1][:40]}ZZ{lines[6].split('|')[1][42:]}")
    path = tmp_path / "satnogs.txt"
    path.write_text("\n".join(lines) + "\n")
    cfg = write_config(tmp_path / "gw.toml", mosquitto, influxd, influx_db)
    proc = groundwatch_cli(
        "replay", str(path), "--config", str(cfg), "--speed", "max", "--session", "bad"
    )
    assert proc.returncode == 0, proc.stderr
    assert "satnogs.txt: line 7: not hex" in proc.stderr
    assert "frames 30" in proc.stderr
    rows = query(
        influxd, influx_db, 'SELECT count("seq_count") FROM "gnc" WHERE source = \'replay:bad\''
    )
    assert rows and rows[0]["count"] == FRAMES
