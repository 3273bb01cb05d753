"""One replay session: a recording fed through the same pipeline as live data.

``run_replay`` builds the pipeline with ``wiring.build_pipeline`` (same decoders, link
monitor, limits, alerts and store as live), a ``ReplayClock`` at the chosen speed and a
``ReplaySource``; every point and event carries ``source=replay:<session>``. Paging sinks
only see replay alerts with ``page=True``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import aiomqtt

from groundwatch.clock import ReplayClock
from groundwatch.config import Settings
from groundwatch.decoders.api import TelemetryDictionary
from groundwatch.decoders.decode_input import parse_timestamp
from groundwatch.model import Event, RawFrame
from groundwatch.mqtt_url import mqtt_connection
from groundwatch.pipeline import Pipeline
from groundwatch.pipeline_stats import PipelineStats
from groundwatch.replay.detect import ReplayFormat
from groundwatch.replay.recording import DEFAULT_STATION, Recording, TimeLine, Unreadable
from groundwatch.replay.session import default_session_name, validate_session_name
from groundwatch.replay.source import FramePublisher, ReplaySource, TimeWindow
from groundwatch.wiring import build_pipeline, load_mission

S = 1_000_000_000
TimeMode = Literal["original", "now"]


@dataclass(slots=True)
class ReplayOptions:
    paths: list[Path]
    fmt: ReplayFormat | None = None
    speed: float | None = None  # None: as fast as the pipeline goes
    session: str | None = None
    time_mode: TimeMode = "original"
    start: str | None = None  # --from: ISO time, Unix seconds "1700000000.5", or "+S" offset
    end: str | None = None  # --to
    station: str = DEFAULT_STATION  # for formats that do not record one
    frame_interval: float | None = None  # for formats that record no time
    tail: float | None = None  # pass seconds after the last frame (default: LOS threshold + 1)
    page: bool = False
    asm: bool | None = None
    republish: str | None = None  # MQTT URL
    topic: str = "gs/{station}/frames"


@dataclass(slots=True)
class ReplayResult:
    session: str
    source: str
    stats: PipelineStats
    fed: int
    first_ert_ns: int | None
    last_ert_ns: int | None
    wall_s: float  # from the first frame fed to the end of the tail
    feed_wall_s: float  # from the first frame fed to the last (the pass itself)
    gaps: int  # frame-count gaps seen by the accounting (all links)
    frames_missing: int
    problems: list[Unreadable] = field(default_factory=list)

    @property
    def events(self) -> list[Event]:
        return list(self.stats.events)


class ReplayError(ValueError):
    """A usage problem (bad --from, unknown format): the command exits 2."""


def parse_when(text: str | None, first_ns: int) -> int | None:
    """--from/--to: an absolute time (ISO-8601 or Unix seconds with a decimal point) or an
    offset in seconds from the recording's first frame ("+90", "90")."""
    if text is None:
        return None
    t = parse_timestamp(text)
    if t is not None:
        return t
    try:
        return first_ns + int(float(text.lstrip("+")) * S)
    except ValueError:
        raise ReplayError(f"--from/--to {text!r}: not a time nor seconds from the start") from None


class MqttRepublisher:
    """``--republish``: each fed frame also goes to an MQTT topic, at the replay's pace."""

    def __init__(self, url: str, topic: str, qos: int = 1) -> None:
        self._client = aiomqtt.Client(**mqtt_connection(url))
        self.topic = topic
        self.qos = qos
        self.published = 0

    async def publish(self, frame: RawFrame) -> None:
        await self._client.publish(
            self.topic.replace("{station}", frame.station), frame.data, qos=self.qos
        )
        self.published += 1

    @contextlib.asynccontextmanager
    async def connected(self) -> AsyncIterator[MqttRepublisher]:
        async with self._client:
            yield self


def frame_interval_ns(
    settings: Settings, dictionary: TelemetryDictionary, given: float | None
) -> int:
    if given is not None:
        return int(given * S)
    for sc in dictionary.spacecraft:
        cfg = settings.link.spacecraft.get(sc.name)
        interval = (cfg.frame_interval if cfg else None) or sc.frame_interval
        if interval:
            return int(interval * S)
    return S


async def run_replay(
    settings: Settings,
    opts: ReplayOptions,
    *,
    dictionary: TelemetryDictionary | None = None,
    on_event: Callable[[Event], None] | None = None,
    on_start: Callable[[Pipeline, ReplaySource, Recording], None] | None = None,
    stop: asyncio.Event | None = None,
) -> ReplayResult:
    """Replay ``opts.paths`` into the store of ``settings``; returns what happened."""
    dictionary = dictionary or load_mission(settings)
    recording = Recording(
        opts.paths, opts.fmt, dictionary.framing, opts.asm, opts.station or DEFAULT_STATION
    )
    frames = recording.frames()
    first = next(frames, None)
    now = time.time_ns()
    first_ns = first.ert_ns if first is not None and first.ert_ns is not None else now
    session = opts.session or default_session_name(opts.paths[0], first_ns)
    validate_session_name(session)
    label = f"replay:{session}"
    window = TimeWindow(parse_when(opts.start, first_ns), parse_when(opts.end, first_ns))
    clock = ReplayClock(first_ns, opts.speed)
    pipeline = build_pipeline(
        settings,
        sources=[],
        clock=clock,
        source_label=label,
        page_replays=opts.page,
        archive_enabled=False,
        event_listeners=[on_event] if on_event is not None else [],
        dictionary=dictionary,
    )
    interval = frame_interval_ns(settings, dictionary, opts.frame_interval)
    tail_ns = (
        int(opts.tail * S)
        if opts.tail is not None
        else max(
            (pipeline.monitor.threshold_ns(sc.name) for sc in dictionary.spacecraft), default=0
        )
        + S
    )

    def drained(fed: int) -> bool:
        return pipeline.queue.qsize() == 0 and (
            pipeline.counters.sent + pipeline.counters.errors >= fed
        )

    republisher = MqttRepublisher(opts.republish, opts.topic) if opts.republish else None
    publisher: FramePublisher | None = republisher
    source = ReplaySource(
        itertools.chain([first] if first is not None else [], frames),
        session=session,
        clock=clock,
        timeline=TimeLine(interval, first_ns),
        shift_to_ns=now if opts.time_mode == "now" else None,
        window=window,
        tail_ns=tail_ns,
        drained=drained,
        publisher=publisher,
    )
    pipeline.sources.append(source)
    if on_start is not None:
        on_start(pipeline, source, recording)
    stop = stop or asyncio.Event()
    async with contextlib.AsyncExitStack() as stack:
        if republisher is not None:
            await stack.enter_async_context(republisher.connected())
        stats = await pipeline.run(stop)
    gaps = missing = 0
    for counts in pipeline.accounting.counts().values():
        gaps += counts.frame_gaps
        missing += counts.frames_missing
    wall = feed_wall = 0.0
    if source.started_wall is not None and source.finished_wall is not None:
        wall = source.finished_wall - source.started_wall
    if source.started_wall is not None and source.last_fed_wall is not None:
        feed_wall = source.last_fed_wall - source.started_wall
    return ReplayResult(
        session=session,
        source=label,
        stats=stats,
        fed=source.counters.sent,
        first_ert_ns=source.first_ert_ns,
        last_ert_ns=source.last_ert_ns,
        wall_s=wall,
        feed_wall_s=feed_wall,
        gaps=gaps,
        frames_missing=missing,
        problems=list(recording.problems),
    )
