"""What the stations say about their reception, per link, as the console shows it.

Stations that send frames in an envelope (``FrameMeta``) report how well they heard each
one; the pipeline writes it once a second in the ``link`` series, tagged by spacecraft and
station (see ``link.radio``). The console shows, per link, the latest of:

- ``rssi_dbm_mean``: RSSI, dBm (mean over the latest second with such frames);
- ``snr_db_mean``: SNR or Eb/N0, dB, as the station reports it;
- ``freq_offset_hz_mean``: frequency offset, Hz;
- ``station_crc_failures``: frames whose station said its CRC failed (cumulative);
- ``clock_offset_s``: receipt time minus the station's ERT, s (network latency plus the
  station's clock error; negative when the station's clock runs ahead).

Both feeds give rows with these field names: in-process ``Pipeline.status()["radio"]``,
attached the last value of each field in InfluxDB (``RADIO_FIELDS``). A figure a row does
not carry keeps its last value: after LOS the console still shows how the link ended. A
link whose frames never came in an envelope has no figures (shown as a dash).

Values come from the store or the wire: anything but a finite number is ignored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# link series field -> RadioView attribute
RADIO_FIELDS = {
    "rssi_dbm_mean": "rssi_dbm",
    "snr_db_mean": "snr_db",
    "freq_offset_hz_mean": "freq_offset_hz",
    "station_crc_failures": "station_crc_failures",
    "clock_offset_s": "clock_offset_s",
}
NONE = "-"


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


@dataclass(slots=True)
class RadioView:
    """One link's latest radio figures; None: never reported."""

    rssi_dbm: float | None = None
    snr_db: float | None = None
    freq_offset_hz: float | None = None
    station_crc_failures: float | None = None
    clock_offset_s: float | None = None

    def update(self, row: Mapping[str, Any]) -> bool:
        """Take the figures ``row`` carries (``link`` field names); True if any."""
        taken = False
        for name, attr in RADIO_FIELDS.items():
            value = _finite(row.get(name))
            if value is not None:
                setattr(self, attr, value)
                taken = True
        return taken

    def cells(self) -> tuple[str, str, str, str, str]:
        """RSSI dBm, SNR dB, frequency offset Hz, station CRC failures, clock offset s."""
        return (
            _fixed(self.rssi_dbm, "{:.1f}"),
            _fixed(self.snr_db, "{:.1f}"),
            _fixed(self.freq_offset_hz, "{:+.0f}"),
            _fixed(self.station_crc_failures, "{:.0f}"),
            clock_offset_text(self.clock_offset_s),
        )

    def text(self) -> str:
        """One line of plain text (non-terminal output)."""
        rssi, snr, foff, crc, clock = self.cells()
        return (
            f"rssi {rssi} dBm snr {snr} dB freq offset {foff} Hz "
            f"station crc failures {crc} clock offset {clock} s"
        )


def _fixed(value: float | None, fmt: str) -> str:
    return NONE if value is None else fmt.format(value)


def clock_offset_text(seconds: float | None) -> str:
    """Milliseconds matter for latency; a clock that is off by many seconds needs fewer."""
    if seconds is None:
        return NONE
    return f"{seconds:+.3f}" if abs(seconds) < 100 else f"{seconds:+.0f}"


def radio_cells(view: RadioView | None) -> tuple[str, str, str, str, str]:
    """The five cells of a link, dashes when its frames never came in an envelope."""
    return view.cells() if view is not None else (NONE,) * 5


def radio_text(view: RadioView | None) -> str:
    return view.text() if view is not None else "radio -"
