"""The raw frame archive's on-disk format: file header and records.

Archive format (record versions 1 and 2)
----------------------------------------

One file per link per pass: ``<dir>/<link>_<YYYYmmddTHHMMSS>Z_<start ert ns>.gwa``. A new
file starts after ``idle_gap`` seconds without a frame on that link (earth-received time),
when the file reaches ``max_file_mb`` or when it is ``max_file_age`` seconds old. Files
older than ``retention_days`` (modification time) are deleted, with their sidecars.

A file starts with a header::

    magic    8 bytes  b"GWARCHV1"
    link     u16 BE length + UTF-8
    created  i64 BE   ns since the Unix epoch (UTC)

followed by records, all integers big-endian::

    magic    2 bytes  b"GW"
    version  u8       1 (bare frame) or 2 (frame with station metadata)
    length   u32      bytes in the body
    body     ert_ns i64 | station u16 len + UTF-8 | source u16 len + UTF-8
             | ingest u16 len + UTF-8
             | version 2 only: meta u16 len + meta block (``META`` below, then the
               extras as a UTF-8 JSON object when there are any)
             | frame bytes (the rest of the body)
    crc32    u32      CRC-32 (zlib) of length|body

A frame without metadata is written as version 1, so files of bare frames are what they
always were and files written before version 2 read unchanged. ``ert_ns`` is the frame's
earth-received time as the pipeline used it (the station's own time when accepted).

Each record goes to the OS with one unbuffered ``os.write`` as the frame arrives, so a
``kill -9`` of groundwatch loses no appended record; a background task fsyncs open files
every second (a machine crash can lose at most that second). A crash mid-write leaves a
torn last record: readers detect it (short read or CRC mismatch), report it and skip it;
a damaged record in the middle is reported and the reader resynchronises on the next magic.
"""

from __future__ import annotations

import json
import mmap
import struct
import zlib

from groundwatch.model import ErtSource, FrameMeta, RawFrame, bounded_extra

FILE_MAGIC = b"GWARCHV1"
REC_MAGIC = b"GW"
VERSION = 1  # a bare frame
VERSION_META = 2  # a frame with its FrameMeta
VERSIONS = (VERSION, VERSION_META)
REC_HEAD = struct.Struct(">2sBI")  # magic, version, body length
U16 = struct.Struct(">H")
I64 = struct.Struct(">q")
CRC_LEN = 4
CRC_FIELD = struct.Struct(">I")


def _text(s: str) -> bytes:
    b = s.encode("utf-8")[:65535]
    return U16.pack(len(b)) + b


# The metadata block of a version 2 record: fixed fields, then the extras (if any) as a
# UTF-8 JSON object. Binary, not JSON throughout: it is written for every archived frame.
META = struct.Struct(">BBqqddddB")  # source, present bits, 2 x i64, 4 x f64, crc
ERT_SOURCES = (ErtSource.RECEIPT, ErtSource.STATION, ErtSource.REPLACED)
_SOURCE_CODE = {s: i for i, s in enumerate(ERT_SOURCES)}
# json.dumps(..., separators=(",", ":"), ensure_ascii=False), its encoder made once.
_extra_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def encode_meta(meta: FrameMeta) -> bytes:
    """The metadata block with its u16 length (extras are bounded well below 65535)."""
    # Unrolled (written for every archived frame): bit k set when value k is present.
    station_ert, receipt, rssi, snr = (
        meta.station_ert_ns,
        meta.receipt_ns,
        meta.rssi_dbm,
        meta.snr_db,
    )
    foff, freq, crc = meta.freq_offset_hz, meta.frequency_hz, meta.crc_ok
    present = (
        (station_ert is not None)
        | (receipt is not None) << 1
        | (rssi is not None) << 2
        | (snr is not None) << 3
        | (foff is not None) << 4
        | (freq is not None) << 5
        | (crc is not None) << 6
    )
    block = META.pack(
        _SOURCE_CODE[meta.ert_source],
        present,
        station_ert or 0,
        receipt or 0,
        rssi or 0.0,
        snr or 0.0,
        foff or 0.0,
        freq or 0.0,
        crc is True,
    )
    if meta.extra:
        extra = _extra_json(dict(meta.extra))
        block += extra.encode()[: 65535 - META.size]
    return U16.pack(len(block)) + block


def decode_meta(raw: bytes) -> FrameMeta:
    """ValueError (or struct.error) when the block is not valid metadata."""
    source, present, *values = META.unpack_from(raw)
    if source >= len(ERT_SOURCES):
        raise ValueError(f"unknown ERT source code {source}")
    got = [v if present & (1 << bit) else None for bit, v in enumerate(values)]
    extra: tuple[tuple[str, str], ...] = ()
    if len(raw) > META.size:
        d = json.loads(raw[META.size :])
        if not isinstance(d, dict):
            raise ValueError("metadata extras are not an object")
        extra = bounded_extra(d.items())
    station_ert, receipt, rssi, snr, foff, freq, crc = got
    return FrameMeta(
        ERT_SOURCES[source],
        station_ert,
        receipt,
        rssi,
        snr,
        foff,
        None if crc is None else bool(crc),
        freq,
        extra,
    )


def encode_record(frame: RawFrame) -> bytes:
    meta = frame.meta
    body = (
        I64.pack(frame.ert_ns)
        + _text(frame.station)
        + _text(frame.source)
        + _text(frame.ingest)
        + (encode_meta(meta) if meta is not None else b"")
        + frame.data
    )
    version = VERSION if meta is None else VERSION_META
    head = REC_HEAD.pack(REC_MAGIC, version, len(body))
    crc = zlib.crc32(body, zlib.crc32(head[3:]))
    return head + body + crc.to_bytes(4, "big")


def file_header(link: str, created_ns: int) -> bytes:
    return FILE_MAGIC + _text(link) + I64.pack(created_ns)


def read_header(data: bytes | mmap.mmap) -> tuple[str, int, int]:
    """(link, created_ns, header length); ValueError when this is not an archive file."""
    if data[:8] != FILE_MAGIC:
        raise ValueError("not a groundwatch archive file")
    (n,) = U16.unpack_from(data, 8)
    link = bytes(data[10 : 10 + n]).decode("utf-8", "replace")
    (created,) = I64.unpack_from(data, 10 + n)
    return link, created, 10 + n + 8
