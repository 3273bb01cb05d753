"""The simulator through a broker restart (real Mosquitto): it reconnects by itself, ends
without a traceback, and its record marks as sent exactly what the broker acknowledged."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from groundwatch import services
from groundwatch.ingest.mqtt import MqttSource
from groundwatch.model import RawFrame
from groundwatch.services import ServiceHandle

from .pipeline_helpers import records, simulate, wait_for


async def test_simulator_reconnects_after_a_broker_restart(
    own_mosquitto: ServiceHandle, tmp_path: Path
) -> None:
    # A subscriber with a persistent session (it reconnects by itself too) sees what the
    # broker accepted; a graceful restart keeps its queued messages.
    sub = MqttSource.from_config({"url": own_mosquitto.url, "client_id": "sim-reconnect-sub"})
    out: asyncio.Queue[object] = asyncio.Queue()
    task = asyncio.create_task(sub.run(out))
    await wait_for(lambda: sub.connected, 10, "the subscriber")
    await asyncio.sleep(0.3)
    record = tmp_path / "record.jsonl"
    sim = simulate(own_mosquitto, record, "--station", "gs1", count=400, rate=80, background=True)
    assert isinstance(sim, subprocess.Popen)
    await asyncio.sleep(2)
    await asyncio.to_thread(services.restart, own_mosquitto)
    stdout, _ = await asyncio.to_thread(sim.communicate, timeout=120)
    text = stdout.decode()
    assert sim.returncode == 0, text
    assert "Traceback" not in text and "reconnects" in text, text
    sent = [r for r in records(record) if r["sent"]]
    assert len(sent) == 400
    got: set[bytes] = set()
    deadline = asyncio.get_running_loop().time() + 30
    while len(got) < 400 and asyncio.get_running_loop().time() < deadline:
        try:
            item = await asyncio.wait_for(out.get(), 1)
        except TimeoutError:
            continue
        if isinstance(item, RawFrame):
            assert item.ack is not None
            item.ack()
            got.add(item.data)
    await sub.stop()
    await asyncio.wait_for(task, 15)
    assert len(got) == len(sent)  # every frame recorded as sent reached the broker
