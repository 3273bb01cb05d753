"""Construct layouts: build(parse(x)) == x, and the fast paths equal the Construct parse."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from groundwatch.decoders import space_packet as sp
from groundwatch.decoders import tm_frame as tm
from groundwatch.decoders import wire_layouts as wire
from groundwatch.decoders.api import BytesTooShort, FramingDef
from groundwatch.decoders.crc import crc16_ok

header6 = st.binary(min_size=6, max_size=6)


@given(header6)
def test_space_packet_header_build_parse(raw: bytes) -> None:
    parsed = wire.SpacePacketPrimaryHeader.parse(raw)
    assert wire.SpacePacketPrimaryHeader.build(parsed) == raw
    fast = sp.parse_primary_header(raw)
    assert (
        fast.version,
        fast.type,
        fast.sec_hdr_flag,
        fast.apid,
        fast.seq_flags,
        fast.seq_count,
        fast.data_length,
    ) == (
        parsed.version,
        parsed.type,
        int(parsed.sec_hdr_flag),
        parsed.apid,
        parsed.seq_flags,
        parsed.seq_count,
        parsed.data_length,
    )
    assert sp.build_primary_header(fast) == raw


@given(header6)
def test_tm_primary_header_build_parse(raw: bytes) -> None:
    parsed = wire.TmPrimaryHeader.parse(raw)
    assert wire.TmPrimaryHeader.build(parsed) == raw
    fast = tm.parse_primary_header(raw)
    assert {k: getattr(fast, k) for k in fast.__slots__} == {
        k: v for k, v in parsed.items() if not k.startswith("_")
    }


@given(st.binary(min_size=4, max_size=4))
def test_clcw_build_parse(raw: bytes) -> None:
    assert wire.Clcw.build(wire.Clcw.parse(raw)) == raw
    clcw = tm.decode_clcw(raw)
    assert (clcw is None) == bool(raw[0] & 0x80)
    if clcw is not None:
        assert clcw["vcid"] == (raw[1] >> 2) & 0x3F and clcw["report_value"] == raw[3]


def test_clcw_known_answer() -> None:
    # CLCW version 0, COP-1 (01), VCID 5, lockout set, report value 0x2A.
    clcw = tm.decode_clcw(bytes([0b0_00_000_01, 0b000101_00, 0b0010_0000, 0x2A]))
    assert clcw is not None
    assert (clcw["cop_in_effect"], clcw["vcid"], clcw["lockout"], clcw["report_value"]) == (
        1,
        5,
        1,
        0x2A,
    )


frame_fields = st.fixed_dictionaries(
    {
        "scid": st.integers(0, 0x3FF),
        "vcid": st.integers(0, 7),
        "mcfc": st.integers(0, 255),
        "vcfc": st.integers(0, 255),
        "fhp": st.integers(0, 0x7FF),
        "sync_flag": st.booleans(),
        "packet_order": st.booleans(),
        "segment_length_id": st.integers(0, 3),
    }
)


@given(
    fields=frame_fields,
    framing=st.builds(
        FramingDef, frame_length=st.integers(30, 300), fecf=st.booleans(), ocf=st.booleans()
    ),
    sec=st.one_of(st.none(), st.binary(min_size=0, max_size=8)),
    data=st.data(),
)
def test_tm_frame_round_trip(
    fields: dict[str, int], framing: FramingDef, sec: bytes | None, data: st.DataObject
) -> None:
    assert framing.frame_length is not None
    secondary = None if sec is None else bytes([len(sec)]) + sec  # version 0, length - 1
    room = framing.frame_length - 6 - tm.trailer_length(framing) - len(secondary or b"")
    payload = data.draw(st.binary(min_size=room, max_size=room))
    ocf = data.draw(st.binary(min_size=4, max_size=4)) if framing.ocf else None
    frame = tm.TmFrame(
        data_field=payload,
        ocf=ocf,
        ocf_flag=ocf is not None,
        secondary_header=secondary,
        sec_hdr_flag=secondary is not None,
        **fields,  # type: ignore[arg-type]
    )
    fmt = tm.TmFrameFormat(framing)
    wire = fmt.build(frame)
    assert len(wire) == framing.frame_length
    parsed = fmt.parse(wire)
    assert parsed == tm.TmFrame(
        **{**{k: getattr(frame, k) for k in frame.__slots__}, "fecf": parsed.fecf}
    )
    assert fmt.build(parsed) == wire
    if framing.fecf:
        assert crc16_ok(wire) and parsed.fecf == int.from_bytes(wire[-2:], "big")
    # The decoder's fast path finds the same data field.
    h = tm.parse_primary_header(wire)
    bounds = tm.data_field_bounds(wire, h, framing)
    assert bounds is not None and wire[bounds[0] : bounds[1]] == payload


@given(
    apid=st.integers(0, 0x7FF),
    seq=st.integers(0, 100_000),
    data_field=st.binary(min_size=1, max_size=500),
    sec=st.booleans(),
    flags=st.sampled_from(list(sp.SequenceFlags)),
    ptype=st.sampled_from(list(sp.PacketType)),
)
def test_space_packet_round_trip(
    apid: int,
    seq: int,
    data_field: bytes,
    sec: bool,
    flags: sp.SequenceFlags,
    ptype: sp.PacketType,
) -> None:
    wire = sp.build_space_packet(
        apid, seq, data_field, sec_hdr_flag=sec, seq_flags=flags, packet_type=ptype
    )
    packet = sp.parse_space_packet(wire)
    h = packet.header
    assert (h.apid, h.seq_count, h.sec_hdr_flag, h.seq_flags, h.type) == (
        apid,
        seq % 16384,
        int(sec),
        flags,
        ptype,
    )
    assert packet.data_field == data_field and h.data_length == len(data_field) - 1
    assert packet.to_bytes() == wire
    assert list(sp.iter_space_packets(wire * 3)) == [packet] * 3


def test_space_packet_truncated() -> None:
    wire = sp.build_space_packet(5, 1, b"abcdef")
    with pytest.raises(BytesTooShort) as info:
        sp.parse_space_packet(wire[:-1])
    assert (info.value.expected, info.value.got) == (12, 11)
    idle = sp.build_idle_packet(7)
    assert sp.parse_space_packet(idle).idle
