"""What a replay shows: a progress bar while it runs, alerts as they fire, a summary at the end."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from groundwatch.decoders.decode_input import format_ert
from groundwatch.model import Event
from groundwatch.pipeline import Pipeline
from groundwatch.replay.recording import Recording
from groundwatch.replay.runner import ReplayResult
from groundwatch.replay.source import ReplaySource


def event_line(e: Event) -> str:
    return (
        f"{format_ert(e.time_ns)}  {e.severity.label.upper():<8} {e.type.value:<16} "
        f"{e.spacecraft or '-'} @ {e.station or '-'}: {e.title}"
    )


class ReplayProgress:
    """A rich progress bar over the recording's bytes, with frames/s, pass time and alerts."""

    def __init__(self, console: Console, enabled: bool = True) -> None:
        self.console = console
        self.enabled = enabled and console.is_terminal
        self.alerts = 0
        self._pipeline: Pipeline | None = None
        self._source: ReplaySource | None = None
        self._total = 0
        self._progress = Progress(
            TextColumn("[bold]replay"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]:>8.0f} frames/s"),
            TextColumn("pass {task.fields[pass_time]}"),
            TextColumn("alerts {task.fields[alerts]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )

    def attach(self, pipeline: Pipeline, source: ReplaySource, recording: Recording) -> None:
        """``run_replay(on_start=...)``: what to watch."""
        self._pipeline, self._source = pipeline, source
        self._total = max(recording.total_bytes, 1)

    def on_event(self, e: Event) -> None:
        """Alerts go to the console (paging sinks only with --page)."""
        self.alerts += 1
        self.console.print(event_line(e), highlight=False, soft_wrap=True)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ReplayProgress]:
        if not self.enabled:
            yield self
            return
        with self._progress:
            task = asyncio.create_task(self._update_loop())
            try:
                yield self
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _update_loop(self) -> None:
        bar = self._progress.add_task("replay", total=1, rate=0.0, pass_time="-", alerts=0)
        last_frames, last_t = 0, time.monotonic()
        while True:
            await asyncio.sleep(0.25)
            if self._source is None or self._pipeline is None:
                continue
            now = time.monotonic()
            frames = self._pipeline.stats.frames
            rate = (frames - last_frames) / max(now - last_t, 1e-6)
            last_frames, last_t = frames, now
            pass_time = "-"
            if self._source.first_ert_ns is not None:
                pass_time = f"{format_ert(self._pipeline.clock.now_ns())}"
            self._progress.update(
                bar,
                total=self._total,
                completed=self._source.position,
                rate=rate,
                pass_time=pass_time,
                alerts=self.alerts,
            )


def summary_text(r: ReplayResult) -> str:
    """The end-of-replay summary: frames, packets, rejections by reason, gaps, events."""
    s = r.stats
    span = ""
    if r.first_ert_ns is not None and r.last_ert_ns is not None:
        pass_s = (r.last_ert_ns - r.first_ert_ns) / 1e9
        factor = f", {pass_s / r.feed_wall_s:.1f}x real time" if r.feed_wall_s > 0 else ""
        span = (
            f"pass {format_ert(r.first_ert_ns)} .. {format_ert(r.last_ert_ns)} "
            f"({pass_s:.1f} s) replayed in {r.feed_wall_s:.2f} s{factor}"
        )
    lines = [
        f"session {r.session} (source={r.source})",
        span,
        f"frames {s.frames}  packets {s.packets}  points {s.points}  duplicates {s.duplicates}",
        "rejected "
        + (", ".join(f"{k} {v}" for k, v in sorted(s.rejected.items())) if s.rejected else "none"),
        f"gaps {r.gaps} ({r.frames_missing} frames missing)",
    ]
    counts: dict[str, int] = {}
    for e in s.events:
        counts[e.type.value] = counts.get(e.type.value, 0) + 1
    lines.append("events " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"))
    if r.problems:
        lines.append(f"unreadable input skipped: {len(r.problems)}")
        lines += [f"  {p}" for p in r.problems[:20]]
        if len(r.problems) > 20:
            lines.append(f"  ... {len(r.problems) - 20} more")
    return "\n".join(x for x in lines if x)
