"""``mqtt[s]://[user[:password]@]host[:port][?ca=F&cert=F&key=F]``: the one parser of broker
URLs (ingest, alert sink, ack command, console, simulator, replay re-publish).

``mqtts://`` (or ``ssl://``) connects with TLS (default port 8883) through
``groundwatch.tls``: the server's certificate and host name are always verified. The CA file
and a client certificate and key come from the part's ``ca_file``/``cert_file``/``key_file``
settings or, for commands that take only a URL (``console``, ``simulate``), from the URL's
``ca``, ``cert`` and ``key`` query parameters. Credentials never appear in a message: errors
name the URL with its password redacted. A URL with a user and no password takes it from
``GROUNDWATCH_MQTT_PASSWORD`` or the first line of ``GROUNDWATCH_MQTT_PASSWORD_FILE``, so
that no password has to be on a command line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import BaseModel, Field, SecretStr

from groundwatch.tls import TlsFiles, client_context, redact_url

TLS_SCHEMES = ("mqtts", "ssl")
_QUERY_KEYS = {"ca": "ca_file", "cert": "cert_file", "key": "key_file"}


class MqttClientOptions(BaseModel):
    """The broker settings of every MQTT client part (source, alert sink): where, who, TLS."""

    url: str = Field(default="mqtt://127.0.0.1:1883", description="broker URL")
    username: str | None = Field(default=None, description="broker user")
    password: SecretStr | None = Field(default=None, description="broker password")
    password_file: Path | None = Field(default=None, description="file holding the password")
    ca_file: Path | None = Field(default=None, description="CA of the broker (mqtts://)")
    cert_file: Path | None = Field(default=None, description="client certificate (mqtts://)")
    key_file: Path | None = Field(default=None, description="client key (mqtts://)")

    def tls_files(self) -> TlsFiles:
        return TlsFiles(self.ca_file, self.cert_file, self.key_file)


def mqtt_connection(url: str, tls: TlsFiles | None = None, key: str = "url") -> dict[str, Any]:
    """aiomqtt.Client keyword arguments for ``url`` (with ``tls_context`` for ``mqtts://``);
    ValueError naming what is wrong (a ``ConfigError`` for unreadable TLS files)."""
    shown = redact_url(url)
    try:
        u = urlsplit(url)
        port = u.port
    except ValueError as exc:
        raise ValueError(f"MQTT URL {shown!r}: {exc}") from None
    if u.scheme not in ("mqtt", "tcp", *TLS_SCHEMES):
        raise ValueError(
            f"MQTT URL {shown!r}: scheme {u.scheme!r} not supported (use mqtt:// or mqtts://)"
        )
    if not u.hostname:
        raise ValueError(f"MQTT URL {shown!r} has no host")
    query = parse_qs(u.query)
    unknown = sorted(set(query) - set(_QUERY_KEYS))
    if unknown:
        raise ValueError(f"MQTT URL {shown!r}: unknown parameter(s) {', '.join(unknown)}")
    from_url = TlsFiles(**{_QUERY_KEYS[k]: Path(v[-1]) for k, v in query.items()})
    files = from_url.merged(tls) if tls is not None else from_url
    secure = u.scheme in TLS_SCHEMES
    if files.any() and not secure:
        raise ValueError(
            f"MQTT URL {shown!r}: TLS files given for a plain connection (use mqtts://)"
        )
    password = unquote(u.password) if u.password else None
    if u.username and password is None:
        password = _password_from_environment()
    return {
        "hostname": u.hostname,
        "port": port or (8883 if secure else 1883),
        "username": unquote(u.username) if u.username else None,
        "password": password,
        "tls_context": client_context(files, key) if secure else None,
    }


def _password_from_environment() -> str | None:
    value = os.environ.get("GROUNDWATCH_MQTT_PASSWORD")
    if value:
        return value
    path = os.environ.get("GROUNDWATCH_MQTT_PASSWORD_FILE")
    if not path:
        return None
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ValueError(f"GROUNDWATCH_MQTT_PASSWORD_FILE {path}: {exc.strerror}") from None
    return lines[0].strip() if lines else None
