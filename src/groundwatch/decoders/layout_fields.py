"""Packet fields and the Construct struct they compile to: the spec of a packet layout.

A layout is a sequence of fields read MSB first from the start of the packet data field.
Byte-aligned fields become plain Construct fields; runs of fields that are not
byte-aligned (bit fields packed inside bytes) become one ``BitStruct`` that must end on a
byte boundary (declare spare bits to fill it). The Construct struct is the one source of
truth: the fast path (``fastpath.py``) is generated from the same segments and proved equal
to it by a hypothesis test.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Construct loads when a struct is compiled (see compile_struct)
    from construct import Construct, Container, Struct


class LayoutError(ValueError):
    """A layout that cannot be compiled; ``field`` names the offending field."""

    def __init__(self, field: str | None, problem: str) -> None:
        super().__init__(problem)
        self.field = field
        self.problem = problem


class FieldKind(StrEnum):
    UINT = "uint"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    STRING = "string"
    BYTES = "bytes"
    SPARE = "spare"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str  # "" for spare bits
    kind: FieldKind
    bits: int  # width of one element; strings and bytes: 8 * length
    little: bool = False
    count: int | None = None  # fixed-size array of ``count`` elements
    encoding: str = "ascii"
    # Variable length (strings and bytes): ``length_from * length_scale + length_offset``
    # octets, or with ``rest`` what the packet holds beyond the layout's fixed fields.
    length_from: str | None = None
    length_scale: int = 1
    length_offset: int = 0
    rest: bool = False
    # Read only when this expression over earlier fields' raw values is true (else absent).
    present_if: Any = None

    @property
    def sized_by_data(self) -> bool:
        return self.rest or self.length_from is not None

    @property
    def variable(self) -> bool:
        """Its octets depend on the packet: sized by data, or present on a condition."""
        return self.sized_by_data or self.present_if is not None

    @property
    def total_bits(self) -> int:
        """Width in bits; 0 for a variable-length field (counted by its actual length)."""
        return 0 if self.variable else self.bits * (self.count or 1)

    @property
    def signed(self) -> bool:
        return self.kind is FieldKind.INT

    @property
    def byte_aligned_kind(self) -> bool:
        """Can be read as whole bytes when it starts on a byte boundary."""
        return self.kind is not FieldKind.BOOL and self.bits % 8 == 0

    def int_range(self) -> tuple[int, int]:
        if self.kind is FieldKind.INT:
            return -(1 << (self.bits - 1)), (1 << (self.bits - 1)) - 1
        return 0, (1 << self.bits) - 1


# The largest packet data field a space packet can carry (its length field is 16 bits); a
# layout beyond it could never match a packet, and compiling it would cost memory in
# proportion to its (hostile) size.
MAX_PACKET_BITS = 65536 * 8


def check_packet_size(fields: Sequence[FieldSpec]) -> None:
    """Raise LayoutError naming the first field that takes the layout past the limit."""
    total = 0
    for f in fields:
        total += f.total_bits
        if total > MAX_PACKET_BITS:
            raise LayoutError(
                f.name or None,
                f"layout reaches {total // 8} octets at this field, longer than the largest "
                f"packet data field ({MAX_PACKET_BITS // 8} octets)",
            )


@dataclass(frozen=True, slots=True)
class Segment:
    """Consecutive fields read the same way: whole bytes, or one packed bit group."""

    bit_group: bool
    fields: tuple[FieldSpec, ...]
    byte_offset: int

    @property
    def byte_length(self) -> int:
        return sum(f.total_bits for f in self.fields) // 8


def plan_segments(fields: Sequence[FieldSpec]) -> list[Segment]:
    segments: list[Segment] = []
    group: list[FieldSpec] = []
    group_start = 0
    position = 0  # bits
    for field in fields:
        _check_field(field)
        if not group and position % 8 == 0 and field.byte_aligned_kind:
            segments.append(Segment(False, (field,), position // 8))
        else:
            if field.kind in (FieldKind.STRING, FieldKind.BYTES) or field.variable:
                raise LayoutError(field.name, f"{field.kind} must start on a byte boundary")
            if field.little:
                raise LayoutError(field.name, "little-endian fields must be byte-aligned")
            if not group:
                group_start = position
            group.append(field)
        position += field.total_bits
        if group and position % 8 == 0:
            segments.append(Segment(True, tuple(group), group_start // 8))
            group = []
    if group:
        raise LayoutError(
            group[-1].name,
            f"bit fields end at bit {position}, not on a byte boundary: declare spare bits",
        )
    return segments


def _check_field(field: FieldSpec) -> None:
    if field.bits <= 0 or (field.count is not None and field.count <= 0):
        raise LayoutError(field.name, "width and array length must be positive")
    if field.kind is FieldKind.FLOAT and field.bits not in (16, 32, 64):
        raise LayoutError(field.name, "floats are 16, 32 or 64 bits")
    if field.kind is FieldKind.BOOL and field.bits != 1:
        raise LayoutError(field.name, "bool is one bit (use an enum for wider flags)")
    if field.little and field.bits % 8:
        raise LayoutError(field.name, "little-endian fields must be whole bytes")
    if field.kind in (FieldKind.STRING, FieldKind.BYTES) and field.bits % 8:
        raise LayoutError(field.name, "strings and bytes are whole bytes")
    if field.sized_by_data and (
        field.kind not in (FieldKind.STRING, FieldKind.BYTES) or field.count
    ):
        raise LayoutError(field.name, "only strings and bytes (not arrays) can vary in length")


_INT_FORMATS = {8: "b", 16: "h", 32: "l", 64: "q"}
_FLOAT_FORMATS = {16: "e", 32: "f", 64: "d"}


def _byte_element(field: FieldSpec, length: Any = None) -> Construct:
    from construct import Bytes, BytesInteger, FormatField, PaddedString

    order = "<" if field.little else ">"
    if length is not None:  # a variable-length string or bytes field
        if field.kind is FieldKind.STRING:
            return PaddedString(length, field.encoding)
        return Bytes(length)
    if field.kind in (FieldKind.UINT, FieldKind.INT):
        if field.bits in _INT_FORMATS:
            code = _INT_FORMATS[field.bits]
            return FormatField(order, code if field.signed else code.upper())
        return BytesInteger(field.bits // 8, signed=field.signed, swapped=field.little)
    if field.kind is FieldKind.FLOAT:
        return FormatField(order, _FLOAT_FORMATS[field.bits])
    if field.kind is FieldKind.STRING:
        return PaddedString(field.bits // 8, field.encoding)
    if field.kind is FieldKind.BYTES:
        return Bytes(field.bits // 8)
    raise LayoutError(field.name, f"{field.kind} cannot be read as bytes")


def _bit_element(field: FieldSpec) -> Construct:
    from construct import BitsInteger, Bytewise, Flag, FormatField

    if field.kind in (FieldKind.UINT, FieldKind.INT):
        return BitsInteger(field.bits, signed=field.signed)
    if field.kind is FieldKind.FLOAT:  # an IEEE float not on a byte boundary (big-endian)
        return Bytewise(FormatField(">", _FLOAT_FORMATS[field.bits]))
    if field.kind is FieldKind.BOOL:
        return Flag
    raise LayoutError(field.name, f"{field.kind} cannot be a bit field")


def _member(field: FieldSpec, bitwise: bool, length: Any = None) -> Construct:
    from construct import Array, Padding

    if field.kind is FieldKind.SPARE:
        return Padding(field.total_bits if bitwise else field.total_bits // 8)
    element = _bit_element(field) if bitwise else _byte_element(field, length)
    member = Array(field.count, element) if field.count is not None else element
    return field.name / member


def group_name(index: int) -> str:
    return f"_bits{index}"


def compile_struct(segments: Sequence[Segment]) -> Struct:
    """The Construct struct of a layout; bit groups are nested as ``_bitsN``.

    A variable-length field reads its length from an earlier field (through the parse
    context) or, for ``rest``, from ``_total`` (the data length passed to ``parse``/``build``)
    less the position and the fixed fields after it. Construct loads here, when a layout
    first needs its struct: decoding through the fast path never does.
    """
    from construct import BitStruct, Struct

    members: list[Construct] = []
    groups: dict[str, str | None] = {}  # field name -> its bit group, for length references
    after = sum(s.byte_length for s in segments)  # fixed octets after the current segment
    for index, segment in enumerate(segments):
        after -= segment.byte_length
        if segment.bit_group:
            inner = [_member(f, bitwise=True) for f in segment.fields]
            members.append(group_name(index) / BitStruct(*inner))
            groups.update((f.name, group_name(index)) for f in segment.fields)
        else:
            field = segment.fields[0]
            length = _length_of(field, groups, after) if field.sized_by_data else None
            member = _member(field, bitwise=False, length=length)
            if field.present_if is not None:
                member = _conditional(field, member, groups)
            members.append(member)
            groups[field.name] = None
    return Struct(*members)


class _RawView(Mapping[str, Any]):
    """Earlier fields' raw values by name, read from a Construct context (bit groups too)."""

    def __init__(self, ctx: Any, groups: dict[str, str | None]) -> None:
        self._ctx, self._groups = ctx, groups

    def __getitem__(self, name: str) -> Any:
        group = self._groups[name]
        return self._ctx[name] if group is None else self._ctx[group][name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._groups)

    def __len__(self) -> int:
        return len(self._groups)


def _conditional(field: FieldSpec, member: Construct, groups: dict[str, str | None]) -> Any:
    unknown = set(field.present_if.names) - set(groups)
    if unknown:
        raise LayoutError(field.name, f"present_if reads {sorted(unknown)}: not earlier fields")
    from construct import If

    condition = field.present_if
    return field.name / If(lambda ctx: bool(condition(_RawView(ctx, groups))), member.subcon)


def _length_of(field: FieldSpec, groups: dict[str, str | None], after: int) -> Any:
    if field.rest:  # up to the fixed fields that follow it
        return lambda ctx: ctx._params._total - ctx._io.tell() - after
    ref = field.length_from
    if ref not in groups:
        raise LayoutError(field.name, f"length_from {ref!r} is not an earlier field")
    group, scale, offset = groups[ref], field.length_scale, field.length_offset
    if group is None:
        return lambda ctx: ctx[ref] * scale + offset
    return lambda ctx: ctx[group][ref] * scale + offset


def value_fields(segments: Sequence[Segment]) -> list[tuple[FieldSpec, str | None]]:
    """Every field that carries a value (not spare), with its bit group's name."""
    out: list[tuple[FieldSpec, str | None]] = []
    for index, segment in enumerate(segments):
        for field in segment.fields:
            if field.kind is not FieldKind.SPARE:
                out.append((field, group_name(index) if segment.bit_group else None))
    return out


def raws_from_container(
    container: Container, fields: Sequence[tuple[FieldSpec, str | None]]
) -> list[Any]:
    raws: list[Any] = []
    for field, group in fields:
        value = container[group][field.name] if group else container[field.name]
        raws.append(list(value) if field.count is not None and value is not None else value)
    return raws


def container_from_raws(
    raws: Sequence[Any], fields: Sequence[tuple[FieldSpec, str | None]]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for (field, group), raw in zip(fields, raws, strict=True):
        if group:
            out.setdefault(group, {})[field.name] = raw
        else:
            out[field.name] = raw
    return out
