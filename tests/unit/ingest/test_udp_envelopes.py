"""The UDP source reads station envelopes too (one JSON envelope per datagram)."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from groundwatch.ingest.base import INVALID_STATION
from groundwatch.ingest.udp import UdpSource
from groundwatch.model import ErtSource, RawFrame, RefusedFrame, RejectedInput, RejectReason
from groundwatch.parts import ConfigError
from groundwatch.sim.envelopes import Envelope, Radio, wrap


class Collect:
    def __init__(self) -> None:
        self.items: list[object] = []

    async def put(self, item: object) -> None:
        self.items.append(item)


async def test_json_datagrams_become_frames_with_metadata() -> None:
    src = UdpSource.from_config({"station": "gs8", "port": 0, "payload": "json"})
    await src.start()
    out = Collect()
    task = asyncio.create_task(src.run(out))  # type: ignore[arg-type]
    ert = time.time_ns() - 50_000_000  # received by the station 50 ms ago
    payload, _ = wrap(Envelope.JSON, b"\x01" * 20, "gs8", ert, Radio())
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(payload, ("127.0.0.1", src.bound_port or 0))
        s.sendto(b"not json", ("127.0.0.1", src.bound_port or 0))
    for _ in range(100):
        if len(out.items) >= 2:
            break
        await asyncio.sleep(0.01)
    await src.stop()
    await asyncio.wait_for(task, 5)
    frame, bad = out.items
    assert isinstance(frame, RawFrame) and frame.data == b"\x01" * 20
    assert frame.ert_ns == ert and frame.station == "gs8"
    assert frame.meta is not None and frame.meta.ert_source is ErtSource.STATION
    assert isinstance(bad, RejectedInput) and bad.reason is RejectReason.BAD_ENVELOPE


def test_mqtt5_payload_is_refused_for_udp() -> None:
    with pytest.raises(ConfigError):
        UdpSource.from_config({"station": "gs8", "payload": "mqtt5"})


async def test_a_station_named_by_the_envelope_outside_the_rule_is_refused() -> None:
    src = UdpSource.from_config({"station": "gs8", "port": 0, "payload": "json"})
    await src.start()
    out = Collect()
    task = asyncio.create_task(src.run(out))  # type: ignore[arg-type]
    payload, _ = wrap(Envelope.JSON, b"\x01" * 20, "../gs 8\n" * 40, time.time_ns(), Radio())
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(payload, ("127.0.0.1", src.bound_port or 0))
    for _ in range(100):
        if out.items:
            break
        await asyncio.sleep(0.01)
    await src.stop()
    await asyncio.wait_for(task, 5)
    (item,) = out.items
    assert isinstance(item, RefusedFrame) and item.reason is RejectReason.BAD_STATION
    assert item.frame.station == INVALID_STATION and item.frame.data == b"\x01" * 20
    assert src.counters.extra["bad_station"] == 1
