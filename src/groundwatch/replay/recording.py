"""Reading recorded passes: the frames of one or more files in earth-received time order.

The readers of ``groundwatch decode`` (``decoders.decode_input``) cut the bytes into frames;
this module adds what a replay needs on top: the station, line numbers for unreadable input,
archive files merged across links by time, and a byte position for the progress bar.
"""

from __future__ import annotations

import heapq
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, NamedTuple

from groundwatch.archive.reader import ArchiveReader
from groundwatch.decoders.api import FramingDef
from groundwatch.decoders.decode_input import (
    InputFormat,
    InputRecord,
    read_envelopes,
    read_hex,
    read_records,
    read_satnogs,
)
from groundwatch.model import ERT_MIN_SPACING_NS, FrameMeta, RejectReason
from groundwatch.replay.detect import ReplayFormat, detect_format

DEFAULT_STATION = "replay"


class RecordedFrame(NamedTuple):
    """One frame as recorded (a NamedTuple: made once per frame, ~5x cheaper than a
    frozen dataclass)."""

    data: bytes
    ert_ns: int | None  # None: the recording carries no time for this frame
    station: str
    position: int  # bytes of the recording read so far (progress)
    meta: FrameMeta | None = None  # what the station said (archive version 2, envelopes)


@dataclass(slots=True, frozen=True)
class Unreadable:
    """Input that could not be cut into a frame: reported and skipped, never fatal."""

    path: str
    where: str  # "line 7", "offset 1234"
    detail: str

    def __str__(self) -> str:
        return f"{self.path}: {self.where}: {self.detail}"


@dataclass(slots=True)
class Recording:
    """One or more recorded files of one format, read as a single pass."""

    paths: list[Path]
    fmt: ReplayFormat | None = None  # None: detected from the first file's content
    framing: FramingDef = field(default_factory=FramingDef)
    asm: bool | None = None
    station: str = DEFAULT_STATION
    problems: list[Unreadable] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.fmt is None:
            self.fmt = detect_format(self.paths[0])

    @property
    def format(self) -> ReplayFormat:
        assert self.fmt is not None
        return self.fmt

    def archive_files(self) -> list[Path]:
        files: list[Path] = []
        for p in self.paths:
            files += sorted(p.glob("*.gwa")) if p.is_dir() else [p]
        return files

    @property
    def total_bytes(self) -> int:
        files = self.archive_files() if self.format is ReplayFormat.ARCHIVE else self.paths
        return sum(p.stat().st_size for p in files)

    def frames(self) -> Iterator[RecordedFrame]:
        if self.format is ReplayFormat.ARCHIVE:
            yield from self._archive()
            return
        done = 0
        for path in self.paths:
            size = path.stat().st_size
            with path.open("rb") as f:
                for rec, where, pos in self._records(f):
                    if rec.reason is not None:
                        detail = rec.detail.split(": ", 1)[-1] if where else rec.detail
                        loc = where or f"offset {pos}"
                        self.problems.append(Unreadable(str(path), loc, detail))
                        continue
                    station = self.station if rec.station == "capture" else rec.station
                    yield RecordedFrame(rec.data, rec.ert_ns, station, done + pos, rec.meta)
            done += size

    def _records(self, f: IO[bytes]) -> Iterator[tuple[InputRecord, str, int]]:
        """(record, "line N" or "", byte position) in file order (SatNOGS: time order)."""
        if self.format is ReplayFormat.HEX:
            yield from _by_line(f, read_hex)  # streamed: hex captures can be large
            return
        if self.format is ReplayFormat.SATNOGS:
            out = list(_by_line(f, read_satnogs))  # exports are small; sorted by time below
            for rec, _where, _pos in out:
                if rec.reason is None and rec.ert_ns is None:
                    rec.reason, rec.detail = RejectReason.BAD_PACKET, "no readable timestamp"
            # Exports list observations newest first; a pass is replayed forwards.
            # Unreadable lines first, in line order, so the report reads top-down.
            out.sort(key=_time_order)
            yield from out
            return
        if self.format in (ReplayFormat.JSON, ReplayFormat.TINYGS):
            for rec in read_envelopes(f, self.format.value.replace("json", "groundwatch")):
                where = rec.detail.partition(": ")[0] if rec.reason is not None else ""
                yield rec, where, f.tell()  # a bad line's detail starts "line N: "
            return
        fmt = InputFormat.KISS if self.format is ReplayFormat.KISS else InputFormat.RAW
        for rec in read_records(f, fmt, self.framing, self.asm):
            yield rec, "", f.tell()

    def _archive(self) -> Iterator[RecordedFrame]:
        """Every archive file's frames, merged by earth-received time (one file per link)."""
        files = self.archive_files()
        readers = [ArchiveReader([p]) for p in files]
        if len(readers) == 1:  # one link: nothing to merge (the common replay)
            for data, ert, station, _source, _ingest, end, meta in readers[0].records():
                yield RecordedFrame(data, ert, station, end, meta)
        else:
            read: dict[int, int] = {}

            def frames_of(
                i: int, reader: ArchiveReader
            ) -> Iterator[tuple[int, int, RecordedFrame]]:
                for data, ert, station, _source, _ingest, end, meta in reader.records():
                    read[i] = end
                    yield ert, i, RecordedFrame(data, ert, station, sum(read.values()), meta)

            for _t, _i, rec in heapq.merge(*(frames_of(i, r) for i, r in enumerate(readers))):
                yield rec
        for r in readers:
            for p in r.problems:
                self.problems.append(Unreadable(p.path, f"offset {p.offset}", f"{p.kind} record"))


def _time_order(item: tuple[InputRecord, str, int]) -> tuple[int, int]:
    """Sort key: unreadable lines (0, 0) keep their order ahead of frames by time."""
    rec = item[0]
    return (0, 0) if rec.reason is not None else (1, rec.ert_ns or 0)


def _by_line(
    f: IO[bytes], reader: Callable[[IO[bytes]], Iterator[InputRecord]]
) -> Iterator[tuple[InputRecord, str, int]]:
    """Run a line reader one line at a time, so every record knows its line number."""
    pos = 0
    for line_no, raw in enumerate(f, 1):
        pos += len(raw)
        for rec in reader(io.BytesIO(raw)):
            yield rec, f"line {line_no}", pos


class TimeLine:
    """Earth-received times for a replay: recorded ones where the file has them, else one
    frame interval after the previous frame. Per station, successive frames stay at least
    ``ERT_MIN_SPACING_NS`` apart (as the live ingestors keep them), so packets never share a
    timestamp in InfluxDB; frames archived live already are, and keep their exact times."""

    def __init__(self, interval_ns: int, start_ns: int) -> None:
        self.interval_ns = interval_ns
        self.start_ns = start_ns
        self._last: int | None = None
        self._last_by_station: dict[str, int] = {}

    def ert(self, rec: RecordedFrame) -> int:
        t = rec.ert_ns
        if t is None:
            t = self.start_ns if self._last is None else self._last + self.interval_ns
        by_station = self._last_by_station
        prev = by_station.get(rec.station)
        if prev is not None and t < prev + ERT_MIN_SPACING_NS:
            t = prev + ERT_MIN_SPACING_NS
        by_station[rec.station] = t
        if self._last is None or t > self._last:
            self._last = t
        return t
