"""InfluxDB 1.x writer: one POST to ``/write?db=&rp=&precision=ns`` per body (aiohttp).

Credentials and TLS come from ``InfluxAccess`` (Basic authentication, a verifying TLS
context for https). Like Telegraf's InfluxDB output, the database is created when it is
missing (``create_database``, default on; turn it off for a user without the right): at
start and again whenever a write answers 404 "database not found", then the write is tried
once more. Without that a fresh InfluxDB would answer every write 404 and everything would
wait in the spool until someone created it by hand.
"""

from __future__ import annotations

import logging

import aiohttp

from groundwatch.config import StoreConfig
from groundwatch.influx_access import InfluxAccess
from groundwatch.influxql import quote_ident
from groundwatch.store.writer import WriteFailed, WriteResult, classify

log = logging.getLogger(__name__)


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
        access: InfluxAccess | None = None,
        create_database: bool = False,
    ) -> None:
        self.access = access or InfluxAccess.from_url(
            url, database, username=username, password=password, timeout=timeout
        )
        self.url = self.access.url
        self.params = {"db": database, "precision": "ns"}
        if retention_policy:
            self.params["rp"] = retention_policy
        self.timeout = timeout
        self.create_database = create_database
        self.databases_created = 0
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_config(cls, cfg: StoreConfig) -> InfluxV1Writer:
        return cls(
            cfg.url,
            cfg.database,
            cfg.retention_policy,
            timeout=cfg.timeout,
            access=InfluxAccess.from_store(cfg),
            create_database=cfg.create_database,
        )

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"Content-Type": "text/plain; charset=utf-8", **self.access.headers()},
                connector=aiohttp.TCPConnector(ssl=self.access.ssl_context() or True),
            )
            if self.create_database:
                await self._create_database()

    async def _create_database(self) -> bool:
        """CREATE DATABASE (a no-op when it exists); False, logged, when refused."""
        assert self._session is not None
        q = f"CREATE DATABASE {quote_ident(self.params['db'])}"
        try:
            async with self._session.post(f"{self.url}/query", params={"q": q}) as resp:
                if resp.status == 200:
                    self.databases_created += 1
                    return True
                text = (await resp.text(errors="replace"))[:200]
                log.error(
                    "InfluxDB %s: cannot create database %r (HTTP %d: %s); set "
                    "[store] create_database = false and create it with a user that may",
                    self.access.shown,
                    self.params["db"],
                    resp.status,
                    text.strip(),
                )
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            log.debug("InfluxDB %s: create database: %s", self.access.shown, exc)
        return False

    async def write(self, body: bytes) -> WriteResult:
        await self.start()
        try:
            return await self._post(body)
        except WriteFailed as exc:
            if not (
                exc.status == 404 and self.create_database and "database not found" in exc.body
            ):
                raise
            if not await self._create_database():
                raise
            return await self._post(body)

    async def _post(self, body: bytes) -> WriteResult:
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
