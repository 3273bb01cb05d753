"""Disk write-ahead spool: line-protocol batches waiting for InfluxDB, oldest first.

Layout: ``<dir>/spool-<n:012d>.seg`` segment files, appended in order; each record is ::

    magic   4 bytes  b"GWSP"
    length  u32 BE   payload length
    created i64 BE   when the batch was spooled (ns since the epoch)
    lines   u32 BE   number of line-protocol lines in the payload
    crc32   u32 BE   CRC-32 of length|created|lines|payload
    payload          the batch's line-protocol lines, each as u32 BE length + line
                     (not newline-separated: a string field may hold a raw newline)

A record is durable once ``append`` returns (written and fsynced). A crash can leave a torn
record at the end of the newest segment: ``open`` detects it (short or CRC mismatch),
truncates it away and counts it; a damaged record inside an older segment ends that
segment: the rest of the file is moved aside to ``*.corrupt`` for inspection and counted.

Delivery is at least once: a record is forgotten (its segment deleted once every record in
it is acknowledged) only after InfluxDB stored it, so after a crash a segment can be sent
again. InfluxDB overwrites a point with the same series and timestamp, so that never counts
twice.

The disk budget bounds the bytes in all segments. When a record would exceed it, ``append``
refuses it (returns False) and the caller keeps the batch and raises the alarm: the oldest
data on disk is kept, never overwritten. Methods here do blocking file I/O: the sink calls
them through ``asyncio.to_thread``; a lock makes them safe across those threads.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import struct
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass
from pathlib import Path

MAGIC = b"GWSP"
HEADER = struct.Struct(">4sIqII")  # magic, length, created_ns, lines, crc32
_CRC_PART = struct.Struct(">IqI")
DEFAULT_SEGMENT_BYTES = 4 * 1024 * 1024


@dataclass(slots=True, frozen=True)
class SpoolRecord:
    segment: int
    offset: int
    size: int  # header + payload
    created_ns: int
    lines: int


_LINE_LEN = struct.Struct(">I")


def pack_lines(lines: list[bytes]) -> bytes:
    return b"".join(_LINE_LEN.pack(len(line)) + line for line in lines)


def unpack_lines(payload: bytes) -> list[bytes]:
    out: list[bytes] = []
    pos = 0
    while pos < len(payload):
        (n,) = _LINE_LEN.unpack_from(payload, pos)
        out.append(payload[pos + 4 : pos + 4 + n])
        pos += 4 + n
    return out


def _crc(length: int, created_ns: int, lines: int, payload: bytes) -> int:
    return zlib.crc32(payload, zlib.crc32(_CRC_PART.pack(length, created_ns, lines)))


def scan_segment(data: bytes) -> tuple[list[tuple[int, int, int, int]], int, bool]:
    """Records in a segment's bytes: ([(offset, size, created_ns, lines)], good_end, damaged).

    ``good_end`` is where the last intact record ends; ``damaged`` says bytes follow it.
    """
    out: list[tuple[int, int, int, int]] = []
    pos = 0
    while pos + HEADER.size <= len(data):
        magic, length, created, lines, crc = HEADER.unpack_from(data, pos)
        end = pos + HEADER.size + length
        if magic != MAGIC or end > len(data):
            break
        payload = data[pos + HEADER.size : end]
        if _crc(length, created, lines, payload) != crc:
            break
        out.append((pos, end - pos, created, lines))
        pos = end
    return out, pos, pos != len(data)


class SpoolLocked(RuntimeError):
    """Another live process uses this spool directory (two writers would corrupt it)."""


class Spool:
    def __init__(
        self, directory: Path, budget_bytes: int, segment_bytes: int = DEFAULT_SEGMENT_BYTES
    ) -> None:
        self.dir = directory
        self.budget_bytes = budget_bytes
        self.segment_bytes = segment_bytes
        self.torn_records = 0  # torn tails truncated, damaged tails moved aside
        self._lock = threading.Lock()
        self._index: deque[SpoolRecord] = deque()
        self._seg_sizes: dict[int, int] = {}
        self._seg_live: dict[int, int] = {}  # segment -> records not yet acknowledged
        self._active: int | None = None
        self._fd: int | None = None
        self._opened = False
        self._lock_fd: int | None = None
        self._next_seg = 1
        self._total_bytes = 0
        self._total_lines = 0

    # --- state -----------------------------------------------------------------------------

    # Running totals, so the event loop can read them while a thread appends.
    @property
    def size_bytes(self) -> int:
        return self._total_bytes

    @property
    def records(self) -> int:
        return len(self._index)

    @property
    def lines(self) -> int:
        return self._total_lines

    def oldest_created_ns(self) -> int | None:
        try:  # no lock: an append holds it across fsync, and deque[0] is atomic
            return self._index[0].created_ns
        except IndexError:
            return None

    def _path(self, seg: int) -> Path:
        return self.dir / f"spool-{seg:012d}.seg"

    # --- open / close ------------------------------------------------------------------------

    def open(self) -> None:
        """Find what a previous run left; repair a torn tail. Blocking."""
        with self._lock:
            if self._opened:
                return
            self.dir.mkdir(parents=True, exist_ok=True)
            self._take_dir_lock()
            segs = sorted(int(p.stem.split("-")[1]) for p in self.dir.glob("spool-*.seg"))
            for seg in segs:
                path = self._path(seg)
                data = path.read_bytes()
                records, good_end, damaged = scan_segment(data)
                if damaged:
                    self.torn_records += 1
                    if seg != segs[-1]:
                        aside = path.with_suffix(f".{time.time_ns()}.corrupt")
                        aside.write_bytes(data[good_end:])
                    with open(path, "r+b") as f:
                        f.truncate(good_end)
                        os.fsync(f.fileno())
                if not records:
                    path.unlink()
                    continue
                for off, size, created, lines in records:
                    self._index.append(SpoolRecord(seg, off, size, created, lines))
                    self._total_lines += lines
                self._seg_sizes[seg] = good_end
                self._total_bytes += good_end
                self._seg_live[seg] = len(records)
            self._next_seg = (segs[-1] + 1) if segs else 1
            self._opened = True

    def _take_dir_lock(self) -> None:
        # flock, not a PID file: the kernel releases it when the owner dies (even kill -9).
        fd = os.open(self.dir / "spool.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise SpoolLocked(f"{self.dir} is in use by another groundwatch process") from exc
        self._lock_fd = fd

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            self._active = None
            if self._lock_fd is not None:
                os.close(self._lock_fd)  # releases the flock
                self._lock_fd = None
            self._opened = False

    # --- append --------------------------------------------------------------------------------

    def append_lines(self, lines: list[bytes], force: bool = False) -> bool:
        return self.append(pack_lines(lines), len(lines), force)

    def append(self, payload: bytes, lines: int, force: bool = False) -> bool:
        """Write and fsync one record. False (nothing written) when over the disk budget,
        unless ``force`` (used at shutdown: accepted data must survive, budget or not)."""
        self.open()
        created = time.time_ns()
        header = HEADER.pack(
            MAGIC, len(payload), created, lines, _crc(len(payload), created, lines, payload)
        )
        size = len(header) + len(payload)
        with self._lock:
            if not force and self._total_bytes + size > self.budget_bytes:
                return False
            if self._fd is None or self._seg_sizes.get(self._active or 0, 0) >= self.segment_bytes:
                self._rotate()
            assert self._fd is not None and self._active is not None
            offset = self._seg_sizes[self._active]
            os.write(self._fd, header + payload)
            os.fsync(self._fd)
            self._seg_sizes[self._active] = offset + size
            self._total_bytes += size
            self._total_lines += lines
            self._seg_live[self._active] += 1
            self._index.append(SpoolRecord(self._active, offset, size, created, lines))
        return True

    def _rotate(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
        seg = self._next_seg
        self._next_seg += 1
        self._fd = os.open(self._path(seg), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._active = seg
        self._seg_sizes[seg] = 0
        self._seg_live[seg] = 0
        # The new file's directory entry must survive a crash too.
        dir_fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    # --- drain ---------------------------------------------------------------------------------

    def peek(self, skip: int = 0) -> tuple[SpoolRecord, bytes] | None:
        """The oldest unacknowledged record (``skip`` further on) and its payload."""
        with self._lock:
            if len(self._index) <= skip:
                return None
            rec = self._index[skip]
        with open(self._path(rec.segment), "rb") as f:
            f.seek(rec.offset + HEADER.size)
            payload = f.read(rec.size - HEADER.size)
        return rec, payload

    def ack(self, rec: SpoolRecord) -> None:
        """Forget a delivered record; delete its segment once all of it is delivered."""
        with self._lock:
            try:
                self._index.remove(rec)
            except ValueError:
                return
            self._seg_live[rec.segment] -= 1
            self._total_lines -= rec.lines
            if self._seg_live[rec.segment] > 0:
                return
            if rec.segment == self._active:
                if self._fd is not None:
                    os.close(self._fd)
                self._fd = None
                self._active = None
            del self._seg_live[rec.segment]
            self._total_bytes -= self._seg_sizes.pop(rec.segment)
            with contextlib.suppress(FileNotFoundError):
                self._path(rec.segment).unlink()
