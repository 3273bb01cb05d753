"""Load a telemetry dictionary (YAML, see ``schema.py``) and compile it once.

``load_dictionary(path)`` validates the file with pydantic, compiles every packet to a
Construct struct plus its fast path, and returns a ``MissionDictionary`` (the
``TelemetryDictionary`` of ``api.py``). Every problem raises ``DictionaryError`` naming the
file, the packet and the parameter. Given a ``DictionaryCache``, it loads a file it has
validated before from the cache's snapshot instead (``dictionary_cache``): no YAML, XTCE or
pydantic then, which load only when a file must be read and validated.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import io
import os
import stat
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from groundwatch.decoders import dictionary_fields as build
from groundwatch.decoders.api import (
    DictionaryError,
    Framing,
    FramingDef,
    PacketLayout,
    ParameterInfo,
    SpacecraftDef,
)
from groundwatch.decoders.crc import PACKET_CRCS, packet_check
from groundwatch.decoders.layout import CompiledLayout, DerivedParam, ParamMeta
from groundwatch.decoders.layout_fields import FieldSpec, LayoutError
from groundwatch.decoders.obt import TimeCode
from groundwatch.decoders.rules import RuleDef, compile_rules
from groundwatch.model import Ax25Header, RejectReason

if TYPE_CHECKING:  # compile reads the validated model, or a cache's snapshot of it
    from construct import Construct

    from groundwatch.decoders.dictionary_cache import DictionaryCache
    from groundwatch.decoders.schema import DictionaryModel, PacketModel


class MissionDictionary:
    """A compiled dictionary: packet lookup by APID (+ selector) or AX.25 header."""

    def __init__(
        self,
        source: str,
        mission: str,
        framing: FramingDef,
        spacecraft: Sequence[SpacecraftDef],
        packets: Sequence[CompiledLayout],
    ) -> None:
        self.source = source
        self.mission = mission
        self.framing = framing
        self.spacecraft: Sequence[SpacecraftDef] = list(spacecraft)
        # Typed as the protocol says; ``packet(name)`` gives the CompiledLayout itself.
        self.packets: Sequence[PacketLayout] = list(packets)
        self._by_apid: dict[int, list[CompiledLayout]] = {}
        for packet in packets:
            if packet.apid is not None:
                self._by_apid.setdefault(packet.apid, []).append(packet)
        # Packets with a selector are tried first; the one without is the fallback.
        for candidates in self._by_apid.values():
            candidates.sort(key=lambda p: p.selector is None)
        self._by_name = {p.name: p for p in packets}
        self._layouts = list(packets)
        self.warnings: list[str] = []  # found at load: the layout may not fit its packets
        self.rules: dict[str, tuple[RuleDef, ...]] = {}  # spacecraft -> consistency rules

    def __repr__(self) -> str:
        return f"MissionDictionary({self.mission!r}, {len(self.packets)} packets)"

    def packet(self, name: str) -> CompiledLayout:
        return self._by_name[name]

    def spacecraft_by_scid(self, scid: int) -> SpacecraftDef | None:
        return next((s for s in self.spacecraft if s.scid == scid), None)

    def spacecraft_by_callsign(self, callsign: str) -> SpacecraftDef | None:
        wanted = callsign.strip().upper()
        return next(
            (s for s in self.spacecraft if s.callsign and s.callsign.upper() == wanted), None
        )

    def packet_for(self, apid: int, data_field: bytes) -> CompiledLayout | None:
        for packet in self._by_apid.get(apid, ()):
            if packet.selector is None or packet.selector.matches(data_field):
                return packet
        return None

    def explain_miss(self, apid: int, data_field: bytes) -> tuple[RejectReason, str]:
        """Why ``packet_for`` found nothing: an unknown APID, or selectors that did not match
        (with the values they saw)."""
        candidates = self._by_apid.get(apid)
        if not candidates:
            return RejectReason.UNKNOWN_APID, f"apid {apid}"
        seen = "; ".join(
            f"{p.name}: {p.selector.seen(data_field)}" for p in candidates if p.selector
        )
        return RejectReason.NO_SELECTOR_MATCH, f"apid {apid}: no selector matched ({seen})"

    def absent_values(self) -> dict[str, int]:
        """Values made absent by their validity, per ``packet.parameter``."""
        return {
            f"{layout.name}.{name}": n
            for layout in self._layouts
            for name, n in layout.absent_values().items()
        }

    def packet_for_ax25(self, header: Ax25Header, info: bytes) -> CompiledLayout | None:
        fallback = None
        for packet in self._layouts:
            if packet.ax25_pid is None and packet.ax25_callsign is None:
                continue
            if packet.ax25_pid is not None and packet.ax25_pid != header.pid:
                continue
            call = packet.ax25_callsign
            if call is not None and call.upper() != header.src.strip().upper():
                continue
            if packet.selector is None:
                fallback = fallback or packet
            elif packet.selector.matches(info):
                return packet
        return fallback

    def parameters(self) -> list[ParameterInfo]:
        frame = [
            ParameterInfo(name, self.framing.frame_packet, "uint", description=f"frame {field}")
            for field, name in (self.framing.parameters or {}).items()
        ]
        return frame + [info for packet in self._layouts for info in packet.parameters]


# A ``python:`` layout imports and runs a module named by the dictionary: only when the
# operator opted in (the configuration sets this around loading, or the environment).
PYTHON_LAYOUTS_ENV = "GROUNDWATCH_ALLOW_PYTHON_LAYOUTS"
python_layouts_allowed: ContextVar[bool] = ContextVar("python_layouts_allowed", default=False)


def load_dictionary(
    path: Path | str, xtce: bool | None = None, cache: DictionaryCache | None = None
) -> MissionDictionary:
    """``xtce``: read the file as XTCE (True), YAML (False), or by its suffix (None).
    ``cache``: load a file validated before from its snapshot, and keep new ones there."""
    path = Path(path)
    file = str(path)
    is_xtce = bool(xtce or (xtce is None and path.suffix.lower() == ".xml"))
    content = _cacheable_content(path) if cache is not None else None
    if cache is None or content is None:
        return compile_dictionary(_validated(path, is_xtce), file, path.parent)
    from groundwatch.decoders.dictionary_cache import CorruptEntry

    key = cache.key(content, "xtce" if is_xtce else "yaml")
    try:
        snapshot = cache.get(key)
    except CorruptEntry:
        snapshot = None
    if snapshot is not None:
        try:
            return compile_dictionary(snapshot, file, path.parent)
        except Exception:  # a snapshot that does not compile is not trusted: load the file
            pass
        cache.discard(key)
    model = _validated(path, is_xtce, content)
    compiled = compile_dictionary(model, file, path.parent)
    # YAML was parsed from ``content``; XTCE is read again by its parser: cached only if
    # the file did not change in between.
    if not is_xtce or _cacheable_content(path) == content:
        cache.put(key, model)
    return compiled


def _cacheable_content(path: Path) -> bytes | None:
    """The bytes of a regular file small enough to cache, else None (loaded as it was)."""
    from groundwatch.decoders.dictionary_cache import MAX_SOURCE_BYTES

    try:
        # A pipe or device is loaded as before, without the cache: never opened here (a FIFO's
        # writer would see this reader come and go).
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        with os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_SOURCE_BYTES:
                return None
            content = f.read(MAX_SOURCE_BYTES + 1)
    except OSError:
        return None  # the load below says why
    return content if len(content) <= MAX_SOURCE_BYTES else None


def _validated(path: Path, xtce: bool, content: bytes | None = None) -> DictionaryModel:
    import yaml
    from pydantic import ValidationError

    from groundwatch.decoders.schema import DictionaryModel, validation_error

    file = str(path)
    try:
        document = read_document(path, xtce, content)
    except OSError as exc:
        raise DictionaryError(file, f"cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise DictionaryError(file, f"not valid YAML: {exc}") from None
    if not isinstance(document, dict):
        raise DictionaryError(file, "must be a mapping with mission, packets, ...")
    try:
        return DictionaryModel.model_validate(document)
    except ValidationError as exc:
        raise validation_error(file, document, exc) from None


def read_document(path: Path, xtce: bool | None = None, content: bytes | None = None) -> Any:
    """The dictionary document of a YAML file, or of an XTCE file (``.xml``) imported.
    ``content``: the YAML file's bytes, already read."""
    import yaml

    from groundwatch.decoders.schema import DictionaryLoader

    if xtce or (xtce is None and path.suffix.lower() == ".xml"):
        from groundwatch.decoders.xtce_import import xtce_document  # lxml only when needed
        from groundwatch.decoders.xtce_types import XtceError

        try:
            return xtce_document(path)
        except XtceError as exc:
            raise DictionaryError(str(path), f"XTCE: {exc}") from None
    if content is None:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=DictionaryLoader)
    # As read_text gives it: decoded, universal newlines.
    text = io.TextIOWrapper(io.BytesIO(content), encoding="utf-8").read()
    return yaml.load(text, Loader=DictionaryLoader)


def compile_dictionary(model: DictionaryModel, file: str, base: Path) -> MissionDictionary:
    names: set[str] = set()
    selections: dict[tuple[Any, ...], str] = {}
    packets = []
    for packet in model.packets:
        if packet.name in names:
            raise DictionaryError(file, "packet name used twice", packet.name)
        names.add(packet.name)
        # Two packets selected by the same APID (and selector) would shadow each other.
        selector = None
        if packet.selector is not None:
            parts = packet.selector if isinstance(packet.selector, list) else [packet.selector]
            selector = tuple(repr(sorted(vars(part).items())) for part in parts)
        for key in [("apid", packet.apid, selector)] if packet.apid is not None else []:
            if key in selections:
                raise DictionaryError(
                    file, f"same APID and selector as packet {selections[key]}", packet.name
                )
            selections[key] = packet.name
        packets.append(_compile_packet(model, packet, file, base))
    # The frame layer's class, from the validated section (or the snapshot's).
    framing = FramingDef(**{f.name: getattr(model.framing, f.name) for f in _FRAMING_FIELDS})
    _check_frame_parameters(framing, file, names)
    spacecraft = [
        SpacecraftDef(**{f.name: getattr(s, f.name) for f in _SPACECRAFT_FIELDS})
        for s in model.spacecraft
    ]
    compiled = MissionDictionary(file, model.mission, framing, spacecraft, packets)
    compiled.rules = compile_rules(
        file,
        {s.name: s.rules for s in model.spacecraft},
        {p.name: p.packet for p in compiled.parameters()},
    )
    compiled.warnings = [w for p in model.packets for w in _length_warnings(p, compiled, file)]
    return compiled


_FRAMING_FIELDS = dataclasses.fields(FramingDef)
_SPACECRAFT_FIELDS = dataclasses.fields(SpacecraftDef)
FRAME_FIELDS = (
    "version", "scid", "vcid", "ocf_flag", "mcfc", "vcfc", "sec_hdr_flag", "sync_flag",
    "packet_order", "segment_length_id", "fhp",
)  # fmt: skip
CLCW_FIELDS = (
    "control_word_type", "clcw_version", "status_field", "cop_in_effect", "vcid", "reserved",
    "no_rf_available", "no_bit_lock", "lockout", "wait", "retransmit", "farm_b_counter",
    "spare", "report_value",
)  # fmt: skip


def _check_frame_parameters(framing: FramingDef, file: str, packets: set[str]) -> None:
    if not framing.parameters:
        return
    known = [*FRAME_FIELDS, *(f"clcw.{f}" for f in CLCW_FIELDS)]
    for field in framing.parameters:
        if field not in known:
            raise DictionaryError(
                file, f"framing.parameters: unknown field {field!r} (known: {', '.join(known)})"
            )
    if framing.kind is not Framing.TM:
        raise DictionaryError(file, "framing.parameters: only TM frames have header fields")
    if framing.frame_packet in packets:
        raise DictionaryError(file, f"framing.frame_packet {framing.frame_packet!r} is a packet")


def _length_warnings(packet: PacketModel, dictionary: MissionDictionary, file: str) -> list[str]:
    """A layout shorter or longer than the packet length it declares."""
    layout = dictionary.packet(packet.name)
    if packet.length is None or layout.size is None:
        return []
    covered = layout.size - (layout.header_length if layout.whole_packet else 0)
    if layout.variable and covered <= packet.length:
        return []
    if covered == packet.length:
        return []
    what = "shorter" if covered < packet.length else "longer"
    return [
        f"{file}: packet {packet.name}: layout is {what} than the packet "
        f"({covered} octets for a {packet.length}-octet data field)"
    ]


def _compile_packet(
    model: DictionaryModel, packet: PacketModel, file: str, base: Path
) -> CompiledLayout:
    time_model = packet.time or model.time
    time: TimeCode | None = None
    if packet.secondary_header:
        if time_model is None:
            raise DictionaryError(file, "secondary_header needs a time: section", packet.name)
        time = build.time_code(time_model)
    fields: list[FieldSpec] = []
    meta: dict[str, ParamMeta] = {}
    derived: list[DerivedParam] = []
    seen: set[str] = set(time.names if time else ()) | set(packet.header.values())
    for param in packet.parameters:
        where = (file, packet.name, param.name)
        if param.name in seen:
            raise DictionaryError(file, "parameter name used twice", packet.name, param.name)
        seen.add(param.name)
        param_meta = build.meta(param, where)
        if param.expr is not None:
            derived.append(
                DerivedParam(param.name, build.expression(param.expr, seen, where), param_meta)
            )
            continue
        field = build.field(param, model.byte_order, where)
        if param.present_if is not None:
            condition = build.expression(param.present_if, seen, where)
            field = dataclasses.replace(field, present_if=condition)
        if param_meta.calibration is not None or param_meta.enum is not None:
            build.check_numeric(field, param_meta, where)
        fields.append(field)
        meta[param.name] = build.with_calibration_range(param_meta, field, where)
    selector = build.selector_of(packet, model.byte_order, file)
    header_fields = build.header_fields(packet, file, seen)
    crc_name = packet.crc or model.packet_crc
    check = None
    if crc_name is not None:
        try:
            check = packet_check(crc_name)
        except KeyError:
            known = ", ".join(sorted(PACKET_CRCS))
            raise DictionaryError(
                file, f"unknown crc {crc_name!r} (known: {known})", packet.name
            ) from None
    struct = None
    if packet.python is not None:
        struct, fields, meta = _python_layout(packet, file, base, model.byte_order)
    try:
        return CompiledLayout(
            name=packet.name,
            apid=packet.apid,
            fields=fields,
            meta=meta,
            subsystem=packet.subsystem,
            description=packet.description,
            time=time,
            derived=derived,
            selector=selector,
            ax25_pid=packet.ax25.pid if packet.ax25 else None,
            ax25_callsign=packet.ax25.callsign if packet.ax25 else None,
            struct=struct,
            header_fields=header_fields,
            packet_check=check,
            reject_extra=(packet.extra_octets or model.extra_octets) == "reject",
        )
    except LayoutError as exc:
        raise DictionaryError(file, exc.problem, packet.name, exc.field or None) from None


def _python_layout(
    packet: PacketModel, file: str, base: Path, byte_order: str
) -> tuple[Construct, list[FieldSpec], dict[str, ParamMeta]]:
    """``python: module:OBJECT``; OBJECT has ``struct`` (Construct) and ``parameters``
    (a list of mappings with the YAML parameter keys; ``type`` tells build how to encode)."""
    from construct import Construct

    assert packet.python is not None
    if not (python_layouts_allowed.get() or os.environ.get(PYTHON_LAYOUTS_ENV) == "1"):
        raise DictionaryError(
            file,
            f"python layout {packet.python!r} runs code from the dictionary; load it only "
            f"from a trusted source, with [mission] allow_python_layouts = true "
            f"(or {PYTHON_LAYOUTS_ENV}=1 for commands without a configuration)",
            packet.name,
        )
    target, _, attr = packet.python.partition(":")
    try:
        if target.endswith(".py"):
            spec = importlib.util.spec_from_file_location(
                f"_gw_layout_{packet.name}", base / target
            )
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {target}")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(target)
        obj = getattr(module, attr)
    except (ImportError, AttributeError, OSError) as exc:
        raise DictionaryError(
            file, f"python layout {packet.python!r}: {exc}", packet.name
        ) from None
    struct = obj["struct"] if isinstance(obj, Mapping) else getattr(obj, "struct", None)
    params = obj["parameters"] if isinstance(obj, Mapping) else getattr(obj, "parameters", None)
    if not isinstance(struct, Construct) or not isinstance(params, Sequence):
        raise DictionaryError(file, "python layout needs struct and parameters", packet.name)
    fields: list[FieldSpec] = []
    meta: dict[str, ParamMeta] = {}
    for entry in params:
        from pydantic import ValidationError

        from groundwatch.decoders.schema import ParameterModel

        try:
            param = ParameterModel.model_validate(entry)
        except ValidationError as exc:
            name = entry.get("name") if isinstance(entry, Mapping) else None
            problem = f"python layout parameter: {exc.errors()[0]['msg']}"
            raise DictionaryError(file, problem, packet.name, name) from None
        where = (file, packet.name, param.name)
        fields.append(build.field(param, byte_order, where))
        meta[param.name] = build.meta(param, where)
    return struct, fields, meta
