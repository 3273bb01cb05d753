"""Frame metadata: what a station says about a frame besides its bytes.

One type for every source (its envelope), the archive (record version 2), replay and the
link monitor (station time, radio quality). Re-exported by ``groundwatch.model``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ErtSource(StrEnum):
    """Where a frame's ``ert_ns`` comes from."""

    STATION = "station"  # the station's own receive time
    RECEIPT = "receipt"  # no station time given: when groundwatch read the frame
    REPLACED = "replaced"  # the station's time failed the clock guard: receipt time used


_OPTIONAL = (
    "station_ert_ns",
    "receipt_ns",
    "rssi_dbm",
    "snr_db",
    "freq_offset_hz",
    "crc_ok",
    "frequency_hz",
)
MAX_EXTRA_ITEMS = 16  # free-form envelope keys kept per frame
MAX_EXTRA_CHARS = 256  # per key and per value


@dataclass(slots=True)
class FrameMeta:
    """What a station said about a frame besides its bytes (its envelope), or None fields
    when it did not say. Shared by every source, the archive, replay and the link monitor.

    ``station_ert_ns`` is the time the station stamped (kept even when the clock guard
    refused it and ``RawFrame.ert_ns`` is the receipt time); ``receipt_ns`` is when
    groundwatch read the frame. ``extra`` holds envelope keys groundwatch does not know,
    bounded by ``MAX_EXTRA_ITEMS`` and ``MAX_EXTRA_CHARS``. Not frozen (made for every
    enveloped frame; a frozen dataclass costs a microsecond more): treat it as a value."""

    ert_source: ErtSource = ErtSource.RECEIPT
    station_ert_ns: int | None = None
    receipt_ns: int | None = None
    rssi_dbm: float | None = None
    snr_db: float | None = None  # SNR or Eb/N0, as the station reports it
    freq_offset_hz: float | None = None
    crc_ok: bool | None = None  # the station's own CRC verdict
    frequency_hz: float | None = None
    extra: tuple[tuple[str, str], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The fields that are set (archive record, JSON output). Once per archived frame."""
        out: dict[str, Any] = {"ert_source": self.ert_source.value}
        values = (
            self.station_ert_ns,
            self.receipt_ns,
            self.rssi_dbm,
            self.snr_db,
            self.freq_offset_hz,
            self.crc_ok,
            self.frequency_hz,
        )
        for name, value in zip(_OPTIONAL, values, strict=True):
            if value is not None:
                out[name] = value
        if self.extra:
            out["extra"] = dict(self.extra)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FrameMeta:
        """Inverse of ``as_dict``; ValueError/TypeError on a malformed mapping."""

        def num(name: str) -> float | None:
            v = d.get(name)
            if v is None:
                return None
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise ValueError(f"{name} is not a number")
            return float(v)

        def whole(name: str) -> int | None:
            v = d.get(name)
            if v is None:
                return None
            if isinstance(v, bool) or not isinstance(v, int):
                raise ValueError(f"{name} is not an integer")
            return v

        crc = d.get("crc_ok")
        if crc is not None and not isinstance(crc, bool):
            raise ValueError("crc_ok is not a boolean")
        extra = d.get("extra") or {}
        if not isinstance(extra, Mapping):
            raise ValueError("extra is not an object")
        return cls(
            ErtSource(d.get("ert_source", "receipt")),
            whole("station_ert_ns"),
            whole("receipt_ns"),
            num("rssi_dbm"),
            num("snr_db"),
            num("freq_offset_hz"),
            crc,
            num("frequency_hz"),
            bounded_extra(extra.items()),
        )


# json.dumps(v, separators=(",", ":"), default=str) without building an encoder per call
# (a TinyGS message has four such keys per frame).
_as_json = json.JSONEncoder(separators=(",", ":"), default=str).encode


def bounded_extra(items: Iterable[tuple[Any, Any]]) -> tuple[tuple[str, str], ...]:
    """Free-form envelope keys as text, at most ``MAX_EXTRA_ITEMS`` of ``MAX_EXTRA_CHARS``."""
    out: list[tuple[str, str]] = []
    for k, v in items:
        if len(out) >= MAX_EXTRA_ITEMS:
            break
        if isinstance(v, str):
            text = v
        elif type(v) is int:  # what JSON writes for an int, without the encoder
            text = str(v)
        else:
            text = _as_json(v)
        out.append((_utf8(str(k)[:MAX_EXTRA_CHARS]), _utf8(text[:MAX_EXTRA_CHARS])))
    return tuple(out)


def _utf8(text: str) -> str:
    """``text`` with lone surrogates (JSON's "\\ud800" reads as one) replaced: the archive
    and the store write UTF-8, which cannot encode them."""
    if text.isascii():
        return text
    return text.encode("utf-8", "replace").decode("utf-8")
