"""Malformed frames of every kind, and 10,000 random byte strings, go through the
live pipeline (real Mosquitto and InfluxDB) without stopping it; each is counted under its
reason and kept raw in the ``rejected`` measurement."""

from __future__ import annotations

import random
from pathlib import Path

import aiohttp
import aiomqtt
from prometheus_client.parser import text_string_to_metric_families

from groundwatch.decoders.dictionary import load_dictionary
from groundwatch.decoders.packing import TmFramePacker
from groundwatch.decoders.space_packet import build_space_packet
from groundwatch.decoders.tm_frame import TmFrame, TmFrameFormat
from groundwatch.rejects import RejectReason
from groundwatch.services import ServiceHandle, free_port

from .pipeline_helpers import (
    DEMO_DICTIONARY,
    query,
    running_pipeline,
    settings_for,
    wait_for,
    write_config,
)

SCID = 0x2A


def malformed_frames() -> tuple[dict[str, list[bytes]], bytes]:
    """One or more frames per reject reason, built with the project's own layouts."""
    framing = load_dictionary(DEMO_DICTIONARY).framing
    assert framing.frame_length is not None
    fmt = TmFrameFormat(framing)
    ocf = bytes(4)
    data_len = framing.frame_length - 6 - 4 - 2

    def frame(data: bytes, fhp: int, vcfc: int, vcid: int = 3, scid: int = SCID) -> bytes:
        return fmt.build(
            TmFrame(
                scid=scid,
                vcid=vcid,
                mcfc=vcfc,
                vcfc=vcfc,
                fhp=fhp,
                data_field=data.ljust(data_len, b"\x55"),
                ocf=ocf,
            )
        )

    good = TmFramePacker(SCID, 2, framing).frames_for(
        [build_space_packet(0x100, 1, bytes(25), sec_hdr_flag=True)]  # gnc's 25 octets
    )[0]
    bad_crc = bytearray(good)
    bad_crc[100] ^= 0xFF
    unknown = TmFramePacker(SCID, 4, framing).frames_for([build_space_packet(0x3AB, 7, bytes(20))])[
        0
    ]
    # A packet whose header claims 3000 octets, cut by the next frame's first header pointer.
    long_header = build_space_packet(0x100, 2, bytes(3000))[:6]
    overrun_1 = frame(long_header + bytes(data_len - 6), fhp=0, vcfc=0)
    overrun_2 = frame(build_space_packet(0x100, 3, bytes(30)), fhp=0, vcfc=1)
    return {
        "short_frame": [b"\x2a\x01\x02"],
        "wrong_length": [good[:-10]],
        "bad_crc": [bytes(bad_crc)],
        "foreign_scid": [frame(build_space_packet(0x100, 1, bytes(10)), 0, 0, scid=0x155)],
        "unknown_apid": [unknown],
        "packet_overrun": [overrun_1, overrun_2],
    }, good


async def test_malformed_and_random_frames_are_counted_and_kept(
    mosquitto: ServiceHandle, influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    cfg = write_config(
        tmp_path / "gw.toml", mosquitto, influxd, influx_db, client_id="gw-malformed"
    )
    kinds, good = malformed_frames()
    rng = random.Random(7)
    noise = [rng.randbytes(rng.choice([0, 1, 5, 30, 200, 1115, 1200])) for _ in range(10_000)]
    sent = sum(len(v) for v in kinds.values()) + len(noise) + 1
    settings = settings_for(cfg)
    settings.health.listen = f"127.0.0.1:{free_port()}"
    async with running_pipeline(settings) as pipeline:
        async with aiomqtt.Client("127.0.0.1", mosquitto.port) as client:
            for frames in kinds.values():
                for f in frames:
                    await client.publish("gs/gs9/frames", f, qos=1)
            for n in noise:
                await client.publish("gs/gs9/frames", n, qos=1)
            await client.publish("gs/gs9/frames", good, qos=1)
        await wait_for(lambda: pipeline.stats.frames >= sent, 120, f"{sent} frames")
        rejected = dict(pipeline.stats.rejected)
        assert pipeline.counters.errors == 0
        # The operator's view: /health (JSON) and /metrics (Prometheus text) while running.
        async with aiohttp.ClientSession() as http:
            base = f"http://{settings.health.listen}"
            async with http.get(f"{base}/health") as r:
                health = await r.json()
            async with http.get(f"{base}/metrics") as r:
                metrics = await r.text()
        assert health["frames"] == sent
        assert {k: n for k, n in health["rejected"].items() if n} == rejected
        assert set(health["rejected"]) == {r.value for r in RejectReason}  # zeros too
        assert health["decoder"]["received"] == sent
        page = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(metrics)
            for s in family.samples
        }
        assert page[("groundwatch_frames", ())] == sent
        assert ("groundwatch_store_spool_bytes", ()) in page
        assert page[("groundwatch_decoder_received", ())] == sent
        row = next(r for r in health["link"] if r["station"] == "gs9" and r["vcid"] is None)
        labels = (("spacecraft", row["spacecraft"]), ("station", "gs9"))
        assert page[("groundwatch_link_crc_failures", labels)] == row["crc_failures"]
        for reason in RejectReason:
            assert page[("groundwatch_rejected", (("reason", reason.value),))] == rejected.get(
                reason.value, 0
            )
    for reason in kinds:
        assert rejected.get(reason, 0) >= 1, f"{reason} not counted: {rejected}"
    assert sum(rejected.values()) >= sent - 5  # random bytes may rarely hit a valid idle frame
    rows = query(influxd, influx_db, 'SELECT count("hex") FROM "rejected" GROUP BY "reason"')
    stored = {r["reason"]: r["count"] for r in rows}
    assert stored == rejected
    # The raw bytes are kept: the short frame's hex is in the database.
    hexes = query(
        influxd, influx_db, 'SELECT "hex" FROM "rejected" WHERE "reason" = \'short_frame\''
    )
    assert "2a0102" in {r["hex"] for r in hexes}
    # Still alive and decoding: the good frame sent after all that garbage is stored.
    gnc = query(influxd, influx_db, 'SELECT last("seq_count") FROM "gnc"')
    assert gnc and gnc[0]["last"] == 1  # the good frame's packet, stamped last
