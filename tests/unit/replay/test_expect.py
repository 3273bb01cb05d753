"""Expected-events files: round trip, matching within the tolerance, the diff."""

from __future__ import annotations

from pathlib import Path

from groundwatch.model import Event, EventType, Severity
from groundwatch.replay.expect import (
    ExpectedEvent,
    compare,
    load_expected,
    observed,
    write_expected,
)

T0 = 1_700_000_000_000_000_000


def ev(type_: EventType, t_s: float, station: str = "gs1") -> Event:
    return Event(type_, Severity.WARNING, T0 + int(t_s * 1e9), "lander", station, "", "", "c", "id")


def test_write_then_load_round_trip(tmp_path: Path) -> None:
    got = observed([ev(EventType.LOS, 12.3456), ev(EventType.AOS, 0.1)], T0)
    assert [e.type for e in got] == ["AOS", "LOS"]
    assert got[1].offset == 12.346
    path = tmp_path / "exp.yaml"
    write_expected(path, got, 0.25)
    loaded, tol = load_expected(path)
    assert loaded == got and tol == 0.25
    assert compare(loaded, got, tol).ok


def test_mismatches_show_in_the_diff() -> None:
    want = [
        ExpectedEvent("AOS", "lander", "gs1", 0.1),
        ExpectedEvent("LOS", "lander", "gs1", 10.0),
        ExpectedEvent("LIMIT_ENTER", "lander", "gs1", 4.0),
    ]
    got = observed(
        [ev(EventType.AOS, 0.3), ev(EventType.LOS, 11.0), ev(EventType.LINK_DEGRADED, 5.0)], T0
    )
    cmp = compare(want, got, 0.5)
    assert not cmp.ok
    assert cmp.matched == 1  # AOS within 0.5 s
    diff = cmp.diff().splitlines()
    assert diff[0].startswith("-") and "LIMIT_ENTER" in diff[0]
    assert diff[1].startswith("+") and "LINK_DEGRADED" in diff[1]
    assert diff[2].startswith("-") and "LOS" in diff[2] and "10.000" in diff[2]
    assert diff[3].startswith("+") and "LOS" in diff[3] and "11.000" in diff[3]
    assert compare(want[:2], [g for g in got if g.type != "LINK_DEGRADED"], 1.0).ok


def test_link_must_match() -> None:
    want = [ExpectedEvent("LOS", "lander", "gs1", 1.0)]
    got = observed([ev(EventType.LOS, 1.0, station="gs2")], T0)
    assert not compare(want, got, 5).ok


def test_plain_list_file(tmp_path: Path) -> None:
    path = tmp_path / "e.yaml"
    path.write_text("- {type: LOS, spacecraft: lander, station: gs1, offset: 3}\n")
    events, tol = load_expected(path)
    assert events == [ExpectedEvent("LOS", "lander", "gs1", 3.0)] and tol == 0.5
