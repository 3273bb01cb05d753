"""The archive keeps few descriptors open whatever the number of links, ends idle passes on
its timer, and a write the disk refuses is loud (one ARCHIVE_FAILED, cleared after)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from groundwatch.archive.reader import ArchiveReader
from groundwatch.archive.writer import FrameArchive
from groundwatch.model import Event, EventType, RawFrame, Severity

S = 1_000_000_000


def _frame(i: int, station: str) -> RawFrame:
    return RawFrame(i.to_bytes(4, "big"), 100 * S + i, station, "live", "mqtt")


def test_many_links_few_descriptors_every_frame_kept(tmp_path: Path) -> None:
    a = FrameArchive(tmp_path, max_open_files=4)
    frames = [_frame(i, f"gs{i % 50}") for i in range(500)]  # 50 links, interleaved
    for f in frames:
        assert a.append(f, f"lander-{f.station}") is not None
        assert a.health()["open_files"] <= 4
    health = a.health()
    assert health["passes"] == 50 and health["open_files_peak"] == 4 and health["evictions"]
    a.close()
    assert a.health()["open_files"] == 0
    files = a.files()
    assert len(files) == 50  # a link's pass stays one file, reopened to append
    got = sorted((f for f, _ in ArchiveReader(files)), key=lambda f: f.ert_ns)
    assert got == frames


def test_idle_passes_are_ended_by_the_timer(tmp_path: Path) -> None:
    a = FrameArchive(tmp_path, idle_gap_s=60, max_open_files=8)
    for i in range(6):
        a.append(_frame(i, f"gs{i}"), f"lander-gs{i}")
    assert a._files.end_idle(time.monotonic() + 61) == 6
    assert a.health()["passes"] == 0 and a.health()["open_files"] == 0
    a.close()


def test_a_refused_write_raises_one_critical_alert_then_clears(tmp_path: Path) -> None:
    events: list[Event] = []
    d = tmp_path / "archive"
    a = FrameArchive(d, on_alert=events.append)
    assert a.append(_frame(0, "gs1"), "lander-gs1") is not None
    a.close()
    os.rename(d, tmp_path / "moved")
    d.write_text("not a directory")  # every new pass file now fails
    assert a.append(_frame(1, "gs2"), "lander-gs2") is None
    assert a.append(_frame(2, "gs3"), "lander-gs3") is None
    assert [(e.type, e.severity) for e in events] == [
        (EventType.ARCHIVE_FAILED, Severity.CRITICAL)
    ]
    assert a.health()["errors"] == 2 and a.health()["failing"] == 1
    d.unlink()
    d.mkdir()
    assert a.append(_frame(3, "gs4"), "lander-gs4") is not None
    assert [e.recovery for e in events] == [False, True]
    assert a.health()["failing"] == 0
    a.close()


def test_the_sync_round_fsyncs_its_own_descriptors(tmp_path: Path) -> None:
    """The fsync thread gets duplicates: the loop may close a pass file meanwhile (and the
    number be reused), and the copies are closed once synced."""
    a = FrameArchive(tmp_path, max_open_files=4)
    a.append(_frame(1, "gs1"), "lander-gs1")
    (open_fd,) = [f.fd for f in a._files.passes.values()]
    paths, fds = a._files.take_sync()
    assert len(fds) == 1 and fds[0] != open_fd
    a.close()  # the loop ends the pass while the copy waits for its fsync
    a._files.fsync(paths, fds)
    for fd in fds:
        try:
            os.fstat(fd)
        except OSError:
            continue
        raise AssertionError(f"descriptor {fd} left open")


async def test_stop_waits_for_the_sync_round_instead_of_running_beside_it(
    tmp_path: Path,
) -> None:
    import asyncio
    import threading

    a = FrameArchive(tmp_path, sync_interval_s=0.05)
    inside, most, lock = 0, 0, threading.Lock()
    flush = a.flush_commits

    def slow_flush() -> None:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        time.sleep(0.3)
        flush()
        with lock:
            inside -= 1

    a.flush_commits = slow_flush  # type: ignore[method-assign]
    await a.start()
    a.append(_frame(1, "gs1"), "lander-gs1")
    await asyncio.sleep(0.15)  # the loop is inside a round's commit write
    await a.stop()
    assert most == 1  # close() wrote its commits after the round, not beside it
    assert a.health()["open_files"] == 0
