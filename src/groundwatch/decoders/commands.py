"""``groundwatch decode``: wired into the CLI by ``register(app)``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from groundwatch.decoders.api import Framing
from groundwatch.decoders.decode_input import InputFormat


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
    from groundwatch.decoders.decode_cli import decode_main

    status = decode_main(
        dictionary=dictionary,
        frame=frame,
        frame_length=frame_length,
        fecf=fecf,
        ocf=ocf,
        fmt=fmt,
        input_path=input_path,
        show_rejected=show_rejected,
        asm=asm,
    )
    if status:
        raise typer.Exit(status)


def register(app: typer.Typer) -> None:
    app.command("decode")(decode_command)
