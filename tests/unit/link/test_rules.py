"""Dictionary consistency rules: load errors, persistence, gating, recovery, time functions,
and the same events whatever the processing clock (live with jitter and ticks, or replay)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groundwatch.config import LinkConfig
from groundwatch.decoders.api import DictionaryError
from groundwatch.decoders.dictionary import load_dictionary
from groundwatch.decoders.rules import RuleDef, compile_rules
from groundwatch.link.monitor import LinkMonitor
from groundwatch.link.rules import RuleEngine
from groundwatch.model import EventType, Severity

from .helpers import S, result

T0 = 1_700_000_000 * S
KNOWN = ("est", "rng", "lock", "fuel", "vv")


def rules(*raw: dict[str, Any]) -> dict[str, tuple[RuleDef, ...]]:
    return compile_rules("mission.yaml", {"lander": list(raw)}, KNOWN)


DISAGREE = {
    "name": "DISAGREE",
    "condition": "abs(est - rng) > 100",
    "when": "lock",
    "recovery": "abs(est - rng) < 50",
    "persistence": 2,
    "severity": "critical",
    "message": "est {est:.0f} m, rng {rng:.0f} m",
    "pair": ["est", "rng"],
}


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ({"condition": "est - nope > 1"}, "unknown parameters ['nope']"),
        ({"condition": "est / 0 > 1"}, "division by a constant zero"),
        ({"condition": "est % (2 - 2) > 1"}, "division by a constant zero"),
        ({"condition": "est > > 1"}, "does not parse"),
        ({"condition": "est > 1", "persistence": -1}, "persistence -1 is negative"),
        ({"condition": "est > 1", "message": "{est.__class__}"}, "not a value of this rule"),
        ({"condition": "rate(est) > 1"}, "rate() takes rate(parameter, window_seconds)"),
        ({"condition": "est > 1", "when": "__import__('os')"}, "not allowed"),
        ({"condition": "age(ghost) > 1"}, "unknown parameters ['ghost']"),
        ({"condition": "-" * 1500 + "est > 1"}, "nested too deeply"),
        ({"condition": "est" + "+est" * 3000 + " > 1"}, "nested too deeply"),
        ({"condition": "est > 1", "message": "{" + "-" * 1500 + "est}"}, "not a value"),
        ({"condition": "est > 1", "message": "{est:999999999}"}, "width or precision over 64"),
        ({"condition": "est > 1", "message": "{est:.100f}"}, "width or precision over 64"),
    ],
)
def test_load_errors_name_file_rule_and_problem(rule: dict[str, Any], problem: str) -> None:
    with pytest.raises(DictionaryError) as info:
        rules({"name": "R1", **rule})
    text = str(info.value)
    assert text.startswith("mission.yaml: ") and "rule R1" in text and problem in text, text


def test_a_rule_in_a_dictionary_file_is_checked_at_load(tmp_path: Path) -> None:
    demo = Path(__file__).resolve().parents[3] / "missions" / "demo-lander.yaml"
    loaded = load_dictionary(demo)
    assert {r.name for r in loaded.rules["demo-lander"]} == {
        "ALTITUDE_DISAGREEMENT",
        "PROPELLANT_MARGIN",
    }
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        demo.read_text().replace(
            "abs(altitude_estimate - rangefinder_altitude)\n          > max(300",
            "abs(altitude_estmate - rangefinder_altitude)\n          > max(300",
        )
    )
    with pytest.raises(
        DictionaryError, match=r"bad\.yaml: .*ALTITUDE_DISAGREEMENT.*altitude_estmate"
    ):
        load_dictionary(bad)


def feed(engine: RuleEngine, t_s: float, **values: float) -> list[Any]:
    return engine.observe(result(T0 + int(t_s * S), params=dict(values)))


def test_persistence_gate_recovery_and_one_event_each_way() -> None:
    engine = RuleEngine(rules(DISAGREE))
    assert feed(engine, 0.0, est=1000, rng=1000, lock=1) == []
    assert feed(engine, 1.0, est=500, rng=1000, lock=1) == []  # pending
    assert feed(engine, 2.0, est=500, rng=1000, lock=1) == []  # 1 s < 2 s
    assert feed(engine, 2.5, est=1000, rng=1000, lock=1) == []  # back: pending dropped
    assert feed(engine, 3.0, est=500, rng=1000, lock=0) == []  # gate off: not judged
    assert feed(engine, 4.0, est=500, rng=1000, lock=1) == []
    (raised,) = feed(engine, 6.0, est=400, rng=1000, lock=1)
    assert raised.type is EventType.RULE and raised.severity is Severity.CRITICAL
    assert raised.time_ns == T0 + 6 * S and raised.condition == "RULE/lander/DISAGREE"
    assert raised.text == "lander: est 400 m, rng 1000 m"
    assert raised.details["rule"] == "DISAGREE" and raised.details["pair"] == ["est", "rng"]
    # between the recovery threshold and the condition: still active, nothing new
    assert feed(engine, 7.0, est=930, rng=1000, lock=1) == []
    assert feed(engine, 20.0, est=930, rng=1000, lock=1) == []
    assert feed(engine, 21.0, est=990, rng=1000, lock=1) == []
    (cleared,) = feed(engine, 23.0, est=995, rng=1000, lock=1)
    assert cleared.type is EventType.RULE_CLEAR and cleared.recovery
    assert cleared.condition == raised.condition
    assert engine.counters["raised"] == 1 and engine.counters["cleared"] == 1


def test_missing_value_is_skipped_and_counted_never_raised() -> None:
    engine = RuleEngine(rules(DISAGREE))
    assert feed(engine, 0.0, est=1, lock=1) == []  # rng never received
    assert feed(engine, 1.0, est="n/a", rng=5, lock=1) == []  # a string minus a number
    assert engine.counters["skipped"] == 2
    assert engine.states("lander")[0].skipped == 2


def test_rate_and_age_time_functions() -> None:
    engine = RuleEngine(
        rules(
            {"name": "BURN", "condition": "rate(fuel, 4) < -2", "message": "{rate(fuel, 4):.1f}"},
            {"name": "OLD", "condition": "age(vv) > 3"},
        )
    )
    assert feed(engine, 0.0, fuel=100.0, vv=1.0) == []  # one sample: no rate (skipped)
    assert feed(engine, 1.0, fuel=99.0) == []  # -1 kg/s
    assert feed(engine, 2.0, fuel=98.0) == []
    events = feed(engine, 3.0, fuel=90.0)  # (90 - 100) / 3 s over the last 4 s
    assert [e.details["rule"] for e in events] == ["BURN"] and events[0].text == "lander: -3.3"
    events = feed(engine, 4.0, fuel=89.0, vv=1.0)  # vv 4 s old when judged? updated now: 0
    assert events == []
    events = feed(engine, 8.5, fuel=88.0)  # vv last received at 4.0
    assert [e.details["rule"] for e in events] == ["OLD"]


def monitor(source: str) -> LinkMonitor:
    m = LinkMonitor.from_config(LinkConfig(), [], {}, None, source)
    m.rules = RuleEngine(rules(DISAGREE, {"name": "FAST", "condition": "rate(est, 1) < -50"}),
                         source)  # fmt: skip
    return m


samples = st.lists(
    st.tuples(
        st.integers(1, 400),  # ms since the previous frame
        st.floats(0, 2000, allow_nan=False),
        st.floats(0, 2000, allow_nan=False),
        st.booleans(),
        st.integers(0, 300),  # live: ms of processing delay
        st.booleans(),  # live: a tick between frames
    ),
    max_size=120,
)


@settings(max_examples=60, deadline=None)
@given(samples)
def test_replay_raises_the_same_rule_events_as_live(stream: list[tuple[Any, ...]]) -> None:
    live, replay = monitor("live"), monitor("replay:x")

    def rule_events(events: list[Any]) -> list[tuple[Any, ...]]:
        return [
            (e.type, e.time_ns, e.condition, e.id, e.text)
            for e in events
            if e.type in (EventType.RULE, EventType.RULE_CLEAR)
        ]

    got_live, got_replay = [], []
    t = T0
    for gap, est, rng, lock, delay, tick in stream:
        t += gap * 1_000_000
        params = {"est": est, "rng": rng, "lock": float(lock)}
        got_live += rule_events(live.observe_result(result(t, params=params), t + delay * 10**6))
        if tick:
            got_live += rule_events(live.tick(t + delay * 10**6 + 1))
        got_replay += rule_events(
            replay.observe_result(result(t, params=params, source="replay:x"), t)
        )
    assert got_live == got_replay


def test_inputs_from_packets_of_different_frames_are_both_read() -> None:
    carriers = {"est": "nav", "rng": "lidar", "lock": "lidar", "fuel": "prop", "vv": "nav"}
    engine = RuleEngine(compile_rules("m.yaml", {"lander": [DISAGREE]}, carriers), interval=1.0)

    def frame(t_s: float, packet: str, **values: float) -> list[Any]:
        r = result(T0 + int(t_s * S), params=dict(values))
        r.packets[0].name = packet
        return list(engine.observe(r))

    assert frame(0.0, "nav", est=100.0) == []  # judged: rng not received yet (skipped)
    assert frame(0.5, "lidar", rng=1000.0, lock=1.0) == []  # noted, not judged (interval)
    assert frame(0.7, "other", est=5.0) == []  # a packet no rule reads from: ignored
    assert frame(1.2, "nav", est=110.0) == []  # judged: est 110 vs rng 1000, pending
    (raised,) = frame(3.5, "lidar", rng=1000.0, lock=1.0)
    assert raised.details["values"]["est"] == 110.0
    assert engine.counters["skipped"] == 1


def test_a_rate_is_measured_again_soon_after_the_on_board_clock_is_reset() -> None:
    engine = RuleEngine(rules({"name": "BURN", "condition": "rate(fuel, 4) < -2"}))

    def feed_obt(t_s: float, obt_s: float, fuel: float) -> list[Any]:
        r = result(T0 + int(t_s * S), params={"fuel": fuel})
        r.packets[0] = dataclasses.replace(r.packets[0], obt_ns=int(obt_s * S))
        return engine.observe(r)

    for i in range(6):
        assert feed_obt(i, 1000 + i, 100.0) == []
    # the spacecraft reboots: its clock starts again from zero, and the fuel drops fast
    events = [e for i, fuel in enumerate((100.0, 90.0, 80.0, 70.0)) for e in
              feed_obt(6 + i, i, fuel)]  # fmt: skip
    assert [e.details["rule"] for e in events] == ["BURN"]


def test_a_frame_stamped_a_day_ahead_does_not_suspend_the_rules() -> None:
    engine = RuleEngine(rules(DISAGREE))
    assert feed(engine, 0.0, est=1000, rng=1000, lock=1) == []
    # a station clock glitch: one frame a day ahead, already disagreeing
    assert feed(engine, 86_400.0, est=500, rng=1000, lock=1) == []
    events = [e for t in (1.0, 2.0, 3.0, 4.0) for e in feed(engine, t, est=500, rng=1000, lock=1)]
    assert [(e.type, e.time_ns) for e in events] == [(EventType.RULE, T0 + 3 * S)]
