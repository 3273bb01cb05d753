"""Helpers shared by the store integration tests."""

from __future__ import annotations

import asyncio
from pathlib import Path

from groundwatch import services
from groundwatch.config import StoreConfig
from groundwatch.model import Point
from groundwatch.store.sink import StoreSink

T0 = 1_700_000_000_000_000_000


def cfg(tmp_path: Path, url: str, db: str, **kw: object) -> StoreConfig:
    base: dict[str, object] = {
        "url": url,
        "database": db,
        "spool_dir": tmp_path / "spool",
        "dead_letter": tmp_path / "dead-letter.lp",
        "batch_size": 500,
        "flush_interval": 0.05,
        "timeout": 2.0,
        "max_retry_delay": 0.5,
    }
    base.update(kw)
    return StoreConfig.model_validate(base)


def point(i: int) -> Point:
    return Point(
        "tm", {"spacecraft": "lander", "station": "gs1"}, {"v": i * 0.1, "k": i}, T0 + i * 1000
    )


async def feed(
    sink: StoreSink, start: int, count: int, per_put: int = 50, gap: float = 0.005
) -> int:
    """Put points ``start .. start+count-1``; returns how many were accepted."""
    accepted = 0
    for base in range(start, start + count, per_put):
        pts = [point(i) for i in range(base, min(base + per_put, start + count))]
        if await sink.put(pts, checkpoint=base):
            accepted += len(pts)
        await asyncio.sleep(gap)
    return accepted


def read_tm(url: str, db: str) -> dict[int, tuple[float, int]]:
    res = services.influx_query(url, "SELECT v, k FROM tm", db=db)
    series = res["results"][0].get("series", [])  # type: ignore[index]
    out: dict[int, tuple[float, int]] = {}
    for row in series[0]["values"] if series else []:
        out[row[0]] = (row[1], row[2])
    return out


def expected(start: int, count: int) -> dict[int, tuple[float, int]]:
    return {T0 + i * 1000: (i * 0.1, i) for i in range(start, start + count)}


async def wait_drained(sink: StoreSink, limit_s: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + limit_s
    while loop.time() < end:
        h = sink.health()
        if h["spool_records"] == 0 and h["queue_depth"] == 0 and h["held_batches"] == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not drained: {sink.health()}")
