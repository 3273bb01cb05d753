"""CCSDS TM transfer frames (132.0-B-3): primary header, data field, OCF/CLCW, FECF.

``TmFrameFormat`` builds one Construct ``Struct`` per frame length from the mission's
``FramingDef`` and the header layouts of ``wire_layouts``; the simulator builds with it and
the tests parse with it (Construct loads only then). The decoder's hot path
(``parse_primary_header``) reads three 16-bit words and masks them: Construct's ``compile()``
does not speed up ``BitStruct``, and a hypothesis test proves the two equal.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from groundwatch.decoders.api import FramingDef
from groundwatch.decoders.crc import crc16_ccitt
from groundwatch.model import TmFrameHeader

if TYPE_CHECKING:  # Construct loads when a frame is built, not to decode one
    from construct import Construct

PRIMARY_HEADER_LEN = 6
OCF_LEN = 4
FECF_LEN = 2
TRANSFER_FRAME_VERSION = 0  # '00' for TM transfer frames
MAX_SCID = 0x3FF


class FirstHeaderPointer(IntEnum):
    """Special first-header-pointer values (132.0-B 4.1.2.7)."""

    IDLE_FRAME = 0x7FE  # only idle data in the frame
    NO_PACKET_START = 0x7FF  # the data field only continues an earlier packet


class SegmentLengthId(IntEnum):
    UNSEGMENTED = 0b11  # required when the synchronisation flag is 0


def decode_clcw(ocf: bytes) -> dict[str, int] | None:
    """The CLCW fields of a 4-octet OCF, or None when it is not a CLCW (type bit 1)."""
    if len(ocf) != OCF_LEN or ocf[0] & 0x80:
        return None
    from groundwatch.decoders.wire_layouts import Clcw

    parsed = Clcw.parse(ocf)
    return {k: int(v) for k, v in parsed.items() if not k.startswith("_")}


def trailer_length(framing: FramingDef) -> int:
    """Octets after the data field in the mission's frames (OCF when it flies, FECF)."""
    return (OCF_LEN if framing.ocf else 0) + (FECF_LEN if framing.fecf else 0)


class TmFrameFormat:
    """Construct layouts of a mission's TM frames (one per frame length)."""

    def __init__(self, framing: FramingDef) -> None:
        self.framing = framing
        self._by_length: dict[int, Construct] = {}

    def struct_for(self, frame_length: int) -> Construct:
        layout = self._by_length.get(frame_length)
        if layout is None:
            layout = self._make(frame_length)
            self._by_length[frame_length] = layout
        return layout

    def _make(self, frame_length: int) -> Construct:
        from construct import Bytes, Checksum, If, Int16ub, RawCopy, Struct, this

        from groundwatch.decoders.wire_layouts import TmPrimaryHeader, TmSecondaryHeader

        fixed = PRIMARY_HEADER_LEN + (FECF_LEN if self.framing.fecf else 0)

        def data_len(ctx: Any) -> int:
            sec = ctx.secondary_header
            ocf = OCF_LEN if ctx.header.ocf_flag else 0
            return frame_length - fixed - ocf - (0 if sec is None else sec.id.length + 1)

        body = Struct(
            "header" / TmPrimaryHeader,
            "secondary_header" / If(this.header.sec_hdr_flag, TmSecondaryHeader),
            "data_field" / Bytes(data_len),
            "ocf" / If(this.header.ocf_flag, Bytes(OCF_LEN)),  # flag says whether present
        )
        if not self.framing.fecf:
            return Struct("body" / RawCopy(body))
        return Struct(
            "body" / RawCopy(body),
            "fecf" / Checksum(Int16ub, crc16_ccitt, this.body.data),
        )

    def parse(self, frame: bytes) -> TmFrame:
        """Parse with Construct (raises construct errors, e.g. ChecksumError)."""
        c = self.struct_for(len(frame)).parse(frame)
        body = c.body.value
        h = body.header
        sec = body.secondary_header
        return TmFrame(
            version=h.version,
            scid=h.scid,
            vcid=h.vcid,
            ocf_flag=h.ocf_flag,
            mcfc=h.mcfc,
            vcfc=h.vcfc,
            sec_hdr_flag=h.sec_hdr_flag,
            sync_flag=h.sync_flag,
            packet_order=h.packet_order,
            segment_length_id=h.segment_length_id,
            fhp=h.fhp,
            secondary_header=None
            if sec is None
            else bytes([sec.id.version << 6 | sec.id.length]) + sec.data,
            data_field=body.data_field,
            ocf=body.ocf,
            fecf=c.get("fecf"),
        )

    def build(self, frame: TmFrame) -> bytes:
        """The frame's octets; the OCF flag follows ``frame.ocf`` and the FECF is computed
        (``frame.ocf_flag`` and ``frame.fecf`` are ignored)."""
        sec = None
        if frame.secondary_header is not None:
            sh = frame.secondary_header
            sec = {"id": {"version": sh[0] >> 6, "length": sh[0] & 0x3F}, "data": sh[1:]}
        length = (
            PRIMARY_HEADER_LEN
            + (0 if sec is None else len(frame.secondary_header or b""))
            + len(frame.data_field)
            + (0 if frame.ocf is None else OCF_LEN)
            + (FECF_LEN if self.framing.fecf else 0)
        )
        value = {
            "header": {
                "version": frame.version,
                "scid": frame.scid,
                "vcid": frame.vcid,
                "ocf_flag": frame.ocf is not None,
                "mcfc": frame.mcfc,
                "vcfc": frame.vcfc,
                "sec_hdr_flag": sec is not None,
                "sync_flag": frame.sync_flag,
                "packet_order": frame.packet_order,
                "segment_length_id": frame.segment_length_id,
                "fhp": frame.fhp,
            },
            "secondary_header": sec,
            "data_field": frame.data_field,
            "ocf": frame.ocf,
        }
        out: bytes = self.struct_for(length).build({"body": {"value": value}})
        return out


@dataclass(slots=True, frozen=True)
class TmFrame:
    """All fields of one TM transfer frame."""

    scid: int
    vcid: int
    mcfc: int
    vcfc: int
    fhp: int
    data_field: bytes
    version: int = TRANSFER_FRAME_VERSION
    ocf_flag: bool = False
    sec_hdr_flag: bool = False
    sync_flag: bool = False
    packet_order: bool = False
    segment_length_id: int = SegmentLengthId.UNSEGMENTED
    secondary_header: bytes | None = None  # identification octet + data
    ocf: bytes | None = None
    fecf: int | None = None

    @property
    def idle(self) -> bool:
        return self.fhp == FirstHeaderPointer.IDLE_FRAME

    def summary(self) -> TmFrameHeader:
        return TmFrameHeader(
            scid=self.scid,
            vcid=self.vcid,
            mcfc=self.mcfc,
            vcfc=self.vcfc,
            fhp=self.fhp,
            ocf=self.ocf,
            idle=self.idle,
        )


_WORDS = struct.Struct(">HBBH")


@dataclass(slots=True, frozen=True)
class TmHeaderFields:
    """The primary header as the decoder's fast path reads it."""

    version: int
    scid: int
    vcid: int
    ocf_flag: bool
    mcfc: int
    vcfc: int
    sec_hdr_flag: bool
    sync_flag: bool
    packet_order: bool
    segment_length_id: int
    fhp: int


def parse_primary_header(frame: bytes | memoryview) -> TmHeaderFields:
    """Fast path: the caller has checked ``len(frame) >= 6``."""
    w0, mcfc, vcfc, w2 = _WORDS.unpack_from(frame, 0)
    return TmHeaderFields(
        version=w0 >> 14,
        scid=(w0 >> 4) & 0x3FF,
        vcid=(w0 >> 1) & 0x7,
        ocf_flag=bool(w0 & 1),
        mcfc=mcfc,
        vcfc=vcfc,
        sec_hdr_flag=bool(w2 >> 15),
        sync_flag=bool((w2 >> 14) & 1),
        packet_order=bool((w2 >> 13) & 1),
        segment_length_id=(w2 >> 11) & 0x3,
        fhp=w2 & 0x7FF,
    )


def data_field_bounds(
    frame: bytes, header: TmHeaderFields, framing: FramingDef
) -> tuple[int, int] | None:
    """(start, end) of the data field, or None when the secondary header overruns it.

    The OCF is present when the header's OCF flag says so (the spec's rule), whatever the
    mission's FramingDef expects; the FECF has no flag, so the FramingDef decides."""
    start = PRIMARY_HEADER_LEN
    if header.sec_hdr_flag:
        start += (frame[PRIMARY_HEADER_LEN] & 0x3F) + 1
    end = len(frame) - (OCF_LEN if header.ocf_flag else 0) - (FECF_LEN if framing.fecf else 0)
    if start > end:
        return None
    return start, end
