"""A part from outside the repository: the example ZeroMQ source (examples/groundwatch-zmq)
installed into a fresh virtual environment joins through its entry point, and a pipeline
configured with ``type = "zmq"`` stores the frames it receives. Nothing in groundwatch names
it."""

from __future__ import annotations

import json
import shutil
import signal
import site
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import zmq

from groundwatch.services import ServiceHandle, free_port

from .pipeline_helpers import DEMO_DICTIONARY, REPO, query, simulate_file

EXAMPLE = REPO / "examples" / "groundwatch-zmq"


def make_venv(path: Path) -> Path:
    """A venv that sees this one's packages (groundwatch, pyzmq) plus the example plugin.

    ``--system-site-packages`` alone would see the base interpreter's packages, not this
    venv's; a .pth line adds this venv's site directory (with its editable install)."""
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(path)],
        check=True,
        timeout=120,
    )
    python = path / "bin" / "python"
    child_site = subprocess.run(
        [str(python), "-c", "import site; print(site.getsitepackages()[0])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(child_site, "groundwatch-dev.pth").write_text(
        f"import site; site.addsitedir({site.getsitepackages()[0]!r})\n"
    )
    example = path.parent / EXAMPLE.name  # built from a copy: the build leaves files behind
    shutil.copytree(EXAMPLE, example, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            str(example),
        ],
        check=True,
        timeout=300,
        cwd=path,
    )
    return python


def health(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
        data: dict[str, Any] = json.load(r)
        return data


def wait_health(port: int, cond: Any, timeout: float, what: str) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            last = health(port)
            if cond(last):
                return last
        except OSError:
            pass  # not listening yet
        time.sleep(0.1)
    raise TimeoutError(f"timed out waiting for {what}: {last}")


def test_zmq_plugin_from_its_own_package_feeds_the_pipeline(
    tmp_path: Path, influxd: ServiceHandle, influx_db: str
) -> None:
    python = make_venv(tmp_path / "venv")
    listing = subprocess.run(
        [str(python), "-m", "groundwatch", "plugins"], capture_output=True, text=True, timeout=60
    ).stdout
    assert any(line.split()[:2] == ["zmq", "groundwatch-zmq"] for line in listing.splitlines())
    # The test's own environment does not have it: the entry point is what brought it.
    here = subprocess.run(
        [sys.executable, "-m", "groundwatch", "plugins"], capture_output=True, text=True
    ).stdout
    assert "groundwatch-zmq" not in here

    frames = [
        bytes.fromhex(line.split()[-1])
        for line in simulate_file(tmp_path / "frames.hex", "hex", count=40).read_text().split("\n")
        if line.strip()
    ]
    zmq_port, health_port = free_port(), free_port()
    var = tmp_path / "var"
    config = tmp_path / "groundwatch.toml"
    config.write_text(
        f"""
[mission]
dictionary = "{DEMO_DICTIONARY}"

[[sources]]
type = "zmq"
endpoint = "tcp://127.0.0.1:{zmq_port}"
station = "gs-zmq"

[store]
url = "{influxd.url}"
database = "{influx_db}"
spool_dir = "{var}/spool"
dead_letter = "{var}/dead-letter.lp"

[archive]
dir = "{var}/archive"

[health]
listen = "127.0.0.1:{health_port}"

[[alerts]]
type = "log"
"""
    )
    context = zmq.Context()
    pub = context.socket(zmq.PUB)
    pub.bind(f"tcp://127.0.0.1:{zmq_port}")
    log = (tmp_path / "run.log").open("wb")
    proc = subprocess.Popen(
        [str(python), "-m", "groundwatch", "run", "--config", str(config), "--no-status"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        # PUB/SUB drops what is sent before the subscription arrives: repeat the first frame
        # until the source has one (the merger counts the copies as duplicates).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pub.send(frames[0])
            try:
                if health(health_port)["sources"]["zmq"]["received"] >= 1:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        for f in frames[1:]:
            pub.send(f)
        status = wait_health(
            health_port,
            lambda h: h["frames"] - h["duplicates"] >= len(frames) and h["store"]["sent"] > 0,
            60,
            f"{len(frames)} frames decoded and stored",
        )
        assert status["sources"]["zmq"]["sent"] >= len(frames)
        assert status["packets"] > 0 and sum(status["rejected"].values()) == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
        pub.close(0)
        context.term()
        log.close()
    output = (tmp_path / "run.log").read_text()
    assert code == 0, output
    assert "Traceback" not in output
    rows = query(
        influxd, influx_db, """SELECT count("seq_count") FROM /.*/ WHERE "station" = 'gs-zmq'"""
    )
    assert rows and sum(r["count"] for r in rows) == status["packets"]
