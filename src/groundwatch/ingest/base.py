"""What every ingestor shares: earth-received time stamping.

The items a source emits and the queue it puts them into are ``parts.IngestItem`` and
``parts.FrameQueue``.
"""

from __future__ import annotations

import time

from groundwatch.model import ERT_MIN_SPACING_NS


class ErtStamper:
    """Earth-received time for frames as they arrive, strictly increasing per station.

    Frames of one station are kept at least ``ERT_MIN_SPACING_NS`` apart even when the wall
    clock has not moved (or went backwards), so packet k of a frame can be stamped ert + k and
    no two points of one series ever share a timestamp (InfluxDB would overwrite one).
    """

    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    def stamp(self, station: str, now_ns: int | None = None) -> int:
        now = time.time_ns() if now_ns is None else now_ns
        last = self._last.get(station)
        if last is not None and now < last + ERT_MIN_SPACING_NS:
            now = last + ERT_MIN_SPACING_NS
        self._last[station] = now
        return now
