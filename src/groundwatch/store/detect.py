"""``api = "auto"``: ask ``/ping`` which InfluxDB answers (``X-Influxdb-Version``)."""

from __future__ import annotations

from typing import Literal

import aiohttp

from groundwatch.config import StoreConfig
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


async def ping_version(url: str, timeout_s: float = 5.0) -> str:
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session,
            session.get(f"{url.rstrip('/')}/ping") as resp,
        ):
            return resp.headers.get("X-Influxdb-Version", "unknown")
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise DetectFailed(f"{url}/ping: {type(exc).__name__}: {exc}") from exc


async def detect_api(url: str, timeout_s: float = 5.0) -> Api:
    return api_for_version(await ping_version(url, timeout_s))


async def writer_for(cfg: StoreConfig) -> Writer:
    """The writer ``cfg.api`` names, detecting it first for "auto" (may raise DetectFailed)."""
    api: Api = cfg.api if cfg.api != "auto" else await detect_api(cfg.url, cfg.timeout)
    if api == "v1":
        return InfluxV1Writer.from_config(cfg)
    return InfluxV2Writer.from_config(cfg)
