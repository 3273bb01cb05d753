"""What every ingestor shares: earth-received time stamping, the station name rule and the
bounded queue the pipeline hands sources.

The items a source emits and the queue it puts them into are ``parts.IngestItem`` and
``parts.FrameQueue``. Everything a source hands over came from outside the process, so the
pipeline's queue is bounded both in items and in bytes (``BoundedItemQueue``), and a frame a
source refuses (longer than its ``max_frame_bytes``, or from a station whose name is not
allowed) travels as ``model.RefusedFrame``: the pipeline archives its raw bytes and rejects
it with the reason, without decoding it.

Station names become InfluxDB tags, archive file names, topic levels and metric labels, so
only ``STATION_NAME`` is allowed: 1 to 64 characters, ASCII letters, digits, ``.``, ``_``
and ``-``, starting with a letter or digit. A frame from any other name is archived and
rejected (``bad_station``) under the station ``INVALID_STATION``, the name in its detail.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from typing import Any

from groundwatch.model import (
    ERT_MIN_SPACING_NS,
    RawFrame,
    RefusedFrame,
    RejectedInput,
    StationStatus,
)

ITEM_OVERHEAD = 200  # bytes an item costs besides its payload (objects, station name)


STATION_NAME_MAX = 64
STATION_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{STATION_NAME_MAX - 1}}}")
INVALID_STATION = "invalid"  # where frames from a station name not allowed are counted


def station_problem(name: str) -> str | None:
    """Why ``name`` is not an allowed station name (None: it is)."""
    if STATION_NAME.fullmatch(name):
        return None
    if not name:
        return "empty station name"
    if len(name) > STATION_NAME_MAX:
        return f"station name longer than {STATION_NAME_MAX} characters ({len(name)})"
    shown = repr(name[:80]) + ("..." if len(name) > 80 else "")
    return (
        f"station name {shown} not allowed (letters, digits, '.', '_' and '-', "
        "starting with a letter or digit)"
    )


def item_bytes(item: Any) -> int:
    """Memory an item holds, for the byte bound of queues (payload plus a fixed overhead)."""
    if isinstance(item, RawFrame):
        return len(item.data) + ITEM_OVERHEAD
    if isinstance(item, RefusedFrame):
        return len(item.frame.data) + ITEM_OVERHEAD
    if isinstance(item, StationStatus):
        return len(item.payload) + ITEM_OVERHEAD
    if isinstance(item, RejectedInput):  # the whole message, up to max_frame_bytes
        return len(item.data) + ITEM_OVERHEAD
    return ITEM_OVERHEAD


class BoundedItemQueue(asyncio.Queue[Any]):
    """An ``asyncio.Queue`` bounded in items (``maxsize``) and in bytes (``max_bytes``).

    ``put`` waits while either bound is reached; one item is always accepted into an empty
    queue, so an item larger than ``max_bytes`` passes alone instead of blocking forever.
    ``peak_bytes`` is the most it ever held.
    """

    def __init__(self, maxsize: int, max_bytes: int) -> None:
        super().__init__(maxsize)
        self.max_bytes = max_bytes
        self.nbytes = 0
        self.peak_bytes = 0

    def full(self) -> bool:
        return super().full() or (self.nbytes >= self.max_bytes and not self.empty())

    # asyncio.Queue's storage hooks: every put and get goes through them.
    def _init(self, maxsize: int) -> None:
        self._queue: deque[Any] = deque()

    def _put(self, item: Any) -> None:
        self._queue.append(item)
        self.nbytes += item_bytes(item)
        if self.nbytes > self.peak_bytes:
            self.peak_bytes = self.nbytes

    def _get(self) -> Any:
        item = self._queue.popleft()
        self.nbytes -= item_bytes(item)
        return item


class ErtStamper:
    """Earth-received time for frames as they arrive, strictly increasing per station.

    Frames of one station are kept at least ``ERT_MIN_SPACING_NS`` apart even when the wall
    clock has not moved (or went backwards), so packet k of a frame can be stamped ert + k and
    no two points of one series ever share a timestamp (InfluxDB would overwrite one).

    Bounded: past ``max_stations`` (names come from the wire) the station first seen
    longest ago is forgotten; it then gets the wall clock again, which is still increasing unless
    the clock stepped back.
    """

    def __init__(self, max_stations: int = 4096) -> None:
        self.max_stations = max_stations
        self._last: dict[str, int] = {}

    def stamp(self, station: str, now_ns: int | None = None) -> int:
        now = time.time_ns() if now_ns is None else now_ns
        last = self._last.get(station)
        if last is not None and now < last + ERT_MIN_SPACING_NS:
            now = last + ERT_MIN_SPACING_NS
        if last is None and len(self._last) >= self.max_stations:
            del self._last[next(iter(self._last))]  # insertion order: the oldest station
        self._last[station] = now
        return now
