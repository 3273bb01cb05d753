"""Building link events: stable ids, conditions and human text.

An event id is a hash of its condition, type and (deterministic) time, so the same pass
replayed raises events with the same ids. Conditions:

- ``LOS/<spacecraft>``: opened by LOS, EXPECTED_LOS, UNEXPECTED_LOS; closed by AOS
- ``LATE_AOS/<spacecraft>/<station>``: opened by LATE_AOS, closed by AOS from that station
- ``GROUND/<station>`` (``GROUND/broker`` for the MQTT connection): GROUND_PATH_DOWN/UP
- ``DEGRADED/<spacecraft>/<station>``: LINK_DEGRADED / LINK_RECOVERED
- ``LIMIT/<spacecraft>/<parameter>``: LIMIT_ENTER (one per confirmed change, at the most
  severe level entered: an escalation or de-escalation of the same condition) / LIMIT_LEAVE
- ``RULE/<spacecraft>/<rule>``: RULE / RULE_CLEAR (dictionary consistency rules)
- ``STALE/<spacecraft>/<parameter>``: STALE / FRESH
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from groundwatch.link.schedule import Contact, LosKind
from groundwatch.model import Event, EventType, Severity

S = 1_000_000_000


def event_id(condition: str, type_: EventType, time_ns: int) -> str:
    digest = hashlib.sha1(f"{condition}|{type_.value}|{time_ns}".encode()).hexdigest()
    return digest[:12]


def iso(t_ns: int | None) -> str | None:
    if t_ns is None:
        return None
    dt = datetime.fromtimestamp(t_ns // 1_000_000_000, tz=UTC)
    ms = (t_ns % 1_000_000_000) // 1_000_000
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms:03d}Z"


def make_event(
    type_: EventType,
    severity: Severity,
    time_ns: int,
    spacecraft: str | None,
    station: str | None,
    title: str,
    text: str,
    condition: str,
    source: str,
    recovery: bool = False,
    details: dict[str, Any] | None = None,
) -> Event:
    return Event(
        type=type_,
        severity=severity,
        time_ns=time_ns,
        spacecraft=spacecraft,
        station=station,
        title=title,
        text=text,
        condition=condition,
        id=event_id(condition, type_, time_ns),
        recovery=recovery,
        source=source,
        details=details or {},
    )


def format_values(values: dict[str, Any], limit: int = 8) -> str:
    parts = []
    for name, v in list(values.items())[:limit]:
        parts.append(f"{name}={v:.6g}" if isinstance(v, float) else f"{name}={v}")
    return ", ".join(parts) if parts else "none"


@dataclass(slots=True)
class LosReport:
    """What a spacecraft LOS event says."""

    spacecraft: str
    station: str  # the last station that heard it
    time_ns: int  # last good frame (or ground path back) + threshold
    last_good_ns: int
    threshold_ns: int
    kind: LosKind
    contact: Contact | None
    scheduled: bool  # a contact plan exists at all
    frames_in_pass: int
    station_frames: dict[str, int]
    last_values: dict[str, Any]


LOS_STATIONS = 20  # stations named in a LOS event's details

_LOS_KINDS = {
    LosKind.UNEXPECTED: (EventType.UNEXPECTED_LOS, Severity.CRITICAL, "inside a planned contact"),
    LosKind.EXPECTED: (EventType.EXPECTED_LOS, Severity.INFO, "at the planned end of contact"),
    LosKind.UNPLANNED: (EventType.LOS, Severity.WARNING, "no contact planned"),
}


def _station_frames(frames: dict[str, int]) -> dict[str, Any]:
    """The stations that heard the pass, busiest first: at most ``LOS_STATIONS`` by name
    (a LOS goes into every alert payload, and station names come from the wire), the rest
    as a count and a sum."""
    busiest = sorted(frames.items(), key=lambda kv: (-kv[1], kv[0]))
    out: dict[str, Any] = {"station_frames": dict(busiest[:LOS_STATIONS])}
    rest = busiest[LOS_STATIONS:]
    if rest:
        out["other_stations"] = len(rest)
        out["other_station_frames"] = sum(n for _, n in rest)
    return out


def los_event(r: LosReport, source: str) -> Event:
    type_, sev, how = _LOS_KINDS[r.kind]
    if not r.scheduled:
        how = "no schedule"
    details: dict[str, Any] = {
        "last_good_time": iso(r.last_good_ns),
        "last_good_ns": r.last_good_ns,
        "threshold_s": r.threshold_ns / S,
        "frames_in_pass": r.frames_in_pass,
        **_station_frames(r.station_frames),
        "last_values": r.last_values,
        "los_kind": r.kind.value,
    }
    if r.contact is not None:
        c = r.contact
        details["contact"] = {"station": c.station, "start": iso(c.start_ns), "end": iso(c.end_ns)}
    sc = r.spacecraft
    text = (
        f"{sc}: no valid frame from any station for {r.threshold_ns / S:g} s ({how}); "
        f"last good frame {iso(r.last_good_ns)} via {r.station}; {r.frames_in_pass} frames "
        f"this pass; last values: {format_values(r.last_values)}"
    )
    title = f"{type_.value} {sc}"
    return make_event(type_, sev, r.time_ns, sc, r.station, title, text, f"LOS/{sc}", source,
                      details=details)  # fmt: skip
