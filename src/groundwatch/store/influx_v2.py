"""InfluxDB 2.x / 3.x writer: influxdb-client's async write API (url, org, bucket, token).

Kept thin on purpose: only InfluxDB 1.6 is available to the test suite, so this module does
nothing but hand the line-protocol body to the library and map its ``ApiException`` onto the
shared status table (``writer.classify``), which the unit tests exercise directly.
A missing bucket (404) is reported as such, naming the bucket and org: the writes wait in
the spool until it exists (buckets are not created here: that needs an all-access token).
"""

from __future__ import annotations

from typing import Any

import aiohttp

from groundwatch.config import StoreConfig
from groundwatch.influx_access import split_credentials
from groundwatch.store.writer import WriteFailed, WriteResult, classify


def _header(headers: Any, name: str) -> str | None:
    if headers is None:
        return None
    try:
        value = headers.get(name)
    except AttributeError:
        return None
    return str(value) if value is not None else None


def classify_api_exception(exc: Any) -> WriteResult:
    """``influxdb_client.rest.ApiException`` -> result or ``WriteFailed`` (status table)."""
    status = int(getattr(exc, "status", 0) or 0)
    body = getattr(exc, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    text = str(body or getattr(exc, "reason", "") or "")
    if status == 0:
        raise WriteFailed(0, None, text, retryable=True)
    return classify(status, text, _header(getattr(exc, "headers", None), "Retry-After"))


class InfluxV2Writer:
    name = "influx_v2"

    def __init__(
        self,
        url: str,
        org: str,
        bucket: str,
        token: str | None,
        timeout: float = 10.0,
        ca_file: str | None = None,
    ) -> None:
        self.url = split_credentials(url)[0]
        self.ca_file = ca_file
        self.org = org
        self.bucket = bucket
        self.token = token
        self.timeout = timeout
        self._client: Any = None
        self._api: Any = None

    @classmethod
    def from_config(cls, cfg: StoreConfig) -> InfluxV2Writer:
        # api = "auto" may land here without a bucket: InfluxDB 2.x/3.x serves the 1.x
        # database/retention-policy mapping as "<database>/<rp>".
        bucket = cfg.bucket or (
            f"{cfg.database}/{cfg.retention_policy}" if cfg.retention_policy else cfg.database
        )
        ca = str(cfg.ca_file) if cfg.ca_file else None
        return cls(cfg.url, cfg.org or "", bucket, cfg.secret_token(), cfg.timeout, ca)

    async def start(self) -> None:
        if self._client is None:
            from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync

            self._client = InfluxDBClientAsync(
                url=self.url,
                token=self.token or "",
                org=self.org,
                timeout=int(self.timeout * 1000),
                verify_ssl=True,
                ssl_ca_cert=self.ca_file,
            )
            self._api = self._client.write_api()

    async def write(self, body: bytes) -> WriteResult:
        from influxdb_client.domain.write_precision import WritePrecision
        from influxdb_client.rest import ApiException

        await self.start()
        try:
            await self._api.write(
                bucket=self.bucket, org=self.org, record=body, write_precision=WritePrecision.NS
            )
        except ApiException as exc:
            if int(getattr(exc, "status", 0) or 0) == 404:
                raise WriteFailed(
                    404,
                    None,
                    f"bucket {self.bucket!r} not found in org {self.org!r} (create it, or fix "
                    "[store] bucket/org): writes wait in the spool",
                    retryable=True,
                ) from exc
            return classify_api_exception(exc)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise WriteFailed(0, None, f"{type(exc).__name__}: {exc}", retryable=True) from exc
        return WriteResult(204)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
