"""Building link events: stable ids, conditions and human text.

An event id is a hash of its condition, type and (deterministic) time, so the same pass
replayed raises events with the same ids. Conditions:

- ``LOS/<spacecraft>``: opened by LOS, EXPECTED_LOS, UNEXPECTED_LOS; closed by AOS
- ``LATE_AOS/<spacecraft>/<station>``: opened by LATE_AOS, closed by AOS from that station
- ``GROUND/<station>`` (``GROUND/broker`` for the MQTT connection): GROUND_PATH_DOWN/UP
- ``DEGRADED/<spacecraft>/<station>``: LINK_DEGRADED / LINK_RECOVERED
- ``LIMIT/<spacecraft>/<parameter>/<level>``: LIMIT_ENTER / LIMIT_LEAVE
- ``STALE/<spacecraft>/<parameter>``: STALE / FRESH
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from groundwatch.model import Event, EventType, Severity


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
