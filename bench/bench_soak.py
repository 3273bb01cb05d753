"""Soak: a long live run with churn and outages; resources must stay flat, nothing lost.

    .venv/bin/python -m bench.bench_soak [--duration 1800] [--rate 200]
        [--station-every 1] [--broker-every 300] [--influx-every 420] [--forget-after 600]

Starts its own Mosquitto and influxd and ``groundwatch run`` as a process (health endpoint
on), then publishes simulated frames at ``--rate`` per second for ``--duration`` seconds,
under a new station name every ``--station-every`` seconds, while the broker is restarted
every ``--broker-every`` seconds and InfluxDB every ``--influx-every`` seconds. The
publisher reconnects and sends again what the broker had not acknowledged. groundwatch runs
with its default bounds (``max_stations`` 1,000), forgetting a station after
``--forget-after`` seconds of silence: scale it down with the duration.

Reports groundwatch's RSS, open descriptors and asyncio tasks (start, peak, end, sampled
every 2 s); packets published versus packets stored in InfluxDB (each exactly once: the
counts must be equal); broker outages versus broker GROUND_PATH_DOWN events; and the
spacecraft LOS events (there must be none: every silence is an outage of the ground path).
Exit status 1 when a check fails. Not part of the test suite (it runs for minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiomqtt

from groundwatch import services
from groundwatch.decoders.dictionary import load_dictionary
from groundwatch.parts import Counters
from groundwatch.sim.commands import make_scenario
from groundwatch.sim.connection import BrokerLink, quiet_lost_connections
from groundwatch.sim.framer import SimFramer

REPO = Path(__file__).resolve().parent.parent
DICTIONARY = REPO / "missions" / "demo-lander.yaml"


def write_config(
    path: Path, mosq: services.ServiceHandle, influx_url: str, port: int, forget_after: float
) -> None:
    var = path.parent / "var"
    path.write_text(
        f"""
[mission]
dictionary = "{DICTIONARY}"

[[sources]]
type = "mqtt"
url = "{mosq.url}"
client_id = "bench-soak"

[store]
url = "{influx_url}"
database = "groundwatch"
spool_dir = "{var}/spool"
dead_letter = "{var}/dead-letter.lp"

[archive]
dir = "{var}/archive"

[link]
los_threshold = 5
station_forget_after = {forget_after}

[health]
listen = "127.0.0.1:{port}"

[[alerts]]
type = "influx"
"""
    )


def proc_sample(pid: int) -> tuple[float, int]:
    rss = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def health(port: int) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as resp:
            data: dict[str, Any] = json.loads(resp.read())
            return data
    except OSError:
        return None


def cache_mb(h: dict[str, Any]) -> dict[str, float]:
    """The bounded caches that fill with station churn, in MB (from /health)."""
    mb = 1 << 20
    return {
        "series": round(h["store"].get("series_cache_bytes", 0) / mb, 2),
        "events": round(h.get("events_bytes", 0) / mb, 2),
        "alerts": round(h["alerts"].get("history_bytes", 0) / mb, 2),
    }


def query(url: str, q: str) -> list[list[Any]]:
    res = services.influx_query(url, q, db="groundwatch")
    series = res["results"][0].get("series", [])  # type: ignore[index]
    return [v for s in series for v in s["values"]]


class Publisher:
    """Simulated frames at ``rate``/s, a new station name every ``station_every`` s."""

    def __init__(self, mosq: services.ServiceHandle, rate: float, station_every: float):
        d = load_dictionary(DICTIONARY)
        self.scenario = make_scenario(d, packets_per_frame=None)
        self.framer = SimFramer(d, decode_values=False)
        self.rate, self.station_every = rate, station_every
        self.port = mosq.port
        self.stop = asyncio.Event()
        self.counters = Counters()
        self.packets = 0  # expected packets of the frames the broker acknowledged
        self.stations = 0
        self.link = BrokerLink(self._client, self.stop, self.counters, give_up_after=120)

    def _client(self) -> aiomqtt.Client:
        client = aiomqtt.Client("127.0.0.1", self.port, identifier="bench-soak-pub", timeout=5)
        client.pending_calls_threshold = 200
        return client

    def _counted(self, n: int) -> Any:
        def done(acked: bool) -> None:
            if acked:
                self.packets += n

        return done

    async def run(self, duration: float) -> None:
        await self.link.open()
        start = time.monotonic()
        sent = 0
        try:
            while time.monotonic() - start < duration and not self.stop.is_set():
                tick = self.scenario.next_tick(1.0 / self.rate)
                if tick is None:
                    break
                for frame in self.framer.frames(tick):
                    due = start + sent / self.rate
                    if (delay := due - time.monotonic()) > 0:
                        await asyncio.sleep(delay)
                    sent += 1
                    if not frame.sent:
                        continue
                    index = int((time.monotonic() - start) / self.station_every)
                    self.stations = max(self.stations, index + 1)
                    await self.link.publish(f"gs/soak{index}/frames", frame.data, qos=1)
                    whole = sum(
                        1 for p in frame.packets if p.expected and p.first_frame == frame.index
                    )
                    self.link.after_last(self._counted(whole))
            await self.link.drain()
        finally:
            await self.link.close()


async def soak(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    asyncio.get_running_loop().set_exception_handler(quiet_lost_connections)
    mosq = services.start_mosquitto(tmp / "mosquitto")
    influx = services.start_influxd(tmp / "influxdb", database="groundwatch")
    port = services.free_port()
    cfg = tmp / "gw.toml"
    write_config(cfg, mosq, influx.url, port, args.forget_after)
    log = tmp / "run.log"
    command = ["-m", "groundwatch"]
    env = dict(os.environ)
    if args.trace_memory is not None:  # snapshots on SIGUSR1, see bench.memory_trace
        command = ["-m", "bench.memory_trace"]
        env["GW_TRACE_DIR"] = str(args.trace_memory)
    gw = subprocess.Popen(  # noqa: ASYNC220 (started once, before any work)
        [sys.executable, *command, "run", "--config", str(cfg), "--no-status"],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        cwd=REPO,
        env=env,
    )
    samples: list[tuple[float, float, int, int]] = []  # t, rss MB, fds, tasks
    # t -> the bounded caches' estimated MB (series cache, event and alert histories)
    caches: list[tuple[float, dict[str, float]]] = []
    outages = {"broker": 0, "influx": 0}
    try:
        while health(port) is None:  # noqa: ASYNC110 (polling another process)
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)
        pub = Publisher(mosq, args.rate, args.station_every)
        publishing = asyncio.create_task(pub.run(args.duration))
        t0 = time.monotonic()
        next_broker, next_influx = args.broker_every, args.influx_every
        next_trace = 60.0  # the first snapshot once the run has warmed up
        while not publishing.done():
            await asyncio.sleep(2)
            t = time.monotonic() - t0
            h = await asyncio.to_thread(health, port)
            rss, fds = proc_sample(gw.pid)
            samples.append((t, rss, fds, h["tasks"] if h else -1))
            if h:
                caches.append((t, cache_mb(h)))
            if args.trace_memory is not None and t >= next_trace:
                next_trace += args.duration / 3
                gw.send_signal(signal.SIGUSR1)
            if t >= next_broker and t < args.duration - 10:
                next_broker += args.broker_every
                outages["broker"] += 1
                mosq = await asyncio.to_thread(services.restart, mosq)
            if t >= next_influx and t < args.duration - 10:
                next_influx += args.influx_every
                outages["influx"] += 1
                influx = await asyncio.to_thread(services.restart, influx)
        await publishing
        # Let groundwatch drain its spool and queues.
        deadline = time.monotonic() + 120
        stored = 0
        while time.monotonic() < deadline:
            rows = await asyncio.to_thread(
                query, influx.url, "SELECT count(\"seq_count\") FROM /.*/ WHERE source = 'live'"
            )
            stored = sum(r[1] for r in rows if r[1])
            if stored >= pub.packets:
                break
            await asyncio.sleep(2)
        await asyncio.sleep(2)
        rss, fds = proc_sample(gw.pid)
        h = await asyncio.to_thread(health, port)
        samples.append((time.monotonic() - t0, rss, fds, h["tasks"] if h else -1))
        if args.trace_memory is not None:
            gw.send_signal(signal.SIGUSR1)
            await asyncio.sleep(30)  # writing a snapshot takes a while
        events = await asyncio.to_thread(
            query, influx.url, 'SELECT "condition", "type" FROM "events"'
        )
    finally:
        gw.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            gw.wait(60)
        services.stop_service(mosq)
        services.stop_service(influx)
    broker_downs = sum(1 for e in events if e[2] == "GROUND_PATH_DOWN" and e[1] == "GROUND/broker")
    los = sum(1 for e in events if e[2] in ("LOS", "UNEXPECTED_LOS"))

    def trio(i: int) -> dict[str, float]:
        vals = [s[i] for s in samples]
        return {"start": vals[0], "peak": max(vals), "end": vals[-1]}

    def rss_at(t: float) -> float:  # the first sample at or after t seconds
        return next((s[1] for s in samples if s[0] >= t), samples[-1][1])

    def caches_at(t: float) -> dict[str, float]:
        return next((c for ct, c in caches if ct >= t), caches[-1][1] if caches else {})

    # Per-station state fills up to its bounds while stations are remembered (forget_after),
    # so flat means: no growth once the run has been going for longer than that.
    marks = range(0, int(args.duration) + 1, int(args.report_every))
    settled = min(args.forget_after + 60, args.duration / 2)

    return {
        "duration_s": args.duration,
        "rate": args.rate,
        "stations": pub.stations,
        "stations_forgotten": h["stations_forgotten"] if h else -1,
        "stations_refused": h["stations_refused"] if h else -1,
        "alerts_active": h["alerts"]["active"] if h else -1,
        "alert_history": h["alerts"].get("history", -1) if h else -1,
        "rss_mb": trio(1),
        "rss_mb_every": {f"{t}s": rss_at(t) for t in marks},
        "caches_mb_every": {f"{t}s": caches_at(t) for t in marks},
        "rss_growth_after_settling_mb": round(samples[-1][1] - rss_at(settled), 1),
        "settled_at_s": settled,
        "open_fds": trio(2),
        "tasks": trio(3),
        "packets_published": pub.packets,
        "packets_stored": stored,
        "publisher_reconnects": pub.link.reconnects,
        "broker_restarts": outages["broker"],
        "broker_ground_path_down": broker_downs,
        "influx_restarts": outages["influx"],
        "spacecraft_los": los,
        "log_tail": log.read_text()[-1500:],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=1800, help="seconds of publishing")
    ap.add_argument("--rate", type=float, default=200, help="frames per second")
    ap.add_argument("--station-every", type=float, default=1.0, help="seconds per station name")
    ap.add_argument("--broker-every", type=float, default=300, help="seconds between restarts")
    ap.add_argument("--influx-every", type=float, default=420, help="seconds between restarts")
    ap.add_argument(
        "--forget-after", type=float, default=600, help="[link] station_forget_after, seconds"
    )
    ap.add_argument(
        "--report-every", type=float, default=300, help="seconds between RSS figures reported"
    )
    ap.add_argument(
        "--trace-memory",
        type=Path,
        default=None,
        help="DIR: run groundwatch under tracemalloc, snapshots in DIR (see bench.memory_trace)",
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="gw-soak-") as tmp:
        result = asyncio.run(soak(args, Path(tmp)))
    tail = result.pop("log_tail")
    print(json.dumps(result, indent=2))
    ok = (
        result["packets_stored"] == result["packets_published"]
        and result["broker_ground_path_down"] == result["broker_restarts"]
        and result["spacecraft_los"] == 0
    )
    if not ok:
        print("soak: a check failed; groundwatch's log ends with:\n" + tail, file=sys.stderr)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
