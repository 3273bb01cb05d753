"""What a pipeline run counts and keeps: its figures, its latest events, its stage deadlines.

``PipelineStats`` is what ``Pipeline.run`` returns and ``Pipeline.status`` reports. A live run
raises events for months, so its event history keeps the newest ``EVENTS_KEPT`` within
``EVENTS_BYTES`` (an event can be large: a LOS names the stations of its pass); a replay,
which ends, keeps them all. ``RateLimitedLog`` keeps a flood of bad input from flooding the
log.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field

from groundwatch.model import Event

log = logging.getLogger("groundwatch.pipeline")

EVENTS_KEPT = 10_000
EVENTS_BYTES = 16 << 20  # and within this many bytes (a LOS names the stations of its pass)


@dataclass(slots=True)
class StageDeadlines:
    """Seconds each shutdown stage may take."""

    sources: float = 15.0
    decode: float = 60.0
    alerts: float = 5.0
    store: float = 60.0


@dataclass(slots=True)
class PipelineStats:
    frames: int = 0
    duplicates: int = 0
    packets: int = 0
    points: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    # The latest events (a live run raises them for months: only the newest are kept; a
    # replay, which ends, keeps them all), and how many there were of each type.
    events: deque[Event] = field(default_factory=lambda: deque(maxlen=EVENTS_KEPT))
    event_sizes: deque[int] = field(default_factory=deque)  # estimated bytes, as ``events``
    events_bytes: int = 0
    event_counts: dict[str, int] = field(default_factory=dict)
    recovered_frames: int = 0
    refused_stations: int = 0  # frames and heartbeats of new stations past max_stations
    forgotten_stations: int = 0  # dropped after station_forget_after_s of silence

    def keep_event(self, e: Event) -> None:
        """Into the history (the newest ``maxlen`` within EVENTS_BYTES), and counted."""
        self.event_counts[e.type.value] = self.event_counts.get(e.type.value, 0) + 1
        events, sizes = self.events, self.event_sizes
        if events.maxlen is None:  # a replay, which ends, keeps every event
            events.append(e)
            return
        if len(events) == events.maxlen:
            self.events_bytes -= sizes.popleft()
        size = e.approx_bytes()
        events.append(e)
        sizes.append(size)
        self.events_bytes += size
        while self.events_bytes > EVENTS_BYTES and len(events) > 1:
            events.popleft()
            self.events_bytes -= sizes.popleft()


class RateLimitedLog:
    """At most one log line per second per kind (a flood of bad frames must not flood logs)."""

    def __init__(self, interval_s: float = 1.0) -> None:
        self._interval = interval_s
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, kind: str, msg: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last.get(kind, -1e9) >= self._interval:
            extra = self._suppressed.pop(kind, 0)
            suffix = f" (+{extra} more since last report)" if extra else ""
            log.warning(msg + suffix, *args)
            self._last[kind] = now
        else:
            self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
