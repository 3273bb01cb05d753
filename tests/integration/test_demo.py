"""The README's first command runs the demo end to end (short, accelerated)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
