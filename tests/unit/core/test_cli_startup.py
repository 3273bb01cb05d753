"""Listing the commands loads no heavy stack: every command starts without paying for the others.

Asserted on the modules the interpreter imports for ``groundwatch --help`` (``-X importtime``
names each one), not on wall time, so the check does not depend on machine load.
"""

from __future__ import annotations

import subprocess
import sys

# Stacks a command loads when it runs: plotting, data frames, InfluxDB, MQTT, HTTP client,
# the settings loader, XML.
HEAVY = (
    "matplotlib",
    "pandas",
    "numpy",
    "influxdb_client",
    "aiomqtt",
    "paho",
    "aiohttp",
    "pydantic_settings",
    "lxml",
)


def imported_modules(*args: str) -> tuple[set[str], str]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "groundwatch", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    names = {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }
    return names, done.stdout


def heavy_in(names: set[str]) -> list[str]:
    return sorted(n for n in names if n.split(".")[0] in HEAVY)


def test_help_lists_every_area_without_loading_heavy_stacks() -> None:
    names, out = imported_modules("--help")
    assert "groundwatch.cli" in names  # the parse saw the real import lines
    for command in ("decode", "run", "check-config", "replay", "simulate", "report", "console"):
        assert command in out
    assert heavy_in(names) == []


def test_a_command_help_loads_no_heavy_stack_either() -> None:
    names, out = imported_modules("report", "--help")
    assert "--dictionary" in out
    assert heavy_in(names) == []
