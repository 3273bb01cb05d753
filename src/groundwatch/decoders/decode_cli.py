"""Engine of ``groundwatch decode``: read a capture, decode it, print JSON lines.

Input formats: ``raw`` (a byte stream: cut behind each attached sync marker when the framing
has one or the stream starts with one, else fixed-length frames; bare space packets by their
length fields), ``hex`` (one frame per line, optionally after a timestamp), ``kiss`` (a KISS
byte stream), ``satnogs`` (``timestamp|hexframe`` lines) and ``archive`` (groundwatch's own
frame archive, when ``groundwatch.store.archive`` provides ``ArchiveReader``).

Output keys are a contract (issue 3): do not rename them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Any, cast

from groundwatch.decoders.api import DecodeSummary, Framing, FramingDef, TelemetryDictionary
from groundwatch.decoders.frame_decoder import FrameDecoder
from groundwatch.decoders.kiss import KissCommand, KissDecoder, KissFrame
from groundwatch.decoders.sync import ASM, Derandomizer, FrameSynchronizer
from groundwatch.model import DecodedPacket, DecodeResult, RawFrame, Rejection, RejectReason

CHUNK = 1 << 16


class InputFormat(StrEnum):
    RAW = "raw"
    HEX = "hex"
    KISS = "kiss"
    SATNOGS = "satnogs"
    ARCHIVE = "archive"


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
        from groundwatch.store.archive import ArchiveReader
    except ImportError as exc:
        raise DecodeCliError("archive format not available (groundwatch.store.archive)") from exc
    if path is None:
        raise DecodeCliError("--format archive needs --input FILE.gwa or DIRECTORY")
    paths = sorted(path.glob("*.gwa"), key=_archive_start) if path.is_dir() else [path]
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
    raise DecodeCliError(f"format {fmt} is not read from a stream")


# -- output -------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, StrEnum):
        return value.value
    return value


def packet_line(p: DecodedPacket, ert_ns: int | None) -> dict[str, Any]:
    f, a, h = p.frame, p.ax25, p.header
    line: dict[str, Any] = {
        "kind": "packet",
        "ert": format_ert(ert_ns),
        "frame": None
        if f is None
        else {
            "scid": f.scid,
            "vcid": f.vcid,
            "mcfc": f.mcfc,
            "vcfc": f.vcfc,
            "fhp": f.fhp,
            "ocf": None if f.ocf is None else f.ocf.hex(),
        },
        "ax25": None
        if a is None
        else {
            "dst": a.dst,
            "dst_ssid": a.dst_ssid,
            "src": a.src,
            "src_ssid": a.src_ssid,
            "control": a.control,
            "pid": a.pid,
        },
        "packet": None
        if h is None
        else {
            "apid": h.apid,
            "seq_flags": h.seq_flags,
            "seq_count": h.seq_count,
            "data_length": h.data_length,
            "name": p.name,
        },
        "parameters": {
            name: {
                "raw": _jsonable(v.raw),
                "eng": _jsonable(v.eng),
                "unit": v.unit,
                "limit": None if v.limit is None else v.limit.label,
            }
            for name, v in p.params.items()
        },
    }
    if h is None and p.payload is not None:
        line["payload_hex"] = p.payload.hex()
    return line


def rejected_line(r: Rejection) -> dict[str, Any]:
    return {"kind": "rejected", "reason": r.reason.value, "detail": r.detail, "hex": r.data.hex()}


def summary_line(s: DecodeSummary) -> dict[str, Any]:
    return {
        "kind": "summary",
        "frames": s.frames,
        "packets": s.packets,
        "idle": {"frames": s.idle_frames, "packets": s.idle_packets},
        "rejected": dict(sorted(s.rejected.items())),
    }


def result_lines(
    result: DecodeResult, ert_ns: int | None, show_rejected: bool
) -> Iterator[dict[str, Any]]:
    for p in result.packets:
        yield packet_line(p, ert_ns)
    if show_rejected:
        for r in result.rejections:
            yield rejected_line(r)


# -- the command --------------------------------------------------------------------------


def resolve_framing(
    dictionary: TelemetryDictionary | None,
    frame: Framing | None = None,
    frame_length: int | None = None,
    fecf: bool | None = None,
    ocf: bool | None = None,
) -> FramingDef:
    """The dictionary's framing (or the CCSDS TM default), with the command line's overrides."""
    base = dictionary.framing if dictionary is not None else FramingDef()
    changes: dict[str, Any] = {}
    if frame is not None:
        changes["kind"] = frame
    if frame_length is not None:
        changes["frame_length"] = frame_length
    if fecf is not None:
        changes["fecf"] = fecf
    if ocf is not None:
        changes["ocf"] = ocf
    return replace(base, **changes)


def load_dictionary_file(path: Path) -> TelemetryDictionary:
    from groundwatch.decoders.dictionary import load_dictionary

    # cast: the dictionary implements the protocol; its own layout class is narrower.
    return cast(TelemetryDictionary, load_dictionary(path))


def run_decode(
    out: IO[str],
    stdin: IO[bytes],
    *,
    dictionary: TelemetryDictionary | None = None,
    framing: FramingDef | None = None,
    fmt: InputFormat = InputFormat.HEX,
    input_path: Path | None = None,
    show_rejected: bool = False,
    asm: bool | None = None,
) -> DecodeSummary:
    """Decode the whole input, writing JSON lines to ``out``; returns the summary."""
    framing = framing or resolve_framing(dictionary)
    decoder = FrameDecoder(dictionary, framing)
    summary = decoder.summary

    def emit(obj: dict[str, Any]) -> None:
        out.write(json.dumps(obj, separators=(", ", ": ")) + "\n")

    def handle(records: Iterator[InputRecord]) -> None:
        for rec in records:
            if rec.reason is not None:
                summary.rejected[rec.reason.value] = summary.rejected.get(rec.reason.value, 0) + 1
                if show_rejected:
                    emit(
                        {
                            "kind": "rejected",
                            "reason": rec.reason.value,
                            "detail": rec.detail,
                            "hex": rec.data.hex(),
                        }
                    )
                continue
            frame = RawFrame(
                data=rec.data,
                ert_ns=rec.ert_ns or 0,
                station=rec.station,
                source=f"decode:{rec.station}",
            )
            for line in result_lines(decoder.decode(frame), rec.ert_ns, show_rejected):
                emit(line)

    if fmt == InputFormat.ARCHIVE:
        handle(read_archive(input_path))
    elif input_path is None:
        handle(read_records(stdin, fmt, framing, asm))
    else:
        with open(input_path, "rb") as stream:
            handle(read_records(stream, fmt, framing, asm))
    emit(summary_line(summary))
    return summary
