"""Station envelopes: a frame with the station's receive time and radio metadata.

Shared by the sources, `groundwatch decode` and replay (recorded JSON lines), as the KISS
framing is: transport, not decoding.

A source's ``payload`` setting says what one message is:

- ``raw``: the frame's bytes, nothing else (groundwatch stamps the receipt time);
- ``json``: one JSON object, read through a field mapping (``json_preset`` plus
  ``json_fields`` overrides). Presets:

  - ``groundwatch``: ``frame`` (base64) or ``frame_hex``, ``ert`` (RFC 3339 with up to
    nanoseconds, or integer ns since the Unix epoch), ``station``, ``rssi_dbm``,
    ``snr_db``, ``freq_offset_hz``, ``crc_ok``, ``frequency_hz``, ``extra`` (an object);
  - ``tinygs``: ``data`` (base64), ``usec_time`` (µs), ``rssi``, ``snr``,
    ``frequency_error`` (Hz), ``crc_error`` (true: rejected), ``frequency`` (MHz); the
    other keys (``unix_GS_time``, ``satellite``, ``NORAD``, ``station_location``, ``mode``)
    are kept in ``extra``;

- ``mqtt5``: the frame's bytes, with MQTT 5 user properties named as in the
  ``groundwatch`` preset (values as text).

Keys groundwatch does not know are kept in ``FrameMeta.extra`` (bounded). Every malformed
envelope raises ``EnvelopeError`` with its own ``RejectReason``; the source turns it into a
``RejectedInput`` (counted, kept raw), never into a crash.
"""

from __future__ import annotations

import binascii
import calendar
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import IO, Any, Literal

from pydantic import BaseModel, Field, field_validator

from groundwatch.model import ErtSource, FrameMeta, RejectReason, bounded_extra

S = 1_000_000_000
# Earth-received times outside [1970, 2200) are a broken station clock or field, not a
# receive time (and past 2262 they no longer fit the archive's signed 64-bit ns).
ERT_MAX_NS = calendar.timegm((2200, 1, 1, 0, 0, 0)) * S

Payload = Literal["raw", "json", "mqtt5"]
CANONICAL = (
    "frame",
    "frame_hex",
    "ert",
    "station",
    "rssi_dbm",
    "snr_db",
    "freq_offset_hz",
    "crc_ok",
    "crc_error",
    "frequency_hz",
    "extra",
)


class EnvelopeError(ValueError):
    """A message that is not a valid envelope: its reject reason and a clear detail."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class EnvelopeSettings(BaseModel):
    """The envelope options every frame source accepts (see the module docstring)."""

    payload: Payload = Field(
        default="raw", description="raw (bare frame), json (station envelope), mqtt5"
    )
    json_preset: Literal["groundwatch", "tinygs"] = Field(
        default="groundwatch", description="the envelope's keys (README: Station envelopes)"
    )
    json_fields: dict[str, str] = Field(
        default_factory=dict, description="envelope key per field, over the preset's"
    )
    clock_tolerance: float = Field(
        default=5.0, gt=0, description="s a station ERT may lie ahead of the receipt time"
    )
    redelivery_window: float = Field(
        default=3600.0, gt=0, description="s a station ERT may lie behind the receipt time"
    )
    bad_station_time: Literal["reject", "receipt"] = Field(
        default="reject", description="an ERT outside the guard: rejected, or receipt time"
    )

    @field_validator("json_fields")
    @classmethod
    def _known_fields(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(v) - set(CANONICAL))
        if unknown:
            raise ValueError(f"unknown field {unknown[0]!r}; known: {', '.join(CANONICAL)}")
        return v


@dataclass(slots=True, frozen=True)
class JsonMapping:
    """Which key of a JSON envelope holds which field (None: the envelope has no such key)."""

    frame: str | None = "frame"  # base64
    frame_hex: str | None = "frame_hex"
    ert: str | None = "ert"
    station: str | None = "station"
    rssi_dbm: str | None = "rssi_dbm"
    snr_db: str | None = "snr_db"
    freq_offset_hz: str | None = "freq_offset_hz"
    crc_ok: str | None = "crc_ok"
    crc_error: str | None = None  # inverted verdict: true means the station's CRC failed
    frequency_hz: str | None = "frequency_hz"
    extra: str | None = "extra"  # an object whose keys all go to FrameMeta.extra
    ert_unit_ns: int = 1  # an integer ERT counts these (1: ns; 1000: µs)
    frequency_scale: float = 1.0  # to Hz

    def keys(self) -> frozenset[str]:
        return frozenset(k for name in CANONICAL if (k := getattr(self, name)) is not None)


PRESETS = {
    "groundwatch": JsonMapping(),
    "tinygs": JsonMapping(
        frame="data",
        frame_hex=None,
        ert="usec_time",
        station="station",
        rssi_dbm="rssi",
        snr_db="snr",
        freq_offset_hz="frequency_error",
        crc_ok=None,
        crc_error="crc_error",
        frequency_hz="frequency",
        extra=None,
        ert_unit_ns=1000,
        frequency_scale=1e6,
    ),
}


# json.loads without its encoding detection (an envelope is UTF-8): once per message.
_decoder = json.JSONDecoder()
_json_object = _decoder.decode
# The scanner decode() runs, without its whitespace matching (an attribute JSONDecoder sets
# in __init__ that its type stubs do not declare).
_scan_once: Callable[[str, int], tuple[Any, int]] = _decoder.scan_once  # type: ignore[attr-defined]


def _loads(text: str) -> Any:
    """``_json_object(text)``: a message that is exactly one object (no surrounding
    whitespace, the usual envelope) is scanned directly; anything else, and every error,
    goes through ``decode`` so its result and error message are the stdlib's."""
    if text[:1] == "{":
        try:
            obj, end = _scan_once(text, 0)
        except (StopIteration, ValueError):
            end = -1
        if end == len(text):
            return obj
    return _json_object(text)


# The clock guard a source applies: (station, station ERT or None) -> (ERT, its source).
Place = Callable[[str | None, int | None], tuple[int, ErtSource]]


@dataclass(slots=True)
class Envelope:
    """What one message carried: the frame, and what the station said about it. Not
    frozen (made for every message; frozen costs a microsecond more): treat it as a value."""

    data: bytes
    station: str | None  # None: the source's own rule (topic, fixed name)
    ert_ns: int | None  # the frame's ERT (the station's, as placed); None: not given
    meta: FrameMeta


# RFC 3339 with any number of fraction digits: datetime.fromisoformat stops at µs, and an
# ERT must keep its nanoseconds (hand-written for that; the calendar part is the stdlib's).
_RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|z|[+-]\d\d:\d\d)"
)
# The same from the seconds on (the first 16 characters, the minute, are fixed width).
_RFC3339_REST = re.compile(r":(\d\d)(?:\.(\d{1,9}))?(Z|z|[+-]\d\d:\d\d)")


# Seconds since the epoch of "YYYY-MM-DDTHH:MM" texts already checked (ERT text start).
_minute_secs: dict[str, int] = {}


def _minute_of(value: str, year: str, month: str, day: str, hh: str, mm: str) -> int:
    """The epoch seconds of an ERT's minute; EnvelopeError when it is not a valid date."""
    try:  # datetime checks the calendar (month, day of that month, hour, minute)
        datetime(int(year), int(month), int(day), int(hh), int(mm))
    except ValueError as exc:
        raise EnvelopeError(RejectReason.BAD_ERT, f"ert {value[:64]!r}: {exc}") from exc
    return calendar.timegm((int(year), int(month), int(day), int(hh), int(mm), 0, 0, 0, 0))


def _ert_ns(minute_secs: int, ss: str, frac: str | None, zone: str, value: str) -> int:
    second = int(ss)
    if second > 60:  # 60: a leap second
        raise EnvelopeError(RejectReason.BAD_ERT, f"ert {value[:64]!r}: second out of range")
    secs = minute_secs + second
    if zone not in ("Z", "z"):
        zh, zm = int(zone[1:3]), int(zone[4:6])
        if zh > 23 or zm > 59:
            raise EnvelopeError(RejectReason.BAD_ERT, f"ert {value[:64]!r}: bad UTC offset")
        secs -= (1 if zone[0] == "+" else -1) * (zh * 3600 + zm * 60)
    return secs * S + int((frac or "").ljust(9, "0"))


# An integer ERT as text: ASCII digits only (str.isdigit() also takes "²", which int()
# refuses) and a bounded count of them (past 4300 digits int() itself raises).
_INTEGER = re.compile(r"-?[0-9]{1,63}")


def parse_ert(value: Any, unit_ns: int = 1) -> int:
    """An ERT as RFC 3339 text or an integer count of ``unit_ns``; EnvelopeError if not."""
    if isinstance(value, bool):
        raise EnvelopeError(RejectReason.BAD_ERT, f"ert {value!r} is not a time")
    if isinstance(value, int):
        t = value * unit_ns
    elif isinstance(value, float) and math.isfinite(value * unit_ns):
        t = round(value * unit_ns)
    elif (
        type(value) is str
        and (base := _minute_secs.get(value[:16])) is not None
        and (rest := _RFC3339_REST.fullmatch(value, 16))
    ):  # a minute already read (the usual case): only the seconds onwards are new
        ss, frac, zone = rest.groups()
        t = _ert_ns(base, ss, frac, zone, value)
    elif isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        t = int(value.strip()) * unit_ns
    elif isinstance(value, str) and (m := _RFC3339.fullmatch(value.strip())):
        year, month, day, hh, mm, ss, frac, zone = m.groups()
        minute = m.group(0)[:16]  # a station's frames share it: its calendar work once
        base = _minute_secs.get(minute)
        if base is None:
            base = _minute_of(value, year, month, day, hh, mm)
            if len(_minute_secs) >= 256:  # bounded: the text comes from the wire
                _minute_secs.clear()
            _minute_secs[minute] = base
        t = _ert_ns(base, ss, frac, zone, value)
    else:
        raise EnvelopeError(RejectReason.BAD_ERT, f"ert {str(value)[:64]!r} is not a time")
    if not 0 <= t < ERT_MAX_NS:
        raise EnvelopeError(RejectReason.BAD_ERT, f"ert {str(value)[:64]!r} is outside 1970-2200")
    return t


def _radio(key: str | None, value: Any, text_ok: bool) -> float:
    """A radio figure: a JSON number as such (not a bool, an int subclass), or _number's
    answer; Python's JSON reads NaN, Infinity and 1e400: those take _number's error."""
    if type(value) is int or (type(value) is float and math.isfinite(value)):
        return float(value)
    return _number(str(key), value, text_ok)


def _number(name: str, value: Any, text_ok: bool) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        f = float(value)
    elif text_ok and isinstance(value, str):
        try:
            f = float(value)
        except ValueError:
            f = math.nan
    else:
        f = math.nan
    if not math.isfinite(f):
        raise EnvelopeError(
            RejectReason.BAD_RADIO_FIELD, f"{name} {str(value)[:64]!r} is not a number"
        )
    return f


def _flag(name: str, value: Any, text_ok: bool) -> bool:
    if isinstance(value, bool):
        return value
    if text_ok and isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise EnvelopeError(
        RejectReason.BAD_RADIO_FIELD, f"{name} {str(value)[:64]!r} is not a boolean"
    )


class EnvelopeReader:
    """Turns one message of a source into an ``Envelope`` (or raises ``EnvelopeError``)."""

    def __init__(self, settings: EnvelopeSettings) -> None:
        self.payload = settings.payload
        base = (
            PRESETS[settings.json_preset] if settings.payload == "json" else PRESETS["groundwatch"]
        )
        overrides: dict[str, Any] = dict(settings.json_fields)
        self.mapping = replace(base, **overrides) if overrides else base
        self._known = self.mapping.keys()
        m = self.mapping
        # None for a field the envelope has no key for (an empty name too): dict.get(None)
        # finds nothing, so each field is one lookup per frame.
        self._radio_keys = (
            m.rssi_dbm or None,
            m.snr_db or None,
            m.freq_offset_hz or None,
            m.frequency_hz or None,
        )
        self._station_key = m.station or None
        self._ert_key = m.ert or None
        self._extra_key = m.extra or None

    def read(
        self,
        payload: bytes,
        properties: Iterable[tuple[str, str]] = (),
        receipt_ns: int | None = None,
        place: Place | None = None,
    ) -> Envelope:
        """The envelope of one message. ``place(station, station ERT)`` gives the frame's
        ERT and its source (the source's clock guard); without it the station's ERT is
        used as given. ``receipt_ns``: when the message was read (kept in the metadata)."""
        if self.payload == "json":
            try:
                obj = _loads(bytes(payload).decode("utf-8"))
            except (ValueError, UnicodeDecodeError, RecursionError) as exc:
                # RecursionError: arrays or objects nested deeper than the parser's stack
                raise EnvelopeError(RejectReason.BAD_ENVELOPE, f"not JSON: {exc}") from exc
            if type(obj) is not dict:
                raise EnvelopeError(RejectReason.BAD_ENVELOPE, "JSON envelope is not an object")
            return self.fields(obj, None, False, receipt_ns, place)
        if self.payload == "mqtt5":
            return self.fields(dict(properties), bytes(payload), True, receipt_ns, place)
        return Envelope(bytes(payload), None, None, FrameMeta())

    def fields(
        self,
        obj: dict[str, Any],
        data: bytes | None,
        text_ok: bool,
        receipt_ns: int | None = None,
        place: Place | None = None,
    ) -> Envelope:
        """The envelope of a mapping (a JSON object, or MQTT 5 user properties beside the
        frame ``data``). Once per frame: keys are looked up from precomputed tuples."""
        m = self.mapping
        if data is None:
            data = self._frame(obj)
        keyed: dict[Any, Any] = obj  # looked up with None too: an envelope's keys are text
        get = keyed.get
        station = get(self._station_key)
        if station is not None and type(station) is not str:
            station = str(station)
        given = get(self._ert_key)
        station_ert = parse_ert(given, m.ert_unit_ns) if given is not None else None
        # Unrolled, in the order their errors are reported: rssi, snr, offset, frequency.
        rssi_key, snr_key, foff_key, freq_key = self._radio_keys
        rssi = get(rssi_key)
        if rssi is not None:
            rssi = _radio(rssi_key, rssi, text_ok)
        snr = get(snr_key)
        if snr is not None:
            snr = _radio(snr_key, snr, text_ok)
        foff = get(foff_key)
        if foff is not None:
            foff = _radio(foff_key, foff, text_ok)
        freq = get(freq_key)
        if freq is not None:
            freq = _radio(freq_key, freq, text_ok)
            freq *= m.frequency_scale
            if not math.isfinite(freq):  # MHz scaled to Hz past the float range
                raise EnvelopeError(RejectReason.BAD_RADIO_FIELD, f"{m.frequency_hz} is too large")
        crc_ok = None
        if m.crc_ok and (flag := get(m.crc_ok)) is not None:
            crc_ok = _flag(m.crc_ok, flag, text_ok)
        if m.crc_error and (flag := get(m.crc_error)) is not None:
            crc_ok = not _flag(m.crc_error, flag, text_ok)
            if not crc_ok:
                raise EnvelopeError(RejectReason.STATION_CRC, f"{m.crc_error} is true")
        extra: tuple[tuple[str, str], ...] = ()
        nested = get(self._extra_key)
        if nested or not self._known.issuperset(obj):  # no set built when all keys known
            known = self._known
            items = list(nested.items()) if isinstance(nested, dict) else []
            extra = bounded_extra(items + [(k, obj[k]) for k in obj if k not in known])
        ert_ns: int | None
        if place is not None:
            ert_ns, source = place(station, station_ert)
        else:
            ert_ns = station_ert
            source = ErtSource.STATION if station_ert is not None else ErtSource.RECEIPT
        meta = FrameMeta(source, station_ert, receipt_ns, rssi, snr, foff, crc_ok, freq, extra)
        return Envelope(data, station, ert_ns, meta)

    def _frame(self, obj: Mapping[str, Any]) -> bytes:
        m = self.mapping
        if m.frame and (b64 := obj.get(m.frame)) is not None:
            if not isinstance(b64, str):
                raise EnvelopeError(RejectReason.BAD_FRAME_FIELD, f"{m.frame} is not text")
            try:
                return binascii.a2b_base64(b64, strict_mode=True)
            except (binascii.Error, ValueError) as exc:
                raise EnvelopeError(
                    RejectReason.BAD_FRAME_FIELD, f"{m.frame} is not base64: {exc}"
                ) from exc
        if m.frame_hex and (hx := obj.get(m.frame_hex)) is not None:
            if not isinstance(hx, str):
                raise EnvelopeError(RejectReason.BAD_FRAME_FIELD, f"{m.frame_hex} is not text")
            try:
                return bytes.fromhex(hx)
            except ValueError as exc:
                raise EnvelopeError(
                    RejectReason.BAD_FRAME_FIELD, f"{m.frame_hex} is not hex: {exc}"
                ) from exc
        names = " or ".join(k for k in (m.frame, m.frame_hex) if k)
        raise EnvelopeError(RejectReason.MISSING_FRAME, f"no frame field ({names})")


# A 64 KiB frame is 88 KiB in base64; the rest of an envelope is small.
MAX_LINE_BYTES = 1 << 20


def read_lines(
    stream: IO[bytes], preset: str = "groundwatch"
) -> Iterator[tuple[int, Envelope | EnvelopeError]]:
    """A file of JSON lines, one envelope per line (``groundwatch decode`` and replay):
    (line number, the envelope or why the line is not one). Blank and ``#`` lines skipped."""
    settings = EnvelopeSettings.model_validate({"payload": "json", "json_preset": preset})
    reader = EnvelopeReader(settings)
    line_no = 0
    while raw := stream.readline(MAX_LINE_BYTES + 1):
        line_no += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            # A line no envelope needs (a file without newlines, say): skipped, not read
            # whole into memory.
            while (rest := stream.readline(1 << 20)) and not rest.endswith(b"\n"):
                pass
            yield (
                line_no,
                EnvelopeError(RejectReason.OVERSIZED, f"line longer than {MAX_LINE_BYTES} bytes"),
            )
            continue
        line = raw.strip()
        if not line or line.startswith(b"#"):
            continue
        try:
            env = reader.read(line)
        except EnvelopeError as exc:
            yield line_no, exc
            continue
        yield line_no, env
