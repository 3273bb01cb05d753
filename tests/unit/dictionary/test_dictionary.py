"""Loading dictionaries: the demo lander, engineering round trips, selectors, errors."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from groundwatch.decoders.api import (
    BytesTooShort,
    DecodeError,
    DictionaryError,
    Framing,
    TelemetryDictionary,
)
from groundwatch.decoders.dictionary import MissionDictionary, load_dictionary
from groundwatch.decoders.layout import CompiledLayout, EncodeError
from groundwatch.model import Ax25Header, LimitState, PacketColumns, RejectReason

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "missions" / "demo-lander.yaml"
KEY = {
    "altitude_estimate", "rangefinder_altitude", "vertical_velocity", "propellant_mass",
    "battery_soc", "bus_voltage", "rssi", "ebn0",
}  # fmt: skip


@pytest.fixture(scope="module")
def demo() -> MissionDictionary:
    return load_dictionary(DEMO)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mission.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_demo_dictionary_header_sections(demo: MissionDictionary) -> None:
    checked: TelemetryDictionary = demo  # satisfies the protocol
    assert checked.mission == "demo-lander"
    assert demo.framing.kind is Framing.TM
    assert (demo.framing.frame_length, demo.framing.fecf, demo.framing.ocf) == (1115, True, True)
    lander = demo.spacecraft_by_scid(0x2A)
    assert lander is not None and lander.name == "demo-lander"
    assert demo.spacecraft_by_scid(7) is None
    assert {p.name for p in demo.packets} >= {
        "gnc", "propulsion", "power", "thermal", "comms", "housekeeping",
    }  # fmt: skip
    assert {p.name for p in demo.parameters() if p.key} == KEY
    housekeeping = demo.packet("housekeeping")
    assert len(housekeeping.parameters) >= 40
    assert {p.type for p in housekeeping.parameters} >= {"enum", "bool", "float32", "int12"}


def test_demo_packets_have_secondary_header_time(demo: MissionDictionary) -> None:
    gnc = demo.packet("gnc")
    obt = 1_750_000_000_123_456_000  # 2025, in ns
    data = gnc.build({"altitude_estimate": 100_000.0}, obt)
    params, decoded_obt = gnc.decode(data)
    assert decoded_obt is not None and abs(decoded_obt - obt) <= 8_000  # 2**-16 s ticks
    assert gnc.decode(gnc.build({}, decoded_obt))[1] == decoded_obt
    assert params["altitude_estimate"].eng == 100_000.0
    assert params["altitude_estimate"].unit == "m"


def _eng_strategy(layout: CompiledLayout) -> st.SearchStrategy[dict[str, Any]]:
    """Engineering values the layout can represent exactly: calibrate random raw values."""
    entries = {}
    for field in layout.value_field_specs():
        if field.name.startswith("_"):
            continue
        info = next(p for p in layout.parameters if p.name == field.name)
        meta = layout.meta(field.name)
        if info.enum is not None:
            element: st.SearchStrategy[Any] = st.sampled_from(sorted(info.enum.values()))
        elif field.kind.value in ("uint", "int"):
            low, high = field.int_range()
            raws = st.integers(low, high)
            cal = meta.calibration
            element = raws.map(cal.to_eng) if cal is not None else raws
        elif field.kind.value == "float":
            element = st.floats(width=field.bits, allow_nan=False)  # type: ignore[arg-type]
        elif field.kind.value == "bool":
            element = st.booleans()
        else:
            continue
        if field.count is not None:
            element = st.lists(element, min_size=field.count, max_size=field.count)
        entries[field.name] = element
    return st.fixed_dictionaries(entries)


@pytest.mark.parametrize(
    "packet", ["gnc", "propulsion", "power", "thermal", "comms", "housekeeping"]
)
def test_demo_engineering_round_trip(demo: MissionDictionary, packet: str) -> None:
    layout = demo.packet(packet)

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_eng_strategy(layout), st.integers(0, 2**32 - 1).map(lambda s: s * 1_000_000_000))
    def check(eng: dict[str, Any], obt: int) -> None:
        data = layout.build(eng, obt + 946_728_000_000_000_000)
        params, decoded_obt = layout.decode(data)
        assert decoded_obt == obt + 946_728_000_000_000_000
        for name, value in eng.items():
            got = params[name].eng
            if isinstance(value, float) and layout.meta(name).calibration is not None:
                assert math.isclose(got, value, rel_tol=1e-9, abs_tol=1e-9), name
            else:
                assert got == value, name
        assert layout.build({n: p.eng for n, p in params.items()}, decoded_obt) == data

    check()


def test_limits_enums_and_derived_values(demo: MissionDictionary) -> None:
    gnc = demo.packet("gnc")
    params, _ = gnc.decode(
        gnc.build(
            {
                "vertical_velocity": -120.0,
                "horizontal_velocity": 160.0,
                "descent_phase": "TERMINAL",
            },
            0,
        )
    )
    assert params["vertical_velocity"].limit is LimitState.YELLOW_LOW
    assert params["descent_phase"].eng == "TERMINAL" and params["descent_phase"].raw == 3
    assert params["speed"].eng == pytest.approx(200.0)
    assert params["roll"].limit is None  # no limits declared
    power = demo.packet("power")
    params, _ = power.decode(power.build({"bus_voltage": 23.0, "bus_current": 2.0}, 0))
    assert params["bus_voltage"].limit is LimitState.RED_LOW
    assert params["bus_power"].eng == pytest.approx(46.0)
    # raw numbers are accepted for enums too
    assert gnc.decode(gnc.build({"descent_phase": 1}, 0))[0]["descent_phase"].eng == "BRAKING"


def test_undeclared_enum_value_is_bad_enum(demo: MissionDictionary) -> None:
    gnc = demo.packet("gnc")
    data = bytearray(gnc.build({}, 0))
    phase_offset = 6 + 4 + 3 + 2 + 2 + 2 + 2 + 2  # time, alt, rf alt, vv, hv, roll, pitch, yaw
    data[phase_offset] = 99
    with pytest.raises(DecodeError) as caught:
        gnc.decode(bytes(data))
    assert caught.value.reason is RejectReason.BAD_ENUM
    assert "descent_phase" in caught.value.detail


def test_short_data_is_bytes_too_short(demo: MissionDictionary) -> None:
    housekeeping = demo.packet("housekeeping")
    data = housekeeping.build({}, 0)
    with pytest.raises(BytesTooShort) as caught:
        housekeeping.decode(data[:-1])
    assert (caught.value.expected, caught.value.got) == (len(data), len(data) - 1)


def test_build_rejects_what_it_cannot_encode(demo: MissionDictionary) -> None:
    gnc = demo.packet("gnc")
    with pytest.raises(EncodeError, match="descent_phase"):
        gnc.build({"descent_phase": "CRASHED"}, 0)
    with pytest.raises(EncodeError, match="vertical_velocity"):
        gnc.build({"vertical_velocity": 1e9}, 0)
    with pytest.raises(EncodeError, match="imu_temp"):  # beyond its quadratic's range
        demo.packet("thermal").build({"imu_temp": 200.0}, 0)
    with pytest.raises(EncodeError, match="roll"):
        gnc.build({"roll": float("nan")}, 0)
    with pytest.raises(EncodeError, match="pitch"):
        gnc.build({"pitch": "level"}, 0)


SELECTORS = """
mission: sel
packets:
  - name: status_a
    apid: 10
    selector: {offset: 0, type: uint8, value: 1}
    parameters:
      - {name: id, type: uint8}
      - {name: volts, type: uint16, calibration: {polynomial: [0, 0.01]}}
  - name: status_b
    apid: 10
    selector: {offset: 0, type: uint8, value: 2}
    parameters:
      - {name: id, type: uint8}
      - {name: mode, type: uint8, enum: {0: OFF, 1: ON}}
  - name: other
    apid: 10
    parameters: [{name: blob, type: bytes, length: 3}]
  - name: beacon
    ax25: {callsign: N0CALL, pid: 0xF0}
    parameters: [{name: text, type: string, length: 8}]
"""


def test_selectors_pick_the_packet(tmp_path: Path) -> None:
    mission = load_dictionary(write(tmp_path, SELECTORS))
    a = mission.packet_for(10, b"\x01\x00\x10")
    b = mission.packet_for(10, b"\x02\x01")
    assert a is not None and a.name == "status_a"
    assert b is not None and b.name == "status_b"
    fallback = mission.packet_for(10, b"\x07\x00\x00")
    assert fallback is not None and fallback.name == "other"
    assert mission.packet_for(11, b"\x01") is None
    built = a.build({"volts": 3.3})  # the selector value is stamped by build
    assert mission.packet_for(10, built) is a and built[0] == 1
    assert a.decode(built)[0]["id"].eng == 1 and a.secondary_header is False
    params, _ = b.decode(memoryview(b"\x02\x01"))  # type: ignore[arg-type]  # views work
    assert params["mode"].eng == "ON"  # YAML's ON stays a label, not a boolean
    assert fallback.decode(b"\xab\xcd\xef")[0]["blob"].eng == "abcdef"
    header = Ax25Header("CQ", 0, "N0CALL", 1, 0x03, 0xF0)
    beacon = mission.packet_for_ax25(header, b"hello")
    assert beacon is not None and beacon.name == "beacon"
    assert beacon.decode(b"hello\x00\x00\x00")[0]["text"].eng == "hello"
    assert mission.packet_for_ax25(Ax25Header("CQ", 0, "OTHER", 0, 3, 0xF0), b"") is None


@pytest.mark.parametrize(
    ("body", "packet", "parameter", "problem"),
    [
        ("- {name: x, type: uint7}", "p", "x", "byte boundary"),
        ("- {name: x, type: uint65}", "p", "x", "1..64"),
        ("- {name: x, type: foo8}", "p", "x", "unknown type"),
        ("- {name: x, type: uint8, colour: red}", "p", "x", "Extra inputs"),
        ("- {name: x, type: string}", "p", "x", "length"),
        ("- {name: x, type: float32, enum: {0: A}}", "p", "x", "enum needs a numeric"),
        ("- {name: x, type: uint8}\n- {name: x, type: uint8}", "p", "x", "twice"),
        ("- {name: x, expr: \"__import__('os')\"}", "p", "x", "not allowed"),
        ('- {name: x, expr: "y + 1"}', "p", "x", "unknown parameters"),
        ("- {name: x, type: uint8, calibration: {polynomial: [1]}}", "p", "x", "constant"),
        ("- {name: x, type: uint8, limits: {red_low: 5, yellow_low: 1}}", "p", "x", "ordered"),
        (
            "- {name: x, type: uint12, calibration: {polynomial: [0, -1, 0.01]}}",
            "p",
            "x",
            "monotonic",
        ),
        ("- {name: x}", "p", "x", "type or expr"),
    ],
)
def test_dictionary_errors_name_file_packet_and_parameter(
    tmp_path: Path, body: str, packet: str, parameter: str, problem: str
) -> None:
    body = body.replace("\n", "\n      ")
    text = f"mission: bad\npackets:\n  - name: p\n    apid: 1\n    parameters:\n      {body}\n"
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(DictionaryError) as caught:
        load_dictionary(path)
    error = caught.value
    assert (error.file, error.packet, error.parameter) == (str(path), packet, parameter)
    assert problem in str(error) and str(path) in str(error)


def test_file_level_errors(tmp_path: Path) -> None:
    with pytest.raises(DictionaryError, match="cannot read"):
        load_dictionary(tmp_path / "missing.yaml")
    with pytest.raises(DictionaryError, match="not valid YAML"):
        load_dictionary(write(tmp_path, "mission: [unclosed"))
    with pytest.raises(DictionaryError, match="packets"):
        load_dictionary(write(tmp_path, "mission: empty\npackets: []\n"))
    twice = "mission: m\npackets:\n  - {name: a, apid: 1}\n  - {name: b, apid: 1}\n"
    with pytest.raises(DictionaryError, match="same APID") as caught:
        load_dictionary(write(tmp_path, twice))
    assert caught.value.packet == "b"
    no_time = "mission: m\npackets:\n  - {name: p, apid: 1, secondary_header: true}\n"
    with pytest.raises(DictionaryError, match="time") as caught:
        load_dictionary(write(tmp_path, no_time))
    assert caught.value.packet == "p"


PYTHON_LAYOUT = """
from construct import Array, Int16sb, Int8ub, Struct

LAYOUT = {
    "struct": Struct("count" / Int8ub, "samples" / Array(3, Int16sb)),
    "parameters": [
        {"name": "count", "type": "uint8"},
        {"name": "samples", "type": "int16", "count": 3, "unit": "nT",
         "calibration": {"polynomial": [0, 0.5]}},
    ],
}
"""


def test_python_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "custom_layout.py").write_text(PYTHON_LAYOUT)
    monkeypatch.setenv("GROUNDWATCH_ALLOW_PYTHON_LAYOUTS", "1")
    mission = load_dictionary(
        write(
            tmp_path,
            """
            mission: py
            time: {code: cds, day_octets: 2, submillisecond_octets: 2}
            packets:
              - name: mag
                apid: 3
                secondary_header: true
                python: custom_layout.py:LAYOUT
            """,
        )
    )
    mag = mission.packet("mag")
    obt = 1_600_000_000_123_456_000
    data = mag.build({"count": 3, "samples": [-1.5, 0.0, 100.0]}, obt)
    assert len(data) == 8 + 1 + 6
    params, decoded_obt = mag.decode(data)
    assert decoded_obt == obt
    assert params["samples"].eng == [-1.5, 0.0, 100.0] and params["samples"].unit == "nT"
    with pytest.raises(BytesTooShort):
        mag.decode(data[:-2])
    bad = write(tmp_path, "mission: py\npackets:\n  - {name: q, apid: 1, python: nope.py:X}\n")
    with pytest.raises(DictionaryError, match="python layout") as caught:
        load_dictionary(bad)
    assert caught.value.packet == "q"


@pytest.mark.parametrize(
    "packet", ["gnc", "propulsion", "power", "thermal", "comms", "housekeeping"]
)
def test_generated_decode_equals_construct_decode(demo: MissionDictionary, packet: str) -> None:
    """The columnar fast decode (calibrations, enums inlined) == Construct + stage 2."""
    layout = demo.packet(packet)
    assert layout.size is not None and layout.fast is not None

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.binary(min_size=layout.size, max_size=layout.size + 2))
    def check(data: bytes) -> None:
        try:
            expected = layout.decode_construct(data)
        except DecodeError as exc:
            with pytest.raises(DecodeError) as caught:
                layout.decode(data)
            assert caught.value.reason is exc.reason
            return
        params, obt = layout.decode(data)
        assert isinstance(params, PacketColumns)  # the columnar fast path ran
        # repr: NaN equals NaN; dict(): the columns' mapping, ParamValues with limit states
        assert repr((dict(params), obt)) == repr((dict(expected[0]), expected[1]))

    check()


@pytest.mark.parametrize(
    ("packet", "values"),
    [
        ("gnc", {"altitude_estimate": 110_000.0, "rangefinder_altitude": 25_000.0,
                 "vertical_velocity": -200.0, "horizontal_velocity": 1_750.0,
                 "roll": -180.0, "pitch": 179.99, "yaw": 90.0}),
        ("gnc", {"altitude_estimate": 0.0, "rangefinder_altitude": 0.0,
                 "vertical_velocity": 3.0, "horizontal_velocity": 0.0}),
        ("propulsion", {"propellant_mass": 600.0, "fuel_tank_pressure": 3_000.0,
                        "thrust": 5_500.0, "throttle": 100.0, "chamber_pressure": 1_000.0}),
        ("propulsion", {"propellant_mass": 0.0, "thrust": 0.0, "throttle": 0.0}),
        ("power", {"bus_voltage": 33.0, "battery_soc": 100.0, "bus_current": -12.0}),
        ("thermal", {"battery_temp": -40.0, "engine_temp": 1_400.0, "imu_temp": 45.0}),
        ("comms", {"rssi": -150.0, "ebn0": -5.0, "doppler": -5_000.5, "tx_power": 40.0}),
    ],
)  # fmt: skip
def test_demo_encodings_cover_a_whole_descent(
    demo: MissionDictionary, packet: str, values: dict[str, float]
) -> None:
    """The simulator feeds engineering values from orbit to touchdown through build()."""
    layout = demo.packet(packet)
    params, _ = layout.decode(layout.build(values, 0))
    for name, value in values.items():
        cal = layout.meta(name).calibration
        assert cal is not None
        step = abs(cal.to_eng(1) - cal.to_eng(0)) if name != "engine_temp" else 0.1
        assert params[name].eng == pytest.approx(value, abs=step), name
