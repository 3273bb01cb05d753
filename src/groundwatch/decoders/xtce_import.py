"""Import an XTCE (CCSDS 660.0) telemetry database as a dictionary document.

``xtce_document(path)`` reads the XML with lxml, safely: no DTD, no entity expansion, no
network, no huge trees, and a size cap; a document with a DOCTYPE (where external and
billion-laughs entities live) is refused. It returns the same mapping a YAML dictionary
file holds, so ``load_dictionary`` validates and compiles it exactly like YAML (same
layouts, same fast path), and ``groundwatch dictionary import`` writes it out as YAML.

Containers: every leaf ``SequenceContainer`` that descends (``BaseContainer``) from the
root container holding the CCSDS primary header becomes a packet. Its entries are its
ancestors' entries then its own (``ContainerRefEntry`` inlined); the root's seven header
entries become the packet's ``header`` parameters. ``RestrictionCriteria`` along the chain
(``Comparison``, ``ComparisonList``, ``BooleanExpression`` of ANDed conditions) become the
APID and selector conditions on fields at fixed positions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lxml import etree

from groundwatch.decoders.xtce_criteria import comparisons, included, raw_value, selector_condition
from groundwatch.decoders.xtce_types import XtceError, child, children, local, parameter_type

MAX_XTCE_BYTES = 64 * 1024 * 1024
HEADER_FIELDS = (
    ("version", 3),
    ("type", 1),
    ("sec_hdr_flag", 1),
    ("apid", 11),
    ("seq_flags", 2),
    ("seq_count", 14),
    ("data_length", 16),
)


def parse_xml(path: Path) -> Any:
    """The document's root element, parsed with entity expansion and network access off."""
    size = path.stat().st_size
    if size > MAX_XTCE_BYTES:
        raise XtceError(None, f"{size} bytes is larger than the {MAX_XTCE_BYTES}-byte limit")
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=True,
    )
    with path.open("rb") as f:  # a pipe or device has no size to check first
        data = f.read(MAX_XTCE_BYTES + 1)
    if len(data) > MAX_XTCE_BYTES:
        raise XtceError(None, f"larger than the {MAX_XTCE_BYTES}-byte limit")
    if b"<!doctype" in data.lower():  # refused before the parser sees any entity
        raise XtceError(None, "a DOCTYPE (entity declarations) is not accepted in XTCE")
    try:
        tree = etree.ElementTree(etree.fromstring(data, parser))
    except etree.XMLSyntaxError as exc:
        raise XtceError(None, f"not well-formed XML: {exc}") from None
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise XtceError(None, "a DOCTYPE (entity declarations) is not accepted in XTCE")
    root = tree.getroot()
    for node in root.iter():
        if not isinstance(node.tag, str):  # an entity reference or processing instruction
            if isinstance(node, etree._Entity):
                raise XtceError(None, f"entity reference {node!r} not accepted")
    if local(root) != "SpaceSystem":
        raise XtceError(root, "the document element must be SpaceSystem")
    return root


class _Database:
    def __init__(self, root: Any) -> None:
        self.root = root
        telemetry = child(root, "TelemetryMetaData")
        if telemetry is None:
            raise XtceError(root, "needs TelemetryMetaData")
        for sub in children(root, "SpaceSystem"):
            raise XtceError(sub, "nested SpaceSystems are not supported")
        self.types: dict[str, Any] = {}
        self.parameters: dict[str, Any] = {}
        self.containers: dict[str, Any] = {}
        for section in children(telemetry):
            tag = local(section)
            if tag == "ParameterTypeSet":
                self.types.update((t.get("name"), t) for t in children(section))
            elif tag == "ParameterSet":
                self.parameters.update((p.get("name"), p) for p in children(section))
            elif tag == "ContainerSet":
                for c in children(section):
                    if local(c) != "SequenceContainer":
                        raise XtceError(c, "only SequenceContainer is supported")
                    self.containers[c.get("name")] = c
            elif tag not in ("LongDescription", "AliasSet", "AncillaryDataSet"):
                raise XtceError(section, "not supported in TelemetryMetaData")
        self._entries: dict[str, dict[str, Any]] = {}

    def entry(self, name: str, where: Any) -> dict[str, Any]:
        """The YAML parameter of an XTCE parameter (its type resolved), cached."""
        if name not in self._entries:
            param = self.parameters.get(name)
            if param is None:
                raise XtceError(where, f"unknown parameter {name!r}")
            type_element = self.types.get(param.get("parameterTypeRef"))
            if type_element is None:
                raise XtceError(param, f"unknown type {param.get('parameterTypeRef')!r}")
            entry = {"name": name, **self.type_entry(type_element)}
            if _marked_spare(param):
                entry = {"name": name, "type": "spare", "bits": _width(entry)}
            long = child(param, "LongDescription")
            text = param.get("shortDescription") or (long.text if long is not None else None)
            if text and text.strip():
                entry["description"] = " ".join(text.split())
            self._entries[name] = entry
        return dict(self._entries[name])

    def type_entry(self, element: Any) -> dict[str, Any]:
        if local(element) != "ArrayParameterType":
            return parameter_type(element)
        item = self.types.get(element.get("arrayTypeRef"))
        if item is None or local(item) == "ArrayParameterType":
            raise XtceError(element, f"array of unknown type {element.get('arrayTypeRef')!r}")
        dimensions = child(element, "DimensionList")
        dims = children(dimensions, "Dimension") if dimensions is not None else []
        if len(dims) != 1:
            raise XtceError(element, "only one-dimensional arrays with a DimensionList")
        bounds = []
        for tag in ("StartingIndex", "EndingIndex"):
            index = child(dims[0], tag)
            fixed = child(index, "FixedValue") if index is not None else None
            if fixed is None:
                raise XtceError(dims[0], f"{tag} must be a FixedValue")
            bounds.append(int((fixed.text or "").strip(), 0))
        count = bounds[1] - bounds[0] + 1
        entry = parameter_type(item)
        if count < 1 or "length_from" in entry:
            raise XtceError(element, "an array needs at least one fixed-size element")
        return {**entry, "count": count}

    def base_of(self, container: Any) -> tuple[Any | None, list[Any]]:
        base = child(container, "BaseContainer")
        if base is None:
            return None, []
        parent = self.containers.get(base.get("containerRef"))
        if parent is None:
            raise XtceError(base, f"unknown container {base.get('containerRef')!r}")
        criteria = child(base, "RestrictionCriteria")
        return parent, comparisons(criteria) if criteria is not None else []

    def flat_entries(self, container: Any, depth: int = 0) -> list[tuple[str, Any]]:
        """(parameter name, entry element) of a container's own entry list, refs inlined."""
        if depth > 32:
            raise XtceError(container, "container references nest too deeply (a cycle?)")
        out: list[tuple[str, Any]] = []
        entry_list = child(container, "EntryList")
        for entry in children(entry_list) if entry_list is not None else []:
            tag = local(entry)
            gap = _gap_before(entry)
            if gap:
                out.append((f"{SPARE}{gap}", entry))
            if tag == "ParameterRefEntry":
                out.append((entry.get("parameterRef"), entry))
            elif tag == "ContainerRefEntry":
                ref = self.containers.get(entry.get("containerRef"))
                if ref is None:
                    raise XtceError(entry, f"unknown container {entry.get('containerRef')!r}")
                out += self.flat_entries(ref, depth + 1)
            else:
                raise XtceError(entry, "entry kind not supported")
        return out


SPARE = "\0spare:"  # marks a gap in flat entries: SPARE + its width in bits


def _gap_before(entry: Any) -> int:
    """Bits skipped before an entry (``LocationInContainerInBits`` after the previous one)."""
    for item in children(entry):
        if local(item) == "IncludeCondition":
            continue  # read with the entry (``_included``)
        if local(item) != "LocationInContainerInBits":
            raise XtceError(item, f"not supported in {local(entry)}")
        value = child(item, "FixedValue")
        if item.get("referenceLocation", "previousEntry") != "previousEntry" or value is None:
            raise XtceError(item, "only a FixedValue after the previous entry is supported")
        bits = int((value.text or "").strip() or "x", 0)
        if bits < 0:
            raise XtceError(item, "a negative location (overlapping entries) is not supported")
        return bits
    return 0


def _marked_spare(param: Any) -> bool:
    """A parameter groundwatch exported from a spare field (AncillaryData)."""
    ancillary = child(param, "AncillaryDataSet")
    marks = children(ancillary, "AncillaryData") if ancillary is not None else []
    return any(m.get("name") == "groundwatch.spare" and m.text == "true" for m in marks)


def xtce_document(path: Path | str) -> dict[str, Any]:
    """The dictionary document (as YAML would hold it) of an XTCE file."""
    path = Path(path)
    db = _Database(parse_xml(path))
    bases = {c.get("name"): db.base_of(c)[0] for c in db.containers.values()}
    parents = {b.get("name") for b in bases.values() if b is not None}
    packets = []
    for name, container in db.containers.items():
        if name in parents or bases[name] is None:
            continue  # not a leaf, or not derived from the packet container
        chain = [container]
        while (parent := db.base_of(chain[0])[0]) is not None:
            chain.insert(0, parent)
            if len(chain) > 32:
                raise XtceError(container, "base containers nest too deeply (a cycle?)")
        packets.append(_packet(db, chain))
    if not packets:
        raise XtceError(db.root, "no packet container derives from a CCSDS header container")
    return {
        "mission": db.root.get("name") or path.stem,
        "framing": {"kind": "none"},
        # XTCE describes what a container reads; octets after it are not an error there.
        "extra_octets": "ignore",
        "packets": packets,
    }


def _packet(db: _Database, chain: list[Any]) -> dict[str, Any]:
    leaf = chain[-1]
    entries = [e for c in chain for e in db.flat_entries(c)]
    header_entries = entries[: len(HEADER_FIELDS)]
    widths = [_width(db.entry(n, e)) for n, e in header_entries]
    if widths != [bits for _, bits in HEADER_FIELDS]:
        raise XtceError(chain[0], "the root container must start with the CCSDS primary header")
    header = {field: n for (field, _), (n, _) in zip(HEADER_FIELDS, header_entries, strict=True)}
    known = {n: db.entry(n, e) for n, e in header_entries}
    params = []
    for i, (n, e) in enumerate(entries[len(HEADER_FIELDS) :]):
        if n.startswith(SPARE):
            params.append({"name": f"spare_{i}", "type": "spare", "bits": int(n[len(SPARE) :])})
            continue
        entry = db.entry(n, e)
        condition = child(e, "IncludeCondition")
        if condition is not None:
            entry["present_if"] = included(condition, known)
        known[n] = entry
        params.append(entry)
    params = _unique(params)
    packet: dict[str, Any] = {"name": leaf.get("name"), "header": header}
    description = leaf.get("shortDescription")
    if description:
        packet["description"] = description
    positions = _positions(params)
    conditions = []
    for c in chain:
        for ref, op, value, calibrated, element in db.base_of(c)[1]:
            if ref in header.values():
                _header_condition(packet, header, ref, op, value, element)
                continue
            if ref not in positions:
                raise XtceError(element, f"{ref!r} is not at a fixed position of the packet")
            entry = next(p for p in params if p["name"] == ref)
            raw = raw_value(entry, value, calibrated, element)
            conditions.append(selector_condition(positions[ref], _width(entry), op, raw, element))
    if conditions:
        packet["selector"] = conditions
    widths = [_width(p) for p in params]
    if all(w >= 0 for w in widths) and sum(widths) % 8:
        # The entries end inside an octet: the rest of it is unused.
        params.append({"name": "unused_bits", "type": "spare", "bits": 8 - sum(widths) % 8})
    packet["parameters"] = params
    return packet


def _unique(params: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A parameter placed twice in one packet (typically a spare): the last place keeps the
    name (as XTCE decoders report it), earlier ones get ``NAME_1``, ``NAME_2``, ..."""
    last = {p["name"]: i for i, p in enumerate(params)}
    seen: dict[str, int] = {}
    for i, p in enumerate(params):
        if last[p["name"]] != i:
            seen[p["name"]] = seen.get(p["name"], 0) + 1
            p["name"] = f"{p['name']}_{seen[p['name']]}"
    return params


def _header_condition(
    packet: dict[str, Any], header: dict[str, str], ref: str, op: str, value: str, element: Any
) -> None:
    field = next(f for f, n in header.items() if n == ref)
    if op != "==":
        raise XtceError(element, f"header field {ref} can only be compared with ==")
    if field == "apid":
        packet["apid"] = int(value, 0)
    elif field in ("version", "type") and int(value, 0) == 0:
        pass  # version 0 is checked by the decoder; telemetry packets are type 0
    else:
        raise XtceError(element, f"restriction on header field {ref} not supported")


def _width(entry: dict[str, Any]) -> int:
    """Bits of a parameter; -1 when the packet decides (variable length or conditional)."""
    if "count" in entry:
        one = _width({k: v for k, v in entry.items() if k != "count"})
        return -1 if one < 0 else one * int(entry["count"])
    kind = entry["type"]
    if "present_if" in entry:
        return -1
    if kind == "bool":
        return 1
    if kind == "spare":
        return int(entry["bits"])
    if kind in ("string", "bytes"):
        return 8 * entry["length"] if isinstance(entry.get("length"), int) else -1
    digits = "".join(ch for ch in kind if ch.isdigit())
    return int(digits)


def _positions(params: list[dict[str, Any]]) -> dict[str, int]:
    """Bit offset of each parameter from the data field start, up to the first variable one."""
    out: dict[str, int] = {}
    position = 0
    for p in params:
        width = _width(p)
        if width < 0:
            break
        out[p["name"]] = position
        position += width
    return out
