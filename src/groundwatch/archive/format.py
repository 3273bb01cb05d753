"""The raw frame archive's on-disk format: file header and records.

Archive format (version 1)
--------------------------

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
    version  u8       1
    length   u32      bytes in the body
    body     ert_ns i64 | station u16 len + UTF-8 | source u16 len + UTF-8
             | ingest u16 len + UTF-8 | frame bytes (the rest of the body)
    crc32    u32      CRC-32 (zlib) of length|body

Each record goes to the OS with one unbuffered ``os.write`` as the frame arrives, so a
``kill -9`` of groundwatch loses no appended record; a background task fsyncs open files
every second (a machine crash can lose at most that second). A crash mid-write leaves a
torn last record: readers detect it (short read or CRC mismatch), report it and skip it;
a damaged record in the middle is reported and the reader resynchronises on the next magic.
"""

from __future__ import annotations

import mmap
import struct
import zlib

from groundwatch.model import RawFrame

FILE_MAGIC = b"GWARCHV1"
REC_MAGIC = b"GW"
VERSION = 1
REC_HEAD = struct.Struct(">2sBI")  # magic, version, body length
U16 = struct.Struct(">H")
I64 = struct.Struct(">q")
CRC_LEN = 4
CRC_FIELD = struct.Struct(">I")


def _text(s: str) -> bytes:
    b = s.encode("utf-8")[:65535]
    return U16.pack(len(b)) + b


def encode_record(frame: RawFrame) -> bytes:
    body = (
        I64.pack(frame.ert_ns)
        + _text(frame.station)
        + _text(frame.source)
        + _text(frame.ingest)
        + frame.data
    )
    head = REC_HEAD.pack(REC_MAGIC, VERSION, len(body))
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
