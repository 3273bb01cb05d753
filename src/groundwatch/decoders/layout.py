"""Compiled packet layouts: the dictionary's ``PacketLayout`` implementation.

Decoding is two stages. (1) Raw values: the fast path (one ``struct.Struct`` unpack) when
the layout has one, else Construct's parse of the same layout. (2) Engineering values:
calibrations, enumeration labels, limit states and derived parameters, identical for both
stages' output. Building runs the other way through Construct, which is the spec.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from groundwatch.decoders.api import BytesTooShort, DecodeError, Limits, ParameterInfo
from groundwatch.decoders.columns import (
    ColumnPlan,
    ColumnsDecoder,
    build_schema,
    derive_inputs,
    derive_values,
    derived_state,
    generate_columns,
)
from groundwatch.decoders.fastpath import FastPath
from groundwatch.decoders.layout_build import LayoutBuilder
from groundwatch.decoders.layout_fields import (
    FieldKind,
    FieldSpec,
    Segment,
    check_packet_size,
    compile_struct,
    plan_segments,
    raws_from_container,
    value_fields,
)
from groundwatch.decoders.obt import TimeCode
from groundwatch.decoders.params import (
    DerivedParam,
    EncodeError,
    PacketCheck,
    ParamMeta,
    Selector,
    type_name,
)
from groundwatch.model import ColumnSchema, LimitState, ParamValue, RejectReason

if TYPE_CHECKING:  # Construct loads when a layout's struct is first needed
    from construct import Construct

# Decode plan modes (stage 2): plain copy, calibrated/generic function, enumeration.
_PLAIN, _FUNCTION, _ENUM = 0, 1, 2


# Values (each array element counts) a layout's generated fast path may read.
MAX_FAST_VALUES = 8192


class CompiledLayout(LayoutBuilder):
    """One packet kind: a field list compiled once to a Construct struct and a fast path."""

    def __init__(
        self,
        *,
        name: str,
        apid: int | None,
        fields: Sequence[FieldSpec],
        meta: Mapping[str, ParamMeta],
        subsystem: str = "",
        description: str = "",
        time: TimeCode | None = None,
        derived: Sequence[DerivedParam] = (),
        selector: Selector | None = None,
        ax25_pid: int | None = None,
        ax25_callsign: str | None = None,
        struct: Construct | None = None,
        fast: bool = True,
        header_fields: Sequence[FieldSpec] = (),
        packet_check: PacketCheck | None = None,
        reject_extra: bool = True,
    ) -> None:
        self.name = name
        self.apid = apid
        self.subsystem = subsystem
        self.description = description
        self.time = time
        self.secondary_header = time is not None  # the data field starts with the time code
        self.selector = selector
        self.ax25_pid = ax25_pid
        self.ax25_callsign = ax25_callsign
        self.derived = tuple(derived)
        # Primary header fields as parameters: the layout then reads the whole packet.
        self.whole_packet = bool(header_fields)
        self.packet_check = packet_check
        self.reject_extra = reject_extra  # else packets longer than the layout are counted
        self.longer_packets = 0
        all_fields = [*header_fields, *(time.fields() if time else []), *fields]
        self._all_fields = all_fields
        self.variable = any(f.variable for f in all_fields)
        self._struct: Construct | None = None
        self._segments: list[Segment] = []
        if struct is None:  # a YAML layout: fields are the whole spec
            check_packet_size(all_fields)
            segments = plan_segments(all_fields)
            self._segments = segments
            self._fields = value_fields(segments)
            # The fixed part's octets (the least a variable layout needs).
            self.size: int | None = sum(s.byte_length for s in segments)
            # Generated code grows with the values read (seconds and hundreds of MB for one
            # 64 KiB array): beyond MAX_FAST_VALUES, Construct reads the arrays whole.
            values = sum(f.count or 1 for f in all_fields)
            use_fast = fast and not self.variable and values <= MAX_FAST_VALUES
            self.fast: FastPath | None = FastPath(segments) if use_fast else None
            if self.fast is None:  # Construct parses: compiled now (and its errors raised)
                self._struct = compile_struct(segments)
        else:  # a Python layout: its struct follows the (optional) time fields
            from construct import Struct

            time_segments = plan_segments(time.fields()) if time else []
            members = list(compile_struct(time_segments).subcons)
            self._struct = Struct(*members, "_body" / struct)
            self._fields = [*value_fields(time_segments), *((f, "_body") for f in fields)]
            try:
                self.size = self._struct.sizeof()
            except Exception:  # variable-size struct: Construct cannot say
                self.size = None
            self.fast = None
        self._time_index = [i for i, (f, _) in enumerate(self._fields) if f.name.startswith("_obt")]
        if time and time.names:
            names = list(time.names)
            self._time_index = [i for i, (f, _) in enumerate(self._fields) if f.name in names]
        self._meta = {f.name: meta.get(f.name, ParamMeta()) for f, _ in self._fields}
        self.header_length = sum(f.total_bits for f in header_fields) // 8
        self._reverse_enum = {
            n: {label: raw for raw, label in m.enum.items()}
            for n, m in self._meta.items()
            if m.enum is not None
        }
        parameters: list[ParameterInfo] = [
            self._info(f, self._meta[f.name])
            for f, _ in self._fields
            if _is_public(f.name) and self._meta[f.name].store
        ]
        parameters += [
            ParameterInfo(
                d.name,
                name,
                "derived",
                d.meta.unit,
                d.meta.description,
                d.meta.subsystem or subsystem,
                d.meta.key,
                d.meta.limits,
            )
            for d in self.derived
            if d.meta.store
        ]
        self.parameters: Sequence[ParameterInfo] = parameters
        self._plan = [
            self._plan_entry(i, f) for i, (f, _) in enumerate(self._fields) if _is_public(f.name)
        ]
        # Values made absent by their validity, per parameter (in ``_plan`` order).
        self._absent = [0] * len(self._plan)
        self._with_raw = any(d.expression.reads_raw for d in self.derived)
        # The fast path decodes to columns (see columns.py); Construct-only layouts to a dict.
        self.schema: ColumnSchema | None = None
        self._fast_decode: ColumnsDecoder | None = None
        if self.fast is not None:
            plans = [
                ColumnPlan(name, index, self._fields[index][0], self._meta[name], convert, state)
                for name, index, _mode, convert, _labels, state, _unit in self._plan
            ]
            self.schema = build_schema(name, plans, self.derived)
            enums = {n: m.enum for n, m in self._meta.items() if m.enum is not None}
            self._fast_decode = generate_columns(
                self.fast,
                self.schema,
                plans,
                self.derived,
                self.time,
                self._time_index,
                enums,
                self._absent,
            )

    def __repr__(self) -> str:
        return f"CompiledLayout({self.name!r}, apid={self.apid})"

    def absent_values(self) -> dict[str, int]:
        """How many values each parameter's validity made absent so far."""
        return {entry[0]: n for entry, n in zip(self._plan, self._absent, strict=True) if n}

    def field_specs(self) -> list[FieldSpec]:
        """Every field in wire order, spare bits and secondary-header time included."""
        return list(self._all_fields)

    def meta(self, name: str) -> ParamMeta:
        """Calibration, enumeration, limits and labels of a (non-derived) parameter."""
        return self._meta[name]

    def value_field_specs(self) -> list[FieldSpec]:
        """The fields that carry a raw value, in the order of ``construct_raws``."""
        return [field for field, _ in self._fields]

    def _info(self, field: FieldSpec, meta: ParamMeta) -> ParameterInfo:
        return ParameterInfo(
            name=field.name,
            packet=self.name,
            type=type_name(field, meta),
            unit=meta.unit,
            description=meta.description,
            subsystem=meta.subsystem or self.subsystem,
            key=meta.key,
            limits=meta.limits,
            enum=meta.enum,
            array_length=field.count,
        )

    def _plan_entry(self, index: int, field: FieldSpec) -> tuple[Any, ...]:
        meta = self._meta[field.name]
        convert: Callable[[Any], Any] | None = None
        mode = _PLAIN
        if meta.enum is not None:
            mode = _ENUM if field.count is None else _FUNCTION
            convert = self._enum_converter(field.name, meta.enum)
        elif meta.calibration is not None:
            mode, convert = _FUNCTION, meta.calibration.to_eng
        elif field.kind is FieldKind.BYTES:
            mode, convert = _FUNCTION, bytes.hex
        if field.count is not None and convert is not None:
            element = convert
            convert = lambda raws: [element(r) for r in raws]  # noqa: E731
        state = None
        if meta.limits is not None:
            state = meta.limits.state if field.count is None else _worst_state(meta.limits)
        return (field.name, index, mode, convert, meta.enum, state, meta.unit)

    def _enum_converter(self, name: str, labels: Mapping[int, str]) -> Callable[[int], str]:
        def label(raw: int) -> str:
            try:
                return labels[raw]
            except KeyError:
                raise DecodeError(
                    RejectReason.BAD_ENUM, f"packet {self.name}: {name} = {raw} not declared"
                ) from None

        return label

    # -- decode ---------------------------------------------------------------------

    @property
    def struct(self) -> Construct:
        """The layout's Construct struct (the spec: builds, and parses without a fast path),
        compiled when first needed."""
        if self._struct is None:
            self._struct = compile_struct(self._segments)
        return self._struct

    def construct_raws(self, data_field: bytes) -> list[Any]:
        """Stage 1 through Construct (the spec); raises whatever Construct raises."""
        stream = io.BytesIO(data_field)
        container = self.struct.parse_stream(stream, _total=len(data_field))
        if self.variable and stream.tell() != len(data_field):
            if not self.reject_extra:
                self.longer_packets += 1
                return raws_from_container(container, self._fields)
            raise DecodeError(
                RejectReason.LENGTH_MISMATCH,
                f"packet {self.name}: layout reads {stream.tell()} octets, "
                f"the packet has {len(data_field)}",
            )
        return raws_from_container(container, self._fields)

    def _check_length(self, data: bytes) -> None:
        size = self.size
        if size is None:
            return
        if len(data) < size:
            raise BytesTooShort(size, len(data), f"packet {self.name}")
        if len(data) > size and not self.variable:
            if not self.reject_extra:
                self.longer_packets += 1
                return
            raise DecodeError(
                RejectReason.LENGTH_MISMATCH,
                f"packet {self.name}: layout covers {size} octets, the packet has {len(data)}",
            )

    def decode(self, data_field: bytes) -> tuple[Mapping[str, ParamValue], int | None]:
        """Parameters (``PacketColumns`` on the fast path, else a dict) and on-board time.

        ``data_field`` is the whole packet when the layout has header parameters
        (``whole_packet``)."""
        self._check_length(data_field)
        try:
            if self._fast_decode is not None:
                return self._fast_decode(data_field)
            raws = self.construct_raws(data_field)
        except DecodeError:
            raise
        except Exception as exc:  # a decoder never crashes on bad bytes: reject them
            raise DecodeError(
                RejectReason.BAD_PACKET, f"packet {self.name}: {type(exc).__name__}: {exc}"
            ) from None
        return self.from_raws(raws)

    def decode_construct(self, data_field: bytes) -> tuple[dict[str, ParamValue], int | None]:
        """``decode`` through Construct's parse only (the spec; tests and benchmarks)."""
        self._check_length(data_field)
        try:
            raws = self.construct_raws(data_field)
        except DecodeError:
            raise
        except Exception as exc:
            raise DecodeError(
                RejectReason.BAD_PACKET, f"packet {self.name}: {type(exc).__name__}: {exc}"
            ) from None
        return self.from_raws(raws)

    def from_raws(self, raws: Sequence[Any]) -> tuple[dict[str, ParamValue], int | None]:
        """Stage 2: engineering values, limits, derived parameters, on-board time."""
        params: dict[str, ParamValue] = {}
        hidden: dict[str, ParamValue] = {}
        for k, (name, index, mode, convert, labels, state, unit) in enumerate(self._plan):
            raw = raws[index]
            if raw is None:  # a conditional field its condition left out of this packet
                continue
            if mode == _PLAIN:
                eng = raw
            elif mode == _ENUM:
                eng = labels.get(raw)
                if eng is None:
                    convert(raw)  # raises BAD_ENUM with the details
            else:
                eng = convert(raw)
            meta = self._meta[name]
            if meta.checks_validity and not meta.is_valid(raw, eng):
                self._absent[k] += 1
                hidden[name] = ParamValue(raw, None, unit, None)
                continue
            value = ParamValue(raw, eng, unit, state(eng) if state else None)
            (params if meta.store else hidden)[name] = value
        if self.derived:
            self._derive(params, hidden)
        obt = None
        if self.time is not None:
            obt = self.time.to_ns([raws[i] for i in self._time_index])
        return params, obt

    def _derive(self, params: dict[str, ParamValue], hidden: dict[str, ParamValue]) -> None:
        every = {**params, **hidden}
        names = [entry[0] for entry in self._plan if entry[0] in every]
        values = derive_inputs(
            names,
            [every[n].eng for n in names],
            [every[n].raw for n in names],
            self._with_raw,
        )
        for derived, eng in zip(self.derived, derive_values(self.derived, values), strict=True):
            if eng is None or not derived.meta.store:
                continue
            state = derived_state(derived.meta.limits)
            params[derived.name] = ParamValue(
                eng, eng, derived.meta.unit, state(eng) if state is not None else None
            )


def _is_public(name: str) -> bool:
    return not name.startswith("_")


def _worst_state(limits: Limits) -> Callable[[list[Any]], LimitState]:
    def worst(values: list[Any]) -> LimitState:
        states = [limits.state(v) for v in values]
        return max(states, key=abs, default=LimitState.NOMINAL)

    return worst


__all__ = ["CompiledLayout", "DerivedParam", "EncodeError", "ParamMeta", "Selector"]
