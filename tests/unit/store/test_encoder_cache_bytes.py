"""The encoder's cache of escaped series (measurement + tags) is bounded in bytes, not only in
entries: tag values come from the wire (one series per station name), and a run that hears
a new station name every second must not grow memory for as long as it runs."""

from __future__ import annotations

import gc
import tracemalloc

from groundwatch.model import Point
from groundwatch.store.lineprotocol import LineEncoder

from ...helpers.clock import ManualClock


def _retained_by_encoding(enc: LineEncoder, n: int) -> int:
    """Bytes still allocated after encoding ``n`` points of distinct long station names
    (the points themselves are dropped: only what the encoder keeps remains)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(n):
            station = f"station-{i:06d}-" + "x" * 80
            tags = {"spacecraft": "lander", "station": station, "source": "live"}
            enc.encode(Point("link_state", tags, {"up": 1.0}, i))
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def test_series_cache_stays_under_its_byte_bound() -> None:
    enc = LineEncoder()
    retained = _retained_by_encoding(enc, 40_000)
    # The bound plus a little for the dict's table, not ~500 bytes for each series seen.
    assert retained < (8 << 20) + (1 << 20), retained
    assert enc.encode(Point("m", {"station": "gs1"}, {"v": 1.0}, 5)) == b"m,station=gs1 v=1.0 5"


def test_a_small_byte_bound_is_honoured() -> None:
    enc = LineEncoder(max_cached_bytes=256 << 10)
    retained = _retained_by_encoding(enc, 5_000)
    assert retained < (256 << 10) + (128 << 10), retained


def test_series_not_used_for_two_generations_are_let_go() -> None:
    """One new station a second, each heard once, while one station is heard all along:
    what the cache holds stays about the series of the last two generations, however long
    the run, and the station heard all along is never escaped again."""
    from groundwatch.store.series_cache import SeriesCache

    clock = ManualClock()
    cache = SeriesCache(max_bytes=64 << 20, generation_s=60.0, clock=clock)
    enc = LineEncoder()
    enc._series_cache = cache
    sizes = []
    for second in range(1800):
        clock.t = float(second)
        enc.encode(Point("link", {"station": f"gs{second}"}, {"up": 1.0}, second))
        enc.encode(Point("link", {"station": "always"}, {"up": 1.0}, second))
        sizes.append(len(cache))
    assert max(sizes[600:]) <= 2 * 60 + 2  # two generations of one new series a second
    assert (("", "link"), ("station", "always")) in cache.young
    assert cache.nbytes < 150 * 1024
