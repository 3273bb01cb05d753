"""The ``groundwatch`` program (the console script and ``python -m groundwatch``).

Every command line goes to the CLI (``groundwatch.cli.app``, typer), except a plain
``groundwatch decode`` one: decoding a capture is what scripts run over and over, and it
starts several times faster without loading the CLI framework. ``decoders.decode_argv`` says
which command lines those are; it gives every other one (``--help``, a mistake) to the CLI.
"""

from __future__ import annotations

import sys


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["decode"]:
        from groundwatch.decoders.decode_argv import parse_decode_args

        options = parse_decode_args(args[1:])
        if options is not None:
            from groundwatch.decoders.decode_cli import decode_main

            try:
                status = decode_main(**options)
            except KeyboardInterrupt:
                status = 130  # as the CLI ends on Ctrl-C
            sys.exit(status)
    from groundwatch.cli import app

    app()
