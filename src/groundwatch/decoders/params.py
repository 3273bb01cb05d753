"""What a parameter means beyond its bits: metadata, derived parameters, selectors.

Shared by the layout compiler (``layout.py``) and the dictionary loader; ``EncodeError``
is what ``PacketLayout.build`` raises for values it cannot encode.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from groundwatch.decoders.api import Limits
from groundwatch.decoders.calibration import Calibration
from groundwatch.decoders.expr import CompiledExpression
from groundwatch.decoders.layout_fields import FieldKind, FieldSpec

# A packet error control check over the whole packet (primary header included).
PacketCheck = Callable[[bytes], bool]


class EncodeError(ValueError):
    """Engineering values that cannot be built into a packet (names packet and parameter)."""


@dataclass(frozen=True, slots=True)
class ParamMeta:
    """Everything about a parameter except where its bits are."""

    unit: str | None = None
    description: str = ""
    subsystem: str = ""
    key: bool = False
    calibration: Calibration | None = None
    enum: Mapping[int, str] | None = None
    limits: Limits | None = None
    store: bool = True  # False: decoded for expressions, never written or shown
    # Validity: a raw value in ``invalid`` (a sentinel such as 0xFFFF) or an engineering
    # value outside ``valid_low..valid_high`` makes the value absent (and counted).
    invalid: frozenset[int] = frozenset()
    valid_low: float | None = None
    valid_high: float | None = None

    @property
    def checks_validity(self) -> bool:
        return bool(self.invalid) or self.valid_low is not None or self.valid_high is not None

    def is_valid(self, raw: object, eng: object) -> bool:
        if raw in self.invalid:
            return False
        if self.valid_low is not None and eng < self.valid_low:  # type: ignore[operator]
            return False
        return not (self.valid_high is not None and eng > self.valid_high)  # type: ignore[operator]


@dataclass(frozen=True, slots=True)
class DerivedParam:
    name: str
    expression: CompiledExpression
    meta: ParamMeta


@dataclass(frozen=True, slots=True)
class Condition:
    """One test of a selector: an unsigned value at a byte offset of the data field, read
    ``width`` octets wide, masked (and shifted down to the mask's lowest bit), then compared
    with ``value`` / any of ``values`` / the inclusive range ``low..high`` / not ``exclude``."""

    offset: int
    width: int  # octets
    little: bool = False
    mask: int | None = None
    values: frozenset[int] | None = None
    low: int | None = None
    high: int | None = None
    exclude: frozenset[int] = frozenset()

    def read(self, data_field: bytes) -> int | None:
        chunk = data_field[self.offset : self.offset + self.width]
        if len(chunk) < self.width:
            return None
        value = int.from_bytes(chunk, "little" if self.little else "big")
        if self.mask is not None:
            shift = (self.mask & -self.mask).bit_length() - 1
            value = (value & self.mask) >> shift
        return value

    def accepts(self, value: int) -> bool:
        if self.values is not None and value not in self.values:
            return False
        if self.low is not None and value < self.low:
            return False
        if self.high is not None and value > self.high:
            return False
        return value not in self.exclude

    def example(self) -> int:
        """A value this condition accepts (what ``build`` stamps into a packet)."""
        if self.values:
            return min(self.values)
        start = self.low if self.low is not None else 0
        while start in self.exclude:
            start += 1
        return start


@dataclass(frozen=True, slots=True)
class Selector:
    """Packet-id tests beyond the APID: every condition must hold."""

    conditions: tuple[Condition, ...]

    @classmethod
    def equal(cls, offset: int, field: FieldSpec, value: int) -> Selector:
        """The classic one-field selector: a whole-byte uint at ``offset`` equal to ``value``."""
        return cls((Condition(offset, field.bits // 8, field.little, values=frozenset({value})),))

    def stamp(self, data_field: bytes) -> bytes:
        """``data_field`` with a value each condition accepts written at its offset."""
        data = bytearray(data_field)
        for c in self.conditions:
            end = c.offset + c.width
            if len(data) < end:
                raise EncodeError(f"selector at octets {c.offset}..{end} is past the packet")
            order: Literal["little", "big"] = "little" if c.little else "big"
            word = int.from_bytes(data[c.offset : end], order)
            value = c.example()
            if c.mask is None:
                word = value
            else:
                shift = (c.mask & -c.mask).bit_length() - 1
                word = (word & ~c.mask) | ((value << shift) & c.mask)
            data[c.offset : end] = word.to_bytes(c.width, order)
        return bytes(data)

    def matches(self, data_field: bytes) -> bool:
        for c in self.conditions:
            value = c.read(data_field)
            if value is None or not c.accepts(value):
                return False
        return True

    def seen(self, data_field: bytes) -> str:
        """The values the conditions read from ``data_field`` (for a reject's detail)."""
        parts = []
        for c in self.conditions:
            value = c.read(data_field)
            where = f"octet {c.offset}" + (f" mask 0x{c.mask:x}" if c.mask is not None else "")
            parts.append(f"{where} = {'(past the end)' if value is None else value}")
        return ", ".join(parts)


def type_name(field: FieldSpec, meta: ParamMeta) -> str:
    if meta.enum is not None:
        return "enum"
    if field.kind in (FieldKind.UINT, FieldKind.INT, FieldKind.FLOAT):
        prefix = {"uint": "uint", "int": "int", "float": "float"}[field.kind.value]
        return f"{prefix}{field.bits}"
    return field.kind.value
