"""Showing a console model until told to stop: rich ``Live`` on a terminal, text otherwise.

Used by ``groundwatch console`` and, in-process, by ``groundwatch demo``::

    model = ConsoleModel.from_dictionary(dictionary, now_ns=clock.now_ns)
    pipeline = build_pipeline(settings, clock=clock, event_listeners=[model.on_event])
    shown = asyncio.create_task(
        show(model, stop, on_refresh=lambda: model.on_status(pipeline.status()))
    )

``on_refresh`` runs on the event loop before each redraw and must not block.

On a terminal the view is redrawn in place at any size: rich ``Live`` crops it to the
terminal's height (a small terminal loses the bottom of the view, never scrolls it), and
while it runs log records go into the alert panel instead of through the view.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Callable, Iterator
from typing import TextIO

from rich.console import Console
from rich.live import Live

from groundwatch.console.state import ConsoleModel
from groundwatch.console.view import render, render_text


async def show(
    model: ConsoleModel,
    stop: asyncio.Event,
    *,
    refresh_s: float = 0.25,
    text_interval_s: float = 5.0,
    on_refresh: Callable[[], None] | None = None,
    console: Console | None = None,
    stream: TextIO | None = None,
    alert_lines: int = 10,
) -> None:
    """Redraw ``model`` every ``refresh_s`` until ``stop`` is set; a last frame at the end.

    On a terminal: rich ``Live``. Otherwise (``console.is_terminal`` false): a plain text
    snapshot every ``text_interval_s`` and each new alert as soon as it is seen.
    """
    console = console or Console(file=stream or sys.stdout)

    def refresh() -> None:
        if on_refresh is not None:
            on_refresh()

    if console.is_terminal:
        refresh()
        with (
            logs_into(model),
            Live(
                render(model, alert_lines, console.width),
                console=console,
                auto_refresh=False,
                transient=False,
                vertical_overflow="crop",
            ) as live,
        ):
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), refresh_s)
                refresh()
                live.update(render(model, alert_lines, console.width), refresh=True)
        return

    out = stream or sys.stdout
    seen = 0
    next_snapshot = 0.0
    loop = asyncio.get_running_loop()
    while True:
        refresh()
        new = min(model.alerts_logged - seen, len(model.alerts))
        for a in list(model.alerts)[len(model.alerts) - new :] if new > 0 else []:
            print(f"alert {a.severity.upper()} {a.type} {a.title}", file=out, flush=True)
        seen = model.alerts_logged
        if loop.time() >= next_snapshot or stop.is_set():
            print(render_text(model, alert_lines), file=out, flush=True)
            next_snapshot = loop.time() + text_interval_s
        if stop.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), refresh_s)


class _PanelHandler(logging.Handler):
    def __init__(self, model: ConsoleModel) -> None:
        super().__init__(logging.INFO)
        self.model = model

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.model.on_log(time.time_ns(), record.levelname, record.getMessage())
        except Exception:  # a log line must never break the console
            self.handleError(record)


@contextlib.contextmanager
def logs_into(model: ConsoleModel) -> Iterator[None]:
    """Log records to the alert panel while the live view runs: a handler writing to the
    terminal itself would print through the view. Restored afterwards."""
    root = logging.getLogger()
    terminal = [
        h
        for h in root.handlers
        if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
    ]
    handler = _PanelHandler(model)
    for h in terminal:
        root.removeHandler(h)
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        for h in terminal:
            root.addHandler(h)
