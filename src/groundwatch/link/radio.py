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


# Per link and interval: count, sum, min, max of RSSI, SNR and frequency offset, then of
# the clock offset, in one flat list (updated for every enveloped frame: no objects).
_RSSI, _SNR, _FOFF, _OFFSET = 0, 4, 8, 12


def _empty() -> list[float]:
    return [0, 0.0, math.inf, -math.inf] * 4


@dataclass(slots=True)
class _Radio:
    stats: list[float] = field(default_factory=_empty)
    crc_failures: int = 0
    ert: dict[ErtSource, int] = field(default_factory=dict)
    clock_offset_s: float | None = None


def _add(stats: list[float], at: int, v: float) -> None:
    stats[at] += 1
    stats[at + 1] += v
    if v < stats[at + 2]:
        stats[at + 2] = v
    if v > stats[at + 3]:
        stats[at + 3] = v


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
        stats = r.stats
        if meta.rssi_dbm is not None:
            _add(stats, _RSSI, meta.rssi_dbm)
        if meta.snr_db is not None:
            _add(stats, _SNR, meta.snr_db)
        if meta.freq_offset_hz is not None:
            _add(stats, _FOFF, meta.freq_offset_hz)
        if meta.crc_ok is False:
            r.crc_failures += 1
        source = meta.ert_source  # a StrEnum member: no .value lookup per frame
        r.ert[source] = r.ert.get(source, 0) + 1
        if meta.station_ert_ns is not None and meta.receipt_ns is not None:
            _add(stats, _OFFSET, (meta.receipt_ns - meta.station_ert_ns) / 1e9)

    def points(self, now_ns: int) -> list[Point]:
        out = []
        for (spacecraft, station), r in self._links.items():
            fields: dict[str, float | int | str | bool] = {
                "station_crc_failures": r.crc_failures,
                **{f"ert_{s.value}": r.ert.get(s, 0) for s in ErtSource},
            }
            stats = r.stats
            for name, at in (("rssi_dbm", _RSSI), ("snr_db", _SNR), ("freq_offset_hz", _FOFF)):
                if stats[at]:
                    fields[f"{name}_mean"] = stats[at + 1] / stats[at]
                    fields[f"{name}_min"] = stats[at + 2]
                    fields[f"{name}_max"] = stats[at + 3]
            if stats[_OFFSET]:
                r.clock_offset_s = stats[_OFFSET + 1] / stats[_OFFSET]
            if r.clock_offset_s is not None:
                fields["clock_offset_s"] = r.clock_offset_s
            tags = {"spacecraft": spacecraft, "station": station}
            out.append(Point(LINK_MEASUREMENT, tags, fields, now_ns))
            r.stats = _empty()
        return out
