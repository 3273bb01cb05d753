"""What a simulated ground station sends around each frame (``--envelope``).

``raw``: the bare frame; ``json``: groundwatch's own JSON envelope; ``tinygs``: a TinyGS
packet message; ``mqtt5``: the bare frame with MQTT 5 user properties (see
``groundwatch.envelope`` for the fields). The station's receive time is the time
the frame reached it, on the station's clock (``station_clock_offset``: seconds its clock
is ahead); it is published ``latency`` (+ up to ``jitter``) milliseconds later.
"""

from __future__ import annotations

import base64
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

S = 1_000_000_000


class Envelope(StrEnum):
    RAW = "raw"
    JSON = "json"
    TINYGS = "tinygs"
    MQTT5 = "mqtt5"


@dataclass(slots=True, frozen=True)
class Radio:
    """What the station measured (from the scenario's link model when it has one)."""

    rssi_dbm: float = -105.0
    snr_db: float = 8.0
    freq_offset_hz: float = -420.0
    frequency_hz: float = 437.5e6


def rfc3339_ns(t_ns: int) -> str:
    """RFC 3339 UTC with nine fraction digits (datetime keeps only microseconds)."""
    secs, ns = divmod(t_ns, S)
    return datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{ns:09d}Z"


def radio_of(truth: dict[str, float], index: int) -> Radio:
    rssi = truth.get("rssi")
    snr = truth.get("ebn0")
    wobble = ((index * 37) % 11 - 5) / 10  # deterministic spread: min, max and mean differ
    return Radio(
        rssi_dbm=float(rssi) if rssi is not None else -105.0 + wobble,
        snr_db=float(snr) if snr is not None else 8.0 + wobble,
        freq_offset_hz=-420.0 + 10 * wobble,
    )


def wrap(
    kind: Envelope, data: bytes, station: str, ert_ns: int, radio: Radio
) -> tuple[bytes, list[tuple[str, str]] | None]:
    """(payload, MQTT 5 user properties or None) of one frame."""
    if kind is Envelope.RAW:
        return data, None
    if kind is Envelope.MQTT5:
        return data, [
            ("ert", str(ert_ns)),
            ("station", station),
            ("rssi_dbm", f"{radio.rssi_dbm:.2f}"),
            ("snr_db", f"{radio.snr_db:.2f}"),
            ("freq_offset_hz", f"{radio.freq_offset_hz:.1f}"),
            ("crc_ok", "true"),
            ("frequency_hz", f"{radio.frequency_hz:.0f}"),
        ]
    if kind is Envelope.TINYGS:
        msg: dict[str, object] = {
            "station": station,
            "mode": "FSK",
            "frequency": radio.frequency_hz / 1e6,
            "frequency_error": radio.freq_offset_hz,
            "rssi": radio.rssi_dbm,
            "snr": radio.snr_db,
            "crc_error": False,
            "unix_GS_time": ert_ns // S,
            "usec_time": ert_ns // 1000,
            "satellite": "simulated",
            "NORAD": 99999,
            "station_location": [0.0, 0.0],
            "data": base64.b64encode(data).decode(),
        }
    else:
        msg = {
            "frame": base64.b64encode(data).decode(),
            "ert": rfc3339_ns(ert_ns),
            "station": station,
            "rssi_dbm": radio.rssi_dbm,
            "snr_db": radio.snr_db,
            "freq_offset_hz": radio.freq_offset_hz,
            "crc_ok": True,
            "frequency_hz": radio.frequency_hz,
        }
    return json.dumps(msg, separators=(",", ":")).encode(), None


class StationClock:
    """The receive time a station stamps, and how much later the message leaves it."""

    def __init__(self, offset_s: float = 0.0, latency_ms: float = 0.0, jitter_ms: float = 0.0):
        self.offset_ns = int(offset_s * S)
        self.latency_ns = int(latency_ms * 1e6)
        self.jitter_ns = int(jitter_ms * 1e6)
        self._random = random.Random(0)  # the same delays on every run

    def stamp(self, publish_ns: int) -> int:
        """The station's ERT of a frame published at ``publish_ns`` (true time)."""
        delay = self.latency_ns
        if self.jitter_ns:
            delay += self._random.randrange(self.jitter_ns + 1)
        return publish_ns - delay + self.offset_ns


def parse_latency(text: str) -> tuple[float, float]:
    """``MS`` or ``MS,JITTER`` (milliseconds) -> (latency, jitter); ValueError if not."""
    parts = text.split(",")
    if len(parts) > 2:
        raise ValueError(f"--latency {text!r}: expected MS or MS,JITTER")
    values = [float(p) for p in parts] + [0.0]
    if values[0] < 0 or values[1] < 0:
        raise ValueError(f"--latency {text!r}: must not be negative")
    return values[0], values[1]
