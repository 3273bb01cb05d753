"""Replay input: format detection, every reader, line numbers, archive merge, time line."""

from __future__ import annotations

from pathlib import Path

import pytest

from groundwatch.archive.writer import FrameArchive
from groundwatch.decoders.api import FramingDef
from groundwatch.decoders.sync import ASM
from groundwatch.kiss import kiss_encode
from groundwatch.model import ERT_MIN_SPACING_NS, RawFrame
from groundwatch.replay.detect import ReplayFormat, UnknownFormat, detect_format
from groundwatch.replay.recording import RecordedFrame, Recording, TimeLine

FRAMING = FramingDef(frame_length=16, fecf=False, ocf=False)
FRAMES = [bytes([i]) * 16 for i in range(1, 6)]
T0 = 1_700_000_000_000_000_000


def write_formats(d: Path) -> dict[ReplayFormat, Path]:
    files = {
        ReplayFormat.HEX: d / "pass.hex",
        ReplayFormat.SATNOGS: d / "pass.txt",
        ReplayFormat.KISS: d / "pass.kiss",
        ReplayFormat.RAW: d / "pass.bin",
    }
    files[ReplayFormat.HEX].write_text("".join(f.hex() + "\n" for f in FRAMES))
    files[ReplayFormat.SATNOGS].write_text(
        "".join(f"2023-11-14 22:13:{20 + i:02d}|{f.hex().upper()}\n" for i, f in enumerate(FRAMES))
    )
    files[ReplayFormat.KISS].write_bytes(b"".join(kiss_encode(f) for f in FRAMES))
    files[ReplayFormat.RAW].write_bytes(b"".join(FRAMES))
    return files


def test_each_format_is_detected_and_read(tmp_path: Path) -> None:
    for fmt, path in write_formats(tmp_path).items():
        assert detect_format(path) is fmt, path
        rec = Recording([path], None, FRAMING)
        got = list(rec.frames())
        assert [r.data for r in got] == FRAMES, fmt
        assert not rec.problems
        assert got[-1].position == path.stat().st_size


def test_raw_with_attached_sync_markers(tmp_path: Path) -> None:
    path = tmp_path / "asm.bin"
    path.write_bytes(b"".join(ASM + f for f in FRAMES))
    assert detect_format(path) is ReplayFormat.RAW
    assert [r.data for r in Recording([path], None, FRAMING).frames()] == FRAMES


def test_hex_with_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "t.hex"
    path.write_text(
        "".join(f"2023-11-14T22:13:20.{i:03d}Z {f.hex()}\n" for i, f in enumerate(FRAMES))
    )
    assert detect_format(path) is ReplayFormat.HEX
    got = list(Recording([path], None, FRAMING).frames())
    assert [r.ert_ns for r in got] == [T0 + i * 1_000_000 for i in range(5)]


def test_satnogs_corrupt_lines_are_reported_with_line_numbers(tmp_path: Path) -> None:
    lines = [f"2023-11-14 22:13:{20 + i:02d}|{f.hex()}" for i, f in enumerate(FRAMES)]
    lines.insert(2, "2023-11-14 22:13:21|0102zz0405")  # line 3: not hex
    lines.insert(4, "this line has no separator")  # line 5
    lines.insert(5, "yesterday|" + FRAMES[0].hex())  # line 6: no timestamp
    path = tmp_path / "bad.txt"
    path.write_text("\n".join(lines) + "\n")
    rec = Recording([path], ReplayFormat.SATNOGS, FRAMING)
    got = list(rec.frames())
    assert [r.data for r in got] == FRAMES
    assert [(p.where, p.detail) for p in rec.problems] == [
        ("line 3", "not hex"),
        ("line 5", "no '|'"),
        ("line 6", "no readable timestamp"),
    ]
    assert "bad.txt: line 3: not hex" in str(rec.problems[0])


def test_satnogs_export_newest_first_is_replayed_forwards(tmp_path: Path) -> None:
    path = tmp_path / "rev.txt"
    lines = [f"2023-11-14 22:13:{20 + i:02d}|{f.hex()}" for i, f in enumerate(FRAMES)]
    path.write_text("\n".join(reversed(lines)) + "\n")
    got = list(Recording([path], None, FRAMING).frames())
    assert [r.data for r in got] == FRAMES
    assert [r.ert_ns for r in got] == sorted(r.ert_ns for r in got if r.ert_ns is not None)


def test_archive_files_are_merged_by_time(tmp_path: Path) -> None:
    archive = FrameArchive(tmp_path / "arch")
    archive.open()
    for i in range(10):
        station = "gs1" if i % 2 == 0 else "gs2"
        frame = RawFrame(bytes([i]) * 16, T0 + i * 100, station)
        archive.append(frame, f"sc-{station}")
    archive.close()
    assert len(list((tmp_path / "arch").glob("*.gwa"))) == 2
    rec = Recording([tmp_path / "arch"])
    assert rec.format is ReplayFormat.ARCHIVE
    got = list(rec.frames())
    assert [r.ert_ns for r in got] == [T0 + i * 100 for i in range(10)]
    assert [r.station for r in got[:2]] == ["gs1", "gs2"]
    assert got[-1].position == rec.total_bytes


def test_unknown_content_needs_format(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello world, this is prose\nand more prose here\n")
    with pytest.raises(UnknownFormat):
        detect_format(path)


def test_timeline_fills_missing_times_and_keeps_spacing() -> None:
    tl = TimeLine(interval_ns=10**8, start_ns=T0)
    assert tl.ert(RecordedFrame(b"", None, "a", 0)) == T0
    assert tl.ert(RecordedFrame(b"", None, "a", 0)) == T0 + 10**8
    # Two frames recorded in the same second (SatNOGS resolution) stay apart.
    t = T0 + 10**9
    assert tl.ert(RecordedFrame(b"", t, "a", 0)) == t
    assert tl.ert(RecordedFrame(b"", t, "a", 0)) == t + ERT_MIN_SPACING_NS
    assert tl.ert(RecordedFrame(b"", t, "b", 0)) == t  # another station is its own series
