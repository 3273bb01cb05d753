"""The generated fast path: one precompiled ``struct.Struct`` per layout plus masks.

Construct's interpreted parse costs hundreds of microseconds for a packet of 40
parameters, and ``Struct.compile()`` does not help on ``BitStruct`` fields (measured on
construct 2.10.70; its docs also warn that compiled parsers are not meant for corrupted or
untrusted data). So from the same segments as the Construct struct we generate:

* a single ``struct.Struct`` for the whole layout: whole-byte integers and floats unpack
  directly; each bit group is read as one 8/16/32/64-bit word (or a byte string for other
  widths) and its fields are cut out with shifts and masks;
* one Python expression per value field over the unpacked locals ``v0, v1, ...``, giving
  the same raw values, in the same order, as ``layout_fields.raws_from_container`` gives
  for the Construct parse.

Like Construct's own ``compile()``, the expressions are compiled into a function once, at
dictionary load. Nothing from the dictionary file is pasted into that source: it holds only
generated identifiers, integers computed here and fixed literals; every name, encoding and
coefficient is passed in through the function's namespace (``FastPath.namespace``).

The caller checks the length first (``FastPath.size``): the fast path never sees short
data. A hypothesis test proves fast path == Construct parse for every field kind.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Any

from groundwatch.decoders.layout_fields import FieldKind, FieldSpec, Segment

_INT_CODES = {8: "b", 16: "h", 32: "i", 64: "q"}
_FLOAT_CODES = {16: "e", 32: "f", 64: "d"}
_WORD_CODES = {1: "B", 2: "H", 4: "I", 8: "Q"}


def _string_decoder(encoding: str) -> Callable[[bytes], str]:
    # Same as Construct's PaddedString: trailing NULs stripped, then decoded (strict).
    return lambda raw: raw.rstrip(b"\x00").decode(encoding)


class FastPath:
    """Raw values of a fixed layout from one ``unpack_from`` and a few masks."""

    def __init__(self, segments: Sequence[Segment]) -> None:
        little = [f.little for s in segments for f in s.fields if f.bits % 8 == 0]
        # One byte order per struct.Struct: the majority's; the others read as bytes.
        self.little = sum(little) * 2 > len(little)
        self._codes: list[str] = []
        self._values = 0  # locals v0 .. v{n-1} produced by the unpack
        self.prelude: list[str] = []  # statements run after the unpack (wide words)
        self.expressions: list[str] = []  # one per value field, in layout order
        self.namespace: dict[str, Any] = {"_int_from_bytes": int.from_bytes}
        for segment in segments:
            if segment.bit_group:
                self._add_bit_group(segment)
            else:
                self._add_byte_field(segment.fields[0])
        self.struct = struct.Struct(("<" if self.little else ">") + "".join(self._codes))
        self.size = self.struct.size
        self.namespace["_unpack"] = self.struct.unpack_from
        self.raws: Callable[[bytes], list[Any]] = self.compile(
            "raws", ["return [" + ", ".join(self.expressions) + "]"]
        )

    def unpack_statement(self) -> str:
        targets = "".join(f"v{i}, " for i in range(self._values))
        return f"({targets}) = _unpack(data)" if targets else "_unpack(data)"

    def compile(self, name: str, body: Sequence[str], extra: dict[str, Any] | None = None) -> Any:
        """A function ``name(data)``: unpack, prelude, then ``body`` (generated lines)."""
        lines = [f"def {name}(data):", f"    {self.unpack_statement()}"]
        lines += [f"    {line}" for line in [*self.prelude, *body]]
        namespace = {**self.namespace, **(extra or {})}
        # Generated source (see module docstring): identifiers and integers made here only.
        exec(compile("\n".join(lines), f"<fastpath {name}>", "exec"), namespace)
        return namespace[name]

    # -- generation -------------------------------------------------------------------

    def _slot(self, code: str) -> str:
        """Append one struct code yielding one value; return its local's name."""
        self._codes.append(code)
        self._values += 1
        return f"v{self._values - 1}"

    def _constant(self, prefix: str, value: Any) -> str:
        name = f"_{prefix}{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def _add_byte_field(self, field: FieldSpec) -> None:
        nbytes = field.bits // 8
        if field.kind is FieldKind.SPARE:
            self._codes.append(f"{field.total_bits // 8}x")
            return
        native = field.little == self.little
        convert = "{}"  # how one element's local becomes its raw value
        if field.kind in (FieldKind.UINT, FieldKind.INT) and field.bits in _INT_CODES and native:
            code = _INT_CODES[field.bits]
            code = code if field.signed else code.upper()
        elif field.kind in (FieldKind.UINT, FieldKind.INT):
            code = f"{nbytes}s"
            order = "'little'" if field.little else "'big'"
            convert = f"_int_from_bytes({{}}, {order}, signed={field.signed})"
        elif field.kind is FieldKind.FLOAT:
            code = _FLOAT_CODES[field.bits]
            if not native:
                foreign = struct.Struct(("<" if field.little else ">") + code).unpack
                convert = self._constant("float", foreign) + "({})[0]"
                code = f"{nbytes}s"
        elif field.kind is FieldKind.STRING:
            code = f"{nbytes}s"
            convert = self._constant("string", _string_decoder(field.encoding)) + "({})"
        else:  # BYTES
            code = f"{nbytes}s"
        elements = [convert.format(self._slot(code)) for _ in range(field.count or 1)]
        self._emit(field, elements)

    def _add_bit_group(self, segment: Segment) -> None:
        nbytes = segment.byte_length
        if nbytes in _WORD_CODES and not self.little:
            word = self._slot(_WORD_CODES[nbytes])
        else:
            local = self._slot(f"{nbytes}s")
            word = f"w{local}"
            self.prelude.append(f"{word} = _int_from_bytes({local}, 'big')")
        width = nbytes * 8
        offset = 0
        for field in segment.fields:
            if field.kind is not FieldKind.SPARE:
                elements = [
                    _bits(word, width - offset - (i + 1) * field.bits, field)
                    for i in range(field.count or 1)
                ]
                if field.kind is FieldKind.FLOAT:  # the bits reinterpreted as an IEEE float
                    cast = self._constant("float", _bits_to_float(field.bits))
                    elements = [f"{cast}({e})" for e in elements]
                self._emit(field, elements)
            offset += field.total_bits

    def _emit(self, field: FieldSpec, elements: list[str]) -> None:
        if field.count is None:
            self.expressions.append(elements[0])
        else:
            self.expressions.append("[" + ", ".join(elements) + "]")


def _bits_to_float(bits: int) -> Callable[[int], float]:
    unpack = struct.Struct(">" + _FLOAT_CODES[bits]).unpack
    size = bits // 8
    return lambda value: float(unpack(value.to_bytes(size, "big"))[0])


def _bits(word: str, shift: int, field: FieldSpec) -> str:
    mask = (1 << field.bits) - 1
    value = f"(({word} >> {shift}) & {mask})" if shift else f"({word} & {mask})"
    if field.kind is FieldKind.BOOL:
        return f"({value} == 1)"
    if field.signed:
        sign = 1 << (field.bits - 1)
        return f"(({value} ^ {sign}) - {sign})"  # two's-complement sign extension
    return value
