"""InfluxDB 1.x writer: one POST to ``/write?db=&rp=&precision=ns`` per body (aiohttp)."""

from __future__ import annotations

import aiohttp

from groundwatch.config import StoreConfig
from groundwatch.store.writer import WriteFailed, WriteResult, classify


class InfluxV1Writer:
    name = "influx_v1"

    def __init__(
        self,
        url: str,
        database: str,
        retention_policy: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.params = {"db": database, "precision": "ns"}
        if retention_policy:
            self.params["rp"] = retention_policy
        if username:
            self.params["u"] = username
            self.params["p"] = password or ""
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_config(cls, cfg: StoreConfig) -> InfluxV1Writer:
        return cls(
            cfg.url,
            cfg.database,
            cfg.retention_policy,
            cfg.username,
            cfg.secret_password(),
            cfg.timeout,
        )

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"Content-Type": "text/plain; charset=utf-8"},
            )

    async def write(self, body: bytes) -> WriteResult:
        await self.start()
        assert self._session is not None
        try:
            async with self._session.post(
                f"{self.url}/write", params=self.params, data=body
            ) as resp:
                text = await resp.text(errors="replace")
                return classify(resp.status, text, resp.headers.get("Retry-After"))
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise WriteFailed(0, None, f"{type(exc).__name__}: {exc}", retryable=True) from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
