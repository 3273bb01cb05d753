"""Start and stop a local Mosquitto and InfluxDB on loopback, with data in a given directory.

Used by ``scripts/services.sh`` (operators without Docker), ``groundwatch demo`` and the test
fixtures. Each service runs as a child process; its PID, port and paths are written to
``<dir>/services.json`` so ``stop`` finds it again. Nothing here listens beyond 127.0.0.1.

Mosquitto's defaults lose data (README "What can still lose data"): ``max_queued_messages
1000`` drops everything past 1,000 messages queued for an offline client and
``autosave_interval 1800`` forgets queued messages when the broker is killed. The template
below is sized for a groundwatch restart of several minutes at 1,000 frames/s and saves
persistence every second. ``deploy/mosquitto/mosquitto.conf`` (docker compose) carries the
same limits; a unit test keeps the two in step.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from groundwatch.broker_auth import MosquittoSecurity

# The limits the README explains. 600 s x 1,000 frames/s of ~1.1 kB = 600,000 messages, ~700 MB.
MOSQUITTO_LIMITS = {
    "max_queued_messages": 1_000_000,
    "max_queued_bytes": 0,  # 0: no byte limit, the message count above bounds the queue
    "max_inflight_messages": 100,
    "autosave_interval": 1,
    "autosave_on_changes": "false",
    "persistent_client_expiration": "14d",
    "queue_qos0_messages": "false",
}


class ServiceError(RuntimeError):
    """A service could not be started or stopped; the message says why and what to do."""


@dataclass(slots=True)
class ServiceHandle:
    name: str
    pid: int
    port: int
    data_dir: str
    log_path: str
    tls: bool = False

    @property
    def url(self) -> str:
        if self.name == "mosquitto":
            scheme = "mqtts" if self.tls else "mqtt"
        else:
            scheme = "https" if self.tls else "http"
        host = "localhost" if self.tls else "127.0.0.1"  # the name in the test certificate
        return f"{scheme}://{host}:{self.port}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _binary(name: str, *candidates: str) -> str:
    for c in (name, *candidates):
        found = shutil.which(c)
        if found:
            return found
    raise ServiceError(
        f"{name} is not installed: run scripts/setup.sh (installs the Debian package)"
    )


def mosquitto_conf(
    port: int,
    data_dir: Path,
    log_path: Path,
    persistence: bool = True,
    security: MosquittoSecurity | None = None,
) -> str:
    lines = [
        f"listener {port} 127.0.0.1",
        *(security.conf_lines() if security is not None else []),
        f"allow_anonymous {'false' if security is not None else 'true'}",
        f"persistence {'true' if persistence else 'false'}",
        f"persistence_location {data_dir}/",
        "persistence_file mosquitto.db",
        f"log_dest file {log_path}",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "log_type information",
        "connection_messages true",
    ]
    if os.geteuid() == 0:
        # Started as root, Mosquitto drops to the "mosquitto" user, which cannot write the
        # log or the persistence file in a root-owned data directory: queued messages would
        # silently not survive a broker restart. Stay the user that started it.
        lines.append("user root")
    lines += [f"{k} {v}" for k, v in MOSQUITTO_LIMITS.items()]
    return "\n".join(lines) + "\n"


def influxd_conf(
    port: int, data_dir: Path, auth: bool = False, tls: tuple[Path, Path] | None = None
) -> str:
    https = (
        f'  https-enabled = true\n  https-certificate = "{tls[0]}"\n'
        f'  https-private-key = "{tls[1]}"\n'
        if tls
        else ""
    )
    return f"""reporting-disabled = true
bind-address = "127.0.0.1:{free_port()}"
[meta]
  dir = "{data_dir}/meta"
[data]
  dir = "{data_dir}/data"
  wal-dir = "{data_dir}/wal"
  query-log-enabled = false
  trace-logging-enabled = false
[coordinator]
  log-queries-after = "0s"
[retention]
  enabled = true
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:{port}"
  auth-enabled = {"true" if auth else "false"}
  log-enabled = false
  max-body-size = 0
{https}[continuous_queries]
  enabled = false
[subscriber]
  enabled = false
"""


def _wait(
    check: object, proc: subprocess.Popen[bytes], what: str, log: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise ServiceError(f"{what} exited with {proc.returncode} while starting:\n{tail}")
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    proc.kill()
    raise ServiceError(f"{what} did not become ready within {timeout:.0f} s (log: {log})")


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


def influx_ping(
    url: str, timeout: float = 0.5, context: ssl.SSLContext | None = None
) -> str | None:
    """The server's version from ``/ping`` (``X-Influxdb-Version``), or None if unreachable."""
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=timeout, context=context) as resp:
            return str(resp.headers.get("X-Influxdb-Version", "unknown"))
    except (urllib.error.URLError, OSError):
        return None


def start_mosquitto(
    data_dir: Path,
    port: int | None = None,
    timeout: float = 10,
    persistence: bool = True,
    security: MosquittoSecurity | None = None,
) -> ServiceHandle:
    """``persistence=False`` keeps sessions and queued messages in memory only (a test
    broker shared by many tests: saving every second what their ended sessions keep
    queueing would slow it down more with every test). ``security``: a TLS listener with
    passwords and an ACL instead of the plain anonymous one."""
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / "mosquitto.log"
    conf = data_dir / "mosquitto.conf"
    conf.write_text(mosquitto_conf(port, data_dir, log, persistence, security))
    return _launch_mosquitto(data_dir, port, timeout, security is not None)


def _launch_mosquitto(data_dir: Path, port: int, timeout: float, tls: bool) -> ServiceHandle:
    exe = _binary("mosquitto", "/usr/sbin/mosquitto")
    log = data_dir / "mosquitto.log"
    conf = data_dir / "mosquitto.conf"
    proc = subprocess.Popen(
        [exe, "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=open(data_dir / "mosquitto.stderr", "ab"),
        start_new_session=True,
    )
    _wait(lambda: port_open(port), proc, "mosquitto", log, timeout)
    return ServiceHandle("mosquitto", proc.pid, port, str(data_dir), str(log), tls)


def start_influxd(
    data_dir: Path,
    port: int | None = None,
    database: str | None = None,
    timeout: float = 30,
    admin: tuple[str, str] | None = None,
    tls: tuple[Path, Path] | None = None,
    ca_file: Path | None = None,
) -> ServiceHandle:
    """``admin`` (user, password): authentication on, with that admin user created.
    ``tls`` (certificate, key): HTTPS only; ``ca_file`` is what this function trusts to
    reach it."""
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    conf = data_dir / "influxdb.conf"
    conf.write_text(influxd_conf(port, data_dir, admin is not None, tls))
    return _launch_influxd(data_dir, port, timeout, database, admin, tls is not None, ca_file)


def _launch_influxd(
    data_dir: Path,
    port: int,
    timeout: float,
    database: str | None,
    admin: tuple[str, str] | None,
    tls: bool,
    ca_file: Path | None,
) -> ServiceHandle:
    exe = _binary("influxd", "/usr/bin/influxd")
    log = data_dir / "influxd.log"
    conf = data_dir / "influxdb.conf"
    proc = subprocess.Popen(
        [exe, "-config", str(conf)],
        stdout=open(log, "ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    handle = ServiceHandle("influxd", proc.pid, port, str(data_dir), str(log), tls)
    url = handle.url
    ctx = ssl.create_default_context(cafile=str(ca_file)) if tls and ca_file else None
    _wait(lambda: influx_ping(url, context=ctx) is not None, proc, "influxd", log, timeout)
    if admin is not None and not (data_dir / "meta" / "admin-created").exists():
        # The first user may be created without credentials; it must be an admin.
        user, password = admin
        influx_query(
            url,
            f"CREATE USER \"{user}\" WITH PASSWORD '{password}' WITH ALL PRIVILEGES",
            method="POST",
            context=ctx,
        )
        (data_dir / "meta" / "admin-created").touch()
    if database:
        influx_query(url, f'CREATE DATABASE "{database}"', method="POST", auth=admin, context=ctx)
    return handle


def influx_query(
    url: str,
    q: str,
    db: str | None = None,
    method: str = "GET",
    epoch: str = "ns",
    auth: tuple[str, str] | None = None,
    context: ssl.SSLContext | None = None,
) -> dict[str, object]:
    """Run an InfluxQL statement over the v1 HTTP API (served by 1.x, 2.x and 3.x)."""
    params = {"q": q, "epoch": epoch}
    if db:
        params["db"] = db
    qs = urllib.parse.urlencode(params)
    if method == "POST":
        req = urllib.request.Request(f"{url}/query", data=qs.encode(), method="POST")
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    else:
        req = urllib.request.Request(f"{url}/query?{qs}")
    if auth is not None:  # HTTP Basic: InfluxDB 1.x reads u/p only from the query string
        pair = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        req.add_header("Authorization", f"Basic {pair}")
    with urllib.request.urlopen(req, timeout=30, context=context) as resp:
        result: dict[str, object] = json.loads(resp.read())
    return result


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0): reap it if it is ours.
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True


def stop_pid(pid: int, timeout: float = 15) -> None:
    """SIGTERM, wait, then SIGKILL. Resumes a SIGSTOPped process first."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGCONT)
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    while pid_alive(pid):
        time.sleep(0.05)


def stop_service(handle: ServiceHandle, timeout: float = 15) -> None:
    """Stop the service started with ``handle``'s data directory, whichever process runs it
    now: after ``restart()`` the handle a caller kept names an old PID."""
    conf = "mosquitto.conf" if handle.name == "mosquitto" else "influxdb.conf"
    wanted = str(Path(handle.data_dir) / conf).encode()
    pids = {handle.pid}
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            if wanted in cmdline.read_bytes().split(b"\0"):
                pids.add(int(cmdline.parent.name))
    for pid in pids:
        stop_pid(pid, timeout)


def restart(handle: ServiceHandle, timeout: float = 30) -> ServiceHandle:
    """Stop and start a service again on the same port and data (fault tests)."""
    stop_pid(handle.pid)
    data_dir = Path(handle.data_dir)
    if handle.name == "mosquitto":  # same configuration file: same listener and security
        return _launch_mosquitto(data_dir, handle.port, timeout, handle.tls)
    if handle.tls:
        raise ServiceError("restart of an HTTPS influxd is not supported")
    return _launch_influxd(data_dir, handle.port, timeout, None, None, False, None)


# --- command line: scripts/services.sh start|stop|status ----------------------------------


def _state_file(base: Path) -> Path:
    return base / "services.json"


def cmd_start(
    base: Path, mqtt_port: int, influx_port: int, database: str
) -> dict[str, dict[str, object]]:
    state = read_state(base)
    out: dict[str, dict[str, object]] = {}
    for name, starter in (("mosquitto", "m"), ("influxd", "i")):
        cur = state.get(name)
        if cur and pid_alive(int(cur["pid"])):  # type: ignore[call-overload]
            out[name] = cur
            continue
        if starter == "m":
            if port_open(mqtt_port):
                raise ServiceError(f"port {mqtt_port} is taken by another program")
            h = start_mosquitto(base / "mosquitto", mqtt_port)
        else:
            if influx_ping(f"http://127.0.0.1:{influx_port}") is not None:
                raise ServiceError(f"an InfluxDB not started by us answers on {influx_port}")
            h = start_influxd(base / "influxdb", influx_port, database)
        out[name] = {**asdict(h), "url": h.url}
    _state_file(base).parent.mkdir(parents=True, exist_ok=True)
    _state_file(base).write_text(json.dumps(out, indent=2))
    return out


def read_state(base: Path) -> dict[str, dict[str, object]]:
    try:
        data: dict[str, dict[str, object]] = json.loads(_state_file(base).read_text())
        return data
    except (OSError, ValueError):
        return {}


def cmd_stop(base: Path) -> None:
    for _name, cur in read_state(base).items():
        stop_pid(int(cur["pid"]))  # type: ignore[call-overload]
    with contextlib.suppress(FileNotFoundError):
        _state_file(base).unlink()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m groundwatch.services")
    p.add_argument("action", choices=["start", "stop", "status"])
    p.add_argument("--dir", type=Path, default=Path("var/services"))
    p.add_argument("--mqtt-port", type=int, default=1883)
    p.add_argument("--influx-port", type=int, default=8086)
    p.add_argument("--database", default="groundwatch")
    a = p.parse_args(argv)
    base = a.dir.resolve()
    try:
        if a.action == "start":
            for name, s in cmd_start(base, a.mqtt_port, a.influx_port, a.database).items():
                print(f"{name}: pid {s['pid']} at {s['url']} (data in {s['data_dir']})")
        elif a.action == "stop":
            cmd_stop(base)
            print("stopped")
        else:
            for name, s in read_state(base).items():
                alive = pid_alive(int(s["pid"]))  # type: ignore[call-overload]
                print(f"{name}: pid {s['pid']} {'running' if alive else 'not running'} {s['url']}")
    except ServiceError as exc:
        print(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
