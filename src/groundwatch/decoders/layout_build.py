"""Building packets from engineering values: the inverse of a layout's decode.

``LayoutBuilder`` is the build half of ``layout.CompiledLayout`` (a mixin): calibrations are
inverted, enumeration labels or raw numbers accepted, missing values built as zeros, and
Construct (the spec) builds the bytes. The simulator builds every packet through it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from groundwatch.decoders.layout_fields import FieldKind, FieldSpec, container_from_raws
from groundwatch.decoders.obt import TimeCode
from groundwatch.decoders.params import EncodeError, ParamMeta, Selector, type_name

if TYPE_CHECKING:
    from construct import Construct


class LayoutBuilder:
    """What ``build`` needs of the layout, set by ``CompiledLayout.__init__``."""

    name: str
    time: TimeCode | None
    selector: Selector | None
    size: int | None
    whole_packet: bool
    header_length: int
    _fields: list[tuple[FieldSpec, str | None]]
    _time_index: list[int]
    _meta: dict[str, ParamMeta]
    _reverse_enum: dict[str, dict[str, int]]

    @property
    def struct(self) -> Construct:  # the layout's Construct struct (CompiledLayout's)
        raise NotImplementedError

    # -- build ----------------------------------------------------------------------

    def build(self, eng: Mapping[str, Any], obt_ns: int | None = None) -> bytes:
        raws: list[Any] = []
        time_raws = self.time.from_ns(obt_ns) if self.time and obt_ns is not None else None
        for i, (field, _) in enumerate(self._fields):
            if time_raws is not None and i in self._time_index:
                raws.append(time_raws[self._time_index.index(i)])
            else:
                raws.append(self._to_raw(field, eng.get(field.name)))
        data = self.build_raws(raws)
        if self.whole_packet:  # the frame layer writes the primary header
            data = data[self.header_length :]
        if self.selector is not None:  # a packet of this kind carries its packet-id value
            data = self.selector.stamp(data)
        return data

    def build_raws(self, raws: Sequence[Any]) -> bytes:
        total = (self.size or 0) + sum(
            len(raw.encode(field.encoding) if isinstance(raw, str) else raw)
            if field.sized_by_data
            else field.bits * (field.count or 1) // 8
            for (field, _), raw in zip(self._fields, raws, strict=True)
            if field.variable and raw is not None
        )
        try:
            return bytes(self.struct.build(container_from_raws(raws, self._fields), _total=total))
        except Exception as exc:  # Construct's errors, re-raised with the packet's name
            raise EncodeError(f"packet {self.name}: cannot build: {exc}") from None

    def _to_raw(self, field: FieldSpec, value: Any) -> Any:
        if field.count is None:
            return self._element_to_raw(field, value)
        if value is None:
            value = [None] * field.count
        if len(value) != field.count:
            raise EncodeError(f"packet {self.name}: {field.name}: needs {field.count} values")
        return [self._element_to_raw(field, v) for v in value]

    def _element_to_raw(self, field: FieldSpec, value: Any) -> Any:
        try:
            return self._convert_to_raw(field, value)
        except (ValueError, TypeError, OverflowError, ArithmeticError) as exc:
            if isinstance(exc, EncodeError):
                raise
            where = f"packet {self.name}: parameter {field.name}"
            raise EncodeError(f"{where}: cannot encode {value!r}: {exc}") from None

    def _convert_to_raw(self, field: FieldSpec, value: Any) -> Any:
        where = f"packet {self.name}: parameter {field.name}"
        meta = self._meta[field.name]
        kind = field.kind
        if isinstance(value, str) and field.name in self._reverse_enum:
            if value not in self._reverse_enum[field.name]:
                raise EncodeError(f"{where}: {value!r} is not one of its enum labels")
            return self._reverse_enum[field.name][value]
        if kind is FieldKind.STRING:
            return "" if value is None else str(value)
        if kind is FieldKind.BYTES:
            if value is None:
                return b"" if field.sized_by_data else bytes(field.bits // 8)
            return bytes.fromhex(value) if isinstance(value, str) else bytes(value)
        if kind is FieldKind.BOOL:
            return bool(value)
        if value is None:
            return 0.0 if kind is FieldKind.FLOAT else 0
        if meta.calibration is not None and field.name not in self._reverse_enum:
            value = meta.calibration.to_raw(float(value))
        if kind is FieldKind.FLOAT:
            return float(value)
        raw = round(value)
        low, high = field.int_range()
        if not low <= raw <= high:
            raise EncodeError(f"{where}: raw {raw} outside {type_name(field, meta)} range")
        return raw
