"""``groundwatch decode``: every --format, an ASM-synchronised stream, with and without a
dictionary; the JSON keys are a contract."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from groundwatch.decoders.api import FramingDef
from groundwatch.decoders.ax25 import Ax25Frame, build_ax25
from groundwatch.decoders.commands import register
from groundwatch.decoders.decode_cli import format_ert, parse_timestamp
from groundwatch.decoders.packing import TmFramePacker
from groundwatch.decoders.space_packet import build_space_packet
from groundwatch.decoders.sync import attach_asm
from groundwatch.kiss import kiss_encode
from groundwatch.model import RawFrame

from .test_frame_decoder import TINY

PACKET_KEYS = {"kind", "ert", "frame", "ax25", "packet", "parameters"}
FRAME_KEYS = {"scid", "vcid", "mcfc", "vcfc", "fhp", "ocf"}
HEADER_KEYS = {"apid", "seq_flags", "seq_count", "data_length", "name"}
HK = bytes.fromhex("01c201")  # tiny dictionary: temp 45.0 degC (yellow high), NOMINAL


def app() -> typer.Typer:
    a = typer.Typer()
    register(a)

    @a.command()
    def version() -> None:  # a second command, so "decode" stays a subcommand
        """(placeholder)"""

    return a


def run(args: list[str], stdin: bytes = b"") -> list[dict[str, Any]]:
    result = CliRunner().invoke(app(), ["decode", *args], input=stdin)
    assert result.exit_code == 0, result.output + str(result.exception)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[-1]["kind"] == "summary"
    return lines


def frames(n: int = 3, framing: FramingDef | None = None, scid: int = 0x2A) -> list[bytes]:
    framing = framing or FramingDef(frame_length=64, fecf=True, ocf=True)
    packer = TmFramePacker(scid, 1, framing)
    return packer.frames_for([build_space_packet(0x10, i, HK) for i in range(n)])


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


def test_hex_without_dictionary_decodes_headers_generically() -> None:
    fs = frames()
    text = f"2026-01-02T03:04:05.123456789Z {fs[0].hex()}\n# comment\n{fs[0][:-3].hex()}\n"
    lines = run(["--frame-length", "64", "--show-rejected"], text.encode())
    packets = [x for x in lines if x["kind"] == "packet"]
    assert len(packets) == 3
    p = packets[0]
    assert set(p) == PACKET_KEYS and set(p["frame"]) == FRAME_KEYS
    assert set(p["packet"]) == HEADER_KEYS
    assert p["ert"] == "2026-01-02T03:04:05.123456789Z"
    assert p["frame"] == {"scid": 42, "vcid": 1, "mcfc": 0, "vcfc": 0, "fhp": 0, "ocf": "00000000"}
    assert p["packet"] == {
        "apid": 16,
        "seq_flags": 3,
        "seq_count": 0,
        "data_length": 2,
        "name": None,
    }
    assert p["parameters"] == {} and p["ax25"] is None
    rejected = [x for x in lines if x["kind"] == "rejected"]
    assert rejected == [
        {
            "kind": "rejected",
            "reason": "wrong_length",
            "detail": "61 octets, frames are 64",
            "hex": fs[0][:-3].hex(),
        }
    ]
    assert lines[-1] == {
        "kind": "summary",
        "frames": 2,
        "packets": 3,
        "idle": {"frames": 0, "packets": 1},
        "rejected": {"wrong_length": 1},
    }


def test_hex_with_dictionary(tiny: Path) -> None:
    lines = run(["--dictionary", str(tiny)], "\n".join(f.hex() for f in frames()).encode())
    p = lines[0]
    assert p["packet"]["name"] == "hk"
    assert p["parameters"] == {
        "temp": {"raw": 450, "eng": 45.0, "unit": "degC", "limit": "yellow_high"},
        "mode": {"raw": 1, "eng": "NOMINAL", "unit": None, "limit": None},
    }
    assert lines[-1]["packets"] == 3 and lines[-1]["rejected"] == {}


def test_rejected_lines_only_with_show_rejected(tiny: Path) -> None:
    foreign = frames(scid=0x2B)[0].hex()
    assert [x["kind"] for x in run(["-d", str(tiny)], foreign.encode())] == ["summary"]
    lines = run(["-d", str(tiny), "--show-rejected"], foreign.encode())
    assert lines[0]["reason"] == "foreign_scid" and lines[0]["hex"] == foreign
    assert lines[-1]["rejected"] == {"foreign_scid": 1}


def test_raw_fixed_length_frames(tmp_path: Path) -> None:
    capture = tmp_path / "capture.bin"
    capture.write_bytes(b"".join(frames(5)))
    lines = run(["--format", "raw", "--frame-length", "64", "--input", str(capture)])
    assert lines[-1]["frames"] == len(frames(5)) and lines[-1]["packets"] == 5
    assert all(x["ert"] is None for x in lines[:-1])


def test_raw_asm_stream_without_dictionary() -> None:
    # Not at the start: the stream is recognised by two markers one frame apart.
    stream = b"\x00noise" + b"".join(attach_asm(f) for f in frames(13))
    lines = run(["--format", "raw", "--frame-length", "64", "--show-rejected"], stream)
    assert lines[0] == {
        "kind": "rejected",
        "reason": "not_synced",
        "detail": "6 octets without sync marker",
        "hex": b"\x00noise".hex(),
    }
    assert lines[-1]["packets"] == 13 and lines[-1]["rejected"] == {"not_synced": 1}


def test_raw_asm_randomised_stream_with_dictionary(tmp_path: Path) -> None:
    path = tmp_path / "asm.yaml"
    path.write_text(TINY.replace("ocf: true}", "ocf: true, asm: true, randomized: true}"))
    fs = frames(13)  # 9-octet packets in 52-octet data fields: 11 end in the first two frames
    assert len(fs) == 3
    stream = b"".join(attach_asm(f, randomize=True) for f in fs)
    lines = run(["--format", "raw", "-d", str(path)], stream[:-10])
    assert [x["packet"]["name"] for x in lines if x["kind"] == "packet"] == ["hk"] * 11
    assert lines[0]["parameters"]["mode"]["eng"] == "NOMINAL"
    assert lines[-1]["rejected"] == {"not_synced": 1}  # the cut-off last frame


def test_kiss_ax25_with_and_without_dictionary(tiny: Path) -> None:
    beacon = build_ax25(Ax25Frame(dst="CQ", src="TINY1", src_ssid=2, info=b"73 de TINY1"))
    hk = build_ax25(Ax25Frame(dst="CQ", src="TINY1", info=build_space_packet(0x10, 1, HK)))
    stream = kiss_encode(beacon) + kiss_encode(hk)
    lines = run(["--format", "kiss", "--frame", "ax25"], stream)
    assert lines[0]["packet"] is None and lines[0]["frame"] is None
    assert lines[0]["payload_hex"] == b"73 de TINY1".hex()
    assert lines[0]["ax25"] == {
        "dst": "CQ",
        "dst_ssid": 0,
        "src": "TINY1",
        "src_ssid": 2,
        "control": 3,
        "pid": 0xF0,
    }
    assert lines[1]["packet"]["apid"] == 16 and lines[1]["packet"]["name"] is None
    with_dict = run(["--format", "kiss", "--frame", "ax25", "-d", str(tiny)], stream)
    assert [x["packet"]["name"] for x in with_dict[:-1]] == ["hk"]
    assert with_dict[-1]["rejected"] == {"unknown_apid": 1}


def test_satnogs_lines(tiny: Path) -> None:
    text = "".join(f"2024-05-01 10:00:0{i}.5|{f.hex().upper()}\n" for i, f in enumerate(frames()))
    lines = run(["--format", "satnogs", "-d", str(tiny)], text.encode())
    assert [x["ert"] for x in lines[:-1]] == ["2024-05-01T10:00:00.500000000Z"] * 3


def test_bare_packets_raw(tmp_path: Path) -> None:
    capture = tmp_path / "l0.bin"
    capture.write_bytes(b"".join(build_space_packet(0x10, i, HK) for i in range(7)) + b"\x00")
    lines = run(["--format", "raw", "--frame", "none", "-i", str(capture)])
    assert lines[-1]["packets"] == 7 and lines[-1]["rejected"] == {"truncated_packet": 1}
    assert lines[0]["frame"] is None and lines[0]["packet"]["seq_count"] == 0


def test_archive(tmp_path: Path, tiny: Path) -> None:
    from groundwatch.archive.writer import FrameArchive

    archive = FrameArchive(tmp_path / "archive")
    archive.open()
    fs = frames(8)  # 5 packets end in the first frame, 3 in the second
    assert len(fs) == 2
    for i, f in enumerate(fs):
        archive.append(RawFrame(f, 1_700_000_000_000_000_000 + i, "gs1"), "tinysat-gs1")
    archive.close()
    lines = run(["--format", "archive", "-d", str(tiny), "-i", str(tmp_path / "archive")])
    assert [x["ert"] for x in lines[:-1]] == [format_ert(1_700_000_000_000_000_000)] * 5 + [
        format_ert(1_700_000_000_000_000_001)
    ] * 3


def test_usage_errors_exit_2() -> None:
    result = CliRunner().invoke(app(), ["decode", "--format", "raw"], input=b"\x00" * 10)
    assert result.exit_code == 2 and "frame-length" in result.stderr
    result = CliRunner().invoke(app(), ["decode", "-d", "/nonexistent.yaml"])
    assert result.exit_code == 2


def test_timestamps() -> None:
    assert parse_timestamp("1970-01-01T00:00:01.000000001Z") == 1_000_000_001
    assert parse_timestamp("1700000000.25") == 1_700_000_000_250_000_000
    assert parse_timestamp("2024-05-01 10:00:00+02:00") == 1_714_550_400 * 10**9
    assert parse_timestamp("deadbeef") is None
    assert format_ert(1_000_000_001) == "1970-01-01T00:00:01.000000001Z"
