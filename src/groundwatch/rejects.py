"""Every reason input can be rejected for, what it means, and the one way to count them.

A rejection is input that could not be decoded: it is counted under its reason (per run in
``/health`` and ``/metrics``, per link in the ``link_accounting`` series), logged
(rate-limited) and kept raw (the ``rejected`` measurement and the archive). Nothing is
dropped silently.

Adding a reason: one line in ``RejectReason`` and its description in ``DESCRIPTIONS`` (a test
checks every reason has one); the part that detects the condition returns a ``Rejection``
with it. Counters, ``/metrics`` (pre-seeded at zero), the ``rejected`` points and the link
accounting pick it up from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Protocol


class RejectReason(StrEnum):
    """Short codes for why input could not be decoded (the ``reason`` tag and label)."""

    SHORT_FRAME = "short_frame"
    WRONG_LENGTH = "wrong_length"
    BAD_CRC = "bad_crc"
    BAD_VERSION = "bad_version"
    FOREIGN_SCID = "foreign_scid"
    TRUNCATED_PACKET = "truncated_packet"
    PACKET_OVERRUN = "packet_overrun"
    BAD_FHP = "bad_fhp"
    LOST_CONTINUATION = "lost_continuation"
    UNKNOWN_APID = "unknown_apid"
    NO_SELECTOR_MATCH = "no_selector_match"
    BAD_PACKET_CRC = "bad_packet_crc"
    LENGTH_MISMATCH = "length_mismatch"
    BAD_ENUM = "bad_enum"
    BAD_PACKET = "bad_packet"
    BAD_AX25 = "bad_ax25"
    BAD_KISS = "bad_kiss"
    NOT_SYNCED = "not_synced"
    OVERSIZED = "oversized"
    BAD_STATION = "bad_station"
    TOO_MANY_STATIONS = "too_many_stations"
    BAD_ENVELOPE = "bad_envelope"
    MISSING_FRAME = "missing_frame"
    BAD_FRAME_FIELD = "bad_frame_field"
    BAD_RADIO_FIELD = "bad_radio_field"
    BAD_ERT = "bad_ert"
    STATION_CRC = "station_crc"
    ERT_FUTURE = "ert_future"
    ERT_STALE = "ert_stale"

    @property
    def description(self) -> str:
        return DESCRIPTIONS[self]


DESCRIPTIONS: dict[RejectReason, str] = {
    RejectReason.SHORT_FRAME: "fewer bytes than a frame header",
    RejectReason.WRONG_LENGTH: "not the mission's fixed frame length",
    RejectReason.BAD_CRC: "frame error control field or packet CRC mismatch",
    RejectReason.BAD_VERSION: "transfer frame or packet version number not ours",
    RejectReason.FOREIGN_SCID: "spacecraft id not in the dictionary",
    RejectReason.TRUNCATED_PACKET: "packet header says more bytes than there are",
    RejectReason.PACKET_OVERRUN: "packet longer than its frame that cannot continue",
    RejectReason.BAD_FHP: "first header pointer points outside the data field",
    RejectReason.LOST_CONTINUATION: "partial packet dropped after a frame gap",
    RejectReason.UNKNOWN_APID: "no dictionary entry for the packet",
    RejectReason.NO_SELECTOR_MATCH: "APID known, but no packet's selector matched",
    RejectReason.BAD_PACKET_CRC: "packet error control (e.g. CRC-16) mismatch",
    RejectReason.LENGTH_MISMATCH: "packet longer than its layout (or not all read)",
    RejectReason.BAD_ENUM: "raw value outside a declared enumeration",
    RejectReason.BAD_PACKET: "packet layout could not be parsed for another reason",
    RejectReason.BAD_AX25: "AX.25 frame header or addresses malformed",
    RejectReason.BAD_KISS: "KISS escape sequence malformed",
    RejectReason.NOT_SYNCED: "bytes before an attached sync marker",
    RejectReason.OVERSIZED: "longer than the source's max_frame_bytes: archived, not decoded",
    RejectReason.BAD_STATION: "station name outside the allowed name: archived, not decoded",
    RejectReason.TOO_MANY_STATIONS: "a new station past [link] max_stations: archived only",
    RejectReason.BAD_ENVELOPE: "station envelope is not a JSON object (or not UTF-8)",
    RejectReason.MISSING_FRAME: "station envelope without its frame field",
    RejectReason.BAD_FRAME_FIELD: "station envelope's frame field is not base64 or hex",
    RejectReason.BAD_RADIO_FIELD: "station envelope's radio field is not a number (or flag)",
    RejectReason.BAD_ERT: "station ERT unreadable, before 1970 or after 2200",
    RejectReason.STATION_CRC: "the station reports its own CRC check failed",
    RejectReason.ERT_FUTURE: "station ERT further ahead of the receipt than clock_tolerance",
    RejectReason.ERT_STALE: "station ERT older than the redelivery_window",
}


class _Rejected(Protocol):
    @property
    def reason(self) -> RejectReason: ...


def count_rejections(counts: dict[str, int], rejections: Iterable[_Rejected]) -> None:
    """Add each rejection to ``counts`` under its reason: the one counting rule, used per run
    (pipeline), per link (accounting) and per decode (``groundwatch decode``)."""
    for r in rejections:
        reason = r.reason.value
        counts[reason] = counts.get(reason, 0) + 1


def seeded(counts: Mapping[str, int]) -> dict[str, int]:
    """Every reason, at zero unless counted: a dashboard or alert on a reason that has not
    happened yet sees 0, not a missing series."""
    return {**{r.value: 0 for r in RejectReason}, **counts}
