"""The decode command's packet lines are written without json.dumps; they must be the very
bytes json.dumps gives for ``packet_line`` (the definition of the output), for every kind of
value, on both decode paths, and for every packet of the repository's dictionaries."""

from __future__ import annotations

import json
import math
from enum import StrEnum
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from groundwatch.decoders.decode_cli import packet_line
from groundwatch.decoders.decode_input import format_ert
from groundwatch.decoders.decode_json import SEPARATORS, PacketLineEncoder
from groundwatch.decoders.dictionary import load_dictionary
from groundwatch.decoders.frame_decoder import FrameDecoder
from groundwatch.model import (
    Ax25Header,
    ColumnSchema,
    DecodedPacket,
    LimitState,
    PacketColumns,
    ParamValue,
    RawFrame,
    SpacePacketHeader,
    TmFrameHeader,
)
from groundwatch.sim.framer import SimFramer
from groundwatch.sim.scenario import GenericScenario

REPO = Path(__file__).resolve().parents[3]
JPSS = REPO / "tests" / "data" / "jpss1" / "J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1"


class Mode(StrEnum):
    SAFE = "safe"


def expected(p: DecodedPacket, ert_ns: int | None) -> str:
    return json.dumps(packet_line(p, ert_ns), separators=SEPARATORS)


def check(encoder: PacketLineEncoder, p: DecodedPacket, ert_ns: int | None) -> None:
    assert encoder.encode(p, format_ert(ert_ns)) == expected(p, ert_ns)


scalars = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(width=32),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.booleans(),
    st.text(max_size=8),
    st.binary(max_size=6),
    st.just(Mode.SAFE),
)
values = st.one_of(scalars, st.lists(st.one_of(st.floats(), st.integers()), max_size=4))
limits = st.one_of(st.none(), st.sampled_from(list(LimitState)))


@st.composite
def columns(draw: st.DrawFn) -> PacketColumns:
    n = draw(st.integers(min_value=0, max_value=6))
    names = draw(st.lists(st.text(min_size=1, max_size=6), min_size=n, max_size=n, unique=True))
    engs = [draw(values) for _ in range(n)]
    # A plain column's raw value is its engineering value (the same object); others differ.
    # A layout without conversions passes one tuple for both.
    plain = draw(st.booleans())
    raws = [e if plain or draw(st.booleans()) else draw(values) for e in engs]
    # The schema may name the exact kind of a column, as the layouts do for plain fields.
    kinds = [
        type(e) if type(e) in (float, int, str, bool) and draw(st.booleans()) else None
        for e in engs
    ]
    # A derived value that could not be computed is None (only in a column of no kind).
    engs = [
        None if k is None and draw(st.integers(0, 4)) == 0 else e
        for e, k in zip(engs, kinds, strict=True)
    ]
    states = [draw(limits) for _ in range(n)]
    schema = ColumnSchema(
        packet="p",
        names=tuple(names),
        units=tuple(draw(st.one_of(st.none(), st.text(max_size=4))) for _ in range(n)),
        kinds=tuple(kinds),
        enums=tuple(False for _ in range(n)),
        limit_states=tuple(None if s is None else (lambda _v, s=s: s) for s in states),
    )
    eng = tuple(engs)
    return PacketColumns(schema, eng, eng if plain else tuple(raws))


headers = st.builds(
    SpacePacketHeader,
    *(st.integers(0, 2**14) for _ in range(7)),
)
frames = st.one_of(
    st.none(),
    st.builds(
        TmFrameHeader,
        *(st.integers(0, 1023) for _ in range(5)),
        ocf=st.one_of(st.none(), st.binary(min_size=4, max_size=4)),
    ),
)
ax25s = st.one_of(
    st.none(),
    st.builds(Ax25Header, st.text(max_size=6), st.integers(0, 15), st.text(max_size=6),
              st.integers(0, 15), st.integers(0, 255), st.integers(0, 255)),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    params=columns(),
    header=st.one_of(st.none(), headers),
    frame=frames,
    ax25=ax25s,
    name=st.one_of(st.none(), st.text(max_size=5)),
    payload=st.one_of(st.none(), st.binary(max_size=5)),
    ert=st.one_of(st.none(), st.integers(0, 2**62)),
)
def test_any_packet_is_written_as_json_dumps_would(
    params: PacketColumns,
    header: SpacePacketHeader | None,
    frame: TmFrameHeader | None,
    ax25: Ax25Header | None,
    name: str | None,
    payload: bytes | None,
    ert: int | None,
) -> None:
    def packet(p: Any) -> DecodedPacket:
        return DecodedPacket(
            ert or 0, "gs1", "live", "sc", name, 0, frame, ax25, header, p, None, payload
        )

    encoder = PacketLineEncoder()
    check(encoder, packet(params), ert)  # the columns of a layout's fast path
    check(encoder, packet(dict(params.as_dict())), ert)  # the Construct path's dict
    check(encoder, packet({"x": ParamValue(math.nan, [math.inf, 1.0], "u", None)}), ert)


def test_every_packet_of_the_demo_mission_and_of_jpss1() -> None:
    encoder = PacketLineEncoder()
    demo = load_dictionary(REPO / "missions" / "demo-lander.yaml")
    scenario = GenericScenario(demo, seed=3)
    framer = SimFramer(demo, start_ns=1_780_000_000_000_000_000, seed=3)
    decoder = FrameDecoder(demo)
    seen = set()
    for _ in range(40):
        tick = scenario.next_tick(1.0)
        assert tick is not None
        for frame in framer.frames(tick):
            for p in decoder.decode(RawFrame(frame.data, 5_000_000_123, "gs1")).packets:
                check(encoder, p, 5_000_000_123)
                seen.add(p.name)
    assert len(seen) == len(demo.packets)
    jpss = load_dictionary(REPO / "tests" / "data" / "missions" / "jpss1.yaml")
    decoder = FrameDecoder(jpss)
    data, count = JPSS.read_bytes(), 0
    while data and count < 500:
        size = 7 + int.from_bytes(data[4:6], "big")
        for p in decoder.decode(RawFrame(data[:size], 0, "gs1")).packets:
            check(encoder, p, None)
            count += 1
        data = data[size:]
    assert count == 500
