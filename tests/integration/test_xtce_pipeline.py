"""Real CTIM packets, decoded with the CTIM XTCE database by the live pipeline (real
Mosquitto and InfluxDB), land in InfluxDB with the reference decode's values."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import aiomqtt

from groundwatch.decoders.space_packet import iter_space_packets
from groundwatch.services import ServiceHandle

from .pipeline_helpers import query, running_pipeline, settings_for, wait_for, write_config

XTCE = Path(__file__).resolve().parents[1] / "data" / "xtce"


async def test_ctim_packets_through_the_pipeline_into_influxdb(
    mosquitto: ServiceHandle, influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    xml = tmp_path / "ctim.xml"
    xml.write_bytes(gzip.decompress((XTCE / "ctim_xtce_v1.xml.gz").read_bytes()))
    stream = gzip.decompress((XTCE / "ctim_packets_sample.bin.gz").read_bytes())
    packets = [p.to_bytes() for p in iter_space_packets(stream)]
    reference = json.loads(gzip.decompress((XTCE / "ctim_reference_sample.json.gz").read_bytes()))
    assert len(packets) == len(reference) == 49
    cfg = write_config(
        tmp_path / "gw.toml", mosquitto, influxd, influx_db, client_id="gw-xtce", dictionary=xml
    )
    async with running_pipeline(settings_for(cfg)) as pipeline:
        async with aiomqtt.Client("127.0.0.1", mosquitto.port) as client:
            for packet in packets:
                await client.publish("gs/gs1/frames", packet, qos=1)
        await wait_for(lambda: pipeline.stats.points >= len(packets), 60, "49 packets stored")
        assert dict(pipeline.stats.rejected) == {}
    expected: dict[tuple[str, int], dict[str, object]] = {}
    for ref in reference:
        name = f"APID_{ref['PKT_APID']['raw']}_Packet"
        expected[(name, ref["SEQ_CTR"]["raw"])] = {k: v["eng"] for k, v in ref.items()}
    mismatches, compared = [], 0
    for name in sorted({key[0] for key in expected}):
        rows = query(influxd, influx_db, f'SELECT * FROM "{name}"')
        assert rows, name
        for row in rows:
            want = expected.pop((name, row["SEQ_CTR"]))
            for param, value in want.items():
                compared += 1
                if row.get(param) != value:
                    mismatches.append((name, row["SEQ_CTR"], param, row.get(param), value))
    assert not expected, f"packets not stored: {sorted(expected)[:5]}"
    assert not mismatches, f"{len(mismatches)} mismatches: {mismatches[:10]}"
    assert compared > 20_000
