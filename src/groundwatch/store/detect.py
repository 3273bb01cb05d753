"""``api = "auto"``: ask ``/ping`` which InfluxDB answers (``X-Influxdb-Version``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import aiohttp

from groundwatch.config import StoreConfig
from groundwatch.influx_access import InfluxAccess
from groundwatch.store.influx_v1 import InfluxV1Writer
from groundwatch.store.influx_v2 import InfluxV2Writer
from groundwatch.store.writer import Writer

Api = Literal["v1", "v2"]


class DetectFailed(Exception):
    """No answer from ``/ping`` (the sink retries detection while it spools)."""


def api_for_version(version: str) -> Api:
    """1.x -> v1; 2.x, 3.x (and anything newer) -> v2. Unknown strings default to v1."""
    head = version.strip().lstrip("v").split(".", 1)[0]
    try:
        major = int(head)
    except ValueError:
        return "v1"
    return "v1" if major <= 1 else "v2"


async def ping_version(url: str, timeout_s: float = 5.0, ca_file: Path | None = None) -> str:
    access = InfluxAccess.from_url(url, ca_file=ca_file)
    try:
        async with (
            aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=timeout_s),
                connector=aiohttp.TCPConnector(ssl=access.ssl_context() or True),
            ) as session,
            session.get(f"{access.url}/ping") as resp,
        ):
            return resp.headers.get("X-Influxdb-Version", "unknown")
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise DetectFailed(f"{access.shown}/ping: {type(exc).__name__}: {exc}") from exc


async def detect_api(url: str, timeout_s: float = 5.0, ca_file: Path | None = None) -> Api:
    return api_for_version(await ping_version(url, timeout_s, ca_file))


async def writer_for(cfg: StoreConfig) -> Writer:
    """The writer ``cfg.api`` names, detecting it first for "auto" (may raise DetectFailed)."""
    api: Api = cfg.api if cfg.api != "auto" else await detect_api(cfg.url, cfg.timeout, cfg.ca_file)
    if api == "v1":
        return InfluxV1Writer.from_config(cfg)
    return InfluxV2Writer.from_config(cfg)
