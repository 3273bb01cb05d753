"""TLS for every client groundwatch opens (MQTT and InfluxDB), built in one place.

Settings: ``ca_file`` (the CA that signed the server's certificate; the system's trust store
when unset), ``cert_file`` and ``key_file`` (a client certificate, for brokers that require
one). The hostname (or IP address) in the URL is always checked against the server's
certificate; there is no switch to turn that off, because a monitor that accepts any
certificate tells an attacker on the path everything a station sends.

``redact_url`` is the one place that hides credentials in a URL before it is printed or
logged (``user:password@`` and the ``p=``/``token=`` query parameters, API keys and
signatures).
"""

from __future__ import annotations

import logging
import re
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from groundwatch.parts import ConfigError

SECRET_QUERY_KEYS = frozenset(
    {
        "p",
        "password",
        "token",
        "key_password",
        "access_token",
        "api_key",
        "apikey",
        "secret",
        "client_secret",
        "sig",
        "signature",
    }
)
# An API key of a webhook (``?key=``); in an MQTT URL ``key`` is the client key's file path.
HTTP_SECRET_QUERY_KEYS = SECRET_QUERY_KEYS | {"key"}
REDACTED = "***"


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """Where the CA, client certificate and key are (each optional)."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def merged(self, other: TlsFiles) -> TlsFiles:
        """``other``'s files where it names one, ours otherwise."""
        return TlsFiles(
            other.ca_file or self.ca_file,
            other.cert_file or self.cert_file,
            other.key_file or self.key_file,
        )

    def any(self) -> bool:
        return bool(self.ca_file or self.cert_file or self.key_file)


def client_context(files: TlsFiles, key: str = "tls") -> ssl.SSLContext:
    """A client ``SSLContext``: certificate and hostname verified, TLS 1.2 or newer.

    Reads the files now, so a missing or malformed one is a ``ConfigError`` naming ``key``
    at start-up (and in ``check-config``), not a failed handshake later."""
    if files.key_file and not files.cert_file:
        raise ConfigError(f"{key}.key_file", "key_file needs cert_file")
    try:
        ctx = ssl.create_default_context(cafile=str(files.ca_file) if files.ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"{key}.ca_file", f"cannot load CA file {files.ca_file}: {exc}") from exc
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    if files.cert_file:
        try:
            ctx.load_cert_chain(
                str(files.cert_file), str(files.key_file) if files.key_file else None
            )
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"{key}.cert_file",
                f"cannot load client certificate {files.cert_file}: {exc}",
            ) from exc
    return ctx


# The password runs to the next "@", "/" included: an unescaped "/" in it ends the
# authority for urlsplit, which then sees no password at all.
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^/@\s:]*):[^@\s]*@")


_LOOSE_USERINFO = re.compile(r"(?P<user>[^/@\s:]*):(?!\*\*\*@)[^/@\s]+@")


def redact_url(url: str) -> str:
    """``url`` with its password and secret query parameters replaced by ``***``.

    Never raises: anything that does not parse as a URL is returned with the same
    ``user:password@`` pattern redacted."""
    try:
        u = urlsplit(url)
        netloc = u.netloc
        if u.password is not None:
            host = netloc.rsplit("@", 1)[1]
            netloc = f"{u.username or ''}:{REDACTED}@{host}"
        query = u.query
        if query:
            secret = HTTP_SECRET_QUERY_KEYS if u.scheme in ("http", "https") else SECRET_QUERY_KEYS
            pairs = parse_qsl(query, keep_blank_values=True)
            if any(k.lower() in secret for k, _ in pairs):
                query = urlencode(
                    [(k, REDACTED if k.lower() in secret else v) for k, v in pairs],
                    safe="*/",
                )
        out = urlunsplit((u.scheme, netloc, u.path, query, u.fragment))
    except ValueError:
        out = redact_text(url)
    # Not parsed as a URL with credentials (a scheme mistyped, say): anything shaped like
    # ``user:secret@`` is still hidden.
    return redact_text(_LOOSE_USERINFO.sub(lambda m: f"{m['user']}:{REDACTED}@", out))


def redact_text(text: str) -> str:
    """Every ``scheme://user:password@`` in a free text (an exception's message) redacted."""
    return _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{REDACTED}@", text)


class RedactingFilter(logging.Filter):
    """Redacts ``scheme://user:password@`` in every record a handler emits (a library's
    exception message may carry a URL groundwatch never printed itself)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: the handler reports it (handleError)
            return True
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            # the formatter prints exc_text when set: the exception's message may hold a URL
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        return True


def redact_logs() -> None:
    """Every handler of the root logger redacts credentials (after ``basicConfig``)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
