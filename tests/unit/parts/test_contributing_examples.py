"""The examples in CONTRIBUTING.md work as written: the Slack alert sink is taken from the
page, registered with its one line, checked against the alert sink contract and used."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

from groundwatch.alerts.alert import Alert, Notification
from groundwatch.alerts.manager import AlertManager
from groundwatch.model import Event, EventType, Severity
from groundwatch.plugins import builtin_registry

from ...helpers.http import http_receiver
from .test_conformance import check_contract

CONTRIBUTING = Path(__file__).resolve().parents[3] / "CONTRIBUTING.md"


def code_after(heading: str, lang: str = "python") -> str:
    text = CONTRIBUTING.read_text(encoding="utf-8")
    section = text[text.index(heading) :]
    match = re.search(rf"```{lang}\n(.*?)```", section, re.S)
    assert match, f"no {lang} block after {heading!r}"
    return match.group(1)


@pytest.fixture
def slack_module(tmp_path: Path) -> ModuleType:
    path = tmp_path / "slack_example.py"
    path.write_text(code_after("### Example: a Slack alert sink"))
    spec = importlib.util.spec_from_file_location("slack_example", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_slack_sink_of_contributing_keeps_the_contract_and_posts(
    slack_module: ModuleType,
) -> None:
    registry = builtin_registry()
    registry.register("alert", "slack", lambda: slack_module.SlackSink)
    async with http_receiver("/slack") as slack:
        manager = AlertManager.from_config(
            [{"type": "slack", "webhook_url": slack.url}, {"type": "log"}], registry
        )
        sink = manager.sink("slack")
        check_contract("alert", sink)
        await manager.start()
        event = Event(
            EventType.UNEXPECTED_LOS, Severity.CRITICAL, 1, "lander", "gs1", "LOS", "lost",
            "LOS/lander", "e1",
        )  # fmt: skip
        manager.submit([event])
        _, body = await slack.got.get()
        await manager.stop()
    assert body == {"text": Alert("e1", event, Notification.NEW).summary()}
    assert sink.counters.sent == 1 and sink.counters.errors == 0
