"""Domain types that flow between the parts of the pipeline.

Every part (ingestor, decoder, link monitor, store, alert sink) speaks only these types, so
parts never import each other sideways: the pipeline wires them.

Time is always integer nanoseconds since the Unix epoch (UTC). ``ert_ns`` is the
earth-received time of a frame: the station's own time when its envelope carries one and
it passed the clock guard (``FrameMeta.ert_source``), else the time the ingestor read it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

from groundwatch.frame_meta import (
    MAX_EXTRA_CHARS,
    MAX_EXTRA_ITEMS,
    ErtSource,
    FrameMeta,
    bounded_extra,
)

# Defined with every reason's meaning in groundwatch.rejects; re-exported for the parts.
from groundwatch.rejects import RejectReason as RejectReason

FieldValue = float | int | str | bool

__all__ = [  # re-exported: frame metadata (groundwatch.frame_meta), reject reasons
    "MAX_EXTRA_CHARS",
    "MAX_EXTRA_ITEMS",
    "ErtSource",
    "FrameMeta",
    "RejectReason",
    "bounded_extra",
]

# Packet k of a frame is stamped ert_ns + k (see README "InfluxDB schema"); the ingest clock
# keeps successive frames of one station at least this far apart, so no two packets of the
# same series can share a timestamp (InfluxDB would silently overwrite one with the other).
ERT_MIN_SPACING_NS = 1_000


class LimitState(IntEnum):
    """Limit state of a sample; the integer is what dashboards threshold on."""

    NOMINAL = 0
    YELLOW_LOW = -1
    YELLOW_HIGH = 1
    RED_LOW = -2
    RED_HIGH = 2

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(slots=True, frozen=True)
class RawFrame:
    """One received frame, exactly as it arrived, before any decoding."""

    data: bytes
    ert_ns: int
    station: str
    source: str = "live"  # "live" or "replay:<session>"
    ingest: str = ""  # name of the ingestor that produced it (e.g. "mqtt")
    # Called once the frame is safely archived: the MQTT ingestor acknowledges the message
    # to the broker only then, so a crash between receipt and archive loses nothing.
    ack: Callable[[], None] | None = field(default=None, compare=False, repr=False)
    meta: FrameMeta | None = None  # None: a bare frame (no envelope)


@dataclass(slots=True, frozen=True)
class RejectedInput:
    """Input a source could not turn into a frame (e.g. a malformed station envelope):
    counted, kept raw in ``rejected``, and acknowledged once stored."""

    data: bytes
    time_ns: int
    station: str
    reason: RejectReason
    detail: str
    ingest: str = ""
    ack: Callable[[], None] | None = field(default=None, compare=False, repr=False)


@dataclass(slots=True, frozen=True)
class StationStatus:
    """A ground station's heartbeat/status message (see README "Station heartbeat")."""

    station: str
    payload: bytes
    time_ns: int


@dataclass(slots=True, frozen=True)
class GroundPathChange:
    """An ingestor's connection to its ground path (e.g. the MQTT broker) went up or down."""

    ingest: str
    up: bool
    time_ns: int
    detail: str = ""
    stations: tuple[str, ...] = ()  # stations known to be behind this path


@dataclass(slots=True, frozen=True)
class RefusedFrame:
    """A frame its source would not accept (too long, a station name not allowed): the
    pipeline archives it raw and rejects it with ``reason``, never decodes it."""

    frame: RawFrame
    reason: RejectReason
    detail: str


@dataclass(slots=True, frozen=True)
class TmFrameHeader:
    """Summary of a CCSDS TM transfer frame primary header (132.0-B)."""

    scid: int
    vcid: int
    mcfc: int
    vcfc: int
    fhp: int
    ocf: bytes | None = None
    idle: bool = False


@dataclass(slots=True, frozen=True)
class Ax25Header:
    dst: str
    dst_ssid: int
    src: str
    src_ssid: int
    control: int
    pid: int


@dataclass(slots=True, frozen=True)
class SpacePacketHeader:
    """CCSDS space packet primary header (133.0-B)."""

    version: int
    type: int
    sec_hdr_flag: int
    apid: int
    seq_flags: int
    seq_count: int
    data_length: int  # the header's field: octets in the data field minus one


@dataclass(slots=True)
class ParamValue:
    """One decoded parameter sample."""

    raw: Any  # int | float | str | bytes | list
    eng: Any  # calibrated value; enum label for enumerations
    unit: str | None = None
    limit: LimitState | None = None  # None when the parameter has no limits


@dataclass(slots=True, frozen=True, eq=False)
class ColumnSchema:
    """The parameters one packet layout decodes to, in a fixed order: one column each.

    Built once per layout at dictionary load and shared by every packet of that layout, so
    a decoded packet is two tuples (``PacketColumns``) instead of one object per parameter.
    """

    packet: str
    names: tuple[str, ...]
    units: tuple[str | None, ...]
    # The exact type of every engineering value of the column (float, int, bool, str), or
    # None when it can vary (arrays, derived values, generic calibrations): readers of the
    # columns can then take a fast path decided once per schema.
    kinds: tuple[type | None, ...]
    enums: tuple[bool, ...]  # an enumeration label, with an integer raw value
    # Limit state of a sample, for the columns whose parameter has limits (else None).
    limit_states: tuple[Callable[[Any], LimitState] | None, ...]
    # For a numeric scalar column with limits: the open interval (low, high) whose samples
    # are NOMINAL, so a reader can judge the usual sample with one comparison.
    nominal: tuple[tuple[float, float] | None, ...] = ()


class PacketColumns(Mapping[str, "ParamValue"]):
    """A packet's parameters as columns: engineering and raw values in schema order.

    It is the ``DecodedPacket.params`` mapping of packets decoded by a layout's fast path;
    the hot readers (points, link monitor) use the tuples directly and the ``ParamValue``
    objects are only made when somebody reads the mapping (console, report, decode CLI).
    A derived value that could not be computed is None in ``eng`` and absent from the map.
    """

    __slots__ = ("_params", "eng", "raw", "schema")

    def __init__(self, schema: ColumnSchema, eng: tuple[Any, ...], raw: tuple[Any, ...]):
        self.schema = schema
        self.eng = eng
        self.raw = raw
        self._params: dict[str, ParamValue] | None = None

    def as_dict(self) -> dict[str, ParamValue]:
        if self._params is None:
            s = self.schema
            self._params = {
                name: ParamValue(r, e, unit, state(e) if state is not None else None)
                for name, r, e, unit, state in zip(
                    s.names, self.raw, self.eng, s.units, s.limit_states, strict=True
                )
                if e is not None
            }
        return self._params

    def __getitem__(self, name: str) -> ParamValue:
        return self.as_dict()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.as_dict())

    def __len__(self) -> int:
        return len(self.as_dict())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self.as_dict() == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # a mapping: unhashable, like dict

    def __repr__(self) -> str:
        return f"PacketColumns({self.as_dict()!r})"


@dataclass(slots=True)
class DecodedPacket:
    """A packet (space packet or AX.25 payload) with its parameters decoded."""

    ert_ns: int
    station: str
    source: str
    spacecraft: str
    name: str | None  # dictionary name; None when decoded without a dictionary
    index_in_frame: int
    frame: TmFrameHeader | None = None
    ax25: Ax25Header | None = None
    header: SpacePacketHeader | None = None
    # A plain dict, or PacketColumns (same mapping, no per-parameter objects) from a
    # layout's fast path.
    params: Mapping[str, ParamValue] = field(default_factory=dict)
    obt_ns: int | None = None  # on-board time from the secondary header
    payload: bytes | None = None  # undecoded payload (AX.25 info that is not a packet)

    @property
    def time_ns(self) -> int:
        """Timestamp of this packet's point: unique per series (see ERT_MIN_SPACING_NS)."""
        return self.ert_ns + self.index_in_frame


@dataclass(slots=True)
class Rejection:
    """Input that could not be decoded: counted, logged (rate-limited) and kept raw."""

    reason: RejectReason
    detail: str
    data: bytes
    ert_ns: int
    station: str
    source: str
    spacecraft: str | None = None
    vcid: int | None = None


@dataclass(slots=True)
class DecodeResult:
    """Everything a decoder learned from one raw frame."""

    frame: RawFrame
    spacecraft: str | None = None  # dictionary spacecraft name, when identified
    header: TmFrameHeader | None = None
    ax25: Ax25Header | None = None
    crc_ok: bool | None = None  # None: the frame carries no check
    valid: bool = False  # counts as signal for the link monitor (header ok, CRC ok)
    idle_frame: bool = False
    idle_packets: int = 0
    vc_gap: int = 0  # frames missing before this one on its virtual channel
    vc_late: int = 0  # 1: a late frame an earlier gap counted as missing (it fills it)
    vc_gap_closed: int = 0  # 1: the late frame was the last one that gap missed
    packets: list[DecodedPacket] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)


@dataclass(slots=True, frozen=True)
class LinkKey:
    """A link is one spacecraft heard by one station (optionally one virtual channel)."""

    spacecraft: str
    station: str
    vcid: int | None = None

    def tags(self) -> dict[str, str]:
        tags = {"spacecraft": self.spacecraft, "station": self.station}
        if self.vcid is not None:
            tags["vcid"] = str(self.vcid)
        return tags


@dataclass(slots=True, frozen=True, eq=False)
class RowShape:
    """Field keys and the exact type of each value, shared by every ``FieldRow`` of it."""

    keys: tuple[str, ...]
    kinds: tuple[type, ...]
    index: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", {k: i for i, k in enumerate(self.keys)})


class FieldRow(Mapping[str, FieldValue]):
    """A point's fields as one value tuple of a known ``RowShape`` (a decoded packet's
    columns, picked once per layout): the line encoder formats it with one template
    lookup per shape instead of inspecting every field of every point."""

    __slots__ = ("row", "shape")

    def __init__(self, shape: RowShape, row: tuple[FieldValue, ...]) -> None:
        self.shape = shape
        self.row = row

    def __getitem__(self, key: str) -> FieldValue:
        return self.row[self.shape.index[key]]

    def __iter__(self) -> Iterator[str]:
        return iter(self.shape.keys)

    def __len__(self) -> int:
        return len(self.row)

    def __repr__(self) -> str:
        return f"FieldRow({dict(self)!r})"


@dataclass(slots=True)
class Point:
    """One InfluxDB point. Tags and fields follow the schema in the README."""

    measurement: str
    tags: dict[str, str]
    fields: Mapping[str, FieldValue]  # a dict, or a FieldRow
    time_ns: int


class Severity(IntEnum):
    INFO = 0
    WARNING = 1
    CRITICAL = 2

    @property
    def label(self) -> str:
        return self.name.lower()


class EventType(StrEnum):
    AOS = "AOS"
    LOS = "LOS"  # LOS with no schedule to judge it against (warning)
    EXPECTED_LOS = "EXPECTED_LOS"
    UNEXPECTED_LOS = "UNEXPECTED_LOS"
    LATE_AOS = "LATE_AOS"
    LINK_DEGRADED = "LINK_DEGRADED"
    LINK_RECOVERED = "LINK_RECOVERED"
    GROUND_PATH_DOWN = "GROUND_PATH_DOWN"
    GROUND_PATH_UP = "GROUND_PATH_UP"
    LIMIT_ENTER = "LIMIT_ENTER"
    LIMIT_LEAVE = "LIMIT_LEAVE"
    STALE = "STALE"
    FRESH = "FRESH"
    SPOOL_FULL = "SPOOL_FULL"
    ARCHIVE_FAILED = "ARCHIVE_FAILED"
    RULE = "RULE"  # a dictionary consistency rule holds (details["rule"] names it)
    RULE_CLEAR = "RULE_CLEAR"
    ACK = "ACK"


@dataclass(slots=True)
class Event:
    """Something a controller must know; the alert manager turns it into an alert.

    ``time_ns`` is pass time on the pipeline's clock (for LOS: last good frame + threshold),
    so a replay raises the same events at the same times as live did.
    ``condition`` identifies the condition (e.g. ``LOS/lander/gs1``); ``id`` is stable for
    one occurrence of it (used for deduplication and acknowledgement).
    """

    type: EventType
    severity: Severity
    time_ns: int
    spacecraft: str | None
    station: str | None
    title: str
    text: str
    condition: str
    id: str
    recovery: bool = False
    source: str = "live"
    details: dict[str, Any] = field(default_factory=dict)

    def approx_bytes(self) -> int:
        """About what the event keeps in memory: what holds events for long (the live
        history, the alert history) is bounded in bytes by it."""
        return nested_bytes((self.title, self.text, self.condition, self.id, self.details)) + 200


def nested_bytes(value: object) -> int:
    """About what ``value`` keeps in memory, containers included (sys.getsizeof counts a
    container without its items): a few lines, not a dependency for it."""
    if isinstance(value, dict):
        items = sum(nested_bytes(k) + nested_bytes(v) for k, v in value.items())
        return sys.getsizeof(value) + items
    if isinstance(value, list | tuple | set | frozenset):
        return sys.getsizeof(value) + sum(nested_bytes(v) for v in value)
    return sys.getsizeof(value)
