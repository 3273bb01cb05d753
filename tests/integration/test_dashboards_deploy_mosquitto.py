"""The compose broker's config, run by a real Mosquitto 2.0: it refuses anonymous clients,
accepts the accounts hashed with mosquitto_passwd -U (as the compose service does), applies
deploy/mosquitto/acl (a station publishes only under its own name), serves stations over
TLS, and keeps a queued QoS 1 message across a broker restart (persistence)."""

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
from groundwatch.mqtt_url import mqtt_connection

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
USER, PASSWORD = "groundwatch", "s3cret-test"
STATION, STATION_PASSWORD = "gs1", "st4tion-test"


def start_broker(tmp: Path, port: int, tls_port: int) -> subprocess.Popen[bytes]:
    """deploy/mosquitto/mosquitto.conf with the container paths and ports moved to ``tmp``
    (the ACL is the repository's own file)."""
    conf = (REPO / "deploy/mosquitto/mosquitto.conf").read_text()
    conf = conf.replace("listener 1883", f"listener {port} 127.0.0.1")
    conf = conf.replace("listener 8883", f"listener {tls_port} 127.0.0.1")
    conf = conf.replace("/mosquitto/auth/", f"{tmp}/auth/").replace(
        "/mosquitto/data/", f"{tmp}/data/"
    )
    conf = conf.replace("/mosquitto/certs/", f"{tmp}/certs/")
    conf = conf.replace("/mosquitto/config/acl", str(REPO / "deploy/mosquitto/acl"))
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
        if services.port_open(port) and services.port_open(tls_port):
            return proc
        assert proc.poll() is None, (tmp / "out.log").read_text()
        time.sleep(0.05)
    raise AssertionError("mosquitto did not start: " + (tmp / "out.log").read_text())


def prepare(tmp: Path) -> None:
    """What the compose service does: clear-text accounts hashed in place; certificates
    from scripts/make-certs.sh."""
    (tmp / "auth").mkdir()
    passwd = tmp / "auth" / "passwd"
    passwd.write_text(f"{USER}:{PASSWORD}\n{STATION}:{STATION_PASSWORD}\n")
    passwd.chmod(0o600)
    subprocess.run(["mosquitto_passwd", "-U", str(passwd)], check=True)
    assert PASSWORD not in passwd.read_text()
    subprocess.run(
        ["bash", str(REPO / "scripts/make-certs.sh"), str(tmp / "certs")],
        check=True,
        capture_output=True,
    )


async def test_compose_broker_config_auth_acl_tls_and_persistence(tmp_path: Path) -> None:
    await asyncio.to_thread(prepare, tmp_path)
    port, tls_port = services.free_port(), services.free_port()
    proc = await asyncio.to_thread(start_broker, tmp_path, port, tls_port)
    station_tls = mqtt_connection(
        f"mqtts://{STATION}:{STATION_PASSWORD}@localhost:{tls_port}?ca={tmp_path}/certs/ca.crt"
    )
    try:
        with pytest.raises(aiomqtt.MqttError):
            async with aiomqtt.Client("127.0.0.1", port, identifier="anon"):
                pass
        # A persistent subscriber goes away; frames are queued for it at QoS 1.
        async with aiomqtt.Client(
            "127.0.0.1",
            port,
            username=USER,
            password=PASSWORD,
            identifier="gw-test",
            clean_session=False,
        ) as sub:
            await sub.subscribe("gs/+/frames", qos=1)
        async with aiomqtt.Client(**station_tls, identifier="station") as pub:
            await pub.publish("gs/gs2/frames", b"not my name", qos=1)  # refused by the ACL
            await pub.publish("gs/gs1/frames", b"\x01\x02frame", qos=1)
        await asyncio.sleep(1.5)  # autosave_interval 1
    finally:
        await asyncio.to_thread(services.stop_pid, proc.pid)
    proc = await asyncio.to_thread(start_broker, tmp_path, port, tls_port)
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
                    assert str(msg.topic) == "gs/gs1/frames"
                    assert msg.payload == b"\x01\x02frame"
                    break
    finally:
        await asyncio.to_thread(services.stop_pid, proc.pid)
