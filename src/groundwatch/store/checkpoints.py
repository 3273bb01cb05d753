"""Which puts are durable: the bookkeeping behind ``StoreSink``'s ``on_durable`` callback.

Every ``put()`` gets a sequence number and the number of its lines; a batch records how
many lines of which puts it carries (a put can be split across batches, a batch holds
many puts). When a batch is durable (stored by InfluxDB, fsynced in the spool, or
dead-lettered), its shares are subtracted; puts whose lines are all durable are released
strictly in put order, and their checkpoints reported.
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

    def open(self, lines: int, checkpoint: Any) -> int:
        """Register a put of ``lines`` lines; returns its sequence number."""
        seq = self._next
        self._next += 1
        self._puts[seq] = _Put(lines, checkpoint)
        if not lines:
            self.release()
        return seq

    def stall(self) -> None:
        """A put was refused: its frames are not durable, so no later checkpoint may be."""
        if self.stalled_from is None:
            self.stalled_from = self._next

    def done(self, batch: Batch) -> None:
        for seq, n in batch.shares.items():
            self._puts[seq].remaining -= n
        self.release()

    def release(self) -> None:
        while self._released < self._next:
            put = self._puts[self._released]
            if put.remaining:
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
        """Puts not yet durable."""
        return self._next - self._released
