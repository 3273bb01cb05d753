"""Decoded packets, rejections and events as InfluxDB points (the README's schema).

* packets: measurement = packet name (``apid_<n>`` when decoded without a dictionary, or
  ``packet`` when there is no space packet header either); tags ``spacecraft``, ``station``,
  ``source``; one field per parameter's engineering value, enumerations as the label
  (``<name>``) plus the raw number (``<name>_raw``), arrays as ``<name>_0 .. <name>_<n-1>``,
  bytes as a hex string; ``seq_count`` and ``obt`` (on-board time, ns) when known; time =
  ``DecodedPacket.time_ns`` (earth-received time + index in frame: unique per series).
* ``rejected``: tags ``spacecraft`` (when known), ``station``, ``source``, ``reason``; fields
  ``detail``, ``hex`` (the first ``REJECTED_HEX_BYTES`` octets; ``truncated`` when there
  were more), ``length``, ``sha256`` of the whole input (and ``vcid`` when known); time =
  ert + index of the rejection within its frame.
* ``events``: tags ``spacecraft``, ``station``, ``source``, ``type``, ``severity``; fields
  ``title``, ``text``, ``id``, ``condition``, ``recovery``, ``details`` (JSON).

Field types must never change for a parameter (InfluxDB refuses the point: "field type
conflict"). An int engineering value is written as an integer, unless the parameter is
named in ``float_params`` (float-typed or calibrated parameters whose calibration happened
to yield an int), where it is written as a float.
"""

from __future__ import annotations

import hashlib
import json
import operator
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from groundwatch.model import (
    ColumnSchema,
    DecodedPacket,
    Event,
    FieldRow,
    FieldValue,
    PacketColumns,
    Point,
    Rejection,
    RowShape,
)

NO_FLOAT_PARAMS: frozenset[str] = frozenset()


class _ParamType(Protocol):
    name: str
    type: str


def float_params_of(parameters: Iterable[_ParamType]) -> frozenset[str]:
    """Names of float-typed parameters (``TelemetryDictionary.parameters()``): their int
    values are written as floats, so the field keeps one type."""
    return frozenset(p.name for p in parameters if p.type.startswith("float"))


def _add_value(
    fields: dict[str, FieldValue], name: str, raw: Any, eng: Any, as_float: bool
) -> None:
    if isinstance(eng, bool):
        fields[name] = eng
    elif isinstance(eng, int):
        fields[name] = float(eng) if as_float else eng
    elif isinstance(eng, float):
        fields[name] = eng
    elif isinstance(eng, str):
        fields[name] = eng
        # An enumeration: the label, and the raw number beside it.
        if isinstance(raw, int) and not isinstance(raw, bool):
            fields[f"{name}_raw"] = raw
    elif isinstance(eng, bytes | bytearray | memoryview):
        fields[name] = bytes(eng).hex()
    elif isinstance(eng, list | tuple):
        raws = raw if isinstance(raw, list | tuple) and len(raw) == len(eng) else [None] * len(eng)
        for i, (r, e) in enumerate(zip(raws, eng, strict=True)):
            _add_value(fields, f"{name}_{i}", r, e, as_float)
    elif eng is None:
        return
    else:
        fields[name] = str(eng)


def packet_measurement(pkt: DecodedPacket) -> str:
    if pkt.name:
        return pkt.name
    if pkt.header is not None:
        return f"apid_{pkt.header.apid}"
    return "packet"


def _param_fields(
    params: Iterable[tuple[str, Any, Any]], float_params: Container[str]
) -> dict[str, FieldValue]:
    """Fields of (name, raw, eng) samples; eng None (a derived value not computed) skipped."""
    fields: dict[str, FieldValue] = {}
    for name, raw, eng in params:
        kind = type(eng)
        # The common kinds inline (this runs for every parameter of every packet).
        if kind is float or kind is bool:
            fields[name] = eng
        elif kind is int and name not in float_params:
            fields[name] = eng
        else:
            _add_value(fields, name, raw, eng, name in float_params)
    return fields


@dataclass(frozen=True, slots=True)
class RowPlan:
    """How one column schema becomes fields, decided once: the columns of a fixed scalar
    kind written as they are (``keys``, and ``pick`` over ``eng + raw`` giving their values
    in one C call), then the others (arrays, derived values, an int column of a float
    parameter) through the general per-value path, in ``general``."""

    keys: tuple[str, ...]
    pick: Callable[[tuple[Any, ...]], tuple[Any, ...]] | None
    general: tuple[int, ...]
    fixed: tuple[type, ...]  # kinds of the picked values
    # Row shapes met so far, by (general keys, their kinds, has seq_count, has obt).
    shapes: dict[tuple[Any, ...], RowShape] = field(default_factory=dict)

    def shape(
        self, general: tuple[str, ...], values: tuple[Any, ...], seq: bool, obt: bool
    ) -> RowShape:
        kinds = tuple(map(type, values))
        key = (general, kinds, seq, obt)
        shape = self.shapes.get(key)
        if shape is None:
            if len(self.shapes) >= 1000:  # bounded: kinds of derived values could vary
                self.shapes.clear()
            extra = (("seq_count",) if seq else ()) + (("obt",) if obt else ())
            shape = self.shapes[key] = RowShape(
                (*self.keys, *general, *extra), (*self.fixed, *kinds, *((int,) * len(extra)))
            )
        return shape


def row_plan(schema: ColumnSchema, float_params: Container[str]) -> RowPlan:
    keys: list[str] = []
    picks: list[int] = []
    general: list[int] = []
    n = len(schema.names)
    for i, (name, kind, enum) in enumerate(
        zip(schema.names, schema.kinds, schema.enums, strict=True)
    ):
        if kind not in (float, int, bool, str) or (kind is int and name in float_params):
            general.append(i)
            continue
        keys.append(name)
        picks.append(i)
        if enum:  # the label, and the raw number beside it (as _add_value writes it)
            keys.append(f"{name}_raw")
            picks.append(n + i)
    if len(picks) == 1:  # itemgetter of one index returns the value, not a tuple
        general.insert(0, picks[0])
        keys, picks = [], []
    pick = operator.itemgetter(*picks) if picks else None
    fixed = tuple(int if i >= n else schema.kinds[i] for i in picks)  # enum raws are ints
    return RowPlan(tuple(keys), pick, tuple(general), fixed)  # type: ignore[arg-type]


class PacketPoints:
    """``packet_point`` with each column schema planned once (see ``RowPlan``)."""

    def __init__(self, float_params: Container[str] = NO_FLOAT_PARAMS) -> None:
        self.float_params = float_params
        # id(schema) -> (schema, plan): the schema is kept so its id cannot be reused.
        self._plans: dict[int, tuple[ColumnSchema, RowPlan]] = {}

    def __call__(self, pkt: DecodedPacket) -> Point:
        params = pkt.params
        if type(params) is not PacketColumns or pkt.payload is not None:
            return packet_point(pkt, self.float_params)
        schema = params.schema
        entry = self._plans.get(id(schema))
        if entry is None:
            entry = self._plans[id(schema)] = (schema, row_plan(schema, self.float_params))
        plan = entry[1]
        eng, raw = params.eng, params.raw
        general: dict[str, FieldValue] = {}
        names, floats = schema.names, self.float_params
        for i in plan.general:
            if eng[i] is not None:
                _add_value(general, names[i], raw[i], eng[i], names[i] in floats)
        tail = tuple(general.values())
        header, obt = pkt.header, pkt.obt_ns
        extra = ((header.seq_count,) if header is not None else ()) + (
            (obt,) if obt is not None else ()
        )
        shape = plan.shape(tuple(general), tail, header is not None, obt is not None)
        row = plan.pick(eng + raw) if plan.pick is not None else ()
        tags = {"spacecraft": pkt.spacecraft, "station": pkt.station, "source": pkt.source}
        return Point(
            packet_measurement(pkt), tags, FieldRow(shape, row + tail + extra), pkt.time_ns
        )


def packet_point(pkt: DecodedPacket, float_params: Container[str] = NO_FLOAT_PARAMS) -> Point:
    params = pkt.params
    if type(params) is PacketColumns:
        fields = _param_fields(
            zip(params.schema.names, params.raw, params.eng, strict=True), float_params
        )
    else:
        fields = _param_fields(((n, pv.raw, pv.eng) for n, pv in params.items()), float_params)
    return _finish(pkt, fields)


def _finish(pkt: DecodedPacket, fields: dict[str, FieldValue]) -> Point:
    if pkt.payload is not None and "payload" not in fields:
        fields["payload"] = pkt.payload.hex()
    if pkt.header is not None:
        fields["seq_count"] = pkt.header.seq_count
    if pkt.obt_ns is not None:
        fields["obt"] = pkt.obt_ns
    tags = {"spacecraft": pkt.spacecraft, "station": pkt.station, "source": pkt.source}
    return Point(packet_measurement(pkt), tags, fields, pkt.time_ns)


REJECTED_HEX_BYTES = 256  # octets of a rejected input kept in its point (the archive has all)
REJECTED_DETAIL_CHARS = 1024


def rejected_point(r: Rejection, index: int = 0) -> Point:
    """``index``: the rejection's position among those of its frame (keeps them distinct)."""
    tags = {"station": r.station, "source": r.source, "reason": str(r.reason.value)}
    if r.spacecraft:
        tags["spacecraft"] = r.spacecraft
    data = r.data
    # The bytes come from outside: only a prefix is stored (a 10 MB string field wedges
    # InfluxDB); the length and the hash identify the whole frame, which the archive keeps.
    fields: dict[str, FieldValue] = {
        "detail": r.detail[:REJECTED_DETAIL_CHARS],
        "hex": data[:REJECTED_HEX_BYTES].hex(),
        "length": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    if len(data) > REJECTED_HEX_BYTES:
        fields["truncated"] = True
    if r.vcid is not None:
        fields["vcid"] = r.vcid
    return Point("rejected", tags, fields, r.ert_ns + index)


def event_point(e: Event) -> Point:
    tags = {
        "spacecraft": e.spacecraft or "",
        "station": e.station or "",
        "source": e.source,
        "type": str(e.type.value),
        "severity": e.severity.label,
    }
    fields: dict[str, FieldValue] = {
        "title": e.title,
        "text": e.text,
        "id": e.id,
        "condition": e.condition,
        "recovery": e.recovery,
        "details": json.dumps(e.details, sort_keys=True, default=str),
    }
    return Point("events", tags, fields, e.time_ns)
