"""Reading the raw frame archive (format: see ``groundwatch.store.archive``)."""

from __future__ import annotations

import mmap
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from groundwatch.model import RawFrame

FILE_MAGIC = b"GWARCHV1"
REC_MAGIC = b"GW"
VERSION = 1
REC_HEAD = struct.Struct(">2sBI")  # magic, version, body length
_U16 = struct.Struct(">H")
_I64 = struct.Struct(">q")
_CRC = 4


@dataclass(slots=True, frozen=True)
class ArchivePosition:
    """A place in the archive: the end offset of a record in a file."""

    path: str
    offset: int


@dataclass(slots=True, frozen=True)
class ArchiveProblem:
    path: str
    offset: int
    kind: str  # "torn" (cut short at the end), "corrupt" (damaged, skipped), "bad_header"


@dataclass(slots=True)
class PassInfo:
    path: Path
    link: str
    start_ns: int | None
    end_ns: int | None
    frames: int
    bytes: int
    problems: list[ArchiveProblem] = field(default_factory=list)


def committed_offset(path: Path) -> int:
    try:
        return int(path.with_name(path.name + ".commit").read_text().strip())
    except (OSError, ValueError):
        return 0


def read_header(data: bytes | mmap.mmap) -> tuple[str, int, int]:
    """(link, created_ns, header length); ValueError when this is not an archive file."""
    if data[:8] != FILE_MAGIC:
        raise ValueError("not a groundwatch archive file")
    (n,) = _U16.unpack_from(data, 8)
    link = bytes(data[10 : 10 + n]).decode("utf-8", "replace")
    (created,) = _I64.unpack_from(data, 10 + n)
    return link, created, 10 + n + 8


def _decode_body(body: bytes) -> RawFrame:
    (ert,) = _I64.unpack_from(body, 0)
    pos = 8
    texts = []
    for _ in range(3):
        (n,) = _U16.unpack_from(body, pos)
        texts.append(body[pos + 2 : pos + 2 + n].decode("utf-8", "replace"))
        pos += 2 + n
    return RawFrame(data=body[pos:], ert_ns=ert, station=texts[0], source=texts[1], ingest=texts[2])


class ArchiveReader:
    """Iterate ``(RawFrame, ArchivePosition)`` over files in order; ``problems`` lists torn
    and corrupt records met so far (they are skipped, never raised)."""

    def __init__(self, paths: list[Path], start_offsets: dict[Path, int] | None = None) -> None:
        self.paths = [Path(p) for p in paths]
        self.start_offsets = start_offsets or {}
        self.problems: list[ArchiveProblem] = []
        self.links: dict[Path, str] = {}

    def __iter__(self) -> Iterator[tuple[RawFrame, ArchivePosition]]:
        for path in self.paths:
            yield from self._read(path)

    def _read(self, path: Path) -> Iterator[tuple[RawFrame, ArchivePosition]]:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            if size == 0:
                self.problems.append(ArchiveProblem(str(path), 0, "bad_header"))
                return
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
                try:
                    link, _created, pos = read_header(data)
                except (ValueError, struct.error):
                    self.problems.append(ArchiveProblem(str(path), 0, "bad_header"))
                    return
                self.links[path] = link
                pos = max(pos, self.start_offsets.get(path, 0))
                while pos < size:
                    got = self._record(data, pos, size)
                    if got is None:
                        if self._complete_record_follows(data, pos, size):
                            self.problems.append(ArchiveProblem(str(path), pos, "corrupt"))
                            pos = self._resync(data, pos + 1, size)
                            continue
                        self.problems.append(ArchiveProblem(str(path), pos, "torn"))
                        return
                    frame, end = got
                    yield frame, ArchivePosition(str(path), end)
                    pos = end

    @staticmethod
    def _record(data: mmap.mmap, pos: int, size: int) -> tuple[RawFrame, int] | None:
        if pos + REC_HEAD.size > size:
            return None
        magic, version, length = REC_HEAD.unpack_from(data, pos)
        end = pos + REC_HEAD.size + length + _CRC
        if magic != REC_MAGIC or version != VERSION or end > size:
            return None
        body = data[pos + REC_HEAD.size : end - _CRC]
        crc = zlib.crc32(body, zlib.crc32(data[pos + 3 : pos + REC_HEAD.size]))
        if crc != int.from_bytes(data[end - _CRC : end], "big"):
            return None
        try:
            return _decode_body(body), end
        except struct.error:
            return None

    def _complete_record_follows(self, data: mmap.mmap, pos: int, size: int) -> bool:
        """Is there an intact record after ``pos``? Then the damage is not a torn tail."""
        return self._resync(data, pos + 1, size) < size

    def _resync(self, data: mmap.mmap, pos: int, size: int) -> int:
        while True:
            pos = data.find(REC_MAGIC + bytes([VERSION]), pos)
            if pos < 0:
                return size
            if self._record(data, pos, size) is not None:
                return pos
            pos += 1


def list_passes(directory: Path) -> list[PassInfo]:
    """Per archive file: link, first and last earth-received time, frames (for replay)."""
    out: list[PassInfo] = []
    for path in sorted(Path(directory).glob("*.gwa")):
        reader = ArchiveReader([path])
        start = end = None
        frames = 0
        for frame, _pos in reader:
            frames += 1
            start = frame.ert_ns if start is None else min(start, frame.ert_ns)
            end = frame.ert_ns if end is None else max(end, frame.ert_ns)
        out.append(
            PassInfo(
                path,
                reader.links.get(path, ""),
                start,
                end,
                frames,
                path.stat().st_size,
                reader.problems,
            )
        )
    out.sort(key=lambda p: (p.start_ns or 0, p.path.name))
    return out
