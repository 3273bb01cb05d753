"""The columnar fast path: a layout's bytes to ``PacketColumns`` in one generated function.

``fastpath.FastPath`` gives the raw values of a fixed layout from one ``unpack_from``; this
module adds stage 2 (enumeration labels, calibrations, derived parameters, on-board time)
to the same generated function and returns two tuples, engineering and raw values in the
layout's column order, instead of one ``ParamValue`` per parameter: building those objects
cost about as much as everything else in a decode (``bench/bench_dictionary.py``).
Limit states are not computed here: ``PacketColumns`` computes them when its mapping is
read, and the link monitor judges the values itself.

As in ``fastpath``, nothing from the dictionary file is pasted into generated source: only
generated identifiers; names, labels, coefficients and functions are passed in through the
function's namespace. The result equals the Construct path's (``CompiledLayout.
decode_construct``): a hypothesis test compares them for every field kind.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from groundwatch.decoders.api import Limits
from groundwatch.decoders.calibration import PolynomialCalibration, RationalCalibration
from groundwatch.decoders.expr import RAW_PREFIX
from groundwatch.decoders.fastpath import FastPath
from groundwatch.decoders.layout_fields import FieldKind, FieldSpec
from groundwatch.decoders.obt import TimeCode
from groundwatch.decoders.params import DerivedParam, ParamMeta
from groundwatch.model import ColumnSchema, LimitState, PacketColumns

# Engineering value type of a plain (uncalibrated, scalar) field of each kind.
_PLAIN_KINDS: dict[FieldKind, type] = {
    FieldKind.UINT: int,
    FieldKind.INT: int,
    FieldKind.FLOAT: float,
    FieldKind.BOOL: bool,
    FieldKind.STRING: str,
    FieldKind.BYTES: str,  # written as hex
}

ColumnsDecoder = Callable[[bytes], tuple[PacketColumns, int | None]]


@dataclass(frozen=True, slots=True)
class ColumnPlan:
    """One public parameter of a layout, as stage 2 needs it."""

    name: str
    index: int  # position of its raw value in the fast path's expressions
    field: FieldSpec
    meta: ParamMeta
    convert: Callable[[Any], Any] | None  # enum check, calibration or bytes.hex; None: plain
    state: Callable[[Any], LimitState] | None


def _kind(plan: ColumnPlan) -> type | None:
    meta, field = plan.meta, plan.field
    if field.count is not None or meta.checks_validity:
        return None  # arrays: a list, written element by element; or a value may be absent
    if meta.enum is not None:
        return str
    cal = meta.calibration
    if cal is None:
        return _PLAIN_KINDS.get(field.kind)
    if field.kind not in (FieldKind.UINT, FieldKind.INT, FieldKind.FLOAT):
        return None
    if isinstance(cal, RationalCalibration):
        return float
    if isinstance(cal, PolynomialCalibration) and len(cal.coefficients) == 2:
        a, b = cal.coefficients  # inlined as a + b * raw
        if field.kind is FieldKind.FLOAT or isinstance(a, float) or isinstance(b, float):
            return float
        return int if type(a) is int and type(b) is int else None
    # Horner's scheme starts from 0.0; a table's points are floats: both give floats.
    return float


def derived_state(limits: Limits | None) -> Callable[[Any], LimitState] | None:
    if limits is None:
        return None

    def state(value: Any) -> LimitState:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return limits.state(value)
        return None  # type: ignore[return-value]  # not a number: no limit state

    return state


def build_schema(
    packet: str, plans: Sequence[ColumnPlan], derived: Sequence[DerivedParam]
) -> ColumnSchema:
    """The columns of the stored parameters (``store: false`` helpers have none)."""
    plans = [p for p in plans if p.meta.store]
    derived = [d for d in derived if d.meta.store]
    return ColumnSchema(
        packet=packet,
        names=(*(p.name for p in plans), *(d.name for d in derived)),
        units=(*(p.meta.unit for p in plans), *(d.meta.unit for d in derived)),
        kinds=(*(_kind(p) for p in plans), *(None for _ in derived)),
        enums=(  # a label with an integer raw value beside it
            *(
                p.meta.enum is not None
                and p.field.count is None
                and p.field.kind in (FieldKind.UINT, FieldKind.INT)
                for p in plans
            ),
            *(False for _ in derived),
        ),
        limit_states=(*(p.state for p in plans), *(derived_state(d.meta.limits) for d in derived)),
        nominal=(*(_nominal(p) for p in plans), *(None for _ in derived)),
    )


def _nominal(plan: ColumnPlan) -> tuple[float, float] | None:
    """(low, high): ``Limits.state`` is NOMINAL exactly for low < value < high."""
    limits = plan.meta.limits
    if limits is None or _kind(plan) not in (int, float):
        return None
    lows = [v for v in (limits.red_low, limits.yellow_low) if v is not None]
    highs = [v for v in (limits.red_high, limits.yellow_high) if v is not None]
    return (max(lows, default=-math.inf), min(highs, default=math.inf))


def derive_values(derived: Sequence[DerivedParam], values: dict[str, Any]) -> tuple[Any, ...]:
    """Each derived parameter's value, in order, from ``values`` (engineering values by
    name, to which each result is added for the next ones); None where it cannot be
    computed. Both decode paths (columns, and the Construct path's dict) use this."""
    out = []
    for d in derived:
        try:
            value = d.expression(values)
        except (ArithmeticError, ValueError, TypeError, KeyError, IndexError) as exc:
            d.expression.failed(exc)  # counted per parameter: no sample rather than a wrong one
            value = None
        else:
            values[d.name] = value
        out.append(value)
    return tuple(out)


def derive_inputs(
    names: Sequence[str], eng: Sequence[Any], raw: Sequence[Any], with_raw: bool
) -> dict[str, Any]:
    """What expressions see: engineering values by name and, when an expression reads
    ``raw(name)``, the raw values too."""
    values = dict(zip(names, eng, strict=True))
    if with_raw:
        values.update(zip([RAW_PREFIX + n for n in names], raw, strict=True))
    return values


def _derive_function(
    names: Sequence[str], derived: Sequence[DerivedParam]
) -> Callable[[tuple[Any, ...], tuple[Any, ...]], tuple[Any, ...]]:
    with_raw = any(d.expression.reads_raw for d in derived)
    # Only the columns the expressions read go into their mapping (a packet may have many).
    read = set().union(*(d.expression.names for d in derived))
    picks = [(name, i) for i, name in enumerate(names) if name in read]
    raw_picks = [(RAW_PREFIX + name, i) for name, i in picks]

    def derive(eng: tuple[Any, ...], raw: tuple[Any, ...]) -> tuple[Any, ...]:
        values = {name: eng[i] for name, i in picks}
        if with_raw:
            values.update({name: raw[i] for name, i in raw_picks})
        return derive_values(derived, values)

    return derive


def generate_columns(
    fast: FastPath,
    schema: ColumnSchema,
    plans: Sequence[ColumnPlan],
    derived: Sequence[DerivedParam],
    time: TimeCode | None,
    time_index: Sequence[int],
    enum_labels: Mapping[str, Mapping[int, str]],
    absent: list[int] | None = None,
) -> ColumnsDecoder:
    """``decode(data) -> (PacketColumns, obt_ns)`` for a layout with a fast path.

    ``plans`` are all value parameters (``store: false`` ones too: expressions read them);
    ``absent[k]`` counts the values of ``plans[k]`` its validity made absent."""
    space: dict[str, Any] = {"_Cols": PacketColumns, "_schema": schema, "_absent": absent}
    body = [f"r{i} = {expression}" for i, expression in enumerate(fast.expressions)]
    engs, raws = [], []
    for k, plan in enumerate(plans):
        raw, eng = f"r{plan.index}", f"e{k}"
        cal = plan.meta.calibration
        scalar = plan.field.count is None
        if plan.convert is None:
            eng = raw
        elif plan.meta.enum is not None and scalar:
            space[f"_l{k}"], space[f"_x{k}"] = enum_labels[plan.name], plan.convert
            body.append(f"{eng} = _l{k}.get({raw})")
            body.append(f"if {eng} is None: _x{k}({raw})")  # raises BAD_ENUM with details
        elif isinstance(cal, PolynomialCalibration) and len(cal.coefficients) == 2 and scalar:
            # The same arithmetic as PolynomialCalibration.to_eng, inlined.
            space[f"_a{k}"], space[f"_b{k}"] = cal.coefficients
            body.append(f"{eng} = _a{k} + _b{k} * {raw}")
        elif isinstance(cal, RationalCalibration) and scalar:
            space[f"_d{k}"] = cal.divisor
            body.append(f"{eng} = {raw} / _d{k}")
        else:
            space[f"_f{k}"] = plan.convert
            body.append(f"{eng} = _f{k}({raw})")
        if plan.meta.checks_validity and scalar:
            if eng == raw:  # keep the raw local: the value is absent, its raw is still kept
                body.append(f"e{k} = {raw}")
                eng = f"e{k}"
            space[f"_v{k}"] = plan.meta.is_valid
            body.append(f"if not _v{k}({raw}, {eng}): {eng} = None; _absent[{k}] += 1")
        engs.append(eng)
        raws.append(raw)
    stored = [k for k, plan in enumerate(plans) if plan.meta.store]
    # When no stored value is converted, raw and engineering values are one tuple (readers,
    # such as the JSON lines of ``groundwatch decode``, then know it with one test).
    same = all(engs[k] == raws[k] for k in stored)
    body.append("eng = (" + "".join(f"{engs[k]}, " for k in stored) + ")")
    body.append("raw = " + ("eng" if same else "(" + "".join(f"{raws[k]}, " for k in stored) + ")"))
    if derived:
        space["_derive"] = _derive_function([p.name for p in plans], derived)
        all_eng = "(" + "".join(f"{e}, " for e in engs) + ")"
        all_raw = "(" + "".join(f"{r}, " for r in raws) + ")"
        body.append(f"x = _derive({all_eng}, {all_raw})")
        kept = "".join(f"x[{i}], " for i, d in enumerate(derived) if d.meta.store)
        body += [f"extra = ({kept})", "eng += extra", "raw = eng" if same else "raw += extra"]
    obt = "None"
    if time is not None:
        space["_time"] = time.to_ns
        obt = "_time([" + ", ".join(f"r{i}" for i in time_index) + "])"
    body.append(f"return _Cols(_schema, eng, raw), {obt}")
    decode: ColumnsDecoder = fast.compile("columns", body, space)
    return decode
