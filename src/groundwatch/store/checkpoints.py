"""Which puts are durable: the bookkeeping behind ``StoreSink``'s ``on_durable`` callback.

Every ``put()`` gets a sequence number and the number of its lines; a batch records how
many lines of which puts it carries (a put can be split across batches, a batch holds
many puts). When a batch is durable (stored by InfluxDB, fsynced in the spool, or
dead-lettered), its shares are subtracted; puts whose lines are all durable are released
strictly in put order, and their checkpoints reported.

Puts without a checkpoint join the next put that has one (they share its sequence number):
only a checkpoint is ever reported, and it needs exactly the lines put with or before it.
So a replay (no archive, no checkpoints) keeps one open entry instead of one per frame.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Batch:
    lines: list[bytes]
    shares: dict[int, int] = field(default_factory=dict)  # put seq -> lines in this batch


@dataclass(slots=True)
class _Put:
    remaining: int
    checkpoint: Any


class CheckpointTracker:
    def __init__(self, on_durable: Callable[[Any], None] | None) -> None:
        self.on_durable = on_durable
        self.stalled_from: int | None = None  # first put after a refusal: not reported
        self._puts: dict[int, _Put] = {}
        self._next = 0
        self._released = 0  # every put below this is durable
        self._open: _Put | None = None  # puts without a checkpoint so far (seq _next - 1)

    def open(self, lines: int, checkpoint: Any) -> int:
        """Register a put of ``lines`` lines; returns its sequence number."""
        put = self._open
        if put is None:
            seq = self._next
            self._next += 1
            put = self._puts[seq] = _Put(lines, checkpoint)
        else:
            seq = self._next - 1
            put.remaining += lines
            put.checkpoint = checkpoint
        if checkpoint is None:
            self._open = put  # later puts join it until one brings a checkpoint
            return seq
        self._open = None
        if not put.remaining:
            self.release()
        return seq

    def stall(self) -> None:
        """A put was refused: its frames are not durable, so no later checkpoint may be."""
        if self._open is not None:  # what was put before the refusal stays reportable
            self._open = None
            self.release()
        if self.stalled_from is None:
            self.stalled_from = self._next

    def done(self, batch: Batch) -> None:
        puts = self._puts
        for seq, n in batch.shares.items():
            puts[seq].remaining -= n
        self.release()

    def release(self) -> None:
        while self._released < self._next:
            put = self._puts[self._released]
            if put.remaining or put is self._open:
                return
            del self._puts[self._released]
            self._released += 1
            if self.stalled_from is not None and self._released > self.stalled_from:
                continue
            if put.checkpoint is not None and self.on_durable is not None:
                try:
                    self.on_durable(put.checkpoint)
                except Exception:  # the caller's bug must not stop delivery
                    log.exception("store: on_durable callback failed")

    @property
    def pending(self) -> int:
        """Puts (with their checkpoint) not yet durable; an open entry with nothing left
        to deliver does not count."""
        idle_open = self._open is not None and not self._open.remaining
        return self._next - self._released - idle_open
