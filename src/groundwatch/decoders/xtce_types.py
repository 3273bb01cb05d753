"""XTCE (CCSDS 660.0) parameter types to dictionary parameter entries.

Reads one ``*ParameterType`` element (integer, float, enumerated, boolean, string, binary)
with its data encoding, calibrator, units and static alarm ranges, and gives the keys of a
YAML parameter (``type``, ``length``/``length_from``, ``calibration``, ``enum``, ``unit``,
``limits``). Anything it does not understand raises ``XtceError`` naming the element, its
name and its line: never a silent skip.
"""

from __future__ import annotations

from typing import Any

from lxml import etree


class XtceError(ValueError):
    """An XTCE document that cannot be imported; names the element, name and line."""

    def __init__(self, element: Any, problem: str) -> None:
        tag = local(element) if element is not None else "document"
        name = element.get("name") if element is not None else None
        line = element.sourceline if element is not None else None
        where = f"<{tag}>" + (f" {name!r}" if name else "") + (f" (line {line})" if line else "")
        super().__init__(f"{where}: {problem}")
        self.element = tag
        self.name = name
        self.line = line


def local(element: Any) -> str:
    return str(etree.QName(element).localname)


def children(element: Any, tag: str | None = None) -> list[Any]:
    return [c for c in element if isinstance(c.tag, str) and (tag is None or local(c) == tag)]


def child(element: Any, tag: str) -> Any | None:
    found = children(element, tag)
    return found[0] if found else None


# Elements of a parameter type that carry no decoding meaning here.
_IGNORED = {"UnitSet", "LongDescription", "AliasSet", "AncillaryDataSet", "ValidRange"}
_TYPES = {
    "IntegerParameterType",
    "FloatParameterType",
    "EnumeratedParameterType",
    "BooleanParameterType",
    "StringParameterType",
    "BinaryParameterType",
}


def parameter_type(element: Any) -> dict[str, Any]:
    """The YAML parameter keys of one parameter type element."""
    kind = local(element)
    if kind not in _TYPES:
        raise XtceError(element, "parameter type not supported")
    entry: dict[str, Any] = {}
    unit_set = child(element, "UnitSet")
    found = children(unit_set, "Unit") if unit_set is not None else []
    units = [u.text.strip() for u in found if u.text and u.text.strip()]
    if units:
        entry["unit"] = " ".join(units)
    description = element.get("shortDescription")
    if description:
        entry["description"] = description
    encoding = None
    for item in children(element):
        tag = local(item)
        if tag.endswith("DataEncoding"):
            encoding = item
        elif tag == "EnumerationList":
            entry["enum"] = _enumeration(item)
        elif tag == "DefaultCalibrator":
            entry["calibration"] = calibrator(item)
        elif tag == "DefaultAlarm":
            entry["limits"] = _alarm(item)
        elif tag not in _IGNORED:
            raise XtceError(item, f"not supported in {kind}")
    if encoding is None:
        raise XtceError(element, "needs a data encoding")
    entry.update(_encoding(encoding, kind))
    if kind == "BooleanParameterType":
        if entry.get("type") != "uint1":
            raise XtceError(element, "boolean parameters must be encoded in one bit")
        entry["type"] = "bool"
    return entry


def _encoding(element: Any, kind: str) -> dict[str, Any]:
    tag = local(element)
    if tag == "IntegerDataEncoding":
        bits = int(element.get("sizeInBits", "8"))
        style = element.get("encoding", "unsigned")
        if style not in ("unsigned", "twosComplement"):
            raise XtceError(element, f"integer encoding {style!r} not supported")
        out: dict[str, Any] = {"type": f"{'uint' if style == 'unsigned' else 'int'}{bits}"}
        if element.get("byteOrder", "mostSignificantByteFirst") == "leastSignificantByteFirst":
            out["endian"] = "little"
        cal = child(element, "DefaultCalibrator")
        if cal is not None:
            out["calibration"] = calibrator(cal)
        for extra in children(element):
            if local(extra) != "DefaultCalibrator":
                raise XtceError(extra, "not supported in IntegerDataEncoding")
        return out
    if tag == "FloatDataEncoding":
        bits = int(element.get("sizeInBits", "32"))
        if element.get("encoding", "IEEE754_1985") not in ("IEEE754_1985", "IEEE754"):
            raise XtceError(element, "only IEEE 754 floats are supported")
        if bits not in (32, 64):
            raise XtceError(element, "floats are 32 or 64 bits")
        out = {"type": f"float{bits}"}
        if element.get("byteOrder", "mostSignificantByteFirst") == "leastSignificantByteFirst":
            out["endian"] = "little"
        for extra in children(element):
            if local(extra) != "DefaultCalibrator":
                raise XtceError(extra, "not supported in FloatDataEncoding")
            out["calibration"] = calibrator(extra)
        return out
    if tag in ("StringDataEncoding", "BinaryDataEncoding"):
        kind_name = "string" if tag == "StringDataEncoding" else "bytes"
        out = {"type": kind_name, **_size(element)}
        if kind_name == "string":
            enc = element.get("encoding", "UTF-8").lower()
            if enc not in ("utf-8", "us-ascii", "ascii"):
                raise XtceError(element, f"string encoding {enc!r} not supported")
            out["encoding"] = "utf-8" if enc == "utf-8" else "ascii"
        return out
    raise XtceError(element, f"data encoding not supported in {kind}")


def _size(element: Any) -> dict[str, Any]:
    size = child(element, "SizeInBits")
    variable = child(element, "Variable")
    if size is None:
        raise XtceError(element if variable is None else variable, "needs SizeInBits")
    fixed = child(size, "Fixed")
    if fixed is None and size.text and size.text.strip():
        return {"length": _octets(size, int(size.text))}
    if fixed is not None:
        value = child(fixed, "FixedValue")
        if value is None or not (value.text or "").strip():
            raise XtceError(fixed, "needs FixedValue")
        return {"length": _octets(value, int(value.text))}
    dynamic = child(size, "DynamicValue")
    if dynamic is None:
        raise XtceError(size, "size must be Fixed or DynamicValue")
    ref = child(dynamic, "ParameterInstanceRef")
    if ref is None:
        raise XtceError(dynamic, "needs ParameterInstanceRef")
    adjust = child(dynamic, "LinearAdjustment")
    slope = int(float(adjust.get("slope", "1"))) if adjust is not None else 1
    intercept = int(float(adjust.get("intercept", "0"))) if adjust is not None else 0
    if slope % 8 or intercept % 8:
        raise XtceError(dynamic, "variable sizes must be whole octets (slope, intercept / 8)")
    return {
        "length_from": ref.get("parameterRef"),
        "length_scale": slope // 8,
        "length_offset": intercept // 8,
    }


def _octets(element: Any, bits: int) -> int:
    if bits <= 0 or bits % 8:
        raise XtceError(element, f"size {bits} bits is not whole octets")
    return bits // 8


def _enumeration(element: Any) -> dict[int, str]:
    labels: dict[int, str] = {}
    for item in children(element):
        if local(item) != "Enumeration":
            raise XtceError(item, "not supported in EnumerationList")
        if item.get("maxValue") not in (None, item.get("value")):
            raise XtceError(item, "enumeration ranges (maxValue) not supported")
        labels[int(item.get("value"))] = item.get("label")
    return labels


def calibrator(element: Any) -> dict[str, Any]:
    """DefaultCalibrator: a PolynomialCalibrator or a first-order SplineCalibrator."""
    inner = children(element)
    if len(inner) != 1:
        raise XtceError(element, "needs exactly one calibrator")
    cal = inner[0]
    if local(cal) == "PolynomialCalibrator":
        terms = {int(t.get("exponent")): float(t.get("coefficient")) for t in children(cal, "Term")}
        if not terms or min(terms) < 0:
            raise XtceError(cal, "needs Term elements with exponents >= 0")
        return {"polynomial": [terms.get(i, 0.0) for i in range(max(terms) + 1)]}
    if local(cal) == "SplineCalibrator":
        if cal.get("order", "1") != "1" or cal.get("extrapolate", "false") != "true":
            # Our tables interpolate linearly and extrapolate their end segments.
            if cal.get("order", "1") != "1":
                raise XtceError(cal, "only first-order (linear) splines are supported")
        points = [
            (float(p.get("raw")), float(p.get("calibrated"))) for p in children(cal, "SplinePoint")
        ]
        return {"table": points}
    raise XtceError(cal, "calibrator not supported")


def _alarm(element: Any) -> dict[str, float]:
    static = child(element, "StaticAlarmRanges")
    if static is None or len(children(element)) != 1:
        raise XtceError(element, "only StaticAlarmRanges are supported")
    limits: dict[str, float] = {}
    for item in children(static):
        level = {"WarningRange": "yellow", "CriticalRange": "red"}.get(local(item))
        if level is None:
            raise XtceError(item, "only WarningRange and CriticalRange are supported")
        for bound, side in (("minInclusive", "low"), ("maxInclusive", "high")):
            if item.get(bound) is not None:
                limits[f"{level}_{side}"] = float(item.get(bound))
    return limits
