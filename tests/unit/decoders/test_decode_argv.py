"""A plain ``decode`` command line is read without typer, to the very values typer gives the
command; every other command line is left to typer, which reports it as it always has."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main

from groundwatch.cli import app
from groundwatch.decoders.decode_argv import FLAGS, VALUE_OPTIONS, parse_decode_args

REPO = Path(__file__).resolve().parents[3]
JPSS1 = REPO / "tests" / "data" / "jpss1" / "J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1"
JPSS1_DICTIONARY = REPO / "tests" / "data" / "missions" / "jpss1.yaml"


def typer_decode() -> Any:
    return typer.main.get_command(app).commands["decode"]  # type: ignore[attr-defined]


def typer_values(args: list[str]) -> dict[str, Any]:
    return dict(typer_decode().make_context("decode", list(args)).params)


def test_the_options_are_the_commands_options() -> None:
    declared = set()
    for param in typer_decode().params:
        declared |= {(option, param.name) for option in [*param.opts, *param.secondary_opts]}
    declared -= {("--help", "help")}
    mine = {(o, p) for o, (p, _) in VALUE_OPTIONS.items()} | {(o, p) for o, (p, _) in FLAGS.items()}
    assert mine == declared


PLAIN = [
    [],
    ["-d", "d.yaml", "--format", "raw", "-i", "capture.dat"],
    ["--dictionary", "x.xml", "--input", "c.bin", "--show-rejected"],
    ["--dictionary=x.yaml", "--input=c.bin", "--format=kiss", "--frame=ax25"],
    ["--frame", "tm", "--frame-length", "1115", "--fecf", "--no-ocf", "--asm"],
    ["--frame", "none", "--frame-length=007", "--no-fecf", "--ocf", "--no-asm"],
    ["--format", "satnogs", "-i", "dir with spaces/f.txt"],
    ["--format", "archive", "-i", "."],
]


@pytest.mark.parametrize("args", PLAIN)
def test_a_plain_command_line_gives_what_typer_gives(args: list[str]) -> None:
    options = parse_decode_args(args)
    assert options is not None
    expected = typer_values(args)
    assert {**expected, **options} == expected  # the same values where given
    defaults = typer_values([])
    assert {k: v for k, v in expected.items() if k not in options} == {
        k: defaults[k] for k in expected if k not in options
    }


OTHERS = [
    ["--help"],
    ["-d", "x.yaml", "--help"],
    ["-d=x.yaml"],  # typer reads "=x.yaml" as the path
    ["-dx.yaml"],
    ["--format", "nope"],
    ["--format", "RAW"],
    ["--frame-length", "+7"],
    ["--frame-length", "x"],
    ["--frame-length"],
    ["-i", "a", "-i", "b"],
    ["-i", "-"],
    ["-d", "--format", "raw"],
    ["--show-rejected=1"],
    ["--unknown"],
    ["capture.dat"],
    ["--", "-i", "x"],
    ["-i", ""],
]


@pytest.mark.parametrize("args", OTHERS)
def test_anything_else_is_left_to_typer(args: list[str]) -> None:
    assert parse_decode_args(args) is None


def gw(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "groundwatch", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )


def test_help_and_mistakes_still_come_from_typer() -> None:
    helped = gw("decode", "--help")
    assert helped.returncode == 0 and b"--frame-length" in helped.stdout
    wrong = gw("decode", "--format", "nope")
    assert wrong.returncode == 2 and b"nope" in wrong.stderr and b"Usage" in wrong.stderr


def test_a_plain_decode_runs_without_typer_and_reports_errors_alike(tmp_path: Path) -> None:
    capture = tmp_path / "two.dat"
    capture.write_bytes(JPSS1.read_bytes()[: 2 * 71])
    args = ["decode", "-d", str(JPSS1_DICTIONARY), "--format", "raw", "-i", str(capture)]
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "groundwatch", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.count('"kind": "packet"') == 2
    imported = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert "groundwatch.decoders.decode_cli" in imported
    assert not {"typer", "click", "rich", "groundwatch.cli"} & imported


def via_typer(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """The command line run by typer, as every command line was."""
    return subprocess.run(
        [sys.executable, "-c", "from groundwatch.cli import app; app()", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "case", ["packets", "rejected", "missing dictionary", "frame length 0", "missing capture"]
)
def test_a_plain_decode_prints_what_typer_printed(tmp_path: Path, case: str) -> None:
    capture = tmp_path / "capture.dat"
    capture.write_bytes(JPSS1.read_bytes()[: 3 * 71] + b"\x0f\xff")
    args = {
        "packets": ["-d", str(JPSS1_DICTIONARY), "--format", "raw", "-i", str(capture)],
        "rejected": ["--format", "raw", "--frame", "none", "-i", str(capture), "--show-rejected"],
        "missing dictionary": ["-d", str(tmp_path / "none.yaml")],
        "frame length 0": ["--frame-length", "0"],
        "missing capture": ["--format", "raw", "-i", str(tmp_path / "none.dat")],
    }[case]
    assert parse_decode_args(args) is not None
    plain, typed = gw("decode", *args, stdin=b"00\n"), via_typer("decode", *args, stdin=b"00\n")
    assert (plain.returncode, plain.stdout, plain.stderr) == (
        typed.returncode,
        typed.stdout,
        typed.stderr,
    )
    assert plain.returncode == (0 if case in ("packets", "rejected") else 2)
