"""Dictionary entries to compiled pieces: field types, parameter metadata, selectors,
header fields, time codes and expressions (used by ``dictionary.compile_dictionary``).

Every problem raises ``DictionaryError`` naming the file, the packet and the parameter
(``where`` is that triple).
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Any

from groundwatch.decoders.api import DictionaryError, Limits
from groundwatch.decoders.calibration import (
    Calibration,
    CalibrationError,
    PolynomialCalibration,
    RationalCalibration,
    TableCalibration,
)
from groundwatch.decoders.expr import UnsafeExpression, compile_expression
from groundwatch.decoders.layout_fields import FieldKind, FieldSpec
from groundwatch.decoders.obt import CdsTime, CucTime, TimeCode, epoch_ns
from groundwatch.decoders.params import Condition, ParamMeta, Selector

if TYPE_CHECKING:  # read by attribute: validated models, or their snapshot (dictionary_cache)
    from groundwatch.decoders.schema import PacketModel, ParameterModel, TimeModel

_INT_TYPE = re.compile(r"^(u|uint|i|int)(\d+)(le|be)?$")


_FLOAT_TYPE = re.compile(r"^float(16|32|64)(le|be)?$")


# Primary header fields, in wire order, with their widths in bits.
HEADER_BITS = {
    "version": 3,
    "type": 1,
    "sec_hdr_flag": 1,
    "apid": 11,
    "seq_flags": 2,
    "seq_count": 14,
    "data_length": 16,
}


def header_fields(packet: PacketModel, file: str, seen: set[str]) -> list[FieldSpec]:
    if not packet.header:
        return []
    names = list(packet.header.values())
    if len(set(names)) != len(names):
        raise DictionaryError(file, "header: the same parameter name twice", packet.name)
    return [
        FieldSpec(packet.header.get(field, f"_hdr_{field}"), FieldKind.UINT, bits)  # type: ignore[call-overload]
        for field, bits in HEADER_BITS.items()
    ]


def selector_of(packet: PacketModel, byte_order: str, file: str) -> Selector | None:
    if packet.selector is None:
        return None
    models = packet.selector if isinstance(packet.selector, list) else [packet.selector]
    conditions = []
    for model in models:
        field = parse_type(model.type, byte_order, (file, packet.name, "selector"))
        if field.kind is not FieldKind.UINT or field.bits % 8:
            raise DictionaryError(file, "selector type must be a whole-byte uint", packet.name)
        if model.mask is not None and model.mask >= 1 << field.bits:
            raise DictionaryError(file, f"selector mask wider than {model.type}", packet.name)
        values = [model.value] if model.value is not None else model.values
        conditions.append(
            Condition(
                model.offset,
                field.bits // 8,
                field.little,
                model.mask,
                frozenset(values) if values is not None else None,
                model.min,
                model.max,
                frozenset(model.exclude),
            )
        )
    return Selector(tuple(conditions))


def time_code(model: TimeModel) -> TimeCode:
    epoch = epoch_ns(model.epoch)
    names = tuple(model.parameters)
    if model.code == "cuc":
        return CucTime(model.coarse_octets, model.fine_octets, epoch, names)
    return CdsTime(model.day_octets, model.submillisecond_octets, epoch, names)


def parse_type(text: str, byte_order: str, where: tuple[str, str, str]) -> FieldSpec:
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


def field(param: ParameterModel, byte_order: str, where: tuple[str, str, str]) -> FieldSpec:
    assert param.type is not None
    kind_name = param.type
    if kind_name in ("string", "bytes"):
        kind = FieldKind.STRING if kind_name == "string" else FieldKind.BYTES
        if param.length_from is not None or param.length == "rest":
            if param.count is not None:
                raise DictionaryError(
                    where[0], "a variable-length field cannot be an array", where[1], where[2]
                )
            return FieldSpec(
                param.name,
                kind,
                8,
                encoding=param.encoding,
                length_from=param.length_from,
                length_scale=param.length_scale,
                length_offset=param.length_offset,
                rest=param.length == "rest",
            )
        if not isinstance(param.length, int):
            raise DictionaryError(
                where[0], f"{kind_name} needs length: (octets, rest) or length_from:", *where[1:]
            )
        return FieldSpec(param.name, kind, 8 * param.length, False, param.count, param.encoding)
    if kind_name == "spare":
        if param.bits is None:
            raise DictionaryError(where[0], "spare needs bits:", where[1], where[2])
        return FieldSpec(param.name, FieldKind.SPARE, param.bits)
    field = parse_type(kind_name, byte_order, where)
    if param.endian is not None:
        little = param.endian == "little" and field.bits % 8 == 0 and field.bits > 8
        field = FieldSpec(field.name, field.kind, field.bits, little)
    return FieldSpec(field.name, field.kind, field.bits, field.little, param.count)


def meta(param: ParameterModel, where: tuple[str, str, str]) -> ParamMeta:
    calibration: Calibration | None = None
    try:
        if param.calibration is not None and param.calibration.polynomial is not None:
            calibration = PolynomialCalibration(tuple(param.calibration.polynomial))
        elif param.calibration is not None and param.calibration.table is not None:
            calibration = TableCalibration.from_points(param.calibration.table)
        elif param.calibration is not None and param.calibration.divide is not None:
            calibration = RationalCalibration(param.calibration.divide)
    except CalibrationError as exc:
        raise DictionaryError(where[0], f"calibration: {exc}", where[1], where[2]) from None
    limits = None
    if param.limits is not None:
        bounds = {f.name: getattr(param.limits, f.name) for f in dataclasses.fields(Limits)}
        limits = Limits(**bounds)
    if (param.invalid or param.valid) and (param.count is not None or param.expr is not None):
        raise DictionaryError(
            where[0], "invalid:/valid: apply to single decoded values only", where[1], where[2]
        )
    if param.valid is not None and param.enum is not None:
        raise DictionaryError(where[0], "valid: needs a number, not an enum", where[1], where[2])
    return ParamMeta(
        unit=param.unit,
        description=param.description,
        subsystem=param.subsystem,
        key=param.key,
        calibration=calibration,
        enum=param.enum,
        limits=limits,
        store=param.store,
        invalid=frozenset(param.invalid),
        valid_low=param.valid.min if param.valid else None,
        valid_high=param.valid.max if param.valid else None,
    )


def with_calibration_range(
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
    return dataclasses.replace(meta, calibration=ranged)


def check_numeric(field: FieldSpec, meta: ParamMeta, where: tuple[str, str, str]) -> None:
    allowed: tuple[FieldKind, ...] = (FieldKind.UINT, FieldKind.INT)
    if meta.calibration is not None:
        allowed = (FieldKind.UINT, FieldKind.INT, FieldKind.FLOAT)
    if field.kind not in allowed:
        what = "enum" if meta.enum is not None else "calibration"
        raise DictionaryError(
            where[0], f"{what} needs a numeric type, not {field.kind}", where[1], where[2]
        )


def expression(source: str, known: set[str], where: tuple[str, str, str]) -> Any:
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
