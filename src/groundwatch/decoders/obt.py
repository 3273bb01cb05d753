"""On-board time in a packet's secondary header, as ordinary layout fields.

A secondary header time code (CCSDS 301.0-B: CUC unsegmented or CDS day-segmented, no
P-field) becomes a few unsigned integer fields at the start of the packet layout. Their
raw values go through the same Construct struct and fast path as any parameter; this
module only converts between those integers and nanoseconds since the Unix epoch.

The arithmetic (rounding of fine time, leap-second policy) is the frame layer's
``groundwatch.decoders.timecodes``: the integers are handed to it as T-field octets, so a
time code means the same in a packet layout as anywhere else in groundwatch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from groundwatch.decoders.api import DecodeError
from groundwatch.decoders.layout_fields import FieldKind, FieldSpec
from groundwatch.decoders.timecodes import (
    CCSDS_EPOCH_NS,
    DAY_NS,
    MAX_CDS_MS,
    decode_cds,
    decode_cuc,
    encode_cds,
    encode_cuc,
)
from groundwatch.model import RejectReason


def epoch_ns(epoch: datetime) -> int:
    if epoch.tzinfo is None:
        epoch = epoch.replace(tzinfo=UTC)
    delta = epoch - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


@dataclass(frozen=True, slots=True)
class CucTime:
    """CUC T-field: ``coarse_octets`` of whole seconds, ``fine_octets`` of 2**-8n s."""

    coarse_octets: int = 4
    fine_octets: int = 2
    epoch: int = CCSDS_EPOCH_NS  # ns since the Unix epoch
    names: tuple[str, ...] = ()  # parameter names for (coarse, fine); hidden when empty

    def fields(self) -> list[FieldSpec]:
        names = self.names or ("_obt_coarse", "_obt_fine")
        out = [FieldSpec(names[0], FieldKind.UINT, 8 * self.coarse_octets)]
        if self.fine_octets:
            out.append(FieldSpec(names[1], FieldKind.UINT, 8 * self.fine_octets))
        return out

    def to_ns(self, raws: Sequence[int]) -> int:
        # Per packet, so the arithmetic of timecodes.decode_cuc (fine time rounded to the
        # nearest ns) is done on the integers directly; a test proves both agree.
        if not self.fine_octets:
            return self.epoch + raws[0] * 1_000_000_000
        bits = 8 * self.fine_octets
        fine_ns = (raws[1] * 1_000_000_000 + (1 << (bits - 1))) >> bits
        return self.epoch + raws[0] * 1_000_000_000 + fine_ns

    def to_ns_via_timecodes(self, raws: Sequence[int]) -> int:
        octets = raws[0].to_bytes(self.coarse_octets, "big")
        if self.fine_octets:
            octets += raws[1].to_bytes(self.fine_octets, "big")
        return decode_cuc(octets, self.coarse_octets, self.fine_octets, self.epoch)[0]

    def from_ns(self, ns: int) -> list[int]:
        octets = encode_cuc(ns, self.coarse_octets, self.fine_octets, self.epoch)
        return _split(octets, [self.coarse_octets, self.fine_octets])


@dataclass(frozen=True, slots=True)
class CdsTime:
    """CDS T-field: days since epoch, milliseconds of day, optional µs (2) or ps (4)."""

    day_octets: int = 2
    submillisecond_octets: int = 0
    epoch: int = CCSDS_EPOCH_NS  # ns since the Unix epoch
    names: tuple[str, ...] = ()  # (days, ms[, submillis]); hidden when empty

    def fields(self) -> list[FieldSpec]:
        names = self.names or ("_obt_days", "_obt_ms", "_obt_submillis")
        out = [
            FieldSpec(names[0], FieldKind.UINT, 8 * self.day_octets),
            FieldSpec(names[1], FieldKind.UINT, 32),
        ]
        if self.submillisecond_octets:
            out.append(FieldSpec(names[2], FieldKind.UINT, 8 * self.submillisecond_octets))
        return out

    def to_ns(self, raws: Sequence[int]) -> int:
        # Per packet, so the arithmetic of timecodes.decode_cds (its range check on the
        # milliseconds too) is done on the integers directly; a test proves both agree.
        ms = raws[1]
        if ms >= MAX_CDS_MS:
            raise DecodeError(RejectReason.BAD_PACKET, f"CDS milliseconds of day {ms} out of range")
        ns = self.epoch + raws[0] * DAY_NS + ms * 1_000_000
        subms = self.submillisecond_octets
        if subms == 2:
            return ns + raws[2] * 1000
        return ns + raws[2] // 1000 if subms == 4 else ns

    def to_ns_via_timecodes(self, raws: Sequence[int]) -> int:
        widths = [self.day_octets, 4, self.submillisecond_octets]
        octets = b"".join(r.to_bytes(w, "big") for r, w in zip(raws, widths, strict=False))
        return decode_cds(octets, self.day_octets, self.submillisecond_octets, self.epoch)[0]

    def from_ns(self, ns: int) -> list[int]:
        octets = encode_cds(ns, self.day_octets, self.submillisecond_octets, self.epoch)
        return _split(octets, [self.day_octets, 4, self.submillisecond_octets])


def _split(octets: bytes, widths: list[int]) -> list[int]:
    out, start = [], 0
    for width in widths:
        if width:
            out.append(int.from_bytes(octets[start : start + width], "big"))
            start += width
    return out


TimeCode = CucTime | CdsTime
