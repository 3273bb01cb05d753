"""Listing the commands loads no heavy stack: every command starts without paying for the others.

Asserted on the modules the interpreter imports for ``groundwatch --help`` (``-X importtime``
names each one), not on wall time, so the check does not depend on machine load.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
JPSS1 = REPO / "tests" / "data" / "jpss1" / "J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1"
JPSS1_DICTIONARY = REPO / "tests" / "data" / "missions" / "jpss1.yaml"

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
    # Nor the validation stack: pydantic loads when a command validates something (typer
    # loads it too, to read a command's options), not to list the commands.
    assert "pydantic" not in names and "pydantic_core" not in names


def test_a_command_help_loads_no_heavy_stack_either() -> None:
    names, out = imported_modules("report", "--help")
    assert "--dictionary" in out
    assert heavy_in(names) == []


def test_decode_loads_only_what_decoding_needs(tmp_path: Path) -> None:
    """A decode of a capture, often run from scripts, imports no other area and no event loop."""
    capture = tmp_path / "one.dat"
    capture.write_bytes(JPSS1.read_bytes()[:71])  # the first packet of the real capture
    names, out = imported_modules(
        "decode", "-d", str(JPSS1_DICTIONARY), "--format", "raw", "-i", str(capture)
    )
    assert '"kind": "packet"' in out
    others = ("sim", "replay", "console", "report", "dashboards", "alerts", "store", "link")
    areas = {n.split(".")[1] for n in names if n.startswith("groundwatch.")}
    assert sorted(areas & set(others)) == []
    assert heavy_in(names) == [] and "asyncio" not in names
    # A plain decode command line needs no CLI framework, and a dictionary loaded before
    # (the first run cached it) needs no validation: neither typer nor pydantic nor YAML.
    names, out = imported_modules(
        "decode", "-d", str(JPSS1_DICTIONARY), "--format", "raw", "-i", str(capture)
    )
    assert '"kind": "packet"' in out
    frameworks = {n.split(".")[0] for n in names} & {"typer", "click", "rich", "pydantic", "yaml"}
    assert sorted(frameworks) == []
