from __future__ import annotations

from groundwatch.alerts.alert import Alert, Notification
from groundwatch.alerts.mqtt import MqttSink, MqttSinkOptions
from groundwatch.model import Event, EventType, Severity

T0 = 1_700_000_000_000_000_000


def alert(type_: EventType, n: Notification, cond: str, sc: str | None = "lander",
          station: str | None = "gs1", id_: str = "a1") -> Alert:  # fmt: skip
    e = Event(type_, Severity.CRITICAL, T0, sc, station, type_.value, "t", cond, id_)
    return Alert(id_, e, n, acked_by="flight" if n is Notification.ACK else None)


def test_retained_state_follows_los_ack_and_aos() -> None:
    sink = MqttSink(MqttSinkOptions())
    topic, st = sink.update_state(alert(EventType.UNEXPECTED_LOS, Notification.NEW, "LOS/lander"))
    assert topic == "groundwatch/state/lander/gs1"
    assert st["state"] == "LOS" and st["active"]["LOS/lander"]["acknowledged"] is False
    sink.update_state(alert(EventType.LIMIT_ENTER, Notification.NEW, "LIMIT/x", id_="b2"))
    _, st = sink.update_state(alert(EventType.ACK, Notification.ACK, "LOS/lander"))
    assert st["active"]["LOS/lander"] == {
        "id": "a1", "type": "UNEXPECTED_LOS", "severity": "critical",
        "acknowledged": True, "acked_by": "flight",
    }  # fmt: skip
    assert st["state"] == "LOS" and st["last"]["notification"] == "ack"
    _, st = sink.update_state(alert(EventType.AOS, Notification.RECOVERY, "LOS/lander", id_="c3"))
    assert st["state"] == "AOS" and list(st["active"]) == ["LIMIT/x"]
    topic, st = sink.update_state(
        alert(EventType.GROUND_PATH_DOWN, Notification.NEW, "GROUND/gs2", None, "gs2", "d4")
    )
    assert topic == "groundwatch/state/ground/gs2" and st["state"] == "GROUND_PATH_DOWN"


def test_retained_state_shows_an_escalated_alert_at_its_new_severity() -> None:
    sink = MqttSink(MqttSinkOptions())
    warn = alert(EventType.LIMIT_ENTER, Notification.NEW, "LIMIT/lander/ebn0")
    warn.event.severity = Severity.WARNING
    sink.update_state(warn)
    _, st = sink.update_state(alert(EventType.LIMIT_ENTER, Notification.ESCALATION,
                                    "LIMIT/lander/ebn0"))  # fmt: skip
    entry = st["active"]["LIMIT/lander/ebn0"]
    assert entry["severity"] == "critical" and entry["id"] == "a1"
    assert st["last"]["notification"] == "escalation"


def test_retained_state_is_strict_json_when_a_value_is_not_finite() -> None:
    import json

    from groundwatch.alerts.alert import strict_json

    sink = MqttSink(MqttSinkOptions())
    a = alert(EventType.RULE, Notification.NEW, "RULE/lander/X")
    a.event.details = {"values": {"x": float("nan"), "y": float("inf")}}
    _, st = sink.update_state(a)

    def refuse(constant: str) -> None:
        raise ValueError(constant)

    json.loads(strict_json(st), parse_constant=refuse)  # NaN/Infinity would raise here


def test_link_states_are_bounded_the_least_recently_updated_go_first() -> None:
    from groundwatch.alerts.mqtt import MAX_STATE_TOPICS

    sink = MqttSink(MqttSinkOptions())
    sink.update_state(alert(EventType.AOS, Notification.RECOVERY, "LOS/lander", id_="x"))
    for i in range(MAX_STATE_TOPICS + 50):
        sink.update_state(alert(EventType.AOS, Notification.RECOVERY, "LOS/lander",
                                station=f"st{i}", id_=f"a{i}"))  # fmt: skip
        if i == MAX_STATE_TOPICS // 2:  # gs1 updated again: it is recent
            sink.update_state(alert(EventType.AOS, Notification.RECOVERY, "LOS/lander", id_="y"))
    assert len(sink.state) == MAX_STATE_TOPICS
    assert sink.counters.extra["state_topics_dropped"] == 51
    assert "groundwatch/state/lander/gs1" in sink.state
    assert "groundwatch/state/lander/st0" not in sink.state
    assert f"groundwatch/state/lander/st{MAX_STATE_TOPICS + 49}" in sink.state
