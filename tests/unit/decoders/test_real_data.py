"""Real recorded packets: CYGNSS mixed stream split by APID, Europa Clipper packet CRCs."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from groundwatch.decoders.api import Framing, FramingDef
from groundwatch.decoders.crc import crc16_ok
from groundwatch.decoders.frame_decoder import FrameDecoder
from groundwatch.decoders.packing import TmFramePacker
from groundwatch.decoders.space_packet import iter_space_packets
from groundwatch.model import RawFrame

DATA = Path(__file__).resolve().parents[2] / "data"
CYGNSS = DATA / "cygnss" / "CYGNSS_F7_L0_2022_086_10_15_V01_F__first101pkts.tlm"
REFERENCE = json.loads((DATA / "reference" / "space_packet_headers_ccsdspy.json").read_text())
REF_PREFIX = "space_packets/ccsdspy_cygnss/"


def _header_dict(packet: object) -> dict[str, int]:
    h = packet.header  # type: ignore[attr-defined]
    return {
        "CCSDS_VERSION_NUMBER": h.version,
        "CCSDS_PACKET_TYPE": h.type,
        "CCSDS_SECONDARY_FLAG": h.sec_hdr_flag,
        "CCSDS_APID": h.apid,
        "CCSDS_SEQUENCE_FLAG": h.seq_flags,
        "CCSDS_SEQUENCE_COUNT": h.seq_count,
        "CCSDS_PACKET_LENGTH": h.data_length,
    }


def test_cygnss_stream_splits_like_the_reference() -> None:
    stream = CYGNSS.read_bytes()
    packets = list(iter_space_packets(stream))
    ref = REFERENCE[REF_PREFIX + CYGNSS.name]
    assert len(packets) == ref["packets"] == 101
    assert sorted({p.header.apid for p in packets}) == ref["apids"]
    assert [_header_dict(p) for p in packets[:5]] == ref["first5"]
    last = ref["last"] if isinstance(ref["last"], list) else [ref["last"]]
    assert [_header_dict(p) for p in packets[-len(last) :]] == last
    by_apid: dict[int, bytearray] = defaultdict(bytearray)
    for p in packets:
        by_apid[p.header.apid] += p.to_bytes()
    files = sorted((DATA / "cygnss").glob("apid*.tlm"))
    assert len(files) == len(by_apid) == 7
    for f in files:
        apid = int(f.stem[4:])
        assert bytes(by_apid[apid]) == f.read_bytes(), f.name
        assert REFERENCE[REF_PREFIX + f.name]["packets"] == len(
            list(iter_space_packets(f.read_bytes()))
        )


def test_cygnss_packets_through_tm_frames_and_bare() -> None:
    """Packed into 1115-octet frames (CYGNSS packets span up to 3 of them), then decoded
    generically: every packet comes back byte for byte."""
    stream = CYGNSS.read_bytes()
    originals = [p.to_bytes() for p in iter_space_packets(stream)]
    framing = FramingDef(frame_length=1115, ocf=True)
    frames = TmFramePacker(0x2A, 1, framing).frames_for(originals)
    decoder = FrameDecoder(None, framing)
    got: list[bytes] = []
    for i, data in enumerate(frames):
        result = decoder.decode(RawFrame(data, 10**18 + i * 10**6, "gs1"))
        assert result.valid and result.crc_ok and not result.rejections
        assert result.spacecraft == "scid-42"
        for p in result.packets:
            assert p.header is not None and p.payload is not None
            got.append(_packet_bytes(p))
    assert got == originals
    bare = FrameDecoder(None, FramingDef(kind=Framing.NONE))
    for original in originals:
        result = bare.decode(RawFrame(original, 0, "gs1"))
        assert [_packet_bytes(p) for p in result.packets] == [original]


def _packet_bytes(p: object) -> bytes:
    from groundwatch.decoders.space_packet import build_primary_header

    return build_primary_header(p.header) + p.payload  # type: ignore[attr-defined]


def test_europa_clipper_trailing_crc_all_valid() -> None:
    total = 0
    for f in sorted((DATA / "europa_clipper").glob("apid*.tlm")):
        packets = list(iter_space_packets(f.read_bytes()))
        ref = REFERENCE["space_packets/ccsdspy_europa_clipper/" + f.name]
        assert len(packets) == ref["packets_with_valid_trailing_crc16_ccitt_false"]
        for p in packets:
            assert crc16_ok(p.to_bytes()), (f.name, p.header.seq_count)
            corrupted = bytearray(p.to_bytes())
            corrupted[7] ^= 0x01
            assert not crc16_ok(corrupted)
        total += len(packets)
    assert total == 42
