"""The alert manager: events in, alerts out to every sink, deduplicated and acknowledged.

- An event opens a *condition* (``Event.condition``): one alert per condition. While it is
  open, a further event of the same condition that is more severe updates the alert and is
  notified as an ``ESCALATION`` (same alert id; yellow -> red limit); a less severe one
  de-escalates it silently (counted); one as severe is dropped (deduplication). A recovery
  event (``Event.recovery``) is its own alert and closes the condition; it carries
  ``clears`` = the id of the alert it ends. A recovery with nothing open (e.g. the first
  AOS) is passed on as a notice.
- Flap folding (``flap_window`` seconds of pass time, ``[link] flap_window``, 10 s in the
  pipeline): a recovery of a limit, link quality, stale value or rule (``FOLDED``) is held
  that long before it is notified; if the condition comes
  back meanwhile, the alert simply stays open with one more ``flaps`` and nothing is sent.
  The recovery finally notified carries the count. ``flush`` (at stop) sends what is held.
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
from dataclasses import replace
from typing import Any

from groundwatch.alerts.alert import Alert, Notification
from groundwatch.alerts.sinks import AlertSink
from groundwatch.model import Event, EventType, Severity
from groundwatch.parts import Registry

log = logging.getLogger("groundwatch.alerts")
# Recoveries held for the flap window: conditions that toggle with noise. A loss of signal
# and its AOS, or a ground path, are each notified at once, every time.
FOLDED = frozenset(
    {EventType.LIMIT_LEAVE, EventType.LINK_RECOVERED, EventType.FRESH, EventType.RULE_CLEAR}
)
S = 1_000_000_000
# Alerts kept for acknowledgement by id: an event can be large (a LOS names the stations of
# its pass), so the history is bounded in bytes as well as in alerts.
HISTORY_BYTES = 16 << 20
# Conditions that belong to one station (the last part of the condition names it).
STATION_SCOPED = frozenset({"GROUND", "DEGRADED", "LATE_AOS"})


class AlertManager:
    def __init__(
        self,
        sinks: Sequence[AlertSink],
        renotify_interval: float = 300.0,
        page_replays: bool = False,
        clock: Callable[[], int] = time.time_ns,
        history: int = 10_000,
        flap_window: float = 0.0,
        history_bytes: int = HISTORY_BYTES,
    ) -> None:
        self.sinks = list(sinks)
        self.flap_ns = int(flap_window * S)
        self.held: dict[str, Event] = {}  # condition -> recovery being held
        self._held_until: dict[str, int] = {}  # condition -> when its recovery is released
        self._now_ns: int | None = None  # the latest pipeline time ``tick`` was given
        self.escalated = 0
        self.deescalated = 0
        self.flaps_suppressed = 0
        self.renotify_ns = int(renotify_interval * S)
        self.page_replays = page_replays
        self.clock = clock
        self.active: dict[str, Alert] = {}  # condition -> open alert
        # Alerts by id, for acknowledgements: the newest ``history`` within ``history_bytes``.
        self._by_id: OrderedDict[str, Alert] = OrderedDict()
        self._sizes: dict[str, int] = {}  # estimated bytes of each alert in _by_id
        self._history = history
        self._history_bytes = history_bytes
        self.history_bytes = 0
        self.deduplicated = 0
        self.forgotten = 0  # open alerts of forgotten stations let go (forget_station)
        for sink in self.sinks:
            sink.on_ack = self._ack_command

    @classmethod
    def from_config(
        cls,
        tables: Iterable[Any],
        registry: Registry | None = None,
        renotify_interval: float = 300.0,
        page_replays: bool = False,
        clock: Callable[[], int] = time.time_ns,
        flap_window: float = 0.0,
    ) -> AlertManager:
        """Sinks from ``[[alerts]]`` tables (``config.PartConfig`` or mappings with
        ``type``), made by the registry's ``alert`` parts, validated without I/O; unknown
        types and bad options raise ConfigError. Without a registry, the one every
        command uses (``plugins.default_registry``)."""
        if registry is None:
            from groundwatch.plugins import default_registry

            registry = default_registry()
        sinks = []
        for i, table in enumerate(tables):
            if isinstance(table, Mapping):
                opts = {k: v for k, v in table.items() if k != "type"}
                type_ = str(table.get("type"))
            else:
                opts, type_ = table.options(), table.type
            sinks.append(registry.create("alert", type_, opts, f"alerts[{i}]"))
        return cls(sinks, renotify_interval, page_replays, clock, flap_window=flap_window)

    def sink(self, name: str) -> AlertSink:
        for s in self.sinks:
            if s.name == name:
                return s
        raise KeyError(name)

    async def start(self) -> None:
        for s in self.sinks:
            await s.start()

    async def stop(self, drain_timeout: float = 5.0) -> None:
        self.flush()
        for s in self.sinks:
            await s.stop(drain_timeout)

    # --- events --------------------------------------------------------------------------

    def submit(self, events: Iterable[Event]) -> list[Alert]:
        """Turn events into alerts and hand them to the sinks. Returns what was sent."""
        out = []
        for e in events:
            out += self._release(e.time_ns)
            alert = self._alert_for(e)
            if alert is not None:
                self._dispatch(alert)
                out.append(alert)
        return out

    def _alert_for(self, e: Event) -> Alert | None:
        if e.recovery:
            if self.flap_ns > 0 and e.type in FOLDED and e.condition in self.active:
                self.held[e.condition] = e  # notified once the window is quiet
                # From the event's time, or from now if the station stamped it ahead: a
                # recovery must not wait for a clock that is hours fast.
                start = e.time_ns if self._now_ns is None else min(e.time_ns, self._now_ns)
                self._held_until[e.condition] = start + self.flap_ns
                return None
            return self._recovery(e, self.active.pop(e.condition, None))
        held = self.held.pop(e.condition, None)
        self._held_until.pop(e.condition, None)
        opened = self.active.get(e.condition)
        if held is not None and opened is not None:
            # back within the flap window: the same alert, one more flap
            self.flaps_suppressed += 1
            opened = self._update(opened, flaps=opened.flaps + 1)
        if opened is None:
            alert = Alert(e.id, e, Notification.NEW, last_notified_ns=self._now(e))
            self.active[e.condition] = alert
            return self._remember(alert)
        if e.severity > opened.event.severity:
            self.escalated += 1
            # a worse state needs a fresh acknowledgement
            opened = self._update(opened, event=e, last_notified_ns=self._now(e),
                                  acknowledged=False)  # fmt: skip
            return Alert(opened.id, e, Notification.ESCALATION, flaps=opened.flaps)
        if e.severity < opened.event.severity:
            self.deescalated += 1
            self._update(opened, event=e)
            return None
        if held is None:
            self.deduplicated += 1
        return None

    def _update(self, alert: Alert, **changes: Any) -> Alert:
        """The open alert in a new state. A copy: sinks may still hold the one they were
        handed, and must send what it said then."""
        new = replace(alert, **changes)
        self.active[new.event.condition] = new
        if alert.id in self._by_id:
            self._by_id[alert.id] = new
            self._resize(new)
        return new

    def _recovery(self, e: Event, opened: Alert | None) -> Alert:
        flaps = opened.flaps if opened is not None else 0
        if flaps:
            e.details["flaps"] = flaps  # stored with the event (the report counts them)
        return self._remember(
            Alert(e.id, e, Notification.RECOVERY, clears=opened.id if opened else None,
                  flaps=flaps)
        )  # fmt: skip

    def _release(self, now_ns: int, everything: bool = False) -> list[Alert]:
        """Recoveries held for the flap window whose window has passed quietly."""
        out = []
        for condition, e in list(self.held.items()):
            if everything or now_ns >= self._held_until[condition]:
                del self.held[condition], self._held_until[condition]
                alert = self._recovery(e, self.active.pop(condition, None))
                self._dispatch(alert)
                out.append(alert)
        return out

    def flush(self) -> list[Alert]:
        """Send every held recovery now (shutdown, end of a replay)."""
        return self._release(0, everything=True)

    def _now(self, e: Event) -> int:
        # Re-notification runs on the pipeline clock the event came from.
        return e.time_ns

    def _remember(self, alert: Alert) -> Alert:
        self._by_id[alert.id] = alert
        self._by_id.move_to_end(alert.id)
        self._resize(alert)
        while len(self._by_id) > 1 and (
            len(self._by_id) > self._history or self.history_bytes > self._history_bytes
        ):
            old_id, _ = self._by_id.popitem(last=False)
            self.history_bytes -= self._sizes.pop(old_id)
        return alert

    def _resize(self, alert: Alert) -> None:
        size = alert.event.approx_bytes()
        self.history_bytes += size - self._sizes.get(alert.id, 0)
        self._sizes[alert.id] = size

    def _dispatch(self, alert: Alert) -> None:
        replay = alert.event.source != "live"
        for s in self.sinks:
            if replay and s.paging and not self.page_replays:
                continue
            s.offer(alert)

    def tick(self, now_ns: int) -> list[Alert]:
        """Re-notify unacknowledged critical alerts every ``renotify_interval``."""
        self._now_ns = now_ns if self._now_ns is None else max(self._now_ns, now_ns)
        out = self._release(now_ns)
        for condition, alert in list(self.active.items()):
            e = alert.event
            if condition in self.held:
                continue  # recovered, waiting out the flap window
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
        if alert is None:
            # open longer than the history holds: still open, still to be acknowledged
            alert = next((a for a in self.active.values() if a.id == alert_id), None)
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

    def forget_station(self, station: str) -> int:
        """A station silent for long is forgotten (stations come from the wire): its open
        station-scoped alerts (``GROUND/<station>``, ``DEGRADED/<spacecraft>/<station>``,
        ``LATE_AOS/<spacecraft>/<station>``) would otherwise stay open for ever. Each is
        dropped unless it is critical and not acknowledged (that one waits for a human).
        Returns how many were dropped (counted as ``forgotten``)."""
        dropped = 0
        for condition, alert in list(self.active.items()):
            head, _, tail = condition.partition("/")
            if head not in STATION_SCOPED or tail.rsplit("/", 1)[-1] != station:
                continue
            critical = alert.event.severity >= Severity.CRITICAL
            if critical and not alert.acknowledged:
                continue
            del self.active[condition]
            self.held.pop(condition, None)
            self._held_until.pop(condition, None)
            dropped += 1
        self.forgotten += dropped
        return dropped

    def _ack_command(self, alert_id: str, by: str, comment: str | None) -> None:
        self.ack(alert_id, by, comment)

    def counters(self) -> dict[str, dict[str, int]]:
        out = {s.name: s.counters.as_dict() for s in self.sinks}
        out["manager"] = {
            "active": len(self.active),
            "history": len(self._by_id),
            "history_bytes": self.history_bytes,
            "deduplicated": self.deduplicated,
            "forgotten": self.forgotten,
            "escalated": self.escalated,
            "deescalated": self.deescalated,
            "flaps_suppressed": self.flaps_suppressed,
        }
        return out
