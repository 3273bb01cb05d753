"""Alert sink types by name (``[[alerts]] type = "..."``), kind ``alerts`` in the Registry."""

from __future__ import annotations

from groundwatch.alerts.mqtt import MqttSink
from groundwatch.alerts.sinks import CommandSink, InfluxSink, LogSink
from groundwatch.alerts.webhook import WebhookSink
from groundwatch.parts import Registry

SINK_KIND = "alerts"


def register_sinks(registry: Registry) -> None:
    """Add the alert sinks to a registry (``plugins.default_registry`` calls this)."""
    registry.register(SINK_KIND, "log", LogSink.from_config)
    registry.register(SINK_KIND, "mqtt", MqttSink.from_config)
    registry.register(SINK_KIND, "webhook", WebhookSink.from_config)
    registry.register(SINK_KIND, "influx", InfluxSink.from_config)
    registry.register(SINK_KIND, "command", CommandSink.from_config)


def default_sink_registry() -> Registry:
    reg = Registry()
    register_sinks(reg)
    return reg
