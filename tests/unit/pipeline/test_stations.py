"""The station roster: bounded by max_stations, a silent station's place let go."""

from __future__ import annotations

from groundwatch.stations import StationRoster

from ...helpers.clock import ManualClock


def test_new_stations_past_the_bound_are_refused_known_ones_are_not() -> None:
    clock = ManualClock(1000.0)
    roster = StationRoster(max_stations=2, forget_after_s=60, clock=clock)
    assert roster.heard("gs1") and roster.heard("gs2")
    assert not roster.heard("gs3")
    assert roster.heard("gs1")  # known: heard again whatever the bound
    assert len(roster) == 2 and "gs3" not in roster


def test_a_silent_station_is_offered_at_the_next_sweep_and_its_place_let_go() -> None:
    clock = ManualClock(1000.0)
    roster = StationRoster(max_stations=2, forget_after_s=60, clock=clock)
    roster.heard("gs1")
    roster.heard("gs2")
    assert not roster.sweep_due()
    clock.t += 30
    assert roster.sweep_due()  # every min(10 s, forget_after / 2)
    roster.heard("gs2")
    assert roster.silent() == [] and not roster.sweep_due()
    clock.t += 31
    assert roster.silent() == ["gs1"]  # silent for 61 s; gs2 for 31 s
    roster.forget("gs1")
    assert roster.heard("gs3") and len(roster) == 2
