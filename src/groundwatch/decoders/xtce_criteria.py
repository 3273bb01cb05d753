"""XTCE comparisons (``RestrictionCriteria``, ``IncludeCondition``) as dictionary terms.

A restriction becomes a selector condition on the bits of the compared parameter; an
include condition becomes a ``present_if`` expression over earlier raw values. Values
compared calibrated are mapped back to raw ones through the parameter's enumeration.
"""

from __future__ import annotations

from typing import Any

from groundwatch.decoders.xtce_types import XtceError, child, children, local

OPERATORS = {"==", "!=", "<", "<=", ">", ">="}
Comparison = tuple[str, str, str, bool, Any]  # parameter, operator, value, calibrated, element


def comparisons(criteria: Any) -> list[Comparison]:
    """(parameter, operator, value, use calibrated, element) of RestrictionCriteria."""
    out = []
    for item in children(criteria):
        tag = local(item)
        if tag == "Comparison":
            out.append(_comparison(item))
        elif tag == "ComparisonList":
            out += [_comparison(c) for c in children(item, "Comparison")]
        elif tag == "BooleanExpression":
            anded = child(item, "ANDedConditions")
            single = child(item, "Condition")
            conditions = [single] if single is not None else []
            if anded is not None:
                conditions = list(children(anded))
            if not conditions or any(local(c) != "Condition" for c in conditions):
                raise XtceError(item, "only a Condition or ANDedConditions of Conditions")
            out += [_condition(c) for c in conditions]
        else:
            raise XtceError(item, "restriction not supported")
    return out


def _comparison(item: Any) -> Comparison:
    calibrated = item.get("useCalibratedValue", "true") == "true"
    op = item.get("comparisonOperator", "==")
    return item.get("parameterRef"), op, item.get("value"), calibrated, item


def _condition(item: Any) -> Comparison:
    refs = children(item, "ParameterInstanceRef")
    op = child(item, "ComparisonOperator")
    value = child(item, "Value")
    if len(refs) != 1 or op is None or value is None:
        raise XtceError(item, "only parameter-operator-value conditions are supported")
    calibrated = refs[0].get("useCalibratedValue", "true") == "true"
    return (
        refs[0].get("parameterRef"),
        (op.text or "").strip(),
        (value.text or "").strip(),
        (calibrated),
        item,
    )


def included(condition: Any, known: dict[str, dict[str, Any]]) -> str:
    """An IncludeCondition as a ``present_if`` expression over earlier raw values."""
    terms = []
    for ref, op, value, calibrated, element in comparisons(condition):
        if ref not in known:
            raise XtceError(element, f"{ref!r} is not an earlier parameter of the packet")
        if not ref.isidentifier():
            raise XtceError(element, f"{ref!r} cannot be named in a condition")
        op = op.replace("&lt;", "<").replace("&gt;", ">")
        if op not in OPERATORS:
            raise XtceError(element, f"comparison operator {op!r} not supported")
        terms.append(f"{ref} {op} {raw_value(known[ref], value, calibrated, element)}")
    if not terms:
        raise XtceError(condition, "needs a Comparison, ComparisonList or BooleanExpression")
    return " and ".join(terms)


def raw_value(entry: dict[str, Any], value: str, calibrated: bool, element: Any) -> int:
    if calibrated and "enum" in entry:
        for raw, label in entry["enum"].items():
            if label == value:
                return int(raw)
        raise XtceError(element, f"{value!r} is not a label of {entry['name']}")
    if calibrated and "calibration" in entry:
        raise XtceError(element, "comparing a calibrated value is not supported")
    try:
        return int(value, 0)
    except ValueError:
        raise XtceError(element, f"value {value!r} is not an integer") from None


def selector_condition(bit: int, width: int, op: str, value: int, element: Any) -> dict[str, Any]:
    op = op.replace("&lt;", "<").replace("&gt;", ">")
    if op not in OPERATORS:
        raise XtceError(element, f"comparison operator {op!r} not supported")
    first, last = bit // 8, (bit + width - 1) // 8
    octets = next((n for n in (1, 2, 4, 8) if n >= last - first + 1), None)
    if octets is None:
        raise XtceError(element, "selector field wider than 64 bits")
    out: dict[str, Any] = {"offset": first, "type": f"uint{8 * octets}"}
    shift = 8 * octets - (bit - 8 * first) - width
    mask = ((1 << width) - 1) << shift
    if mask != (1 << 8 * octets) - 1:
        out["mask"] = mask
    if op == "==":
        out["value"] = value
    elif op == "!=":
        out["exclude"] = [value]
    elif op in (">", ">="):
        out["min"] = value + (op == ">")
    else:
        out["max"] = value - (op == "<")
    return out
