"""Layout features real missions need: header parameters, variable lengths, validity,
compound selectors, raw access in expressions, exact division, fill octets, packet CRCs,
length checks and rejects that say what happened."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from groundwatch.decoders.api import DictionaryError
from groundwatch.decoders.crc import append_crc16
from groundwatch.decoders.dictionary import MissionDictionary, load_dictionary
from groundwatch.decoders.frame_decoder import FrameDecoder
from groundwatch.decoders.space_packet import (
    build_idle_packet,
    build_space_packet,
    iter_space_packets,
)
from groundwatch.decoders.wire_layouts import Clcw
from groundwatch.model import DecodeResult, RawFrame, RejectReason

DATA = Path(__file__).resolve().parents[2] / "data"


def load(tmp_path: Path, text: str) -> MissionDictionary:
    path = tmp_path / "mission.yaml"
    path.write_text(textwrap.dedent(text))
    return load_dictionary(path)


def decode(dictionary: MissionDictionary, *frames: bytes) -> list[DecodeResult]:
    decoder = FrameDecoder(dictionary)
    return [decoder.decode(RawFrame(f, 0, "gs", "test")) for f in frames]


def params(result: DecodeResult) -> dict[str, Any]:
    assert not result.rejections, result.rejections
    (packet,) = result.packets
    return {name: (v.raw, v.eng) for name, v in packet.params.items()}


def both_paths(dictionary: MissionDictionary, name: str, data: bytes) -> dict[str, Any]:
    """The fast path and the Construct path give the same parameters."""
    layout = dictionary.packet(name)
    fast, _ = layout.decode(data)
    spec, _ = layout.decode_construct(data)
    assert dict(fast) == spec
    return {n: (v.raw, v.eng) for n, v in spec.items()}


BARE = "mission: m\nframing: {kind: none}\npackets:\n"


def test_header_fields_are_parameters(tmp_path: Path) -> None:
    d = load(
        tmp_path,
        BARE
        + """
          - name: hk
            apid: 5
            header: {version: pkt_version, apid: pkt_apid, seq_count: seq, data_length: len}
            parameters: [{name: temp, type: uint8}]
        """,
    )
    packet = build_space_packet(5, 77, b"\x2a")
    assert params(decode(d, packet)[0]) == {
        "pkt_version": (0, 0),
        "pkt_apid": (5, 5),
        "seq": (77, 77),
        "len": (0, 0),
        "temp": (42, 42),
    }
    assert d.packet("hk").fast is not None
    assert d.packet("hk").build({"temp": 42}) == b"\x2a"  # the frame layer writes the header


def test_variable_length_fields(tmp_path: Path) -> None:
    d = load(
        tmp_path,
        BARE
        + """
          - name: msg
            apid: 6
            parameters:
              - {name: n, type: uint8}
              - {name: text, type: string, length_from: n}
              - {name: blob, type: bytes, length: rest}
              - {name: crc, type: uint16}
        """,
    )
    data = b"\x03abc" + b"\x01\x02\x03\x04\x05" + b"\xbe\xef"
    assert params(decode(d, build_space_packet(6, 0, data))[0]) == {
        "n": (3, 3),
        "text": ("abc", "abc"),
        "blob": (b"\x01\x02\x03\x04\x05", "0102030405"),
        "crc": (0xBEEF, 0xBEEF),
    }
    layout = d.packet("msg")
    assert (
        layout.build({"n": 3, "text": "abc", "blob": b"\x01\x02\x03\x04\x05", "crc": 0xBEEF})
        == data
    )
    too_long = decode(d, build_space_packet(6, 0, b"\x09abc"))[0]
    assert [r.reason for r in too_long.rejections] == [RejectReason.BAD_PACKET]


def test_validity_makes_values_absent_and_counts_them(tmp_path: Path) -> None:
    d = load(
        tmp_path,
        BARE
        + """
          - name: hk
            apid: 7
            parameters:
              - {name: temp, type: uint16, invalid: [0xFFFF], calibration: {divide: 10}}
              - {name: volts, type: int8, valid: {min: -5, max: 5}}
              - {name: count, type: uint8}
        """,
    )
    assert both_paths(d, "hk", b"\x00\x64\x03\x01") == {
        "temp": (100, 10.0),
        "volts": (3, 3),
        "count": (1, 1),
    }
    assert both_paths(d, "hk", b"\xff\xff\x09\x02") == {"count": (2, 2)}
    decoder = FrameDecoder(d)
    result = decoder.decode(RawFrame(build_space_packet(7, 0, b"\xff\xff\xf0\x02"), 0, "gs", "t"))
    assert params(result) == {"count": (2, 2)}
    columns = result.packets[0].params
    assert columns.eng[:2] == (None, None) and columns.raw[:2] == (0xFFFF, -16)  # type: ignore[attr-defined]
    # Three each: the fast and the Construct path above, then the frame decoder.
    assert d.absent_values() == {"hk.temp": 3, "hk.volts": 3}
    # The count /metrics shows (groundwatch_not_computed_values, reason "invalid").
    assert decoder.not_computed() == {("hk", "temp", "invalid"): 3, ("hk", "volts", "invalid"): 3}


def test_compound_selectors_and_no_selector_match(tmp_path: Path) -> None:
    d = load(
        tmp_path,
        BARE
        + """
          - name: tm_3_25_sid1
            apid: 8
            selector:
              - {offset: 0, type: uint8, value: 3}
              - {offset: 1, type: uint8, value: 25}
              - {offset: 2, type: uint16, mask: 0x0FF0, min: 1, max: 2}
            parameters: [{name: a, type: uint8}, {name: b, type: uint8}, {name: c, type: uint16}]
          - name: tm_3_25_other
            apid: 8
            selector:
              - {offset: 0, type: uint8, value: 3}
              - {offset: 1, type: uint8, values: [26, 27]}
            parameters: [{name: x, type: uint32}]
        """,
    )
    first = decode(d, build_space_packet(8, 0, b"\x03\x19\xf0\x2f"))[0]
    assert first.packets[0].name == "tm_3_25_sid1"
    second = decode(d, build_space_packet(8, 0, b"\x03\x1b\x00\x00"))[0]
    assert second.packets[0].name == "tm_3_25_other"
    miss = decode(d, build_space_packet(8, 0, b"\x03\x19\x0f\x3f"))[0]
    (reject,) = miss.rejections
    assert reject.reason is RejectReason.NO_SELECTOR_MATCH
    assert "apid 8" in reject.detail and "mask 0xff0 = 243" in reject.detail
    unknown = decode(d, build_space_packet(9, 0, b"\x00"))[0]
    assert unknown.rejections[0].reason is RejectReason.UNKNOWN_APID
    built = d.packet("tm_3_25_sid1").build({"a": 0, "b": 0, "c": 0})
    assert d.packet_for(8, built) is d.packet("tm_3_25_sid1")


def test_expressions_read_raw_values_cast_bits_and_helpers_stay_out(tmp_path: Path) -> None:
    long_expr = "max(" + ", ".join(["hi"] * 300) + ")"  # 1,200 characters: under 2,000
    d = load(
        tmp_path,
        BARE
        + f"""
          - name: hk
            apid: 10
            parameters:
              - {{name: mode, type: uint8, enum: {{0: SAFE, 1: NOMINAL}}}}
              - {{name: hi, type: uint16, store: false}}
              - {{name: lo, type: uint16, store: false}}
              - {{name: value, expr: "float32((hi << 16) | lo)"}}
              - {{name: mode_number, expr: "raw(mode) * 10"}}
              - {{name: half, expr: "int(value / 2)", store: false}}
              - {{name: quarter, expr: "half / 2"}}
              - {{name: long, expr: "{long_expr}"}}
        """,
    )
    data = b"\x01\x40\x49\x0f\xdb"  # 0x40490FDB is pi as an IEEE float32
    values = both_paths(d, "hk", data)
    assert values["mode"] == (1, "NOMINAL")
    assert values["mode_number"][1] == 10
    assert values["value"][1] == pytest.approx(3.14159265, rel=1e-7)
    assert values["quarter"][1] == 0.5
    assert "hi" not in values and "lo" not in values and "half" not in values
    assert {p.name for p in d.packet("hk").parameters} == {
        "mode", "value", "mode_number", "quarter", "long",
    }  # fmt: skip


def test_divide_is_exact(tmp_path: Path) -> None:
    d = load(
        tmp_path,
        BARE
        + """
          - name: hk
            apid: 11
            parameters: [{name: volts, type: uint16, calibration: {divide: 1000}, unit: V}]
        """,
    )
    assert both_paths(d, "hk", (818).to_bytes(2, "big"))["volts"] == (818, 0.818)
    assert d.packet("hk").build({"volts": 0.818}) == (818).to_bytes(2, "big")


def _frame(vcfc: int, fhp: int, data_field: bytes, ocf: bytes = b"") -> bytes:
    word = (1 << 4) | bool(ocf)  # version 0, scid 1, vcid 0, OCF flag
    header = word.to_bytes(2, "big") + bytes([0, vcfc]) + (0x1800 | fhp).to_bytes(2, "big")
    return append_crc16(header + data_field + ocf)


def test_frame_header_and_clcw_fields_are_parameters(tmp_path: Path) -> None:
    d = load(
        tmp_path,
        """
        mission: m
        spacecraft: [{name: sc, scid: 1}]
        framing:
          kind: tm
          frame_length: 44
          ocf: true
          parameters: {vcfc: frame_count, ocf_flag: ocf, clcw.lockout: lockout,
                       clcw.report_value: farm_n}
        packets: [{name: hk, apid: 12, parameters: [{name: a, type: uint8}]}]
        """,
    )
    fields = {
        "control_word_type": 0, "clcw_version": 0, "status_field": 0, "cop_in_effect": 1,
        "vcid": 0, "reserved": 0, "no_rf_available": False, "no_bit_lock": False,
        "lockout": True, "wait": False, "retransmit": False, "farm_b_counter": 0, "spare": 0,
        "report_value": 77,
    }  # fmt: skip
    clcw = bytes(Clcw.build(fields))
    packet = build_space_packet(12, 0, b"\x05")
    frame = _frame(9, 0, packet + build_idle_packet(32 - len(packet)), clcw)
    (result,) = decode(d, frame)
    assert not result.rejections
    tm_frame, hk = result.packets
    assert tm_frame.name == "tm_frame" and hk.name == "hk"
    assert {n: v.eng for n, v in tm_frame.params.items()} == {
        "frame_count": 9, "ocf": 1, "lockout": 1, "farm_n": 77,
    }  # fmt: skip
    assert {p.name for p in d.parameters() if p.packet == "tm_frame"} == {
        "frame_count", "ocf", "lockout", "farm_n",
    }  # fmt: skip
    with pytest.raises(DictionaryError, match=r"unknown field 'clcw\.nope'"):
        load(tmp_path, "mission: m\nframing: {parameters: {clcw.nope: x}}\npackets: [{name: p}]\n")


def test_fill_after_the_last_packet(tmp_path: Path) -> None:
    text = """
        mission: m
        spacecraft: [{name: sc, scid: 1}]
        framing: {kind: tm, frame_length: 40, fecf: true FILL}
        packets: [{name: hk, apid: 12, parameters: [{name: a, type: uint8}]}]
    """
    packet = build_space_packet(12, 0, b"\x01")
    frames = [_frame(i, 0, packet + b"\xe0" * (32 - len(packet))) for i in range(3)]
    plain = decode(load(tmp_path, text.replace(" FILL", "")), *frames)
    assert any(r.rejections for r in plain)  # the fill was read as a packet start
    filled = decode(load(tmp_path, text.replace(" FILL", ", fill: 0xE0")), *frames)
    assert [len(r.packets) for r in filled] == [1, 1, 1]
    assert not any(r.rejections for r in filled)


def test_packet_crc_on_europa_clipper_packets(tmp_path: Path) -> None:
    d = load(
        tmp_path,
        BARE.replace("packets:", "packet_crc: crc16-ccitt-false\npackets:")
        + """
          - {name: mag_1217, apid: 1217, parameters: [{name: body, type: bytes, length: rest}]}
          - {name: mag_1227, apid: 1227, parameters: [{name: body, type: bytes, length: rest}]}
          - {name: mag_1232, apid: 1232, parameters: [{name: body, type: bytes, length: rest}]}
        """,
    )
    packets = [
        p.to_bytes()
        for f in sorted((DATA / "europa_clipper").glob("apid*.tlm"))
        for p in iter_space_packets(f.read_bytes())
    ]
    assert len(packets) > 10
    results = decode(d, *packets)
    assert sum(len(r.packets) for r in results) == len(packets)
    corrupted = bytearray(packets[0])
    corrupted[10] ^= 0x01
    (bad,) = decode(d, bytes(corrupted))
    assert [r.reason for r in bad.rejections] == [RejectReason.BAD_PACKET_CRC]
    with pytest.raises(DictionaryError, match="unknown crc 'crc-17'"):
        load(tmp_path, BARE + "  - {name: x, apid: 1, crc: crc-17, parameters: []}\n")


def test_layout_length_checks(tmp_path: Path) -> None:
    d = load(
        tmp_path,
        BARE
        + """
          - {name: short, apid: 13, length: 4, parameters: [{name: a, type: uint16}]}
          - {name: lenient, apid: 14, extra_octets: ignore, parameters: [{name: a, type: uint16}]}
        """,
    )
    assert d.warnings == [
        f"{tmp_path / 'mission.yaml'}: packet short: layout is shorter than the packet "
        "(2 octets for a 4-octet data field)"
    ]
    (longer,) = decode(d, build_space_packet(13, 0, b"\x00\x01\x02\x03"))
    assert [r.reason for r in longer.rejections] == [RejectReason.LENGTH_MISMATCH]
    (shorter,) = decode(d, build_space_packet(13, 0, b"\x00"))
    assert [r.reason for r in shorter.rejections] == [RejectReason.TRUNCATED_PACKET]
    (ignored,) = decode(d, build_space_packet(14, 0, b"\x00\x01\x02\x03"))
    assert params(ignored) == {"a": (1, 1)}
    assert d.packet("lenient").longer_packets == 1


def test_conditional_fields(tmp_path: Path) -> None:
    d = load(
        tmp_path,
        BARE
        + """
          - name: event
            apid: 15
            parameters:
              - {name: kind, type: uint4, enum: {0: NONE, 1: TEMP, 2: BOTH}}
              - {name: flags, type: uint4}
              - {name: temp, type: int16, present_if: "kind >= 1", calibration: {divide: 10}}
              - {name: volts, type: uint8, present_if: "kind == 2 and flags != 0"}
              - {name: crc, type: uint16}
        """,
    )
    assert d.packet("event").fast is None  # read by Construct
    assert params(decode(d, build_space_packet(15, 0, b"\x00\xbe\xef"))[0]) == {
        "kind": (0, "NONE"),
        "flags": (0, 0),
        "crc": (0xBEEF, 0xBEEF),
    }
    assert params(decode(d, build_space_packet(15, 0, b"\x21\xff\x38\x07\xbe\xef"))[0]) == {
        "kind": (2, "BOTH"),
        "flags": (1, 1),
        "temp": (-200, -20.0),
        "volts": (7, 7),
        "crc": (0xBEEF, 0xBEEF),
    }
    built = d.packet("event").build({"kind": "TEMP", "temp": 2.5, "crc": 1})
    assert built == b"\x10\x00\x19\x00\x01"
    with pytest.raises(DictionaryError, match="unknown parameters"):
        load(tmp_path, BARE + "  - {name: p, apid: 1, parameters: [{name: a, type: uint8, "
             "present_if: 'later == 1'}, {name: later, type: uint8}]}\n")  # fmt: skip
