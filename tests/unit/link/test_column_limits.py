"""The link monitor reads decoded columns (PacketColumns) with a shortcut for nominal
samples; it must raise exactly the events it raises for the same packets read as dicts."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from groundwatch.config import LinkConfig
from groundwatch.decoders.dictionary import load_dictionary
from groundwatch.link.monitor import LinkMonitor
from groundwatch.model import DecodedPacket, DecodeResult, Event, PacketColumns, RawFrame

DEMO = load_dictionary(Path(__file__).resolve().parents[3] / "missions" / "demo-lander.yaml")
POWER = DEMO.packet("power")  # bus_current (not a key parameter): yellow >= 20, red >= 25
S = 1_000_000_000


def _monitor(persistence: int) -> LinkMonitor:
    params = list(DEMO.parameters())
    return LinkMonitor.from_config(
        LinkConfig(limit_persistence=persistence),
        [p.name for p in params if p.key],
        {},
        None,
        limits={p.name: p.limits for p in params if p.limits is not None},
    )


def _result(t: int, params: object) -> DecodeResult:
    frame = RawFrame(b"\x00" * 10, t, "gs1", "live")
    pkt = DecodedPacket(t, "gs1", "live", "demo-lander", "power", 0, params=params)  # type: ignore[arg-type]
    return DecodeResult(frame=frame, spacecraft="demo-lander", valid=True, packets=[pkt])


def _key(e: Event) -> tuple[object, ...]:
    return (e.type, e.time_ns, e.condition, e.recovery, e.text)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.floats(10.0, 30.0) | st.sampled_from([19.7, 20.0, 24.6, 25.0]), max_size=40),
    st.integers(1, 3),
)
def test_column_and_dict_packets_raise_the_same_limit_events(
    currents: list[float], persistence: int
) -> None:
    by_columns, by_dict = _monitor(persistence), _monitor(persistence)
    got: list[Event] = []
    want: list[Event] = []
    for k, amps in enumerate(currents):
        t = (k + 1) * S
        columns, _ = POWER.decode(POWER.build({"bus_voltage": 28.0, "bus_current": amps}, 0))
        assert isinstance(columns, PacketColumns)
        got += by_columns.observe_result(_result(t, columns), t)
        want += by_dict.observe_result(_result(t, dict(columns)), t)
    assert [_key(e) for e in got] == [_key(e) for e in want]
    a, b = by_columns._craft("demo-lander").limits, by_dict._craft("demo-lander").limits
    assert a.state("bus_current") == b.state("bus_current")
