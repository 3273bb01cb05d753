"""CCSDS time codes (301.0-B-4): CUC (unsegmented) and CDS (day segmented).

Times are returned as integer nanoseconds since the Unix epoch. Leap seconds: the on-board
count is taken as elapsed seconds on a clock without leap seconds, laid on the UTC calendar
from the epoch (as POSIX time is). A TAI-counting clock therefore reads ahead of UTC by
TAI-UTC (37 s since 2017); a mission that needs UTC from a TAI clock shifts ``epoch_ns`` by
that amount. No leap-second table is shipped: none of our dependencies provides one.

The P-field (preamble) is optional: pass ``p_field=True`` when the packet carries it, and
the octet counts are then read from it instead of the arguments.
"""

from __future__ import annotations

from groundwatch.decoders.api import BytesTooShort, DecodeError
from groundwatch.model import RejectReason

NS = 1_000_000_000
DAY_NS = 86_400 * NS
MAX_CDS_MS = 86_401_000  # milliseconds of day: a leap-second day has 86,401,000
CCSDS_EPOCH_NS = -378_691_200 * NS  # 1958-01-01T00:00:00
GPS_EPOCH_NS = 315_964_800 * NS  # 1980-01-06T00:00:00
UNIX_EPOCH_NS = 0
J2000_EPOCH_NS = 946_728_000 * NS  # 2000-01-01T12:00:00

CUC_TIME_CODE_LEVEL1 = 0b001  # P-field time code id: 1958 epoch
CUC_TIME_CODE_LEVEL2 = 0b010  # P-field time code id: agency-defined epoch
CDS_TIME_CODE = 0b100


def _need(data: bytes | memoryview, n: int, what: str) -> None:
    if len(data) < n:
        raise BytesTooShort(n, len(data), what)


def _fine_to_ns(value: int, octets: int) -> int:
    # Rounded to nearest so that encode(decode(t)) == t for up to 3 fine octets.
    bits = 8 * octets
    return 0 if octets == 0 else (value * NS + (1 << (bits - 1))) >> bits


def _ns_to_fine(sub_ns: int, octets: int) -> int:
    bits = 8 * octets
    return 0 if octets == 0 else min((((sub_ns << bits) + NS // 2) // NS), (1 << bits) - 1)


def cuc_p_field(coarse: int, fine: int, agency_epoch: bool = True) -> bytes:
    """The 1- or 2-octet CUC preamble for these octet counts."""
    if not (1 <= coarse <= 7 and 0 <= fine <= 10):
        raise ValueError(f"CUC needs 1..7 coarse and 0..10 fine octets, not {coarse}/{fine}")
    code = CUC_TIME_CODE_LEVEL2 if agency_epoch else CUC_TIME_CODE_LEVEL1
    c1, f1 = min(coarse, 4), min(fine, 3)
    ext = coarse > 4 or fine > 3
    first = (int(ext) << 7) | (code << 4) | ((c1 - 1) << 2) | f1
    if not ext:
        return bytes([first])
    return bytes([first, ((coarse - c1) << 5) | ((fine - f1) << 2)])


def parse_cuc_p_field(data: bytes | memoryview) -> tuple[int, int, int]:
    """(coarse octets, fine octets, P-field length) of a CUC preamble."""
    _need(data, 1, "CUC P-field")
    first = data[0]
    code = (first >> 4) & 0x7
    if code not in (CUC_TIME_CODE_LEVEL1, CUC_TIME_CODE_LEVEL2):
        raise DecodeError(RejectReason.BAD_PACKET, f"P-field time code id {code:03b} is not CUC")
    coarse, fine, used = ((first >> 2) & 0x3) + 1, first & 0x3, 1
    if first & 0x80:
        _need(data, 2, "CUC P-field extension")
        coarse += (data[1] >> 5) & 0x3
        fine += (data[1] >> 2) & 0x7
        used = 2
    return coarse, fine, used


def decode_cuc(
    data: bytes | memoryview,
    coarse: int = 4,
    fine: int = 2,
    epoch_ns: int = CCSDS_EPOCH_NS,
    *,
    p_field: bool = False,
) -> tuple[int, int]:
    """(ns since the Unix epoch, octets used) of a CUC time at the start of ``data``."""
    used = 0
    if p_field:
        coarse, fine, used = parse_cuc_p_field(data)
    _need(data, used + coarse + fine, "CUC time")
    seconds = int.from_bytes(data[used : used + coarse], "big")
    frac = int.from_bytes(data[used + coarse : used + coarse + fine], "big")
    return epoch_ns + seconds * NS + _fine_to_ns(frac, fine), used + coarse + fine


def encode_cuc(
    ns: int,
    coarse: int = 4,
    fine: int = 2,
    epoch_ns: int = CCSDS_EPOCH_NS,
    *,
    p_field: bool = False,
) -> bytes:
    """The CUC octets for ``ns`` since the Unix epoch (seconds wrap modulo the coarse range)."""
    seconds, sub = divmod(ns - epoch_ns, NS)
    frac = _ns_to_fine(sub, fine)
    pre = cuc_p_field(coarse, fine) if p_field else b""
    return (
        pre + (seconds % (1 << (8 * coarse))).to_bytes(coarse, "big") + frac.to_bytes(fine, "big")
    )


_SUBMS_CODE = {0: 0b00, 2: 0b01, 4: 0b10}  # none, microseconds (16 bit), picoseconds (32 bit)


def cds_p_field(day_octets: int, subms_octets: int, agency_epoch: bool = False) -> bytes:
    if day_octets not in (2, 3) or subms_octets not in _SUBMS_CODE:
        raise ValueError("CDS needs 2/3 day octets and 0/2/4 sub-ms octets")
    return bytes(
        [
            (CDS_TIME_CODE << 4)
            | (int(agency_epoch) << 3)
            | ((day_octets - 2) << 2)
            | _SUBMS_CODE[subms_octets]
        ]
    )


def parse_cds_p_field(data: bytes | memoryview) -> tuple[int, int]:
    """(day octets, sub-millisecond octets) of a CDS preamble."""
    _need(data, 1, "CDS P-field")
    first = data[0]
    if (first >> 4) & 0x7 != CDS_TIME_CODE:
        raise DecodeError(RejectReason.BAD_PACKET, f"P-field {first:08b} is not CDS")
    code = first & 0x3
    if code == 0b11:
        raise DecodeError(RejectReason.BAD_PACKET, "CDS P-field sub-ms code 11 is reserved")
    return 2 + ((first >> 2) & 1), {v: k for k, v in _SUBMS_CODE.items()}[code]


def decode_cds(
    data: bytes | memoryview,
    day_octets: int = 2,
    subms_octets: int = 0,
    epoch_ns: int = CCSDS_EPOCH_NS,
    *,
    p_field: bool = False,
) -> tuple[int, int]:
    """(ns since the Unix epoch, octets used) of a CDS time: days, ms of day, sub-ms."""
    used = 0
    if p_field:
        day_octets, subms_octets = parse_cds_p_field(data)
        used = 1
    _need(data, used + day_octets + 4 + subms_octets, "CDS time")
    days = int.from_bytes(data[used : used + day_octets], "big")
    used += day_octets
    ms = int.from_bytes(data[used : used + 4], "big")
    used += 4
    sub = int.from_bytes(data[used : used + subms_octets], "big")
    used += subms_octets
    if ms >= MAX_CDS_MS:
        raise DecodeError(RejectReason.BAD_PACKET, f"CDS milliseconds of day {ms} out of range")
    sub_ns = sub * 1000 if subms_octets == 2 else sub // 1000 if subms_octets == 4 else 0
    return epoch_ns + days * DAY_NS + ms * 1_000_000 + sub_ns, used


def encode_cds(
    ns: int,
    day_octets: int = 2,
    subms_octets: int = 0,
    epoch_ns: int = CCSDS_EPOCH_NS,
    *,
    p_field: bool = False,
) -> bytes:
    """The CDS octets for ``ns`` (truncated to the resolution of the sub-ms field)."""
    if ns < epoch_ns:
        raise ValueError("CDS cannot express a time before its epoch")
    days, in_day = divmod(ns - epoch_ns, DAY_NS)
    ms, sub_ns = divmod(in_day, 1_000_000)
    sub = sub_ns // 1000 if subms_octets == 2 else sub_ns * 1000 if subms_octets == 4 else 0
    pre = cds_p_field(day_octets, subms_octets) if p_field else b""
    return (
        pre
        + days.to_bytes(day_octets, "big")
        + ms.to_bytes(4, "big")
        + sub.to_bytes(subms_octets, "big")
    )
