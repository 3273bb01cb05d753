"""Reading the raw frame archive (format: see ``groundwatch.archive.format``)."""

from __future__ import annotations

import mmap
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from groundwatch.archive.format import (
    CRC_FIELD,
    CRC_LEN,
    I64,
    REC_HEAD,
    REC_MAGIC,
    U16,
    VERSION_META,
    VERSIONS,
    decode_meta,
    read_header,
)
from groundwatch.model import FrameMeta, RawFrame


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


# One record: frame bytes, earth-received time, station, source, ingest, end offset,
# station metadata (None in a version 1 record).
Record = tuple[bytes, int, str, str, str, int, FrameMeta | None]
_TEXTS_CACHED = 64  # distinct (station, source, ingest) headers remembered per file


class _RecordParser:
    """Parses records of one mapped file without copying more than the frame's bytes.

    The CRC is computed over a view of the map, and the three texts of a record (station,
    source, ingest: the same on nearly every record of a file) are decoded once per
    distinct header, so a record costs about one copy of its frame."""

    def __init__(self, view: memoryview, size: int) -> None:
        self.view = view
        self.size = size
        self._texts: dict[bytes, tuple[str, str, str, int]] = {}
        self._last_raw: bytes | None = None
        self._last_texts = ("", "", "", 0)

    def record(self, pos: int) -> Record | None:
        view = self.view
        if pos + REC_HEAD.size > self.size:
            return None
        magic, version, length = REC_HEAD.unpack_from(view, pos)
        end = pos + REC_HEAD.size + length + CRC_LEN
        if magic != REC_MAGIC or version not in VERSIONS or end > self.size:
            return None
        # The CRC covers the length field and the body: contiguous in the file.
        crc_at = end - CRC_LEN
        if zlib.crc32(view[pos + 3 : crc_at]) != CRC_FIELD.unpack_from(view, crc_at)[0]:
            return None
        start = pos + REC_HEAD.size
        try:
            (ert,) = I64.unpack_from(view, start)
            station, source, ingest, skip = self._texts_at(start + 8, crc_at)
            meta = None
            if version == VERSION_META:
                at = start + 8 + skip
                (n,) = U16.unpack_from(view, at)
                if at + 2 + n > crc_at:
                    return None
                meta = decode_meta(bytes(view[at + 2 : at + 2 + n]))
                skip += 2 + n
        except (struct.error, ValueError, TypeError):
            return None
        data = bytes(view[start + 8 + skip : crc_at])
        return data, ert, station, source, ingest, end, meta

    def _texts_at(self, pos: int, limit: int) -> tuple[str, str, str, int]:
        """(station, source, ingest, bytes they take) of the texts starting at ``pos``."""
        view = self.view
        last = self._last_raw  # the texts of the previous record: equal bytes, equal texts
        if last is not None and pos + len(last) <= limit and view[pos : pos + len(last)] == last:
            return self._last_texts
        p = pos
        for _ in range(3):
            (n,) = U16.unpack_from(view, p)
            p += 2 + n
        if p > limit:
            raise ValueError("texts run past the record")
        raw = bytes(view[pos:p])
        got = self._texts.get(raw)
        if got is None:
            texts = []
            q = 0
            for _ in range(3):
                (n,) = U16.unpack_from(raw, q)
                texts.append(raw[q + 2 : q + 2 + n].decode("utf-8", "replace"))
                q += 2 + n
            got = (texts[0], texts[1], texts[2], p - pos)
            if len(self._texts) < _TEXTS_CACHED:
                self._texts[raw] = got
        self._last_raw, self._last_texts = raw, got
        return got


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
            name = str(path)
            for data, ert, station, source, ingest, end, meta in self._read(path):
                frame = RawFrame(data, ert, station, source, ingest, meta=meta)
                yield frame, ArchivePosition(name, end)

    def records(self) -> Iterator[Record]:
        """Plain tuples, no objects per frame: for a reader that builds its own (replay)."""
        for path in self.paths:
            yield from self._read(path)

    def _read(self, path: Path) -> Iterator[Record]:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            if size == 0:
                self.problems.append(ArchiveProblem(str(path), 0, "bad_header"))
                return
            with (
                mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data,
                memoryview(data) as view,  # released before the map closes
            ):
                try:
                    link, _created, pos = read_header(data)
                except (ValueError, struct.error):
                    self.problems.append(ArchiveProblem(str(path), 0, "bad_header"))
                    return
                self.links[path] = link
                pos = max(pos, self.start_offsets.get(path, 0))
                parser = _RecordParser(view, size)
                record = parser.record
                while pos < size:
                    got = record(pos)
                    if got is None:
                        if self._complete_record_follows(data, parser, pos, size):
                            self.problems.append(ArchiveProblem(str(path), pos, "corrupt"))
                            pos = self._resync(data, parser, pos + 1, size)
                            continue
                        self.problems.append(ArchiveProblem(str(path), pos, "torn"))
                        return
                    yield got
                    pos = got[5]

    def _complete_record_follows(
        self, data: mmap.mmap, parser: _RecordParser, pos: int, size: int
    ) -> bool:
        """Is there an intact record after ``pos``? Then the damage is not a torn tail."""
        return self._resync(data, parser, pos + 1, size) < size

    def _resync(self, data: mmap.mmap, parser: _RecordParser, pos: int, size: int) -> int:
        while True:
            # The next record of either version: the nearer of the two magics.
            found = [
                p for v in VERSIONS if (p := data.find(REC_MAGIC + bytes([v]), pos)) >= 0
            ]
            if not found:
                return size
            pos = min(found)
            if parser.record(pos) is not None:
                return pos
            pos += 1


def last_frame(path: Path, tail_bytes: int = 1 << 20) -> RawFrame | None:
    """The last intact frame of an archive file, read from its tail only (a file may be
    hundreds of MB: the records before the last ``tail_bytes`` are not read)."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            if size == 0:
                return None
            with (
                mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data,
                memoryview(data) as view,
            ):
                try:
                    _link, _created, pos = read_header(data)
                except (ValueError, struct.error):
                    return None
                reader = ArchiveReader([path])
                parser = _RecordParser(view, size)
                pos = reader._resync(data, parser, max(pos, size - tail_bytes), size)
                last = None
                while pos < size and (got := parser.record(pos)) is not None:
                    last = got
                    pos = got[5]
    except OSError:
        return None
    if last is None:
        return None
    data_, ert, station, source, ingest, _end, meta = last
    return RawFrame(data_, ert, station, source, ingest, meta=meta)


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
