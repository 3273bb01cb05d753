"""A tiny HTTP server: ``/health`` (JSON) and ``/metrics`` (Prometheus text format).

It renders whatever the callable it is given returns at request time; the pipeline supplies
``Pipeline.status()`` (every part's counters, store health, queue depths, per-link counters).

``/metrics`` is written by ``prometheus_client`` (its exposition format: name rules, label
escaping), so any name from the wire is safe on the page. Names from the wire (stations,
spacecraft, sources, sinks, reasons) are only ever label values, never part of a metric name:

- a nested mapping of fixed keys becomes a name prefix: ``{"store": {"spool_bytes": 3}}`` ->
  ``groundwatch_store_spool_bytes 3``;
- a mapping listed in ``KEYED`` is keyed by names from the wire: its keys become a label
  (``{"stations": {"gs1": {"first": 5}}}`` -> ``groundwatch_station_first{station="gs1"} 5``);
- a list listed in ``ROWS`` holds rows whose named keys are labels and whose numbers are
  samples (``{"link": [{"station": "gs1", "frames": 7}]}`` ->
  ``groundwatch_link_frames{station="gs1"} 7``).

Booleans are 0/1; text, None and non-finite numbers are left out of ``/metrics``, and so is
any mapping inside a ``KEYED`` entry (e.g. a station's heartbeat payload: its keys come from
the wire). A part that adds a mapping keyed by wire names to ``status()`` lists it in
``KEYED``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from aiohttp import web
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry

HealthSource = Callable[[], Mapping[str, Any]]
PREFIX = "groundwatch"
_NOT_IN_NAME = re.compile(r"[^a-zA-Z0-9_]")

# path of a mapping keyed by names from the wire -> (metric name for its entries, label)
KEYED: dict[tuple[str, ...], tuple[str, str]] = {
    ("rejected",): ("rejected", "reason"),
    ("sources",): ("source", "source"),
    ("stations",): ("station", "station"),
    ("alerts", "sinks"): ("alert_sink", "sink"),
    ("links", "spacecraft"): ("spacecraft", "spacecraft"),
    ("links", "stations"): ("link_station", "station"),
}
# path of a list of rows -> (metric name for its samples, the row keys that are labels)
ROWS: dict[tuple[str, ...], tuple[str, tuple[str, ...]]] = {
    ("link",): ("link", ("spacecraft", "station", "vcid")),
    ("links", "links"): ("link", ("spacecraft", "station", "vcid")),
    ("not_computed",): ("not_computed", ("packet", "parameter", "reason")),
    ("radio",): ("radio", ("spacecraft", "station")),
}


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def _name(*parts: str) -> str:
    return "_".join(_NOT_IN_NAME.sub("_", p) for p in parts if p)


class _Samples:
    """Samples grouped by metric name (one family per name, as the format requires)."""

    def __init__(self) -> None:
        self.families: dict[str, Metric] = {}

    def add(self, name: str, labels: Mapping[str, str], value: float) -> None:
        family = self.families.get(name)
        if family is None:
            family = self.families[name] = Metric(name, "", "unknown")
        family.add_sample(name, dict(labels), value)


def _walk(
    node: Mapping[str, Any],
    path: tuple[str, ...],
    name: str,
    labels: dict[str, str],
    out: _Samples,
) -> None:
    for key, value in node.items():
        here = (*path, str(key))
        if here in ROWS and isinstance(value, list):
            _rows(value, here, out)
        elif here in KEYED and isinstance(value, Mapping):
            base, label = KEYED[here]
            for entry, inner in value.items():
                entry_labels = {**labels, label: str(entry)}
                metric = _name(PREFIX, base)
                if isinstance(inner, Mapping):
                    # Only the entry's own numbers: a mapping inside it (a station's
                    # heartbeat payload, a spacecraft's last values) has keys from outside.
                    for k, v in inner.items():
                        if not isinstance(v, Mapping) and (n := _number(v)) is not None:
                            out.add(_name(metric, str(k)), entry_labels, n)
                elif (n := _number(inner)) is not None:
                    out.add(metric, entry_labels, n)
        elif isinstance(value, Mapping):
            _walk(value, here, _name(name, str(key)), labels, out)
        elif (n := _number(value)) is not None:
            out.add(_name(name, str(key)), labels, n)


def _rows(rows: Iterable[Any], path: tuple[str, ...], out: _Samples) -> None:
    base, label_keys = ROWS[path]
    for row in rows:
        if not isinstance(row, Mapping):
            continue
        labels = {k: str(row[k]) for k in label_keys if row.get(k) is not None}
        for key, value in row.items():
            if key in label_keys:
                continue
            if (n := _number(value)) is not None:
                out.add(_name(PREFIX, base, str(key)), labels, n)


def metric_families(data: Mapping[str, Any]) -> list[Metric]:
    """The metric families for one ``status()``, in the order first seen."""
    samples = _Samples()
    _walk(data, (), PREFIX, {}, samples)
    return list(samples.families.values())


class _StatusCollector(Collector):
    def __init__(self, source: HealthSource) -> None:
        self.source = source

    def collect(self) -> Iterable[Metric]:
        return metric_families(self.source())


def render_metrics(data: Mapping[str, Any]) -> bytes:
    """The Prometheus text page for ``data`` (``status()``)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StatusCollector(lambda: data))
    return generate_latest(registry)


class HealthServer:
    def __init__(self, listen: str, health: HealthSource, metrics: HealthSource | None = None):
        host, _, port = listen.rpartition(":")
        self.host = host or "127.0.0.1"
        self.port = int(port)
        self.health = health
        self.metrics = metrics or health
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/health", self._health)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0 and site._server is not None:  # bound port for tests/logs
            sockets = getattr(site._server, "sockets", None) or []
            if sockets:
                self.port = int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _health(self, _request: web.Request) -> web.Response:
        return web.json_response(self.health(), dumps=lambda d: json.dumps(d, default=str))

    async def _metrics(self, _request: web.Request) -> web.Response:
        return web.Response(
            body=render_metrics(self.metrics()), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )
