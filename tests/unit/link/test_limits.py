from __future__ import annotations

from groundwatch.config import LinkConfig
from groundwatch.decoders.api import Limits
from groundwatch.link.limits import LimitChecker
from groundwatch.link.monitor import LinkMonitor
from groundwatch.model import EventType, LimitState, Severity

from .helpers import S, result

T0 = 1_700_000_000 * S
LIM = Limits(yellow_low=10, yellow_high=80, red_low=0, red_high=100)


def run(
    values: list[float], persistence: int = 2, numeric: bool = True, seconds: float = 1.0
) -> list[tuple[str, str]]:
    cfg = LinkConfig(limit_persistence=persistence, limit_persistence_time=seconds)
    m = LinkMonitor.from_config(cfg, [], {}, None, limits={"temp": LIM} if numeric else None)
    out = []
    for i, v in enumerate(values):
        r = result(T0 + i * S, params={"temp": v}, limits={"temp": LIM.state(v)})
        for e in m.observe_result(r, T0 + i * S):
            out.append((e.type.value, e.details["level"]))
            assert e.severity == (
                Severity.CRITICAL
                if e.type is EventType.LIMIT_ENTER and "red" in e.details["level"]
                else Severity.WARNING
                if e.type is EventType.LIMIT_ENTER
                else Severity.INFO
            )
    return out


def test_yellow_then_red_and_back_exact_events() -> None:
    values = [50, 50, 85, 85, 85, 105, 105, 90, 90, 60, 60, 60]
    # one condition per parameter: red escalates it, yellow again de-escalates it
    assert run(values) == [
        ("LIMIT_ENTER", "yellow_high"),
        ("LIMIT_ENTER", "red_high"),
        ("LIMIT_ENTER", "yellow_high"),
        ("LIMIT_LEAVE", "yellow_high"),
    ]


def test_persistence_single_spike_ignored() -> None:
    assert run([50, 120, 50, 50, 5, 50, 50]) == []
    assert run([50, 120, 50], persistence=1, seconds=0) == [
        ("LIMIT_ENTER", "red_high"),  # straight to red: one event, at the worst level
        ("LIMIT_LEAVE", "yellow_high"),
    ]


def test_low_side_nested() -> None:
    assert run([50, -5, -5, 5, 5, 50, 50]) == [
        ("LIMIT_ENTER", "red_low"),
        ("LIMIT_ENTER", "yellow_low"),
        ("LIMIT_LEAVE", "yellow_low"),
    ]


def test_flapping_value_does_not_flood() -> None:
    # alternating across the limit every sample: never persistent
    assert run([79, 81] * 50) == []
    # noise around the limit once entered: hysteresis holds the level (2 % = 1.6)
    noisy = [81, 81] + [79.0, 80.5, 79.5, 81.0] * 25 + [70, 70]
    assert run(noisy) == [("LIMIT_ENTER", "yellow_high"), ("LIMIT_LEAVE", "yellow_high")]
    # without numeric limits (decoder's state only) persistence alone still damps it
    assert run([79, 81, 81, 79, 79] * 10, persistence=3, numeric=False) == []


def test_checker_ignores_parameters_without_limits() -> None:
    c = LimitChecker(2)
    assert c.sample("x", 5, None) is None
    assert c.sample("x", 5, LimitState.RED_HIGH) is None
    ch = c.sample("x", 5, LimitState.RED_HIGH)
    assert ch is not None and ch.entered == (LimitState.YELLOW_HIGH, LimitState.RED_HIGH)


def test_a_future_time_on_the_first_sample_does_not_hold_the_change_back() -> None:
    # A frame stamped far ahead (a station clock glitch) starts the violation; the samples
    # after it, on the right time, still confirm it once they span the persistence time.
    checker = LimitChecker(2, {"temp": LIM}, persistence_ns=S)
    changes = [
        checker.sample("temp", 105.0, LimitState.RED_HIGH, t)
        for t in (T0 + 3600 * S, T0, T0 + S // 2, T0 + S, T0 + 2 * S)
    ]
    assert [c.new for c in changes if c is not None] == [LimitState.RED_HIGH]
