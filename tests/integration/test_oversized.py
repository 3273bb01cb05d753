"""10 MB messages on a frames topic of a real Mosquitto: rejected as ``oversized`` at the
source, kept whole only in the archive, stored in InfluxDB as a prefix with length and hash;
influxd keeps accepting writes and groundwatch's memory stays bounded."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import aiomqtt

from groundwatch import services
from groundwatch.services import ServiceHandle
from groundwatch.store.points import REJECTED_HEX_BYTES

from .pipeline_helpers import running_pipeline, settings_for, simulate, wait_for, write_config
from .test_pipeline_e2e import stored_live

BIG = 10_000_000
MiB = 1 << 20


def _rss_peak_reset() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS


def _status_kb(name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise AssertionError(name)


async def test_ten_megabyte_messages_are_rejected_and_memory_stays_bounded(
    own_mosquitto: ServiceHandle, influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    cfg = write_config(
        tmp_path / "gw.toml", own_mosquitto, influxd, influx_db, client_id="gw-oversized"
    )
    settings = settings_for(cfg)
    payloads = [os.urandom(BIG) for _ in range(4)]
    async with running_pipeline(settings) as pipeline:
        await asyncio.sleep(0.5)
        _rss_peak_reset()
        start_kb = _status_kb("VmRSS")
        async with aiomqtt.Client("127.0.0.1", own_mosquitto.port) as pub:
            for data in payloads:
                await pub.publish("gs/gs1/frames", data, qos=1)
            await pub.publish("gs/gs1/status", b"x" * BIG, qos=1)  # a heartbeat, as big
        await wait_for(
            lambda: pipeline.stats.rejected.get("oversized", 0) >= 4, 60, "4 oversized rejects"
        )
        source = pipeline.sources[0]
        assert source.counters.extra.get("oversized") == 4
        await wait_for(lambda: "gs1" in pipeline.monitor.snapshot()["stations"], 10, "heartbeat")
        assert source.counters.extra.get("status_truncated") == 1
        kept = pipeline.monitor.snapshot()["stations"]["gs1"]["status"]
        assert len(str(kept)) <= 4096  # what /health echoes
        # The database still takes writes: a normal pass after the big messages is stored.
        record = tmp_path / "record.jsonl"
        await asyncio.to_thread(
            simulate, own_mosquitto, record, "--station", "gs1", count=50, rate=0
        )
        await wait_for(lambda: pipeline.stats.frames >= 54, 30, "the pass after them")
        await wait_for(lambda: stored_live(influxd, influx_db) > 0, 30, "points stored")
        peak_mb = (_status_kb("VmHWM") - start_kb) / 1024
        queue_peak = pipeline.queue.peak_bytes
    # Each message is in memory once or twice while it passes (paho, the archive append);
    # never all four at once with their hex text, line protocol and request body.
    assert peak_mb < 90, f"RSS grew by {peak_mb:.0f} MB"
    # The decode stage takes each refused frame as it comes; under load a second one may
    # arrive before the first is archived, never more.
    assert queue_peak < 3 * BIG
    rows = services.influx_query(
        influxd.url,
        'SELECT "hex", "length", "sha256", "truncated" FROM "rejected" WHERE "reason" = '
        "'oversized'",
        db=influx_db,
    )
    values = rows["results"][0]["series"][0]["values"]  # type: ignore[index]
    assert len(values) == 4
    want = {hashlib.sha256(p).hexdigest(): p for p in payloads}
    for _t, hex_, length, digest, truncated in values:
        assert length == BIG and truncated is True
        assert bytes.fromhex(hex_) == want[digest][:REJECTED_HEX_BYTES]
    # The raw bytes are kept whole in the archive, and only there.
    archived = sum(
        f.stat().st_size for f in (tmp_path / "var" / "archive").rglob("*") if f.is_file()
    )
    assert archived >= 4 * BIG
    health = await asyncio.to_thread(services.influx_ping, influxd.url)
    assert health is not None
