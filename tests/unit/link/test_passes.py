"""Contacts predicted from a TLE (SGP4): geometry checks that a wrong frame or unit fails."""

from __future__ import annotations

import math

import pytest

from groundwatch.link.passes import GroundStation, Orbit, predict_contacts
from groundwatch.link.schedule import Schedule, ScheduleError, parse_time

# The ISS element set used as the example in the TLE format's public description (2008).
L1 = "1 25544U 98067A   08264.51782528 -.00002182  00000-0 -11606-4 0  2927"
L2 = "2 25544  51.6416 247.4627 0006703 130.5360 325.0288 15.72125391563537"
S = 1_000_000_000
START = parse_time("2008-09-20T12:00:00Z")
END = parse_time("2008-09-21T12:00:00Z")


def test_orbit_altitude_and_latitude_bounds() -> None:
    orbit = Orbit("iss", L1, L2)
    for k in range(0, 86400, 600):
        x, y, z = orbit.ecef_km(START + k * S)
        r = math.sqrt(x * x + y * y + z * z)
        assert 300 < r - 6371 < 420  # ISS altitude band in 2008
        lat = math.degrees(math.asin(z / r))
        assert abs(lat) <= 51.7  # never beyond its inclination


def test_mid_latitude_station_passes_are_plausible_and_edges_exact() -> None:
    orbit = Orbit("iss", L1, L2)
    gs = GroundStation("gs1", 45.0, 7.0, 300, min_elevation=10)
    contacts = predict_contacts(orbit, gs, START, END)
    assert 3 <= len(contacts) <= 8
    for c in contacts:
        assert 60 * S <= c.end_ns - c.start_ns <= 11 * 60 * S
        mid = (c.start_ns + c.end_ns) // 2
        assert orbit.elevation(gs, mid) >= 10
        assert orbit.elevation(gs, c.start_ns - 2 * S) < 10 <= orbit.elevation(gs, c.start_ns)
        assert orbit.elevation(gs, c.end_ns) < 10 <= orbit.elevation(gs, c.end_ns - 2 * S)
    # no pass missed by the coarse scan: every sampled visible instant is inside a contact
    for k in range(0, 86400, 5):
        t = START + k * S
        if orbit.elevation(gs, t) >= 10:
            assert any(c.start_ns <= t < c.end_ns for c in contacts), k


def test_polar_station_never_sees_it() -> None:
    orbit = Orbit("iss", L1, L2)
    assert predict_contacts(orbit, GroundStation("pole", 88.0, 0.0), START, END) == []


def test_schedule_yaml_with_orbits() -> None:
    text = f"""
stations:
  gs1: {{latitude: 45.0, longitude: 7.0, altitude_m: 300, min_elevation: 10}}
orbits:
  - spacecraft: iss
    tle: |
      ISS (ZARYA)
      {L1}
      {L2}
    from: 2008-09-20T12:00:00Z
    to: 2008-09-21T12:00:00Z
contacts:
  - {{spacecraft: lander, station: gs9, start: 2008-09-20T12:00:00Z, end: 2008-09-20T13:00:00Z}}
"""
    s = Schedule.from_yaml(text)
    iss = s.for_spacecraft("iss")
    assert 3 <= len(iss) <= 8 and {c.station for c in iss} == {"gs1"}
    assert len(s.for_spacecraft("lander")) == 1
    with pytest.raises(ScheduleError, match="unknown station 'gs2'"):
        Schedule.from_yaml(text.replace("    from:", "    stations: [gs2]\n    from:"))
    with pytest.raises(ScheduleError, match="needs a 'stations:'"):
        Schedule.from_yaml(f"orbits: [{{spacecraft: x, tle: '{L1}', from: 1, to: 2}}]")
