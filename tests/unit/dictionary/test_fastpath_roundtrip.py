"""Random layouts of every field kind: fast path == Construct parse, and round trips.

The layouts are drawn field by field (bit fields of any width packed inside bytes, whole-
byte ints of any width in both byte orders, floats, strings, bytes, spare bits, arrays),
so every code path of ``fastpath.py`` is compared against Construct, which is the spec.
"""

from __future__ import annotations

import math
import struct
from typing import Any

import pytest
from construct import StringError
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from groundwatch.decoders.api import DecodeError
from groundwatch.decoders.layout import CompiledLayout
from groundwatch.decoders.layout_fields import FieldKind, FieldSpec
from groundwatch.model import PacketColumns

BIT_KINDS = [FieldKind.UINT, FieldKind.INT, FieldKind.BOOL, FieldKind.SPARE]
ALL_KINDS = [*BIT_KINDS, FieldKind.FLOAT, FieldKind.STRING, FieldKind.BYTES]


@st.composite
def field_lists(draw: st.DrawFn) -> list[FieldSpec]:
    fields: list[FieldSpec] = []
    position = 0
    for index in range(draw(st.integers(1, 14))):
        aligned = position % 8 == 0
        # Floats may also sit inside bit groups (big-endian, as XTCE databases place them).
        kind = draw(st.sampled_from(ALL_KINDS if aligned else [*BIT_KINDS, FieldKind.FLOAT]))
        name = f"f{index}"
        count = draw(st.none() | st.integers(1, 4))
        if kind in (FieldKind.UINT, FieldKind.INT):
            bits = draw(st.sampled_from([8, 16, 24, 32, 40, 64]) | st.integers(1, 64))
            little = aligned and bits % 8 == 0 and bits > 8 and draw(st.booleans())
            field = FieldSpec(name, kind, bits, little, count)
        elif kind is FieldKind.BOOL:
            field = FieldSpec(name, kind, 1, False, count)
        elif kind is FieldKind.SPARE:
            field = FieldSpec("", kind, draw(st.integers(1, 20)))
        elif kind is FieldKind.FLOAT:
            bits = draw(st.sampled_from([16, 32, 64]))
            field = FieldSpec(name, kind, bits, aligned and draw(st.booleans()), count)
        else:
            length = draw(st.integers(1, 6))
            encoding = draw(st.sampled_from(["ascii", "utf-8"]))
            field = FieldSpec(name, kind, 8 * length, False, count, encoding)
        fields.append(field)
        position += field.total_bits
    if position % 8:
        fields.append(FieldSpec("", FieldKind.SPARE, 8 - position % 8))
    return fields


def compiled(fields: list[FieldSpec]) -> CompiledLayout:
    return CompiledLayout(name="random", apid=1, fields=fields, meta={})


def same(a: Any, b: Any) -> bool:
    """Equality that also holds for NaNs of the same bit pattern."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return struct.pack(">d", a) == struct.pack(">d", b)
    return type(a) is type(b) and a == b


@st.composite
def layout_and_data(draw: st.DrawFn) -> tuple[CompiledLayout, bytes]:
    layout = compiled(draw(field_lists()))
    assert layout.size is not None
    extra = draw(st.integers(0, 3))
    return layout, draw(st.binary(min_size=layout.size + extra, max_size=layout.size + extra))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layout_and_data())
def test_fast_path_equals_construct_parse(case: tuple[CompiledLayout, bytes]) -> None:
    layout, data = case
    assert layout.fast is not None
    try:
        expected = layout.construct_raws(data)
    except StringError:
        # Construct rejects undecodable strings; the fast path must reject them too.
        try:
            layout.fast.raws(data)
        except UnicodeDecodeError:
            return
        raise AssertionError("fast path accepted what Construct rejected") from None
    assert same(layout.fast.raws(data), expected)


def _zero_spares(layout: CompiledLayout, data: bytes) -> bytes:
    """Construct builds spare bits as zeros: clear them so build(parse(x)) can equal x."""
    bits = int.from_bytes(data, "big") if data else 0
    width = 8 * len(data)
    position = 0
    for field in layout.field_specs():
        if field.kind is FieldKind.SPARE:
            for i in range(field.total_bits):
                bits &= ~(1 << (width - 1 - position - i))
        position += field.total_bits
    return bits.to_bytes(len(data), "big")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layout_and_data())
def test_build_of_parse_gives_the_bytes_back(case: tuple[CompiledLayout, bytes]) -> None:
    layout, data = case
    assert layout.size is not None
    data = _zero_spares(layout, data[: layout.size])
    try:
        raws = layout.construct_raws(data)
    except StringError:
        return
    assume(not any(_has_nan(r) for r in raws))  # NaN payloads are not kept by float()
    assert layout.build_raws(raws) == data


def _has_nan(value: Any) -> bool:
    if isinstance(value, list):
        return any(_has_nan(v) for v in value)
    return isinstance(value, float) and math.isnan(value)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_parse_of_build_gives_the_values_back(data: st.DataObject) -> None:
    layout = compiled(data.draw(field_lists()))
    raws = [data.draw(_values(field)) for field in layout.value_field_specs()]
    built = layout.build_raws(raws)
    assert layout.fast is not None
    assert same(layout.construct_raws(built), raws)
    assert same(layout.fast.raws(built), raws)


def _values(field: FieldSpec) -> st.SearchStrategy[Any]:
    element: st.SearchStrategy[Any]
    if field.kind in (FieldKind.UINT, FieldKind.INT):
        low, high = field.int_range()
        element = st.integers(low, high)
    elif field.kind is FieldKind.BOOL:
        element = st.booleans()
    elif field.kind is FieldKind.FLOAT:
        width = {16: 16, 32: 32, 64: 64}[field.bits]
        element = st.floats(width=width, allow_nan=False)  # type: ignore[arg-type]
    elif field.kind is FieldKind.STRING:
        alphabet = st.characters(min_codepoint=1, max_codepoint=126)
        element = st.text(alphabet, max_size=field.bits // 8)
    else:
        element = st.binary(min_size=field.bits // 8, max_size=field.bits // 8)
    if field.count is None:
        return element
    return st.lists(element, min_size=field.count, max_size=field.count)


@settings(max_examples=200, deadline=None)
@given(layout_and_data(), st.integers(0, 64))
def test_decode_raises_only_decode_errors(case: tuple[CompiledLayout, bytes], cut: int) -> None:
    layout, data = case
    try:
        layout.decode(data[: max(0, len(data) - cut)])
    except DecodeError:
        pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layout_and_data())
def test_columns_equal_construct_decode_and_keep_their_kinds(
    case: tuple[CompiledLayout, bytes],
) -> None:
    """The columnar decode gives Construct's values, and every column whose schema declares
    a kind holds exactly that type (readers of the columns rely on it)."""
    layout, data = case
    try:
        expected = layout.decode_construct(data)
    except DecodeError as exc:
        with pytest.raises(DecodeError) as caught:
            layout.decode(data)
        assert caught.value.reason is exc.reason
        return
    params, obt = layout.decode(data)
    assert isinstance(params, PacketColumns) and layout.schema is not None
    assert repr((dict(params), obt)) == repr((dict(expected[0]), expected[1]))  # NaN == NaN
    for kind, value in zip(layout.schema.kinds, params.eng, strict=True):
        assert kind is None or type(value) is kind
