"""Which recording format a file is, from its content (``--format`` overrides it)."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path

from groundwatch.archive.format import FILE_MAGIC
from groundwatch.decoders.sync import ASM

FEND = 0xC0  # KISS frame delimiter
_SNIFF = 4096
_HEX_LINE = re.compile(r"^(?:\S+\s+)?[0-9A-Fa-f\s]+$")


class ReplayFormat(StrEnum):
    ARCHIVE = "archive"  # groundwatch's raw frame archive (a .gwa file or a directory of them)
    HEX = "hex"  # one frame per line, optionally after a timestamp
    SATNOGS = "satnogs"  # SatNOGS DB export: ``timestamp|hexframe`` lines
    KISS = "kiss"  # a KISS byte stream
    RAW = "raw"  # fixed-length frames back to back, with or without attached sync markers
    JSON = "json"  # groundwatch station envelopes, one JSON object per line
    TINYGS = "tinygs"  # TinyGS packet messages, one JSON object per line


class UnknownFormat(ValueError):
    def __init__(self, path: Path, why: str) -> None:
        super().__init__(f"{path}: cannot tell the format ({why}); give --format")
        self.path = path


def detect_format(path: Path) -> ReplayFormat:
    """Archive by its magic, KISS by its leading FEND, text by its lines, else raw bytes."""
    if path.is_dir():
        if any(path.glob("*.gwa")):
            return ReplayFormat.ARCHIVE
        raise UnknownFormat(path, "a directory without archive files")
    with path.open("rb") as f:
        head = f.read(_SNIFF)
    if not head:
        raise UnknownFormat(path, "empty file")
    if head.startswith(FILE_MAGIC):
        return ReplayFormat.ARCHIVE
    if path.suffix == ".gwa":  # named as an archive: never guess another format for junk
        raise UnknownFormat(path, "a .gwa file whose archive header (magic) is damaged")
    if head.startswith(ASM):
        return ReplayFormat.RAW
    if head[0] == FEND:
        return ReplayFormat.KISS
    text = _as_text(head)
    if text is None:
        return ReplayFormat.RAW
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    if len(head) == _SNIFF and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut by the sniff window
    if not lines:
        raise UnknownFormat(path, "no data lines")
    if lines[0].startswith("{"):  # station envelopes: TinyGS's carry its receive time key
        return ReplayFormat.TINYGS if '"usec_time"' in lines[0] else ReplayFormat.JSON
    if sum("|" in ln for ln in lines) * 2 > len(lines):
        return ReplayFormat.SATNOGS
    if sum(bool(_HEX_LINE.match(ln)) for ln in lines) * 2 > len(lines):
        return ReplayFormat.HEX
    raise UnknownFormat(path, "text that is neither hex lines nor timestamp|hex lines")


def _as_text(head: bytes) -> str | None:
    """The sniffed bytes as text, or None when they look binary."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        # A multi-byte character cut by the sniff window is still text.
        try:
            text = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return None
    printable = sum(c.isprintable() or c in "\r\n\t" for c in text)
    return text if printable >= 0.95 * max(len(text), 1) else None
