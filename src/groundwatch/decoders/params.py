"""What a parameter means beyond its bits: metadata, derived parameters, selectors.

Shared by the layout compiler (``layout.py``) and the dictionary loader; ``EncodeError``
is what ``PacketLayout.build`` raises for values it cannot encode.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from groundwatch.decoders.api import Limits
from groundwatch.decoders.calibration import Calibration
from groundwatch.decoders.expr import CompiledExpression
from groundwatch.decoders.layout_fields import FieldKind, FieldSpec


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


@dataclass(frozen=True, slots=True)
class DerivedParam:
    name: str
    expression: CompiledExpression
    meta: ParamMeta


@dataclass(frozen=True, slots=True)
class Selector:
    """A packet-id value at a byte offset of the data field, beyond the APID."""

    offset: int
    field: FieldSpec  # a whole-byte unsigned integer
    value: int

    def stamp(self, data_field: bytes) -> bytes:
        """``data_field`` with the selector value written at its offset."""
        width = self.field.bits // 8
        order: Literal["little", "big"] = "little" if self.field.little else "big"
        end = self.offset + width
        if len(data_field) < end:
            raise EncodeError(f"selector at octets {self.offset}..{end} is past the packet")
        return data_field[: self.offset] + self.value.to_bytes(width, order) + data_field[end:]

    def matches(self, data_field: bytes) -> bool:
        width = self.field.bits // 8
        chunk = data_field[self.offset : self.offset + width]
        if len(chunk) < width:
            return False
        return int.from_bytes(chunk, "little" if self.field.little else "big") == self.value


def type_name(field: FieldSpec, meta: ParamMeta) -> str:
    if meta.enum is not None:
        return "enum"
    if field.kind in (FieldKind.UINT, FieldKind.INT, FieldKind.FLOAT):
        prefix = {"uint": "uint", "int": "int", "float": "float"}[field.kind.value]
        return f"{prefix}{field.bits}"
    return field.kind.value
