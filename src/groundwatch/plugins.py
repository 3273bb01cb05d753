"""The built-in parts, registered once by role and name (Telegraf's plugin table).

``[[sources]] type = "mqtt"``, ``[store] type = "influx"``, ``[[alerts]] type = "webhook"``
and ``[mission] format = "yaml"`` name entries here. Parts installed from other packages join
through entry points (``Registry.discover``). Each entry imports its module only when the part
is used or listed, so building the registry costs no imports. The registry is built on demand
(no module-level state): ``default_registry()``.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

from groundwatch.parts import ROLES, Registry

log = logging.getLogger(__name__)

# role -> name -> "module:Class"
BUILTIN_PARTS: dict[str, dict[str, str]] = {
    "source": {
        "mqtt": "groundwatch.ingest.mqtt:MqttSource",
        "kiss_tcp": "groundwatch.ingest.kiss_tcp:KissTcpSource",
        "udp": "groundwatch.ingest.udp:UdpSource",
    },
    "sink": {
        "influx": "groundwatch.store.sink:StoreSink",
    },
    "alert": {
        "log": "groundwatch.alerts.sinks:LogSink",
        "influx": "groundwatch.alerts.sinks:InfluxSink",
        "command": "groundwatch.alerts.sinks:CommandSink",
        "mqtt": "groundwatch.alerts.mqtt:MqttSink",
        "webhook": "groundwatch.alerts.webhook:WebhookSink",
    },
    "dictionary": {
        "yaml": "groundwatch.decoders.formats:YamlDictionaryFormat",
        "xtce": "groundwatch.decoders.formats:XtceDictionaryFormat",
    },
}


def _loader(target: str) -> Callable[[], Any]:
    module, _, attr = target.partition(":")

    def load() -> Any:
        return getattr(importlib.import_module(module), attr)

    return load


def builtin_registry() -> Registry:
    """The parts of this package only (tests that must not see installed plugins)."""
    reg = Registry()
    for role, parts in BUILTIN_PARTS.items():
        for name, target in parts.items():
            reg.register(role, name, _loader(target))
    return reg


def default_registry() -> Registry:
    """The built-in parts, then every part installed through an entry point."""
    reg = builtin_registry()
    for problem in reg.discover():
        log.warning("plugin not registered: %s", problem)
    return reg


def listing(registry: Registry) -> list[str]:
    """``groundwatch plugins``: one line per part, grouped by role, with where it comes from
    and a one-line description (the class docstring); a part that fails to import says so."""
    lines = []
    for role in ROLES:
        group = ROLES[role][0]
        lines.append(f"{group.rpartition('.')[2]} (entry point group {group}):")
        for entry in registry.entries(role):
            try:
                doc = (entry.load().__doc__ or "").strip().splitlines()
                about = doc[0].replace("``", "") if doc else ""
            except Exception as exc:  # an installed plugin that is broken: say why
                about = f"cannot be loaded: {exc}"
            lines.append(f"  {entry.name:<10} {entry.origin:<16} {about}".rstrip())
    return lines
