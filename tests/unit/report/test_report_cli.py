"""``groundwatch report`` argument errors: exit 2 with the option named, before any I/O."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from groundwatch.cli import app

REPO = Path(__file__).resolve().parents[3]
DICTIONARY = str(REPO / "missions" / "demo-lander.yaml")


def test_needs_a_session_or_a_time_range(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["report", "--dictionary", DICTIONARY, "--out", str(tmp_path)])
    assert r.exit_code == 2 and "--session or --from/--to" in r.output


def test_bad_time(tmp_path: Path) -> None:
    r = CliRunner().invoke(
        app, ["report", "--dictionary", DICTIONARY, "--out", str(tmp_path), "--from", "yesterday"]
    )
    assert r.exit_code == 2 and "--from" in r.output


def test_unreachable_database(tmp_path: Path) -> None:
    r = CliRunner().invoke(
        app,
        [
            "report",
            "--dictionary",
            DICTIONARY,
            "--out",
            str(tmp_path),
            "--session",
            "s1",
            "--influx",
            "http://127.0.0.1:9",
        ],
    )
    assert r.exit_code == 1 and "InfluxDB http://127.0.0.1:9" in r.output
