"""The archive's pass files and their descriptors, bounded.

One pass file per active link (spacecraft x station). Stations come from the wire, so the
descriptors are bounded: at most ``max_open`` are open, the least recently written is closed
when another is needed (and reopened, appending, when its link sends again), and a pass that
has not been written for ``idle_close_s`` seconds is ended and its file closed by a timer,
whether or not its link ever sends again.

Closing on the event loop is only ``close()``; the fsync it skips is done later off the loop
(``take_sync``: the paths closed since, fsynced through a fresh read-only descriptor), so a
burst of new links never blocks the loop on the disk.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path


@dataclass(slots=True)
class PassFile:
    path: Path
    start_ert: int
    last_ert: int
    size: int
    fd: int | None = None  # None: closed for now (evicted), reopened on the next append
    used: float = 0.0  # monotonic time of the last append


class PassFiles:
    """Pass files by link, least recently written first."""

    def __init__(self, max_open: int = 256, idle_close_s: float = 60.0) -> None:
        self.max_open = max_open
        self.idle_close_s = idle_close_s
        self.passes: OrderedDict[str, PassFile] = OrderedDict()
        self.open_fds = 0
        self.peak_open_fds = 0
        self.evictions = 0
        self._to_sync: set[Path] = set()

    def get(self, link: str) -> PassFile | None:
        f = self.passes.get(link)
        if f is not None:
            self.passes.move_to_end(link)
        return f

    def add(self, link: str, f: PassFile, fd: int) -> None:
        """A new pass file whose descriptor ``fd`` was just opened (counted from here)."""
        self.passes[link] = f
        self.passes.move_to_end(link)
        f.fd = fd
        self._opened()

    def make_room(self) -> None:
        """Close the least recently written descriptors until one more may be opened."""
        if self.open_fds < self.max_open:
            return
        for f in self.passes.values():
            if f.fd is not None:
                self._close(f)
                self.evictions += 1
                if self.open_fds < self.max_open:
                    return

    def fd_of(self, f: PassFile) -> int:
        """The descriptor to append to ``f``, reopened when it was closed."""
        f.used = time.monotonic()
        if f.fd is None:
            self.make_room()
            f.fd = os.open(f.path, os.O_WRONLY | os.O_APPEND)
            self._opened()
        return f.fd

    def end(self, link: str) -> None:
        """The pass of ``link`` is over (idle gap, size, age): its file is closed."""
        f = self.passes.pop(link, None)
        if f is not None and f.fd is not None:
            self._close(f)

    def end_idle(self, now: float | None = None) -> int:
        """End every pass not written for ``idle_close_s``; how many were ended."""
        edge = (time.monotonic() if now is None else now) - self.idle_close_s
        idle = [link for link, f in self.passes.items() if f.used < edge]
        for link in idle:
            self.end(link)
        return len(idle)

    def end_all(self) -> None:
        for link in list(self.passes):
            self.end(link)

    def take_sync(self) -> tuple[list[Path], list[int]]:
        """Files closed since the last call (to fsync by path), and a duplicate of each
        descriptor still open: ``fsync`` runs in a thread while the loop may close a file and
        open another under the same number, so it syncs (and closes) its own copies."""
        closed, self._to_sync = self._to_sync, set()
        fds = []
        for f in self.passes.values():
            if f.fd is not None:
                with contextlib.suppress(OSError):
                    fds.append(os.dup(f.fd))
        return list(closed), fds

    @staticmethod
    def fsync(paths: list[Path], fds: list[int]) -> None:
        """Blocking: run off the event loop. Closes ``fds`` (those of ``take_sync``)."""
        for path in paths:
            with contextlib.suppress(OSError):
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        for fd in fds:
            try:
                os.fsync(fd)
            except OSError:
                pass
            finally:
                os.close(fd)

    def _opened(self) -> None:
        self.open_fds += 1
        self.peak_open_fds = max(self.peak_open_fds, self.open_fds)

    def _close(self, f: PassFile) -> None:
        assert f.fd is not None
        with contextlib.suppress(OSError):
            os.close(f.fd)
        f.fd = None
        self.open_fds -= 1
        self._to_sync.add(f.path)
