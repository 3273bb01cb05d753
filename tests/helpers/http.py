"""A local HTTP receiver for webhook-like parts: records every request, answers as told.

    async with http_receiver() as hook:
        sink = WebhookSink.from_config({"url": hook.url}, "alerts[0]")
        ...
        t, body = await hook.got.get()

``status`` and ``headers`` shape the answer (e.g. 302 with a Location, 500 to force
retries); ``plan`` scripts the next answers one request at a time (then ``status`` again);
``respond`` answers from the request itself (e.g. 413 for a body too large) before the plan;
``hang`` holds every request open (a dead endpoint).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from groundwatch.services import free_port


@dataclass
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() on arrival

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    """What the receiver saw; ``got`` holds (arrival time, JSON body) of each JSON POST."""

    path: str = "/hook"
    hang: bool = False
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    requests: list[ReceivedRequest] = field(default_factory=list)
    got: asyncio.Queue[tuple[float, Any]] = field(default_factory=asyncio.Queue)

    plan: list[tuple[int, str, dict[str, str]]] = field(default_factory=list)
    respond: Callable[[ReceivedRequest], tuple[int, str, dict[str, str]] | None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def bodies(self) -> list[bytes]:
        return [r.body for r in self.requests]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        seen = ReceivedRequest(
            request.method, request.path, dict(request.headers), body, time.monotonic()
        )
        self.requests.append(seen)
        if self.hang:
            await asyncio.sleep(3600)
        if request.method == "POST" and body:
            with contextlib.suppress(ValueError):
                await self.got.put((seen.at, seen.json()))
        answer = self.respond(seen) if self.respond is not None else None
        if answer is None and self.plan:
            answer = self.plan.pop(0)
        if answer is not None:
            status, text, headers = answer
            return web.Response(text=text, status=status, headers=headers)
        return web.Response(text="ok", status=self.status, headers=dict(self.headers))


@contextlib.asynccontextmanager
async def http_receiver(
    path: str = "/hook",
    *,
    hang: bool = False,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> AsyncIterator[HttpReceiver]:
    """A receiver listening on a free loopback port until the block ends."""
    receiver = HttpReceiver(path, hang, status, dict(headers or {}))
    app = web.Application()
    app.router.add_route("*", path, receiver.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", receiver.port).start()
    try:
        yield receiver
    finally:
        await runner.cleanup()
