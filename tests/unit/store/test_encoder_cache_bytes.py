"""The encoder's cache of escaped series (measurement + tags) is bounded in bytes, not only in
entries: tag values come from the wire (one series per station name), and a run that hears
a new station name every second must not grow memory for as long as it runs."""

from __future__ import annotations

import gc
import tracemalloc

from groundwatch.model import Point
from groundwatch.store.lineprotocol import LineEncoder


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
    assert retained < enc.max_cached_bytes + (1 << 20), retained
    assert enc.encode(Point("m", {"station": "gs1"}, {"v": 1.0}, 5)) == b"m,station=gs1 v=1.0 5"


def test_a_small_byte_bound_is_honoured() -> None:
    enc = LineEncoder()
    enc.max_cached_bytes = 256 << 10
    retained = _retained_by_encoding(enc, 5_000)
    assert retained < (256 << 10) + (128 << 10), retained
