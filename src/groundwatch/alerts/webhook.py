"""Webhook sink: the alert JSON (see ``alert.py``) POSTed with a timeout and retries.

``[[alerts]] type = "webhook"``, options: ``url`` (required), ``timeout`` (seconds per
attempt, default 5), ``retries`` (default 3), ``backoff`` (first retry delay, doubled each
time, default 0.5 s), ``headers`` (e.g. an Authorization header). A 2xx answer is success;
anything else is retried, then counted (``failed``). Redirects are never followed: a 302
would turn the POST into an empty GET that looks delivered, and a 307 would send the alert
(and the headers) to whatever host the answer names; a 3xx is a failure like a 5xx
(``webhook_redirects`` counts them). The sink's own queue absorbs a slow or dead endpoint:
the other sinks never wait for it. Messages name the URL without its credentials.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from pydantic import Field

from groundwatch.alerts.alert import Alert
from groundwatch.alerts.sinks import AlertSink, AlertSinkOptions
from groundwatch.config import parse_part_options
from groundwatch.parts import ConfigError
from groundwatch.tls import redact_text, redact_url


class WebhookSinkOptions(AlertSinkOptions):
    """``[[alerts]] type = "webhook"``: the alert JSON POSTed to a URL."""

    url: str = Field(description="http(s) URL the alert JSON is POSTed to")
    timeout: float = Field(default=5.0, gt=0, description="seconds per attempt")
    retries: int = Field(default=3, ge=0, description="attempts after the first")
    backoff: float = Field(
        default=0.5, ge=0, description="seconds before the first retry, doubled each time"
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="extra HTTP headers (e.g. Authorization)"
    )


class WebhookSink(AlertSink):
    """The alert JSON POSTed to an http(s) URL, retried with backoff."""

    Options = WebhookSinkOptions
    type = "webhook"
    paging = True

    def __init__(self, opts: WebhookSinkOptions) -> None:
        super().__init__(opts.name, opts.queue_size)
        self.opts = opts
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_config(cls, options: Mapping[str, Any], key: str) -> WebhookSink:
        o = parse_part_options(WebhookSinkOptions, options, key)
        try:
            u = urlsplit(o.url)
            u.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as exc:
            raise ConfigError(f"{key}.url", f"{redact_url(o.url)!r}: {exc}") from None
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ConfigError(f"{key}.url", f"not an http(s) URL: {redact_url(o.url)!r}")
        return cls(o)

    async def open(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.opts.timeout),
            headers={"Content-Type": "application/json", **self.opts.headers},
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def deliver(self, alert: Alert) -> None:
        assert self._session is not None, "webhook sink not started"
        body = alert.to_json().encode()
        delay = self.opts.backoff
        last = ""
        for attempt in range(self.opts.retries + 1):
            try:
                async with self._session.post(
                    self.opts.url, data=body, allow_redirects=False
                ) as resp:
                    if 200 <= resp.status < 300:
                        return
                    last = f"HTTP {resp.status}"
                    if 300 <= resp.status < 400:
                        self.counters.bump("webhook_redirects")
                        last += " redirect (not followed)"
            except (aiohttp.ClientError, TimeoutError) as exc:
                last = redact_text(f"{type(exc).__name__}: {exc}")
            if attempt < self.opts.retries:
                self.counters.bump("webhook_retries")
                await asyncio.sleep(delay)
                delay *= 2
        raise RuntimeError(
            f"POST {redact_url(self.opts.url)} failed after {self.opts.retries + 1} tries: {last}"
        )
