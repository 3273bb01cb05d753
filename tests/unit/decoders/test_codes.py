"""Known-answer and round-trip tests: CRC-16, CUC/CDS time codes, AX.25, KISS, randomiser."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from groundwatch.decoders.api import DecodeError
from groundwatch.decoders.ax25 import (
    Ax25Digipeater,
    Ax25Frame,
    build_ax25,
    parse_ax25,
)
from groundwatch.decoders.crc import append_crc16, crc16_ccitt, crc16_ok
from groundwatch.decoders.sync import pseudo_random_sequence
from groundwatch.decoders.timecodes import (
    CCSDS_EPOCH_NS,
    GPS_EPOCH_NS,
    decode_cds,
    decode_cuc,
    encode_cds,
    encode_cuc,
)
from groundwatch.decoders.wire_layouts import Ax25UiFrame
from groundwatch.kiss import FEND, FESC, KissDecoder, KissError, KissFrame, kiss_encode

NS = 1_000_000_000
# 2000-01-01T00:00:00 UTC is 946,684,800 s after the Unix epoch and 15,340 days after the
# CCSDS epoch 1958-01-01 (42 years, 10 of them leap: 1960..1996), i.e. 1,325,376,000 s =
# 0x4EFFA200. Leap seconds are not counted (see timecodes.py): on-board seconds are laid on
# the UTC calendar as POSIX time is.
Y2K_NS = 946_684_800 * NS


def test_crc16_check_value() -> None:
    assert crc16_ccitt(b"123456789") == 0x29B1
    assert crc16_ccitt(b"") == 0xFFFF
    framed = append_crc16(b"123456789")
    assert framed[-2:] == b"\x29\xb1" and crc16_ok(framed)
    assert not crc16_ok(b"123456789\x29\xb0")


def test_cuc_known_answer() -> None:
    data = bytes.fromhex("4EFFA2008000")  # 4 coarse, 2 fine: Y2K + 0.5 s
    assert decode_cuc(data, 4, 2, CCSDS_EPOCH_NS) == (Y2K_NS + NS // 2, 6)
    assert encode_cuc(Y2K_NS + NS // 2, 4, 2, CCSDS_EPOCH_NS) == data
    # P-field 0x2E: no extension, code 010 (agency epoch), 4 coarse (11), 2 fine (10).
    with_p = bytes([0b0_010_11_10]) + data
    assert decode_cuc(with_p, epoch_ns=CCSDS_EPOCH_NS, p_field=True) == (Y2K_NS + NS // 2, 7)
    assert encode_cuc(Y2K_NS + NS // 2, 4, 2, CCSDS_EPOCH_NS, p_field=True) == with_p
    # GPS epoch 1980-01-06, 1 fine octet: 0x40/256 = 0.25 s.
    assert decode_cuc(bytes([0, 0, 0, 10, 0x40]), 4, 1, GPS_EPOCH_NS)[0] == (
        315_964_800 * NS + 10 * NS + NS // 4
    )


def test_cds_known_answer() -> None:
    # 2000-01-01T12:00:00.001: day 15340 = 0x3BEC, ms of day 43,200,001 = 0x02932E01.
    t = Y2K_NS + 43_200_001 * 1_000_000
    data = bytes.fromhex("3BEC02932E01")
    assert decode_cds(data) == (t, 6)
    assert encode_cds(t) == data
    # 24-bit days and 16-bit microseconds (+ 7 us); P-field 0b0100_0101.
    data_us = bytes.fromhex("003BEC02932E010007")
    assert decode_cds(data_us, 3, 2) == (t + 7_000, 9)
    assert decode_cds(bytes([0b0100_0101]) + data_us, p_field=True) == (t + 7_000, 10)
    assert encode_cds(t + 7_000, 3, 2, p_field=True) == bytes([0b0100_0101]) + data_us


@given(
    seconds=st.integers(0, 2**32 - 1),
    fine=st.integers(0, 3),
    fine_value=st.integers(0, 2**24 - 1),
)
def test_cuc_round_trip(seconds: int, fine: int, fine_value: int) -> None:
    fine_value %= 1 << (8 * fine) if fine else 1
    data = seconds.to_bytes(4, "big") + fine_value.to_bytes(fine, "big")
    ns, used = decode_cuc(data, 4, fine, GPS_EPOCH_NS)
    assert used == 4 + fine
    assert encode_cuc(ns, 4, fine, GPS_EPOCH_NS) == data


@given(days=st.integers(0, 2**16 - 1), ms=st.integers(0, 86_399_999), us=st.integers(0, 999))
def test_cds_round_trip(days: int, ms: int, us: int) -> None:
    data = days.to_bytes(2, "big") + ms.to_bytes(4, "big") + us.to_bytes(2, "big")
    ns, used = decode_cds(data, 2, 2)
    assert used == 8 and encode_cds(ns, 2, 2) == data


def test_time_codes_reject_short_input() -> None:
    with pytest.raises(DecodeError):
        decode_cuc(b"\x00\x01", 4, 2)
    with pytest.raises(DecodeError):
        decode_cds(b"\x00" * 5)


def test_ax25_known_answer() -> None:
    # APRS-style UI frame: CQ (dst) from DP0BEM-1 via WIDE1-1, PID F0, info "hi".
    wire = bytes.fromhex(
        "86a240404040e0"  # 'C'<<1 'Q'<<1 + 4 spaces; SSID octet: C=1, RR=11, SSID 0
        "88a060848a9a62"  # 'DP0BEM'<<1; SSID octet 0x62: C=0, RR=11, SSID 1
        "ae92888a624063"  # 'WIDE1 '<<1; SSID 1, last address (X bit)
        "03f06869"
    )
    frame = parse_ax25(wire)
    assert (frame.dst, frame.dst_ssid, frame.src, frame.src_ssid) == ("CQ", 0, "DP0BEM", 1)
    assert frame.digipeaters == [Ax25Digipeater("WIDE1", 1, False)]
    assert (frame.control, frame.pid, frame.info, frame.command) == (3, 0xF0, b"hi", True)
    assert build_ax25(frame) == wire
    assert Ax25UiFrame.build(Ax25UiFrame.parse(wire)) == wire  # the Construct layout too


callsigns = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=6)


@given(
    dst=callsigns,
    src=callsigns,
    dst_ssid=st.integers(0, 15),
    src_ssid=st.integers(0, 15),
    digis=st.lists(st.tuples(callsigns, st.integers(0, 15), st.booleans()), max_size=8),
    info=st.binary(max_size=300),
)
def test_ax25_round_trip(
    dst: str,
    src: str,
    dst_ssid: int,
    src_ssid: int,
    digis: list[tuple[str, int, bool]],
    info: bytes,
) -> None:
    frame = Ax25Frame(
        dst=dst,
        src=src,
        info=info,
        dst_ssid=dst_ssid,
        src_ssid=src_ssid,
        digipeaters=[Ax25Digipeater(*d) for d in digis],
    )
    wire = build_ax25(frame)
    assert parse_ax25(wire) == frame
    parsed = Ax25UiFrame.parse(wire)
    assert Ax25UiFrame.build(parsed) == wire


def test_ax25_rejects_garbage() -> None:
    for bad in (b"", b"\x00" * 10, bytes(range(40)), b"\x86\xa2" + b"\x41" * 20):
        with pytest.raises(DecodeError):
            parse_ax25(bad)


def test_kiss_known_answer_and_split_chunks() -> None:
    payload = bytes([0x01, FEND, 0x02, FESC, 0x03])
    wire = kiss_encode(payload, port=2)
    assert wire == bytes([0xC0, 0x20, 0x01, 0xDB, 0xDC, 0x02, 0xDB, 0xDD, 0x03, 0xC0])
    decoder = KissDecoder()
    got: list[KissFrame | KissError] = []
    stream = b"\xc0\xc0" + wire + wire
    for i in range(len(stream)):
        got += decoder.feed(stream[i : i + 1])
    assert got == [KissFrame(2, 0, payload)] * 2
    bad = KissDecoder().feed(bytes([0xC0, 0x00, 0xDB, 0x41, 0xC0]))
    assert len(bad) == 1 and isinstance(bad[0], KissError)


@given(st.lists(st.binary(max_size=200), max_size=10), st.integers(1, 50))
def test_kiss_round_trip(payloads: list[bytes], chunk: int) -> None:
    stream = b"".join(kiss_encode(p) for p in payloads)
    decoder = KissDecoder()
    got: list[KissFrame | KissError] = []
    for i in range(0, len(stream), chunk):
        got += decoder.feed(stream[i : i + chunk])
    assert [g.data for g in got if isinstance(g, KissFrame)] == payloads


def test_pseudo_randomiser_sequence() -> None:
    seq = pseudo_random_sequence(300)
    # 131.0-B-4 section 10: the sequence starts FF 48 0E C0 9A 0D 70 BC, period 255 bits.
    assert seq[:8] == bytes.fromhex("FF480EC09A0D70BC")
    assert seq[255:263] == seq[:8]
