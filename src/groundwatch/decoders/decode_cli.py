"""Engine of ``groundwatch decode``: read a capture, decode it, print JSON lines.

Input formats (see ``decode_input``): ``raw`` (a byte stream: cut behind each attached sync
marker when the framing has one or the stream shows them, else fixed-length frames; bare
space packets by their length fields), ``hex`` (one frame per line, optionally after a
timestamp), ``kiss`` (a KISS byte stream), ``satnogs`` (``timestamp|hexframe`` lines) and
``archive`` (groundwatch's raw frame archive, read with ``groundwatch.archive``), ``json``
and ``tinygs`` (station envelopes, one JSON object per line: ``groundwatch.envelope``).

Output keys are a contract (scripts and tests read them): do not rename them.
``packet_line`` defines a packet's line; ``decode_json.PacketLineEncoder`` writes the same
text without building it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import IO, Any, cast

from groundwatch.decoders.api import (
    DecodeSummary,
    DictionaryError,
    Framing,
    FramingDef,
    TelemetryDictionary,
)
from groundwatch.decoders.decode_input import (
    DecodeCliError,
    InputFormat,
    InputRecord,
    format_ert,
    parse_timestamp,
    read_archive,
    read_records,
)
from groundwatch.decoders.decode_json import SEPARATORS, PacketLineEncoder, jsonable
from groundwatch.decoders.frame_decoder import FrameDecoder
from groundwatch.model import DecodedPacket, RawFrame, Rejection

__all__ = [
    "DecodeCliError",
    "InputFormat",
    "decode_main",
    "format_ert",
    "load_dictionary_file",
    "parse_timestamp",
    "resolve_framing",
    "run_decode",
]


# -- output -------------------------------------------------------------------------------


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
                "raw": jsonable(v.raw),
                "eng": jsonable(v.eng),
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
    try:
        return replace(base, **changes)
    except ValueError as exc:  # FramingDef's bounds, e.g. --frame-length 0
        raise DecodeCliError(str(exc)) from None


def load_dictionary_file(path: Path, cached: bool = True) -> TelemetryDictionary:
    """The dictionary of a YAML or XTCE file; ``cached``: through the user's dictionary cache
    (a file loaded before then needs no pydantic, see ``dictionary_cache``)."""
    from groundwatch.decoders.dictionary import load_dictionary
    from groundwatch.decoders.dictionary_cache import DictionaryCache

    cache = DictionaryCache.default() if cached else None
    # cast: the dictionary implements the protocol; its own layout class is narrower.
    return cast(TelemetryDictionary, load_dictionary(path, cache=cache))


def decode_main(
    *,
    dictionary: Path | None = None,
    frame: Framing | None = None,
    frame_length: int | None = None,
    fecf: bool | None = None,
    ocf: bool | None = None,
    fmt: InputFormat = InputFormat.HEX,
    input_path: Path | None = None,
    show_rejected: bool = False,
    asm: bool | None = None,
) -> int:
    """The ``decode`` command on standard input/output, its options as the command line gave
    them: the exit status (2 after an ``error:`` line on standard error)."""
    try:
        loaded: TelemetryDictionary | None = None
        if dictionary is not None:
            loaded = load_dictionary_file(dictionary)
        framing = resolve_framing(loaded, frame, frame_length, fecf, ocf)
        run_decode(
            sys.stdout,
            sys.stdin.buffer,
            dictionary=loaded,
            framing=framing,
            fmt=fmt,
            input_path=input_path,
            show_rejected=show_rejected,
            asm=asm,
        )
    except (DecodeCliError, DictionaryError, OSError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        sys.stderr.flush()
        return 2
    return 0


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
    encoder = PacketLineEncoder()

    def emit(obj: dict[str, Any]) -> None:
        out.write(json.dumps(obj, separators=SEPARATORS) + "\n")

    def handle(records: Iterator[InputRecord]) -> None:
        # Per packet of captures of millions: bound methods and each station's source
        # name are looked up once.
        decode, encode, write = decoder.decode, encoder.encode, out.write
        sources: dict[str, str] = {}
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
            station = rec.station
            source = sources.get(station)
            if source is None:
                source = sources[station] = f"decode:{station}"
            result = decode(RawFrame(rec.data, rec.ert_ns or 0, station, source, meta=rec.meta))
            packets = result.packets
            if len(packets) == 1:
                write(encode(packets[0], format_ert(rec.ert_ns)) + "\n")
            elif packets:
                ert = format_ert(rec.ert_ns)
                write("".join([encode(p, ert) + "\n" for p in packets]))
            if show_rejected:
                for r in result.rejections:
                    emit(rejected_line(r))

    if fmt == InputFormat.ARCHIVE:
        handle(read_archive(input_path))
    elif input_path is None:
        handle(read_records(stdin, fmt, framing, asm))
    else:
        with open(input_path, "rb") as stream:
            handle(read_records(stream, fmt, framing, asm))
    last = summary_line(summary)
    not_computed: dict[str, dict[str, int]] = {}
    for (packet, parameter, reason), n in sorted(decoder.not_computed().items()):
        not_computed.setdefault(f"{packet}.{parameter}", {})[reason] = n
    if not_computed:  # derived values without a sample, per parameter and reason
        last["not_computed"] = not_computed
    emit(last)
    return summary
