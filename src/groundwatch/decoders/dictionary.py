"""Load a telemetry dictionary (YAML, see ``schema.py``) and compile it once.

``load_dictionary(path)`` validates the file with pydantic, compiles every packet to a
Construct struct plus its fast path, and returns a ``MissionDictionary`` (the
``TelemetryDictionary`` of ``api.py``). Every problem raises ``DictionaryError`` naming the
file, the packet and the parameter.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import yaml
from construct import Construct
from pydantic import ValidationError

from groundwatch.decoders.api import (
    DictionaryError,
    FramingDef,
    Limits,
    PacketLayout,
    ParameterInfo,
    SpacecraftDef,
)
from groundwatch.decoders.calibration import (
    Calibration,
    CalibrationError,
    PolynomialCalibration,
    TableCalibration,
)
from groundwatch.decoders.expr import UnsafeExpression, compile_expression
from groundwatch.decoders.layout import CompiledLayout, DerivedParam, ParamMeta, Selector
from groundwatch.decoders.layout_fields import FieldKind, FieldSpec, LayoutError
from groundwatch.decoders.obt import CdsTime, CucTime, TimeCode, epoch_ns
from groundwatch.decoders.rules import RuleDef, compile_rules
from groundwatch.decoders.schema import (
    DictionaryLoader,
    DictionaryModel,
    PacketModel,
    ParameterModel,
    TimeModel,
    validation_error,
)
from groundwatch.model import Ax25Header

_INT_TYPE = re.compile(r"^(u|uint|i|int)(\d+)(le|be)?$")
_FLOAT_TYPE = re.compile(r"^float(16|32|64)(le|be)?$")


class MissionDictionary:
    """A compiled dictionary: packet lookup by APID (+ selector) or AX.25 header."""

    def __init__(
        self,
        source: str,
        mission: str,
        framing: FramingDef,
        spacecraft: Sequence[SpacecraftDef],
        packets: Sequence[CompiledLayout],
    ) -> None:
        self.source = source
        self.mission = mission
        self.framing = framing
        self.spacecraft: Sequence[SpacecraftDef] = list(spacecraft)
        # Typed as the protocol says; ``packet(name)`` gives the CompiledLayout itself.
        self.packets: Sequence[PacketLayout] = list(packets)
        self._by_apid: dict[int, list[CompiledLayout]] = {}
        for packet in packets:
            if packet.apid is not None:
                self._by_apid.setdefault(packet.apid, []).append(packet)
        # Packets with a selector are tried first; the one without is the fallback.
        for candidates in self._by_apid.values():
            candidates.sort(key=lambda p: p.selector is None)
        self._by_name = {p.name: p for p in packets}
        self._layouts = list(packets)
        self.rules: dict[str, tuple[RuleDef, ...]] = {}  # spacecraft -> consistency rules

    def __repr__(self) -> str:
        return f"MissionDictionary({self.mission!r}, {len(self.packets)} packets)"

    def packet(self, name: str) -> CompiledLayout:
        return self._by_name[name]

    def spacecraft_by_scid(self, scid: int) -> SpacecraftDef | None:
        return next((s for s in self.spacecraft if s.scid == scid), None)

    def spacecraft_by_callsign(self, callsign: str) -> SpacecraftDef | None:
        wanted = callsign.strip().upper()
        return next(
            (s for s in self.spacecraft if s.callsign and s.callsign.upper() == wanted), None
        )

    def packet_for(self, apid: int, data_field: bytes) -> CompiledLayout | None:
        for packet in self._by_apid.get(apid, ()):
            if packet.selector is None or packet.selector.matches(data_field):
                return packet
        return None

    def packet_for_ax25(self, header: Ax25Header, info: bytes) -> CompiledLayout | None:
        fallback = None
        for packet in self._layouts:
            if packet.ax25_pid is None and packet.ax25_callsign is None:
                continue
            if packet.ax25_pid is not None and packet.ax25_pid != header.pid:
                continue
            call = packet.ax25_callsign
            if call is not None and call.upper() != header.src.strip().upper():
                continue
            if packet.selector is None:
                fallback = fallback or packet
            elif packet.selector.matches(info):
                return packet
        return fallback

    def parameters(self) -> list[ParameterInfo]:
        return [info for packet in self._layouts for info in packet.parameters]


# A ``python:`` layout imports and runs a module named by the dictionary: only when the
# operator opted in (the configuration sets this around loading, or the environment).
PYTHON_LAYOUTS_ENV = "GROUNDWATCH_ALLOW_PYTHON_LAYOUTS"
python_layouts_allowed: ContextVar[bool] = ContextVar("python_layouts_allowed", default=False)


def load_dictionary(path: Path | str) -> MissionDictionary:
    path = Path(path)
    file = str(path)
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=DictionaryLoader)
    except OSError as exc:
        raise DictionaryError(file, f"cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise DictionaryError(file, f"not valid YAML: {exc}") from None
    if not isinstance(document, dict):
        raise DictionaryError(file, "must be a mapping with mission, packets, ...")
    try:
        model = DictionaryModel.model_validate(document)
    except ValidationError as exc:
        raise validation_error(file, document, exc) from None
    return compile_dictionary(model, file, path.parent)


def compile_dictionary(model: DictionaryModel, file: str, base: Path) -> MissionDictionary:
    names: set[str] = set()
    selections: dict[tuple[Any, ...], str] = {}
    packets = []
    for packet in model.packets:
        if packet.name in names:
            raise DictionaryError(file, "packet name used twice", packet.name)
        names.add(packet.name)
        # Two packets selected by the same APID (and selector) would shadow each other.
        selector = packet.selector.model_dump_json() if packet.selector else None
        for key in [("apid", packet.apid, selector)] if packet.apid is not None else []:
            if key in selections:
                raise DictionaryError(
                    file, f"same APID and selector as packet {selections[key]}", packet.name
                )
            selections[key] = packet.name
        packets.append(_compile_packet(model, packet, file, base))
    framing = FramingDef(**model.framing.model_dump())
    spacecraft = [SpacecraftDef(**s.model_dump(exclude={"rules"})) for s in model.spacecraft]
    compiled = MissionDictionary(file, model.mission, framing, spacecraft, packets)
    compiled.rules = compile_rules(
        file,
        {s.name: s.rules for s in model.spacecraft},
        {p.name: p.packet for p in compiled.parameters()},
    )
    return compiled


def _compile_packet(
    model: DictionaryModel, packet: PacketModel, file: str, base: Path
) -> CompiledLayout:
    time_model = packet.time or model.time
    time: TimeCode | None = None
    if packet.secondary_header:
        if time_model is None:
            raise DictionaryError(file, "secondary_header needs a time: section", packet.name)
        time = _time_code(time_model)
    fields: list[FieldSpec] = []
    meta: dict[str, ParamMeta] = {}
    derived: list[DerivedParam] = []
    seen: set[str] = set(time.names if time else ())
    for param in packet.parameters:
        where = (file, packet.name, param.name)
        if param.name in seen:
            raise DictionaryError(file, "parameter name used twice", packet.name, param.name)
        seen.add(param.name)
        param_meta = _meta(param, where)
        if param.expr is not None:
            derived.append(
                DerivedParam(param.name, _expression(param.expr, seen, where), param_meta)
            )
            continue
        field = _field(param, model.byte_order, where)
        if param_meta.calibration is not None or param_meta.enum is not None:
            _check_numeric(field, param_meta, where)
        fields.append(field)
        meta[param.name] = _with_calibration_range(param_meta, field, where)
    selector = None
    if packet.selector is not None:
        sel_field = _parse_type(
            packet.selector.type, model.byte_order, (file, packet.name, "selector")
        )
        if sel_field.kind is not FieldKind.UINT or sel_field.bits % 8:
            raise DictionaryError(file, "selector type must be a whole-byte uint", packet.name)
        selector = Selector(packet.selector.offset, sel_field, packet.selector.value)
    struct: Construct | None = None
    if packet.python is not None:
        struct, fields, meta = _python_layout(packet, file, base, model.byte_order)
    try:
        return CompiledLayout(
            name=packet.name,
            apid=packet.apid,
            fields=fields,
            meta=meta,
            subsystem=packet.subsystem,
            description=packet.description,
            time=time,
            derived=derived,
            selector=selector,
            ax25_pid=packet.ax25.pid if packet.ax25 else None,
            ax25_callsign=packet.ax25.callsign if packet.ax25 else None,
            struct=struct,
        )
    except LayoutError as exc:
        raise DictionaryError(file, exc.problem, packet.name, exc.field or None) from None


def _time_code(model: TimeModel) -> TimeCode:
    epoch = epoch_ns(model.epoch)
    names = tuple(model.parameters)
    if model.code == "cuc":
        return CucTime(model.coarse_octets, model.fine_octets, epoch, names)
    return CdsTime(model.day_octets, model.submillisecond_octets, epoch, names)


def _parse_type(text: str, byte_order: str, where: tuple[str, str, str]) -> FieldSpec:
    name = where[2]
    little = byte_order == "little"
    if match := _INT_TYPE.match(text):
        kind = FieldKind.UINT if match[1].startswith("u") else FieldKind.INT
        if match[3]:
            little = match[3] == "le"
        bits = int(match[2])
        if not 1 <= bits <= 64:
            raise DictionaryError(where[0], f"integer width {bits} not in 1..64", where[1], name)
        return FieldSpec(name, kind, bits, little and bits % 8 == 0 and bits > 8)
    if match := _FLOAT_TYPE.match(text):
        if match[2]:
            little = match[2] == "le"
        return FieldSpec(name, FieldKind.FLOAT, int(match[1]), little)
    if text == "bool":
        return FieldSpec(name, FieldKind.BOOL, 1)
    raise DictionaryError(where[0], f"unknown type {text!r}", where[1], name)


def _field(param: ParameterModel, byte_order: str, where: tuple[str, str, str]) -> FieldSpec:
    assert param.type is not None
    kind_name = param.type
    if kind_name in ("string", "bytes"):
        if param.length is None:
            raise DictionaryError(where[0], f"{kind_name} needs length:", where[1], where[2])
        kind = FieldKind.STRING if kind_name == "string" else FieldKind.BYTES
        return FieldSpec(param.name, kind, 8 * param.length, False, param.count, param.encoding)
    if kind_name == "spare":
        if param.bits is None:
            raise DictionaryError(where[0], "spare needs bits:", where[1], where[2])
        return FieldSpec(param.name, FieldKind.SPARE, param.bits)
    field = _parse_type(kind_name, byte_order, where)
    if param.endian is not None:
        little = param.endian == "little" and field.bits % 8 == 0 and field.bits > 8
        field = FieldSpec(field.name, field.kind, field.bits, little)
    return FieldSpec(field.name, field.kind, field.bits, field.little, param.count)


def _meta(param: ParameterModel, where: tuple[str, str, str]) -> ParamMeta:
    calibration: Calibration | None = None
    try:
        if param.calibration is not None and param.calibration.polynomial is not None:
            calibration = PolynomialCalibration(tuple(param.calibration.polynomial))
        elif param.calibration is not None and param.calibration.table is not None:
            calibration = TableCalibration.from_points(param.calibration.table)
    except CalibrationError as exc:
        raise DictionaryError(where[0], f"calibration: {exc}", where[1], where[2]) from None
    limits = Limits(**param.limits.model_dump()) if param.limits else None
    return ParamMeta(
        unit=param.unit,
        description=param.description,
        subsystem=param.subsystem,
        key=param.key,
        calibration=calibration,
        enum=param.enum,
        limits=limits,
    )


def _with_calibration_range(
    meta: ParamMeta, field: FieldSpec, where: tuple[str, str, str]
) -> ParamMeta:
    """Higher-degree polynomials are inverted on the field's raw range: check it now."""
    cal = meta.calibration
    if not isinstance(cal, PolynomialCalibration) or len(cal.coefficients) <= 2:
        return meta
    low, high = field.int_range() if field.kind is not FieldKind.FLOAT else (-1e6, 1e6)
    try:
        ranged = PolynomialCalibration(cal.coefficients, float(low), float(high))
    except CalibrationError as exc:
        raise DictionaryError(where[0], f"calibration: {exc}", where[1], where[2]) from None
    return ParamMeta(
        meta.unit, meta.description, meta.subsystem, meta.key, ranged, meta.enum, meta.limits
    )


def _check_numeric(field: FieldSpec, meta: ParamMeta, where: tuple[str, str, str]) -> None:
    allowed: tuple[FieldKind, ...] = (FieldKind.UINT, FieldKind.INT)
    if meta.calibration is not None:
        allowed = (FieldKind.UINT, FieldKind.INT, FieldKind.FLOAT)
    if field.kind not in allowed:
        what = "enum" if meta.enum is not None else "calibration"
        raise DictionaryError(
            where[0], f"{what} needs a numeric type, not {field.kind}", where[1], where[2]
        )


def _expression(source: str, known: set[str], where: tuple[str, str, str]) -> Any:
    try:
        compiled = compile_expression(source)
    except UnsafeExpression as exc:
        raise DictionaryError(
            where[0], f"expression {source!r}: {exc}", where[1], where[2]
        ) from None
    unknown = compiled.names - (known - {where[2]})
    if unknown:
        raise DictionaryError(
            where[0],
            f"expression uses unknown parameters {sorted(unknown)} (only earlier "
            "parameters of the same packet)",
            where[1],
            where[2],
        )
    return compiled


def _python_layout(
    packet: PacketModel, file: str, base: Path, byte_order: str
) -> tuple[Construct, list[FieldSpec], dict[str, ParamMeta]]:
    """``python: module:OBJECT``; OBJECT has ``struct`` (Construct) and ``parameters``
    (a list of mappings with the YAML parameter keys; ``type`` tells build how to encode)."""
    assert packet.python is not None
    if not (python_layouts_allowed.get() or os.environ.get(PYTHON_LAYOUTS_ENV) == "1"):
        raise DictionaryError(
            file,
            f"python layout {packet.python!r} runs code from the dictionary; load it only "
            f"from a trusted source, with [mission] allow_python_layouts = true "
            f"(or {PYTHON_LAYOUTS_ENV}=1 for commands without a configuration)",
            packet.name,
        )
    target, _, attr = packet.python.partition(":")
    try:
        if target.endswith(".py"):
            spec = importlib.util.spec_from_file_location(
                f"_gw_layout_{packet.name}", base / target
            )
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {target}")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(target)
        obj = getattr(module, attr)
    except (ImportError, AttributeError, OSError) as exc:
        raise DictionaryError(
            file, f"python layout {packet.python!r}: {exc}", packet.name
        ) from None
    struct = obj["struct"] if isinstance(obj, Mapping) else getattr(obj, "struct", None)
    params = obj["parameters"] if isinstance(obj, Mapping) else getattr(obj, "parameters", None)
    if not isinstance(struct, Construct) or not isinstance(params, Sequence):
        raise DictionaryError(file, "python layout needs struct and parameters", packet.name)
    fields: list[FieldSpec] = []
    meta: dict[str, ParamMeta] = {}
    for entry in params:
        try:
            param = ParameterModel.model_validate(entry)
        except ValidationError as exc:
            name = entry.get("name") if isinstance(entry, Mapping) else None
            problem = f"python layout parameter: {exc.errors()[0]['msg']}"
            raise DictionaryError(file, problem, packet.name, name) from None
        where = (file, packet.name, param.name)
        fields.append(_field(param, byte_order, where))
        meta[param.name] = _meta(param, where)
    return struct, fields, meta
