"""``groundwatch dictionary import|export|check|show``: wired into the CLI by ``register(app)``.

* ``import FILE.xml --out FILE.yaml``: an XTCE database written as the equivalent YAML
  dictionary (validated and compiled first, so the file written loads).
* ``check FILE`` (YAML or XTCE): loads and compiles it, prints its packets, parameter and
  limit counts and its warnings.
* ``export FILE.yaml --xtce OUT.xml``: the dictionary as XTCE, with notes on what XTCE
  cannot hold (derived parameters, validity).
* ``show FILE [--packet P]``: each packet's layout as a table (bit offset, type, unit,
  calibration, limits).

Every dictionary problem exits 2 with the file, packet and parameter. The dictionary
modules (and lxml) are imported when a command runs, not when the CLI starts.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from groundwatch.decoders.dictionary import MissionDictionary
    from groundwatch.decoders.layout import CompiledLayout

dictionary_app = typer.Typer(
    name="dictionary",
    help="Telemetry dictionaries: import XTCE, check, show layouts.",
    no_args_is_help=True,
)


def _fail(message: str) -> typer.Exit:
    print(f"dictionary error: {message}", file=sys.stderr)
    return typer.Exit(2)


def _load(path: Path) -> MissionDictionary:
    from groundwatch.decoders.api import DictionaryError
    from groundwatch.decoders.dictionary import load_dictionary

    try:
        return load_dictionary(path)
    except DictionaryError as exc:
        raise _fail(str(exc)) from None


@dictionary_app.command("import")
def import_command(
    source: Annotated[Path, typer.Argument(help="XTCE file (.xml)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="YAML dictionary to write")],
) -> None:
    """Write an XTCE database as the equivalent YAML dictionary."""
    import yaml
    from pydantic import ValidationError

    from groundwatch.decoders.api import DictionaryError
    from groundwatch.decoders.dictionary import compile_dictionary
    from groundwatch.decoders.schema import DictionaryModel, validation_error
    from groundwatch.decoders.xtce_import import xtce_document
    from groundwatch.decoders.xtce_types import XtceError

    try:
        document = xtce_document(source)
        model = DictionaryModel.model_validate(document)
        compiled = compile_dictionary(model, str(source), source.parent)
    except XtceError as exc:
        raise _fail(f"{source}: XTCE: {exc}") from None
    except ValidationError as exc:
        raise _fail(str(validation_error(str(source), document, exc))) from None
    except (DictionaryError, OSError) as exc:
        raise _fail(str(exc)) from None
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    out.write_text(f"# Imported from {source.name} by groundwatch dictionary import.\n" + text)
    params = sum(len(p.parameters) for p in compiled.packets)
    print(f"{out}: {len(compiled.packets)} packets, {params} parameters")


@dictionary_app.command("export")
def export_command(
    source: Annotated[Path, typer.Argument(help="YAML dictionary")],
    xtce: Annotated[Path, typer.Option("--xtce", help="XTCE file to write")],
) -> None:
    """Write a dictionary as XTCE (for Yamcs, space_packet_parser, ...)."""
    from pydantic import ValidationError

    from groundwatch.decoders.api import DictionaryError
    from groundwatch.decoders.dictionary import compile_dictionary, read_document
    from groundwatch.decoders.schema import DictionaryModel, validation_error
    from groundwatch.decoders.xtce_export import XtceExportError, export_xtce

    try:
        document = read_document(source)
        model = DictionaryModel.model_validate(document)
        compile_dictionary(model, str(source), source.parent)  # it must load first
        data, notes = export_xtce(model)
    except ValidationError as exc:
        raise _fail(str(validation_error(str(source), document, exc))) from None
    except XtceExportError as exc:
        raise _fail(f"{source}: {exc}") from None
    except (DictionaryError, OSError) as exc:
        raise _fail(str(exc)) from None
    xtce.write_bytes(data)
    for note in notes:
        print(f"note: {note}")
    print(f"{xtce}: {len(model.packets)} packets")


@dictionary_app.command("check")
def check_command(
    path: Annotated[Path, typer.Argument(help="dictionary (YAML or XTCE .xml)")],
) -> None:
    """Load and compile a dictionary; print its packets, counts and warnings."""
    dictionary = _load(path)
    for line in summary_lines(dictionary):
        print(line)


def summary_lines(dictionary: MissionDictionary) -> list[str]:
    packets = dictionary.packets
    params = [info for p in packets for info in p.parameters]
    limits = sum(1 for info in params if info.limits is not None)
    lines = [
        f"{dictionary.source}: mission {dictionary.mission}, framing "
        f"{dictionary.framing.kind.value}, {len(packets)} packets, {len(params)} parameters, "
        f"{limits} with limits"
    ]
    for packet in packets:
        layout = dictionary.packet(packet.name)
        size = f"{layout.size} octets" + (" + variable" if layout.variable else "")
        path = "fast path" if layout.fast is not None else "construct"
        apid = "-" if layout.apid is None else str(layout.apid)
        lines.append(
            f"  {packet.name}: apid {apid}, {len(packet.parameters)} parameters, {size}, {path}"
            + (", selector" if layout.selector is not None else "")
            + (", packet crc" if layout.packet_check is not None else "")
        )
    lines += [f"warning: {w}" for w in dictionary.warnings]
    return lines


@dictionary_app.command("show")
def show_command(
    path: Annotated[Path, typer.Argument(help="dictionary (YAML or XTCE .xml)")],
    packet: Annotated[str | None, typer.Option("--packet", "-p", help="one packet")] = None,
) -> None:
    """Print packet layouts as tables."""
    dictionary = _load(path)
    names = [p.name for p in dictionary.packets]
    if packet is not None and packet not in names:
        raise _fail(f"{path}: packet {packet}: not in the dictionary (known: {', '.join(names)})")
    for name in [packet] if packet is not None else names:
        print("\n".join(layout_table(dictionary.packet(name))))


def layout_table(layout: CompiledLayout) -> list[str]:
    from groundwatch.decoders.layout_fields import FieldKind

    rows = [("bit", "parameter", "type", "unit", "calibration / enum", "limits")]
    position: int | None = 0
    for field in layout.field_specs():
        where = "?" if position is None else str(position)
        if field.kind is FieldKind.SPARE:
            rows.append((where, "(spare)", f"{field.bits} bits", "", "", ""))
        else:
            meta = _meta_or_none(layout, field.name)
            kind = f"{field.kind.value}{field.bits if field.kind in _SIZED else ''}"
            if field.sized_by_data:
                size = field.length_from or "rest"
                if field.length_scale != 1:
                    size += f"*{field.length_scale}"
                if field.length_offset:
                    size += f"{field.length_offset:+d}"
                kind = f"{field.kind.value}[{size}]"
            if field.present_if is not None:
                kind += f" if {field.present_if.source}"
            elif field.count:
                kind += f"[{field.count}]"
            cal = "" if meta is None else _describe(meta.calibration or meta.enum)
            limits = "" if meta is None or meta.limits is None else _limits(meta.limits)
            unit = "" if meta is None else meta.unit or ""
            rows.append((where, field.name, kind, unit, cal, limits))
        position = None if position is None or field.variable else position + field.total_bits
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    apid = "-" if layout.apid is None else layout.apid
    out = [f"{layout.name} (apid {apid})"]
    out += ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return out


_SIZED = {"uint", "int", "float"}


def _meta_or_none(layout: CompiledLayout, name: str) -> Any:
    try:
        return layout.meta(name)
    except KeyError:
        return None


def _describe(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in list(value.items())[:6]) + (
            ", ..." if len(value) > 6 else ""
        )
    return str(value)


def _limits(limits: Any) -> str:
    parts = [
        f"{k}={v:g}"
        for k, v in (
            ("red_low", limits.red_low),
            ("yellow_low", limits.yellow_low),
            ("yellow_high", limits.yellow_high),
            ("red_high", limits.red_high),
        )
        if v is not None
    ]
    return " ".join(parts)


def register(app: typer.Typer) -> None:
    app.add_typer(dictionary_app)


def loaded_lines(dictionary: Any, path: Path) -> list[str]:
    """What ``check-config`` loaded from ``[mission] dictionary``: counts and warnings."""
    packets = list(dictionary.packets)
    params = list(dictionary.parameters())
    limits = sum(1 for info in params if info.limits is not None)
    lines = [
        f"dictionary {path}: mission {dictionary.mission}, framing "
        f"{dictionary.framing.kind.value}, {len(packets)} packets, {len(params)} parameters, "
        f"{limits} with limits"
    ]
    return lines + [f"warning: {w}" for w in getattr(dictionary, "warnings", ())]
