from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from groundwatch.alerts.alert import Alert, Notification
from groundwatch.alerts.manager import AlertManager
from groundwatch.alerts.sinks import AlertSink, CommandSink, InfluxSink, LogSink
from groundwatch.config import PartConfig
from groundwatch.model import Event, EventType, Point, Severity
from groundwatch.parts import ConfigError
from groundwatch.plugins import builtin_registry
from groundwatch.store.points import event_point

REGISTRY = builtin_registry()

S = 1_000_000_000
T0 = 1_700_000_000 * S


class Recorder(AlertSink):
    type = "recorder"

    def __init__(self, paging: bool) -> None:
        super().__init__(f"rec-{paging}")
        self.paging = paging  # type: ignore[misc]
        self.got: list[Alert] = []

    def offer(self, alert: Alert) -> bool:
        self.got.append(alert)
        return True


def ev(type_: EventType, t: int, condition: str = "LOS/lander", recovery: bool = False,
       sev: Severity = Severity.CRITICAL, source: str = "live") -> Event:  # fmt: skip
    return Event(type_, sev, t, "lander", "gs1", type_.value, "text", condition,
                 f"{condition}-{t}", recovery, source)  # fmt: skip


def test_dedup_recovery_and_renotify_until_ack() -> None:
    pager, logger = Recorder(True), Recorder(False)
    m = AlertManager([pager, logger], renotify_interval=60)
    (a,) = m.submit([ev(EventType.UNEXPECTED_LOS, T0)])
    assert m.submit([ev(EventType.UNEXPECTED_LOS, T0 + S)]) == []  # same condition: dedup
    assert m.deduplicated == 1
    assert m.tick(T0 + 59 * S) == []
    r1 = m.tick(T0 + 60 * S)
    assert [(x.notification, x.repeat, x.id) for x in r1] == [(Notification.REPEAT, 1, a.id)]
    assert m.tick(T0 + 61 * S) == []
    assert len(m.tick(T0 + 120 * S)) == 1
    notice = m.ack(a.id, "flight", "looking at it", now_ns=T0 + 130 * S)
    assert notice is not None and notice.event.type is EventType.ACK
    assert notice.payload()["acked_by"] == "flight" and notice.id == a.id
    assert m.tick(T0 + 1000 * S) == []  # acknowledged: no more reminders
    (rec,) = m.submit([ev(EventType.AOS, T0 + 2000 * S, recovery=True, sev=Severity.INFO)])
    assert rec.notification is Notification.RECOVERY and rec.clears == a.id
    assert m.active == {}
    kinds = [x.notification.value for x in pager.got]
    assert kinds == ["new", "repeat", "repeat", "ack", "recovery"]
    assert [x.notification.value for x in logger.got] == kinds
    assert m.ack("nope", "x") is None


def test_warning_is_not_renotified_and_new_occurrence_after_recovery() -> None:
    rec = Recorder(True)
    m = AlertManager([rec], renotify_interval=1)
    m.submit([ev(EventType.LOS, T0, sev=Severity.WARNING)])
    assert m.tick(T0 + 100 * S) == []
    m.submit([ev(EventType.AOS, T0 + 200 * S, recovery=True, sev=Severity.INFO)])
    m.submit([ev(EventType.LOS, T0 + 300 * S, sev=Severity.WARNING)])
    assert [x.notification.value for x in rec.got] == ["new", "recovery", "new"]
    assert rec.got[0].id != rec.got[2].id


def test_replay_alerts_only_to_non_paging_sinks() -> None:
    pager, logger = Recorder(True), Recorder(False)
    m = AlertManager([pager, logger], renotify_interval=1)
    m.submit([ev(EventType.UNEXPECTED_LOS, T0, source="replay:pass1")])
    assert m.tick(T0 + 10 * S) == []
    assert pager.got == [] and len(logger.got) == 1
    m2 = AlertManager([pager], page_replays=True)
    m2.submit([ev(EventType.UNEXPECTED_LOS, T0, source="replay:pass1")])
    assert len(pager.got) == 1


def test_from_config_validates_without_io() -> None:
    m = AlertManager.from_config(
        [
            PartConfig(type="log"),
            PartConfig(type="influx"),
            PartConfig(type="mqtt", url="mqtt://127.0.0.1:1"),
            PartConfig(type="webhook", url="http://127.0.0.1:1/hook", timeout=0.5),
            {"type": "command", "command": "cat", "name": "hook"},
        ],
        REGISTRY,
    )
    assert [s.type for s in m.sinks] == ["log", "influx", "mqtt", "webhook", "command"]
    assert m.sink("hook").type == "command"
    with pytest.raises(ConfigError, match=r"alerts\[0\].type: unknown alert type 'pager'"):
        AlertManager.from_config([PartConfig(type="pager")], REGISTRY)
    with pytest.raises(ConfigError, match=r"alerts\[0\].url"):
        AlertManager.from_config([PartConfig(type="webhook", url="ftp://x")], REGISTRY)
    with pytest.raises(ConfigError, match=r"alerts\[0\].url"):
        AlertManager.from_config([PartConfig(type="webhook")], REGISTRY)
    with pytest.raises(ConfigError, match=r"alerts\[0\].colour"):
        AlertManager.from_config([PartConfig(type="log", colour="red")], REGISTRY)
    with pytest.raises(ConfigError, match=r"alerts\[0\].url"):
        AlertManager.from_config([PartConfig(type="mqtt", url="http://x")], REGISTRY)


async def test_command_log_and_influx_sinks(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "alerts.jsonl"
    script = f"import sys; open({str(out)!r}, 'a').write(sys.stdin.read())"
    cmd = CommandSink.from_config({"command": [sys.executable, "-c", script]}, "alerts[0]")
    slow = CommandSink.from_config(
        {"command": [sys.executable, "-c", "import time; time.sleep(30)"], "timeout": 0.3},
        "alerts[1]",
    )
    written: list[Point] = []

    async def put(points: list[Point]) -> None:
        written.extend(points)

    influx = InfluxSink.from_config({}, "alerts[2]")
    influx.bind(put, event_point)
    logs = LogSink.from_config({}, "alerts[3]")
    m = AlertManager([cmd, slow, influx, logs], renotify_interval=1)
    await m.start()
    with caplog.at_level("INFO", logger="groundwatch.alerts"):
        m.submit([ev(EventType.UNEXPECTED_LOS, T0)])
        m.tick(T0 + 2 * S)
        await m.stop(drain_timeout=5)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["notification"] for x in lines] == ["new", "repeat"]
    assert lines[0]["type"] == "UNEXPECTED_LOS" and lines[0]["text"].startswith("[CRITICAL]")
    assert slow.counters.errors == 2  # both killed after the timeout; the others unaffected
    assert [p.measurement for p in written] == ["events"]  # the repeat is not a new point
    assert written[0].tags["type"] == "UNEXPECTED_LOS" and written[0].time_ns == T0
    assert any("UNEXPECTED_LOS lander via gs1" in r.getMessage() for r in caplog.records)


async def test_full_queue_drops_without_blocking() -> None:
    sink = LogSink(queue_size=2)
    m = AlertManager([sink])
    for i in range(5):
        m.submit([ev(EventType.LIMIT_ENTER, T0 + i, condition=f"c{i}", sev=Severity.WARNING)])
    assert sink.counters.received == 5 and sink.counters.dropped == 3
    await asyncio.sleep(0)


def test_an_alert_open_longer_than_the_history_can_still_be_acknowledged() -> None:
    # months-long run: many short alerts come and go while one critical stays open
    pager = Recorder(True)
    m = AlertManager([pager], renotify_interval=60, history=4)
    (a,) = m.submit([ev(EventType.UNEXPECTED_LOS, T0)])
    for i in range(1, 6):
        m.submit(
            [ev(EventType.LIMIT_ENTER, T0 + i * S, f"LIMIT/lander/p{i}", sev=Severity.WARNING)]
        )
    notice = m.ack(a.id, "flight", now_ns=T0 + 10 * S)
    assert notice is not None and notice.id == a.id
    assert m.tick(T0 + 1000 * S) == []  # acknowledged: no more reminders


def test_an_alert_with_a_value_that_is_not_a_number_is_strict_json() -> None:
    # a webhook receiver's JSON parser refuses NaN and Infinity, which are not JSON
    e = ev(EventType.RULE, T0, "RULE/lander/R", sev=Severity.WARNING)
    e.details["values"] = {"x": 12.0, "y": float("nan"), "z": [float("inf")]}
    (a,) = AlertManager([]).submit([e])

    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    body = json.loads(a.to_json(), parse_constant=refuse)
    assert body["details"]["values"] == {"x": 12.0, "y": "nan", "z": ["inf"]}


def test_the_alert_history_is_bounded_in_bytes() -> None:
    import gc
    import tracemalloc

    class Counting(Recorder):  # keeps nothing it is offered
        def offer(self, alert: Alert) -> bool:
            return True

    bound = 1 << 20
    m = AlertManager([Counting(False)], history_bytes=bound)

    def big(type_: EventType, t: int, recovery: bool) -> Event:
        e = ev(type_, t, recovery=recovery, sev=Severity.WARNING)
        e.details["station_frames"] = {f"station-{t}-{s:03d}": s for s in range(200)}
        return e

    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        opened = []
        for i in range(400):  # a pass lost and regained 400 times, ~25 KB an event
            (a,) = m.submit([big(EventType.LOS, T0 + 2 * i * S, False)])
            opened.append(a.id)
            m.submit([big(EventType.AOS, T0 + (2 * i + 1) * S, True)])
        del a
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert m.history_bytes <= bound
    assert retained < bound + (256 << 10), retained
    assert m.counters()["manager"]["history"] < 400
    # the newest are still known by id; the oldest were let go
    assert m.ack(opened[-1], "flight") is not None
    assert m.ack(opened[0], "flight") is None


def test_a_forgotten_stations_open_alerts_are_let_go_unless_critical_and_unacked() -> None:
    m = AlertManager([Recorder(False)])

    def opened(type_: EventType, condition: str, station: str, sev: Severity) -> Alert:
        e = ev(type_, T0, condition=condition, sev=sev)
        e.station = station
        (a,) = m.submit([e])
        return a

    opened(EventType.GROUND_PATH_DOWN, "GROUND/gs7", "gs7", Severity.WARNING)
    opened(EventType.LINK_DEGRADED, "DEGRADED/lander/gs7", "gs7", Severity.WARNING)
    late = opened(EventType.LATE_AOS, "LATE_AOS/lander/gs7", "gs7", Severity.CRITICAL)
    opened(EventType.UNEXPECTED_LOS, "LOS/lander", "gs7", Severity.CRITICAL)  # the spacecraft's
    opened(EventType.GROUND_PATH_DOWN, "GROUND/gs70", "gs70", Severity.WARNING)
    assert m.forget_station("gs7") == 2
    assert set(m.active) == {"LATE_AOS/lander/gs7", "LOS/lander", "GROUND/gs70"}
    m.ack(late.id, "flight")
    assert m.forget_station("gs7") == 1  # acknowledged: let go too
    assert set(m.active) == {"LOS/lander", "GROUND/gs70"}
    assert m.counters()["manager"]["forgotten"] == 3
