"""The console after a LOS keeps the pass's frame count, pins rule alerts first and marks
the parameters a rule says disagree."""

from __future__ import annotations

from groundwatch.console.state import ConsoleModel, KeyParameter
from groundwatch.console.view import alert_lines, render_text
from groundwatch.model import Event, EventType, Severity

T0 = 1_700_000_000_000_000_000
S = 1_000_000_000
KEYS = [
    KeyParameter("altitude_estimate", "gnc", "m"),
    KeyParameter("rangefinder_altitude", "gnc", "m"),
    KeyParameter("propellant_mass", "propulsion", "kg"),
]


def event(type_: EventType, t: int, sev: Severity = Severity.WARNING, **details: object) -> Event:
    recovery = type_ in (EventType.RULE_CLEAR, EventType.AOS)
    return Event(type_, sev, t, "lander", "gs1", f"{type_.value} {t}", "", "c", f"id{t}",
                 recovery, "live", dict(details))  # fmt: skip


def test_frames_of_the_last_pass_after_los() -> None:
    m = ConsoleModel(KEYS, now_ns=lambda: T0)
    m.on_link_row("lander", "gs1", "TRACKING", frames_in_pass=1234)
    m.on_event(event(EventType.UNEXPECTED_LOS, T0, Severity.CRITICAL,
                     station_frames={"gs1": 1234}))  # fmt: skip
    m.on_link_row("lander", "gs1", "LOS", frames_in_pass=0)  # the monitor began a new pass
    assert "frames 0 (last pass 1234)" in render_text(m)


def test_rule_alerts_first_and_disagreeing_pair_marked() -> None:
    m = ConsoleModel(KEYS, now_ns=lambda: T0)
    m.on_values("lander", {"altitude_estimate": 0.0, "rangefinder_altitude": 1024.0}, T0)
    pair = ["altitude_estimate", "rangefinder_altitude"]
    m.on_event(event(EventType.RULE, T0, Severity.CRITICAL, rule="ALT", pair=pair))
    for i in range(1, 30):  # a busy log afterwards
        m.on_event(event(EventType.LIMIT_ENTER, T0 + i * S))
    shown = alert_lines(m, 5)
    assert shown[0].type == "RULE" and shown[0].title == f"RULE {T0}"
    assert [a.type for a in shown[1:]] == ["LIMIT_ENTER"] * 4
    text = render_text(m, 5)
    assert "value lander altitude_estimate 0.00 m  DISAGREE" in text
    assert "value lander rangefinder_altitude 1,024.00 m  DISAGREE" in text
    assert "propellant_mass - kg" in text and "propellant_mass - kg  DISAGREE" not in text
    m.on_event(event(EventType.RULE_CLEAR, T0 + 40 * S, Severity.INFO, rule="ALT"))
    assert "DISAGREE" not in render_text(m, 5)
    assert alert_lines(m, 5)[0].type != "RULE"


def test_repeated_log_lines_fold_into_one_with_a_count() -> None:
    m = ConsoleModel(KEYS, now_ns=lambda: T0)
    m.on_event(event(EventType.RULE, T0, Severity.CRITICAL, rule="ALT"))
    for i in range(50):
        m.on_log(T0 + i, "WARNING", f"There are {i} pending publish calls.")
    m.on_log(T0 + 60, "WARNING", "rejected bad_crc from gs1")
    logs = [a.title for a in m.alerts if a.type == "LOG"]
    assert logs == ["There are 49 pending publish calls. (x50)", "rejected bad_crc from gs1"]
    assert [a.type for a in alert_lines(m, 3)] == ["RULE", "LOG", "LOG"]
