"""The console fed in-process by the real pipeline, as ``groundwatch demo`` does it:
``event_listeners=[model.on_event]`` and ``model.on_status(pipeline.status())`` per redraw."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from groundwatch.clock import ReplayClock
from groundwatch.config import load_config
from groundwatch.console.attach import AttachOptions, InfluxPoller
from groundwatch.console.live import show
from groundwatch.console.state import ConsoleModel
from groundwatch.decoders.dictionary import load_dictionary
from groundwatch.services import ServiceHandle
from groundwatch.wiring import build_pipeline
from tests.integration.test_report_hakuto import (
    DICTIONARY,
    S,
    SimSource,
    descent_frames,
    ert,
    write_config,
)

pytestmark = pytest.mark.integration


async def test_pipeline_feeds_the_console(
    influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    frames = descent_frames()[:40]
    cfg = write_config(tmp_path, influxd, influx_db, ert(frames[-1]))
    clock = ReplayClock(ert(frames[0]), speed=None)
    model = ConsoleModel.from_dictionary(load_dictionary(DICTIONARY), now_ns=clock.now_ns)
    pipeline = build_pipeline(
        load_config(cfg),
        sources=[SimSource(frames)],
        clock=clock,
        source_label="replay:hakuto-report",
        archive_enabled=False,
        event_listeners=[model.on_event],
    )
    out = io.StringIO()
    stop = asyncio.Event()
    shown = asyncio.create_task(
        show(
            model,
            stop,
            refresh_s=0.05,
            text_interval_s=0.2,
            stream=out,
            on_refresh=lambda: model.on_status(pipeline.status()),
        )
    )
    await pipeline.run(asyncio.Event(), finish_at_ns=ert(frames[-1]) + 30 * S)
    stop.set()
    await asyncio.wait_for(shown, 10)

    text = out.getvalue()
    assert "alert INFO AOS AOS demo-lander via gs1" in text
    assert "alert CRITICAL UNEXPECTED_LOS UNEXPECTED_LOS demo-lander" in text
    assert model.links[("demo-lander", "gs1")].state == "LOS"
    final = text.rsplit("== ", 1)[1]
    # LOS 5 s (the threshold) after the last frame: the console counts from there.
    assert "link demo-lander gs1 LOS last frame 5.0 s ago" in final
    gnc = next(p for f in reversed(frames) for p in f.packets if p.name == "gnc")
    altitude = gnc.values["altitude_estimate"]
    assert f"value demo-lander altitude_estimate {altitude:,.2f} m" in final
    prop = next(p for f in reversed(frames) for p in f.packets if p.name == "propulsion")
    assert f"value demo-lander propellant_mass {prop.values['propellant_mass']:,.2f} kg ok" in final
    assert model.footer.frames == sum(1 for f in frames if f.sent)

    # Attach mode reads the same picture back from what the pipeline wrote to InfluxDB.
    attached = ConsoleModel.from_dictionary(load_dictionary(DICTIONARY))
    opts = AttachOptions(
        influx_url=influxd.url,
        database=influx_db,
        source="replay:hakuto-report",
        window="3650d",
        history="3650d",
    )
    await InfluxPoller(attached, opts).poll_once()
    link = attached.links[("demo-lander", "gs1")]
    assert link.state == "LOS" and link.last_frame_ns == ert(frames[-1])
    assert [a.type for a in attached.alerts] == [a.type for a in model.alerts]
    for name in ("altitude_estimate", "propellant_mass", "rssi"):
        assert attached.values[("demo-lander", name)].value == pytest.approx(
            model.values[("demo-lander", name)].value
        ), name
    assert attached.footer.frames == model.footer.frames
