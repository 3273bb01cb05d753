"""What TLS costs the MQTT source: frames/s received and acknowledged over ``mqtts://``
against the same broker's plain listener, in the same run.

Starts one Mosquitto with a TLS listener (certificates from ``scripts/make-certs.sh``) and a
plain one, publishes ``--frames`` frames of ``--size`` octets at QoS 1 as fast as the
publisher can while ``MqttSource`` receives, hands each frame over and acknowledges it, and
reports frames/s for each listener (best of ``--rounds``) and their ratio. The publisher
runs in the same process and pays for TLS too, so the ratio is that of the whole path
(publisher, broker, source), an upper bound of what TLS costs the source alone.

    .venv/bin/python -m bench.bench_tls [--frames 20000] [--size 1115] [--rounds 3]

Target: TLS within 0.8 of plain (ratio >= 0.8).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiomqtt

from groundwatch import services
from groundwatch.ingest.mqtt import MqttSource
from groundwatch.model import RawFrame
from groundwatch.mqtt_url import mqtt_connection

REPO = Path(__file__).resolve().parent.parent


def broker(tmp: Path) -> tuple[int, int, Path, services.ServiceHandle]:
    certs = tmp / "certs"
    subprocess.run(
        ["bash", str(REPO / "scripts/make-certs.sh"), str(certs)], check=True, capture_output=True
    )
    plain, tls = services.free_port(), services.free_port()
    data = tmp / "mosquitto"
    data.mkdir()
    handle = services.start_mosquitto(data, plain, persistence=False)
    services.stop_service(handle)
    conf = (data / "mosquitto.conf").read_text()
    conf += (
        f"listener {tls} 127.0.0.1\ncafile {certs}/ca.crt\ncertfile {certs}/server.crt\n"
        f"keyfile {certs}/server.key\ntls_version tlsv1.2\n"
    )
    (data / "mosquitto.conf").write_text(conf)
    handle = services.restart(handle)
    for _ in range(100):
        if services.port_open(tls):
            break
        time.sleep(0.05)
    return plain, tls, certs, handle


async def one_round(url: str, extra: dict[str, Any], frames: int, size: int) -> float:
    ident = f"bench-{uuid.uuid4().hex[:8]}"
    source = MqttSource.from_config({"url": url, "client_id": ident, **extra})
    out: asyncio.Queue[object] = asyncio.Queue(10_000)
    task = asyncio.create_task(source.run(out))
    # the first item a source hands over is its GroundPathChange "connected"
    await out.get()
    await asyncio.sleep(0.3)  # subscriptions reach the broker
    payload = bytes(size)
    t0 = time.perf_counter()

    async def publish() -> None:
        tls_url = url + f"?ca={extra['ca_file']}" if "ca_file" in extra else url
        conn = mqtt_connection(tls_url)
        async with aiomqtt.Client(**conn, max_inflight_messages=1000) as client:
            for start in range(0, frames, 500):
                await asyncio.gather(
                    *(
                        client.publish("gs/gs1/frames", payload, qos=1)
                        for _ in range(min(500, frames - start))
                    )
                )

    pub = asyncio.create_task(publish())
    got = 0
    while got < frames:
        item = await out.get()
        if isinstance(item, RawFrame):
            if item.ack is not None:
                item.ack()
            got += 1
    elapsed = time.perf_counter() - t0
    await pub
    await source.stop()
    await asyncio.wait_for(task, 30)
    return frames / elapsed


async def main(args: argparse.Namespace) -> None:
    logging.getLogger("mqtt").setLevel(logging.ERROR)  # aiomqtt: "pending publish calls"
    with tempfile.TemporaryDirectory() as d:
        plain, tls, certs, handle = await asyncio.to_thread(broker, Path(d))
        try:
            results: dict[str, float] = {"plain": 0.0, "tls": 0.0}
            urls = {
                "plain": (f"mqtt://127.0.0.1:{plain}", {}),
                "tls": (f"mqtts://localhost:{tls}", {"ca_file": str(certs / "ca.crt")}),
            }
            await one_round(*urls["plain"], 1000, args.size)  # warm-up, not counted
            for r in range(args.rounds):  # alternating order: both see the same load
                for name in ("plain", "tls") if r % 2 == 0 else ("tls", "plain"):
                    rate = await one_round(*urls[name], args.frames, args.size)
                    results[name] = max(results[name], rate)
        finally:
            await asyncio.to_thread(services.stop_service, handle)
    print(f"{args.frames} frames of {args.size} octets, QoS 1, best of {args.rounds}")
    print(f"plain mqtt://   {results['plain']:9.0f} frames/s")
    print(f"TLS   mqtts://  {results['tls']:9.0f} frames/s")
    print(f"ratio TLS/plain {results['tls'] / results['plain']:.2f} (target >= 0.8)")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--frames", type=int, default=20_000)
    p.add_argument("--size", type=int, default=1115)
    p.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(p.parse_args()))
