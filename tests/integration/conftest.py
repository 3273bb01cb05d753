"""Fixtures for the secured deployment: certificates made by ``scripts/make-certs.sh``, a
Mosquitto with a TLS listener, a password file and the ACL of ``broker_auth.mosquitto_acl``,
and an influxd with authentication (and one with HTTPS)."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from groundwatch import services
from groundwatch.broker_auth import MosquittoSecurity, mosquitto_acl, mosquitto_password_file
from groundwatch.services import ServiceHandle

REPO = Path(__file__).resolve().parents[2]
STATIONS = ("gs1", "gs2")
OPERATORS = ("op1", "op2")


@dataclass
class SecureBroker:
    handle: ServiceHandle
    certs: Path
    passwords: dict[str, str] = field(default_factory=dict)

    def url(self, user: str, tls_query: bool = False) -> str:
        """``mqtts://user:password@localhost:port``, with the user's certificate in the
        query when asked (commands that take only a URL)."""
        base = f"mqtts://{user}:{self.passwords[user]}@localhost:{self.handle.port}"
        if tls_query:
            c = self.certs
            base += f"?ca={c / 'ca.crt'}&cert={c / (user + '.crt')}&key={c / (user + '.key')}"
        return base

    def tls_options(self, user: str) -> dict[str, str]:
        c = self.certs
        return {
            "ca_file": str(c / "ca.crt"),
            "cert_file": str(c / f"{user}.crt"),
            "key_file": str(c / f"{user}.key"),
        }


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("certs")
    names = ["groundwatch", *STATIONS, *OPERATORS]
    subprocess.run(
        ["bash", str(REPO / "scripts" / "make-certs.sh"), str(out), *names],
        check=True,
        capture_output=True,
    )
    return out


@pytest.fixture(scope="session")
def secure_mosquitto(
    certs: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SecureBroker]:
    d = tmp_path_factory.mktemp("secure-mosquitto")
    passwords = {u: secrets.token_urlsafe(12) for u in ("groundwatch", *STATIONS, *OPERATORS)}
    pw = mosquitto_password_file(d / "passwd", passwords)
    acl = d / "acl"
    acl.write_text(mosquitto_acl("groundwatch", STATIONS, OPERATORS))
    security = MosquittoSecurity(
        certs / "ca.crt", certs / "server.crt", certs / "server.key", pw, acl
    )
    h = services.start_mosquitto(d, persistence=False, security=security)
    yield SecureBroker(h, certs, passwords)
    services.stop_service(h)


@pytest.fixture
def auth_influxd(tmp_path: Path) -> Iterator[tuple[ServiceHandle, tuple[str, str]]]:
    """An influxd with authentication on, its admin user and no database."""
    admin = ("admin", secrets.token_urlsafe(12))
    h = services.start_influxd(tmp_path / "auth-influxdb", admin=admin)
    yield h, admin
    services.stop_service(h)
