"""``groundwatch decode``: wired into the CLI by ``register(app)``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from groundwatch.decoders.api import DictionaryError, Framing, TelemetryDictionary
from groundwatch.decoders.decode_input import DecodeCliError, InputFormat


def decode_command(
    dictionary: Annotated[
        Path | None, typer.Option("--dictionary", "-d", help="telemetry dictionary (YAML or XTCE)")
    ] = None,
    frame: Annotated[
        Framing | None, typer.Option("--frame", help="framing (default: the dictionary's, or tm)")
    ] = None,
    frame_length: Annotated[
        int | None, typer.Option("--frame-length", help="fixed TM frame length in octets")
    ] = None,
    fecf: Annotated[
        bool | None, typer.Option("--fecf/--no-fecf", help="frames end in a CRC-16 FECF")
    ] = None,
    ocf: Annotated[
        bool | None, typer.Option("--ocf/--no-ocf", help="frames carry an OCF (CLCW)")
    ] = None,
    fmt: Annotated[InputFormat, typer.Option("--format", help="input format")] = InputFormat.HEX,
    input_path: Annotated[
        Path | None, typer.Option("--input", "-i", help="input file (default: stdin)")
    ] = None,
    show_rejected: Annotated[
        bool, typer.Option("--show-rejected", help="print undecodable frames too")
    ] = False,
    asm: Annotated[
        bool | None,
        typer.Option("--asm/--no-asm", help="raw stream has sync markers (default: detect)"),
    ] = None,
) -> None:
    """Decode a capture and print one JSON object per packet, then a summary line."""
    # The decoders (and Construct) load when a capture is decoded, not to list commands.
    from groundwatch.decoders.decode_cli import load_dictionary_file, resolve_framing, run_decode

    try:
        loaded: TelemetryDictionary | None = None
        if dictionary is not None:
            loaded = load_dictionary_file(dictionary)
        framing = resolve_framing(loaded, frame, frame_length, fecf, ocf)
        run_decode(
            sys.stdout,
            sys.stdin.buffer,
            dictionary=loaded,
            framing=framing,
            fmt=fmt,
            input_path=input_path,
            show_rejected=show_rejected,
            asm=asm,
        )
    except (DecodeCliError, DictionaryError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def register(app: typer.Typer) -> None:
    app.command("decode")(decode_command)
