"""The built-in parts, registered once by name (Telegraf's plugin table).

``[[sources]] type = "mqtt"`` and ``[[alerts]] type = "webhook"`` name entries here. The
registry is built on demand (no module-level state): ``default_registry()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from groundwatch.alerts.registry import register_sinks
from groundwatch.parts import Registry


def _mqtt_source(options: Mapping[str, Any], key: str) -> Any:
    from groundwatch.ingest.mqtt import MqttSource

    return MqttSource.from_config(options, key)


def _kiss_tcp_source(options: Mapping[str, Any], key: str) -> Any:
    from groundwatch.ingest.kiss_tcp import KissTcpSource

    return KissTcpSource.from_config(options, key)


def _udp_source(options: Mapping[str, Any], key: str) -> Any:
    from groundwatch.ingest.udp import UdpSource

    return UdpSource.from_config(options, key)


def default_registry() -> Registry:
    reg = Registry()
    reg.register("source", "mqtt", _mqtt_source)
    reg.register("source", "kiss_tcp", _kiss_tcp_source)
    reg.register("source", "udp", _udp_source)
    register_sinks(reg)
    return reg
