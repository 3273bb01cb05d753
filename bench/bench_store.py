"""Store throughput: raw line-protocol ceiling of one influxd vs StoreSink, same run.

    .venv/bin/python bench/bench_store.py [--points 200000] [--fields 40] [--batch 5000]
                                          [--rounds 4]

Starts its own influxd (groundwatch.services) in a temporary directory. The ceiling posts
pre-built batches with aiohttp (two in flight, like the sink's live writer plus drainer);
the sink run encodes ``model.Point`` objects, batches and writes them through StoreSink.
Prints points/s and values/s for both and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp

from groundwatch import services
from groundwatch.config import StoreConfig
from groundwatch.model import Point
from groundwatch.store.lineprotocol import encode_lines
from groundwatch.store.sink import StoreSink

T0 = 1_700_000_000_000_000_000


def make_points(n: int, fields: int, offset: int) -> list[Point]:
    return [
        Point(
            f"pkt{i % 4}",
            {"spacecraft": "lander", "station": "gs1", "source": "live"},
            {f"p{j}": (i * 0.001 + j) if j % 4 else i + j for j in range(fields)},
            T0 + offset + i * 1000,
        )
        for i in range(n)
    ]


async def ceiling(url: str, db: str, lines: list[bytes], batch: int) -> float:
    bodies = [b"\n".join(lines[i : i + batch]) + b"\n" for i in range(0, len(lines), batch)]
    sem = asyncio.Semaphore(2)
    async with aiohttp.ClientSession() as s:

        async def post(body: bytes) -> None:
            async with (
                sem,
                s.post(f"{url}/write", params={"db": db, "precision": "ns"}, data=body) as r,
            ):
                assert r.status == 204, await r.text()

        t = time.perf_counter()
        await asyncio.gather(*(post(b) for b in bodies))
        return time.perf_counter() - t


async def through_sink(url: str, db: str, points: list[Point], batch: int, tmp: Path) -> float:
    cfg = StoreConfig(
        url=url,
        database=db,
        api="v1",
        batch_size=batch,
        spool_dir=tmp / "spool",
        dead_letter=tmp / "dl.lp",
        queue_size=max(50_000, 4 * batch),
    )
    sink = StoreSink.from_config(cfg)
    await sink.start()
    t = time.perf_counter()
    for i in range(0, len(points), 4):  # one frame's worth of packets per put
        await sink.put(points[i : i + 4])
    # Faster than InfluxDB, the sink spools; the run ends when everything is in InfluxDB.
    while sink.spool.records or sink.health()["queue_depth"]:  # noqa: ASYNC110 (polling a gauge)
        await asyncio.sleep(0.01)
    await sink.stop()
    elapsed = time.perf_counter() - t
    assert sink.counters.sent == len(points), sink.health()
    return elapsed


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=200_000, help="per method, all rounds")
    ap.add_argument("--fields", type=int, default=40)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument(
        "--pin",
        action="store_true",
        help="influxd on CPU 0, this process on CPU 1: InfluxDB gets the same CPU in both"
        " runs instead of sharing it with the encoder (2-core machines)",
    )
    a = ap.parse_args()
    n = a.points // a.rounds
    raw_rates: list[float] = []
    sink_rates: list[float] = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        h = services.start_influxd(tmp / "influxdb", database="bench")
        if a.pin:
            os.sched_setaffinity(h.pid, {0})
            os.sched_setaffinity(0, {1})
        try:
            # Same database and series for both, rounds interleaved: InfluxDB's speed drifts
            # as shards grow and other processes load the machine; medians compare fairly.
            warm = encode_lines(make_points(2000, a.fields, 0))
            await ceiling(h.url, "bench", warm, a.batch)  # series exist before timing
            offset = 10_000_000_000
            for r in range(a.rounds):
                lines = encode_lines(make_points(n, a.fields, offset * (2 * r + 1)))
                raw_rates.append(n / await ceiling(h.url, "bench", lines, a.batch))
                pts = make_points(n, a.fields, offset * (2 * r + 2))
                sink_rates.append(n / await through_sink(h.url, "bench", pts, a.batch, tmp))
                print(f"round {r + 1}: ceiling {raw_rates[-1]:8.0f}  sink {sink_rates[-1]:8.0f}")
        finally:
            services.stop_pid(h.pid)
    raw_rate, sink_rate = statistics.median(raw_rates), statistics.median(sink_rates)
    for label, rate in (("ceiling (pre-built)", raw_rate), ("StoreSink (encoding)", sink_rate)):
        print(f"{label:22} {rate:10.0f} points/s {rate * a.fields:12.0f} values/s (median)")
    print(f"ratio sink/ceiling: {sink_rate / raw_rate:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
