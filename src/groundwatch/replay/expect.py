"""Alert regression: the events a replay raised against an expected list (YAML).

Expected-events file::

    tolerance: 0.5          # seconds, optional (default 0.5)
    events:
      - {type: AOS, spacecraft: demo-lander, station: gs1, offset: 0.1}
      - {type: LOS, spacecraft: demo-lander, station: gs1, offset: 23.4}

A dictionary rule's event is named by the rule (``ALTITUDE_DISAGREEMENT``, and
``ALTITUDE_DISAGREEMENT_CLEAR`` when it stops holding).

``offset`` is pass time in seconds from the first replayed frame, so a file holds for any
``--time`` and any start time of the recording.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from groundwatch.model import Event, EventType

DEFAULT_TOLERANCE_S = 0.5


@dataclass(slots=True, frozen=True)
class ExpectedEvent:
    type: str
    spacecraft: str | None
    station: str | None
    offset: float  # seconds from the first frame

    def key(self) -> tuple[str, str | None, str | None]:
        return (self.type, self.spacecraft, self.station)

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "spacecraft": self.spacecraft,
            "station": self.station,
            "offset": self.offset,
        }

    def line(self) -> str:
        link = f"{self.spacecraft or '-'} @ {self.station or '-'}"
        return f"{self.offset:10.3f} s  {self.type:<16} {link}"


class ExpectFileError(ValueError):
    pass


def event_kind(e: Event) -> str:
    """The type an expected-events file names: a rule event by its rule (``NAME``, and
    ``NAME_CLEAR`` when it stops holding)."""
    rule = e.details.get("rule") if e.type in (EventType.RULE, EventType.RULE_CLEAR) else None
    if rule:
        return f"{rule}_CLEAR" if e.type is EventType.RULE_CLEAR else str(rule)
    return str(e.type.value)


def observed(events: Iterable[Event], first_ns: int) -> list[ExpectedEvent]:
    out = [
        ExpectedEvent(
            event_kind(e), e.spacecraft, e.station, round((e.time_ns - first_ns) / 1e9, 3)
        )
        for e in events
    ]
    out.sort(key=lambda e: (e.offset, e.type, e.spacecraft or "", e.station or ""))
    return out


def write_expected(path: Path, events: Sequence[ExpectedEvent], tolerance_s: float) -> None:
    doc = {"tolerance": tolerance_s, "events": [e.as_dict() for e in events]}
    header = "# groundwatch replay --write-expected: events raised, offsets from the first frame\n"
    path.write_text(header + yaml.safe_dump(doc, sort_keys=False, default_flow_style=None))


def load_expected(path: Path) -> tuple[list[ExpectedEvent], float]:
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ExpectFileError(f"{path}: {exc}") from exc
    if isinstance(doc, list):
        doc = {"events": doc}
    if not isinstance(doc, dict) or not isinstance(doc.get("events", []), list):
        raise ExpectFileError(f"{path}: expected a mapping with an 'events' list")
    tolerance = float(doc.get("tolerance", DEFAULT_TOLERANCE_S))
    out = []
    for i, item in enumerate(doc.get("events") or []):
        try:
            out.append(
                ExpectedEvent(
                    str(item["type"]),
                    item.get("spacecraft"),
                    item.get("station"),
                    float(item["offset"]),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ExpectFileError(f"{path}: events[{i}]: {exc!r}") from exc
    return out, tolerance


@dataclass(slots=True)
class Comparison:
    missing: list[ExpectedEvent]  # expected, not raised (or not within the tolerance)
    unexpected: list[ExpectedEvent]  # raised, not expected
    matched: int

    @property
    def ok(self) -> bool:
        return not self.missing and not self.unexpected

    def diff(self) -> str:
        """``-`` expected but not raised, ``+`` raised but not expected, in pass order."""
        lines = [("-", e) for e in self.missing] + [("+", e) for e in self.unexpected]
        lines.sort(key=lambda x: (x[1].offset, x[0]))
        return "\n".join(f"{sign} {e.line()}" for sign, e in lines)


def compare(
    expected: Sequence[ExpectedEvent], got: Sequence[ExpectedEvent], tolerance_s: float
) -> Comparison:
    """Pair each expected event with the nearest unpaired raised one of the same type and link
    within the tolerance (earliest expected first)."""
    free = list(got)
    missing = []
    matched = 0
    for exp in sorted(expected, key=lambda e: e.offset):
        best = None
        for i, g in enumerate(free):
            if g.key() == exp.key() and abs(g.offset - exp.offset) <= tolerance_s + 1e-9:
                if best is None or abs(g.offset - exp.offset) < abs(free[best].offset - exp.offset):
                    best = i
        if best is None:
            missing.append(exp)
        else:
            free.pop(best)
            matched += 1
    return Comparison(missing, free, matched)
