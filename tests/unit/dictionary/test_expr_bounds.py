"""A hostile or careless dictionary cannot stall or crash the decoder through its expressions
or its layout sizes: what can be decided is refused at load with file, packet and parameter;
the rest is bounded at each evaluation, and every value that cannot be computed is counted
per parameter and reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from construct import ListContainer
from typer.testing import CliRunner

from groundwatch.decoders.api import DictionaryError
from groundwatch.decoders.commands import register
from groundwatch.decoders.dictionary import load_dictionary
from groundwatch.decoders.expr import (
    MAX_DEPTH,
    MAX_INT_BITS,
    UnsafeExpression,
    compile_expression,
)
from groundwatch.decoders.frame_decoder import FrameDecoder
from groundwatch.decoders.packing import TmFramePacker
from groundwatch.decoders.space_packet import build_space_packet
from groundwatch.model import RawFrame

LABEL = {
    "x": 3,
    "big": 2**40,
    "mode": "NAV_SOLUTION",
    "samples": [1, 2, 3],
    "text": "x" * 60_000,  # a string field of a large packet
    "wave": [0.5] * 30_000,  # an array field of a large packet
    "hex": "f" * 5000,
    "raw:blob": b"%0999999d",  # the raw value of a binary field is bytes
}


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("(((x + 9) ** 64) ** 64) ** 64", "degree"),
        ("((x + 9) ** 64) ** 64", "degree"),
        ("x ** 100", "exponent"),
        ("x ** 64 * x ** 64", "degree"),
        ("9 ** 9 ** 9", "cannot be computed"),
        ("(1 << 256) ** 64 + x", "cannot be computed"),
        ("x + 2 ** 100000", "cannot be computed"),
        ("x / 0", "divides by zero"),
        ("x // (3 - 3)", "divides by zero"),
        ("x % 0.0", "divides by zero"),
        ("sqrt(-1) + x", "cannot be computed"),
        ("x * 1" + "0" * 400, f"larger than {MAX_INT_BITS} bits"),
        ("x" + "+x" * (MAX_DEPTH + 1), "nested deeper"),
        ("-" * (MAX_DEPTH + 2) + "x", "nested deeper"),
    ],
)
def test_what_can_be_decided_is_refused_at_load(source: str, problem: str) -> None:
    with pytest.raises(UnsafeExpression, match=problem):
        compile_expression(source)


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("mode * 10 ** 8", TypeError),  # would build a text of 1.2 GB
        ("10 ** 8 * mode", TypeError),
        ("samples * 100000000", TypeError),  # an array repeated
        ("mode % x", TypeError),  # text formatting
        ("raw(blob) % x", TypeError),  # bytes formatting: a width of 10 ** 9 is 1 GB
        ("(big ** 8) ** 8", OverflowError),  # 41 bits ** 64
        ("(x << 256) ** 4", OverflowError),
        ("big << 1000", OverflowError),
        ("(big << 256) * (big << 256) * (big << 256) * (big << 256)", OverflowError),
        ("x ** big", OverflowError),
        ("(-x) ** 0.5", ValueError),  # not a real number
        ("+".join(["text"] * 90), OverflowError),  # 5 MB, copied quadratically
        ("wave + wave", OverflowError),
        ("+".join(["max(wave)"] * 45), OverflowError),  # a loop over 30,000 values, 45 times
        ("min(wave) < 1", OverflowError),
        ("wave == wave", OverflowError),
        ("round(x, -big)", OverflowError),  # 10 ** (2 ** 40)
        ("int(hex, 16)", OverflowError),  # 20,000 bits: too long to write as text
    ],
)
def test_what_cannot_be_decided_is_bounded_at_evaluation(
    source: str, error: type[Exception]
) -> None:
    expression = compile_expression(source)
    with pytest.raises(error):
        expression(LABEL)


@pytest.mark.parametrize("source", ["wave == wave", "wave < wave", "1 < wave"])
def test_arrays_decoded_by_construct_are_bounded_in_comparisons(source: str) -> None:
    # the Construct decode path gives an array as a ListContainer, a subclass of list
    with pytest.raises(OverflowError):
        compile_expression(source)({"wave": ListContainer([0.5] * 30_000)})


def test_ordinary_expressions_keep_their_values() -> None:
    values = {"a": 3, "b": 4.0, "v": 2**40}
    assert compile_expression("(a << 2) ** 8")(values) == 12**8
    assert compile_expression("v * v * v")(values) == 2**120
    assert compile_expression("10 ** 8 * a")(values) == 300_000_000
    assert compile_expression("a * 0.5 + b ** 2")(values) == 17.5
    assert compile_expression("(a - 32) * 5 / 9")(values) == pytest.approx(-16.111111)
    assert compile_expression("x" + "+x" * (MAX_DEPTH - 1))({"x": 1}) == MAX_DEPTH
    samples = {"s": [3.0, 1.0, 2.0] * 1000, "a": 3, "b": 4.0}
    assert compile_expression("max(s) - min(s) + min(a, b) + max(a, b)")(samples) == 9.0
    assert compile_expression("s == s")(samples) is True
    assert compile_expression("round(b / 3, 2) + round(1234, -2) + round(b)")(samples) == 1205.33


def test_failures_are_counted_per_reason() -> None:
    expression = compile_expression("x / y")
    for values in ({"x": 1, "y": 0}, {"x": 1, "y": 0}, {"x": 1}, {"x": 1, "y": 2}):
        try:
            expression(values)
        except (ArithmeticError, KeyError) as exc:
            expression.failed(exc)
    assert expression.failures == {"division_by_zero": 2, "missing_input": 1}
    assert expression.not_computed == 3


HOSTILE = """\
mission: hostile
spacecraft:
  - {{name: sat, scid: 0x2A}}
framing: {{kind: tm, frame_length: 64, fecf: true, ocf: true}}
packets:
  - name: hk
    apid: 0x10
    parameters:
      - {{name: level, type: uint16}}
      - {{name: mode, type: uint8, enum: {{0: SAFE, 1: NAV_SOLUTION}}}}
      - {{name: {name}, expr: "{expr}"}}
      - {{name: fine, expr: "level * 2"}}
"""


def write(tmp_path: Path, name: str, expr: str) -> Path:
    path = tmp_path / "hostile.yaml"
    path.write_text(HOSTILE.format(name=name, expr=expr))
    return path


def test_a_load_error_names_file_packet_parameter_and_problem(tmp_path: Path) -> None:
    path = write(tmp_path, "blowup", "((level + 9) ** 64) ** 64")
    with pytest.raises(DictionaryError) as caught:
        load_dictionary(path)
    text = str(caught.value)
    assert str(path) in text and "hk" in text and "blowup" in text and "degree" in text


def test_an_array_count_beyond_any_packet_is_refused_at_load(tmp_path: Path) -> None:
    path = tmp_path / "array.yaml"
    text = HOSTILE.format(name="twice", expr="level * 2")
    path.write_text(text + "      - {name: samples, type: uint16, count: 1000000000}\n")
    with pytest.raises(DictionaryError) as caught:
        load_dictionary(path)
    assert "samples" in str(caught.value) and "65536 octets" in str(caught.value)


def frames_of(levels: list[int], mode: int = 1) -> list[bytes]:
    packer = TmFramePacker(0x2A, 1, load_framing())
    packets = [
        build_space_packet(0x10, i, level.to_bytes(2, "big") + bytes([mode]))
        for i, level in enumerate(levels)
    ]
    return packer.frames_for(packets)


def load_framing() -> Any:
    from groundwatch.decoders.api import FramingDef

    return FramingDef(frame_length=64, fecf=True, ocf=True)


def test_values_not_computed_are_counted_per_parameter(tmp_path: Path) -> None:
    dictionary = load_dictionary(write(tmp_path, "label_blowup", "mode * 10 ** 8"))
    decoder = FrameDecoder(dictionary)
    packets = [
        p
        for frame in frames_of([1, 2, 3])
        for p in decoder.decode(RawFrame(frame, 0, "gs1")).packets
    ]
    assert len(packets) == 3
    for p in packets:
        assert "label_blowup" not in p.params  # no sample rather than a wrong one
        assert p.params["fine"].eng == 2 * p.params["level"].eng
    assert decoder.not_computed() == {("hk", "label_blowup", "type"): 3}
    # The Construct path derives with the same function, so it counts the same way.
    params, _ = dictionary.packet("hk").decode_construct(bytes([0, 1, 1]))
    assert "label_blowup" not in params and params["fine"].eng == 2
    assert decoder.not_computed() == {("hk", "label_blowup", "type"): 4}


def test_decode_summary_shows_the_values_not_computed(tmp_path: Path) -> None:
    path = write(tmp_path, "ratio", "level / (level - level)")
    app = typer.Typer()
    register(app)

    @app.command()
    def other() -> None:
        """(keeps decode a subcommand)"""

    packer = TmFramePacker(0x2A, 1, load_framing())
    frames = packer.frames_for([build_space_packet(0x10, 0, bytes([0, 5, 1]))])
    result = CliRunner().invoke(
        app, ["decode", "-d", str(path)], input="".join(f.hex() + "\n" for f in frames)
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert "ratio" not in lines[0]["parameters"]
    assert lines[-1]["not_computed"] == {"hk.ratio": {"division_by_zero": 1}}


def test_decode_refuses_an_unbounded_dictionary_with_a_message(tmp_path: Path) -> None:
    path = write(tmp_path, "huge", "(1 << 256) ** 64 + level")
    app = typer.Typer()
    register(app)

    @app.command()
    def other() -> None:
        """(keeps decode a subcommand)"""

    result = CliRunner().invoke(app, ["decode", "-d", str(path)], input="")
    assert result.exit_code == 2
    assert "huge" in result.output and "Traceback" not in result.output


def test_a_packet_long_array_loads_quickly_and_decodes(tmp_path: Path) -> None:
    """A 64 KiB array would cost seconds and hundreds of MB of generated code per packet;
    beyond the fast path's bound it is read whole by Construct, with the same values."""
    path = tmp_path / "wave.yaml"
    text = HOSTILE.format(name="twice", expr="level * 2")
    path.write_text(text + "      - {name: wave, type: uint8, count: 65530}\n")
    layout = load_dictionary(path).packet("hk")
    assert layout.fast is None  # no code generated per element
    data = bytes([0, 7, 1]) + bytes(range(256)) * 255 + bytes(range(250))
    params, _ = layout.decode(data)
    assert params["wave"].raw == list(data[3:]) and params["twice"].eng == 14
