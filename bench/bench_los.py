"""LOS detection latency: from the LOS threshold expiring to the alert on MQTT.

Runs its own Mosquitto (``groundwatch.services``), a ``LinkMonitor`` on the wall clock
driven by a tick loop like the pipeline's (period ``[link] tick``), an ``AlertManager`` with
the MQTT sink, and a separate subscriber on the event topic. Several spacecraft pass in and
out of contact with random phases; each LOS alert carries its deterministic time (last good
frame + threshold) and the subscriber stamps its arrival. Latency = arrival - that time.

Baseline measured in the same run: a plain MQTT publish -> subscriber round trip.

    .venv/bin/python bench/bench_los.py [--events 120] [--threshold 0.5] [--tick 0.05]

Target: p99 <= 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

import aiomqtt

from groundwatch import services
from groundwatch.alerts.manager import AlertManager
from groundwatch.alerts.mqtt import MqttSink, MqttSinkOptions
from groundwatch.config import LinkConfig
from groundwatch.link.monitor import LinkMonitor
from groundwatch.model import Event, LinkKey


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q / 100 * (len(s) - 1)))]


async def spacecraft(
    name: str, mon: LinkMonitor, alerts: AlertManager, cycles: int, threshold: float
) -> None:
    rng = random.Random(name)
    await asyncio.sleep(rng.uniform(0, threshold))
    for _ in range(cycles):
        for _ in range(rng.randint(3, 6)):  # a short pass at 20 frames/s
            now = time.time_ns()
            alerts.submit(mon.observe_frame(LinkKey(name, "gs1", 0), now, True, now))
            await asyncio.sleep(0.05)
        await asyncio.sleep(threshold + rng.uniform(0.1, 0.3))  # silence: LOS


async def tick_loop(mon: LinkMonitor, alerts: AlertManager, period: float, hint: bool) -> None:
    """The pipeline's loop: tick every ``period``; with ``hint``, wake at the next deadline
    when it comes sooner (``LinkMonitor.next_deadline_ns``)."""
    while True:
        now = time.time_ns()
        events: list[Event] = mon.tick(now)
        if events:
            alerts.submit(events)
        sleep = period
        if hint:
            due = mon.next_deadline_ns()
            if due is not None:
                sleep = min(period, max(0.0, (due - time.time_ns()) / 1e9))
        await asyncio.sleep(sleep)


async def run(args: argparse.Namespace, broker: services.ServiceHandle) -> dict[str, float]:
    latencies: list[float] = []
    baseline: list[float] = []
    async with aiomqtt.Client("127.0.0.1", broker.port) as sub:
        await sub.subscribe("groundwatch/events/#", qos=1)
        await sub.subscribe("bench/ping", qos=1)

        async def collect() -> None:
            async for msg in sub.messages:
                arrived = time.time_ns()
                data = json.loads(bytes(msg.payload))
                if msg.topic.value == "bench/ping":
                    baseline.append((arrived - data["sent"]) / 1e6)
                elif data["type"] == "LOS":
                    latencies.append((arrived - data["time_ns"]) / 1e6)

        collector = asyncio.create_task(collect())
        # baseline: plain publish -> receive through the same broker
        async with aiomqtt.Client("127.0.0.1", broker.port) as pub:
            for _ in range(200):
                await pub.publish("bench/ping", json.dumps({"sent": time.time_ns()}), qos=1)
                await asyncio.sleep(0.002)

        cfg = LinkConfig(los_threshold=args.threshold, tick=args.tick, aos_frames=2)
        mon = LinkMonitor.from_config(cfg, [], {}, None)
        sink = MqttSink(MqttSinkOptions(url=broker.url))
        alerts = AlertManager([sink])
        await alerts.start()
        await asyncio.wait_for(sink.connected.wait(), 10)
        n_craft = 10
        cycles = -(-args.events // n_craft)
        ticker = asyncio.create_task(tick_loop(mon, alerts, cfg.tick, not args.fixed_ticks))
        await asyncio.gather(
            *(spacecraft(f"sc{i}", mon, alerts, cycles, args.threshold) for i in range(n_craft))
        )
        await asyncio.sleep(args.threshold + 0.5)
        ticker.cancel()
        await alerts.stop()
        collector.cancel()
    worst = sorted(range(len(latencies)), key=lambda i: -latencies[i])[:5]
    print("worst (index, ms):", [(i, round(latencies[i], 1)) for i in worst])
    return {
        "los_events": len(latencies),
        "p50_ms": pct(latencies, 50),
        "p99_ms": pct(latencies, 99),
        "max_ms": max(latencies),
        "mean_ms": statistics.fmean(latencies),
        "baseline_mqtt_p50_ms": pct(baseline, 50),
        "baseline_mqtt_p99_ms": pct(baseline, 99),
        "tick_ms": args.tick * 1000,
        "deadline_hint": not args.fixed_ticks,
        "threshold_s": args.threshold,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=120)
    p.add_argument("--threshold", type=float, default=0.5)
    p.add_argument("--tick", type=float, default=LinkConfig().tick)
    p.add_argument("--target-ms", type=float, default=100.0)
    p.add_argument(
        "--fixed-ticks", action="store_true", help="tick every period only (no deadline hint)"
    )
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-los-") as d:
        broker = services.start_mosquitto(Path(d) / "mosquitto")
        try:
            result = asyncio.run(run(args, broker))
        finally:
            services.stop_pid(broker.pid)
    for k, v in result.items():
        print(f"{k:>22}: {v:.1f}" if isinstance(v, float) else f"{k:>22}: {v}")
    ok = result["los_events"] >= 100 and result["p99_ms"] <= args.target_ms
    print(
        f"{'target':>22}: p99 <= {args.target_ms:g} ms over >= 100 LOS: {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
