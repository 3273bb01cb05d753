"""The alert budget of a pass: what a controller was sent, and how early the warning came.

``pass_budgets(events, flap_window)`` runs the events of a run (live, replay, or read back
from the store) through the alert manager's own rules (one alert per condition,
escalation, flap folding; no sinks) and reports, per pass (a pass ends with a LOS event):

- notifications by type and severity (new alerts, escalations, recoveries; a rule's alert
  is named by its rule),
- escalations, silent de-escalations and flaps folded,
- the first warning or critical notification and its lead time over the pass's last
  critical LOS.

``groundwatch replay`` and ``groundwatch report`` print it (``lines``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from groundwatch.alerts.alert import Alert, Notification, iso
from groundwatch.alerts.manager import AlertManager
from groundwatch.model import Event, EventType, Severity

S = 1_000_000_000
LOS_TYPES = (EventType.LOS, EventType.UNEXPECTED_LOS, EventType.EXPECTED_LOS)


def event_kind(e: Event) -> str:
    """A rule's events are named by the rule; every other event by its type."""
    rule = e.details.get("rule") if e.type in (EventType.RULE, EventType.RULE_CLEAR) else None
    if rule:
        return f"{rule}_CLEAR" if e.type is EventType.RULE_CLEAR else str(rule)
    return e.type.value


@dataclass(slots=True)
class PassBudget:
    number: int
    start_ns: int
    end_ns: int
    notifications: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    flaps_folded: int = 0
    escalations: int = 0
    deescalations: int = 0
    first_warning: Event | None = None
    critical_los: Event | None = None
    timeline: list[tuple[Alert, bool]] = field(default_factory=list)  # (alert, first warning)

    @property
    def total(self) -> int:
        return sum(self.notifications.values())

    @property
    def lead_s(self) -> float | None:
        if self.first_warning is None or self.critical_los is None:
            return None
        return (self.critical_los.time_ns - self.first_warning.time_ns) / S

    def as_dict(self) -> dict[str, Any]:
        return {
            "pass": self.number,
            "start": iso(self.start_ns),
            "end": iso(self.end_ns),
            "notifications": self.total,
            "by_type": [
                {"type": t, "severity": sev, "notification": n, "count": c}
                for (t, sev, n), c in sorted(self.notifications.items())
            ],
            "flaps_folded": self.flaps_folded,
            "escalations": self.escalations,
            "deescalations": self.deescalations,
            "first_warning": _brief(self.first_warning),
            "critical_los": _brief(self.critical_los),
            "lead_time_s": self.lead_s,
            "timeline": [
                {
                    "time": iso(a.event.time_ns),
                    "time_ns": a.event.time_ns,
                    "type": event_kind(a.event),
                    "severity": a.event.severity.label,
                    "notification": a.notification.value,
                    "title": a.event.title,
                    "text": a.event.text,
                    "first_warning": first,
                }
                for a, first in self.timeline
            ],
        }

    def lines(self) -> list[str]:
        head = (
            f"alert budget, pass {self.number} ({iso(self.start_ns)} to {iso(self.end_ns)}): "
            f"{self.total} notifications, {self.flaps_folded} flaps folded, "
            f"{self.escalations} escalations"
        )
        out = [head]
        for (kind, sev, how), n in sorted(self.notifications.items()):
            out.append(f"  {n:3d}  {kind} {sev} ({how})")
        if self.first_warning is not None:
            fw = self.first_warning
            lead = self.lead_s
            tail = (
                f", {lead:.1f} s before {self.critical_los.type.value}"
                if lead is not None and self.critical_los is not None
                else ""
            )
            out.append(f"  first warning: {event_kind(fw)} at {iso(fw.time_ns)}{tail}")
        elif self.critical_los is not None:
            out.append(f"  no warning before {self.critical_los.type.value}")
        return out


def _brief(e: Event | None) -> dict[str, Any] | None:
    if e is None:
        return None
    return {"type": event_kind(e), "time": iso(e.time_ns), "time_ns": e.time_ns}


def pass_budgets(
    events: Iterable[Event], flap_window: float = 10.0, pass_gap: float = 60.0
) -> list[PassBudget]:
    """Per pass: a pass ends with a LOS after which nothing happens for ``pass_gap``
    seconds (a link flickering at the end of a pass stays one pass; its last critical LOS
    is the one the lead time is measured to). ``flap_window=0`` for notifications the
    manager already folded (read back from the store): the flaps are then those their
    recoveries say they folded."""
    ordered = sorted((e for e in events if e.type is not EventType.ACK), key=lambda e: e.time_ns)
    manager = AlertManager([], flap_window=flap_window)
    gap_ns = int(pass_gap * S)
    passes: list[PassBudget] = []
    current: PassBudget | None = None
    los_at: int | None = None
    for e in ordered:
        if current is not None and los_at is not None and e.time_ns - los_at > gap_ns:
            _count(current, manager.flush())
            current = None
        if current is None:
            current = PassBudget(len(passes) + 1, e.time_ns, e.time_ns)
            passes.append(current)
        before = (manager.flaps_suppressed, manager.escalated, manager.deescalated)
        sent = manager.submit([e])
        current.flaps_folded += manager.flaps_suppressed - before[0]
        current.escalations += manager.escalated - before[1]
        current.deescalations += manager.deescalated - before[2]
        current.end_ns = e.time_ns
        _count(current, sent)
        los_at = e.time_ns if e.type in LOS_TYPES else None
        if e.type in LOS_TYPES and e.severity is Severity.CRITICAL:
            current.critical_los = e
    if current is not None:
        _count(current, manager.flush())
    return passes


def _count(budget: PassBudget, sent: Sequence[Alert]) -> None:
    for a in sent:
        e = a.event
        if a.notification is Notification.RECOVERY and not a.flaps:
            budget.flaps_folded += int(e.details.get("flaps", 0) or 0)
        budget.notifications[(event_kind(e), e.severity.label, a.notification.value)] += 1
        first = False
        if (
            budget.first_warning is None
            and e.severity >= Severity.WARNING
            and e.type not in LOS_TYPES
            and a.notification in (Notification.NEW, Notification.ESCALATION)
        ):
            budget.first_warning, first = e, True
        budget.timeline.append((a, first))
