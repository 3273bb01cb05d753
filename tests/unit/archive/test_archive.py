from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from groundwatch.archive.reader import ArchivePosition, ArchiveReader, list_passes
from groundwatch.archive.writer import FrameArchive
from groundwatch.model import RawFrame

S = 1_000_000_000


def _append(a: FrameArchive, f: RawFrame, link: str) -> ArchivePosition:
    pos = a.append(f, link)
    assert pos is not None
    return pos


def _frame(i: int, t: int, station: str = "gs1") -> RawFrame:
    return RawFrame(bytes([i % 256]) * (10 + i % 7), t, station, "live", "mqtt")


def test_round_trip_and_new_file_after_idle_gap(tmp_path: Path) -> None:
    a = FrameArchive(tmp_path, idle_gap_s=5)
    frames = [_frame(i, 100 * S + i * S // 10) for i in range(20)]
    frames += [_frame(i, 200 * S + i * S // 10) for i in range(20, 30)]  # next pass
    for f in frames:
        a.append(f, "lander/gs1")
    a.close()
    files = a.files()
    assert len(files) == 2
    reader = ArchiveReader(files)
    assert [f for f, _ in reader] == frames
    assert reader.problems == []
    passes = list_passes(tmp_path)
    assert [(p.link, p.frames, p.start_ns, p.end_ns) for p in passes] == [
        ("lander/gs1", 20, frames[0].ert_ns, frames[19].ert_ns),
        ("lander/gs1", 10, frames[20].ert_ns, frames[29].ert_ns),
    ]


def test_rotation_by_size_and_age(tmp_path: Path) -> None:
    a = FrameArchive(tmp_path, idle_gap_s=60, max_file_bytes=300, max_file_age_s=1000)
    for i in range(30):
        a.append(_frame(i, 100 * S + i * S), "l")
    a.close()
    assert len(a.files()) > 3
    assert sum(p.frames for p in list_passes(tmp_path)) == 30
    b = FrameArchive(tmp_path / "age", idle_gap_s=60, max_file_age_s=2)
    for i in range(6):
        b.append(_frame(i, 100 * S + i * S), "l")
    b.close()
    assert len(b.files()) == 2


def test_torn_last_record_is_reported_and_skipped(tmp_path: Path) -> None:
    a = FrameArchive(tmp_path)
    frames = [_frame(i, 100 * S + i) for i in range(5)]
    for f in frames:
        a.append(f, "l")
    a.close()
    path = a.files()[0]
    path.write_bytes(path.read_bytes()[:-4])
    reader = ArchiveReader([path])
    assert [f for f, _ in reader] == frames[:4]
    assert [p.kind for p in reader.problems] == ["torn"]


def test_corrupt_record_in_the_middle_is_skipped_and_reading_goes_on(tmp_path: Path) -> None:
    a = FrameArchive(tmp_path)
    frames = [_frame(i, 100 * S + i) for i in range(5)]
    positions = [_append(a, f, "l") for f in frames]
    a.close()
    path = a.files()[0]
    data = bytearray(path.read_bytes())
    data[positions[1].offset + 12] ^= 0xFF  # inside record 2's body
    path.write_bytes(bytes(data))
    reader = ArchiveReader([path])
    assert [f for f, _ in reader] == [frames[0], frames[1], frames[3], frames[4]]
    assert [p.kind for p in reader.problems] == ["corrupt"]


def test_uncommitted_yields_frames_after_the_committed_offset(tmp_path: Path) -> None:
    a = FrameArchive(tmp_path)
    frames = [_frame(i, 100 * S + i, station=f"gs{i % 2}") for i in range(10)]
    positions = [_append(a, f, f.station) for f in frames]
    a.commit(positions[6])  # gs0: frames 0,2,4,6 done
    a.commit(positions[3])  # gs1: frames 1,3 done
    a.close()  # what a crash leaves, plus the commit sidecars
    fresh = FrameArchive(tmp_path)
    left = sorted(fresh.uncommitted(), key=lambda f: f.ert_ns)
    assert left == [frames[5], frames[7], frames[8], frames[9]]


def test_appended_record_is_in_the_file_without_close(tmp_path: Path) -> None:
    a = FrameArchive(tmp_path)
    f = _frame(1, 5 * S)
    pos = _append(a, f, "l")
    assert Path(pos.path).stat().st_size == pos.offset  # reached the OS: survives kill -9
    assert [x for x, _ in ArchiveReader([Path(pos.path)])] == [f]
    a.close()


CHILD = """
import sys
from pathlib import Path
from groundwatch.model import RawFrame
from groundwatch.archive.writer import FrameArchive
a = FrameArchive(Path(sys.argv[1]))
i = 0
while True:
    a.append(RawFrame(i.to_bytes(4, "big") * 64, 10**18 + i, "gs1"), "gs1")
    i += 1
    if i % 500 == 0:
        print(i, flush=True)
"""


def test_kill_9_loses_no_appended_record(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    reported = 0
    while reported < 5000:
        reported = int(child.stdout.readline())
    child.kill()  # SIGKILL while it keeps appending: no close, no fsync
    child.wait()
    reader = ArchiveReader(sorted(tmp_path.glob("*.gwa")))
    frames = [f for f, _ in reader]
    assert len(frames) >= reported  # every append that returned is on disk
    assert [int.from_bytes(f.data[:4], "big") for f in frames] == list(range(len(frames)))
    assert [p.kind for p in reader.problems] in ([], ["torn"])


def test_records_whose_texts_change_read_back_exactly(tmp_path: Path) -> None:
    # The reader decodes a record's station/source/ingest once per distinct header and
    # reuses the previous record's: every switch must still be seen.
    a = FrameArchive(tmp_path)
    frames = [
        RawFrame(bytes([i]) * 20, 100 * S + i, station, source, ingest)
        for i, (station, source, ingest) in enumerate(
            [
                ("gs1", "live", "mqtt"),
                ("gs1", "live", "mqtt"),
                ("gs22", "live", "mqtt"),  # a longer text: the texts take more bytes
                ("gs1", "live", "udp"),
                ("g", "replay:x", ""),
                ("gs1", "live", "mqtt"),
                ("gs1", "live", "mqtt"),
            ]
        )
    ]
    for f in frames:
        a.append(f, "l")
    a.close()
    assert [f for f, _ in ArchiveReader(a.files())] == frames
