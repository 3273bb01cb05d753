"""What every InfluxDB writer returns or raises, and the HTTP status table they share.

Writers only send one body and classify the answer; batching, retries, spooling and
dead-lettering live in ``StoreSink`` (Telegraf's split between an output and its runner).

Status table (Telegraf's InfluxDB outputs, with one deliberate difference):

====================  ==========================================================
2xx                   stored
400, 422              never retried: some or all lines refused (1.x: "partial write:
                      ... dropped=N" -- every other line of the batch IS stored).
                      The sink dead-letters the refused lines and moves on.
413                   body too large: the sink splits the batch in halves
429, 5xx              retried with backoff, honouring ``Retry-After``
connection error,     retried with backoff
timeout
401, 403, 404         retried with backoff and reported (wrong token, missing database):
                      Telegraf drops these, but an operator can fix them during a pass
                      and the data must survive until then (it waits in the spool)
other 4xx             never retried, like 400 (the lines go to the dead-letter file)
====================  ==========================================================
"""

from __future__ import annotations

import email.utils
import re
import time
from dataclasses import dataclass
from typing import Protocol

RETRY_STATUSES = frozenset({401, 403, 404, 408, 429})
TOO_LARGE = 413
REJECT_STATUSES = frozenset({400, 422})

_DROPPED = re.compile(r"dropped=(\d+)")


class WriteFailed(Exception):
    """A write that stored nothing. ``status`` 0 means no HTTP answer (connection, timeout)."""

    def __init__(self, status: int, retry_after: float | None, body: str, retryable: bool) -> None:
        super().__init__(f"InfluxDB write failed ({status or 'no answer'}): {body[:300]}")
        self.status = status
        self.retry_after = retry_after
        self.body = body
        self.retryable = retryable


@dataclass(slots=True)
class WriteResult:
    """The answer to a write that was not retryable-failed.

    ``rejected``: the server refused some (1.x partial write) or all lines; ``dropped`` is
    its count when it says (None otherwise); ``reason`` its message.
    """

    status: int
    rejected: bool = False
    dropped: int | None = None
    reason: str = ""


class Writer(Protocol):
    name: str

    async def start(self) -> None: ...

    async def write(self, body: bytes) -> WriteResult:
        """Send one line-protocol body. Raises ``WriteFailed``."""
        ...

    async def close(self) -> None: ...


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_message(body: str) -> str:
    """The ``error``/``message`` of a JSON error body, or the body itself."""
    import json

    try:
        data = json.loads(body)
    except ValueError:
        return body.strip()
    if isinstance(data, dict):
        for key in ("error", "message"):
            if isinstance(data.get(key), str):
                return str(data[key])
    return body.strip()


def classify(status: int, body: str, retry_after: str | None) -> WriteResult:
    """Apply the status table: a result, or ``WriteFailed`` raised."""
    if 200 <= status < 300:
        return WriteResult(status)
    reason = error_message(body)
    if status == TOO_LARGE:
        raise WriteFailed(status, None, reason, retryable=False)
    if status in RETRY_STATUSES or status >= 500:
        raise WriteFailed(status, parse_retry_after(retry_after), reason, retryable=True)
    m = _DROPPED.search(reason)
    return WriteResult(status, rejected=True, dropped=int(m.group(1)) if m else None, reason=reason)
