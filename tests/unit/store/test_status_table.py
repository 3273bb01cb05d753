"""The status table against a local HTTP receiver answering the status codes InfluxDB uses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from groundwatch.config import StoreConfig
from groundwatch.model import Point
from groundwatch.store.influx_v1 import InfluxV1Writer
from groundwatch.store.influx_v2 import classify_api_exception
from groundwatch.store.sink import StoreSink
from groundwatch.store.writer import WriteFailed, parse_retry_after

from ...helpers.http import HttpReceiver, ReceivedRequest, http_receiver


@pytest.fixture
async def server() -> AsyncIterator[tuple[HttpReceiver, str]]:
    async with http_receiver("/write", status=204) as s:
        yield s, s.base_url


def too_large_over(lines: int) -> Any:
    def respond(r: ReceivedRequest) -> tuple[int, str, dict[str, str]] | None:
        return (413, '{"error":"too large"}', {}) if r.body.count(b"\n") > lines else None

    return respond


async def test_writer_classifies_statuses(server: tuple[HttpReceiver, str]) -> None:
    s, url = server
    w = InfluxV1Writer(url, "db")
    s.plan = [
        (400, '{"error":"partial write: field type conflict dropped=2"}', {}),
        (429, "slow down", {"Retry-After": "7"}),
        (500, "boom", {}),
        (413, "too large", {}),
    ]
    r = await w.write(b"m v=1 1\n")
    assert r.rejected and r.dropped == 2
    with pytest.raises(WriteFailed) as e429:
        await w.write(b"m v=1 1\n")
    assert e429.value.retryable and e429.value.retry_after == 7
    with pytest.raises(WriteFailed) as e500:
        await w.write(b"m v=1 1\n")
    assert e500.value.retryable and e500.value.status == 500
    with pytest.raises(WriteFailed) as e413:
        await w.write(b"m v=1 1\n")
    assert not e413.value.retryable and e413.value.status == 413
    assert (await w.write(b"m v=1 1\n")).rejected is False
    await w.close()
    with pytest.raises(WriteFailed) as down:
        await InfluxV1Writer("http://127.0.0.1:9", "db", timeout=2).write(b"m v=1 1\n")
    assert down.value.retryable and down.value.status == 0


def test_v2_api_exception_mapping() -> None:
    from influxdb_client.rest import ApiException

    exc = ApiException(status=429, reason="Too Many Requests")
    with pytest.raises(WriteFailed) as e:
        classify_api_exception(exc)
    assert e.value.retryable
    exc = ApiException(status=422, reason="unprocessable")
    assert classify_api_exception(exc).rejected


def test_retry_after_parsing() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def _cfg(tmp_path: Path, url: str, **kw: object) -> StoreConfig:
    return StoreConfig.model_validate(
        {
            "url": url,
            "api": "v1",
            "spool_dir": tmp_path / "spool",
            "dead_letter": tmp_path / "dl.lp",
            **kw,
        }
    )


async def test_sink_splits_413_and_retries_429(
    server: tuple[HttpReceiver, str], tmp_path: Path
) -> None:
    s, url = server
    s.respond = too_large_over(10)
    s.plan = [(429, "slow", {"Retry-After": "0.2"})]
    sink = StoreSink.from_config(_cfg(tmp_path, url, batch_size=40, flush_interval=0.05))
    await sink.start()
    assert await sink.put([Point("m", {}, {"v": i}, i) for i in range(40)])
    for _ in range(200):  # the 429 sends the batch to the spool; the drainer retries it
        if sink.counters.sent >= 40:
            break
        await asyncio.sleep(0.05)
    await sink.stop()
    assert sink.counters.extra["write_failures"] == 1
    assert sink.counters.sent == 40 and sink.spool.records == 0
    assert sink.counters.extra.get("split_batches", 0) >= 3
    stored = {line for b in s.bodies if b.count(b"\n") <= 10 for line in b.splitlines()}
    assert stored == {f"m v={i}i {i}".encode() for i in range(40)}


async def test_sink_dead_letters_refused_lines_and_moves_on(
    server: tuple[HttpReceiver, str], tmp_path: Path
) -> None:
    s, url = server
    conflict = (
        'partial write: field type conflict: input field \\"v\\" on measurement \\"m\\" '
        "is type float, already exists as type integer dropped=1"
    )
    # 1.x names only the conflict; the unparsable line shows up when the rest is re-sent.
    unparsable = "partial write: unable to parse 'm w=3i 3': invalid field dropped=0"
    s.plan = [
        (400, '{"error":"' + conflict + '"}', {}),
        (400, '{"error":"' + unparsable + '"}', {}),
    ]
    sink = StoreSink.from_config(_cfg(tmp_path, url, flush_interval=0.05))
    await sink.start()
    pts = [Point("m", {}, {"v": 1}, 1), Point("m", {}, {"v": 2.5}, 2), Point("m", {}, {"w": 3}, 3)]
    await sink.put(pts)
    await sink.stop()
    assert s.bodies == [
        b"m v=1i 1\nm v=2.5 2\nm w=3i 3\n",
        b"m v=1i 1\nm w=3i 3\n",  # the named line is never re-sent
        b"m v=1i 1\n",
    ]
    text = (tmp_path / "dl.lp").read_text()
    assert "m v=2.5 2" in text and "m w=3i 3" in text and "m v=1i 1" not in text
    assert "field type conflict" in text and "unable to parse" in text
    assert sink.counters.extra["dead_letter_lines"] == 2
    assert sink.counters.sent == 1 and sink.spool.records == 0
