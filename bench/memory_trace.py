"""Run a groundwatch command with tracemalloc on, writing a snapshot on each SIGUSR1.

    GW_TRACE_DIR=DIR .venv/bin/python -m bench.memory_trace run --config gw.toml

For finding what holds memory in a long run (``bench_soak --trace-memory DIR``): each
SIGUSR1 writes ``DIR/snapshot-N.trace`` (``tracemalloc.Snapshot.dump``), and ``compare``
prints the allocation sites that grew most between two of them:

    .venv/bin/python -m bench.memory_trace compare DIR/snapshot-1.trace DIR/snapshot-3.trace

tracemalloc slows the process and its own bookkeeping is in the RSS: use it to find a
growth, not to measure one.
"""

from __future__ import annotations

import os
import signal
import sys
import tracemalloc
from pathlib import Path
from types import FrameType

FRAMES = 8  # call-stack depth kept per allocation


def _snapshot_writer(out: Path) -> None:
    count = 0

    def write(_sig: int, _frame: FrameType | None) -> None:
        nonlocal count
        count += 1
        snap = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__)]
        )
        snap.dump(str(out / f"snapshot-{count}.trace"))

    signal.signal(signal.SIGUSR1, write)


def compare(old: str, new: str, top: int = 25) -> None:
    before = tracemalloc.Snapshot.load(old)
    after = tracemalloc.Snapshot.load(new)
    total = sum(s.size for s in after.statistics("filename"))
    print(f"traced now: {total / 2**20:.1f} MiB")
    for stat in after.compare_to(before, "traceback")[:top]:
        print(f"{stat.size_diff / 2**20:+8.2f} MiB {stat.count_diff:+8d} blocks")
        for line in stat.traceback.format(limit=FRAMES):
            print("    " + line)


def main() -> None:
    if sys.argv[1:2] == ["compare"]:
        compare(sys.argv[2], sys.argv[3])
        return
    out = Path(os.environ["GW_TRACE_DIR"])
    out.mkdir(parents=True, exist_ok=True)
    tracemalloc.start(FRAMES)
    _snapshot_writer(out)
    from groundwatch.cli import app

    sys.argv = ["groundwatch", *sys.argv[1:]]
    app()


if __name__ == "__main__":
    main()
