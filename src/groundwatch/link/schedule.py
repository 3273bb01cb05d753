"""The contact plan: when each spacecraft is expected over each station.

File formats (times ISO-8601 in UTC; a trailing ``Z`` or ``+00:00`` is accepted, a time
without a zone is taken as UTC):

YAML::

    contacts:
      - {spacecraft: lander, station: gs1, start: 2025-01-01T10:00:00Z, end: 2025-01-01T10:12:00Z}

(a bare list of such mappings is accepted too). CSV, with a header line::

    spacecraft,station,start,end
    lander,gs1,2025-01-01T10:00:00Z,2025-01-01T10:12:00Z

Earth orbiters: contacts can instead be computed from a TLE and station locations (a
``stations:`` and an ``orbits:`` section, see ``groundwatch.link.passes``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml


class ScheduleError(ValueError):
    """A contact plan problem, naming the file and the row."""

    def __init__(self, file: str, problem: str, row: int | None = None) -> None:
        where = f"{file}: row {row}" if row is not None else file
        super().__init__(f"{where}: {problem}")
        self.file = file
        self.row = row
        self.problem = problem


@dataclass(slots=True, frozen=True)
class Contact:
    spacecraft: str
    station: str
    start_ns: int
    end_ns: int


class LosKind(StrEnum):
    UNEXPECTED = "unexpected"  # inside a planned contact
    EXPECTED = "expected"  # within the margin of a planned end
    UNPLANNED = "unplanned"  # no planned contact around it


def parse_time(value: Any) -> int:
    """ISO-8601 (or a datetime YAML already parsed) to UTC nanoseconds."""
    if isinstance(value, datetime):
        dt = value
    else:
        text = str(value).strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    seconds = int(dt.timestamp())
    return seconds * 1_000_000_000 + dt.microsecond * 1_000


class Schedule:
    """Planned contacts, looked up by spacecraft (and station)."""

    def __init__(self, contacts: Iterable[Contact]) -> None:
        self.contacts = sorted(contacts, key=lambda c: (c.start_ns, c.spacecraft, c.station))

    @classmethod
    def load(cls, path: Path) -> Schedule:
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() == ".csv":
            return cls.from_csv(text, str(path))
        return cls.from_yaml(text, str(path))

    @classmethod
    def from_yaml(cls, text: str, file: str = "<schedule>") -> Schedule:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ScheduleError(file, f"not valid YAML: {exc}") from exc
        computed: list[Contact] = []
        if isinstance(data, dict):
            if data.get("orbits"):
                computed = cls._orbits(data, file)
            data = data.get("contacts")
        if data is None:
            data = []
        if not isinstance(data, list):
            raise ScheduleError(file, "expected a list of contacts (or a 'contacts:' list)")
        return cls(cls._rows(data, file) + computed)

    @staticmethod
    def _orbits(data: dict[str, Any], file: str) -> list[Contact]:
        # Imported here: only files with TLEs need sgp4.
        from groundwatch.link.passes import contacts_from_orbits

        stations = data.get("stations")
        if not isinstance(stations, dict) or not stations:
            raise ScheduleError(file, "'orbits:' needs a 'stations:' mapping with locations")
        try:
            return contacts_from_orbits(stations, data["orbits"], parse_time)
        except (KeyError, TypeError, ValueError) as exc:
            raise ScheduleError(file, f"orbits: {exc}") from exc

    @classmethod
    def from_csv(cls, text: str, file: str = "<schedule>") -> Schedule:
        rows = [
            r
            for r in csv.DictReader(io.StringIO(text))
            if any((v or "").strip() for v in r.values())
        ]
        return cls(cls._rows(rows, file))

    @staticmethod
    def _rows(rows: list[Any], file: str) -> list[Contact]:
        out = []
        for i, row in enumerate(rows, start=1):
            if not isinstance(row, dict):
                raise ScheduleError(file, "a contact must be a mapping", i)
            missing = [k for k in ("spacecraft", "station", "start", "end") if not row.get(k)]
            if missing:
                raise ScheduleError(file, f"missing {', '.join(missing)}", i)
            try:
                start, end = parse_time(row["start"]), parse_time(row["end"])
            except ValueError as exc:
                raise ScheduleError(file, f"bad time: {exc}", i) from exc
            if end <= start:
                raise ScheduleError(file, "end is not after start", i)
            out.append(
                Contact(str(row["spacecraft"]).strip(), str(row["station"]).strip(), start, end)
            )
        return out

    def for_spacecraft(self, spacecraft: str) -> list[Contact]:
        return [c for c in self.contacts if c.spacecraft == spacecraft]

    def classify_los(
        self, spacecraft: str, t_ns: int, margin_ns: int
    ) -> tuple[LosKind, Contact | None]:
        """Judge a spacecraft LOS at ``t_ns`` against every station's planned contacts."""
        expected: Contact | None = None
        for c in self.for_spacecraft(spacecraft):
            if abs(t_ns - c.end_ns) <= margin_ns:
                expected = c
            elif c.start_ns <= t_ns < c.end_ns:
                return LosKind.UNEXPECTED, c
        if expected is not None:
            return LosKind.EXPECTED, expected
        return LosKind.UNPLANNED, None

    def current(self, spacecraft: str, t_ns: int) -> list[Contact]:
        return [c for c in self.for_spacecraft(spacecraft) if c.start_ns <= t_ns < c.end_ns]
