"""Which earth-received time a frame gets: the station's, guarded, or the receipt time.

``StationTime.place`` takes the station's ERT (None when its envelope gave none) and the
time groundwatch read the frame, and returns the frame's ERT and its ``ErtSource``:

- no station ERT: the receipt time (``receipt``);
- a station ERT more than ``clock_tolerance`` ahead of the receipt time, or more than
  ``redelivery_window`` behind it, is a bad station clock (or a message queued too long):
  with ``bad_station_time = "reject"`` it raises ``EnvelopeError`` (``ert_future`` /
  ``ert_stale``), with ``"receipt"`` the receipt time is used instead (``replaced``);
- otherwise the station's ERT (``station``).

Then the unique-timestamp rule: a station's frames are strictly increasing, at least
``ERT_MIN_SPACING_NS`` apart (packet k of a frame is stamped ERT + k ns). A frame whose
ERT is not after the previous one of its station is stamped just after it and counted in
``backwards``. Per-station state is bounded (``MAX_STATIONS``).

``EnvelopeFrames`` is what a frame source calls per message: envelope, station time and
the unique-timestamp rule in one step, giving a ``RawFrame`` or a ``RejectedInput``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from groundwatch.envelope import EnvelopeError, EnvelopeReader, EnvelopeSettings
from groundwatch.model import ERT_MIN_SPACING_NS, ErtSource, RawFrame, RejectedInput, RejectReason
from groundwatch.parts import Counters

S = 1_000_000_000
MAX_STATIONS = 10_000  # stations come from the wire: the map is cleared beyond this


@dataclass(slots=True)
class StationTimeCounts:
    station: int = 0
    receipt: int = 0
    replaced: int = 0
    rejected: int = 0
    backwards: int = 0


class StationTime:
    def __init__(
        self, settings: EnvelopeSettings | None = None, counters: Counters | None = None
    ) -> None:
        s = settings or EnvelopeSettings()
        self.counters = counters  # the source's: ``ert_backwards`` shows in /health
        self.tolerance_ns = int(s.clock_tolerance * S)
        self.window_ns = int(s.redelivery_window * S)
        self.replace_bad = s.bad_station_time == "receipt"
        self.counts = StationTimeCounts()
        self._last: dict[str, int] = {}

    def guard(self, station_ert: int | None, receipt_ns: int) -> tuple[int, ErtSource]:
        """The ERT to use before the unique-timestamp rule; EnvelopeError when refused."""
        if station_ert is None:
            return receipt_ns, ErtSource.RECEIPT
        ahead = station_ert - receipt_ns
        if ahead > self.tolerance_ns:
            reason, why = RejectReason.ERT_FUTURE, f"{ahead / S:.3f} s ahead of receipt"
        elif -ahead > self.window_ns:
            reason, why = RejectReason.ERT_STALE, f"{-ahead / S:.3f} s behind receipt"
        else:
            return station_ert, ErtSource.STATION
        if self.replace_bad:
            return receipt_ns, ErtSource.REPLACED
        self.counts.rejected += 1
        raise EnvelopeError(reason, f"station ERT {why}")

    def place(
        self, station: str, station_ert: int | None, receipt_ns: int
    ) -> tuple[int, ErtSource]:
        """(ERT, where it comes from) of a station's frame; EnvelopeError when refused."""
        ert, source = self.guard(station_ert, receipt_ns)
        counts = self.counts  # plain branches: once per enveloped frame
        if source is ErtSource.STATION:
            counts.station += 1
        elif source is ErtSource.RECEIPT:
            counts.receipt += 1
        else:
            counts.replaced += 1
        return self.unique(station, ert, count=station_ert is not None), source

    def unique(self, station: str, ert: int, count: bool = True) -> int:
        """``ert``, or just after the station's previous frame when not after it."""
        last = self._last.get(station)
        if last is not None and ert < last + ERT_MIN_SPACING_NS:
            if count and ert <= last:
                self.counts.backwards += 1
                if self.counters is not None:
                    self.counters.bump("ert_backwards")
            ert = last + ERT_MIN_SPACING_NS
        if last is None and len(self._last) >= MAX_STATIONS:
            self._last.clear()
        self._last[station] = ert
        return ert


class EnvelopeFrames:
    """One source's messages to frames: its envelope setting, its stations' clocks."""

    def __init__(
        self, settings: EnvelopeSettings, ingest: str, counters: Counters | None = None
    ) -> None:
        self.reader = EnvelopeReader(settings)
        self.ingest = ingest
        self.raw = settings.payload == "raw"
        self.counters = counters if counters is not None else Counters()
        self.time = StationTime(settings, self.counters)

    def make(
        self,
        payload: bytes,
        station: str,
        properties: Iterable[tuple[str, str]] = (),
        receipt_ns: int | None = None,
        ack: Callable[[], None] | None = None,
    ) -> RawFrame | RejectedInput:
        receipt = time.time_ns() if receipt_ns is None else receipt_ns
        if self.raw:  # bare bytes: the receipt time, no metadata (the cheapest path)
            ert = self.time.unique(station, receipt, count=False)
            return RawFrame(bytes(payload), ert, station, "live", self.ingest, ack)
        default = station

        def place(given: str | None, station_ert: int | None) -> tuple[int, ErtSource]:
            return self.time.place(given or default, station_ert, receipt)

        try:
            env = self.reader.read(payload, properties, receipt, place)
        except EnvelopeError as exc:
            self.counters.bump(f"rejected_{exc.reason.value}")  # the source's /metrics
            t = self.time.unique(station, receipt, count=False)
            return RejectedInput(
                bytes(payload), t, station, exc.reason, exc.detail, self.ingest, ack
            )
        ert = env.ert_ns if env.ert_ns is not None else receipt  # placed: always set
        return RawFrame(env.data, ert, env.station or station, "live", self.ingest, ack, env.meta)
