"""The raw frame archive: every received frame, valid or not, appended before decoding.

Archive format: see ``groundwatch.archive.format``.

Committed offsets: ``<file>.commit`` holds the offset (ASCII decimal) up to which every
frame's points are known to be in InfluxDB or the store's spool; it is replaced atomically
(write + rename). After a crash, ``uncommitted()`` yields the frames after those offsets so
the pipeline decodes them again (writes are idempotent: nothing counts twice).

Bounded: the pass files' descriptors are managed by ``files.PassFiles`` (at most
``max_open_files`` open, least recently written closed first, idle passes ended by the sync
timer), and committed offsets are kept only for files still in a pass or not yet flushed.

Failures are loud: an append the disk refuses returns None (the pipeline then does not
acknowledge the frame to its source), is counted in ``counters.errors`` and raises one
critical ``ARCHIVE_FAILED`` event through ``on_alert``, cleared when appends succeed again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from groundwatch.archive.files import PassFile, PassFiles
from groundwatch.archive.format import encode_record, file_header
from groundwatch.archive.reader import (
    ArchivePosition,
    ArchiveReader,
    PassInfo,
    committed_offset,
    last_frame,
    list_passes,
)
from groundwatch.config import ArchiveConfig
from groundwatch.model import Event, EventType, RawFrame, Severity
from groundwatch.parts import Counters

log = logging.getLogger(__name__)

__all__ = [
    "ArchivePosition",
    "ArchiveReader",
    "FrameArchive",
    "PassInfo",
    "encode_record",
    "list_passes",
]

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class FrameArchive:
    def __init__(
        self,
        directory: Path,
        idle_gap_s: float = 60.0,
        max_file_bytes: int = 256 * 1024 * 1024,
        max_file_age_s: float = 3600.0,
        retention_s: float | None = None,
        sync_interval_s: float = 1.0,
        max_open_files: int = 256,
        on_alert: Callable[[Event], None] | None = None,
    ) -> None:
        self.dir = directory
        self.idle_gap_ns = int(idle_gap_s * 1e9)
        self.max_file_bytes = max_file_bytes
        self.max_file_age_ns = int(max_file_age_s * 1e9)
        self.retention_s = retention_s
        self.sync_interval_s = sync_interval_s
        self.counters = Counters()
        self._last_error_log = 0.0
        self._last_retention = 0.0
        self._files = PassFiles(max_open_files, idle_gap_s)
        self.on_alert = on_alert
        self._failing_since: int | None = None  # ARCHIVE_FAILED raised and not cleared
        self._commits: dict[Path, int] = {}
        self._dirty: set[Path] = set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._ready = False

    @classmethod
    def from_config(
        cls, cfg: ArchiveConfig, on_alert: Callable[[Event], None] | None = None
    ) -> FrameArchive:
        return cls(
            cfg.dir,
            cfg.idle_gap,
            int(cfg.max_file_mb * 1024 * 1024),
            cfg.max_file_age,
            cfg.retention_days * 86400 if cfg.retention_days is not None else None,
            max_open_files=cfg.max_open_files,
            on_alert=on_alert,
        )

    # --- lifecycle ---------------------------------------------------------------------------

    def open(self) -> None:
        """Create the directory, apply retention. Blocking (small)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self._apply_retention()
        self._ready = True

    async def start(self) -> None:
        await asyncio.to_thread(self.open)
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._sync_loop(), name="archive-sync")

    async def stop(self) -> None:
        """Let the sync loop finish the round it is in (not cancelled: its fsync and commit
        writes run in threads, which a cancel would leave running beside ``close``), then
        close every file."""
        if self._task is not None:
            self._stopping.set()
            await self._task
            self._task = None
        await asyncio.to_thread(self.close)

    def close(self) -> None:
        """fsync and close every file, write pending commits. Blocking."""
        self._files.end_all()
        self.sync()

    def sync(self) -> None:
        """fsync open and recently closed files, write pending commit sidecars. Blocking."""
        self._forget_commits()
        paths, fds = self._files.take_sync()
        PassFiles.fsync(paths, fds)
        self.flush_commits()

    async def _sync_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.sync_interval_s)
            if self._stopping.is_set():
                return
            try:
                await self._sync_round()
            except Exception:  # counted (/health), and the next round tries again
                self.counters.errors += 1
                log.exception("archive: sync failed")

    async def _sync_round(self) -> None:
        # On the loop: the pass files and commits are the loop's; the disk work is not.
        self._files.end_idle()
        self._forget_commits()
        paths, fds = self._files.take_sync()
        await asyncio.to_thread(PassFiles.fsync, paths, fds)
        await asyncio.to_thread(self.flush_commits)
        if time.monotonic() - self._last_retention > 600:
            self._last_retention = time.monotonic()
            await asyncio.to_thread(self._apply_retention)

    # --- append ------------------------------------------------------------------------------

    def append(self, frame: RawFrame, link: str) -> ArchivePosition | None:
        """Archive one frame (one unbuffered write: microseconds). Call before decoding.

        None when the disk refuses the write (full, read-only): counted in
        ``counters.errors`` and logged once per minute; live decoding must go on.
        """
        try:
            pos = self._append(frame, link)
        except OSError as exc:
            self.counters.errors += 1
            now = time.monotonic()
            if now - self._last_error_log > 60:
                self._last_error_log = now
                log.error("archive: cannot write %s (%d failed so far)", exc, self.counters.errors)
            if self._failing_since is None:
                self._failing_since = time.time_ns()
                self._alert(False, f"cannot archive frames: {exc}")
            return None
        self.counters.received += 1
        if self._failing_since is not None:
            self._alert(True, "frames are archived again")
            self._failing_since = None
        return pos

    def health(self) -> dict[str, int]:
        """For /health: counters plus the pass files and their descriptors."""
        f = self._files
        return {
            **self.counters.as_dict(),
            "failing": int(self._failing_since is not None),
            "passes": len(f.passes),
            "open_files": f.open_fds,
            "open_files_peak": f.peak_open_fds,
            "open_files_max": f.max_open,
            "evictions": f.evictions,
        }

    def _alert(self, recovery: bool, text: str) -> None:
        if not recovery:
            log.critical("archive: %s", text)
        if self.on_alert is None:
            return
        event = Event(
            type=EventType.ARCHIVE_FAILED,
            severity=Severity.INFO if recovery else Severity.CRITICAL,
            time_ns=time.time_ns(),
            spacecraft=None,
            station=None,
            title="Raw frame archive failing" + (" (cleared)" if recovery else ""),
            text=text + ("" if recovery else "; frames are not acknowledged to their source"),
            condition="ARCHIVE_FAILED/archive",
            id=f"ARCHIVE_FAILED/archive/{self._failing_since}",
            recovery=recovery,
            details={"errors": self.counters.errors},
        )
        try:
            self.on_alert(event)
        except Exception:  # the caller's bug must not stop archiving
            log.exception("archive: on_alert callback failed")

    def _append(self, frame: RawFrame, link: str) -> ArchivePosition:
        if not self._ready:
            self.open()
        f = self._files.get(link)
        if f is not None and (
            frame.ert_ns - f.last_ert > self.idle_gap_ns
            or f.size >= self.max_file_bytes
            or frame.ert_ns - f.start_ert > self.max_file_age_ns
        ):
            self._files.end(link)
            f = None
        if f is None:
            f = self._new_file(link, frame.ert_ns)
        record = encode_record(frame)
        written = os.write(self._files.fd_of(f), record)
        f.size += written
        if written != len(record):  # short write (disk full): the reader resyncs past it
            raise OSError(f"short write to {f.path}: {written} of {len(record)} bytes")
        f.last_ert = max(f.last_ert, frame.ert_ns)
        return ArchivePosition(str(f.path), f.size)

    def _new_file(self, link: str, ert_ns: int) -> PassFile:
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(ert_ns / 1e9))
        safe = _SAFE.sub("_", link) or "link"
        path = self.dir / f"{safe}_{stamp}Z_{ert_ns}.gwa"
        n = 1
        while path.exists():
            path = self.dir / f"{safe}_{stamp}Z_{ert_ns}-{n}.gwa"
            n += 1
        self._files.make_room()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        header = file_header(link, time.time_ns())
        f = PassFile(path, ert_ns, ert_ns, len(header))
        self._files.add(link, f, fd)
        os.write(fd, header)
        return f

    # --- commits -----------------------------------------------------------------------------

    def commit(self, position: ArchivePosition) -> None:
        """Every frame up to ``position`` in its file is durable downstream. Cheap: the
        sidecar is written by the next ``sync()`` (a lost commit only means re-decoding)."""
        path = Path(position.path)
        if position.offset > self._commits.get(path, -1):
            self._commits[path] = position.offset
            self._dirty.add(path)

    def flush_commits(self) -> None:
        dirty, self._dirty = self._dirty, set()
        for path in dirty:
            offset = self._commits[path]
            side = path.with_name(path.name + ".commit")
            tmp = side.with_name(side.name + ".tmp")
            try:
                tmp.write_text(f"{offset}\n")
                os.replace(tmp, side)
            except OSError as exc:  # a lost commit only means decoding those frames again
                self.counters.bump("commit_errors")
                log.error("archive: cannot write the commit of %s: %s", path.name, exc)

    def _forget_commits(self) -> None:
        """Bounded: the offset of a file whose pass ended is in its sidecar once flushed."""
        current = {f.path for f in self._files.passes.values()}
        for path in [p for p in self._commits if p not in current and p not in self._dirty]:
            del self._commits[path]

    def files(self) -> list[Path]:
        return sorted(self.dir.glob("*.gwa"), key=lambda p: (_start_of(p), p.name))

    def uncommitted_with_positions(self) -> Iterator[tuple[RawFrame, ArchivePosition]]:
        """Frames after the committed offset of every archive file, file by file."""
        for path in self.files():
            start = max(committed_offset(path), self._commits.get(path, 0))
            reader = ArchiveReader([path], start_offsets={path: start})
            yield from reader
            for p in reader.problems:
                log.warning("archive %s: %s record at offset %d", p.path, p.kind, p.offset)

    def latest_frames(self) -> list[tuple[str, RawFrame]]:
        """(link, last frame) of the newest file of every link: where each link stood when
        groundwatch last stopped (the link monitor restores them at start)."""
        newest: dict[str, Path] = {}
        for path in self.files():  # oldest first: the last one per link wins
            newest[_link_of(path)] = path
        out = []
        for link, path in newest.items():
            frame = last_frame(path)
            if frame is not None:
                out.append((link, frame))
        return out

    def uncommitted(self) -> Iterator[RawFrame]:
        for frame, _pos in self.uncommitted_with_positions():
            yield frame

    # --- retention ---------------------------------------------------------------------------

    def _apply_retention(self) -> None:
        if self.retention_s is None:
            return
        cutoff = time.time() - self.retention_s
        open_paths = {f.path for f in self._files.passes.values()}
        for path in self.dir.glob("*.gwa"):
            if path in open_paths:
                continue
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    path.with_name(path.name + ".commit").unlink(missing_ok=True)
                    log.info("archive: retention removed %s", path.name)


def _link_of(path: Path) -> str:
    """The (sanitised) link part of an archive file name."""
    m = re.match(r"(.*)_\d{8}T\d{6}Z_\d+(?:-\d+)?\.gwa$", path.name)
    return m.group(1) if m else path.name


def _start_of(path: Path) -> int:
    m = re.search(r"Z_(\d+)(?:-\d+)?\.gwa$", path.name)
    return int(m.group(1)) if m else 0
