"""``groundwatch console`` under a pseudo-terminal (tmux), attached to real Mosquitto and
InfluxDB, fed by the real alerts MQTT sink: the screen shows the retained link state at
once, then the link turning LOS and the alert line."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from groundwatch.alerts.manager import AlertManager
from groundwatch.alerts.mqtt import MqttSink
from groundwatch.model import Event, EventType, Severity
from groundwatch.services import ServiceHandle

REPO = Path(__file__).resolve().parents[2]
GROUNDWATCH = Path(sys.executable).parent / "groundwatch"
S = 1_000_000_000


class Tmux:
    """One private tmux server running one command in a 140x45 pseudo-terminal."""

    def __init__(self, socket: Path) -> None:
        self.socket = str(socket)
        binary = shutil.which("tmux")
        assert binary is not None, "tmux is required (apt-get install tmux)"
        self.binary = binary

    def run(self, *args: str) -> str:
        out = subprocess.run(
            [self.binary, "-S", self.socket, *args],
            check=True,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return out.stdout

    def start(self, command: str) -> None:
        # window-size manual: without a client, tmux would shrink the window to 80x24
        self.run(
            "new-session",
            "-d",
            "-x",
            "140",
            "-y",
            "45",
            "-s",
            "console",
            command,
            ";",
            "set-option",
            "-t",
            "console",
            "window-size",
            "manual",
        )

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "console")

    def wait_for(self, pattern: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if re.search(pattern, screen):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{pattern!r} not on screen after {timeout} s:\n{screen}")

    def kill(self) -> None:
        subprocess.run(
            [self.binary, "-S", self.socket, "kill-server"], capture_output=True, timeout=10
        )


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    t = Tmux(tmp_path / "tmux.sock")
    yield t
    t.kill()


def link_event(type_: EventType, t: int, recovery: bool) -> Event:
    sev = Severity.CRITICAL if type_ is EventType.UNEXPECTED_LOS else Severity.INFO
    return Event(
        type_,
        sev,
        t,
        "demo-lander",
        "gs1",
        f"{type_.value} demo-lander",
        f"{type_.value} text",
        "LOS/demo-lander",
        f"{type_.value.lower()}-{t}",
        recovery=recovery,
        details={"last_good_ns": t - 3 * S, "last_values": {"propellant_mass": 0.0}}
        if not recovery
        else {},
    )


async def test_console_shows_los_and_alert(
    tmux: Tmux, own_mosquitto: ServiceHandle, influxd: ServiceHandle, influx_db: str
) -> None:
    # A broker of its own: retained link states left by other tests must not show here.
    mosquitto = own_mosquitto
    sink = MqttSink.from_config({"url": mosquitto.url}, "alerts[0]")
    manager = AlertManager([sink])
    await manager.start()
    try:
        t0 = time.time_ns()
        manager.submit([link_event(EventType.AOS, t0, recovery=True)])
        await asyncio.wait_for(sink.connected.wait(), 10)
        await asyncio.wait_for(sink.queue.join(), 10)  # the retained state is on the broker

        tmux.start(
            # the pty's own size, not an inherited COLUMNS (rich prefers it)
            f"env -u COLUMNS -u LINES {GROUNDWATCH} console --mqtt {mosquitto.url} "
            f"--influx {influxd.url} "
            f"--database {influx_db} --dictionary {REPO / 'missions/demo-lander.yaml'} "
            "--duration 60; sleep 30"
        )
        # The retained state: a console that connects later knows the link is up at once.
        screen = await asyncio.to_thread(tmux.wait_for, r"gs1\s+TRACKING")
        assert "Key parameters" in screen and "propellant_mass" in screen
        assert not re.search(r"gs1\s+LOS\b", screen)

        manager.submit([link_event(EventType.UNEXPECTED_LOS, time.time_ns(), recovery=False)])
        screen = await asyncio.to_thread(tmux.wait_for, r"gs1\s+LOS\b")
        screen = await asyncio.to_thread(
            tmux.wait_for, r"CRITICAL\s+UNEXPECTED_LOS\s+UNEXPECTED_LOS demo-lander"
        )
        # the LOS details' last values reach the key parameter table, with their limit state
        assert re.search(r"propellant_mass\s+0\.00\s+kg\s+RED_LOW", screen), screen
    finally:
        await manager.stop()


def test_console_plain_text_without_a_terminal(
    mosquitto: ServiceHandle, influxd: ServiceHandle, influx_db: str
) -> None:
    """Piped output: periodic plain snapshots, no escape codes."""
    proc = subprocess.run(
        [
            str(GROUNDWATCH),
            "console",
            "--mqtt",
            mosquitto.url,
            "--influx",
            influxd.url,
            "--database",
            influx_db,
            "--duration",
            "1.5",
            "--interval",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert "\x1b[" not in proc.stdout
    assert proc.stdout.count("== groundwatch console") >= 2
