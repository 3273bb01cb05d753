"""Export a YAML dictionary as an XTCE (CCSDS 660.0, XTCE 1.2) telemetry database.

The document has one abstract root container ``CCSDSPacket`` with the primary header
parameters, an abstract ``SecondaryHeader`` container per time code, and one
``SequenceContainer`` per packet restricted on the APID (and on the parameters its
selector tests). Types follow the parameters: integers, IEEE floats, enumerations,
booleans, fixed and variable strings and binaries, polynomial and spline calibrators,
units, static alarm ranges from the limits. Arrays become ``NAME_0 .. NAME_{n-1}``; spare
fields become parameters ``PACKET_NAME`` marked by ``AncillaryData groundwatch.spare``
(read back as spares; other XTCE readers decode them as plain integers).

What XTCE cannot say is listed in the returned notes rather than dropped silently:
derived parameters (expressions), validity and exact ``divide:`` calibrations (exported
as the polynomial ``raw * (1 / divisor)``).
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from groundwatch.decoders.schema import DictionaryModel, PacketModel, ParameterModel

NS = "http://www.omg.org/spec/XTCE/20180204"
HEADER = (
    ("version", "VERSION", 3),
    ("type", "TYPE", 1),
    ("sec_hdr_flag", "SEC_HDR_FLG", 1),
    ("apid", "PKT_APID", 11),
    ("seq_flags", "SEQ_FLGS", 2),
    ("seq_count", "SRC_SEQ_CTR", 14),
    ("data_length", "PKT_LEN", 16),
)


# AncillaryData marking a parameter that only fills bits (a dictionary's spare field).
SPARE_MARK = "groundwatch.spare"


_CONDITION = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(==|!=|<=|>=|<|>)\s*(-?(?:0x)?[0-9a-fA-F]+)")


class XtceExportError(ValueError):
    """A dictionary that XTCE cannot express (names the packet and parameter)."""


def _el(parent: Any, tag: str, **attrs: Any) -> Any:
    element = etree.SubElement(parent, f"{{{NS}}}{tag}")
    for key, value in attrs.items():
        if value is not None:
            element.set(key, str(value))
    return element


class _Exporter:
    def __init__(self, model: DictionaryModel) -> None:
        self.model = model
        self.notes: list[str] = []
        self.root = etree.Element(f"{{{NS}}}SpaceSystem", nsmap={"xtce": NS}, name=model.mission)
        telemetry = _el(self.root, "TelemetryMetaData")
        self.types = _el(telemetry, "ParameterTypeSet")
        self.params = _el(telemetry, "ParameterSet")
        self.containers = _el(telemetry, "ContainerSet")
        self.defined: dict[str, str] = {}  # parameter name -> its definition, to share names

    def header_names(self) -> dict[str, str]:
        mappings = {tuple(sorted(p.header.items())) for p in self.model.packets if p.header}
        if len(mappings) > 1:
            raise XtceExportError("packets name their header fields differently")
        given: dict[str, str] = dict(mappings.pop()) if mappings else {}
        return {field: given.get(field, default) for field, default, _ in HEADER}

    def run(self) -> bytes:
        names = self.header_names()
        root = _el(self.containers, "SequenceContainer", name="CCSDSPacket", abstract="true")
        entries = _el(root, "EntryList")
        for field, _, bits in HEADER:
            self.define(names[field], {"type": f"uint{bits}"}, "header")
            _el(entries, "ParameterRefEntry", parameterRef=names[field])
        for packet in self.model.packets:
            self.packet(packet, names)
        self.notes += _framing_notes(self.model)
        return bytes(
            etree.tostring(self.root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
        )

    def define(self, name: str, entry: dict[str, Any], where: str) -> None:
        """A parameter and its type; a name defined twice must mean the same thing."""
        key = repr(sorted((k, repr(v)) for k, v in entry.items()))
        if name in self.defined:
            if self.defined[name] != key:
                raise XtceExportError(
                    f"{where}: parameter {name} is defined differently elsewhere; XTCE "
                    "parameter names are global"
                )
            return
        self.defined[name] = key
        type_name = f"{name}_Type"
        self.parameter_type(type_name, entry)
        param = _el(self.params, "Parameter", name=name, parameterTypeRef=type_name)
        if entry.get("description"):
            param.set("shortDescription", entry["description"])
        if entry["type"] == "spare":
            ancillary = _el(param, "AncillaryDataSet")
            _el(ancillary, "AncillaryData", name=SPARE_MARK).text = "true"

    def packet(self, packet: PacketModel, header: dict[str, str]) -> None:
        if packet.apid is None:
            self.notes.append(f"packet {packet.name}: no APID (AX.25 selection) not exported")
            return
        if packet.python is not None:
            raise XtceExportError(f"packet {packet.name}: a python layout cannot be exported")
        container = _el(self.containers, "SequenceContainer", name=packet.name)
        if packet.description:
            container.set("shortDescription", packet.description)
        entries = _el(container, "EntryList")
        if packet.secondary_header:
            _el(entries, "ContainerRefEntry", containerRef=self.time_container(packet))
        places: dict[tuple[int, int], str] = {}  # (first bit, width) -> parameter
        bit = self.time_bits(packet)
        for param in packet.parameters:
            if param.expr is not None:
                self.notes.append(f"packet {packet.name}: derived {param.name} not exported")
                continue
            if param.invalid or param.valid:
                self.notes.append(f"packet {packet.name}: validity of {param.name} not exported")
            for name, entry in self.elements(packet, param):
                self.define(name, entry, f"packet {packet.name}")
                ref = _el(entries, "ParameterRefEntry", parameterRef=name)
                if entry.get("present_if"):
                    self.include_condition(ref, entry["present_if"], packet.name)
                width = _width(entry)
                if bit is not None and width is not None:
                    places[(bit, width)] = name
                bit = None if bit is None or width is None else bit + width
        base = _el(container, "BaseContainer", containerRef="CCSDSPacket")
        comparisons = _el(_el(base, "RestrictionCriteria"), "ComparisonList")
        _el(
            comparisons,
            "Comparison",
            parameterRef=header["apid"],
            value=packet.apid,
            useCalibratedValue="false",
        )
        selectors = packet.selector if isinstance(packet.selector, list) else [packet.selector]
        for sel in [s for s in selectors if s is not None]:
            for ref, op, value in _comparisons_of(sel, places, packet.name):
                _el(
                    comparisons,
                    "Comparison",
                    parameterRef=ref,
                    value=value,
                    comparisonOperator=op,
                    useCalibratedValue="false",
                )

    def elements(
        self, packet: PacketModel, param: ParameterModel
    ) -> list[tuple[str, dict[str, Any]]]:
        entry = param.model_dump(exclude_none=True, exclude_defaults=True)
        entry.pop("name")
        if param.type == "spare":  # XTCE has no spare entries: a parameter marked as one
            return [(f"{packet.name}_{param.name}", {"type": "spare", "bits": param.bits})]
        entry.setdefault("type", param.type)
        kind = entry["type"]
        order = param.endian or self.model.byte_order
        if kind.endswith(("le", "be")) and kind[:-2][-1:].isdigit():
            order = param.endian or ("little" if kind.endswith("le") else "big")
            entry["type"] = kind[:-2]
        entry.pop("endian", None)
        if order == "little":
            entry["endian"] = "little"
        count = entry.pop("count", None)
        if count is None:
            return [(param.name, entry)]
        return [(f"{param.name}_{i}", entry) for i in range(count)]

    def time_bits(self, packet: PacketModel) -> int | None:
        time = packet.time or self.model.time
        if not packet.secondary_header or time is None:
            return 0
        if time.code == "cuc":
            return 8 * (time.coarse_octets + time.fine_octets)
        return 8 * (time.day_octets + 4 + time.submillisecond_octets)

    def time_container(self, packet: PacketModel) -> str:
        time = packet.time or self.model.time
        if time is None:
            raise XtceExportError(f"packet {packet.name}: secondary_header needs time:")
        if time.code == "cuc":
            fields = [("OBT_COARSE", time.coarse_octets), ("OBT_FINE", time.fine_octets)]
        else:
            fields = [("OBT_DAY", time.day_octets), ("OBT_MS", 4)]
            fields += [("OBT_SUBMS", time.submillisecond_octets)]
        fields = [(f"{n}{8 * octets}", octets) for n, octets in fields if octets]
        if time.parameters:  # the names the dictionary gives the time fields
            fields = [(n, octets) for n, (_, octets) in zip(time.parameters, fields, strict=False)]
        name = "SecondaryHeader_" + "_".join(n for n, _ in fields)
        if self.containers.find(f"{{{NS}}}SequenceContainer[@name='{name}']") is None:
            container = _el(self.containers, "SequenceContainer", name=name, abstract="true")
            entries = _el(container, "EntryList")
            for field, octets in fields:
                self.define(field, {"type": f"uint{8 * octets}"}, "time")
                _el(entries, "ParameterRefEntry", parameterRef=field)
        return name

    def parameter_type(self, name: str, entry: dict[str, Any]) -> None:
        kind = entry["type"]
        if "enum" in entry:
            element = _el(self.types, "EnumeratedParameterType", name=name)
        elif kind == "bool":
            element = _el(self.types, "BooleanParameterType", name=name)
        elif kind.startswith("float"):
            element = _el(self.types, "FloatParameterType", name=name)
        elif kind in ("string", "bytes"):
            tag = "StringParameterType" if kind == "string" else "BinaryParameterType"
            element = _el(self.types, tag, name=name)
        elif kind == "spare" or "int" in kind:
            calibrated = "calibration" in entry
            tag = "FloatParameterType" if calibrated else "IntegerParameterType"
            element = _el(self.types, tag, name=name)
            if not calibrated:
                element.set("signed", "true" if kind.startswith(("i", "int")) else "false")
        else:
            raise XtceExportError(f"type {kind!r} of {name} cannot be exported")
        units = _el(element, "UnitSet")
        if entry.get("unit"):
            _el(units, "Unit").text = entry["unit"]
        self.encoding(element, entry)
        if "enum" in entry:
            labels = _el(element, "EnumerationList")
            for raw, label in entry["enum"].items():
                _el(labels, "Enumeration", value=raw, label=label)
        if "limits" in entry:
            self.alarm(element, entry["limits"])

    def encoding(self, element: Any, entry: dict[str, Any]) -> None:
        kind = entry["type"]
        order = "leastSignificantByteFirst" if entry.get("endian") == "little" else None
        if kind.startswith("float"):
            enc = _el(
                element,
                "FloatDataEncoding",
                sizeInBits=int(kind[5:7]),
                encoding="IEEE754_1985",
                byteOrder=order,
            )
            self.calibrator(element, enc, entry.get("calibration"))
            return
        if kind in ("string", "bytes"):
            tag = "StringDataEncoding" if kind == "string" else "BinaryDataEncoding"
            enc = _el(element, tag)
            if kind == "string":
                enc.set("encoding", "UTF-8" if entry.get("encoding") == "utf-8" else "US-ASCII")
            size = _el(enc, "SizeInBits")
            if entry.get("length_from"):
                dynamic = _el(size, "DynamicValue")
                _el(dynamic, "ParameterInstanceRef", parameterRef=entry["length_from"])
                _el(
                    dynamic,
                    "LinearAdjustment",
                    slope=8 * entry.get("length_scale", 1),
                    intercept=8 * entry.get("length_offset", 0),
                )
            elif isinstance(entry.get("length"), int):
                _el(_el(size, "Fixed"), "FixedValue").text = str(8 * entry["length"])
            else:
                raise XtceExportError(f"{element.get('name')}: length: rest cannot be exported")
            return
        bits = entry.get("bits", 1) if kind in ("spare", "bool") else _int_bits(kind)
        signed = kind.startswith(("i", "int")) and kind != "spare"
        enc = _el(
            element,
            "IntegerDataEncoding",
            sizeInBits=bits,
            encoding="twosComplement" if signed else "unsigned",
            byteOrder=order,
        )
        self.calibrator(element, enc, entry.get("calibration"))

    def calibrator(self, element: Any, encoding: Any, cal: dict[str, Any] | None) -> None:
        if not cal:
            return
        calibrator = _el(encoding, "DefaultCalibrator")
        if "table" in cal:
            spline = _el(calibrator, "SplineCalibrator", order=1, extrapolate="true")
            for raw, eng in cal["table"]:
                _el(spline, "SplinePoint", raw=raw, calibrated=eng)
            return
        coefficients = cal.get("polynomial") or [0.0, 1.0 / cal["divide"]]
        if "divide" in cal:
            self.notes.append(f"{element.get('name')}: divide exported as a polynomial")
        poly = _el(calibrator, "PolynomialCalibrator")
        for exponent, coefficient in enumerate(coefficients):
            _el(poly, "Term", coefficient=repr(float(coefficient)), exponent=exponent)

    def include_condition(self, ref: Any, condition: str, packet: str) -> None:
        """``a == 1 and b > 2``: the conditions XTCE can compare (raw values)."""
        terms = [_CONDITION.fullmatch(t.strip()) for t in condition.split(" and ")]
        if not all(terms):
            raise XtceExportError(
                f"packet {packet}: present_if {condition!r} is not comparisons of parameters "
                "with integers joined by 'and'"
            )
        comparisons = _el(_el(ref, "IncludeCondition"), "ComparisonList")
        for term in terms:
            assert term is not None
            _el(
                comparisons,
                "Comparison",
                parameterRef=term[1],
                comparisonOperator=term[2],
                value=int(term[3], 0),
                useCalibratedValue="false",
            )

    def alarm(self, element: Any, limits: dict[str, float]) -> None:
        ranges = _el(_el(element, "DefaultAlarm"), "StaticAlarmRanges")
        for level, tag in (("yellow", "WarningRange"), ("red", "CriticalRange")):
            low, high = limits.get(f"{level}_low"), limits.get(f"{level}_high")
            if low is not None or high is not None:
                _el(ranges, tag, minInclusive=low, maxInclusive=high)


def _comparisons_of(
    sel: Any, places: dict[tuple[int, int], str], packet: str
) -> list[tuple[str, str, int]]:
    """A selector condition as comparisons on the parameter occupying exactly its bits."""
    octets = _int_bits(sel.type) // 8
    mask = sel.mask if sel.mask is not None else (1 << 8 * octets) - 1
    high, low = mask.bit_length() - 1, (mask & -mask).bit_length() - 1
    place = (8 * sel.offset + 8 * octets - 1 - high, high - low + 1)
    ref = places.get(place)
    contiguous = mask == ((1 << (high - low + 1)) - 1) << low
    values = [sel.value] if sel.value is not None else sel.values
    if ref is None or not contiguous or (values is not None and len(values) != 1):
        raise XtceExportError(
            f"packet {packet}: selector at octet {sel.offset} does not test one parameter "
            "(XTCE compares parameters)"
        )
    out = [(ref, "==", values[0])] if values else []
    out += [(ref, ">=", sel.min)] if sel.min is not None else []
    out += [(ref, "<=", sel.max)] if sel.max is not None else []
    return out + [(ref, "!=", v) for v in sel.exclude]


def _framing_notes(model: DictionaryModel) -> list[str]:
    """What the export leaves out beyond packet layouts (XTCE describes packets only)."""
    framing = model.framing
    notes = [f"framing ({framing.kind.value}) and spacecraft are not part of XTCE"]
    crcs = {p.crc or model.packet_crc for p in model.packets} - {None}
    if crcs:
        notes.append(f"packet error control ({', '.join(sorted(map(str, crcs)))}) not exported")
    hidden = [f"{p.name}.{q.name}" for p in model.packets for q in p.parameters if not q.store]
    if hidden:
        notes.append(f"store: false not exported (stored there): {', '.join(hidden[:10])}")
    return notes


def _int_bits(kind: str) -> int:
    return int("".join(ch for ch in kind if ch.isdigit()))


def _width(entry: dict[str, Any]) -> int | None:
    kind = entry["type"]
    if kind in ("spare", "bool"):
        return int(entry.get("bits", 1))
    if kind in ("string", "bytes"):
        return 8 * entry["length"] if isinstance(entry.get("length"), int) else None
    return _int_bits(kind)


def export_xtce(model: DictionaryModel) -> tuple[bytes, list[str]]:
    """The XTCE document of a dictionary and notes on what XTCE could not hold."""
    exporter = _Exporter(model)
    return exporter.run(), exporter.notes
