"""The telemetry dictionary file format (YAML), validated with pydantic.

mission: demo-lander
byte_order: big                     # default for multi-byte fields (big | little)
spacecraft:
  - {name: lander, scid: 0x2A, callsign: null, frame_interval: 0.1}
framing: {kind: tm, frame_length: 1115, fecf: true, ocf: true, asm: false,
          randomized: false}
time:                                # default secondary-header time code
  {code: cuc, coarse_octets: 4, fine_octets: 2, epoch: "2000-01-01T12:00:00Z"}
  # or {code: cds, day_octets: 2, submillisecond_octets: 2, epoch: ...}
  # parameters: [names] exposes the time fields as parameters too
packets:
  - name: gnc
    apid: 0x100
    selector: {offset: 6, type: uint8, value: 3}   # optional packet-id byte
    ax25: {callsign: N0CALL, pid: 0xF0}             # optional, AX.25 missions
    subsystem: GNC
    description: ...
    secondary_header: true           # data field starts with the time code
    time: {...}                      # optional per-packet override of ``time``
    python: module.path:OBJECT       # or file.py:OBJECT next to the YAML
    parameters:
      - name: altitude
        type: uint32                 # u<N>|uint<N>|i<N>|int<N>[le|be], float16/32/64[le|be],
                                     # bool (1 bit), string, bytes, spare
        length: 8                    # string/bytes length in octets
        bits: 3                      # spare width in bits
        count: 4                     # fixed-size array of the type
        encoding: ascii              # strings
        unit: m
        description: ...
        subsystem: ...               # defaults to the packet's
        key: true
        calibration: {polynomial: [c0, c1, ...]}   # or {table: [[raw, eng], ...]}
        enum: {0: ORBIT, 1: BRAKING}
        limits: {yellow_low: , yellow_high: , red_low: , red_high: }
      - name: speed
        expr: "hypot(vx, vy)"        # derived: safe expression over this packet
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.dataclasses import dataclass as pydantic_dataclass

from groundwatch.decoders.api import DictionaryError, Framing


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LimitsModel(_Strict):
    yellow_low: float | None = None
    yellow_high: float | None = None
    red_low: float | None = None
    red_high: float | None = None
    deadband: float | None = Field(default=None, ge=0)  # hysteresis, engineering units

    @model_validator(mode="after")
    def _ordered(self) -> LimitsModel:
        order = [self.red_low, self.yellow_low, self.yellow_high, self.red_high]
        present = [v for v in order if v is not None]
        if present != sorted(present):
            raise ValueError(
                "limits must be ordered red_low <= yellow_low <= yellow_high <= red_high"
            )
        return self


class CalibrationModel(_Strict):
    polynomial: list[float] | None = None
    table: list[tuple[float, float]] | None = None
    divide: float | None = None  # eng = raw / divide, one exact division

    @model_validator(mode="after")
    def _one(self) -> CalibrationModel:
        if sum(x is not None for x in (self.polynomial, self.table, self.divide)) != 1:
            raise ValueError("calibration needs exactly one of polynomial, table or divide")
        return self


class ValidModel(_Strict):
    """Engineering range outside which a value is absent (not stored, counted)."""

    min: float | None = None
    max: float | None = None


class ParameterModel(_Strict):
    name: str = Field(min_length=1, pattern=r"^[^_\s][^\s]*$")
    type: str | None = None
    endian: Literal["big", "little"] | None = None
    length: Annotated[int, Field(gt=0)] | Literal["rest"] | None = None
    # Variable length: octets = value of an earlier field * length_scale + length_offset.
    length_from: str | None = None
    length_scale: int = 1
    length_offset: int = 0
    bits: int | None = Field(default=None, gt=0)
    count: int | None = Field(default=None, gt=0)
    encoding: Literal["ascii", "utf-8"] = "ascii"
    unit: str | None = None
    description: str = ""
    subsystem: str = ""
    key: bool = False
    calibration: CalibrationModel | None = None
    enum: dict[int, str] | None = None
    limits: LimitsModel | None = None
    expr: str | None = None
    store: bool = True  # false: a helper for expressions, never written or shown
    present_if: str | None = None  # read only when true (over earlier fields' raw values)
    invalid: list[int] = []  # raw sentinel values meaning "no reading"
    valid: ValidModel | None = None

    @model_validator(mode="after")
    def _typed_or_derived(self) -> ParameterModel:
        if (self.type is None) == (self.expr is None):
            raise ValueError("a parameter needs exactly one of type or expr")
        if self.enum is not None and self.calibration is not None:
            raise ValueError("an enum parameter cannot also have a calibration")
        return self


class SelectorModel(_Strict):
    """One selector condition; a packet's ``selector`` is one of these or a list (all hold)."""

    offset: int = Field(ge=0)  # octets into the data field (secondary header included)
    type: str = "uint8"
    mask: int | None = Field(default=None, gt=0)  # bits tested, shifted down to bit 0
    value: int | None = None
    values: list[int] | None = None  # any of these
    min: int | None = None  # inclusive range
    max: int | None = None
    exclude: list[int] = []

    @model_validator(mode="after")
    def _tests_something(self) -> SelectorModel:
        if self.value is None and self.values is None and self.min is None and self.max is None:
            if not self.exclude:
                raise ValueError("a selector needs value, values, min/max or exclude")
        return self


# Primary header fields (133.0-B-2) a packet can expose as parameters, in wire order.
HeaderField = Literal[
    "version", "type", "sec_hdr_flag", "apid", "seq_flags", "seq_count", "data_length"
]


class Ax25SelectModel(_Strict):
    callsign: str | None = None  # AX.25 source callsign (without SSID)
    pid: int | None = None


class TimeModel(_Strict):
    code: Literal["cuc", "cds"] = "cuc"
    coarse_octets: int = Field(default=4, ge=1, le=4)
    fine_octets: int = Field(default=2, ge=0, le=3)
    day_octets: Literal[2, 3] = 2
    submillisecond_octets: Literal[0, 2, 4] = 0
    epoch: datetime = datetime.fromisoformat("1958-01-01T00:00:00+00:00")
    parameters: list[str] = []


class PacketModel(_Strict):
    name: str = Field(min_length=1)
    apid: int | None = Field(default=None, ge=0, le=0x7FF)
    selector: SelectorModel | list[SelectorModel] | None = None
    ax25: Ax25SelectModel | None = None
    header: dict[HeaderField, str] = {}  # primary header field -> parameter name
    crc: str | None = None  # packet error control over the whole packet, by name
    length: int | None = Field(default=None, gt=0)  # expected data field octets (checked)
    # Octets a packet has beyond its layout: reject (length_mismatch) or ignore (counted).
    extra_octets: Literal["reject", "ignore"] | None = None
    subsystem: str = ""
    description: str = ""
    secondary_header: bool = False
    time: TimeModel | None = None
    python: str | None = None
    parameters: list[ParameterModel] = []


@pydantic_dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class FramingDef:
    """The ``framing:`` section: the fields of ``api.FramingDef`` (what the frame layer
    reads, documented there), with their bounds. Named alike: messages name this class."""

    kind: Framing = Framing.TM
    frame_length: int | None = Field(default=None, gt=0)
    fecf: bool = True
    ocf: bool = False
    asm: bool = False
    randomized: bool = False
    fill: int | None = Field(default=None, ge=0, le=0xFF)
    parameters: dict[str, str] | None = None
    frame_packet: str = "tm_frame"


FramingModel = FramingDef


class SpacecraftModel(_Strict):
    name: str = Field(min_length=1)
    scid: int | None = Field(default=None, ge=0, le=0x3FF)
    callsign: str | None = None
    frame_interval: float | None = Field(default=None, gt=0)
    rules: list[dict[str, Any]] = []  # checked by decoders.rules.compile_rules


class RuleModel(BaseModel):
    """One of a spacecraft's ``rules:`` (compiled and checked by ``decoders.rules``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    condition: str = Field(min_length=1)
    when: str | None = None
    persistence: float = 0.0
    recovery: str | None = None
    recovery_persistence: float | None = None
    severity: Literal["warning", "critical"] = "warning"
    message: str = ""
    description: str = ""
    pair: list[str] = []


class DictionaryModel(_Strict):
    mission: str = Field(min_length=1)
    byte_order: Literal["big", "little"] = "big"
    spacecraft: list[SpacecraftModel] = []
    framing: FramingModel = FramingModel()
    time: TimeModel | None = None
    packet_crc: str | None = None  # default ``crc`` of every packet
    extra_octets: Literal["reject", "ignore"] = "reject"  # default of every packet
    packets: list[PacketModel] = Field(min_length=1)


# libyaml's parser when PyYAML has it (a large imported dictionary loads ~4x faster).
if TYPE_CHECKING:
    _SafeLoader = yaml.SafeLoader
else:
    _SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class DictionaryLoader(_SafeLoader):
    """YAML 1.1 reads ON/OFF/YES/NO as booleans; enum labels like ``1: ON`` must stay
    strings, so only true/false are booleans here."""


DictionaryLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
DictionaryLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def validation_error(file: str, document: dict[str, Any], exc: ValidationError) -> DictionaryError:
    error = exc.errors()[0]
    loc = list(error["loc"])
    packet = parameter = None
    if len(loc) >= 2 and loc[0] == "packets" and isinstance(loc[1], int):
        entry = _get(document.get("packets"), loc[1])
        packet = str(entry.get("name", f"#{loc[1]}")) if isinstance(entry, dict) else f"#{loc[1]}"
        if len(loc) >= 4 and loc[2] == "parameters" and isinstance(loc[3], int):
            p = _get(entry.get("parameters") if isinstance(entry, dict) else None, loc[3])
            parameter = str(p.get("name", f"#{loc[3]}")) if isinstance(p, dict) else f"#{loc[3]}"
    field = ".".join(str(part) for part in loc)
    return DictionaryError(file, f"{field}: {error['msg']}", packet, parameter)


def _get(items: Any, index: int) -> Any:
    return items[index] if isinstance(items, list) and 0 <= index < len(items) else None
