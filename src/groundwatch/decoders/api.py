"""What the frame layer, the telemetry dictionary, the simulator and the CLI agree on.

``frames``-side modules (TM frames, space packets, AX.25/KISS, reassembly) find packet
layouts only through ``TelemetryDictionary``; the dictionary knows nothing of frames. The
simulator builds with the same objects that parse (Construct builds as well as parses).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from groundwatch.model import Ax25Header, LimitState, ParamValue, RejectReason


class DecodeError(Exception):
    """Input that cannot be decoded. Carries the reject reason and data, never just text."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


class BytesTooShort(DecodeError):
    def __init__(self, expected: int, got: int, what: str = "data") -> None:
        super().__init__(
            RejectReason.TRUNCATED_PACKET, f"{what}: expected {expected} bytes, got {got}"
        )
        self.expected = expected
        self.got = got


class DictionaryError(ValueError):
    """A telemetry dictionary problem, naming the file, packet and parameter."""

    def __init__(
        self, file: str, problem: str, packet: str | None = None, parameter: str | None = None
    ) -> None:
        where = file
        if packet:
            where += f": packet {packet}"
        if parameter:
            where += f": parameter {parameter}"
        super().__init__(f"{where}: {problem}")
        self.file = file
        self.packet = packet
        self.parameter = parameter
        self.problem = problem


class Framing(StrEnum):
    TM = "tm"  # CCSDS TM transfer frames carrying space packets
    AX25 = "ax25"  # AX.25 UI frames; information field selected by callsign/PID
    NONE = "none"  # each frame is one space packet


@dataclass(slots=True, frozen=True)
class FramingDef:
    """How the mission's downlink is framed: what the frame layer reads. A dictionary's
    ``framing:`` section is validated by ``schema.FramingDef`` (pydantic) and becomes this
    plain class, so that listing the commands and decoding need no pydantic."""

    kind: Framing = Framing.TM
    frame_length: int | None = None  # fixed TM frame length, incl. FECF (> 0)
    fecf: bool = True  # frame error control field (CRC-16/CCITT-FALSE) present
    ocf: bool = False  # operational control field (4 octets, CLCW) present
    asm: bool = False  # raw byte streams carry the 0x1ACFFC1D attached sync marker
    randomized: bool = False  # CCSDS pseudo-randomiser applied on the link
    # Octet value filling a TM frame's data field after its last packet (e.g. 0xE0): a run
    # of it where a packet header would start ends the frame's packets.
    fill: int | None = None
    # TM frame header fields (``vcid``, ``ocf_flag``, ...) and CLCW fields (``clcw.lockout``,
    # ...) as parameters: field -> parameter name, emitted once per frame as a packet named
    # ``frame_packet``.
    parameters: dict[str, str] | None = None
    frame_packet: str = "tm_frame"

    def __post_init__(self) -> None:
        # The same bounds as the dictionary's schema, for framings built in code.
        if self.frame_length is not None and self.frame_length <= 0:
            raise ValueError(f"frame_length must be greater than 0, not {self.frame_length}")
        if self.fill is not None and not 0 <= self.fill <= 0xFF:
            raise ValueError(f"fill must be an octet value (0-255), not {self.fill}")


@dataclass(slots=True, frozen=True)
class SpacecraftDef:
    name: str
    scid: int | None = None  # TM spacecraft id
    callsign: str | None = None  # AX.25 source callsign
    frame_interval: float | None = None  # expected seconds between frames (link monitor)


@dataclass(slots=True, frozen=True)
class Limits:
    yellow_low: float | None = None
    yellow_high: float | None = None
    red_low: float | None = None
    red_high: float | None = None
    deadband: float | None = None  # leaving a level needs this margin (link.limits)

    def state(self, value: float) -> LimitState:
        if self.red_low is not None and value <= self.red_low:
            return LimitState.RED_LOW
        if self.red_high is not None and value >= self.red_high:
            return LimitState.RED_HIGH
        if self.yellow_low is not None and value <= self.yellow_low:
            return LimitState.YELLOW_LOW
        if self.yellow_high is not None and value >= self.yellow_high:
            return LimitState.YELLOW_HIGH
        return LimitState.NOMINAL


@dataclass(slots=True)
class ParameterInfo:
    """What the rest of groundwatch (store, link, dashboards) needs to know of a parameter."""

    name: str
    packet: str
    type: str  # e.g. "uint12", "int24", "float32", "enum", "string", "bool", "derived"
    unit: str | None = None
    description: str = ""
    subsystem: str = ""
    key: bool = False  # shown on the console and reported at LOS
    limits: Limits | None = None
    enum: Mapping[int, str] | None = None  # raw value -> label
    array_length: int | None = None  # fixed-size arrays: fields name_0 .. name_{n-1}


class PacketLayout(Protocol):
    """One packet kind of the dictionary: parses and builds its data field."""

    @property
    def name(self) -> str: ...

    @property
    def apid(self) -> int | None: ...

    @property
    def subsystem(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def parameters(self) -> Sequence[ParameterInfo]: ...

    def decode(self, data_field: bytes) -> tuple[Mapping[str, ParamValue], int | None]:
        """Parse the packet data field (everything after the 6-octet primary header,
        secondary header included) into parameters, and the on-board time in ns (or None).
        Raises ``DecodeError`` (e.g. ``BytesTooShort``, BAD_ENUM)."""
        ...

    def build(self, eng: Mapping[str, Any], obt_ns: int | None = None) -> bytes:
        """The data field for these engineering values (calibrations inverted, enum labels
        or raw numbers accepted, missing values as 0, derived parameters ignored)."""
        ...


class TelemetryDictionary(Protocol):
    # Read-only members: a protocol's plain attributes are invariant, which would make a
    # dictionary holding list[ConcreteLayout] not match Sequence[PacketLayout].
    @property
    def mission(self) -> str: ...

    @property
    def framing(self) -> FramingDef: ...

    @property
    def spacecraft(self) -> Sequence[SpacecraftDef]: ...

    @property
    def packets(self) -> Sequence[PacketLayout]: ...

    def spacecraft_by_scid(self, scid: int) -> SpacecraftDef | None: ...

    def spacecraft_by_callsign(self, callsign: str) -> SpacecraftDef | None: ...

    def packet_for(self, apid: int, data_field: bytes) -> PacketLayout | None:
        """The layout for a space packet (APID plus any selector such as a packet-id byte)."""
        ...

    def packet_for_ax25(self, header: Ax25Header, info: bytes) -> PacketLayout | None: ...

    def parameters(self) -> Sequence[ParameterInfo]:
        """Every parameter of every packet, in dictionary order."""
        ...


@dataclass(slots=True)
class DecodeSummary:
    """Counts for ``groundwatch decode``'s last line and the pipeline's accounting."""

    frames: int = 0
    packets: int = 0
    idle_frames: int = 0
    idle_packets: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
