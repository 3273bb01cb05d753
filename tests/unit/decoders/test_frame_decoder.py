"""FrameDecoder: every malformed input gets its precise reason, with and without a
dictionary, for TM, AX.25 and bare-packet framing."""

from __future__ import annotations

from pathlib import Path

import pytest

from groundwatch.decoders.api import Framing, FramingDef, TelemetryDictionary
from groundwatch.decoders.ax25 import Ax25Frame, build_ax25
from groundwatch.decoders.crc import append_crc16
from groundwatch.decoders.decode_cli import load_dictionary_file
from groundwatch.decoders.frame_decoder import FrameDecoder, FrameIdentity
from groundwatch.decoders.packing import TmFramePacker
from groundwatch.decoders.space_packet import build_space_packet
from groundwatch.model import LimitState, RawFrame

TINY = """\
mission: tiny
spacecraft:
  - {name: tinysat, scid: 0x2A, callsign: TINY1}
framing: {kind: tm, frame_length: 64, fecf: true, ocf: true}
packets:
  - name: hk
    apid: 0x10
    subsystem: POWER
    parameters:
      - {name: temp, type: int16, unit: degC, calibration: {polynomial: [0, 0.1]},
         limits: {yellow_high: 40, red_high: 60}}
      - {name: mode, type: uint8, enum: {0: SAFE, 1: NOMINAL}}
"""


@pytest.fixture
def tiny(tmp_path: Path) -> TelemetryDictionary:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return load_dictionary_file(path)


def raw(data: bytes, t: int = 0) -> RawFrame:
    return RawFrame(data=data, ert_ns=t, station="gs1")


def reasons(decoder: FrameDecoder, data: bytes) -> list[str]:
    return [r.reason.value for r in decoder.decode(raw(data)).rejections]


def test_decodes_parameters_with_a_dictionary(tiny: TelemetryDictionary) -> None:
    packer = TmFramePacker(0x2A, 1, tiny.framing, ocf=bytes([0, 0x04, 0, 7]))
    hk = build_space_packet(0x10, 9, bytes.fromhex("01c201"))  # temp 45.0, NOMINAL
    frames = packer.frames_for([hk, hk])
    decoder = FrameDecoder(tiny)
    result = decoder.decode(raw(frames[0], 5_000))
    assert result.valid and result.crc_ok and result.spacecraft == "tinysat"
    assert result.header is not None and result.header.ocf == bytes([0, 4, 0, 7])
    assert [p.name for p in result.packets] == ["hk", "hk"]
    p = result.packets[1]
    assert p.params["temp"].eng == pytest.approx(45.0) and p.params["temp"].unit == "degC"
    assert p.params["temp"].limit == LimitState.YELLOW_HIGH
    assert p.params["mode"].eng == "NOMINAL" and p.time_ns == 5_001
    assert decoder.peek(raw(frames[0])) == FrameIdentity(0x2A, 1, 0, True, "tinysat")


def test_each_tm_reject_reason(tiny: TelemetryDictionary) -> None:
    decoder = FrameDecoder(tiny)
    packer = TmFramePacker(0x2A, 1, tiny.framing)
    good = packer.frames_for([build_space_packet(0x10, 0, bytes.fromhex("01c201"))])[0]
    assert reasons(decoder, good[:4]) == ["short_frame"]
    assert reasons(decoder, good + b"\x00") == ["wrong_length"]
    flipped = bytearray(good)
    flipped[20] ^= 0x40
    assert reasons(decoder, bytes(flipped)) == ["bad_crc"]
    assert reasons(decoder, append_crc16(bytes([0x40]) + good[1:-2])) == ["bad_version"]
    foreign = TmFramePacker(0x2B, 1, tiny.framing).frames_for([b"\x00\x10\xc0\x00\x00\x00\x00"])
    assert reasons(decoder, foreign[0]) == ["foreign_scid"]
    unknown = packer.frames_for([build_space_packet(0x11, 0, b"abc")])[0]
    assert reasons(decoder, unknown) == ["unknown_apid"]
    bad_enum = packer.frames_for([build_space_packet(0x10, 1, bytes.fromhex("01c209"))])[0]
    assert reasons(decoder, bad_enum) == ["bad_enum"]
    short = packer.frames_for([build_space_packet(0x10, 2, b"\x01")])[0]
    assert reasons(decoder, short) == ["truncated_packet"]
    # FHP beyond the data field (54 octets here).
    body = bytearray(good[:-2])
    body[4], body[5] = 0x18, 60
    assert reasons(decoder, append_crc16(bytes(body))) == ["bad_fhp"]
    counted = decoder.summary.rejected
    assert counted == {
        r: 1
        for r in [
            "short_frame",
            "wrong_length",
            "bad_crc",
            "bad_version",
            "foreign_scid",
            "unknown_apid",
            "bad_enum",
            "truncated_packet",
            "bad_fhp",
        ]
    }
    assert decoder.counters.dropped == 9 and decoder.counters.errors == 0


def test_rejections_carry_raw_bytes_and_link(tiny: TelemetryDictionary) -> None:
    decoder = FrameDecoder(tiny)
    frame = RawFrame(b"\x01\x02\x03", 7, "gs2", source="replay:x")
    rej = decoder.decode(frame).rejections[0]
    assert (rej.data, rej.ert_ns, rej.station, rej.source) == (
        b"\x01\x02\x03",
        7,
        "gs2",
        "replay:x",
    )


def test_generic_decode_without_dictionary() -> None:
    framing = FramingDef(frame_length=64, fecf=False)
    frames = TmFramePacker(700, 3, framing).frames_for([build_space_packet(0x123, 77, b"payload")])
    result = FrameDecoder(None, framing).decode(raw(frames[0]))
    assert result.crc_ok is None and result.valid and result.spacecraft == "scid-700"
    (p,) = result.packets
    assert p.name is None and p.params == {} and p.payload == b"payload"
    assert p.header is not None and (p.header.apid, p.header.seq_count) == (0x123, 77)
    assert result.idle_packets == 1


def test_ax25_with_and_without_dictionary(tiny: TelemetryDictionary) -> None:
    beacon = build_ax25(Ax25Frame(dst="CQ", src="TINY1", info=b"hello world"))
    space = build_ax25(
        Ax25Frame(dst="CQ", src="TINY1", info=build_space_packet(0x10, 3, bytes.fromhex("00fa00")))
    )
    generic = FrameDecoder(None, FramingDef(kind=Framing.AX25))
    r = generic.decode(raw(beacon))
    assert r.valid and r.ax25 is not None and r.ax25.src == "TINY1"
    assert r.packets[0].payload == b"hello world" and r.packets[0].header is None
    assert r.spacecraft == "TINY1"
    with_dict = FrameDecoder(tiny, FramingDef(kind=Framing.AX25))
    r = with_dict.decode(raw(space))
    assert [p.name for p in r.packets] == ["hk"] and r.packets[0].params["temp"].eng == 25.0
    assert r.packets[0].ax25 is not None and r.spacecraft == "tinysat"
    assert reasons(with_dict, beacon) == ["unknown_apid"]
    other = build_ax25(Ax25Frame(dst="CQ", src="N0CALL", info=b"x"))
    assert reasons(with_dict, other) == ["foreign_scid"]
    assert reasons(with_dict, b"\x00" * 30) == ["bad_ax25"]


def test_bare_packets() -> None:
    decoder = FrameDecoder(None, FramingDef(kind=Framing.NONE))
    two = build_space_packet(1, 1, b"a") + build_space_packet(2, 1, b"bb")
    r = decoder.decode(raw(two))
    assert [p.header.apid for p in r.packets if p.header] == [1, 2] and r.valid
    assert reasons(decoder, two[:-1]) == ["truncated_packet"]
    assert reasons(decoder, b"\x00\x01") == ["short_frame"]


def test_layout_bug_becomes_a_rejection(tiny: TelemetryDictionary) -> None:
    class Broken:
        name = "broken"

        def decode(self, data_field: bytes) -> object:
            raise ZeroDivisionError("layout bug")

    class Wrapped:
        """The real dictionary, but one layout misbehaves (a layout module's bug)."""

        def __getattr__(self, name: str) -> object:
            return getattr(tiny, name)

        def packet_for(self, apid: int, data_field: bytes) -> object:
            return Broken()

    decoder = FrameDecoder(Wrapped(), tiny.framing)  # type: ignore[arg-type]
    frame = TmFramePacker(0x2A, 0, tiny.framing).frames_for([build_space_packet(0x10, 0, b"1")])
    assert reasons(decoder, frame[0]) == ["bad_packet"]
    assert decoder.counters.errors == 1


def test_peek(tiny: TelemetryDictionary) -> None:
    tm = FrameDecoder(tiny)
    good = TmFramePacker(0x2A, 3, tiny.framing, vcfc=200).frames_for(
        [b"\x00\x10\xc0\x00\x00\x02\x01\xc2\x01"]
    )[0]
    assert tm.peek(raw(good)) == FrameIdentity(0x2A, 3, 200, True, "tinysat")
    bad = bytearray(good)
    bad[30] ^= 1
    assert tm.peek(raw(bytes(bad))) == FrameIdentity(0x2A, 3, 200, False, "tinysat")
    foreign = TmFramePacker(0x2B, 0, tiny.framing).frames_for([b"\x00\x10\xc0\x00\x00\x00\x00"])
    assert tm.peek(raw(foreign[0])) == FrameIdentity(0x2B, 0, 0, True, None)
    assert tm.peek(raw(good[:10])) is None and tm.peek(raw(b"")) is None
    ax = FrameDecoder(tiny, FramingDef(kind=Framing.AX25))
    beacon = build_ax25(Ax25Frame(dst="CQ", src="TINY1", info=b"hi"))
    assert ax.peek(raw(beacon)) == FrameIdentity(None, 0, None, None, "tinysat")
    assert ax.peek(raw(b"\xff" * 20)) is None
    assert tm.counters.received == 0  # peeking decodes nothing and counts nothing
