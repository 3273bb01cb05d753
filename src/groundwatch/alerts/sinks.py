"""Alert sinks: each a small part with its own task and its own bounded queue.

The manager only ever calls ``offer`` (never blocks): a sink that hangs or fails fills its
own queue (bounded in alerts and in bytes) and drops its own alerts (counted), and the other
sinks go on. An alert still queued, or being delivered, when the sink is stopped is counted
dropped too. ``paging`` sinks
(MQTT events, webhook, command) do not get alerts raised during a replay unless the manager
is told ``page_replays``.

This module holds the base class and the sinks without a network client: ``log``,
``influx`` (the pipeline hands it ``put_points``) and ``command``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import shlex
import shutil
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from groundwatch.alerts.alert import Alert, Notification
from groundwatch.config import parse_part_options
from groundwatch.model import Event, Point, Severity
from groundwatch.parts import ConfigError, Counters
from groundwatch.tasks import cancel_and_wait

log = logging.getLogger("groundwatch.alerts")
QUEUE_BYTES = 16 << 20  # estimated bytes of alerts a sink holds (and items: queue_size)


class AlertSinkOptions(BaseModel):
    """Options every alert sink has."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, description="name in /health (default: the type)")
    queue_size: int = Field(default=1000, gt=0, description="alerts held for this sink")


class LogSinkOptions(AlertSinkOptions):
    """``[[alerts]] type = "log"``: alerts as log lines (critical ones at CRITICAL)."""


class InfluxSinkOptions(AlertSinkOptions):
    """``[[alerts]] type = "influx"``: events as points (Grafana annotations)."""

    queue_size: int = Field(default=10_000, gt=0, description="alerts held for this sink")


class AlertSink:
    """Base of the built-in alert sinks (``parts.AlertSink`` is the contract)."""

    Options: ClassVar[type[BaseModel]] = AlertSinkOptions
    type: ClassVar[str] = "sink"
    paging: ClassVar[bool] = False

    def __init__(
        self, name: str | None = None, queue_size: int = 1000, queue_bytes: int = QUEUE_BYTES
    ) -> None:
        self.name = name or self.type
        self.counters = Counters()
        self.counters.extra["failed"] = 0  # alerts not delivered after the sink's retries
        self.queue: asyncio.Queue[Alert] = asyncio.Queue(maxsize=queue_size)
        self.queue_bytes = queue_bytes
        self.queued_bytes = 0  # estimated, of the alerts in ``queue``
        self._queued_sizes: deque[int] = deque()  # each queued alert's, in queue order
        self._delivering: Alert | None = None  # taken from the queue, not yet delivered
        self._task: asyncio.Task[None] | None = None
        self.on_ack: Callable[[str, str, str | None], object] | None = None

    def offer(self, alert: Alert) -> bool:
        self.counters.received += 1
        size = alert.event.approx_bytes()
        over = self.queued_bytes + size > self.queue_bytes and not self.queue.empty()
        if over or self.queue.full():
            self.counters.dropped += 1
            return False
        self.queue.put_nowait(alert)
        self._queued_sizes.append(size)
        self.queued_bytes += size
        return True

    async def take(self) -> Alert:
        """The next alert to deliver; it counts as dropped if the sink stops before
        ``delivered`` is called for it."""
        alert = await self.queue.get()
        self.queued_bytes -= self._queued_sizes.popleft()
        self._delivering = alert
        return alert

    def delivered(self) -> None:
        """The alert ``take`` returned is done with (sent, or failed and counted)."""
        self._delivering = None
        self.queue.task_done()

    async def start(self) -> None:
        await self.open()
        self._task = asyncio.create_task(self._run(), name=f"alert-sink-{self.name}")

    async def _run(self) -> None:
        while True:
            alert = await self.take()
            try:
                await self.deliver(alert)
                self.counters.sent += 1
            except asyncio.CancelledError:
                raise  # stopped while delivering it: ``stop`` counts it dropped
            except Exception as exc:
                self.counters.errors += 1
                self.counters.bump("failed")
                log.warning("alert sink %s: %s failed: %s", self.name, alert.id, exc)
            self.delivered()

    async def stop(self, drain_timeout: float = 5.0) -> None:
        """Deliver what is queued (bounded by ``drain_timeout``), then close."""
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.queue.join(), drain_timeout)
            await cancel_and_wait(self._task)
            self._task = None
        self.counters.dropped += self.queue.qsize() + (self._delivering is not None)
        self._delivering = None
        await self.close()

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def deliver(self, alert: Alert) -> None:
        raise NotImplementedError


class LogSink(AlertSink):
    """Alerts as log lines (critical ones at CRITICAL level)."""

    Options = LogSinkOptions
    type = "log"
    _LEVELS: ClassVar[dict[Severity, int]] = {
        Severity.INFO: logging.INFO,
        Severity.WARNING: logging.WARNING,
        Severity.CRITICAL: logging.CRITICAL,
    }

    @classmethod
    def from_config(cls, options: Mapping[str, Any], key: str) -> LogSink:
        o = parse_part_options(LogSinkOptions, options, key)
        return cls(o.name, o.queue_size)

    async def deliver(self, alert: Alert) -> None:
        level = self._LEVELS[alert.event.severity]
        if alert.notification in (Notification.RECOVERY, Notification.ACK):
            level = logging.INFO
        log.log(level, "%s [alert %s]", alert.summary(), alert.id)


class InfluxSink(AlertSink):
    """Events as points of the store's ``events`` measurement (Grafana annotations).

    Written through the pipeline's store (``bind`` before start). The point's shape is the
    store's (``store.points.event_point``, the README's schema): the wiring hands it over,
    so alerts never import the store."""

    Options = InfluxSinkOptions
    type = "influx"

    def __init__(self, name: str | None = None, queue_size: int = 10_000) -> None:
        super().__init__(name, queue_size)
        self.put_points: Callable[[list[Point]], Any] | None = None
        self.to_point: Callable[[Event], Point] | None = None

    @classmethod
    def from_config(cls, options: Mapping[str, Any], key: str) -> InfluxSink:
        o = parse_part_options(InfluxSinkOptions, options, key)
        return cls(o.name, o.queue_size)

    def bind(
        self, put_points: Callable[[list[Point]], Any], to_point: Callable[[Event], Point]
    ) -> None:
        self.put_points = put_points
        self.to_point = to_point

    async def deliver(self, alert: Alert) -> None:
        if alert.notification is Notification.REPEAT:
            return  # a reminder is not a new event on the timeline
        if self.put_points is None or self.to_point is None:
            raise RuntimeError("influx alert sink not bound to the store (bind)")
        out = self.put_points([self.to_point(alert.event)])
        if inspect.isawaitable(out):
            await out


class CommandSinkOptions(AlertSinkOptions):
    """``[[alerts]] type = "command"``: runs a program with the alert JSON on stdin."""

    command: str | list[str] = Field(description="program and arguments (no shell)")
    timeout: float = Field(default=10.0, gt=0, description="seconds before it is killed")


class CommandSink(AlertSink):
    """Runs a program with the alert JSON on stdin; killed after ``timeout``."""

    Options = CommandSinkOptions
    type = "command"
    paging = True

    def __init__(self, argv: list[str], timeout: float, name: str | None, queue_size: int) -> None:
        super().__init__(name, queue_size)
        self.argv = argv
        self.timeout = timeout

    @classmethod
    def from_config(cls, options: Mapping[str, Any], key: str) -> CommandSink:
        o = parse_part_options(CommandSinkOptions, options, key)
        argv = shlex.split(o.command) if isinstance(o.command, str) else list(o.command)
        if not argv:
            raise ConfigError(f"{key}.command", "empty command")
        if shutil.which(argv[0]) is None:
            raise ConfigError(f"{key}.command", f"program {argv[0]!r} not found or not executable")
        return cls(argv, o.timeout, o.name, o.queue_size)

    async def deliver(self, alert: Alert) -> None:
        proc = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            _, err = await asyncio.wait_for(
                proc.communicate(alert.to_json().encode() + b"\n"), self.timeout
            )
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise RuntimeError(f"{self.argv[0]} killed after {self.timeout:g} s") from None
        if proc.returncode != 0:
            raise RuntimeError(
                f"{self.argv[0]} exited {proc.returncode}: {err.decode(errors='replace')[:200]}"
            )
