"""Merging the copies of one frame heard by several stations.

The pipeline gives each copy an identity, (spacecraft, vcid, frame count, content hash), and
asks ``offer``: True means "first valid copy: decode and store it", False means a duplicate
or a copy with a bad CRC. A corrupted copy has another content hash, so it never hides the
good one: whichever order they arrive in, the copy with a valid CRC is the one decoded.

Memory is bounded by a time window (identities older than ``window`` seconds are forgotten;
a frame count repeats only after a counter wrap, far longer than any window) and by a size
cap (oldest forgotten first).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

from groundwatch.model import Point

MERGE_MEASUREMENT = "link_merge"


@dataclass(slots=True)
class StationContribution:
    copies: int = 0
    first: int = 0  # copies that were the first valid one (decoded and stored)
    duplicates: int = 0  # valid copies already received from a station
    crc_failures: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "copies": self.copies,
            "first": self.first,
            "duplicates": self.duplicates,
            "crc_failures": self.crc_failures,
        }


class FrameMerger:
    """First-valid-copy wins, with per-station contribution counters."""

    def __init__(self, window: float = 30.0, max_entries: int = 200_000) -> None:
        self.window_ns = int(window * 1e9)
        self.max_entries = max_entries
        self._seen: OrderedDict[Hashable, int] = OrderedDict()  # identity -> first time
        self._oldest_ns: int | None = None  # time of the first entry of _seen
        self.stations: dict[str, StationContribution] = {}
        self.forgotten = 0

    def offer(
        self, station: str, identity_key: tuple[Hashable, ...], crc_ok: bool | None, now_ns: int
    ) -> bool:
        s = self.stations.get(station)
        if s is None:
            s = self.stations[station] = StationContribution()
        s.copies += 1
        oldest = self._oldest_ns
        if oldest is not None and oldest < now_ns - self.window_ns:
            self._forget(now_ns)
        if crc_ok is False:
            s.crc_failures += 1
            return False
        seen = self._seen
        if identity_key in seen:
            s.duplicates += 1
            return False
        if not seen:
            self._oldest_ns = now_ns
        seen[identity_key] = now_ns
        s.first += 1
        if len(seen) > self.max_entries:
            seen.popitem(last=False)
            self._oldest_ns = next(iter(seen.values()), None)
            self.forgotten += 1
        return True

    def _forget(self, now_ns: int) -> None:
        edge = now_ns - self.window_ns
        seen = self._seen
        while seen:
            t = next(iter(seen.values()))
            if t >= edge:
                self._oldest_ns = t
                return
            seen.popitem(last=False)
        self._oldest_ns = None

    def __len__(self) -> int:
        return len(self._seen)

    def counts(self) -> dict[str, dict[str, int]]:
        return {name: s.as_dict() for name, s in self.stations.items()}

    def points(self, now_ns: int) -> list[Point]:
        """One ``link_merge`` point per station (cumulative counters)."""
        return [
            Point(MERGE_MEASUREMENT, {"station": name}, dict(s.as_dict()), now_ns)
            for name, s in self.stations.items()
        ]

    def forget_station(self, station: str) -> None:
        """Drop a long-silent station's counters (bounded per-station state)."""
        self.stations.pop(station, None)
