"""The README's first command runs the demo end to end (short, accelerated)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from groundwatch.services import ServiceHandle

from .pipeline_helpers import DEMO_DICTIONARY


def test_demo_raises_los_and_writes_the_report(tmp_path: Path) -> None:
    work = tmp_path / "var" / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "groundwatch", "demo", "--dictionary", str(DEMO_DICTIONARY),
         "--workdir", str(work), "--rate", "25", "--speedup", "80", "--stop-services"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "LOS alert: UNEXPECTED_LOS (critical)" in out
    reports = list(work.glob("reports/*/report.html"))
    assert len(reports) == 1, out[-2000:]
    facts = json.loads((reports[0].parent / "summary.json").read_text())
    assert facts, "empty pass summary"
    pngs = list(reports[0].parent.glob("*.png"))
    assert pngs and all(p.stat().st_size > 10_000 for p in pngs)
    # --stop-services: nothing the demo started is left running.
    state = tmp_path / "var" / "services" / "services.json"
    assert not state.exists()


def test_nominal_demo_lands_with_an_expected_los_and_no_warning(
    tmp_path: Path, mosquitto: ServiceHandle, influxd: ServiceHandle
) -> None:
    """The landed lander stops transmitting at the planned end of contact: EXPECTED_LOS;
    no rule, limit or link alert on the way down."""
    proc = subprocess.run(
        [sys.executable, "-m", "groundwatch", "demo", "--dictionary", str(DEMO_DICTIONARY),
         "--variant", "nominal", "--workdir", str(tmp_path / "demo"), "--rate", "50",
         "--speedup", "50", "--mqtt", mosquitto.url, "--influx", influxd.url],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "LOS alert: EXPECTED_LOS (info)" in out, out[-4000:]
    budget = out[out.index("alert budget, pass 1") :]
    assert " warning (" not in budget and " critical (" not in budget, budget
