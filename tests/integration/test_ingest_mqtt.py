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
