"""Derived values that cannot be computed are counted per parameter and reason in /metrics
and /health, while the other values of the same packets are still stored (real Mosquitto and
InfluxDB)."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import aiomqtt

from groundwatch.decoders.api import FramingDef
from groundwatch.decoders.packing import TmFramePacker
from groundwatch.decoders.space_packet import build_space_packet
from groundwatch.services import ServiceHandle, free_port

from .pipeline_helpers import query, running_pipeline, settings_for, wait_for, write_config

DICTIONARY = """\
mission: careless
spacecraft:
  - {name: careless-sat, scid: 0x2B}
framing: {kind: tm, frame_length: 64, fecf: true, ocf: true}
packets:
  - name: power
    apid: 0x21
    parameters:
      - {name: watts, type: uint16}
      - {name: volts, type: uint16}
      - {name: mode, type: uint8, enum: {0: SAFE, 1: NAV_SOLUTION}}
      - {name: amps, expr: "watts / volts"}
      - {name: mode_scaled, expr: "mode * 10 ** 8"}
      - {name: doubled, expr: "watts * 2"}
"""


async def test_uncomputable_values_are_counted_in_metrics(
    mosquitto: ServiceHandle, influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    dictionary = tmp_path / "careless.yaml"
    dictionary.write_text(DICTIONARY)
    cfg = write_config(
        tmp_path / "gw.toml",
        mosquitto,
        influxd,
        influx_db,
        client_id="gw-not-computed",
        dictionary=dictionary,
    )
    settings = settings_for(cfg)
    settings.health.listen = f"127.0.0.1:{free_port()}"
    packer = TmFramePacker(0x2B, 1, FramingDef(frame_length=64, fecf=True, ocf=True))
    volts = [0, 12, 0, 0]  # three divisions by zero
    frames = packer.frames_for(
        [
            build_space_packet(0x21, i, (100).to_bytes(2, "big") + v.to_bytes(2, "big") + b"\x01")
            for i, v in enumerate(volts)
        ]
    )
    async with running_pipeline(settings) as pipeline:
        async with aiomqtt.Client("127.0.0.1", mosquitto.port) as client:
            for f in frames:
                await client.publish("gs/gs1/frames", f, qos=1)
        await wait_for(lambda: pipeline.stats.packets >= len(volts), 60, "packets")
        async with aiohttp.ClientSession() as http:
            base = f"http://{settings.health.listen}"
            async with http.get(f"{base}/metrics") as r:
                metrics = await r.text()
            async with http.get(f"{base}/health") as r:
                health = await r.json()
    labels = 'packet="power",parameter="{}",reason="{}"'
    assert (
        "groundwatch_not_computed_values{" + labels.format("amps", "division_by_zero") + "} 3"
    ) in metrics
    assert ("groundwatch_not_computed_values{" + labels.format("mode_scaled", "type") + "} 4") in (
        metrics
    )
    assert sum(row["values"] for row in health["not_computed"]) == 7
    rows = query(influxd, influx_db, 'SELECT count("doubled"), count("amps") FROM "power"')
    assert rows and rows[0]["count"] == 4 and rows[0]["count_1"] == 1
