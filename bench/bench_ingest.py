"""Sustained live ingest (issue 4): MQTT -> pipeline -> InfluxDB, against the raw ceiling.

    .venv/bin/python bench/bench_ingest.py [--seconds 600] [--rate 1000] [--packets 4]

Starts its own Mosquitto and influxd (groundwatch.services). Frames carry ``--packets``
housekeeping packets of the demo dictionary (44 parameters each), built once with the
dictionary's own layouts; each published frame gets its own frame count, on-board time and
FECF so every frame is distinct (the merger would drop repeats). A publisher process sends
them at ``--rate`` frames/s at QoS 1 for ``--seconds``; the pipeline runs in this process.

Reports frames/s, points/s and values/s achieved, peak and final RSS of this process,
latency from frame received to point queryable (p50/p99, probed twice a second), and the
ratio of the pipeline's points/s to the raw line-protocol ingest rate of the same influxd
measured in the same run (pre-built batches posted with aiohttp, see bench_store).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import statistics
import tempfile
import time
from pathlib import Path

from bench.bench_store import ceiling
from groundwatch import services
from groundwatch.config import load_config
from groundwatch.decoders.crc import crc16_ccitt
from groundwatch.decoders.dictionary import load_dictionary
from groundwatch.decoders.packing import TmFramePacker
from groundwatch.decoders.space_packet import build_space_packet
from groundwatch.model import Point
from groundwatch.store.lineprotocol import encode_lines
from groundwatch.wiring import build_pipeline

DICTIONARY = Path(__file__).resolve().parents[1] / "missions" / "demo-lander.yaml"


def template_frame(packets: int) -> tuple[bytes, list[int]]:
    """One TM frame of ``packets`` housekeeping packets; offsets of their CUC time fields."""
    d = load_dictionary(DICTIONARY)
    hk = d.packet("housekeeping")
    data = hk.build({}, obt_ns=time.time_ns())
    pkts = [build_space_packet(hk.apid or 0, i, data, sec_hdr_flag=True) for i in range(packets)]
    framing = d.framing
    packer = TmFramePacker(0x2A, 1, framing)
    frame = packer.frames_for(pkts)[0]
    size = len(pkts[0])
    offsets = [6 + i * size + 6 for i in range(packets)]  # frame header, packet header
    return frame, offsets


def unique(frame: bytes, offsets: list[int], n: int) -> bytes:
    b = bytearray(frame)
    b[2] = b[3] = n & 0xFF  # master and virtual channel frame counts
    for k, off in enumerate(offsets):  # CUC coarse time: a distinct on-board time per packet
        b[off : off + 4] = ((n * len(offsets) + k) & 0xFFFFFFFF).to_bytes(4, "big")
    b[-2:] = crc16_ccitt(bytes(b[:-2])).to_bytes(2, "big")
    return bytes(b)


def publisher(port: int, rate: float, seconds: float, packets: int) -> None:
    import paho.mqtt.client as mqtt

    frame, offsets = template_frame(packets)
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-pub")
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", port)
    c.loop_start()
    start = time.monotonic()
    n = 0
    while (now := time.monotonic()) - start < seconds:
        due = int((now - start) * rate)
        while n < due:
            c.publish("gs/gs1/frames", unique(frame, offsets, n), qos=1)
            n += 1
        time.sleep(0.002)
    time.sleep(1)
    c.loop_stop()
    c.disconnect()


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def run(
    args: argparse.Namespace,
    mosq: services.ServiceHandle,
    influx: services.ServiceHandle,
    tmp: Path,
) -> dict[str, float]:
    settings = load_config(
        None,
        mission={"dictionary": str(DICTIONARY)},
        sources=[{"type": "mqtt", "url": mosq.url, "client_id": "bench-ingest"}],
        store={
            "url": influx.url,
            "database": "bench",
            "spool_dir": str(tmp / "spool"),
            "dead_letter": str(tmp / "dl.lp"),
        },
        archive={"dir": str(tmp / "archive")},
        alerts=[{"type": "log"}],
    )
    pipeline = build_pipeline(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop))
    await pipeline.started.wait()
    await pipeline.sources_connected()
    await asyncio.sleep(0.5)
    proc = mp.get_context("spawn").Process(
        target=publisher, args=(mosq.port, args.rate, args.seconds, args.packets)
    )
    t0 = time.monotonic()
    proc.start()
    latencies: list[float] = []
    start_rss = peak = rss_mb()
    last_ert: int | None = None
    probe = [pipeline]  # the pipeline's latest packet time, read by a result listener

    def newest() -> int | None:
        return getattr(probe[0], "_bench_last", None)

    pipeline._result_listeners.append(
        lambda r: setattr(pipeline, "_bench_last", r.packets[-1].time_ns) if r.packets else None
    )
    while proc.is_alive() or pipeline.queue.qsize():
        await asyncio.sleep(0.5)
        peak = max(peak, rss_mb())
        t = newest()
        if t is None or t == last_ert:
            continue
        last_ert = t
        q = f'SELECT count("seq_count") FROM "housekeeping" WHERE time = {t}'
        while True:
            res = await asyncio.to_thread(services.influx_query, influx.url, q, "bench")
            if res["results"][0].get("series"):  # type: ignore[index]
                latencies.append(time.time() - t / 1e9)
                break
            await asyncio.sleep(0.01)
    elapsed = time.monotonic() - t0
    stop.set()
    stats = await task
    frames = stats.frames
    points = stats.points
    values = points * 46  # 44 parameters + seq_count + obt per packet point
    latencies.sort()
    return {
        "frames_per_s": frames / elapsed,
        "points_per_s": points / elapsed,
        "values_per_s": values / elapsed,
        "rss_start_mb": start_rss,
        "rss_peak_mb": peak,
        "rss_end_mb": rss_mb(),
        "lat_p50_s": statistics.median(latencies) if latencies else float("nan"),
        "lat_p99_s": latencies[int(0.99 * (len(latencies) - 1))] if latencies else float("nan"),
        "frames": frames,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--rate", type=float, default=1000)
    ap.add_argument("--packets", type=int, default=4)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        mosq = services.start_mosquitto(tmp / "mosquitto")
        influx = services.start_influxd(tmp / "influxdb", database="bench")
        try:
            # The pipeline first, so its RSS is its own; then the ceiling on the same influxd.
            r = asyncio.run(run(args, mosq, influx, tmp))
            services.influx_query(influx.url, 'CREATE DATABASE "ceiling"', method="POST")
            pts = [
                Point(
                    "housekeeping",
                    {"spacecraft": "demo-lander", "station": "gs1", "source": "live"},
                    {f"p{j}": j * 0.5 + i for j in range(46)},
                    10**18 + i * 1000,
                )
                for i in range(100_000)
            ]
            lines = encode_lines(pts)
            ceil_s = asyncio.run(ceiling(influx.url, "ceiling", lines, 5000))
            ceiling_pps = len(pts) / ceil_s
        finally:
            services.stop_pid(mosq.pid)
            services.stop_pid(influx.pid)
    print(
        f"offered: {args.rate:.0f} frames/s x {args.packets} packets x 44 parameters for "
        f"{args.seconds:.0f} s"
    )
    print(
        f"pipeline: {r['frames_per_s']:.0f} frames/s, {r['points_per_s']:.0f} points/s, "
        f"{r['values_per_s']:.0f} values/s ({r['frames']:.0f} frames)"
    )
    print(f"raw ingest ceiling (same influxd, same run): {ceiling_pps:.0f} points/s")
    print(f"ratio pipeline/ceiling (points/s): {r['points_per_s'] / ceiling_pps:.2f}")
    print(
        f"RSS: start {r['rss_start_mb']:.0f} MB, peak {r['rss_peak_mb']:.0f} MB, "
        f"end {r['rss_end_mb']:.0f} MB"
    )
    print(
        f"latency frame received -> point queryable: p50 {r['lat_p50_s'] * 1000:.0f} ms, "
        f"p99 {r['lat_p99_s'] * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
