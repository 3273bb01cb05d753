"""KISS over TCP and UDP ingestors, each against a real local peer (a TCP server serving a
KISS byte stream in odd-sized chunks, a UDP sender), through the pipeline into InfluxDB."""

from __future__ import annotations

import asyncio
import random
import socket
from pathlib import Path

from groundwatch.services import ServiceHandle, free_port

from .pipeline_helpers import (
    REPO,
    expected_packets,
    query,
    running_pipeline,
    settings_for,
    simulate_file,
    wait_for,
    write_config,
)

AX25_DICTIONARY = REPO / "tests" / "unit" / "sim" / "sim_ax25.yaml"


def _count(influx: ServiceHandle, db: str, measurement: str) -> int:
    rows = query(influx, db, f'SELECT count("packet_id") FROM "{measurement}"')
    return int(rows[0]["count"]) if rows else 0


async def test_kiss_tcp_source_reads_a_tnc_stream(
    mosquitto: ServiceHandle, influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    stream, record = tmp_path / "beacons.kiss", tmp_path / "record.jsonl"
    await asyncio.to_thread(
        simulate_file, stream, "kiss", count=80, record=record, dictionary=AX25_DICTIONARY
    )
    data = stream.read_bytes()
    rng = random.Random(3)

    async def tnc(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        i = 0
        while i < len(data):  # odd chunk sizes: frames split across TCP reads
            n = rng.randint(1, 700)
            writer.write(data[i : i + n])
            await writer.drain()
            i += n
        await reader.read()  # keep the connection until the client goes

    port = free_port()
    server = await asyncio.start_server(tnc, "127.0.0.1", port)
    cfg = write_config(
        tmp_path / "gw.toml", mosquitto, influxd, influx_db, dictionary=AX25_DICTIONARY
    )
    settings = settings_for(cfg)
    settings.sources[0] = type(settings.sources[0])(
        type="kiss_tcp", host="127.0.0.1", port=port, station="tnc1"
    )
    want = {n: len(v) for n, v in expected_packets(record).items()}
    async with server, running_pipeline(settings) as pipeline:
        await wait_for(lambda: pipeline.stats.frames >= 80, 30, "80 KISS frames")
    assert not pipeline.stats.rejected
    for name, n in want.items():
        assert _count(influxd, influx_db, name) == n


async def test_udp_source_takes_one_frame_per_datagram(
    mosquitto: ServiceHandle, influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    frames_file, record = tmp_path / "frames.hex", tmp_path / "record.jsonl"
    await asyncio.to_thread(simulate_file, frames_file, "hex", count=60, record=record)
    frames = [
        bytes.fromhex(line.split()[-1])
        for line in frames_file.read_text().splitlines()
        if line.strip()
    ]
    port = free_port()
    cfg = write_config(tmp_path / "gw.toml", mosquitto, influxd, influx_db)
    settings = settings_for(cfg)
    settings.sources[0] = type(settings.sources[0])(type="udp", port=port, station="modem1")
    async with running_pipeline(settings) as pipeline:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for f in frames:
                s.sendto(f, ("127.0.0.1", port))
                await asyncio.sleep(0.002)
        await wait_for(lambda: pipeline.stats.frames >= len(frames), 30, "UDP frames")
    assert pipeline.stats.frames == len(frames) == 60
    rows = query(influxd, influx_db, 'SELECT count("seq_count") FROM "gnc"')
    assert rows[0]["count"] == len(expected_packets(record)["gnc"])
