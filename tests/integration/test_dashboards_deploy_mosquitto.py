"""The compose broker's config, run by a real Mosquitto 2.0: it refuses anonymous clients,
accepts the account written with mosquitto_passwd (as the compose service does) and keeps a
queued QoS 1 message across a broker restart (persistence)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from pathlib import Path

import aiomqtt
import pytest

from groundwatch import services

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
USER, PASSWORD = "groundwatch", "s3cret-test"


def start_broker(tmp: Path, port: int) -> subprocess.Popen[bytes]:
    """deploy/mosquitto/mosquitto.conf with the container paths and port moved to ``tmp``."""
    conf = (REPO / "deploy/mosquitto/mosquitto.conf").read_text()
    conf = conf.replace("listener 1883", f"listener {port} 127.0.0.1")
    conf = conf.replace("/mosquitto/auth/", f"{tmp}/auth/").replace(
        "/mosquitto/data/", f"{tmp}/data/"
    )
    if os.geteuid() == 0:
        # As root Mosquitto drops to the "mosquitto" user, which cannot enter pytest's 0700
        # temp dir; the container instead chowns the password file to it (compose command).
        conf += "user root\n"
    (tmp / "data").mkdir(exist_ok=True)
    (tmp / "mosquitto.conf").write_text(conf)
    proc = subprocess.Popen(
        [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(tmp / "mosquitto.conf")],
        stdout=open(tmp / "out.log", "ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    for _ in range(200):
        if services.port_open(port):
            return proc
        assert proc.poll() is None, (tmp / "out.log").read_text()
        time.sleep(0.05)
    raise AssertionError("mosquitto did not start: " + (tmp / "out.log").read_text())


async def test_compose_broker_config_auth_and_persistence(tmp_path: Path) -> None:
    (tmp_path / "auth").mkdir()
    passwd = tmp_path / "auth" / "passwd"
    await asyncio.to_thread(
        subprocess.run, ["mosquitto_passwd", "-c", "-b", str(passwd), USER, PASSWORD], check=True
    )
    passwd.chmod(0o600)
    port = services.free_port()
    proc = await asyncio.to_thread(start_broker, tmp_path, port)
    try:
        with pytest.raises(aiomqtt.MqttError):
            async with aiomqtt.Client("127.0.0.1", port, identifier="anon"):
                pass
        # A persistent subscriber goes away; a frame is queued for it at QoS 1.
        async with aiomqtt.Client(
            "127.0.0.1",
            port,
            username=USER,
            password=PASSWORD,
            identifier="gw-test",
            clean_session=False,
        ) as sub:
            await sub.subscribe("gs/+/frames", qos=1)
        async with aiomqtt.Client(
            "127.0.0.1", port, username=USER, password=PASSWORD, identifier="station"
        ) as pub:
            await pub.publish("gs/gs1/frames", b"\x01\x02frame", qos=1)
        await asyncio.sleep(1.5)  # autosave_interval 1
    finally:
        await asyncio.to_thread(services.stop_pid, proc.pid)
    proc = await asyncio.to_thread(start_broker, tmp_path, port)
    try:
        async with aiomqtt.Client(
            "127.0.0.1",
            port,
            username=USER,
            password=PASSWORD,
            identifier="gw-test",
            clean_session=False,
        ) as sub:
            async with asyncio.timeout(5):
                async for msg in sub.messages:
                    assert msg.payload == b"\x01\x02frame"
                    break
    finally:
        await asyncio.to_thread(services.stop_pid, proc.pid)
