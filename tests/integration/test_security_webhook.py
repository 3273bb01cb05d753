"""Webhooks against a real local HTTP server answering redirects: never followed, counted
as failures, retried; every sink counts sent, failed and dropped alerts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from groundwatch.alerts.manager import AlertManager
from groundwatch.config import PartConfig
from groundwatch.model import Event, EventType, Severity
from groundwatch.services import free_port

pytestmark = pytest.mark.integration


class Server:
    def __init__(self, status: int) -> None:
        self.status = status
        self.port = free_port()
        self.posts = 0
        self.elsewhere: list[tuple[str, bytes]] = []

    async def hook(self, request: web.Request) -> web.Response:
        self.posts += 1
        return web.Response(
            status=self.status, headers={"Location": f"http://127.0.0.1:{self.port}/elsewhere"}
        )

    async def elsewhere_handler(self, request: web.Request) -> web.Response:
        self.elsewhere.append((request.method, await request.read()))
        return web.Response(text="ok")


@asynccontextmanager
async def server(status: int) -> AsyncIterator[Server]:
    s = Server(status)
    app = web.Application()
    app.router.add_post("/hook", s.hook)
    app.router.add_route("*", "/elsewhere", s.elsewhere_handler)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", s.port).start()
    try:
        yield s
    finally:
        await runner.cleanup()


def _event() -> Event:
    return Event(
        type=EventType.UNEXPECTED_LOS,
        severity=Severity.CRITICAL,
        time_ns=time.time_ns(),
        spacecraft="lander",
        station="gs1",
        title="UNEXPECTED_LOS",
        text="lost",
        condition="LOS/lander",
        id="los-1",
    )


@pytest.mark.parametrize("status", [302, 307])
async def test_a_redirect_is_a_failure_and_is_not_followed(status: int) -> None:
    async with server(status) as s:
        alerts = AlertManager.from_config(
            [
                PartConfig(
                    type="webhook",
                    url=f"http://hooker:secret@127.0.0.1:{s.port}/hook",
                    retries=2,
                    backoff=0.01,
                    timeout=2,
                )
            ]
        )
        await alerts.start()
        try:
            alerts.submit([_event()])
            sink = alerts.sink("webhook")
            deadline = time.monotonic() + 5
            while sink.counters.extra["failed"] < 1:
                assert time.monotonic() < deadline, sink.counters.as_dict()
                await asyncio.sleep(0.02)
        finally:
            await alerts.stop(0.5)
        assert s.posts == 3  # the first try and two retries
        assert s.elsewhere == []  # nothing went where the redirect pointed
        counts = alerts.counters()["webhook"]
        assert counts["sent"] == 0 and counts["failed"] == 1 and counts["dropped"] == 0
        assert counts["webhook_redirects"] == 3


async def test_every_sink_counts_sent_failed_and_dropped() -> None:
    alerts = AlertManager.from_config([PartConfig(type="log", queue_size=1)])
    sink = alerts.sink("log")
    alerts.submit([_event()])
    e2 = _event()
    e2.condition, e2.id = "other", "x2"
    alerts.submit([e2])  # the queue holds one: dropped
    await alerts.start()
    await alerts.stop(1)
    assert {k: alerts.counters()["log"][k] for k in ("sent", "failed", "dropped")} == {
        "sent": 1,
        "failed": 0,
        "dropped": 1,
    }
    assert sink.counters.sent == 1
