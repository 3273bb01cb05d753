"""A tiny HTTP server: ``/health`` (JSON) and ``/metrics`` (Prometheus text format).

It renders whatever the callables it is given return at request time; the pipeline supplies
them (store health, queue depths, per-link counters). Metrics are flattened from nested
dicts: ``{"store": {"spool_bytes": 3}}`` -> ``groundwatch_store_spool_bytes 3``; a key of the
form ``name{label="v"}`` keeps its labels. Non-numeric leaves are left out of /metrics.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

HealthSource = Callable[[], Mapping[str, Any]]
_BAD = re.compile(r"[^a-zA-Z0-9_:]")


def flatten_metrics(data: Mapping[str, Any], prefix: str = "groundwatch") -> list[str]:
    """Prometheus text lines (untyped samples) for every numeric leaf of ``data``."""
    out: list[str] = []

    def walk(node: Mapping[str, Any], name: str) -> None:
        for key, value in node.items():
            base, _, labels = str(key).partition("{")
            metric = f"{name}_{_BAD.sub('_', base)}"
            if isinstance(value, Mapping):
                walk(value, metric)
                continue
            if isinstance(value, bool):
                value = int(value)
            if not isinstance(value, int | float) or not math.isfinite(value):
                continue
            out.append(f"{metric}{{{labels} {value}" if labels else f"{metric} {value}")

    walk(data, prefix)
    return out


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
        body = "\n".join(flatten_metrics(self.metrics())) + "\n"
        return web.Response(text=body, content_type="text/plain", charset="utf-8")
