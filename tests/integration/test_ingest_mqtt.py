"""The MQTT ingestor against a real Mosquitto: backpressure instead of drops."""

from __future__ import annotations

import asyncio
import contextlib

import aiomqtt

from groundwatch.ingest.mqtt import MqttSource
from groundwatch.model import RawFrame
from groundwatch.services import ServiceHandle


async def test_slow_pipeline_pauses_the_socket_and_drops_nothing(
    own_mosquitto: ServiceHandle,
) -> None:
    """Mosquitto sends a slow subscriber far more than max_inflight_messages once acks flow
    (measured); with a small client queue that used to overflow and drop. Now the source
    stops reading the socket and the broker holds the rest: every frame arrives, in order."""
    source = MqttSource.from_config(
        {"url": own_mosquitto.url, "client_id": "bp-test", "max_queued": 40}
    )
    out: asyncio.Queue[object] = asyncio.Queue(maxsize=5)
    task = asyncio.create_task(source.run(out))
    while not source.connected:  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)
    n = 2000
    async with aiomqtt.Client("127.0.0.1", own_mosquitto.port) as pub:
        for i in range(n):
            await pub.publish("gs/gs1/frames", i.to_bytes(4, "big") + bytes(500), qos=1)
    got: list[int] = []
    while len(got) < n:
        item = await asyncio.wait_for(out.get(), 20)
        if isinstance(item, RawFrame):
            await asyncio.sleep(0.0005)  # a slow decode stage
            got.append(int.from_bytes(item.data[:4], "big"))
            assert item.ack is not None
            item.ack()
    await source.stop()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)
    assert got == list(range(n))
    assert source.counters.dropped == 0
    assert source.read_pause is not None and source.read_pause.pauses >= 1


async def _take(out: asyncio.Queue[object], n: int, ack_every: int) -> list[RawFrame]:
    frames: list[RawFrame] = []
    while len(frames) < n:
        item = await asyncio.wait_for(out.get(), 20)
        if isinstance(item, RawFrame):
            if len(frames) % ack_every == 0:  # archived
                assert item.ack is not None
                item.ack()
            frames.append(item)
    return frames


async def test_only_acknowledged_frames_are_not_delivered_again(
    own_mosquitto: ServiceHandle,
) -> None:
    """PUBACKs go out in batches; still, exactly the frames whose ack() ran (archived) are
    settled at the broker, and the rest come again to the next session of the client id."""
    opts = {"url": own_mosquitto.url, "client_id": "ack-test", "drain_timeout": 0.5}
    first = MqttSource.from_config(opts)
    out: asyncio.Queue[object] = asyncio.Queue()
    task = asyncio.create_task(first.run(out))
    while not first.connected:  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)
    n = 150  # unacknowledged at most n / 2: below the broker's max_inflight_messages (100)
    async with aiomqtt.Client("127.0.0.1", own_mosquitto.port) as pub:
        for i in range(n):
            await pub.publish("gs/gs1/frames", i.to_bytes(4, "big"), qos=1)
    frames = await _take(out, n, ack_every=2)
    assert [int.from_bytes(f.data, "big") for f in frames] == list(range(n))
    await first.stop()
    await asyncio.wait_for(task, 10)
    second = MqttSource.from_config(opts)
    task = asyncio.create_task(second.run(out))
    again = await _take(out, n // 2, ack_every=1)
    await asyncio.sleep(0.5)  # nothing more comes
    assert not [
        i for i in (out.get_nowait() for _ in range(out.qsize())) if isinstance(i, RawFrame)
    ]
    assert sorted(int.from_bytes(f.data, "big") for f in again) == list(range(1, n, 2))
    await second.stop()
    await asyncio.wait_for(task, 10)
    assert first.counters.dropped == second.counters.dropped == 0
