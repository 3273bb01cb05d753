"""StoreSink: the one wrapper around every InfluxDB writer (Telegraf's running output).

Buffering, batching, retries, spooling and dead-lettering live here; writers only send.

Flow: ``put()`` encodes points to line protocol at once (the queue holds bytes, not
objects) into a bounded buffer of ``queue_size`` lines. A flusher cuts batches of
``batch_size`` lines, or whatever is there every ``flush_interval``. While InfluxDB answers,
a batch goes to the live writers (two in flight, one waiting); when InfluxDB is down, slow
(the live slot stays busy past ``handoff_s``, or a ``put()`` is waiting for room) or
answers 429/5xx, the batch goes to the disk spool instead of piling up in memory. A
drainer sends the spool oldest-first with
exponential backoff (honouring ``Retry-After``), while live batches keep flowing once
InfluxDB answers again. 400/422: the refused lines go to the dead-letter file, the rest
is stored; 413: the batch is split in halves.

Backpressure: ``put()`` waits for room in the buffer (room is made by writing or spooling,
never by dropping). Only when the spool is over its disk budget and the buffer is full
does ``put()`` refuse (returns False, at once): counted, and ``on_alert`` gets a
SPOOL_FULL event. Nothing already accepted is ever dropped: at ``stop()`` batches
that still have nowhere to go are spooled past the budget.

Durability: ``put(points, checkpoint)``; ``on_durable(checkpoint)`` is called, in put
order, once every point put with or before it is in InfluxDB or fsynced in the spool. The
pipeline commits archive offsets there. After a refusal, no later checkpoint is reported
during this run (the archive then still holds the refused frames and the next start
re-decodes them).

File I/O: spool appends (with fsync), spool reads and dead-letter writes run in
``asyncio.to_thread``; the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel

from groundwatch.config import StoreConfig, parse_part_options
from groundwatch.model import Event, Point
from groundwatch.parts import Counters
from groundwatch.store.alarm import SpoolFullAlarm
from groundwatch.store.checkpoints import Batch, CheckpointTracker
from groundwatch.store.deadletter import DeadLetterFile
from groundwatch.store.delivery import Delivery
from groundwatch.store.detect import DetectFailed, writer_for
from groundwatch.store.lineprotocol import EncodeStats, LineEncoder
from groundwatch.store.spool import Spool, unpack_lines
from groundwatch.store.writer import WriteFailed, Writer

log = logging.getLogger(__name__)

AlertCallback = Callable[[Event], None]
DurableCallback = Callable[[Any], None]
YIELD_EVERY_S = 0.005


@dataclass(slots=True)
class _Buffered:
    """Lines of one put (or of consecutive puts that share a checkpoint entry)."""

    seq: int
    lines: list[bytes]


class StoreSink:
    """InfluxDB 1.x/2.x/3.x, never losing a point: batches, disk spool, dead letters."""

    Options: ClassVar[type[BaseModel]] = StoreConfig
    name = "influx"

    def __init__(
        self,
        cfg: StoreConfig,
        on_alert: AlertCallback | None = None,
        on_durable: DurableCallback | None = None,
        writer: Writer | None = None,
        put_timeout: float = 1.0,
        handoff_s: float | None = None,
    ) -> None:
        self.cfg = cfg
        self.on_alert = on_alert
        self.on_durable = on_durable
        self.put_timeout = put_timeout
        # How long a batch may wait for the live writer before it goes to the spool; a put()
        # that finds the buffer full cuts this short (see _pressure).
        self.handoff_s = handoff_s if handoff_s is not None else cfg.timeout
        self.counters = Counters()
        self.encode_stats = EncodeStats()
        self.encoder = LineEncoder(self.encode_stats)
        self.spool = Spool(cfg.spool_dir, int(cfg.spool_budget_mb * 1024 * 1024))
        self.dead_letter = DeadLetterFile(cfg.dead_letter)
        self._delivery = Delivery(self.dead_letter, self.counters, self._up)
        self._writer = writer
        self._batch_size = cfg.batch_size
        self._queue_size = cfg.queue_size
        self._buffer: deque[_Buffered] = deque()
        self._buffered = 0  # lines in _buffer
        self._in_memory = 0  # lines accepted and not yet durable (the bounded quantity)
        self._in_memory_bytes = 0  # ... and their size: bounded too (lines have no fixed size)
        self._max_bytes = int(cfg.queue_mb * (1 << 20))
        self.peak_in_memory = 0
        self._checkpoints = CheckpointTracker(on_durable)
        self._held: deque[Batch] = deque()  # batches the full spool refused
        self._live: asyncio.Queue[Batch] = asyncio.Queue(maxsize=1)
        self.live_writers = 2  # batches in flight at once: InfluxDB ingests in parallel
        self._room = asyncio.Event()
        self._kick = asyncio.Event()
        self._flush_all = False  # the next flusher round cuts a partial batch too
        self._pressure = asyncio.Event()  # put() is waiting for room: spool, do not wait
        self._work = asyncio.Event()  # spool or held got something
        self._tasks: list[asyncio.Task[None]] = []
        self._live_tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self._db_up = False
        self._backoff = 0.0
        self._next_attempt = 0.0
        self._alarm = SpoolFullAlarm(on_alert, cfg.spool_budget_mb)
        self._writes: deque[tuple[float, int]] = deque()
        self.last_write_ns: int | None = None
        self._last_yield = 0.0

    @classmethod
    def from_config(
        cls,
        cfg: StoreConfig | Mapping[str, Any],
        key: str = "store",
        on_alert: AlertCallback | None = None,
        on_durable: DurableCallback | None = None,
    ) -> StoreSink:
        """Validates only (the ``[store]`` table, or its options; the URL and the secret
        files are checked here): no connection until ``start()``."""
        from groundwatch.influx_access import InfluxAccess

        options: StoreConfig = (
            cfg if isinstance(cfg, StoreConfig) else parse_part_options(StoreConfig, cfg, key)
        )
        InfluxAccess.from_store(options)
        return cls(options, on_alert=on_alert, on_durable=on_durable)

    def bind(self, on_alert: AlertCallback | None, on_durable: DurableCallback | None) -> None:
        """Where SPOOL_FULL goes and who commits archive offsets (wiring, before start)."""
        self.on_alert = self._alarm.on_alert = on_alert
        self.on_durable = self._checkpoints.on_durable = on_durable

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        await asyncio.to_thread(self.spool.open)
        if self.spool.torn_records:
            log.warning("spool: %d torn or damaged record(s) repaired", self.spool.torn_records)
        await self._ensure_writer()
        self._tasks = [
            asyncio.create_task(self._flush_loop(), name="store-flush"),
            asyncio.create_task(self._drain_loop(), name="store-drain"),
        ]
        self._live_tasks = [
            asyncio.create_task(self._live_loop(), name=f"store-live-{i}")
            for i in range(self.live_writers)
        ]
        if self.spool.records:
            log.info("spool: %d batch(es) left from a previous run", self.spool.records)
            self._work.set()

    async def stop(self) -> None:
        """Flush: every accepted point is in InfluxDB or in the spool when this returns."""
        if self._closing:
            return
        self._closing = True
        self._kick.set()
        flush, drain = self._tasks or (None, None)
        if flush is not None:
            await flush  # dispatches what is buffered, then returns
        for _ in self._live_tasks:
            await self._live.put(Batch([]))  # end marker, one per writer
        await asyncio.gather(*self._live_tasks)
        if drain is not None:
            drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await drain
        while self._held:  # over budget or not: accepted data must survive
            batch = self._held.popleft()
            await asyncio.to_thread(self.spool.append_lines, batch.lines, True)
            self.counters.bump("spooled_over_budget", len(batch.lines))
            self._durable(batch)
        if self._writer is not None:
            await self._writer.close()
        await asyncio.to_thread(self.spool.close)

    async def __aenter__(self) -> StoreSink:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- put ---------------------------------------------------------------------------------

    async def put(self, points: list[Point], checkpoint: Any = None) -> bool:
        """Accept points (True) or refuse them (False: spool full and buffer full)."""
        if self._closing:
            raise RuntimeError("StoreSink is stopping")
        lines = self.encoder.encode_lines(points)
        n = len(lines)
        nbytes = sum(map(len, lines))
        if n and self._in_memory and self._full(n, nbytes):
            if not await self._wait_for_room(n, nbytes):
                self.counters.dropped += n
                self.counters.bump("refused_points", n)
                self._checkpoints.stall()
                self._alert_spool_full()
                return False
        seq = self._checkpoints.open(n, checkpoint)
        if n:
            self.counters.received += n
            buffer = self._buffer
            if buffer and buffer[-1].seq == seq:  # joins the open put (see checkpoints)
                buffer[-1].lines += lines
            else:
                buffer.append(_Buffered(seq, list(lines)))
            self._buffered += n
            self._in_memory += n
            self._in_memory_bytes += nbytes
            if self._in_memory > self.peak_in_memory:
                self.peak_in_memory = self._in_memory
            if self._buffered >= self._batch_size:
                self._kick.set()
        # A producer whose awaits never suspend (a busy decoder reading a full queue) would
        # starve the writers: hand the loop over every few milliseconds.
        now = time.monotonic()
        if now - self._last_yield > YIELD_EVERY_S:
            self._last_yield = now
            await asyncio.sleep(0)
        return True

    def _full(self, n: int, nbytes: int) -> bool:
        return (
            self._in_memory + n > self._queue_size
            or self._in_memory_bytes + nbytes > self._max_bytes
        )

    async def _wait_for_room(self, n: int, nbytes: int) -> bool:
        """Wait while the buffer is full. For ``put_timeout`` room may come from InfluxDB
        (it is just slower than us: plain backpressure); then the buffered batches go to
        the spool at once. Only when the spool is over budget (batches held in memory)
        does the wait end in a refusal. A slow disk slows ``put()`` down instead."""
        self._flush_all = True  # cut what is buffered now
        self._kick.set()
        if self._held:  # the spool already refused: waiting cannot help, answer at once
            return False
        deadline = time.monotonic() + self.put_timeout
        try:
            while self._in_memory and self._full(n, nbytes):
                left = deadline - time.monotonic()
                if left <= 0:
                    if self._held:
                        return False
                    if not self._pressure.is_set():
                        self._pressure.set()  # InfluxDB is not keeping up: spool
                        self._flush_all = True
                        self._kick.set()
                        self.counters.bump("pressure_spills")
                    else:
                        self.counters.bump("slow_puts")
                    deadline = time.monotonic() + self.put_timeout
                    left = self.put_timeout
                self._room.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._room.wait(), left)
            return True
        finally:
            self._pressure.clear()

    # --- batching and dispatch ------------------------------------------------------------------

    def _cut(self) -> Batch:
        batch = Batch([])
        out = batch.lines
        size = self._batch_size
        while self._buffer and len(out) < size:
            entry = self._buffer[0]
            lines = entry.lines
            take = size - len(out)
            if len(lines) <= take:
                self._buffer.popleft()
            else:
                entry.lines = lines[take:]
                lines = lines[:take]
            out += lines
            batch.shares[entry.seq] = batch.shares.get(entry.seq, 0) + len(lines)
        self._buffered -= len(out)
        return batch

    async def _flush_loop(self) -> None:
        """Full batches go as soon as they are there; a partial one only once it has
        waited ``flush_interval`` (or under pressure, or at stop). Cutting whatever was
        buffered at each kick sent a POST per few frames under load: InfluxDB then spent
        its CPU on requests, not points (~75 lines a batch at 2 Mbit/s)."""
        loop = asyncio.get_running_loop()
        flush_at = loop.time() + self.cfg.flush_interval
        while True:
            left = flush_at - loop.time()
            if left > 0 and not self._kick.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._kick.wait(), left)
            self._kick.clear()
            everything = self._closing or self._flush_all or loop.time() >= flush_at
            self._flush_all = False
            # Lines put while a batch is handed over wait for the next round (unless they
            # fill a batch): cutting until the buffer is empty made tiny batches again.
            due = self._buffered if everything else 0
            while self._buffer and (due > 0 or self._buffered >= self._batch_size):
                batch = self._cut()
                due -= len(batch.lines)
                await self._dispatch(batch)
            if everything:
                flush_at = loop.time() + self.cfg.flush_interval
            if self._closing and not self._buffer:
                return

    async def _dispatch(self, batch: Batch) -> None:
        if self._db_up and not self._closing and not self._pressure.is_set():
            handoff = asyncio.create_task(self._live.put(batch))
            pressure = asyncio.create_task(self._pressure.wait())
            await asyncio.wait(
                {handoff, pressure}, timeout=self.handoff_s, return_when=asyncio.FIRST_COMPLETED
            )
            pressure.cancel()
            handoff.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await handoff
            if not handoff.cancelled():
                return  # the live writer has it
            self.counters.bump("slow_handoffs")
        elif self._db_up and self._closing:  # one last live attempt, then the spool
            await self._live.put(batch)
            return
        await self._spool_batch(batch)

    async def _spool_batch(self, batch: Batch) -> None:
        try:
            ok = await asyncio.to_thread(self.spool.append_lines, batch.lines)
        except OSError as exc:  # disk full or gone: keep the batch in memory, like a refusal
            log.error("spool: cannot write: %s", exc)
            self.counters.bump("spool_write_errors")
            ok = False
        if ok:
            self.counters.bump("spooled_points", len(batch.lines))
            self._durable(batch)
            self._spool_ok()
        else:
            self._held.append(batch)
            self._alert_spool_full()
        self._work.set()

    # --- delivery --------------------------------------------------------------------------------

    async def _live_loop(self) -> None:
        while True:
            batch = await self._live.get()
            if not batch.lines:
                return
            try:
                await self._deliver(batch.lines)
            except WriteFailed as exc:
                self._down(exc)
                await self._spool_batch(batch)
                continue
            except Exception:  # e.g. the dead-letter file cannot be written: keep the batch
                log.exception("store: live delivery failed")
                self.counters.errors += 1
                await self._spool_batch(batch)
                continue
            self._durable(batch)

    async def _drain_loop(self) -> None:
        while True:
            try:
                await self._drain_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never let draining die: report, back off, go on
                log.exception("store: draining the spool failed")
                self.counters.errors += 1
                self._down(WriteFailed(0, None, repr(exc), True))

    async def _drain_once(self) -> None:
        """One step: the oldest spooled record (or held batch) to InfluxDB."""
        await self._work.wait()
        delay = self._next_attempt - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if not await self._ensure_writer():
            self._down(WriteFailed(0, None, "InfluxDB not reachable", True))
            return
        if self.spool.records:
            got = await asyncio.to_thread(self.spool.peek)
            if got is None:
                return
            rec, payload = got
            if await self._try(unpack_lines(payload)):
                await asyncio.to_thread(self.spool.ack, rec)
                self.counters.bump("drained_points", rec.lines)
        elif self._held:
            batch = self._held[0]
            if await self._try(batch.lines):
                self._held.popleft()
                self._durable(batch)
                if not self._held:
                    self._spool_ok()
        else:
            self._work.clear()

    async def _try(self, lines: list[bytes]) -> bool:
        try:
            await self._deliver(lines)
        except WriteFailed as exc:
            self._down(exc)
            return False
        return True

    async def _deliver(self, lines: list[bytes]) -> None:
        assert self._writer is not None
        await self._delivery.deliver(self._writer, lines)

    async def _ensure_writer(self) -> bool:
        if self._writer is None:
            try:
                self._writer = await writer_for(self.cfg)
            except DetectFailed as exc:
                log.warning("store: %s", exc)
                return False
            await self._writer.start()
            self._db_up = True
        return True

    def _up(self, stored: int) -> None:
        if not self._db_up:
            log.info("InfluxDB answers again")
        self._db_up = True
        self._backoff = 0.0
        self.counters.sent += stored
        now = time.monotonic()
        self._writes.append((now, stored))
        self.last_write_ns = time.time_ns()

    def _down(self, exc: WriteFailed) -> None:
        if self._db_up:
            log.warning("InfluxDB write failed, spooling: %s", exc)
        self._db_up = False
        self.counters.bump("write_failures")
        self._backoff = min(max(self._backoff * 2, 0.1), self.cfg.max_retry_delay)
        delay = self._backoff * random.uniform(0.8, 1.2)
        if exc.retry_after is not None:
            delay = max(delay, min(exc.retry_after, self.cfg.max_retry_delay))
        self._next_attempt = time.monotonic() + delay

    # --- durability ------------------------------------------------------------------------------

    def _durable(self, batch: Batch) -> None:
        self._in_memory -= len(batch.lines)
        self._in_memory_bytes -= sum(map(len, batch.lines))
        self._room.set()
        self._checkpoints.done(batch)

    # --- alerts and health -----------------------------------------------------------------------

    def _alert_spool_full(self) -> None:
        self._alarm.raise_({"spool_bytes": self.spool.size_bytes, "refused": self.refused})

    def _spool_ok(self) -> None:
        if self._alarm.active:
            self._alarm.clear({"spool_bytes": self.spool.size_bytes, "refused": self.refused})

    @property
    def refused(self) -> int:
        return self.counters.extra.get("refused_points", 0)

    def write_rate(self, window_s: float = 10.0) -> float:
        now = time.monotonic()
        while self._writes and self._writes[0][0] < now - window_s:
            self._writes.popleft()
        return sum(n for _, n in self._writes) / window_s

    def health(self) -> dict[str, Any]:
        oldest = self.spool.oldest_created_ns()
        return {
            "db_up": self._db_up,
            "queue_depth": self._in_memory,
            "queue_bytes": self._in_memory_bytes,
            "queue_size": self.cfg.queue_size,
            "spool_bytes": self.spool.size_bytes,
            "spool_records": self.spool.records,
            "spool_points": self.spool.lines,
            "spool_oldest_age_s": (time.time_ns() - oldest) / 1e9 if oldest else 0.0,
            "held_batches": len(self._held),
            "write_rate": self.write_rate(),
            "last_write_ns": self.last_write_ns,
            "dead_letter_lines": self.dead_letter.lines,
            "fields_unrepresentable": self.encode_stats.fields_dropped,
            "points_unrepresentable": self.encode_stats.points_dropped,
            "series_cache_bytes": self.encoder.series_cache_bytes,
            **self.counters.as_dict(),
        }
