"""Replay alert regression (--write-expected / --expect-events) and deleting a session."""

from __future__ import annotations

from pathlib import Path

import yaml

from groundwatch.services import ServiceHandle

from .pipeline_helpers import groundwatch_cli, query, simulate_file, write_config
from .test_replay_speed import archive_pass


def test_expected_events_pass_then_fail_with_a_diff_then_delete_session(
    mosquitto: ServiceHandle, influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path / "gw.toml", mosquitto, influxd, influx_db, los_threshold=1.0)
    archive_pass(tmp_path / "arch", simulate_file(tmp_path / "p.hex", count=40))
    expected = tmp_path / "expected.yaml"
    common = ["replay", str(tmp_path / "arch"), "--config", str(cfg), "--no-progress"]

    wrote = groundwatch_cli(
        *common, "--speed", "max", "--session", "rec", "--write-expected", str(expected)
    )
    assert wrote.returncode == 0, wrote.stderr
    doc = yaml.safe_load(expected.read_text())
    kinds = [(e["type"], e["offset"]) for e in doc["events"]]
    assert kinds == [("AOS", 0.1), ("LOS", 4.9)]  # 2nd frame; last frame (3.9 s) + 1 s

    ok = groundwatch_cli(*common, "--session", "check", "--expect-events", str(expected))
    assert ok.returncode == 0, ok.stderr
    assert "events match" in ok.stderr

    doc["events"][1]["offset"] = 7.0  # the LOS moved: the regression must catch it
    doc["events"].append(
        {"type": "LIMIT_ENTER", "spacecraft": "demo-lander", "station": "gs1", "offset": 2.0}
    )
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(doc))
    bad = groundwatch_cli(*common, "--session", "check2", "--expect-events", str(changed))
    assert bad.returncode == 1, bad.stderr
    diff = [ln for ln in bad.stdout.splitlines() if ln[:1] in "+-"]
    assert len(diff) == 3, bad.stdout
    assert diff[0].startswith("-") and "LIMIT_ENTER" in diff[0]
    assert diff[1].startswith("+") and "LOS" in diff[1] and "4.900" in diff[1]
    assert diff[2].startswith("-") and "LOS" in diff[2] and "7.000" in diff[2]

    def count(session: str) -> int:
        rows = query(
            influxd,
            influx_db,
            f'SELECT count("seq_count") FROM "gnc" WHERE source = \'replay:{session}\'',
        )
        return rows[0]["count"] if rows else 0

    assert count("rec") == 40 and count("check") == 40
    deleted = groundwatch_cli("sessions", "delete", "rec", "--config", str(cfg))
    assert deleted.returncode == 0, deleted.stderr
    assert count("rec") == 0
    assert count("check") == 40  # other sessions are left alone
    events = query(influxd, influx_db, 'SELECT "title" FROM "events" WHERE source = \'replay:rec\'')
    assert events == []
