"""One batch of lines to InfluxDB through a writer, applying the status table's answers:
413 -> halves; 400/422 -> the refused lines to the dead-letter file, the rest stored.

Retryable failures (``WriteFailed.retryable``) are raised: spooling and backoff are the
sink's business.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from groundwatch.parts import Counters
from groundwatch.store.deadletter import DeadLetterFile, refused_lines
from groundwatch.store.writer import TOO_LARGE, WriteFailed, Writer, WriteResult

log = logging.getLogger(__name__)


class Delivery:
    def __init__(
        self,
        dead_letter: DeadLetterFile,
        counters: Counters,
        stored: Callable[[int], None],
    ) -> None:
        self.dead_letter = dead_letter
        self.counters = counters
        self.stored = stored  # called with the number of lines InfluxDB confirmed

    async def deliver(self, writer: Writer, lines: list[bytes]) -> None:
        """Store ``lines`` (or dead-letter what InfluxDB refuses). Raises retryable
        ``WriteFailed``."""
        try:
            try:
                result = await writer.write(b"\n".join(lines) + b"\n")
            except WriteFailed:
                raise
            except Exception as exc:  # a writer bug must not end delivery: retry later
                log.exception("store: writer %s failed", writer.name)
                raise WriteFailed(0, None, repr(exc), retryable=True) from exc
        except WriteFailed as exc:
            if exc.status == TOO_LARGE and len(lines) > 1:
                self.counters.bump("split_batches")
                half = len(lines) // 2
                await self.deliver(writer, lines[:half])
                await self.deliver(writer, lines[half:])
                return
            if exc.retryable:
                raise
            result = WriteResult(exc.status, rejected=True, reason=exc.body)
        if result.rejected:
            await self._triage(writer, lines, result)  # counts what its re-sends store
            self.stored(0)
        else:
            self.stored(len(lines))

    async def _triage(self, writer: Writer, lines: list[bytes], result: WriteResult) -> None:
        """Dead-letter what InfluxDB refused; the rest is stored (or is re-sent to be sure).

        1.x names one reason only (a field type conflict hides unparsable lines, for one),
        so the lines the reason names are dead-lettered and the others sent again, once:
        rewriting a stored point changes nothing, and whatever is still refused comes back
        here. When the reason names no line, the batch is bisected.
        """
        if len(lines) == 1:
            await self._dead_letter(lines, result)
            return
        named = refused_lines(lines, result.reason)
        await self._dead_letter([lines[i] for i in sorted(named)], result)
        rest = [line for i, line in enumerate(lines) if i not in named]
        if not rest:
            return
        self.counters.bump("triage_resends")
        if named:
            await self.deliver(writer, rest)
            return
        half = len(rest) // 2
        await self.deliver(writer, rest[:half])
        await self.deliver(writer, rest[half:])

    async def _dead_letter(self, lines: list[bytes], result: WriteResult) -> None:
        if not lines:
            return
        await asyncio.to_thread(self.dead_letter.write, lines, result.status, result.reason)
        self.counters.errors += len(lines)
        self.counters.bump("dead_letter_lines", len(lines))
        log.error("InfluxDB refused %d line(s): %s", len(lines), result.reason[:300])
