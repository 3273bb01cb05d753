"""Many station names against a low descriptor limit (real Mosquitto and influxd): every frame
is archived, /health keeps answering, the process never runs out of descriptors; and a frame
the archive could not write is never acknowledged to the broker."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import subprocess
import urllib.request
from pathlib import Path

import aiomqtt

from groundwatch import services
from groundwatch.archive.reader import ArchiveReader
from groundwatch.ingest.mqtt import MqttSource
from groundwatch.model import EventType, RawFrame
from groundwatch.services import ServiceHandle

from .pipeline_helpers import (
    GROUNDWATCH,
    running_pipeline,
    settings_for,
    simulated_frames,
    wait_for,
    write_config,
)

STATIONS = 1_500
NOFILE = 256




def _low_nofile() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))


def _health(port: int) -> dict[str, object]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as resp:
        data: dict[str, object] = json.loads(resp.read())
        return data


async def test_fifteen_hundred_stations_under_a_low_descriptor_limit(
    mosquitto: ServiceHandle, influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    port = services.free_port()
    cfg = write_config(
        tmp_path / "gw.toml",
        mosquitto,
        influxd,
        influx_db,
        client_id="gw-many-stations",
        extra=f'[health]\nlisten = "127.0.0.1:{port}"\n',
    )
    text = cfg.read_text().replace("[link]\n", "[link]\nmax_stations = 2000\n")
    cfg.write_text(text.replace("[archive]\n", "[archive]\nmax_open_files = 64\n"))
    frames = simulated_frames(tmp_path, 50)
    log = tmp_path / "run.log"
    proc = subprocess.Popen(  # noqa: ASYNC220
        [*GROUNDWATCH, "run", "--config", str(cfg), "--no-status"],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        preexec_fn=_low_nofile,
    )
    try:
        await wait_for(lambda: services.port_open(port), 30, "/health")
        await asyncio.sleep(1.0)  # subscribed
        fds_peak = 0
        async with aiomqtt.Client("127.0.0.1", mosquitto.port) as pub:
            for i in range(STATIONS):
                await pub.publish(f"gs/many{i}/frames", frames[i % len(frames)], qos=1)
                if i % 100 == 0:
                    fds_peak = max(fds_peak, len(os.listdir(f"/proc/{proc.pid}/fd")))
        deadline = asyncio.get_running_loop().time() + 90
        health: dict[str, object] = {}
        while asyncio.get_running_loop().time() < deadline:
            health = await asyncio.to_thread(_health, port)  # answers all along
            fds_peak = max(fds_peak, len(os.listdir(f"/proc/{proc.pid}/fd")))
            if health["frames"] == STATIONS:
                break
            await asyncio.sleep(0.5)
        assert health["frames"] == STATIONS, health.get("frames")
        archive = health["archive"]
        assert isinstance(archive, dict)
        assert archive["errors"] == 0 and archive["received"] == STATIONS
        assert archive["open_files_peak"] <= 64
    finally:
        proc.terminate()
        proc.wait(60)
    output = log.read_text()
    assert "Too many open files" not in output and "Traceback" not in output, output[-3000:]
    assert fds_peak < NOFILE - 64
    files = sorted((tmp_path / "var" / "archive").glob("*.gwa"))
    assert len(files) == STATIONS
    assert sum(1 for _ in ArchiveReader(files)) == STATIONS


async def test_a_frame_not_archived_is_not_acknowledged(
    own_mosquitto: ServiceHandle, influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    cfg = write_config(
        tmp_path / "gw.toml", own_mosquitto, influxd, influx_db, client_id="gw-archive-fail"
    )
    cfg.write_text(
        cfg.read_text().replace(
            'client_id = "gw-archive-fail"\n',
            'client_id = "gw-archive-fail"\ndrain_timeout = 1.0\n',
        )
    )
    settings = settings_for(cfg)
    frames = simulated_frames(tmp_path, 10)
    archive_dir = tmp_path / "var" / "archive"
    async with running_pipeline(settings) as pipeline:
        async with aiomqtt.Client("127.0.0.1", own_mosquitto.port) as pub:
            await pub.publish("gs/ok1/frames", frames[0], qos=1)
            await wait_for(lambda: pipeline.stats.frames >= 1, 10, "the first frame")
            os.rename(archive_dir, tmp_path / "moved")
            archive_dir.write_text("the disk refuses")  # every new pass file fails
            for data in frames[1:6]:
                await pub.publish("gs/bad1/frames", data, qos=1)
            await wait_for(lambda: pipeline.stats.frames >= 6, 10, "the refused frames")
        status = pipeline.status()
        assert status["archive"]["errors"] == 5 and status["archive"]["failing"] == 1
        failed = [e for e in pipeline.stats.events if e.type is EventType.ARCHIVE_FAILED]
        assert [e.severity.label for e in failed] == ["critical"]
    # The broker still has the five: a new session of the same client id gets them again.
    again = MqttSource.from_config({"url": own_mosquitto.url, "client_id": "gw-archive-fail"})
    out: asyncio.Queue[object] = asyncio.Queue()
    task = asyncio.create_task(again.run(out))
    got: list[bytes] = []
    deadline = asyncio.get_running_loop().time() + 15
    while len(got) < 5 and asyncio.get_running_loop().time() < deadline:
        try:
            item = await asyncio.wait_for(out.get(), 1)
        except TimeoutError:
            continue
        if isinstance(item, RawFrame):
            got.append(item.data)
            assert item.ack is not None
            item.ack()
    await again.stop()
    await asyncio.wait_for(task, 15)
    assert sorted(got) == sorted(frames[1:6])
