"""Every private hook of ``ingest.paho_adapter`` against a real Mosquitto, for the pinned
aiomqtt and paho-mqtt: an upgrade that renames or changes one of them fails here."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import tomllib
from importlib import metadata

import aiomqtt
import pytest

from groundwatch.ingest.paho_adapter import (
    PINNED,
    Acks,
    BufferedSocket,
    CountingQueue,
    Incoming,
    ReadPause,
    Session,
    check_versions,
)
from groundwatch.services import ServiceHandle

from ..conftest import REPO


def test_installed_versions_are_the_pinned_ones() -> None:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = dict(m.groups() for d in deps if (m := re.fullmatch(r"([\w-]+)==([\w.!]+)", d)))
    for dist, version in PINNED.items():
        assert pins.get(dist) == version, f"pyproject.toml must pin {dist}=={version}"
        assert metadata.version(dist) == version
    assert check_versions() == []


def _client(broker: ServiceHandle, ident: str, bound: int = 100) -> aiomqtt.Client:
    return aiomqtt.Client(
        "127.0.0.1",
        broker.port,
        identifier=ident,
        clean_session=False,
        queue_type=CountingQueue,
        max_queued_incoming_messages=bound,
    )


async def _publish(broker: ServiceHandle, first: int, n: int) -> None:
    async with aiomqtt.Client("127.0.0.1", broker.port) as pub:
        for i in range(first, first + n):
            await pub.publish("adapter/t", i.to_bytes(4, "big"), qos=1)


async def _receive(session: Session, n: int) -> list[Incoming]:
    got: list[Incoming] = []
    stop: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    async for msg in session.messages(stop):
        got.append(msg)
        if len(got) == n:
            break
    return got


async def test_manual_acks_read_pause_and_disconnect(own_mosquitto: ServiceHandle) -> None:
    client = _client(own_mosquitto, "adapter-test")
    session = Session(client)
    received: list[Incoming] = []

    def on_message(msg: Incoming) -> None:
        received.append(msg)
        session.queue.put_nowait(msg)

    session.take_messages(on_message)
    pause = ReadPause(client, high=1000, low=0)
    session.queue.pause = pause
    acked: list[int] = []
    async with client:
        pause.install()
        assert isinstance(client._client.socket(), BufferedSocket)
        acks = Acks(client, acked.append)
        await client.subscribe("adapter/t", qos=1)
        await _publish(own_mosquitto, 0, 10)
        first = await asyncio.wait_for(_receive(session, 10), 10)
        assert [int.from_bytes(m.payload, "big") for m in first] == list(range(10))
        assert all(m.qos == 1 and m.mid > 0 for m in first)

        # Paused: the socket is not read, the broker keeps the messages.
        pause.after_put(0, high=True)
        assert pause.paused and pause.pauses == 1
        await _publish(own_mosquitto, 10, 5)
        await asyncio.sleep(0.5)
        assert len(received) == 10
        pause.after_get(0)
        assert not pause.paused
        more = await asyncio.wait_for(_receive(session, 5), 10)
        assert [int.from_bytes(m.payload, "big") for m in more] == list(range(10, 15))

        # Acks: even ones written at once, odd ones after paho's output queue.
        for m in first[::2] + more[::2]:
            acks.add(m.mid)
        acks.flush()
        client._client._packet_queue(0x40, b"", 0, 0)  # paho's queue, now not empty
        assert client._client._out_packet
        for m in first[1::2] + more[1::2]:
            acks.add(m.mid)
        acks.flush()
        await asyncio.sleep(0.3)
        assert sum(acked) == 15

    # Every ack reached the broker: nothing comes again to the same session.
    again = _client(own_mosquitto, "adapter-test")
    again_session = Session(again)
    again_session.take_messages(again_session.queue.put_nowait)
    async with again:
        await again.subscribe("adapter/t", qos=1)
        await asyncio.sleep(0.7)
        assert again_session.queue.qsize() == 0

        # A broker killed -9: the message iterator raises MqttError.
        ReadPause(again, high=1000, low=0).install()
        os.kill(own_mosquitto.pid, signal.SIGKILL)
        stop: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        with pytest.raises(aiomqtt.MqttError):
            await asyncio.wait_for(_receive(again_session, 1), 10)
        stop.cancel()


async def test_queue_bytes_pause_the_reader(own_mosquitto: ServiceHandle) -> None:
    client = _client(own_mosquitto, "adapter-bytes", bound=10_000)
    session = Session(client)
    session.queue.max_bytes = 300_000
    session.take_messages(session.queue.put_nowait)
    pause = ReadPause(client, high=10_000, low=0)
    session.queue.pause = pause
    async with client:
        pause.install()
        await client.subscribe("adapter/big", qos=1)
        async with aiomqtt.Client("127.0.0.1", own_mosquitto.port) as pub:
            for _ in range(10):
                await pub.publish("adapter/big", bytes(100_000), qos=1)
        await asyncio.sleep(0.7)
        assert pause.paused
        assert session.queue.qsize() <= 4  # paused within one message of the byte bound
        assert session.queue.nbytes <= 300_000 + 100_200
