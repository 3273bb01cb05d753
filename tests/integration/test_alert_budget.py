"""The recorded demo passes replayed against their expected events, and their alert budget.

hakuto: ALTITUDE_DISAGREEMENT comes at least 45 s (pass time) before UNEXPECTED_LOS, the
whole pass sends at most 10 notifications, and no limit enters and leaves within the
persistence window. nominal: neither a rule alert nor an unexpected loss, no warning at all.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from groundwatch.services import ServiceHandle

from .demo_pass import EXPECT_DIR, record_demo_pass, write_replay_config
from .pipeline_helpers import groundwatch_cli

pytestmark = pytest.mark.integration

BUDGET = re.compile(r"alert budget, pass 1 .*: (\d+) notifications")
LEAD = re.compile(r"first warning: (\w+) at \S+, ([\d.]+) s before UNEXPECTED_LOS")


def replay(variant: str, tmp: Path, influx: ServiceHandle, db: str) -> tuple[str, list[dict]]:
    first, last = record_demo_pass(tmp / "arch", variant)
    cfg = write_replay_config(tmp, influx.url, db, variant, first, last)
    expected = EXPECT_DIR / f"demo-lander-{variant}.yaml"
    proc = groundwatch_cli(
        "replay", str(tmp / "arch"), "--config", str(cfg), "--no-progress",
        "--session", f"budget-{variant}", "--expect-events", str(expected),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "events match" in proc.stderr
    return proc.stderr, yaml.safe_load(expected.read_text())["events"]


def test_hakuto_warns_a_minute_ahead_within_budget(
    influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    out, events = replay("hakuto", tmp_path, influxd, influx_db)
    offsets = {e["type"]: e["offset"] for e in events}
    assert offsets["UNEXPECTED_LOS"] - offsets["ALTITUDE_DISAGREEMENT"] >= 45.0
    budget = BUDGET.search(out)
    assert budget is not None and int(budget[1]) <= 10, out
    lead = LEAD.search(out)
    assert lead is not None and lead[1] == "ALTITUDE_DISAGREEMENT" and float(lead[2]) >= 45, out
    enters = [e["offset"] for e in events if e["type"] == "LIMIT_ENTER"]
    leaves = [e["offset"] for e in events if e["type"] == "LIMIT_LEAVE"]
    assert not [(a, b) for a in enters for b in leaves if 0 <= b - a < 1.0]


def test_nominal_raises_no_warning(influxd: ServiceHandle, influx_db: str, tmp_path: Path) -> None:
    out, events = replay("nominal", tmp_path, influxd, influx_db)
    kinds = {e["type"] for e in events}
    assert "ALTITUDE_DISAGREEMENT" not in kinds and "UNEXPECTED_LOS" not in kinds
    assert "EXPECTED_LOS" in kinds
    assert " warning (" not in out and " critical (" not in out, out
