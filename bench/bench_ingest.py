"""Sustained live ingest: MQTT -> pipeline -> InfluxDB, against the raw ceiling.

    .venv/bin/python bench/bench_ingest.py [--seconds 600] [--rate 1000] [--packets 4]
        [--envelope raw|json|both]

Starts its own Mosquitto and influxd (groundwatch.services). Frames carry ``--packets``
housekeeping packets of the demo dictionary (44 parameters each), built once with the
dictionary's own layouts; each published frame gets its own frame count, on-board time and
FECF so every frame is distinct (the merger would drop repeats). A publisher process sends
them at ``--rate`` frames/s at QoS 1 for ``--seconds``; the pipeline runs in this process.

Reports frames/s, points/s and values/s achieved, peak and final RSS of this process,
latency from frame received to point queryable (p50/p99, probed twice a second), and the
ratio of the pipeline's points/s to the raw line-protocol ingest rate of the same influxd
measured in the same run (pre-built batches posted with aiohttp, see bench_store).

``--envelope both`` runs the pipeline twice in the same run, on bare frames and on the same
frames in JSON station envelopes (``payload = "json"``), and reports groundwatch's CPU per
frame for each and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bench_ingest_bound import (
    DICTIONARY,
    cpu_s,
    measure_ceiling,
    measure_load,
    print_load,
    publisher,
    ratio_bound,
)
from groundwatch import services
from groundwatch.config import load_config
from groundwatch.wiring import build_pipeline


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
    envelope: bool = False,
) -> dict[str, Any]:
    # Its own session per run: a persistent session of an earlier run would hold frames.
    source: dict[str, Any] = {"type": "mqtt", "url": mosq.url, "client_id": f"bench-{tmp.name}"}
    if envelope:
        source["payload"] = "json"
    settings = load_config(
        None,
        mission={"dictionary": str(DICTIONARY)},
        sources=[source],
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
    ctx = mp.get_context("spawn")
    report, child_end = ctx.Pipe()
    proc = ctx.Process(
        target=publisher,
        args=(mosq.port, args.rate, args.seconds, args.packets, child_end, envelope),
    )
    proc.start()
    while not report.poll():  # noqa: ASYNC110 (the publisher builds its template first)
        await asyncio.sleep(0.01)
    report.recv()  # ("start", cpu): it publishes from now on
    pids = {"mosquitto": mosq.pid, "influxd": influx.pid, "groundwatch": os.getpid()}
    cpu0 = {k: cpu_s(pid) for k, pid in pids.items()}
    t0 = time.monotonic()
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
    # CPU from the first publish until the pipeline has stored everything and stopped.
    cpu = {k: cpu_s(pid) - cpu0[k] for k, pid in pids.items()}
    cpu_wall = time.monotonic() - t0
    pub = report.recv()
    proc.join(10)
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
        "points": points,
        "published": pub["acked"],
        "cpu_wall_s": cpu_wall,
        "cpu_publisher_s": pub["cpu_s"],
        **{f"cpu_{k}_s": v for k, v in cpu.items()},
    }


def print_cpu(r: dict[str, Any], packets: int) -> None:
    """Where the cores went during the run: per process, cores and CPU per frame (published
    for the publisher, stored for the rest) and per packet point."""
    print(f"CPU during the run ({r['cpu_wall_s']:.0f} s wall, {os.cpu_count()} cores):")
    for k in ("publisher", "mosquitto", "groundwatch", "influxd"):
        c = r[f"cpu_{k}_s"]
        frames = max(1, r["published"] if k == "publisher" else r["frames"])
        print(
            f"  {k:12} {c / r['cpu_wall_s']:5.2f} cores  {c / frames * 1e6:7.1f} us/frame  "
            f"{c / frames / packets * 1e6:6.1f} us/packet point"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--rate", type=float, default=1000)
    ap.add_argument("--packets", type=int, default=4)
    ap.add_argument(
        "--load-rates",
        default="1000,2000,3000",
        help="frames/s at which to measure publisher and broker CPU with a null subscriber",
    )
    ap.add_argument("--load-seconds", type=float, default=8)
    ap.add_argument("--envelope", choices=("raw", "json", "both"), default="raw")
    args = ap.parse_args()
    if args.envelope == "both":
        compare_envelopes(args)
        return
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        mosq = services.start_mosquitto(tmp / "mosquitto")
        influx = services.start_influxd(tmp / "influxdb", database="bench")
        try:
            # The pipeline first, so its RSS is its own; then the ceiling on the same influxd,
            # then the load alone (publisher + broker, null subscriber) on the same broker.
            r = asyncio.run(run(args, mosq, influx, tmp))
            ceil = measure_ceiling(influx)
            loads = [
                measure_load(mosq, float(x), args.load_seconds, args.packets)
                for x in args.load_rates.split(",")
            ]
        finally:
            services.stop_pid(mosq.pid)
            services.stop_pid(influx.pid)
    print(
        f"offered: {args.rate:.0f} frames/s x {args.packets} packets x 44 parameters for "
        f"{args.seconds:.0f} s ({r['published']} frames published)"
    )
    print(
        f"pipeline: {r['frames_per_s']:.0f} frames/s, {r['points_per_s']:.0f} points/s, "
        f"{r['values_per_s']:.0f} values/s ({r['frames']:.0f} frames)"
    )
    print(
        f"raw ingest ceiling (same influxd, same run): {ceil.points_per_s:.0f} points/s; "
        f"influxd {ceil.influx_us:.1f} us/point ({ceil.influx_cores:.2f} cores busy), "
        f"poster {ceil.poster_us:.1f} us/point"
    )
    print(
        f"RSS: start {r['rss_start_mb']:.0f} MB, peak {r['rss_peak_mb']:.0f} MB, "
        f"end {r['rss_end_mb']:.0f} MB"
    )
    print(
        f"latency frame received -> point queryable: p50 {r['lat_p50_s'] * 1000:.0f} ms, "
        f"p99 {r['lat_p99_s'] * 1000:.0f} ms"
    )
    print_cpu(r, args.packets)
    print_load(loads)
    # The bound: every point costs influxd c_i (at its ceiling) plus, per frame, the load's
    # and the subscriber's CPU; on a machine InfluxDB alone saturates, that sum sets the rate.
    ci = ceil.influx_us
    load = min(loads, key=lambda c: c.pub_us + c.broker_us)
    load_us = load.pub_us + load.broker_us
    gw_us = r["cpu_groundwatch_s"] / max(1, r["frames"]) * 1e6
    p = args.packets
    print(
        f"bound, any subscriber (load at {load.rate:.0f}/s): {ci:.1f} / ({ci:.1f} + "
        f"({load.pub_us:.1f} + {load.broker_us:.1f}) / {p}) = {ratio_bound(ci, load_us, p):.2f}"
    )
    print(
        f"bound, groundwatch at {gw_us:.0f} us/frame: {ci:.1f} / ({ci:.1f} + ({load_us:.1f} + "
        f"{gw_us:.1f}) / {p}) = {ratio_bound(ci, load_us + gw_us, p):.2f}"
    )
    print(
        f"measured ratio pipeline/ceiling (points/s): {r['points_per_s'] / ceil.points_per_s:.2f}"
    )


def compare_envelopes(args: argparse.Namespace) -> None:
    """Bare frames, then JSON envelopes, same services, same run: CPU per frame of each."""
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        mosq = services.start_mosquitto(tmp / "mosquitto")
        influx = services.start_influxd(tmp / "influxdb", database="bench")
        try:
            runs = {}
            for kind in ("raw", "json", "raw2", "json2"):  # interleaved: drift hits both
                runs[kind] = asyncio.run(
                    run(args, mosq, influx, tmp / kind, kind.startswith("json"))
                )
        finally:
            services.stop_pid(mosq.pid)
            services.stop_pid(influx.pid)
    us = {}
    for kind, r in runs.items():
        us[kind] = r["cpu_groundwatch_s"] / max(1, r["frames"]) * 1e6
        print(
            f"{kind:5}: {r['frames']} frames, {r['frames_per_s']:.0f} frames/s, groundwatch "
            f"{us[kind]:.1f} us/frame, latency p50 {r['lat_p50_s'] * 1000:.0f} ms"
        )
    raw = (us["raw"] + us["raw2"]) / 2
    env = (us["json"] + us["json2"]) / 2
    print(f"groundwatch CPU per frame: raw {raw:.1f} us, JSON envelope {env:.1f} us, "
          f"ratio {env / raw:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
