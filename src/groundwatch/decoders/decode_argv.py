"""A plain ``groundwatch decode`` command line, read without the CLI framework.

Starting typer (with click and rich) costs about as much as decoding thousands of packets, and
``decode`` is run from scripts on one capture after another. So the program's entry point
(``groundwatch.entry``) first offers a ``decode`` command line to ``parse_decode_args``: when
every word is one of the command's options with a value it takes as it is, the capture is
decoded at once (``decode_cli.decode_main``, the function the typer command calls too).
Anything else returns None and goes to the CLI, which parses it as it always has and reports
a mistake in its usual way: ``--help``, an unknown option or a stray argument, a value that
is not a plain number or one of the choices, a value starting with ``-``, an option given
twice, ``--``, short options run together.

``VALUE_OPTIONS`` and ``FLAGS`` mirror the options of ``decoders.commands.decode_command``;
a test checks that the two accept the same options and give the same values.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from groundwatch.decoders.api import Framing
from groundwatch.decoders.decode_input import InputFormat

# Option -> (parameter of decode_main, how its value is read).
VALUE_OPTIONS: dict[str, tuple[str, str]] = {
    "--dictionary": ("dictionary", "path"),
    "-d": ("dictionary", "path"),
    "--frame": ("frame", "framing"),
    "--frame-length": ("frame_length", "int"),
    "--format": ("fmt", "format"),
    "--input": ("input_path", "path"),
    "-i": ("input_path", "path"),
}
# Flag -> (parameter of decode_main, the value it sets).
FLAGS: dict[str, tuple[str, bool]] = {
    "--fecf": ("fecf", True),
    "--no-fecf": ("fecf", False),
    "--ocf": ("ocf", True),
    "--no-ocf": ("ocf", False),
    "--show-rejected": ("show_rejected", True),
    "--asm": ("asm", True),
    "--no-asm": ("asm", False),
}


def _value(kind: str, text: str) -> Any:
    """The option's value, or None when the CLI should judge the text."""
    if not text or text.startswith("-"):
        return None
    if kind == "int":
        return int(text) if text.isascii() and text.isdigit() else None
    if kind in ("framing", "format"):
        choices = Framing if kind == "framing" else InputFormat
        return next((choice for choice in choices if choice.value == text), None)
    # A path the CLI would refuse (it exists but cannot be read) is left to it.
    if os.path.exists(text) and not os.access(text, os.R_OK):
        return None
    return Path(text)


def parse_decode_args(args: list[str]) -> dict[str, Any] | None:
    """Keyword arguments of ``decode_main`` for the words after ``decode``, or None."""
    options: dict[str, Any] = {}
    words = iter(args)
    for word in words:
        name, equals, attached = word.partition("=")
        if name in VALUE_OPTIONS and (not equals or name.startswith("--")):
            parameter, kind = VALUE_OPTIONS[name]
            text = attached if equals else next(words, "")
            value = _value(kind, text)
        elif word in FLAGS:
            parameter, value = FLAGS[word]
        else:
            return None
        if value is None or parameter in options:
            return None
        options[parameter] = value
    return options
