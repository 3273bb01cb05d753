"""Webhooks against a real local HTTP server answering redirects: never followed, counted
as failures, retried; every sink counts sent, failed and dropped alerts."""

from __future__ import annotations

import asyncio
import time

import pytest

from groundwatch.alerts.manager import AlertManager
from groundwatch.config import PartConfig
from groundwatch.store.health import render_metrics

from ..helpers.events import unexpected_los
from ..helpers.http import http_receiver

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("status", [302, 307])
async def test_a_redirect_is_a_failure_and_is_not_followed(status: int) -> None:
    async with (
        http_receiver("/elsewhere") as elsewhere,
        http_receiver("/hook", status=status, headers={"Location": elsewhere.url}) as hook,
    ):
        alerts = AlertManager.from_config(
            [
                PartConfig(
                    type="webhook",
                    url=f"http://hooker:secret@127.0.0.1:{hook.port}/hook",
                    retries=2,
                    backoff=0.01,
                    timeout=2,
                )
            ]
        )
        await alerts.start()
        try:
            alerts.submit([unexpected_los()])
            sink = alerts.sink("webhook")
            deadline = time.monotonic() + 5
            while sink.counters.extra["failed"] < 1:
                assert time.monotonic() < deadline, sink.counters.as_dict()
                await asyncio.sleep(0.02)
        finally:
            await alerts.stop(0.5)
        assert [r.method for r in hook.requests] == ["POST"] * 3  # the try and two retries
        assert elsewhere.requests == []  # nothing went where the redirect pointed
        counts = alerts.counters()["webhook"]
        assert counts["sent"] == 0 and counts["failed"] == 1 and counts["dropped"] == 0
        assert counts["webhook_redirects"] == 3
        # and /metrics shows them per sink
        sinks = alerts.counters()
        sinks.pop("manager")
        text = render_metrics({"alerts": {"sinks": sinks}}).decode()
        assert 'groundwatch_alert_sink_failed{sink="webhook"} 1.0' in text
        assert 'groundwatch_alert_sink_sent{sink="webhook"} 0.0' in text


async def test_every_sink_counts_sent_failed_and_dropped() -> None:
    alerts = AlertManager.from_config([PartConfig(type="log", queue_size=1)])
    sink = alerts.sink("log")
    alerts.submit([unexpected_los()])
    e2 = unexpected_los()
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
