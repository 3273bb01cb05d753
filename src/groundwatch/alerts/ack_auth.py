"""Who may acknowledge an alert: HMAC-signed acknowledgements, or the broker's ACL.

Anyone who can publish on the broker could otherwise silence a critical alert. Two ways to
authorise an acknowledgement (the MQTT sink's ``ack_auth``):

- ``hmac`` (default): each operator has a shared secret; ``groundwatch ack`` signs
  ``{"id", "by", "comment", "ts", "nonce"}`` with HMAC-SHA256 under the secret of ``by`` and
  adds ``"sig"`` (hex). The sink reads every operator's secret from ``ack_secrets_file``
  (one ``operator:secret`` per line, ``#`` comments) and accepts an acknowledgement only with
  a valid signature, a timestamp within ``max_age`` seconds of its clock, and a signature it
  has not seen before (a recorded acknowledgement cannot be replayed).
- ``broker``: acknowledgements arrive on ``<ack_topic>/<operator>``; the broker's ACL lets
  each operator write only its own topic (``pattern write groundwatch/ack/%u``), so the topic
  level is an authenticated identity. Use it only with password or certificate
  authentication and that ACL.

Everything refused is logged with the reason and counted by the sink (``acks_refused``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import secrets
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from groundwatch.parts import ConfigError

log = logging.getLogger(__name__)

SIGNED_FIELDS = ("id", "by", "comment", "ts", "nonce")


class AckRefused(Exception):
    """An acknowledgement that is not authorised; the message says why."""


def read_secrets(path: Path, key: str = "ack_secrets_file") -> dict[str, bytes]:
    """``operator:secret`` lines of ``path``; a ConfigError naming ``key`` if unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(key, f"cannot read {path}: {exc.strerror}") from exc
    if mode & 0o077:
        log.warning("%s: operator secrets readable by other users (chmod 600 it)", path)
    out: dict[str, bytes] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, secret = line.partition(":")
        if not sep or not name.strip() or not secret.strip():
            raise ConfigError(key, f"{path} line {n}: expected operator:secret")
        out[name.strip()] = secret.strip().encode()
    return out


def operator_secret(path: Path, operator: str) -> bytes:
    """The secret for ``operator`` from a file holding ``operator:secret`` lines, or a
    single line that is the secret itself (an operator's own file)."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError("--secret-file", f"cannot read {path}: {exc.strerror}") from exc
    if text and "\n" not in text and ":" not in text:
        return text.encode()
    found = read_secrets(path, "--secret-file").get(operator)
    if found is None:
        raise ConfigError("--secret-file", f"{path} has no secret for operator {operator!r}")
    return found


def _message(fields: dict[str, Any]) -> bytes:
    return json.dumps(
        {k: fields.get(k) for k in SIGNED_FIELDS}, sort_keys=True, separators=(",", ":")
    ).encode()


def sign(
    secret: bytes, alert_id: str, by: str, comment: str | None, now: float | None = None
) -> dict[str, Any]:
    """The acknowledgement command, signed."""
    fields: dict[str, Any] = {
        "id": alert_id,
        "by": by,
        "comment": comment,
        "ts": round(time.time() if now is None else now, 3),
        "nonce": secrets.token_hex(8),
    }
    fields["sig"] = hmac.new(secret, _message(fields), hashlib.sha256).hexdigest()
    return fields


class AckVerifier:
    """Checks signed acknowledgements against every operator's secret."""

    def __init__(self, secrets_: dict[str, bytes], max_age: float = 300.0) -> None:
        self.secrets = secrets_
        self.max_age = max_age
        self._seen: OrderedDict[str, float] = OrderedDict()  # sig -> ts, bounded by age/size
        self._max_seen = 10_000

    def verify(self, data: dict[str, Any], now: float | None = None) -> str:
        """The authenticated operator of ``data``, or AckRefused."""
        now = time.time() if now is None else now
        by, sig, ts = data.get("by"), data.get("sig"), data.get("ts")
        if not isinstance(sig, str):
            raise AckRefused("unsigned")
        if not isinstance(by, str) or by not in self.secrets:
            raise AckRefused(f"unknown operator {str(by)[:64]!r}")
        if (
            not isinstance(ts, int | float)
            or not math.isfinite(ts)  # NaN would pass the window and leave the replay cache
            or abs(now - ts) > self.max_age
        ):
            raise AckRefused("timestamp missing or outside the accepted window")
        want = hmac.new(self.secrets[by], _message(data), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, sig):
            raise AckRefused(f"bad signature for operator {by!r}")
        self._forget(now)
        if sig in self._seen:
            raise AckRefused("replayed acknowledgement")
        self._seen[sig] = float(ts)
        return by

    def _forget(self, now: float) -> None:
        while self._seen:
            sig, ts = next(iter(self._seen.items()))
            if now - ts <= self.max_age and len(self._seen) < self._max_seen:
                break
            del self._seen[sig]
