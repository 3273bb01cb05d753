"""``mqtt://[user[:password]@]host[:port]``: the one parser of broker URLs (ingest, alert
sink, ack command, simulator, replay re-publish)."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit


def mqtt_connection(url: str) -> dict[str, Any]:
    """aiomqtt.Client keyword arguments for ``url``; ValueError naming what is wrong."""
    u = urlsplit(url)
    if u.scheme not in ("mqtt", "tcp"):
        raise ValueError(f"MQTT URL {url!r}: scheme {u.scheme!r} not supported (use mqtt://)")
    if not u.hostname:
        raise ValueError(f"MQTT URL {url!r} has no host")
    return {
        "hostname": u.hostname,
        "port": u.port or 1883,
        "username": unquote(u.username) if u.username else None,
        "password": unquote(u.password) if u.password else None,
    }
