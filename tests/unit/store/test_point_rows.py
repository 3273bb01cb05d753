"""Decoded columns to points and lines: the per-layout fast path (``PacketPoints`` giving a
``FieldRow``, the encoder's row templates) writes exactly what the general path writes for
the same packet read as a plain dict of ``ParamValue``s."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from groundwatch.decoders.api import DecodeError
from groundwatch.decoders.dictionary import MissionDictionary, load_dictionary
from groundwatch.model import DecodedPacket, FieldRow, PacketColumns, SpacePacketHeader
from groundwatch.store.lineprotocol import LineEncoder, parse_line
from groundwatch.store.points import PacketPoints, float_params_of, packet_point

REPO = Path(__file__).resolve().parents[3]
DICTIONARIES = [
    REPO / "missions" / "demo-lander.yaml",
    REPO / "tests" / "data" / "missions" / "jpss1.yaml",
    REPO / "tests" / "data" / "missions" / "cygnss.yaml",
]


def _layouts() -> list[tuple[MissionDictionary, str]]:
    out = []
    for path in DICTIONARIES:
        d = load_dictionary(path)
        out += [(d, layout.name) for layout in d.packets if layout.schema is not None]
    return out


LAYOUTS = _layouts()


def _packet(params: object, obt: int | None, name: str) -> DecodedPacket:
    return DecodedPacket(
        ert_ns=1_790_000_000_000_000_000,
        station="gs 1",
        source="replay:x",
        spacecraft="lander",
        name=name,
        index_in_frame=2,
        header=SpacePacketHeader(0, 0, 1, 0x42, 3, 77, 10),
        params=params,  # type: ignore[arg-type]
        obt_ns=obt,
    )


@pytest.mark.parametrize(("dictionary", "packet"), LAYOUTS, ids=[p for _, p in LAYOUTS])
def test_row_points_and_lines_equal_the_general_path(
    dictionary: MissionDictionary, packet: str
) -> None:
    layout = dictionary.packet(packet)
    assert layout.size is not None
    floats = float_params_of(dictionary.parameters())
    points = PacketPoints(floats)
    fast_encoder, general_encoder = LineEncoder(), LineEncoder()

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.binary(min_size=layout.size, max_size=layout.size))
    def check(data: bytes) -> None:
        try:
            columns, obt = layout.decode(data)
        except DecodeError:
            return
        assert isinstance(columns, PacketColumns)
        fast = points(_packet(columns, obt, packet))
        general = packet_point(_packet(dict(columns), obt, packet), floats)
        assert isinstance(fast.fields, FieldRow)  # the fast path ran
        assert fast == general
        line_fast = fast_encoder.encode(fast)
        line_general = general_encoder.encode(general)
        assert (line_fast is None) == (line_general is None)
        if line_fast is not None and line_general is not None:
            a, b = parse_line(line_fast), parse_line(line_general)
            assert (a.measurement, a.tags, a.time_ns) == (b.measurement, b.tags, b.time_ns)
            # Same fields, in any order; repr so that NaN equals NaN.
            assert sorted(map(repr, a.fields.items())) == sorted(map(repr, b.fields.items()))
        assert fast_encoder.stats == general_encoder.stats  # the same fields dropped

    check()


def test_a_derived_value_that_fails_is_left_out_of_the_row() -> None:
    d = load_dictionary(DICTIONARIES[0])
    power = d.packet("power")
    columns, obt = power.decode(power.build({"bus_voltage": 0.0, "bus_current": 0.0}, 0))
    assert isinstance(columns, PacketColumns)
    point = PacketPoints(float_params_of(d.parameters()))(_packet(columns, obt, "power"))
    general = packet_point(_packet(dict(columns), obt, "power"), float_params_of(d.parameters()))
    assert point == general
