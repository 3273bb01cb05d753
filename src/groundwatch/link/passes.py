"""Planned contacts of Earth orbiters computed from a TLE and station locations (SGP4).

In a schedule YAML, next to (or instead of) ``contacts:``::

    stations:
      gs1: {latitude: 52.22, longitude: 4.42, altitude_m: 10, min_elevation: 5}
    orbits:
      - spacecraft: sat1
        tle: |
          1 25544U 98067A   24001.50000000  .00016717  00000-0  10270-3 0  9005
          2 25544  51.6416 247.4627 0006703 130.5360 325.0288 15.50377579 10000
        from: 2024-01-01T12:00:00Z      # the window to predict, explicit so a replay
        to: 2024-01-02T12:00:00Z        # of a pass gets the same plan
        stations: [gs1]                 # default: every station

A contact is the time the spacecraft is above the station's ``min_elevation`` (degrees).
Propagation is the ``sgp4`` library; the TEME -> Earth-fixed rotation uses its Greenwich
sidereal time (``gstime``) and ignores polar motion (well under 0.01 degree of elevation,
nothing next to a 10-second contact edge). Edges are found by a coarse scan and bisection to
``resolution`` seconds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sgp4.api import Satrec
from sgp4.propagation import gstime

from groundwatch.link.schedule import Contact

S = 1_000_000_000
WGS84_A = 6378.137  # km
WGS84_F = 1 / 298.257223563
UNIX_EPOCH_JD = 2440587.5


@dataclass(slots=True, frozen=True)
class GroundStation:
    name: str
    latitude: float  # degrees, geodetic
    longitude: float  # degrees east
    altitude_m: float = 0.0
    min_elevation: float = 5.0  # degrees

    def ecef_km(self) -> tuple[float, float, float]:
        lat, lon = math.radians(self.latitude), math.radians(self.longitude)
        e2 = WGS84_F * (2 - WGS84_F)
        n = WGS84_A / math.sqrt(1 - e2 * math.sin(lat) ** 2)
        h = self.altitude_m / 1000
        return (
            (n + h) * math.cos(lat) * math.cos(lon),
            (n + h) * math.cos(lat) * math.sin(lon),
            (n * (1 - e2) + h) * math.sin(lat),
        )

    def up(self) -> tuple[float, float, float]:
        lat, lon = math.radians(self.latitude), math.radians(self.longitude)
        return (math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat))


class Orbit:
    """One spacecraft's TLE, propagated with SGP4."""

    def __init__(self, spacecraft: str, line1: str, line2: str) -> None:
        self.spacecraft = spacecraft
        self.sat = Satrec.twoline2rv(line1.strip(), line2.strip())

    def ecef_km(self, t_ns: int) -> tuple[float, float, float]:
        days = t_ns / S / 86400
        jd = UNIX_EPOCH_JD + math.floor(days)
        fr = days - math.floor(days)
        err, r, _ = self.sat.sgp4(jd, fr)
        if err != 0:
            raise ValueError(f"{self.spacecraft}: SGP4 error {err} at {t_ns}")
        g = gstime(jd + fr)
        c, s = math.cos(g), math.sin(g)
        return (c * r[0] + s * r[1], -s * r[0] + c * r[1], r[2])

    def elevation(self, station: GroundStation, t_ns: int) -> float:
        """Degrees above the station's horizon."""
        sx, sy, sz = self.ecef_km(t_ns)
        gx, gy, gz = station.ecef_km()
        d = (sx - gx, sy - gy, sz - gz)
        dist = math.sqrt(d[0] ** 2 + d[1] ** 2 + d[2] ** 2)
        u = station.up()
        return math.degrees(math.asin((d[0] * u[0] + d[1] * u[1] + d[2] * u[2]) / dist))


def predict_contacts(
    orbit: Orbit,
    station: GroundStation,
    start_ns: int,
    end_ns: int,
    step: float = 20.0,
    resolution: float = 1.0,
) -> list[Contact]:
    """Contacts of ``orbit`` over ``station`` between ``start_ns`` and ``end_ns``."""
    step_ns, res_ns = int(step * S), int(resolution * S)

    def above(t: int) -> bool:
        return orbit.elevation(station, t) >= station.min_elevation

    def edge(lo: int, hi: int) -> int:
        # first time in (lo, hi] whose visibility differs from lo's
        state = above(lo)
        while hi - lo > res_ns:
            mid = (lo + hi) // 2
            if above(mid) == state:
                lo = mid
            else:
                hi = mid
        return hi

    out: list[Contact] = []
    t, vis = start_ns, above(start_ns)
    rise: int | None = start_ns if vis else None
    while t < end_ns:
        nxt = min(t + step_ns, end_ns)
        v = above(nxt)
        if v != vis:
            e = edge(t, nxt)
            if v:
                rise = e
            elif rise is not None:
                out.append(Contact(orbit.spacecraft, station.name, rise, e))
                rise = None
            vis = v
        t = nxt
    if rise is not None and end_ns > rise:
        out.append(Contact(orbit.spacecraft, station.name, rise, end_ns))
    return out


def contacts_from_orbits(
    stations: Mapping[str, Mapping[str, Any]],
    orbits: Sequence[Mapping[str, Any]],
    parse_time: Any,
) -> list[Contact]:
    """The ``stations:``/``orbits:`` sections of a schedule file to contacts."""
    gs = {
        name: GroundStation(
            name,
            float(s["latitude"]),
            float(s["longitude"]),
            float(s.get("altitude_m", 0.0)),
            float(s.get("min_elevation", 5.0)),
        )
        for name, s in stations.items()
    }
    out: list[Contact] = []
    for o in orbits:
        lines = [ln for ln in str(o["tle"]).strip().splitlines() if ln.strip()]
        if len(lines) == 3:  # a title line first
            lines = lines[1:]
        if len(lines) != 2:
            raise ValueError(f"{o.get('spacecraft')}: tle needs its two element lines")
        orbit = Orbit(str(o["spacecraft"]), lines[0], lines[1])
        start, end = parse_time(o["from"]), parse_time(o["to"])
        if end <= start:
            raise ValueError(f"{orbit.spacecraft}: 'to' is not after 'from'")
        names = o.get("stations") or list(gs)
        for name in names:
            if name not in gs:
                raise ValueError(f"{orbit.spacecraft}: unknown station {name!r}")
            out += predict_contacts(orbit, gs[name], start, end)
    return out
