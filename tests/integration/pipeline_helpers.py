"""Run the real pipeline and the real simulator against the fixture services.

Shared by integration tests of several areas (pipeline, replay, dashboards, report): a
groundwatch.toml written for the fixture ports, the pipeline in-process or as a
``groundwatch run`` subprocess, ``groundwatch simulate`` as a subprocess, and InfluxQL reads.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from groundwatch import services
from groundwatch.config import Settings, load_config
from groundwatch.pipeline import Pipeline
from groundwatch.pipeline_stats import PipelineStats
from groundwatch.services import ServiceHandle
from groundwatch.wiring import build_pipeline

REPO = Path(__file__).resolve().parents[2]
DEMO_DICTIONARY = REPO / "missions" / "demo-lander.yaml"
GROUNDWATCH = [sys.executable, "-m", "groundwatch"]


def write_config(
    path: Path,
    mqtt: ServiceHandle,
    influx: ServiceHandle,
    database: str,
    *,
    client_id: str = "groundwatch-test",
    dictionary: Path = DEMO_DICTIONARY,
    los_threshold: float = 3.0,
    alerts: str = '[[alerts]]\ntype = "log"\n[[alerts]]\ntype = "influx"\n',
    extra: str = "",
) -> Path:
    var = path.parent / "var"
    path.write_text(
        f"""
[mission]
dictionary = "{dictionary}"

[[sources]]
type = "mqtt"
url = "{mqtt.url}"
client_id = "{client_id}"

[store]
url = "{influx.url}"
database = "{database}"
spool_dir = "{var}/spool"
dead_letter = "{var}/dead-letter.lp"

[archive]
dir = "{var}/archive"

[link]
los_threshold = {los_threshold}

{alerts}
{extra}
"""
    )
    return path


def settings_for(path: Path) -> Settings:
    return load_config(path)


@asynccontextmanager
async def running_pipeline(settings: Settings, **kw: Any) -> AsyncIterator[Pipeline]:
    """The pipeline running in this event loop; stopped (gracefully) on exit."""
    pipeline = build_pipeline(settings, **kw)
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop))
    await asyncio.wait_for(pipeline.started.wait(), 10)
    await pipeline.sources_connected()
    try:
        yield pipeline
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)


async def wait_for(cond: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")


def simulate(
    mqtt: ServiceHandle,
    record: Path,
    *args: str,
    count: int = 100,
    rate: float = 0,
    dictionary: Path = DEMO_DICTIONARY,
    background: bool = False,
) -> subprocess.Popen[bytes] | subprocess.CompletedProcess[bytes]:
    cmd = [
        *GROUNDWATCH,
        "simulate",
        "--dictionary",
        str(dictionary),
        "--mqtt",
        mqtt.url,
        "--rate",
        str(rate),
        "--count",
        str(count),
        "--record",
        str(record),
        *args,
    ]
    if background:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return subprocess.run(cmd, capture_output=True, check=True, timeout=300)


def records(path: Path) -> Iterator[dict[str, Any]]:
    with path.open() as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def expected_packets(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Recorded packets that were sent, by packet name, in send order."""
    out: dict[str, list[dict[str, Any]]] = {}
    for rec in records(path):
        if not rec.get("sent", True):
            continue
        for p in rec["packets"]:
            if p.get("expected", True) and p.get("first_frame", rec["frame"]) == rec["frame"]:
                out.setdefault(p["name"], []).append({**p, "_frame": rec})
    return out


def query(influx: ServiceHandle, db: str, q: str) -> list[dict[str, Any]]:
    """Rows of the first series of an InfluxQL query, as dicts (time in ns)."""
    res = services.influx_query(influx.url, q, db=db)
    results = res.get("results", [])
    assert isinstance(results, list)
    rows: list[dict[str, Any]] = []
    for r in results:
        if "error" in r:
            raise AssertionError(f"{q}: {r['error']}")
        for series in r.get("series", []):
            cols = series["columns"]
            tags = series.get("tags", {})
            rows += [{**tags, **dict(zip(cols, v, strict=True))} for v in series["values"]]
    return rows


def start_run(config: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*GROUNDWATCH, "run", "--config", str(config), "--no-status"],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env={**os.environ},
    )


def stop_run(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 60) -> int:
    proc.send_signal(sig)
    return proc.wait(timeout)


def simulate_file(
    output: Path,
    fmt: str = "hex",
    *args: str,
    count: int = 50,
    record: Path | None = None,
    dictionary: Path = DEMO_DICTIONARY,
) -> Path:
    """``groundwatch simulate --no-mqtt --output FILE --format hex|kiss|raw`` (one frame per
    0.1 s of scenario time, written as fast as they are built)."""
    cmd = [
        *GROUNDWATCH,
        "simulate",
        "--dictionary",
        str(dictionary),
        "--no-mqtt",
        "--rate",
        "0",
        "--count",
        str(count),
        "--output",
        str(output),
        "--format",
        fmt,
        *(["--record", str(record)] if record is not None else []),
        *args,
    ]
    subprocess.run(cmd, capture_output=True, check=True, timeout=120)
    return output



def simulated_frames(tmp_path: Path, n: int) -> list[bytes]:
    """``n`` simulated frames of the demo dictionary, as bytes."""
    hexfile = simulate_file(tmp_path / "frames.hex", "hex", count=n)
    return [bytes.fromhex(line) for line in hexfile.read_text().split()]

def groundwatch_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Any ``groundwatch`` command as a subprocess; output captured as text, never checked."""
    return subprocess.run(
        [*GROUNDWATCH, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


__all__ = ["PipelineStats"]
