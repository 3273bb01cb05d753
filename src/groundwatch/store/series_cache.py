"""The line encoder's cache of escaped series text, which keeps only series in use.

Every point names its series (measurement and tags) and escaping that text costs more than
finding it again, so the encoder caches it. Tag values come from the wire (a station name),
so the cache must not keep the series of stations gone long ago: with a new station name
every second it would grow with the run until its byte bound, then start again.

Two generations: a lookup finds the series in the young one (the hot path: one dict get),
or moves it there from the old one. Once ``generation_s`` has passed, the next miss makes
the young generation the old one and starts a new young one, so a series not used for two
generations is let go. What stays is about the series used lately, whatever the run's
length; ``max_bytes`` and ``max_items`` bound it still (both generations are cleared past
either), for a burst of new names within a generation.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

SeriesKey = tuple[tuple[str, str], ...]


def entry_bytes(key: SeriesKey, text: str) -> int:
    """What an entry keeps alive (tag values outlive their point), its dict slot too."""
    return (
        sys.getsizeof(key)
        + sys.getsizeof(text)
        + 100
        + sum(sys.getsizeof(t) + sys.getsizeof(t[1]) for t in key)
    )


class SeriesCache:
    """Escaped series text by series key, in two generations of ``generation_s``."""

    def __init__(
        self,
        max_bytes: int = 8 << 20,
        max_items: int = 100_000,
        generation_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_bytes = max_bytes
        self.max_items = max_items
        self.generation_s = generation_s
        self._clock = clock
        self.young: dict[SeriesKey, str] = {}
        self._old: dict[SeriesKey, str] = {}
        self._young_bytes = 0
        self._old_bytes = 0
        self._born = clock()

    @property
    def nbytes(self) -> int:
        return self._young_bytes + self._old_bytes

    def __len__(self) -> int:
        return len(self.young) + len(self._old)

    def miss(self, key: SeriesKey) -> str | None:
        """After ``young.get(key)`` found nothing: the text from the old generation (now
        young again), or None. A due generation change happens here."""
        now = self._clock()
        if now - self._born >= self.generation_s:
            self._old, self._old_bytes = self.young, self._young_bytes
            self.young, self._young_bytes = {}, 0
            self._born = now
        text = self._old.pop(key, None)
        if text is not None:
            size = entry_bytes(key, text)
            self._old_bytes -= size
            self.young[key] = text
            self._young_bytes += size
        return text

    def put(self, key: SeriesKey, text: str) -> None:
        size = entry_bytes(key, text)
        if len(self) >= self.max_items or self.nbytes + size > self.max_bytes:
            self.young, self._old = {}, {}
            self._young_bytes = self._old_bytes = 0
        self.young[key] = text
        self._young_bytes += size
