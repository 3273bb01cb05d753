"""Events for alert tests: the critical one a flight controller must acknowledge."""

from __future__ import annotations

import time

from groundwatch.model import Event, EventType, Severity


def unexpected_los(spacecraft: str = "lander", station: str = "gs1") -> Event:
    """An UNEXPECTED_LOS raised now, with an id of its own."""
    now = time.time_ns()
    return Event(
        type=EventType.UNEXPECTED_LOS,
        severity=Severity.CRITICAL,
        time_ns=now,
        spacecraft=spacecraft,
        station=station,
        title=f"UNEXPECTED_LOS {spacecraft}",
        text="link lost inside a planned contact",
        condition=f"LOS/{spacecraft}",
        id=f"los-{now}",
    )
