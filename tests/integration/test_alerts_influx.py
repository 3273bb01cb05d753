"""Link events and link series land in a real InfluxDB through the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from groundwatch import services
from groundwatch.alerts.manager import AlertManager
from groundwatch.alerts.sinks import InfluxSink, LogSink
from groundwatch.config import LinkConfig
from groundwatch.link.accounting import FrameAccounting
from groundwatch.link.monitor import LinkMonitor
from groundwatch.model import LinkKey, Point
from groundwatch.services import ServiceHandle
from groundwatch.store.points import event_point
from groundwatch.store.sink import StoreSink

from ..unit.link.helpers import result
from .store_helpers import cfg, wait_drained

pytestmark = pytest.mark.integration
S = 1_000_000_000
MS = 1_000_000
T0 = 1_700_000_000 * S


def query(url: str, db: str, q: str) -> list[list[object]]:
    res = services.influx_query(url, q, db=db)
    series = res["results"][0].get("series", [])  # type: ignore[index]
    return [row for s in series for row in s["values"]]


async def test_los_event_and_link_series_in_influx(
    influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    store = StoreSink.from_config(cfg(tmp_path, influxd.url, influx_db))
    await store.start()

    async def put(points: list[Point]) -> None:
        await store.put(points, None)

    influx = InfluxSink.from_config({}, "alerts[1]")
    influx.bind(put, event_point)
    alerts = AlertManager([LogSink(), influx])
    await alerts.start()
    mon = LinkMonitor.from_config(LinkConfig(los_threshold=2.0), ["alt"], {}, None)
    acc = FrameAccounting()
    try:
        t = T0
        while t < T0 + 10 * S:  # 1 s of frames, then silence; points every second
            if t < T0 + S:
                alerts.submit(mon.observe_frame(LinkKey("lander", "gs1", 0), t, True, t))
                r = result(t, params={"alt": 100.0})
                acc.observe(r)
                alerts.submit(mon.observe_result(r, t))
            alerts.submit(mon.tick(t))
            if (t - T0) % S == 0:
                pts = acc.points(t) + mon.state_points(t)
                for p in pts:
                    p.tags.setdefault("source", "live")
                await store.put(pts, None)
            t += 100 * MS
        await alerts.stop()
        await wait_drained(store)
    finally:
        await store.stop()
    rows = query(influxd.url, influx_db, "SELECT type, severity, title, id FROM events")
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (T0 + 100 * MS, "AOS", "info"),
        (T0 + 900 * MS + 2 * S, "LOS", "warning"),
    ]
    station = query(
        influxd.url,
        influx_db,
        "SELECT state_text, seconds_since_last_frame FROM link_state "
        "WHERE station = 'gs1' AND vcid != '0'",
    )
    assert (T0 + 9 * S, "LOS", 8.1) in [(r[0], r[1], round(r[2], 3)) for r in station]
    assert (T0 + 2 * S, "TRACKING", 1.1) in [(r[0], r[1], round(r[2], 3)) for r in station]
    frames = query(influxd.url, influx_db, "SELECT last(frames) FROM link")
    assert frames[0][1] == 10
