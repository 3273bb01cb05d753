"""Replay throughput at ``--speed max`` into a real InfluxDB, against that InfluxDB's ceiling.

    .venv/bin/python bench/bench_replay.py [--frames 20000] [--bitrate 2e6] [--batch 5000]

The real case is one hour at 2 Mbit/s: ~800,000 demo-lander frames of 1,115
bytes (``--frames 800000``; generating them with the simulator alone takes ~20 min, so the
default is smaller and the result is extrapolated: the replay rate does not depend on the
pass length). Steps, all in one run on one influxd started here (groundwatch.services):

1. ``groundwatch simulate --no-mqtt --format raw`` writes N unique frames; they are archived
   (raw frame archive, one link) with earth-received times spaced as at ``--bitrate``.
2. Ceiling: the same frames decoded to the same points, encoded to line protocol up front,
   then POSTed in ``--batch`` batches, two in flight, to a fresh database: points/s.
3. Replay: ``run_replay(speed=max)`` of the archive through the whole pipeline (decode, link
   monitor, limits, alerts, store) into another database, timed until the store has flushed.

Prints frames/s, points/s, the ratio to the ceiling and the real-time factor (target >= 40x).

4. Link monitor with and without the dictionary's consistency rules: the same frames decoded
   once, then fed to a fresh monitor (``observe_frame`` + ``observe_result``, as the
   pipeline does) with the demo rules and without, alternately, best of ``--rounds``: CPU per
   frame of each and the rules' share (target <= 10 %). ``--monitor-only`` runs just this.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_store import ceiling
from groundwatch import services
from groundwatch.archive.writer import FrameArchive
from groundwatch.config import LinkConfig, load_config
from groundwatch.decoders.dictionary import load_dictionary
from groundwatch.decoders.frame_decoder import FrameDecoder
from groundwatch.link.monitor import LinkMonitor
from groundwatch.link.rules import RuleEngine
from groundwatch.model import DecodeResult, LinkKey, RawFrame
from groundwatch.replay.runner import ReplayOptions, run_replay
from groundwatch.store.lineprotocol import encode_lines
from groundwatch.wiring import result_points_factory

REPO = Path(__file__).resolve().parents[1]
DICTIONARY = REPO / "missions" / "demo-lander.yaml"
T0 = 1_790_000_000_000_000_000
FULL_FRAMES = 800_000


def simulate_raw(path: Path, frames: int) -> None:
    cmd = [sys.executable, "-m", "groundwatch", "simulate", "--dictionary", str(DICTIONARY)]
    cmd += ["--no-mqtt", "--rate", "0", "--count", str(frames), "--output", str(path)]
    subprocess.run([*cmd, "--format", "raw"], check=True, capture_output=True)


def archive_frames(raw: Path, archive_dir: Path, frame_len: int, spacing_ns: int) -> int:
    archive = FrameArchive(archive_dir, max_file_bytes=1 << 40, max_file_age_s=1e9)
    archive.open()
    n = 0
    with raw.open("rb") as f:
        while chunk := f.read(frame_len):
            frame = RawFrame(chunk, T0 + n * spacing_ns, "gs1", "live", "mqtt")
            archive.append(frame, "demo-lander-gs1")
            n += 1
    archive.close()
    return n


def ceiling_lines(raw: Path, frame_len: int, spacing_ns: int) -> list[bytes]:
    dictionary = load_dictionary(DICTIONARY)
    decoder = FrameDecoder(dictionary)
    to_points = result_points_factory(dictionary)
    lines: list[bytes] = []
    with raw.open("rb") as f:
        i = 0
        while chunk := f.read(frame_len):
            frame = RawFrame(chunk, T0 + i * spacing_ns, "gs1", "replay:ceiling", "replay")
            lines += encode_lines(to_points(decoder.decode(frame)))
            i += 1
    return lines


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system, all threads) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def count_points(url: str, db: str, source: str) -> int:
    res = services.influx_query(
        url, f"SELECT count(\"seq_count\") FROM /.*/ WHERE source = '{source}'", db=db
    )
    total = 0
    results = res.get("results") or []
    assert isinstance(results, list)
    for r in results:
        for series in r.get("series", []):
            total += sum(v[1] for v in series["values"])
    return total


def decoded(raw: Path, frame_len: int, spacing_ns: int) -> list[DecodeResult]:
    decoder = FrameDecoder(load_dictionary(DICTIONARY))
    out = []
    with raw.open("rb") as f:
        n = 0
        while chunk := f.read(frame_len):
            out.append(decoder.decode(RawFrame(chunk, T0 + n * spacing_ns, "gs1", "live", "mqtt")))
            n += 1
    return out


def monitor_cpu_s(results: list[DecodeResult], rules: bool) -> float:
    """CPU seconds of one fresh link monitor over every frame, as the pipeline drives it."""
    d = load_dictionary(DICTIONARY)
    params = list(d.parameters())
    monitor = LinkMonitor.from_config(
        LinkConfig(),
        [p.name for p in params if p.key],
        {s.name: s.frame_interval for s in d.spacecraft if s.frame_interval},
        None,
        limits={p.name: p.limits for p in params if p.limits is not None},
    )
    if rules:
        monitor.rules = RuleEngine(d.rules)
    t = time.process_time()
    for r in results:
        f = r.frame
        if r.spacecraft is not None:
            monitor.observe_frame(LinkKey(r.spacecraft, f.station), f.ert_ns, r.valid, f.ert_ns)
        monitor.observe_result(r, f.ert_ns)
    return time.process_time() - t


def rules_share(raw: Path, frame_len: int, spacing_ns: int, rounds: int) -> None:
    results = decoded(raw, frame_len, spacing_ns)
    # The pipeline drops each result once handled; here all of them stay alive, and would
    # make every full collection scan them (on either side): out of the collector's way.
    gc.collect()
    gc.freeze()
    without, with_rules = [], []
    for i in range(rounds):  # alternated, so a busy spell of the machine hits both
        for rules in (False, True) if i % 2 else (True, False):  # neither always first
            (with_rules if rules else without).append(monitor_cpu_s(results, rules=rules))
    alone = []  # the rules' own work, without the monitor around them
    for _ in range(rounds):
        engine = RuleEngine(load_dictionary(DICTIONARY).rules)
        t = time.process_time()
        for r in results:
            engine.observe(r)
        alone.append(time.process_time() - t)
    gc.unfreeze()
    n = len(results)
    base, ruled = min(without) / n * 1e6, min(with_rules) / n * 1e6
    # each round's pair ran back to back, so their ratio sees the same load of the machine
    paired = statistics.median(w / b for w, b in zip(with_rules, without, strict=True))
    print(
        f"link monitor CPU per frame: {base:.1f} us without rules, {ruled:.1f} us with the "
        f"demo rules (best of {rounds}); the rules add {(paired - 1) * 100:+.1f} % "
        f"(median of the rounds' ratios; target <= 10 %); the rules alone "
        f"{min(alone) / n * 1e6:.2f} us per frame = {min(alone) / min(without) * 100:.1f} % "
        "of the monitor without them"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=20_000)
    ap.add_argument("--bitrate", type=float, default=2e6, help="bits/s of the recorded pass")
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--dir", type=Path, default=None, help="work directory (default: temp)")
    ap.add_argument("--rounds", type=int, default=5, help="link monitor rounds with/without")
    ap.add_argument("--monitor-only", action="store_true", help="only the rules' share")
    args = ap.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="bench-replay-"))
    work.mkdir(parents=True, exist_ok=True)
    dictionary = load_dictionary(DICTIONARY)
    frame_len = dictionary.framing.frame_length or 1115
    spacing_ns = int(frame_len * 8 / args.bitrate * 1e9)
    real_fps = args.bitrate / (frame_len * 8)

    raw = work / f"pass-{args.frames}.raw"
    if not raw.exists() or raw.stat().st_size != args.frames * frame_len:
        t = time.perf_counter()
        simulate_raw(raw, args.frames)
        print(f"simulated {args.frames} frames in {time.perf_counter() - t:.1f} s")
    if args.monitor_only:
        rules_share(raw, frame_len, spacing_ns, args.rounds)
        return
    archive_dir = work / "archive"
    for old in archive_dir.glob("*.gwa*"):
        old.unlink()
    n = archive_frames(raw, archive_dir, frame_len, spacing_ns)

    influx = services.start_influxd(work / "influxdb")
    try:
        url = influx.url
        for db in ("ceiling", "replay"):
            services.influx_query(url, f'DROP DATABASE "{db}"', method="POST")
            services.influx_query(url, f'CREATE DATABASE "{db}"', method="POST")
        lines = ceiling_lines(raw, frame_len, spacing_ns)
        influxd0 = cpu_s(influx.pid)
        ceiling_s = asyncio.run(ceiling(url, "ceiling", lines, args.batch))
        time.sleep(0.5)
        ceiling_influxd = cpu_s(influx.pid) - influxd0
        ceiling_pps = len(lines) / ceiling_s

        settings = load_config(
            None,
            mission={"dictionary": str(DICTIONARY)},
            store={
                "url": url,
                "api": "v1",
                "database": "replay",
                "batch_size": args.batch,
                "spool_dir": str(work / "spool"),
                "dead_letter": str(work / "dead-letter.lp"),
            },
            archive={"enabled": False},
        )
        t = time.perf_counter()
        cpu0, influxd0 = time.process_time(), cpu_s(influx.pid)
        result = asyncio.run(
            run_replay(settings, ReplayOptions([archive_dir], speed=None, session="bench"))
        )
        replay_s = time.perf_counter() - t
        replay_cpu = time.process_time() - cpu0
        time.sleep(0.5)  # influxd finishes ingesting what it acknowledged
        influxd_cpu = cpu_s(influx.pid) - influxd0
        stored = count_points(url, "replay", "replay:bench")
    finally:
        services.stop_pid(influx.pid)

    s = result.stats
    fps = n / replay_s
    pps = s.points / replay_s
    pass_s = n / real_fps
    print(f"frames {n} ({frame_len} B, pass {pass_s:.0f} s at {args.bitrate / 1e6:g} Mbit/s)")
    print(f"packets {s.packets} (stored {stored}), points {s.points}, rejected {s.rejected}")
    print(
        f"ceiling: {len(lines)} points in {ceiling_s:.2f} s = {ceiling_pps:,.0f} points/s "
        f"(influxd CPU {ceiling_influxd / len(lines) * 1e6:.0f} us/point)"
    )
    print(f"replay:  {replay_s:.2f} s = {fps:,.0f} frames/s, {pps:,.0f} points/s")
    print(f"ratio to ceiling (points/s): {pps / ceiling_pps:.2f}")
    # CPU per frame: what a busy machine (other processes on the same cores) skews least.
    print(
        f"CPU per frame: replay {replay_cpu / n * 1e6:.0f} us (this process), "
        f"influxd {influxd_cpu / n * 1e6:.0f} us ({influxd_cpu / s.points * 1e6:.0f} us/point); "
        f"CPU-bound rate {n / replay_cpu:,.0f} frames/s"
    )
    print(f"real-time factor: {fps / real_fps:.1f}x (target >= 40x)")
    print(
        f"extrapolated {FULL_FRAMES} frames (1 h at 2 Mbit/s): {FULL_FRAMES / fps:.0f} s "
        f"= {3600 / (FULL_FRAMES / fps):.1f}x real time"
    )
    rules_share(raw, frame_len, spacing_ns, args.rounds)
    assert stored == s.packets, "not every packet reached InfluxDB"


if __name__ == "__main__":
    main()
