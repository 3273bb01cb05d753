"""The pass report of the HAKUTO-like failure, from data written by the real pipeline.

The lunar descent simulator (``hakuto`` variant) feeds the real pipeline
(``wiring.build_pipeline``: decoder, link monitor with a contact schedule, accounting, store,
influx alert sink) at replay speed into a real influxd; then ``groundwatch report`` reads it
back. The summary must state the LOS at the last good frame + threshold, judged unexpected,
and the last altitude estimate far below the rangefinder's, as the frames said.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from groundwatch.clock import ReplayClock
from groundwatch.config import load_config
from groundwatch.decoders.dictionary import load_dictionary
from groundwatch.link.events import iso
from groundwatch.model import RawFrame
from groundwatch.parts import Counters, FrameQueue
from groundwatch.services import ServiceHandle
from groundwatch.sim.descent_scenario import LunarDescentScenario
from groundwatch.sim.framer import SimFrame, SimFramer
from groundwatch.sim.link_model import FrameFate
from groundwatch.wiring import build_pipeline

from .demo_pass import demo_settings_file

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DICTIONARY = REPO / "missions" / "demo-lander.yaml"
GROUNDWATCH = Path(sys.executable).parent / "groundwatch"
START_NS = 1_767_261_600_000_000_000  # 2026-01-01T10:00:00Z
SESSION = "hakuto-report"
S = 1_000_000_000
LOS_THRESHOLD_S = 5.0


def descent_frames() -> list[SimFrame]:
    d = load_dictionary(DICTIONARY)
    scenario = LunarDescentScenario(d, variant="hakuto", seed=3, coast_warp=50.0)
    framer = SimFramer(d, start_ns=START_NS, seed=3)
    frames = []
    while (tick := scenario.next_tick(1.0)) is not None:
        frames += framer.frames(tick)
    return frames


def ert(f: SimFrame) -> int:
    """Received one frame a second, as ``groundwatch simulate --rate 1`` publishes them
    (scenario time runs faster in the coast, reception time does not)."""
    return START_NS + f.index * S


class SimSource:
    """The simulator's frames as one station received them (lost frames never arrive)."""

    name = "sim"
    connected = True
    due_ns: int | None = None

    def __init__(self, frames: list[SimFrame]) -> None:
        self.frames = frames
        self.counters = Counters()

    async def start(self) -> None:
        pass

    async def run(self, out: FrameQueue) -> None:
        for f in self.frames:
            if f.sent:
                await out.put(RawFrame(f.data, ert(f), "gs1", f"replay:{SESSION}", "sim"))
                self.counters.received += 1

    async def stop(self) -> None:
        pass


def write_config(tmp: Path, influx: ServiceHandle, db: str, end_ns: int) -> Path:
    schedule = tmp / "contacts.yaml"
    # The whole descent is a planned contact: losing the lander before its end is unexpected.
    schedule.write_text(
        "contacts:\n"
        f"  - {{spacecraft: demo-lander, station: gs1, start: '{iso(START_NS - 60 * S)}',"
        f" end: '{iso(end_ns + 3600 * S)}'}}\n"
    )
    return demo_settings_file(tmp, schedule, influx.url, db, LOS_THRESHOLD_S)


async def fill(frames: list[SimFrame], cfg: Path) -> None:
    settings = load_config(cfg)
    clock = ReplayClock(ert(frames[0]), speed=None)
    pipeline = build_pipeline(
        settings,
        sources=[SimSource(frames)],
        clock=clock,
        source_label=f"replay:{SESSION}",
        archive_enabled=False,
    )
    # After the last frame the replay clock runs on, so the monitor declares the LOS.
    await pipeline.run(asyncio.Event(), finish_at_ns=ert(frames[-1]) + 30 * S)


def test_hakuto_pass_report(influxd: ServiceHandle, influx_db: str, tmp_path: Path) -> None:
    frames = descent_frames()
    good = [f for f in frames if f.fate is FrameFate.OK]
    last_good = good[-1]
    gnc = next(p for p in reversed([p for f in good for p in f.packets]) if p.name == "gnc")
    cfg = write_config(tmp_path, influxd, influx_db, ert(frames[-1]))
    asyncio.run(fill(frames, cfg))

    out = tmp_path / "report"
    proc = subprocess.run(
        [
            str(GROUNDWATCH),
            "report",
            "--session",
            SESSION,
            "--influx",
            influxd.url,
            "--database",
            influx_db,
            "--dictionary",
            str(DICTIONARY),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    facts: dict[str, Any] = json.loads((out / "summary.json").read_text())

    assert facts["spacecraft"] == "demo-lander" and facts["source"] == f"replay:{SESSION}"
    # The link flickers as the lander sinks towards the horizon; the last LOS is the loss.
    los = facts["los"][-1]
    assert los["type"] == "UNEXPECTED_LOS" and los["expected"] is False
    assert los["last_good_ns"] == ert(last_good)
    assert los["time_ns"] == ert(last_good) + int(LOS_THRESHOLD_S * S)
    assert "UNEXPECTED_LOS" in proc.stdout and "UNEXPECTED" in proc.stdout

    # The last values before LOS are those of the last frame received intact.
    last = facts["last_values"]
    est = last["altitude_estimate"]["value"]
    rng = last["rangefinder_altitude"]["value"]
    assert est == pytest.approx(gnc.values["altitude_estimate"], abs=0.01)
    assert rng == pytest.approx(gnc.values["rangefinder_altitude"], abs=0.01)
    # The estimate believes the lander is down while the rangefinder still sees it high.
    assert est < 50.0 and rng > 500.0, (est, rng)
    assert last["propellant_mass"]["value"] < 1.0
    assert any(f.startswith("propellant_mass exhausted") for f in facts["findings"])
    assert any("altitude_estimate" in f and "disagree" in f for f in facts["findings"])
    assert facts["frames"]["frames"] == sum(1 for f in frames if f.sent)
    assert facts["frames"]["crc_failures"] == sum(
        1 for f in frames if f.fate is FrameFate.CORRUPTED
    )
    assert any(v["title"].startswith("propellant_mass") for v in facts["limit_violations"])

    for name in facts["plots"]:
        png = (out / name).read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 10_000, name
    assert {
        "link_state.png",
        "frame_rate.png",
        "altitude_estimate_rangefinder_altitude.png",
        "propellant_mass.png",
    } <= set(facts["plots"])
    # The alert timeline: the rule's warning comes first, long before the loss.
    (budget,) = facts["alert_budget"]
    assert budget["critical_los"]["time_ns"] == los["time_ns"]
    assert budget["lead_time_s"] >= 45.0
    (rule,) = [t for t in budget["timeline"] if t["type"] == "ALTITUDE_DISAGREEMENT"]
    assert los["time_ns"] - rule["time_ns"] >= 45 * S
    assert budget["first_warning"]["time_ns"] <= rule["time_ns"]
    assert sum(t["first_warning"] for t in budget["timeline"]) == 1
    assert ">> " in proc.stdout and "s before UNEXPECTED_LOS" in proc.stdout
    page = (out / "report.html").read_text()
    assert "Alert timeline" in page and "first warning" in page
    assert page.count("data:image/png;base64,") == len(facts["plots"])
    assert "Unexpected loss of signal" in page
