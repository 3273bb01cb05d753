"""The alert budget of a pass: notifications counted as the manager sends them, the first
warning and its lead time, a flickering end of pass kept as one pass."""

from __future__ import annotations

from groundwatch.alerts.budget import pass_budgets
from groundwatch.model import Event, EventType, Severity

S = 1_000_000_000
T0 = 1_700_000_000 * S


def ev(t_s: float, type_: EventType, sev: Severity, condition: str, recovery: bool = False,
       **details: object) -> Event:  # fmt: skip
    t = T0 + int(t_s * S)
    return Event(type_, sev, t, "lander", "gs1", type_.value, "", condition, f"{condition}{t}",
                 recovery, "live", dict(details))  # fmt: skip


def test_budget_counts_escalation_flaps_and_lead_time() -> None:
    info, warn, crit = Severity.INFO, Severity.WARNING, Severity.CRITICAL
    events = [
        ev(0, EventType.AOS, info, "LOS/lander", recovery=True),
        ev(10, EventType.LIMIT_ENTER, warn, "LIMIT/lander/ebn0"),
        ev(11, EventType.LIMIT_LEAVE, info, "LIMIT/lander/ebn0", recovery=True),
        ev(12, EventType.LIMIT_ENTER, warn, "LIMIT/lander/ebn0"),  # a flap: folded
        ev(20, EventType.RULE, crit, "RULE/lander/ALT", rule="ALT"),
        ev(30, EventType.LIMIT_ENTER, crit, "LIMIT/lander/ebn0"),  # escalation
        ev(40, EventType.UNEXPECTED_LOS, crit, "LOS/lander"),
        ev(41, EventType.AOS, info, "LOS/lander", recovery=True),  # flicker: same pass
        ev(45, EventType.UNEXPECTED_LOS, crit, "LOS/lander"),
        ev(500, EventType.AOS, info, "LOS/lander", recovery=True),  # the next pass
    ]
    first, second = pass_budgets(events, flap_window=10.0)
    assert first.total == 7 and first.flaps_folded == 1 and first.escalations == 1
    assert first.notifications[("LIMIT_ENTER", "critical", "escalation")] == 1
    assert first.notifications[("ALT", "critical", "new")] == 1
    assert first.first_warning is not None and first.first_warning.time_ns == T0 + 10 * S
    assert first.critical_los is not None and first.critical_los.time_ns == T0 + 45 * S
    assert first.lead_s == 35.0
    assert second.total == 1 and second.first_warning is None and second.lead_s is None
    text = "\n".join(first.lines())
    assert "7 notifications, 1 flaps folded, 1 escalations" in text
    assert "first warning: LIMIT_ENTER at" in text and "35.0 s before UNEXPECTED_LOS" in text


def test_notifications_read_back_count_the_flaps_their_recovery_folded() -> None:
    events = [
        ev(0, EventType.LINK_DEGRADED, Severity.WARNING, "DEGRADED/lander/gs1"),
        ev(9, EventType.LINK_RECOVERED, Severity.INFO, "DEGRADED/lander/gs1", True, flaps=3),
    ]
    (b,) = pass_budgets(events, flap_window=0.0)
    assert b.total == 2 and b.flaps_folded == 3
