"""How every client reaches InfluxDB: the writer, ``report``, ``console`` and replay's
lookups use the same URL, credentials and TLS settings.

Credentials: InfluxDB 1.x user and password (sent as HTTP Basic authentication, which 1.x
accepts on ``/query`` and ``/write``), or a 2.x/3.x token (``Authorization: Token ...``,
which their 1.x-compatible ``/query`` accepts too). A ``user:password@`` in the URL is taken
out of it and used the same way, so the URL that is printed or logged never holds it.
Settings come from ``[store]`` (``username``, ``password[_file]``, ``token[_file]``,
``ca_file``) or, for the commands that take ``--influx URL``, from the same environment
variables the configuration reads (``GROUNDWATCH_STORE__USERNAME``, ``…__PASSWORD``,
``…__PASSWORD_FILE``, ``…__TOKEN``, ``…__TOKEN_FILE``, ``…__CA_FILE``).

HTTPS: the server's certificate and host name are verified (``tls.client_context``),
against ``ca_file`` when given.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from groundwatch.tls import TlsFiles, client_context, redact_url

if TYPE_CHECKING:
    from groundwatch.config import StoreConfig

ENV_PREFIX = "GROUNDWATCH_STORE__"


class InfluxAccessError(RuntimeError):
    """InfluxDB answered with an error (the message names the redacted URL and the status)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """``url`` without ``user:password@``, and the user and password it held."""
    u = urllib.parse.urlsplit(url)
    if u.username is None and u.password is None:
        return url.rstrip("/"), None, None
    host = u.netloc.rsplit("@", 1)[1]
    bare = urllib.parse.urlunsplit((u.scheme, host, u.path, u.query, u.fragment))
    user = urllib.parse.unquote(u.username) if u.username else None
    password = urllib.parse.unquote(u.password) if u.password else None
    return bare.rstrip("/"), user, password


def check_url(url: str, key: str) -> None:
    """An http(s) URL with a host and a valid port, or a ConfigError naming ``key``."""
    from groundwatch.parts import ConfigError

    shown = redact_url(url)
    try:
        u = urllib.parse.urlsplit(url)
        u.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ConfigError(key, f"{shown!r}: {exc}") from None
    if u.scheme not in ("http", "https") or not u.hostname:
        raise ConfigError(key, f"{shown!r} is not an http(s)://host[:port] URL")


def _read(path: str | Path | None, key: str) -> str | None:
    if path is None:
        return None
    from groundwatch.parts import ConfigError

    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(key, f"cannot read {path}: {exc.strerror}") from exc


@dataclass(frozen=True, slots=True)
class InfluxAccess:
    url: str  # without credentials
    database: str = "groundwatch"
    username: str | None = None
    password: str | None = None
    token: str | None = None
    ca_file: Path | None = None
    timeout: float = 10.0

    @classmethod
    def from_url(cls, url: str, database: str = "groundwatch", **kw: object) -> InfluxAccess:
        bare, user, password = split_credentials(url)
        access = cls(bare, database, **kw)  # type: ignore[arg-type]
        if user is not None and access.username is None:
            access = replace(access, username=user, password=password)
        return access

    @classmethod
    def from_store(cls, cfg: StoreConfig) -> InfluxAccess:
        """Reads the secret files now (ConfigError naming the key when one is missing)."""
        check_url(cfg.url, "store.url")
        if cfg.ca_file is not None and not cfg.ca_file.is_file():
            from groundwatch.parts import ConfigError

            raise ConfigError("store.ca_file", f"{cfg.ca_file}: no such file")
        return cls.from_url(
            cfg.url,
            cfg.database,
            username=cfg.username,
            password=cfg.secret_password(),
            token=cfg.secret_token(),
            ca_file=cfg.ca_file,
            timeout=cfg.timeout,
        )

    @classmethod
    def from_env(cls, url: str, database: str) -> InfluxAccess:
        """``--influx URL`` with the credentials of the environment (see module doc)."""
        env = os.environ

        def get(name: str) -> str | None:
            return env.get(ENV_PREFIX + name) or None

        ca = get("CA_FILE")
        return cls.from_url(
            url,
            database,
            username=get("USERNAME"),
            password=get("PASSWORD") or _read(get("PASSWORD_FILE"), ENV_PREFIX + "PASSWORD_FILE"),
            token=get("TOKEN") or _read(get("TOKEN_FILE"), ENV_PREFIX + "TOKEN_FILE"),
            ca_file=Path(ca) if ca else None,
        )

    @property
    def shown(self) -> str:
        """The URL as messages show it (never a credential)."""
        return redact_url(self.url)

    @property
    def https(self) -> bool:
        return self.url.lower().startswith("https://")

    def headers(self) -> dict[str, str]:
        if self.token:
            return {"Authorization": f"Token {self.token}"}
        if self.username:
            pair = f"{self.username}:{self.password or ''}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        return {}

    def ssl_context(self) -> ssl.SSLContext | None:
        """A verifying context for https (``ca_file`` or the system's CAs), else None."""
        return client_context(TlsFiles(self.ca_file), "store") if self.https else None

    def request(self, q: str, db: str | None = None, method: str = "GET", **extra: str) -> str:
        """One InfluxQL request over the v1 HTTP API (blocking: batch commands and threads).
        Raises ``InfluxAccessError`` for an HTTP error, ``OSError`` when unreachable."""
        params = {"q": q, **extra}
        if db:
            params["db"] = db
        qs = urllib.parse.urlencode(params)
        if method == "POST":
            req = urllib.request.Request(
                f"{self.url}/query", data=qs.encode(), method="POST", headers=self.headers()
            )
            req.add_header("Content-Type", "application/x-www-form-urlencoded")
        else:
            req = urllib.request.Request(f"{self.url}/query?{qs}", headers=self.headers())
        try:
            with urllib.request.urlopen(
                req, timeout=self.timeout, context=self.ssl_context()
            ) as resp:
                return str(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            body = exc.read().decode("utf-8", "replace")[:300]
            try:
                body = str(json.loads(body).get("error", body))
            except (ValueError, AttributeError):
                pass
            raise InfluxAccessError(
                exc.code, f"InfluxDB {self.shown}: HTTP {exc.code}: {body.strip()}"
            ) from None
