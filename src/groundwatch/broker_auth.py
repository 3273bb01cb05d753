"""A secured local Mosquitto: a TLS listener, hashed passwords and the ACL the README's
"Security" section describes (stations publish only under their own name, operators only on
the acknowledgement topic, groundwatch reads frames and writes events and state).

Used by the test suite's secured broker (``services.start_mosquitto(..., security=...)``);
``deploy/mosquitto/acl`` holds the same rules for docker compose (a test keeps them in step).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from groundwatch.services import ServiceError, _binary


@dataclass(frozen=True, slots=True)
class MosquittoSecurity:
    """A TLS listener with password authentication and an ACL (see ``mosquitto_acl``)."""

    cafile: Path
    certfile: Path
    keyfile: Path
    password_file: Path
    acl_file: Path
    require_certificate: bool = True

    def conf_lines(self) -> list[str]:
        return [
            f"cafile {self.cafile}",
            f"certfile {self.certfile}",
            f"keyfile {self.keyfile}",
            f"require_certificate {'true' if self.require_certificate else 'false'}",
            "tls_version tlsv1.2",
            f"password_file {self.password_file}",
            f"acl_file {self.acl_file}",
        ]


def mosquitto_acl(
    groundwatch: str,
    stations: Iterable[str] = (),
    operators: Iterable[str] = (),
    ack_topic: str = "groundwatch/ack",
) -> str:
    """The ACL the README describes: a station publishes only under ``gs/<itself>/#``,
    an operator only on the acknowledgement topic (and reads events and state), groundwatch
    reads frames and heartbeats and writes events and state."""
    out = [
        f"user {groundwatch}",
        "topic read gs/+/frames",
        "topic read gs/+/status",
        "topic readwrite groundwatch/events/#",
        "topic readwrite groundwatch/state/#",
        f"topic read {ack_topic}",
        f"topic read {ack_topic}/+",
        "",
    ]
    for s in stations:
        out += [f"user {s}", f"topic write gs/{s}/#", ""]
    for o in operators:
        out += [
            f"user {o}",
            f"topic write {ack_topic}",
            f"topic write {ack_topic}/{o}",
            "topic read groundwatch/events/#",
            "topic read groundwatch/state/#",
            "",
        ]
    return "\n".join(out)


def mosquitto_password_file(path: Path, users: dict[str, str]) -> Path:
    """A Mosquitto password file of hashed passwords: written in clear text, then hashed in
    place by ``mosquitto_passwd -U`` (no password on a command line)."""
    exe = _binary("mosquitto_passwd", "/usr/bin/mosquitto_passwd")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.writelines(f"{u}:{p}\n" for u, p in users.items())
    done = subprocess.run([exe, "-U", str(path)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ServiceError(f"mosquitto_passwd -U {path} failed: {done.stderr.strip()}")
    return path
