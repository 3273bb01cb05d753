"""The alert manager: events in, alerts out to every sink, deduplicated and acknowledged.

- An event opens a *condition* (``Event.condition``); while it is open, further events of
  the same condition are dropped (deduplication). A recovery event (``Event.recovery``) is
  its own alert and closes the condition; it carries ``clears`` = the id of the alert it
  ends. A recovery with nothing open (e.g. the first AOS) is passed on as a notice.
- Critical alerts are re-notified every ``renotify_interval`` seconds of pipeline time
  (``tick``) until acknowledged or recovered.
- ``ack(alert_id, by, comment)`` marks an alert acknowledged and sends an ``ACK`` alert to
  every sink (the MQTT sink also updates the retained state). The MQTT sink's command topic
  calls it too.
- Replays: alerts whose event source is not ``live`` go only to non-paging sinks (log,
  influx) unless ``page_replays``.

The manager never blocks: ``submit`` only puts into each sink's bounded queue.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from groundwatch.alerts.alert import Alert, Notification
from groundwatch.alerts.sinks import AlertSink
from groundwatch.model import Event, EventType, Severity
from groundwatch.parts import Registry

log = logging.getLogger("groundwatch.alerts")
S = 1_000_000_000


class AlertManager:
    def __init__(
        self,
        sinks: Sequence[AlertSink],
        renotify_interval: float = 300.0,
        page_replays: bool = False,
        clock: Callable[[], int] = time.time_ns,
        history: int = 10_000,
    ) -> None:
        self.sinks = list(sinks)
        self.renotify_ns = int(renotify_interval * S)
        self.page_replays = page_replays
        self.clock = clock
        self.active: dict[str, Alert] = {}  # condition -> open alert
        self._by_id: OrderedDict[str, Alert] = OrderedDict()
        self._history = history
        self.deduplicated = 0
        for sink in self.sinks:
            sink.on_ack = self._ack_command

    @classmethod
    def from_config(
        cls,
        tables: Iterable[Any],
        registry: Registry,
        renotify_interval: float = 300.0,
        page_replays: bool = False,
        clock: Callable[[], int] = time.time_ns,
    ) -> AlertManager:
        """Sinks from ``[[alerts]]`` tables (``config.PartConfig`` or mappings with
        ``type``), made by the registry's ``alert`` parts, validated without I/O; unknown
        types and bad options raise ConfigError."""
        sinks = []
        for i, table in enumerate(tables):
            if isinstance(table, Mapping):
                opts = {k: v for k, v in table.items() if k != "type"}
                type_ = str(table.get("type"))
            else:
                opts, type_ = table.options(), table.type
            sinks.append(registry.create("alert", type_, opts, f"alerts[{i}]"))
        return cls(sinks, renotify_interval, page_replays, clock)

    def sink(self, name: str) -> AlertSink:
        for s in self.sinks:
            if s.name == name:
                return s
        raise KeyError(name)

    async def start(self) -> None:
        for s in self.sinks:
            await s.start()

    async def stop(self, drain_timeout: float = 5.0) -> None:
        for s in self.sinks:
            await s.stop(drain_timeout)

    # --- events --------------------------------------------------------------------------

    def submit(self, events: Iterable[Event]) -> list[Alert]:
        """Turn events into alerts and hand them to the sinks. Returns what was sent."""
        out = []
        for e in events:
            alert = self._alert_for(e)
            if alert is not None:
                self._dispatch(alert)
                out.append(alert)
        return out

    def _alert_for(self, e: Event) -> Alert | None:
        if e.recovery:
            opened = self.active.pop(e.condition, None)
            return self._remember(
                Alert(e.id, e, Notification.RECOVERY, clears=opened.id if opened else None)
            )
        if e.condition in self.active:
            self.deduplicated += 1
            return None
        alert = Alert(e.id, e, Notification.NEW, last_notified_ns=self._now(e))
        self.active[e.condition] = alert
        return self._remember(alert)

    def _now(self, e: Event) -> int:
        # Re-notification runs on the pipeline clock the event came from.
        return e.time_ns

    def _remember(self, alert: Alert) -> Alert:
        self._by_id[alert.id] = alert
        while len(self._by_id) > self._history:
            self._by_id.popitem(last=False)
        return alert

    def _dispatch(self, alert: Alert) -> None:
        replay = alert.event.source != "live"
        for s in self.sinks:
            if replay and s.paging and not self.page_replays:
                continue
            s.offer(alert)

    def tick(self, now_ns: int) -> list[Alert]:
        """Re-notify unacknowledged critical alerts every ``renotify_interval``."""
        out = []
        for alert in list(self.active.values()):
            e = alert.event
            if e.severity is not Severity.CRITICAL or alert.acknowledged:
                continue
            if e.source != "live" and not self.page_replays:
                continue
            if now_ns - alert.last_notified_ns < self.renotify_ns:
                continue
            alert.last_notified_ns = now_ns
            alert.repeat += 1
            again = Alert(alert.id, e, Notification.REPEAT, repeat=alert.repeat)
            self._dispatch(again)
            out.append(again)
        return out

    # --- acknowledgement -----------------------------------------------------------------

    def ack(
        self, alert_id: str, by: str, comment: str | None = None, now_ns: int | None = None
    ) -> Alert | None:
        """Acknowledge an alert; None if the id is unknown. Acking twice is harmless."""
        alert = self._by_id.get(alert_id)
        if alert is None or alert.notification is not Notification.NEW:
            log.warning("ack for unknown alert %s by %s", alert_id, by)
            return None
        t = now_ns if now_ns is not None else self.clock()
        alert.acknowledged, alert.acked_by, alert.ack_comment = True, by, comment
        e = alert.event
        text = f"{e.title} acknowledged by {by}" + (f": {comment}" if comment else "")
        ack_event = Event(
            type=EventType.ACK,
            severity=Severity.INFO,
            time_ns=t,
            spacecraft=e.spacecraft,
            station=e.station,
            title=f"ACK {e.title}",
            text=text,
            condition=e.condition,
            id=f"{alert.id}-ack",
            source=e.source,
            details={"alert_id": alert.id, "by": by, "comment": comment, "acked": e.type.value},
        )
        notice = Alert(alert.id, ack_event, Notification.ACK, True, by, comment)
        self._dispatch(notice)
        return notice

    def _ack_command(self, alert_id: str, by: str, comment: str | None) -> None:
        self.ack(alert_id, by, comment)

    def counters(self) -> dict[str, dict[str, int]]:
        out = {s.name: s.counters.as_dict() for s in self.sinks}
        out["manager"] = {"active": len(self.active), "deduplicated": self.deduplicated}
        return out
