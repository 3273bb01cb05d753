"""The store's one alarm: the spool is over its disk budget and new points are refused."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from groundwatch.model import Event, EventType, Severity

log = logging.getLogger(__name__)


class SpoolFullAlarm:
    """Raised once when the spool first refuses a batch, cleared when it accepts again."""

    def __init__(self, on_alert: Callable[[Event], None] | None, budget_mb: float) -> None:
        self.on_alert = on_alert
        self.budget_mb = budget_mb
        self.since_ns: int | None = None

    @property
    def active(self) -> bool:
        return self.since_ns is not None

    def raise_(self, details: dict[str, int]) -> None:
        if self.since_ns is not None:
            return
        self.since_ns = time.time_ns()
        log.critical("spool full (%g MB budget): new points are refused", self.budget_mb)
        self._emit(False, details)

    def clear(self, details: dict[str, int]) -> None:
        if self.since_ns is not None:
            self._emit(True, details)
            self.since_ns = None

    def _emit(self, recovery: bool, details: dict[str, int]) -> None:
        if self.on_alert is None:
            return
        text = (
            "spool accepts points again"
            if recovery
            else f"InfluxDB unreachable and spool over its {self.budget_mb:g} MB budget: new "
            "points are refused (the raw frame archive still has their frames)"
        )
        event = Event(
            type=EventType.SPOOL_FULL,
            severity=Severity.INFO if recovery else Severity.CRITICAL,
            time_ns=time.time_ns(),
            spacecraft=None,
            station=None,
            title="Store spool full" + (" (cleared)" if recovery else ""),
            text=text,
            condition="SPOOL_FULL/store",
            id=f"SPOOL_FULL/store/{self.since_ns}",
            recovery=recovery,
            details=dict(details),
        )
        try:
            self.on_alert(event)
        except Exception:  # the caller's bug must not stop delivery
            log.exception("store: on_alert callback failed")
