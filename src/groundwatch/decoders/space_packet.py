"""CCSDS space packets (133.0-B-2): primary header, iteration over a buffer, builder.

The Construct layout ``wire_layouts.SpacePacketPrimaryHeader`` is the spec (the builder uses
it, and Construct loads only then); ``parse_primary_header`` is the fast path used on every
packet (one ``struct`` read and masks, since Construct's ``compile()`` gives no speed-up on
``BitStruct``) and a hypothesis test proves it equal to the Construct parse.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum

from groundwatch.decoders.api import BytesTooShort
from groundwatch.model import SpacePacketHeader

PRIMARY_HEADER_LEN = 6
MAX_PACKET_LEN = PRIMARY_HEADER_LEN + 65536  # data length field is octets - 1
IDLE_APID = 0x7FF
MAX_SEQ_COUNT = 1 << 14


class PacketType(IntEnum):
    TELEMETRY = 0
    TELECOMMAND = 1


class SequenceFlags(IntEnum):
    CONTINUATION = 0b00
    FIRST = 0b01
    LAST = 0b10
    UNSEGMENTED = 0b11


_HEADER = struct.Struct(">HHH")


def parse_primary_header(buf: bytes | memoryview, offset: int = 0) -> SpacePacketHeader:
    """The primary header at ``offset`` (raises BytesTooShort)."""
    if len(buf) - offset < PRIMARY_HEADER_LEN:
        raise BytesTooShort(PRIMARY_HEADER_LEN, max(0, len(buf) - offset), "packet header")
    w0, w1, length = _HEADER.unpack_from(buf, offset)
    # Positional, in SpacePacketHeader's field order (version, type, sec_hdr_flag, apid,
    # seq_flags, seq_count, data_length): this runs once per packet.
    return SpacePacketHeader(
        w0 >> 13, (w0 >> 12) & 1, (w0 >> 11) & 1, w0 & 0x7FF, w1 >> 14, w1 & 0x3FFF, length
    )


def packet_length(buf: bytes | memoryview, offset: int = 0) -> int:
    """Total octets of the packet whose header starts at ``offset`` (needs 6 octets)."""
    return PRIMARY_HEADER_LEN + 1 + ((buf[offset + 4] << 8) | buf[offset + 5])


@dataclass(slots=True, frozen=True)
class SpacePacket:
    header: SpacePacketHeader
    data_field: bytes  # everything after the primary header (secondary header included)

    @property
    def idle(self) -> bool:
        return self.header.apid == IDLE_APID

    def to_bytes(self) -> bytes:
        return build_primary_header(self.header) + self.data_field


def parse_space_packet(buf: bytes | memoryview, offset: int = 0) -> SpacePacket:
    """One packet at ``offset``; raises BytesTooShort when the buffer ends before it does."""
    header = parse_primary_header(buf, offset)
    total = PRIMARY_HEADER_LEN + header.data_length + 1
    if len(buf) - offset < total:
        raise BytesTooShort(total, len(buf) - offset, f"packet apid {header.apid}")
    start = offset + PRIMARY_HEADER_LEN
    return SpacePacket(header, bytes(buf[start : offset + total]))


def iter_space_packets(buf: bytes | memoryview) -> Iterator[SpacePacket]:
    """Packets back to back in ``buf`` (a Level-0 file, a frame-less stream).

    Raises BytesTooShort at a trailing partial packet, after yielding the complete ones."""
    offset = 0
    while offset < len(buf):
        packet = parse_space_packet(buf, offset)
        offset += PRIMARY_HEADER_LEN + len(packet.data_field)
        yield packet


def split_exact_space_packets(buf: bytes) -> list[bytes]:
    """The space packets ``buf`` consists of exactly (version 0, lengths ending at its end),
    or [] when it is something else (an AX.25 text beacon, a mission's own format)."""
    out: list[bytes] = []
    pos = 0
    while pos < len(buf):
        if len(buf) - pos < PRIMARY_HEADER_LEN + 1 or buf[pos] >> 5 != 0:
            return []
        total = PRIMARY_HEADER_LEN + 1 + ((buf[pos + 4] << 8) | buf[pos + 5])
        if pos + total > len(buf):
            return []
        out.append(buf[pos : pos + total])
        pos += total
    return out


def build_primary_header(header: SpacePacketHeader) -> bytes:
    from groundwatch.decoders.wire_layouts import SpacePacketPrimaryHeader

    return bytes(
        SpacePacketPrimaryHeader.build(
            {
                "version": header.version,
                "type": header.type,
                "sec_hdr_flag": bool(header.sec_hdr_flag),
                "apid": header.apid,
                "seq_flags": header.seq_flags,
                "seq_count": header.seq_count,
                "data_length": header.data_length,
            }
        )
    )


def build_space_packet(
    apid: int,
    seq_count: int,
    data_field: bytes,
    *,
    packet_type: PacketType = PacketType.TELEMETRY,
    sec_hdr_flag: bool = False,
    seq_flags: SequenceFlags = SequenceFlags.UNSEGMENTED,
    version: int = 0,
) -> bytes:
    """A whole space packet; ``seq_count`` wraps modulo 16384."""
    if not 1 <= len(data_field) <= 65536:
        raise ValueError(f"packet data field must be 1..65536 octets, got {len(data_field)}")
    header = SpacePacketHeader(
        version=version,
        type=int(packet_type),
        sec_hdr_flag=int(sec_hdr_flag),
        apid=apid,
        seq_flags=int(seq_flags),
        seq_count=seq_count % MAX_SEQ_COUNT,
        data_length=len(data_field) - 1,
    )
    return build_primary_header(header) + bytes(data_field)


def build_idle_packet(total_length: int, fill: int = 0x55) -> bytes:
    """An idle packet (APID 0x7FF) of exactly ``total_length`` octets (at least 7)."""
    if total_length < PRIMARY_HEADER_LEN + 1:
        raise ValueError(f"an idle packet needs at least 7 octets, not {total_length}")
    return build_space_packet(IDLE_APID, 0, bytes([fill]) * (total_length - PRIMARY_HEADER_LEN))
