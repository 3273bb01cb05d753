"""The pipeline: wires sources -> archive -> merge -> decode -> link monitor -> store/alerts.

Parts never import each other; this module does the wiring. One root ``asyncio.TaskGroup``
with named tasks; the only queue between sources and the decode stage is bounded, so a slow
stage slows the sources (and MQTT's broker-side window) instead of growing memory. The store
sink spills to its disk spool when the database is slow.

Shutdown is staged, each stage with its deadline: sources stop taking new frames and wait
until what they handed over is archived (and so acknowledged to the broker); the decode stage
drains the frame queue; alerts drain; the store flushes every accepted point to InfluxDB or to
the spool. SIGINT/SIGTERM trigger it (see ``cli.run``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from groundwatch.clock import Clock, ReplayClock, WallClock
from groundwatch.ingest.base import INVALID_STATION, BoundedItemQueue
from groundwatch.model import (
    DecodeResult,
    Event,
    GroundPathChange,
    LinkKey,
    Point,
    RawFrame,
    RefusedFrame,
    RejectedInput,
    Rejection,
    RejectReason,
    StationStatus,
)
from groundwatch.parts import ConfigError, Counters, Decoder, IngestItem, Source, StoreSink
from groundwatch.pipeline_stats import EVENTS_KEPT, PipelineStats, RateLimitedLog, StageDeadlines
from groundwatch.pipeline_status import pipeline_status
from groundwatch.rejects import count_rejections
from groundwatch.stations import MAX_STATIONS, StationRoster
from groundwatch.tasks import cancel_and_wait

log = logging.getLogger(__name__)

_END = object()  # tells the decode stage that every source has stopped


class Pipeline:
    """One running groundwatch: build with ``groundwatch.wiring.build_pipeline``."""

    def __init__(
        self,
        *,
        sources: list[Source],
        decoder: Decoder,
        store: StoreSink,
        monitor: Any,
        accounting: Any,
        merger: Any,
        alerts: Any,
        archive: Any | None,
        to_points: Callable[[Any], list[Point]],
        clock: Clock | None = None,
        source_label: str = "live",
        queue_size: int = 10_000,
        queue_bytes: int = 64 << 20,
        tick_s: float = 0.05,
        accounting_interval_s: float = 1.0,
        deadlines: StageDeadlines | None = None,
        event_listeners: Iterable[Callable[[Event], None]] = (),
        result_listeners: Iterable[Callable[[DecodeResult], None]] = (),
        health: Any | None = None,
        max_stations: int = MAX_STATIONS,
        station_forget_after_s: float = 600.0,
        events_kept: int | None = EVENTS_KEPT,
    ) -> None:
        self.sources = sources
        self.decoder = decoder
        self.store = store
        self.monitor = monitor
        self.accounting = accounting
        self.merger = merger
        self.alerts = alerts
        self.failures: list[str] = []  # parts that failed to start or died: run exits non-zero
        self._fatal = asyncio.Event()
        self.archive = archive
        self.to_points = to_points  # DecodeResult -> points (wiring.result_points_factory)
        self.clock: Clock = clock or WallClock()
        self.source_label = source_label
        self.queue: BoundedItemQueue = BoundedItemQueue(queue_size, queue_bytes)
        self.tick_s = tick_s
        self.accounting_interval_ns = int(accounting_interval_s * 1e9)
        self.deadlines = deadlines or StageDeadlines()
        self.counters = Counters()
        self.stats = PipelineStats(events=deque(maxlen=events_kept))
        # Stations come from the wire: every per-station structure downstream (link state,
        # accounting, merge counters, archive files, series) is bounded by the roster's
        # max_stations, counting the stations heard within station_forget_after_s.
        self.stations = StationRoster(max_stations, station_forget_after_s)
        self._next_accounting: int | None = None
        self._listeners = list(event_listeners)
        self._result_listeners = list(result_listeners)  # e.g. the demo's live console
        self.health = health  # optional /health + /metrics server, fed by status()
        self._ratelog = RateLimitedLog()
        self._in_frame = False  # the decode stage is inside a frame (awaiting the store)
        self._link_keys: dict[tuple[str, str], LinkKey] = {}
        self.started = asyncio.Event()

    # --- the decode stage -----------------------------------------------------------------

    def _now(self, frame: RawFrame | None = None) -> int:
        if frame is not None and isinstance(self.clock, ReplayClock):
            # A replayed frame is processed at its own pass time, also in a paced replay:
            # the wall-scaled clock may have run ahead while the loop was busy, and judging
            # the frame late would make a stall look like a silence (a false LOS).
            self.clock.advance(frame.ert_ns)
            return frame.ert_ns
        return self.clock.now_ns()

    async def process(self, item: IngestItem, recovered_position: Any = None) -> None:
        """Handle one item from a source. Never raises: a bug here is counted and logged."""
        try:
            if isinstance(item, RawFrame | StationStatus | RejectedInput):
                if not self.stations.heard(item.station):
                    if not isinstance(item, RejectedInput):
                        await self._too_many_stations(item, recovered_position)
                        return
                    item = dataclasses.replace(item, station=INVALID_STATION)
            elif isinstance(item, RefusedFrame) and item.frame.station != INVALID_STATION:
                # An oversized frame is counted per station too: the same bound applies
                if not self.stations.heard(item.frame.station):
                    frame = dataclasses.replace(item.frame, station=INVALID_STATION)
                    item = dataclasses.replace(item, frame=frame)
            if isinstance(item, RawFrame):
                self._in_frame = True  # the decode stage is inside a frame (see _tick_loop)
                try:
                    await self._decode_frame(item, recovered_position)
                finally:
                    self._in_frame = False
            elif isinstance(item, StationStatus):
                self.dispatch(
                    self.monitor.observe_heartbeat(item.station, item.payload, self._now())
                )
            elif isinstance(item, GroundPathChange):
                self.dispatch(self.monitor.observe_ground_path(item.up, self._now()))
            elif isinstance(item, RejectedInput):
                await self._rejected_input(item)
            elif isinstance(item, RefusedFrame):
                await self._refused(item.frame, item.reason, item.detail, recovered_position)
        except Exception:
            self.counters.errors += 1
            log.exception("pipeline: failed to process %r", type(item).__name__)

    async def _too_many_stations(
        self, item: RawFrame | StationStatus, recovered_position: Any
    ) -> None:
        """A new station past ``max_stations``: its frame is archived and rejected under
        the station ``INVALID_STATION`` (so nothing per station grows), its heartbeat
        dropped; both counted."""
        self.stats.refused_stations += 1
        self._ratelog.warning(
            "too_many_stations",
            "station %s refused: already %d stations (max_stations)",
            item.station,
            self.stations.max_stations,
        )
        if isinstance(item, RawFrame):
            most = self.stations.max_stations
            detail = f"station {item.station}: more than max_stations ({most})"
            frame = dataclasses.replace(item, station=INVALID_STATION)
            await self._refused(frame, RejectReason.TOO_MANY_STATIONS, detail, recovered_position)

    def _link_key(self, spacecraft: str, station: str) -> LinkKey:
        """One LinkKey per link, made once (a frozen dataclass costs ~1 us to build)."""
        key = self._link_keys.get((spacecraft, station))
        if key is None:
            if len(self._link_keys) > 10_000:  # bounded: stations come from the wire
                self._link_keys.clear()
            key = self._link_keys[(spacecraft, station)] = LinkKey(spacecraft, station)
        return key

    async def _decode_frame(self, frame: RawFrame, recovered_position: Any) -> None:
        # Runs once per frame (~9,000/s in a replay at max speed): kept free of calls
        # that do nothing, e.g. dispatching empty event lists.
        now = self._now(frame)
        self.counters.received += 1
        recovered = recovered_position is not None
        position = recovered_position  # a recovered frame is archived already
        if recovered:
            self.stats.recovered_frames += 1
        identity = self.decoder.peek(frame)
        spacecraft = identity.spacecraft if identity is not None else None
        if not recovered:
            # Archived and acknowledged before anything else can fail: a frame left
            # unacknowledged would hold one of the broker's in-flight slots for the session.
            if self.archive is not None:
                position = self.archive.append(frame, f"{spacecraft or 'unknown'}-{frame.station}")
            # Not archived (the archive raised ARCHIVE_FAILED): not acknowledged either, so
            # the broker keeps it and delivers it again on the next session.
            if frame.ack is not None and (position is not None or self.archive is None):
                frame.ack()
            if self._tick(now, frame=True):
                await self._write_link_series(now)
        if frame.meta is not None:  # what the station said about its reception
            self.accounting.observe_copy(spacecraft, frame.station, frame.meta)
            if spacecraft is not None and not recovered:
                key = self._link_key(spacecraft, frame.station)
                events = self.monitor.observe_radio(key, frame.meta, frame.ert_ns)
                if events:
                    self.dispatch(events)
        stats = self.stats
        stats.frames += 1
        first = True
        if identity is not None and spacecraft is not None:
            signal_ok = identity.crc_ok is not False  # None: the frame carries no check
            if not recovered:
                key = self._link_key(spacecraft, frame.station)
                events = self.monitor.observe_frame(key, frame.ert_ns, signal_ok, now)
                if events:
                    self.dispatch(events)
            digest = zlib.crc32(frame.data)
            first = self.merger.offer(
                frame.station,
                (spacecraft, identity.vcid, identity.vcfc, digest),
                identity.crc_ok,
                now,
            )
            # A bad-CRC copy is still decoded: rejected as bad_crc, counted and kept raw.
            first = first or not signal_ok
        points: list[Point]
        if first:
            result = self.decoder.decode(frame)
            self.accounting.observe(result)
            if not recovered:
                events = self.monitor.observe_result(result, now)
                if events:
                    self.dispatch(events)
            points = self.to_points(result)
            for listen in self._result_listeners:
                listen(result)
            stats.packets += len(result.packets)
            if result.rejections:
                self._count_rejections(result)
        else:
            points = []
            stats.duplicates += 1
        stats.points += len(points)
        await self.store.put(points, position)
        self.counters.sent += 1

    async def _rejected_input(self, item: RejectedInput) -> None:
        """A message a source could not read (e.g. a malformed envelope): counted per
        station and reason, archived raw (its ``rejected`` point keeps only a prefix) and
        acknowledged once archived."""
        frame = RawFrame(item.data, item.time_ns, item.station, self.source_label, item.ingest)
        position = None
        if self.archive is not None:
            position = self.archive.append(frame, f"unknown-{frame.station}")
        if item.ack is not None and (position is not None or self.archive is None):
            item.ack()
        rejection = Rejection(
            item.reason, item.detail, item.data, item.time_ns, item.station, self.source_label
        )
        result = DecodeResult(frame, rejections=[rejection])
        self.accounting.observe(result)
        self._count_rejections(result)
        points = self.to_points(result)
        self.stats.points += len(points)
        await self.store.put(points, position)

    async def _refused(
        self, frame: RawFrame, reason: RejectReason, detail: str, recovered_position: Any
    ) -> None:
        """Archived raw (the only place its bytes are kept whole), acknowledged, counted and
        rejected; never decoded (its ``rejected`` point keeps a prefix and a hash)."""
        self.counters.received += 1
        position = recovered_position
        if recovered_position is None:
            if self.archive is not None:
                position = self.archive.append(frame, f"unknown-{frame.station}")
            if frame.ack is not None and (position is not None or self.archive is None):
                frame.ack()
        rejection = Rejection(reason, detail, frame.data, frame.ert_ns, frame.station, frame.source)
        result = DecodeResult(frame=frame, rejections=[rejection])
        self.accounting.observe(result)
        self._count_rejections(result)
        points = self.to_points(result)
        self.stats.frames += 1
        self.stats.points += len(points)
        await self.store.put(points, position)
        self.counters.sent += 1

    def _count_rejections(self, result: DecodeResult) -> None:
        count_rejections(self.stats.rejected, result.rejections)
        for r in result.rejections:
            reason = r.reason.value
            self._ratelog.warning(reason, "rejected %s from %s: %s", reason, r.station, r.detail)

    async def advance(self, now_ns: int, force: bool = False) -> None:
        """Run the link monitor's timers up to ``now_ns``; once a second, write link series."""
        if self._tick(now_ns) or force:
            await self._write_link_series(now_ns)

    def _tick(self, now_ns: int, frame: bool = False) -> bool:
        """The timers of ``advance``; True when the link series are due.

        Before a frame (``frame``), the monitor's tick is skipped while the monitor says
        nothing can be due yet (``tick_due_ns``: the earliest time its tick could raise an
        event or change a state; None, nothing until it observes something): the same
        events at the same times, without a tick per frame at 9,000 frames/s."""
        tick_due: Callable[[], int | None] | None = getattr(self.monitor, "tick_due_ns", None)
        if not frame or tick_due is None or ((due := tick_due()) is not None and now_ns >= due):
            events = self.monitor.tick(now_ns)
            if events:
                self.dispatch(events)
        self.alerts.tick(now_ns)  # re-notify unacknowledged critical alerts
        if self._next_accounting is None:
            step = self.accounting_interval_ns
            self._next_accounting = (now_ns // step + 1) * step
        return now_ns >= self._next_accounting

    async def _write_link_series(self, now_ns: int) -> None:
        pts = [
            *self.accounting.points(now_ns),
            *self.monitor.state_points(now_ns),
            *self.merger.points(now_ns),  # per-station first copies, duplicates, CRC
        ]
        for p in pts:
            p.tags.setdefault("source", self.source_label)
        self.stats.points += len(pts)
        await self.store.put(pts, None)
        step = self.accounting_interval_ns
        self._next_accounting = (now_ns // step + 1) * step

    def dispatch(self, events: Iterable[Event]) -> None:
        """Events from any part (link monitor, store) to the alert manager and listeners."""
        for e in events:
            if not e.source or e.source == "live":
                e.source = self.source_label
            self.stats.keep_event(e)
            self.alerts.submit([e])
            for listener in self._listeners:
                listener(e)

    # --- tasks ----------------------------------------------------------------------------

    async def _decode_loop(self) -> None:
        queue = self.queue
        while True:
            # get_nowait is what get() does when an item is there, without a coroutine.
            item = queue.get_nowait() if queue.qsize() else await queue.get()
            if item is _END:
                return
            await self.process(item)

    def _tick_delay(self) -> float:
        """Sleep until the next tick, or sooner when a link's LOS deadline falls before it
        (so a LOS is noticed within a millisecond; its event time does not depend on this)."""
        delay = self.tick_s
        deadline = getattr(self.monitor, "next_deadline_ns", lambda: None)()
        if deadline is not None:
            until = (deadline - self.clock.now_ns()) / 1e9
            delay = min(delay, max(until + 0.001, 0.001))
        return delay

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self._tick_delay())
            now = self.clock.now_ns()
            if isinstance(self.clock, ReplayClock):
                if self.clock.speed is None:
                    continue  # at max speed, time moves only with the frames (decode stage)
                # Paced: never past a frame fed but not yet decoded, nor past the frame the
                # replay source is about to feed (it may be late: the loop was busy).
                if self._in_frame or self.queue.qsize():
                    continue
                dues = [d for s in self.sources if (d := s.due_ns) is not None]
                if dues:
                    now = min(now, *dues)
            try:
                await self.advance(now)
                if self.stations.sweep_due():
                    self._forget_silent_stations()
            except Exception:
                self.counters.errors += 1
                log.exception("pipeline: link monitor tick failed")

    def _forget_silent_stations(self) -> None:
        """What every part keeps for a station silent (no frame, no heartbeat) for
        ``station_forget_after_s`` is dropped (see ``stations``)."""
        silent = self.stations.silent()
        for name in silent:
            if not self.monitor.forget_station(name):
                continue  # in the contact plan: kept
            self.stations.forget(name)
            self.accounting.forget_station(name)
            self.merger.forget_station(name)
            self.alerts.forget_station(name)
            for lk in [k for k in self._link_keys if k[1] == name]:
                del self._link_keys[lk]
            self.stats.forgotten_stations += 1
        if silent:
            log.info(
                "forgot %d station(s) silent for %.0f s", len(silent), self.stations.forget_after_s
            )

    async def _source_task(self, source: Source) -> None:
        name = source.name
        try:
            await source.run(self.queue)
        except asyncio.CancelledError:
            raise
        except (ConfigError, OSError) as exc:
            # A part that cannot start (missing password file, port taken): the run ends
            # with a non-zero status, so a supervisor notices and restarts it.
            self.counters.errors += 1
            self.failures.append(f"source {name}: {exc}")
            log.error("source %s failed to start or run: %s", name, exc)
            self._fatal.set()
        except Exception as exc:
            self.counters.errors += 1
            self.failures.append(f"source {name}: {type(exc).__name__}: {exc}")
            log.exception("source %s failed", name)

    async def recover(self) -> None:
        """Deliver points of archived frames the store never confirmed (after a crash)."""
        if self.archive is None:
            return
        self._restore_links()
        for frame, position in self.archive.uncommitted_with_positions():
            await self.process(frame, recovered_position=position)
        if self.stats.recovered_frames:
            log.warning(
                "recovered %d archived frames not confirmed by the store before the last stop",
                self.stats.recovered_frames,
            )

    def _restore_links(self) -> None:
        """Links that were up when groundwatch last stopped (their last archived frames):
        the link monitor tracks them on, so a backlog the broker redelivers is judged on
        its ERTs, without a new AOS and without a LOS for the outage itself."""
        restore = getattr(self.monitor, "restore", None)
        latest = getattr(self.archive, "latest_frames", None)
        if restore is None or latest is None:
            return
        now = self.clock.now_ns()
        for _link, frame in latest():
            identity = self.decoder.peek(frame)
            if identity is None or identity.spacecraft is None or identity.crc_ok is False:
                continue
            restore(self._link_key(identity.spacecraft, frame.station), frame.ert_ns, now)

    async def run(self, stop: asyncio.Event, finish_at_ns: int | None = None) -> PipelineStats:
        """Run until ``stop`` is set (or every source has ended), then shut down in stages."""
        if self.archive is not None:
            await self.archive.start()
        await self.store.start()
        await self.alerts.start()
        if self.health is not None:
            await self.health.start()
        try:
            for source in self.sources:
                try:
                    await source.start()
                except OSError as exc:  # name the part: "udp: address already in use"
                    problem = f"source {source.name}: {exc.strerror or exc}"
                    raise OSError(exc.errno, problem) from exc
            async with asyncio.TaskGroup() as tg:
                await self.recover()
                decode = tg.create_task(self._decode_loop(), name="decode")
                ticker = tg.create_task(self._tick_loop(), name="link-tick")
                src_tasks = [
                    tg.create_task(self._source_task(s), name=f"source:{s.name}")
                    for s in self.sources
                ]
                self.started.set()
                sources_done: asyncio.Future[Any] = asyncio.ensure_future(
                    asyncio.gather(*src_tasks)
                )
                stop_wait: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
                fatal_wait: asyncio.Future[Any] = asyncio.ensure_future(self._fatal.wait())
                await asyncio.wait(
                    {sources_done, stop_wait, fatal_wait}, return_when=asyncio.FIRST_COMPLETED
                )
                stop_wait.cancel()
                fatal_wait.cancel()
                # Stage 1: sources stop and hand over what they have.
                for s in self.sources:
                    with contextlib.suppress(Exception):
                        await s.stop()
                try:
                    await asyncio.wait_for(asyncio.shield(sources_done), self.deadlines.sources)
                except TimeoutError:
                    log.warning(
                        "shutdown: sources did not stop within %.0f s", self.deadlines.sources
                    )
                    await cancel_and_wait(src_tasks)
                # Stage 2: the decode stage drains the frame queue.
                await self.queue.put(_END)
                try:
                    await asyncio.wait_for(asyncio.shield(decode), self.deadlines.decode)
                except TimeoutError:
                    log.error(
                        "shutdown: decode stage did not drain within %.0f s", self.deadlines.decode
                    )
                    await cancel_and_wait(decode)
                await cancel_and_wait(ticker)
                # Last link series with the final counts, whatever the second.
                end = finish_at_ns if finish_at_ns is not None else self.clock.now_ns()
                await self.advance(end, force=True)
        finally:
            # Stage 3 and 4: alerts drain, then the store flushes (to InfluxDB or the spool).
            if self.health is not None:
                with contextlib.suppress(Exception):
                    await self.health.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.alerts.stop(), self.deadlines.alerts)
            try:
                await asyncio.wait_for(self.store.stop(), self.deadlines.store)
            finally:
                if self.archive is not None:
                    await self.archive.stop()
        return self.stats

    async def sources_connected(self, timeout_s: float = 15) -> None:
        """Wait until every source that connects somewhere (e.g. to a broker) has, plus a
        moment for its subscriptions to reach the broker; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout_s
        while not all(s.connected for s in self.sources):
            if time.monotonic() > deadline:
                raise TimeoutError(f"a source did not connect within {timeout_s:.0f} s")
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # subscriptions are sent right after CONNACK

    def status(self) -> dict[str, Any]:
        """What the one-line status, /health, /metrics and the console show (see
        ``pipeline_status``)."""
        return pipeline_status(self)
