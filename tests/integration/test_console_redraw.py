"""The live console redraws in place at any terminal size: read through a terminal
emulator (pyte) after 20 refreshes, at 150x45 and at 80x24, its title has been written to
the screen exactly once (counting what scrolled off the top), so nothing was repeated.

Both consoles: ``groundwatch console`` attached to the services, and the demo's in-process
console while the pipeline logs rejected frames (log lines go into the alert panel, not
through the view).
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pexpect
import pyte
import pytest

from groundwatch.services import ServiceHandle

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
GROUNDWATCH = Path(sys.executable).parent / "groundwatch"
DICTIONARY = str(REPO / "missions/demo-lander.yaml")
REFRESH_S = 0.25  # console.live.show's default
TITLE = re.compile(r"^groundwatch\b.*\d\d:\d\d:\d\d\.\d UTC")


def command(kind: str, mqtt: str, influx: str, db: str, tmp: Path) -> list[str]:
    if kind == "console":
        return ["console", "--mqtt", mqtt, "--influx", influx, "--database", db,
                "--dictionary", DICTIONARY, "--duration", "30"]  # fmt: skip
    # ten times the demo's pace: the first corrupted frames (logged) come within 4 s
    return ["demo", "--dictionary", DICTIONARY, "--mqtt", mqtt, "--influx", influx,
            "--workdir", str(tmp / "demo"), "--rate", "100", "--speedup", "100"]  # fmt: skip


@pytest.mark.parametrize("kind", ["console", "demo"])
@pytest.mark.parametrize(("columns", "lines"), [(150, 45), (80, 24)])
def test_console_redraws_in_place(
    kind: str,
    columns: int,
    lines: int,
    mosquitto: ServiceHandle,
    influxd: ServiceHandle,
    influx_db: str,
    tmp_path: Path,
) -> None:
    screen = pyte.HistoryScreen(columns, lines, history=10_000)
    stream = pyte.ByteStream(screen)
    child = pexpect.spawn(
        str(GROUNDWATCH),
        command(kind, mosquitto.url, influxd.url, influx_db, tmp_path),
        dimensions=(lines, columns),
        env={"TERM": "xterm-256color", "PATH": "/usr/bin:/bin"},
        timeout=5,
    )
    try:
        child.expect(r"\d\d:\d\d:\d\d\.\d UTC", timeout=30)  # the first frame of the view
        stream.feed(child.before + child.after)
        deadline = time.monotonic() + 20 * REFRESH_S + 1.0  # 20 refreshes and a margin
        while time.monotonic() < deadline:
            try:
                stream.feed(child.read_nonblocking(65536, timeout=0.1))
            except pexpect.TIMEOUT:
                continue
        for _ in range(50):  # stop between two redraws, never inside one
            try:
                stream.feed(child.read_nonblocking(65536, timeout=0.1))
            except pexpect.TIMEOUT:
                break
        shown = list(screen.display)
        scrolled = ["".join(ch.data for ch in row.values()) for row in screen.history.top]
        everything = scrolled + shown
        text = "\n".join(everything)
        assert sum(bool(TITLE.match(line)) for line in everything) == 1, text
        assert sum(line.strip().startswith("Links") for line in everything) == 1, text
        assert any("Alerts" in line for line in shown), text
        if kind == "demo":
            # the pipeline's and the publisher's log lines are in the alert panel
            assert re.search(r"│ \d\d:\d\d:\d\d\.\d\s+(WARNING|INFO)\s+LOG ", text), text
    finally:
        child.terminate(force=True)
