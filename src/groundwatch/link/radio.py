"""What the stations say about their reception, per link, once a second in ``link``.

Every copy of a frame that came in a station envelope (``RawFrame.meta``) is counted here,
duplicates from other stations included (each station's own reception is the point):

- ``rssi_dbm``, ``snr_db``, ``freq_offset_hz``: mean, min and max over the interval
  (``rssi_dbm_mean`` ...; absent when no frame of the interval carried the value);
- ``station_crc_failures``: cumulative frames whose station said its CRC failed;
- ``ert_station``, ``ert_receipt``, ``ert_replaced``: cumulative frames per ERT source
  (``replaced``: the station's time failed the clock guard, the receipt time was used);
- ``clock_offset_s``: receipt time minus the station's ERT (network latency plus the
  station's clock error), mean over the latest interval with such frames (kept while
  none arrive); negative when the station's clock runs ahead. Also for ``replaced``
  frames, so a station clock that is off shows here.

Per-link state is bounded (``MAX_LINKS``): links come from the wire.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from groundwatch.model import ErtSource, FrameMeta, Point

LINK_MEASUREMENT = "link"
MAX_LINKS = 10_000


@dataclass(slots=True)
class _Stat:
    n: int = 0
    total: float = 0.0
    low: float = math.inf
    high: float = -math.inf

    def add(self, v: float) -> None:
        self.n += 1
        self.total += v
        if v < self.low:
            self.low = v
        if v > self.high:
            self.high = v


@dataclass(slots=True)
class _Radio:
    rssi: _Stat = field(default_factory=_Stat)
    snr: _Stat = field(default_factory=_Stat)
    foff: _Stat = field(default_factory=_Stat)
    offset: _Stat = field(default_factory=_Stat)
    crc_failures: int = 0
    ert: dict[str, int] = field(default_factory=dict)
    clock_offset_s: float | None = None

    def reset_interval(self) -> None:
        self.rssi, self.snr, self.foff, self.offset = _Stat(), _Stat(), _Stat(), _Stat()


class RadioAccounting:
    """Station radio metadata and station time per (spacecraft, station)."""

    def __init__(self) -> None:
        self._links: dict[tuple[str, str], _Radio] = {}

    def observe(self, spacecraft: str, station: str, meta: FrameMeta) -> None:
        key = (spacecraft, station)
        r = self._links.get(key)
        if r is None:
            if len(self._links) >= MAX_LINKS:
                self._links.clear()
            r = self._links[key] = _Radio()
        if meta.rssi_dbm is not None:
            r.rssi.add(meta.rssi_dbm)
        if meta.snr_db is not None:
            r.snr.add(meta.snr_db)
        if meta.freq_offset_hz is not None:
            r.foff.add(meta.freq_offset_hz)
        if meta.crc_ok is False:
            r.crc_failures += 1
        source = meta.ert_source.value
        r.ert[source] = r.ert.get(source, 0) + 1
        if meta.station_ert_ns is not None and meta.receipt_ns is not None:
            r.offset.add((meta.receipt_ns - meta.station_ert_ns) / 1e9)

    def last_means(self) -> dict[tuple[str, str], dict[str, float]]:
        """Interval means so far per link (the link monitor's signal thresholds)."""
        return {k: _means(r) for k, r in self._links.items()}

    def points(self, now_ns: int) -> list[Point]:
        out = []
        for (spacecraft, station), r in self._links.items():
            fields: dict[str, float | int | str | bool] = {
                "station_crc_failures": r.crc_failures,
                **{f"ert_{s.value}": r.ert.get(s.value, 0) for s in ErtSource},
            }
            for name, stat in (("rssi_dbm", r.rssi), ("snr_db", r.snr), ("freq_offset_hz", r.foff)):
                if stat.n:
                    fields[f"{name}_mean"] = stat.total / stat.n
                    fields[f"{name}_min"] = stat.low
                    fields[f"{name}_max"] = stat.high
            if r.offset.n:
                r.clock_offset_s = r.offset.total / r.offset.n
            if r.clock_offset_s is not None:
                fields["clock_offset_s"] = r.clock_offset_s
            tags = {"spacecraft": spacecraft, "station": station}
            out.append(Point(LINK_MEASUREMENT, tags, fields, now_ns))
            r.reset_interval()
        return out


def _means(r: _Radio) -> dict[str, float]:
    out = {}
    if r.rssi.n:
        out["rssi_dbm"] = r.rssi.total / r.rssi.n
    if r.snr.n:
        out["snr_db"] = r.snr.total / r.snr.n
    return out
