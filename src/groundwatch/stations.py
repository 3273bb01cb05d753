"""The stations heard lately: which are admitted, and when one is forgotten.

Station names come from the wire, and every part keeps something per station (link state,
accounting, merge counters, archive files, series). The pipeline admits a station the first
time it hears it (a frame, a heartbeat, a rejected or refused input) while fewer than
``max_stations`` are known; past that, what the new station sends is refused. A station
silent for ``forget_after_s`` is handed back by ``silent`` at the next sweep, and once the
pipeline has dropped what each part keeps for it, ``forget`` lets its place go: so
``max_stations`` bounds the stations heard lately, not every name ever seen.
"""

from __future__ import annotations

import time
from collections.abc import Callable

MAX_STATIONS = 1_000
FORGET_SWEEP_S = 10.0  # seconds between looks for silent stations


class StationRoster:
    """Stations by the monotonic time they were last heard, bounded by ``max_stations``."""

    def __init__(
        self,
        max_stations: int = MAX_STATIONS,
        forget_after_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_stations = max_stations
        self.forget_after_s = forget_after_s
        self._clock = clock
        self._heard: dict[str, float] = {}
        self._sweep_s = min(FORGET_SWEEP_S, forget_after_s / 2)
        self._next_sweep = clock() + self._sweep_s

    def __len__(self) -> int:
        return len(self._heard)

    def __contains__(self, station: object) -> bool:
        return station in self._heard

    def heard(self, station: str) -> bool:
        """The station was heard now; False when it is new and ``max_stations`` are known."""
        heard = self._heard
        if station not in heard and len(heard) >= self.max_stations:
            return False
        heard[station] = self._clock()
        return True

    def sweep_due(self) -> bool:
        return self._clock() >= self._next_sweep

    def silent(self) -> list[str]:
        """The stations silent for ``forget_after_s``; the next sweep is due a sweep later."""
        now = self._clock()
        self._next_sweep = now + self._sweep_s
        edge = now - self.forget_after_s
        return [name for name, heard in self._heard.items() if heard < edge]

    def forget(self, station: str) -> None:
        self._heard.pop(station, None)
