"""A live run keeps only the newest events (counted by type); a replay, which ends, all."""

from __future__ import annotations

from typing import Any

from groundwatch.model import Event, EventType, Severity
from groundwatch.pipeline import Pipeline
from groundwatch.pipeline_stats import EVENTS_KEPT


class _Alerts:
    def __init__(self) -> None:
        self.submitted = 0

    def submit(self, events: list[Event]) -> None:
        self.submitted += len(events)


def _pipeline(**kw: Any) -> tuple[Pipeline, _Alerts]:
    alerts = _Alerts()
    parts: dict[str, Any] = dict.fromkeys(
        ("decoder", "store", "monitor", "accounting", "merger", "archive")
    )
    return Pipeline(sources=[], alerts=alerts, to_points=list, **parts, **kw), alerts


def _event(i: int) -> Event:
    return Event(EventType.LIMIT_ENTER, Severity.WARNING, i, "sc", "gs1", "t", "x", "c", str(i))


def test_live_events_are_bounded_and_counted() -> None:
    pipeline, alerts = _pipeline()
    n = EVENTS_KEPT + 2_500
    pipeline.dispatch(_event(i) for i in range(n))
    assert len(pipeline.stats.events) == EVENTS_KEPT
    assert pipeline.stats.events[-1].id == str(n - 1)
    assert pipeline.stats.event_counts == {"LIMIT_ENTER": n}
    assert alerts.submitted == n


def test_a_replay_keeps_every_event() -> None:
    pipeline, _ = _pipeline(events_kept=None)
    pipeline.dispatch(_event(i) for i in range(EVENTS_KEPT + 10))
    assert len(pipeline.stats.events) == EVENTS_KEPT + 10


def _los_event(i: int, stations: int) -> Event:
    """A LOS event of a pass heard by many stations: its details name every one."""
    details = {
        "station_frames": {f"station-{s:04d}-{i}": s for s in range(stations)},
        "last_values": {f"param_{p}": p * 1.5 for p in range(20)},
    }
    return Event(EventType.LOS, Severity.WARNING, i, "sc", "gs1", "LOS sc", "x" * 300, "LOS/sc",
                 str(i), details=details)  # fmt: skip


def test_live_events_are_bounded_in_bytes() -> None:
    import gc
    import tracemalloc

    from groundwatch.pipeline_stats import EVENTS_BYTES

    pipeline, alerts = _pipeline()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        pipeline.dispatch(_los_event(i, 1_000) for i in range(300))
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # 300 events of ~120 KB each would keep ~36 MB: the newest are kept within the bound.
    assert retained < EVENTS_BYTES + (1 << 20), retained
    assert 1 < len(pipeline.stats.events) < 300
    assert pipeline.stats.events[-1].id == "299"
    assert pipeline.stats.event_counts == {"LOS": 300}
    assert alerts.submitted == 300
