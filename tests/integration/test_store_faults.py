"""Fault tests: InfluxDB stopped, frozen, disk budget exhausted, StoreSink killed -9.

Outages are a few seconds here (``OUTAGE_S``); a 30 s outage is the same code path
with a longer wait (bench/ can run it).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

from groundwatch import services
from groundwatch.model import Event, EventType
from groundwatch.services import ServiceHandle
from groundwatch.store.sink import StoreSink

from .store_helpers import cfg, expected, feed, point, read_tm, wait_drained

ROOT = str(Path(__file__).resolve().parents[2])
OUTAGE_S = float(os.environ.get("GW_TEST_OUTAGE_S", "3"))


async def test_influxd_stopped_mid_stream_every_point_once(
    own_influxd: ServiceHandle, tmp_path: Path
) -> None:
    h = own_influxd
    sink = StoreSink.from_config(cfg(tmp_path, h.url, "groundwatch"))
    await sink.start()
    new = h
    try:
        assert await feed(sink, 0, 1000) == 1000
        services.stop_pid(h.pid)
        stopped = asyncio.create_task(feed(sink, 1000, 2000, gap=OUTAGE_S / 40))
        await stopped
        assert sink.spool.records > 0  # the outage went to disk
        new = await asyncio.to_thread(services.start_influxd, Path(h.data_dir), h.port)
        assert await feed(sink, 3000, 1000) == 1000  # live data flows while the spool drains
        await wait_drained(sink)
        await sink.stop()
        assert read_tm(h.url, "groundwatch") == expected(0, 4000)  # exact, once each
        assert sink.counters.extra["write_failures"] >= 1
    finally:
        if new.pid != h.pid:
            services.stop_pid(new.pid)


async def test_influxd_frozen_nothing_lost_memory_bounded(
    own_influxd: ServiceHandle, tmp_path: Path
) -> None:
    h = own_influxd
    c = cfg(tmp_path, h.url, "groundwatch", queue_size=2000, timeout=1.0)
    sink = StoreSink.from_config(c)
    await sink.start()
    os.kill(h.pid, signal.SIGSTOP)
    try:
        t = time.monotonic()
        assert await feed(sink, 0, 6000, gap=OUTAGE_S / 120) == 6000
        assert time.monotonic() - t < OUTAGE_S + 10  # put() never waited on the frozen db
    finally:
        os.kill(h.pid, signal.SIGCONT)
    await wait_drained(sink)
    await sink.stop()
    assert sink.peak_in_memory <= c.queue_size
    assert read_tm(h.url, "groundwatch") == expected(0, 6000)


async def test_disk_budget_exhausted_alerts_and_keeps_what_it_accepted(
    own_influxd: ServiceHandle, tmp_path: Path
) -> None:
    h = own_influxd
    alerts: list[Event] = []
    durable: list[int] = []
    c = cfg(tmp_path, h.url, "groundwatch", queue_size=500, spool_budget_mb=0.05)
    sink = StoreSink(c, on_alert=alerts.append, on_durable=durable.append, put_timeout=0.2)
    await sink.start()
    services.stop_pid(h.pid)
    new = h
    try:
        accepted: list[int] = []
        for base in range(0, 5000, 50):
            if await sink.put([point(i) for i in range(base, base + 50)], checkpoint=base):
                accepted.append(base)
        assert alerts and alerts[0].type == EventType.SPOOL_FULL and not alerts[0].recovery
        assert sink.refused > 0 and len(accepted) < 100  # refused, counted, not dropped silently
        new = await asyncio.to_thread(services.start_influxd, Path(h.data_dir), h.port)
        await wait_drained(sink)
        await sink.stop()
        assert [a.recovery for a in alerts] == [False, True]  # raised once, then cleared
        data = read_tm(h.url, "groundwatch")
        for base in accepted:
            for t, v in expected(base, 50).items():
                assert data[t] == v
        assert max(durable, default=-1) < min(set(range(0, 5000, 50)) - set(accepted))
    finally:
        if new.pid != h.pid:
            services.stop_pid(new.pid)


CHILD = """
import asyncio, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from tests.integration.store_helpers import cfg, feed
from groundwatch.store.sink import StoreSink

async def main():
    done = []
    sink = StoreSink.from_config(cfg(Path({tmp!r}), "http://127.0.0.1:9", "groundwatch"),
                                 on_durable=done.append)
    await sink.start()
    await feed(sink, 0, 2000, gap=0)
    while not done or done[-1] != 1950:
        await asyncio.sleep(0.05)
    print("spooled", flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


async def test_killed_sink_spool_is_delivered_by_the_next_instance(
    influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD.format(root=ROOT, tmp=str(tmp_path)),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), 30)
        assert line.strip() == b"spooled"
    finally:
        child.kill()  # SIGKILL: no stop(), no flush
        await child.wait()
    sink = StoreSink.from_config(cfg(tmp_path, influxd.url, influx_db))
    await sink.start()
    assert sink.spool.records > 0
    await wait_drained(sink)
    await sink.stop()
    assert read_tm(influxd.url, influx_db) == expected(0, 2000)


async def test_sink_started_while_influxd_is_down_detects_it_later(
    own_influxd: ServiceHandle, tmp_path: Path
) -> None:
    h = own_influxd
    services.stop_pid(h.pid)
    sink = StoreSink.from_config(cfg(tmp_path, h.url, "groundwatch"))  # api = "auto"
    await sink.start()  # does not fail: detection is retried while the data is spooled
    new = h
    try:
        assert await feed(sink, 0, 500, gap=0) == 500
        await asyncio.sleep(0.3)
        assert sink.spool.records > 0 and sink.health()["db_up"] is False
        new = await asyncio.to_thread(services.start_influxd, Path(h.data_dir), h.port)
        await wait_drained(sink)
        await sink.stop()
        assert read_tm(h.url, "groundwatch") == expected(0, 500)
    finally:
        if new.pid != h.pid:
            services.stop_pid(new.pid)
