"""Reading captures for ``groundwatch decode``: raw streams, hex and SatNOGS lines, KISS,
groundwatch's frame archive, station envelopes as JSON lines (``json``: groundwatch's own,
``tinygs``). Each reader yields ``InputRecord``s: a frame with its
earth-received time when the input has one, or input that could not be cut into frames.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO

from groundwatch.decoders.api import Framing, FramingDef
from groundwatch.decoders.sync import ASM, Derandomizer, FrameSynchronizer
from groundwatch.kiss import KissCommand, KissDecoder, KissFrame
from groundwatch.model import FrameMeta, RejectReason

CHUNK = 1 << 16


class InputFormat(StrEnum):
    RAW = "raw"
    HEX = "hex"
    KISS = "kiss"
    SATNOGS = "satnogs"
    ARCHIVE = "archive"
    JSON = "json"  # groundwatch station envelopes, one JSON object per line
    TINYGS = "tinygs"  # TinyGS packet messages, one per line


class DecodeCliError(Exception):
    """A usage problem (missing frame length, unreadable dictionary, ...): exit code 2."""


@dataclass(slots=True)
class InputRecord:
    """One frame out of the input, or input that could not even be cut into frames."""

    data: bytes
    ert_ns: int | None = None
    reason: RejectReason | None = None
    detail: str = ""
    station: str = "capture"  # reassembly is kept per station when the input says which
    meta: FrameMeta | None = None  # what the station said about the frame (envelopes)


# -- timestamps --------------------------------------------------------------------------

_FRACTION = re.compile(r"\.(\d+)")


def parse_timestamp(text: str) -> int | None:
    """ns since the Unix epoch of an ISO-8601 time (naive = UTC, up to ns digits) or of
    Unix seconds with a decimal point; None when ``text`` is neither."""
    text = text.strip()
    if re.fullmatch(r"\d+\.\d*", text):
        whole, _, frac = text.partition(".")
        return int(whole) * 1_000_000_000 + int((frac + "0" * 9)[:9])
    if not re.match(r"\d{4}-\d\d-\d\d", text):
        return None
    frac_ns = 0
    m = _FRACTION.search(text)
    if m:
        frac_ns = int((m.group(1) + "0" * 9)[:9])
        text = text[: m.start()] + text[m.end() :]
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp()) * 1_000_000_000 + frac_ns


def format_ert(ns: int | None) -> str | None:
    if ns is None:
        return None
    seconds, frac = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


# -- readers ------------------------------------------------------------------------------


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK):
        yield chunk


def _hex_record(hex_text: str, ert_ns: int | None, line_no: int) -> InputRecord:
    digits = re.sub(r"\s+", "", hex_text)
    try:
        return InputRecord(bytes.fromhex(digits), ert_ns)
    except ValueError:
        return InputRecord(
            hex_text.encode(errors="replace"),
            ert_ns,
            RejectReason.BAD_PACKET,
            f"line {line_no}: not hex",
        )


def read_hex(stream: IO[bytes]) -> Iterator[InputRecord]:
    for line_no, raw in enumerate(stream, 1):
        line = raw.decode("utf-8", errors="replace").strip()
        if not line or line.startswith("#"):
            continue
        ert_ns = None
        first, _, rest = line.partition(" ")
        if rest:
            ts = parse_timestamp(first)
            if ts is not None:
                ert_ns, line = ts, rest
        yield _hex_record(line, ert_ns, line_no)


def read_satnogs(stream: IO[bytes]) -> Iterator[InputRecord]:
    for line_no, raw in enumerate(stream, 1):
        line = raw.decode("utf-8", errors="replace").strip()
        if not line or line.startswith("#"):
            continue
        stamp, sep, hex_text = line.partition("|")
        if not sep:
            yield InputRecord(raw, None, RejectReason.BAD_PACKET, f"line {line_no}: no '|'")
            continue
        yield _hex_record(hex_text, parse_timestamp(stamp), line_no)


def read_kiss(stream: IO[bytes]) -> Iterator[InputRecord]:
    decoder = KissDecoder()
    for chunk in _chunks(stream):
        for item in decoder.feed(chunk):
            if isinstance(item, KissFrame):
                if item.command == KissCommand.DATA:
                    yield InputRecord(item.data)
            else:
                yield InputRecord(item.data, None, RejectReason.BAD_KISS, item.detail)


def read_raw(stream: IO[bytes], framing: FramingDef, asm: bool | None) -> Iterator[InputRecord]:
    chunks = _chunks(stream)
    first = next(chunks, b"")
    if framing.kind == Framing.NONE:
        yield from _raw_packets(first, chunks)
        return
    if framing.kind == Framing.AX25:
        raise DecodeCliError("AX.25 frames have no raw stream form: use --format kiss")
    if framing.frame_length is None:
        raise DecodeCliError("a raw TM stream needs --frame-length (or a dictionary)")
    if asm is None:
        asm = framing.asm or _looks_synchronised(first, framing.frame_length)
    if asm:
        sync = FrameSynchronizer(framing.frame_length, randomized=framing.randomized)
        for chunk in (first, *chunks):
            for item in sync.feed(chunk):
                yield _sync_record(item)
        for item in sync.flush():
            yield _sync_record(item)
        return
    derandomize = Derandomizer() if framing.randomized else None
    buf = bytearray(first)
    size = framing.frame_length
    for chunk in (b"", *chunks):
        buf += chunk
        while len(buf) >= size:
            frame = bytes(buf[:size])
            del buf[:size]
            yield InputRecord(derandomize(frame) if derandomize else frame)
    if buf:
        yield InputRecord(bytes(buf))  # the decoder rejects it with its length


def _looks_synchronised(head: bytes, frame_length: int) -> bool:
    """A marker at the start, or two markers one frame apart, in the first chunk."""
    i = head.find(ASM)
    if i == 0:
        return True
    nxt = i + len(ASM) + frame_length
    return i > 0 and head[nxt : nxt + len(ASM)] == ASM


def _sync_record(item: object) -> InputRecord:
    if isinstance(item, bytes):
        return InputRecord(item)
    n, data = getattr(item, "octets", 0), getattr(item, "data", b"")
    return InputRecord(data, None, RejectReason.NOT_SYNCED, f"{n} octets without sync marker")


def _raw_packets(first: bytes, chunks: Iterator[bytes]) -> Iterator[InputRecord]:
    buf = bytearray(first)
    for chunk in (b"", *chunks):
        buf += chunk
        while len(buf) >= 6:
            total = 7 + ((buf[4] << 8) | buf[5])
            if len(buf) < total:
                break
            yield InputRecord(bytes(buf[:total]))
            del buf[:total]
    if buf:
        yield InputRecord(
            bytes(buf), None, RejectReason.TRUNCATED_PACKET, "stream ends inside a packet"
        )


def read_archive(path: Path | None) -> Iterator[InputRecord]:
    """Frames of groundwatch's raw frame archive: one ``.gwa`` file or a directory of them."""
    try:
        from groundwatch.archive.reader import ArchiveReader, read_header
    except ImportError as exc:
        raise DecodeCliError("archive format not available (groundwatch.archive)") from exc
    if path is None:
        raise DecodeCliError("--format archive needs --input FILE.gwa or DIRECTORY")
    paths = sorted(path.glob("*.gwa"), key=_archive_start) if path.is_dir() else [path]
    if not paths:
        raise DecodeCliError(f"{path}: a directory without archive files (*.gwa)")
    for p in paths:
        with p.open("rb") as f:
            head = f.read(4096)
        try:
            read_header(head)
        except (ValueError, struct.error):
            raise DecodeCliError(f"{p}: not a groundwatch archive file (damaged magic)") from None
    reader = ArchiveReader(paths)
    for frame, _position in reader:
        yield InputRecord(frame.data, frame.ert_ns, station=frame.station)
    for problem in reader.problems:
        yield InputRecord(
            b"",
            None,
            RejectReason.BAD_PACKET,
            f"archive {problem.kind} record at {problem.path}:{problem.offset}",
        )


def _archive_start(path: Path) -> tuple[int, str]:
    """Archive files are named ``<link>_<stamp>Z_<start ert ns>.gwa``: read in time order."""
    tail = path.stem.rsplit("_", 1)[-1].split("-")[0]
    return (int(tail) if tail.isdigit() else 0, path.name)


def read_envelopes(stream: IO[bytes], preset: str) -> Iterator[InputRecord]:
    """Station envelopes, one JSON object per line (see ``groundwatch.envelope``)."""
    from groundwatch.envelope import EnvelopeError, read_lines  # only for this format

    for line_no, got in read_lines(stream, preset):
        if isinstance(got, EnvelopeError):
            yield InputRecord(b"", None, got.reason, f"line {line_no}: {got.detail}")
        else:
            yield InputRecord(got.data, got.ert_ns, station=got.station or "capture", meta=got.meta)


def read_records(
    stream: IO[bytes], fmt: InputFormat, framing: FramingDef, asm: bool | None = None
) -> Iterator[InputRecord]:
    if fmt == InputFormat.HEX:
        return read_hex(stream)
    if fmt == InputFormat.SATNOGS:
        return read_satnogs(stream)
    if fmt == InputFormat.KISS:
        return read_kiss(stream)
    if fmt == InputFormat.RAW:
        return read_raw(stream, framing, asm)
    if fmt in (InputFormat.JSON, InputFormat.TINYGS):
        return read_envelopes(stream, "tinygs" if fmt == InputFormat.TINYGS else "groundwatch")
    raise DecodeCliError(f"format {fmt} is not read from a stream")
