"""An alert sink's queue is bounded in alerts and in bytes; what it never delivered is
counted dropped, also the alert it was delivering when stopped."""

from __future__ import annotations

import asyncio

from groundwatch.alerts.alert import Alert, Notification
from groundwatch.alerts.sinks import AlertSink
from groundwatch.model import Event, EventType, Severity

T0 = 1_700_000_000_000_000_000


def _alert(i: int, stations: int = 0) -> Alert:
    details = {"station_frames": {f"station-{i}-{s:04d}": s for s in range(stations)}}
    e = Event(EventType.LOS, Severity.WARNING, T0 + i, "lander", "gs1", "LOS", "t", "LOS/lander",
              f"a{i}", details=details)  # fmt: skip
    return Alert(e.id, e, Notification.NEW)


class _Stuck(AlertSink):
    """A sink whose receiver never answers."""

    type = "stuck"

    def __init__(self, queue_size: int = 1000, queue_bytes: int = 1 << 20) -> None:
        super().__init__("stuck", queue_size, queue_bytes)
        self.started = asyncio.Event()

    async def deliver(self, alert: Alert) -> None:
        self.started.set()
        await asyncio.sleep(3600)


def test_the_queue_is_bounded_in_bytes() -> None:
    sink = _Stuck(queue_bytes=200_000)
    taken = [sink.offer(_alert(i, stations=500)) for i in range(50)]  # ~40 KB each
    assert 2 < sum(taken) < 10
    assert sink.queued_bytes <= 200_000
    assert sink.counters.dropped == 50 - sum(taken)
    assert sink.offer(_alert(99)) is True  # a small one still fits


def test_one_alert_larger_than_the_bound_is_still_taken_into_an_empty_queue() -> None:
    sink = _Stuck(queue_bytes=1_000)
    assert sink.offer(_alert(1, stations=500)) is True
    assert sink.offer(_alert(2)) is False


async def test_stopping_counts_queued_and_in_delivery_alerts_dropped() -> None:
    sink = _Stuck()
    await sink.start()
    for i in range(3):
        assert sink.offer(_alert(i))
    await asyncio.wait_for(sink.started.wait(), 5)
    await sink.stop(drain_timeout=0.2)
    assert sink.counters.sent == 0
    assert sink.counters.dropped == 3  # two queued, one being delivered
