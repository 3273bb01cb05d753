"""No flapping: limit persistence in time with a deadband, one alert that escalates and
de-escalates, LINK_DEGRADED enter and clear delays, flaps folded into one notification."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from groundwatch.alerts.alert import Notification
from groundwatch.alerts.manager import AlertManager
from groundwatch.config import LinkConfig
from groundwatch.decoders.api import Limits
from groundwatch.link.monitor import LinkMonitor
from groundwatch.link.quality import LinkQuality
from groundwatch.model import Event, EventType, LimitState, Severity

from .helpers import S, result

T0 = 1_700_000_000 * S
MS = 1_000_000
LIM = Limits(yellow_low=10, yellow_high=80, red_low=0, red_high=100)
PERSISTENCE_S = 1.0


def monitor() -> LinkMonitor:
    cfg = LinkConfig(limit_persistence_time=PERSISTENCE_S)
    return LinkMonitor.from_config(cfg, [], {}, None, limits={"temp": LIM})


def sample(m: LinkMonitor, t: int, v: float) -> list[Event]:
    return m.observe_result(result(t, params={"temp": v}, limits={"temp": LIM.state(v)}), t)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(10, 600), st.floats(-6.0, 6.0, allow_nan=False)),
        min_size=10,
        max_size=300,
    ),
    st.floats(-2.0, 2.0, allow_nan=False),
)
def test_noise_around_a_limit_enters_at_most_once_per_persistence_window(
    steps: list[tuple[int, float]], bias: float
) -> None:
    m = monitor()
    t, enters = T0, []
    for gap_ms, noise in steps:
        t += gap_ms * MS
        for e in sample(m, t, 80.0 + bias + noise):
            if e.type is EventType.LIMIT_ENTER and e.details["from"] == "nominal":
                enters.append(e.time_ns)
    gaps = [b - a for a, b in pairwise(enters)]
    assert all(g >= int(PERSISTENCE_S * S) for g in gaps), gaps


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(20, 400), min_size=4, max_size=4),  # ms between samples, per phase
    st.lists(st.floats(1.5, 6.0), min_size=4, max_size=4),  # seconds in each phase
    st.sampled_from([0.0, 10.0]),  # flap window
)
def test_yellow_red_yellow_nominal_is_one_alert_with_its_updates(
    rates: list[int], durations: list[float], flap_window: float
) -> None:
    m = monitor()
    manager = AlertManager([], flap_window=flap_window)
    sent = []
    t = T0
    for value, gap_ms, seconds in zip([85.0, 105.0, 90.0, 50.0], rates, durations, strict=True):
        end = t + int(seconds * S)
        while t < end:
            t += gap_ms * MS
            sent += manager.submit(sample(m, t, value))
    sent += manager.flush()
    assert [a.notification for a in sent] == [
        Notification.NEW,
        Notification.ESCALATION,
        Notification.RECOVERY,
    ]
    new, escalation, recovery = sent
    assert new.event.severity is Severity.WARNING
    assert escalation.event.severity is Severity.CRITICAL and escalation.id == new.id
    assert recovery.clears == new.id
    assert manager.deescalated == 1 and manager.active == {}


def event(t_s: float, recovery: bool) -> Event:
    t = T0 + int(t_s * S)
    type_ = EventType.LINK_RECOVERED if recovery else EventType.LINK_DEGRADED
    sev = Severity.INFO if recovery else Severity.WARNING
    return Event(type_, sev, t, "lander", "gs1", type_.value, "", "DEGRADED/lander/gs1",
                 f"id-{t}", recovery)  # fmt: skip


def test_flaps_inside_the_window_fold_into_one_notification_with_a_count() -> None:
    m = AlertManager([], flap_window=10.0)
    got = m.submit([event(0, False), event(1, True), event(2, False), event(3, True)])
    got += m.submit([event(5, False), event(6, True)])
    assert [a.notification for a in got] == [Notification.NEW]
    assert m.tick(T0 + 15 * S) == []  # 9 s after the last recovery: still held
    (done,) = m.tick(T0 + 16 * S)
    assert done.notification is Notification.RECOVERY and done.flaps == 2
    assert done.payload()["flaps"] == 2 and "2 flaps folded" in done.summary()
    assert m.flaps_suppressed == 2 and m.active == {}
    # a later occurrence outside the window is a new alert
    (again,) = m.submit([event(40, False)])
    assert again.notification is Notification.NEW and again.id != got[0].id


def test_a_recovery_stamped_hours_ahead_is_released_a_window_after_now() -> None:
    """A station's clock that runs fast must not hold a recovery until its time comes."""
    m = AlertManager([], flap_window=10.0)
    m.tick(T0)
    (opened,) = m.submit([event(0, False)])
    assert m.submit([event(3 * 3600, True)]) == []  # stamped three hours ahead: held
    assert m.tick(T0 + 9 * S) == []
    (done,) = m.tick(T0 + 10 * S)
    assert done.notification is Notification.RECOVERY and done.clears == opened.id
    assert m.active == {} and m.held == {}


def test_degraded_needs_the_enter_delay_and_recovered_the_clear_delay() -> None:
    q = LinkQuality(10 * S, 0.2, enter_ns=2 * S, clear_ns=5 * S)
    verdicts = []
    for i in range(200):  # Eb/N0 hovering at its limit: low one sample in two for 10 s
        t = T0 + i * 50 * MS
        q.copy(t, True)
        q.decoded(t, 0)
        low = i % 2 == 0 and i < 100
        q.signal_sample("ebn0", LimitState.YELLOW_LOW if low else LimitState.NOMINAL)
        if (v := q.update(t)) is not None:
            verdicts.append((v[0], t))
    assert verdicts == []  # never bad for 2 s on end
    for i in range(200, 420):  # low for 5 s, then good
        t = T0 + i * 50 * MS
        q.copy(t, True)
        q.signal_sample("ebn0", LimitState.YELLOW_LOW if i < 300 else LimitState.NOMINAL)
        if (v := q.update(t)) is not None:
            verdicts.append((v[0], t))
    # bad from 10 s: degraded at 12 s; good from 15 s: recovered at 20 s
    assert verdicts == [(True, T0 + 12 * S), (False, T0 + 20 * S)]
