"""The generated fast path: one precompiled ``struct.Struct`` per layout plus masks.

Construct's interpreted parse costs tens of microseconds per packet of 40 parameters, and
``Struct.compile()`` does not help on ``BitStruct`` fields (measured on construct 2.10.70;
its docs also warn that compiled parsers are not meant for corrupted or untrusted data).
So from the same segments as the Construct struct we generate:

* a single ``struct.Struct`` for the whole layout: whole-byte integers and floats unpack
  directly; each bit group is read as one 8/16/32/64-bit word (or a byte string for other
  widths) and its fields are cut out with shifts and masks;
* a list of getters that turn the unpacked tuple into the same raw values, in the same
  order, as ``layout_fields.raws_from_container`` gives for the Construct parse.

The caller checks the length first (``FastPath.size``): the fast path never sees short
data. A hypothesis test proves fast path == Construct parse for every field kind.
"""

from __future__ import annotations

import operator
import struct
from collections.abc import Callable, Sequence
from typing import Any

from groundwatch.decoders.layout_fields import FieldKind, FieldSpec, Segment

Getter = Callable[[tuple[Any, ...]], Any]

_INT_CODES = {8: "b", 16: "h", 32: "i", 64: "q"}
_FLOAT_CODES = {16: "e", 32: "f", 64: "d"}
_WORD_CODES = {1: "B", 2: "H", 4: "I", 8: "Q"}


class FastPath:
    """Raw values of a fixed layout from one ``unpack_from`` and a few masks."""

    def __init__(self, segments: Sequence[Segment]) -> None:
        little = [f.little for s in segments for f in s.fields if f.bits % 8 == 0]
        # One byte order per struct.Struct: the majority's; the others read as bytes.
        self.little = sum(little) * 2 > len(little)
        self._codes: list[str] = []
        self._getters: list[Getter] = []
        for segment in segments:
            if segment.bit_group:
                self._add_bit_group(segment)
            else:
                self._add_byte_field(segment.fields[0])
        self.struct = struct.Struct(("<" if self.little else ">") + "".join(self._codes))
        self.size = self.struct.size

    def raws(self, data: bytes) -> list[Any]:
        """Raw values; ``data`` must be at least ``size`` bytes (checked by the caller)."""
        values = self.struct.unpack_from(data)
        return [get(values) for get in self._getters]

    # -- generation -------------------------------------------------------------------

    def _slot(self, code: str) -> int:
        """Append one struct code yielding one value; return its index in the tuple."""
        self._codes.append(code)
        return len(self._codes) - 1 - sum(1 for c in self._codes if c.endswith("x"))

    def _add_byte_field(self, field: FieldSpec) -> None:
        nbytes = field.bits // 8
        if field.kind is FieldKind.SPARE:
            self._codes.append(f"{field.total_bits // 8}x")
            return
        count = field.count
        element: Callable[[Any], Any] | None = None
        native = field.little == self.little
        if field.kind in (FieldKind.UINT, FieldKind.INT) and field.bits in _INT_CODES:
            code = _INT_CODES[field.bits]
            code = code if field.signed else code.upper()
            if not native:
                element = _int_from_bytes(field.little, field.signed)
                code = f"{nbytes}s"
        elif field.kind in (FieldKind.UINT, FieldKind.INT):
            code, element = f"{nbytes}s", _int_from_bytes(field.little, field.signed)
        elif field.kind is FieldKind.FLOAT:
            code = _FLOAT_CODES[field.bits]
            if not native:
                foreign = struct.Struct(("<" if field.little else ">") + code)
                code, element = f"{nbytes}s", _first_of(foreign.unpack)
        elif field.kind is FieldKind.STRING:
            code, element = f"{nbytes}s", _string_decoder(field.encoding)
        else:  # BYTES
            code = f"{nbytes}s"
        first = self._slot(code)
        for _ in range((count or 1) - 1):
            self._slot(code)
        self._getters.append(_array_or_single(first, count, element))

    def _add_bit_group(self, segment: Segment) -> None:
        nbytes = segment.byte_length
        if nbytes in _WORD_CODES and not self.little:
            index = self._slot(_WORD_CODES[nbytes])
            word: Getter = operator.itemgetter(index)
        else:
            index = self._slot(f"{nbytes}s")
            word = _big_word(index)
        width = nbytes * 8
        offset = 0
        for field in segment.fields:
            if field.kind is not FieldKind.SPARE:
                shifts = [width - offset - (i + 1) * field.bits for i in range(field.count or 1)]
                self._getters.append(_bit_getter(word, field, shifts))
            offset += field.total_bits


def _first_of(unpack: Callable[[bytes], tuple[Any, ...]]) -> Callable[[bytes], Any]:
    return lambda raw: unpack(raw)[0]


def _int_from_bytes(little: bool, signed: bool) -> Callable[[bytes], int]:
    order: Any = "little" if little else "big"
    return lambda raw: int.from_bytes(raw, order, signed=signed)


def _string_decoder(encoding: str) -> Callable[[bytes], str]:
    # Same as Construct's PaddedString: trailing NULs stripped, then decoded (strict).
    return lambda raw: raw.rstrip(b"\x00").decode(encoding)


def _big_word(index: int) -> Getter:
    return lambda values: int.from_bytes(values[index], "big")


def _array_or_single(first: int, count: int | None, element: Callable[[Any], Any] | None) -> Getter:
    if count is None:
        if element is None:
            return operator.itemgetter(first)
        return lambda values: element(values[first])
    end = first + count
    if element is None:
        return lambda values: list(values[first:end])
    return lambda values: [element(v) for v in values[first:end]]


def _bit_getter(word: Getter, field: FieldSpec, shifts: list[int]) -> Getter:
    mask = (1 << field.bits) - 1
    if field.kind is FieldKind.BOOL:

        def extract(w: int, shift: int) -> Any:
            return bool((w >> shift) & 1)
    elif field.signed:
        sign, span = 1 << (field.bits - 1), 1 << field.bits

        def extract(w: int, shift: int) -> Any:
            v = (w >> shift) & mask
            return v - span if v & sign else v
    else:
        if field.count is None:
            shift = shifts[0]
            return lambda values: (word(values) >> shift) & mask

        def extract(w: int, shift: int) -> Any:
            return (w >> shift) & mask

    if field.count is None:
        only = shifts[0]
        return lambda values: extract(word(values), only)
    return lambda values: [extract(word(values), s) for s in shifts]
