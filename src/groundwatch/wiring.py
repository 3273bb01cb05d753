"""Build a Pipeline from validated settings: every part's ``from_config`` runs here, no I/O.

Parts are looked up by role and name in a ``parts.Registry`` (``plugins.default_registry``:
the built-in parts plus those installed through entry points); a caller may pass its own.
``groundwatch check-config`` calls ``build_pipeline`` too, so a bad key in any part's table is
reported (with its key) before anything starts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from groundwatch.alerts.manager import AlertManager
from groundwatch.alerts.sinks import InfluxSink
from groundwatch.archive.writer import FrameArchive
from groundwatch.clock import Clock
from groundwatch.config import Settings
from groundwatch.decoders.api import DictionaryError, TelemetryDictionary
from groundwatch.decoders.frame_decoder import FrameDecoder
from groundwatch.link.accounting import FrameAccounting
from groundwatch.link.merge import FrameMerger
from groundwatch.link.monitor import LinkMonitor
from groundwatch.link.rules import RuleEngine
from groundwatch.link.schedule import Schedule
from groundwatch.model import DecodeResult, Event, Point
from groundwatch.parts import ConfigError, Registry, StoreSink
from groundwatch.pipeline import Pipeline
from groundwatch.pipeline_stats import EVENTS_KEPT
from groundwatch.plugins import default_registry
from groundwatch.store.health import HealthServer
from groundwatch.store.points import PacketPoints, event_point, float_params_of, rejected_point

log = logging.getLogger(__name__)


def result_points_factory(
    dictionary: TelemetryDictionary | None,
) -> Callable[[DecodeResult], list[Point]]:
    floats = float_params_of(dictionary.parameters()) if dictionary is not None else frozenset()
    packet_point = PacketPoints(floats)

    def to_points(result: DecodeResult) -> list[Point]:
        pts = [packet_point(p) for p in result.packets]
        pts += [rejected_point(r, i) for i, r in enumerate(result.rejections)]
        return pts

    return to_points


def dictionary_format(settings: Settings, registry: Registry) -> Any:
    """The ``[mission] format`` part, or the one whose suffixes match the file name."""
    name = settings.mission.format
    if name is None:
        suffix = settings.mission.dictionary.suffix.lower()
        for entry in registry.entries("dictionary"):
            fmt = registry.part_class("dictionary", entry.name, "mission", "format")
            if suffix in fmt.suffixes:
                name = entry.name
                break
        else:
            known = ", ".join(registry.names("dictionary"))
            raise ConfigError(
                "mission.format", f"no format for {suffix or 'a file without suffix'} ({known})"
            )
    return registry.create("dictionary", name, {}, "mission", "format")


def load_mission(settings: Settings, registry: Registry | None = None) -> TelemetryDictionary:
    from groundwatch.decoders.dictionary import python_layouts_allowed

    fmt = dictionary_format(settings, registry or default_registry())
    allowed = python_layouts_allowed.set(settings.mission.allow_python_layouts)
    try:
        return fmt.load(settings.mission.dictionary)
    except FileNotFoundError as exc:
        raise ConfigError("mission.dictionary", f"file not found: {exc.filename}") from exc
    except DictionaryError as exc:
        raise ConfigError("mission.dictionary", str(exc)) from exc
    finally:
        python_layouts_allowed.reset(allowed)


def build_pipeline(
    settings: Settings,
    *,
    sources: Sequence[Any] | None = None,
    clock: Clock | None = None,
    source_label: str = "live",
    page_replays: bool = False,
    archive_enabled: bool | None = None,
    event_listeners: Iterable[Callable[[Event], None]] = (),
    result_listeners: Iterable[Callable[[DecodeResult], None]] = (),
    dictionary: TelemetryDictionary | None = None,
    registry: Registry | None = None,
) -> Pipeline:
    """Every part validated and constructed; connections open in ``Pipeline.run``."""
    registry = registry or default_registry()
    dictionary = dictionary or load_mission(settings, registry)
    if sources is None:
        sources = [
            registry.create("source", s.type, s.options(), f"sources[{i}]")
            for i, s in enumerate(settings.sources)
        ]
    schedule = None
    if settings.mission.schedule is not None:
        try:
            schedule = Schedule.load(settings.mission.schedule)
        except (OSError, ValueError) as exc:
            raise ConfigError("mission.schedule", str(exc)) from exc

    use_archive = settings.archive.enabled if archive_enabled is None else archive_enabled
    archive = (
        # Bound late, like the store's: ARCHIVE_FAILED goes where every event goes.
        FrameArchive.from_config(settings.archive, on_alert=lambda e: pipeline.dispatch([e]))
        if use_archive
        else None
    )

    store: StoreSink = registry.create("sink", settings.store.type, settings.store, "store")
    store.bind(
        # Bound late: a store alert (SPOOL_FULL) goes where every event goes, once running.
        on_alert=lambda event: pipeline.dispatch([event]),
        on_durable=archive.commit if archive is not None else None,
    )
    params = list(dictionary.parameters())
    key_parameters = [p.name for p in params if p.key]
    limits = {p.name: p.limits for p in params if p.limits is not None}
    intervals = {s.name: s.frame_interval for s in dictionary.spacecraft if s.frame_interval}
    monitor = LinkMonitor.from_config(
        settings.link, key_parameters, intervals, schedule, source_label, limits=limits
    )
    rules = getattr(dictionary, "rules", None)
    monitor.rules = RuleEngine(rules, source_label, settings.link.rule_interval) if rules else None

    async def put_points(points: list[Point]) -> None:
        await store.put(points, None)

    alerts = AlertManager.from_config(
        settings.alerts,
        registry=registry,
        renotify_interval=settings.link.renotify_interval,
        page_replays=page_replays,
        flap_window=settings.link.flap_window,
    )
    for sink in alerts.sinks:
        if isinstance(sink, InfluxSink):
            sink.bind(put_points, event_point)
    pipeline = Pipeline(
        sources=list(sources),
        decoder=FrameDecoder(dictionary),
        store=store,
        monitor=monitor,
        accounting=FrameAccounting(),
        merger=FrameMerger(),
        alerts=alerts,
        archive=archive,
        to_points=result_points_factory(dictionary),
        clock=clock,
        source_label=source_label,
        tick_s=settings.link.tick,
        accounting_interval_s=settings.link.accounting_interval,
        event_listeners=event_listeners,
        result_listeners=result_listeners,
        max_stations=settings.link.max_stations,
        station_forget_after_s=settings.link.station_forget_after,
        events_kept=EVENTS_KEPT if source_label == "live" else None,  # a replay ends
    )
    if settings.health.listen:
        pipeline.health = HealthServer(settings.health.listen, pipeline.status)
    return pipeline
