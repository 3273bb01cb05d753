"""Frames over TLS with passwords and the ACL: flow end to end, stay in their station's
topics, and a broker with a certificate from another CA is refused loudly."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from groundwatch.ingest.mqtt import MqttSource
from groundwatch.model import RawFrame
from groundwatch.mqtt_url import mqtt_connection
from groundwatch.parts import ConfigError
from groundwatch.tls import TlsFiles
from tests.integration.conftest import SecureBroker

pytestmark = pytest.mark.integration


async def _frames(source: MqttSource, n: int, timeout: float = 10) -> list[RawFrame]:
    out: asyncio.Queue[object] = asyncio.Queue(100)
    task = asyncio.create_task(source.run(out))  # type: ignore[arg-type]
    got: list[RawFrame] = []
    try:
        async with asyncio.timeout(timeout):
            while len(got) < n:
                item = await out.get()
                if isinstance(item, RawFrame):
                    item.ack()
                    got.append(item)
    finally:
        await source.stop()
        await asyncio.wait_for(task, 15)
    return got


def _source(broker: SecureBroker, client_id: str) -> MqttSource:
    return MqttSource.from_config(
        {
            "url": broker.url("groundwatch"),
            "client_id": client_id,
            **broker.tls_options("groundwatch"),
        }
    )


async def _publish(broker: SecureBroker, user: str, topic: str, payload: bytes) -> None:
    conn = mqtt_connection(broker.url(user), TlsFiles(**broker.tls_options(user)))  # type: ignore[arg-type]
    async with aiomqtt.Client(**conn, timeout=10) as client:
        await client.publish(topic, payload, qos=1)


async def test_frames_flow_over_tls(secure_mosquitto: SecureBroker) -> None:
    source = _source(secure_mosquitto, "gw-tls-flow")
    waiting = asyncio.create_task(_frames(source, 3))
    await asyncio.sleep(1.0)  # subscribed
    for i in range(3):
        await _publish(secure_mosquitto, "gs1", "gs/gs1/frames", bytes([i]) * 20)
    frames = await waiting
    assert [f.data[0] for f in frames] == [0, 1, 2]
    assert {f.station for f in frames} == {"gs1"}


async def test_a_station_cannot_publish_as_another(secure_mosquitto: SecureBroker) -> None:
    source = _source(secure_mosquitto, "gw-tls-acl")
    waiting = asyncio.create_task(_frames(source, 1, timeout=8))
    await asyncio.sleep(1.0)
    # gs2 pretends to be gs1: the broker's ACL drops it; then gs1 sends its own frame
    await _publish(secure_mosquitto, "gs2", "gs/gs1/frames", b"forged" * 4)
    await asyncio.sleep(0.5)
    await _publish(secure_mosquitto, "gs1", "gs/gs1/frames", b"genuine" * 4)
    frames = await waiting
    assert [f.data for f in frames] == [b"genuine" * 4]


async def test_plain_connection_to_the_tls_listener_fails(secure_mosquitto: SecureBroker) -> None:
    url = f"mqtt://gs1:{secure_mosquitto.passwords['gs1']}@localhost:{secure_mosquitto.handle.port}"
    with pytest.raises(aiomqtt.MqttError):
        async with aiomqtt.Client(**mqtt_connection(url), timeout=3):
            pass


async def test_wrong_ca_fails_loudly(secure_mosquitto: SecureBroker, tmp_path: Path) -> None:
    import subprocess

    from tests.integration.conftest import REPO

    other = tmp_path / "other-ca"
    await asyncio.to_thread(
        subprocess.run,
        ["bash", str(REPO / "scripts" / "make-certs.sh"), str(other), "gs1"],
        check=True,
        capture_output=True,
    )
    conn = mqtt_connection(
        secure_mosquitto.url("gs1"),
        TlsFiles(other / "ca.crt", other / "gs1.crt", other / "gs1.key"),
    )
    with pytest.raises(aiomqtt.MqttError) as info:
        async with aiomqtt.Client(**conn, timeout=5):
            pass
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value) or isinstance(
        info.value.__cause__, ssl.SSLError
    )


def test_missing_ca_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ca_file"):
        MqttSource.from_config(
            {"url": "mqtts://localhost:8883", "ca_file": str(tmp_path / "missing.crt")}
        )


async def test_influxdb_over_https_with_a_ca_file(certs: Path, tmp_path: Path) -> None:
    from groundwatch import services
    from groundwatch.config import StoreConfig
    from groundwatch.influx_access import InfluxAccess
    from groundwatch.report.query import InfluxQuery
    from groundwatch.store.influx_v1 import InfluxV1Writer
    from groundwatch.store.writer import WriteFailed

    h = await asyncio.to_thread(
        services.start_influxd,
        tmp_path / "https-influxdb",
        tls=(certs / "server.crt", certs / "server.key"),
        ca_file=certs / "ca.crt",
    )
    try:
        assert h.url.startswith("https://localhost:")
        store = StoreConfig(url=h.url, database="tls", ca_file=certs / "ca.crt")
        w = InfluxV1Writer.from_config(store)
        try:
            assert (await w.write(b"m v=1 1\n")).status == 204
        finally:
            await w.close()
        rows = await asyncio.to_thread(
            InfluxQuery(InfluxAccess.from_store(store)).rows, 'SELECT "v" FROM "m"'
        )
        assert len(rows) == 1
        # the system's CAs do not know the test CA: refused, not silently accepted
        w = InfluxV1Writer.from_config(StoreConfig(url=h.url, database="tls"))
        try:
            with pytest.raises(WriteFailed, match="CERTIFICATE_VERIFY_FAILED"):
                await w.write(b"m v=2 2\n")
        finally:
            await w.close()
        # influxdb-client (2.x/3.x path) over the same TLS: the handshake succeeds with the
        # CA file, and this 1.x server has no /api/v2/write, which reads as a missing bucket
        from groundwatch.store.influx_v2 import InfluxV2Writer

        v2 = StoreConfig(
            url=h.url, api="v2", org="ops", bucket="gw", token="t", ca_file=certs / "ca.crt"
        )
        w2 = InfluxV2Writer.from_config(v2)
        try:
            with pytest.raises(WriteFailed, match="bucket 'gw' not found in org 'ops'"):
                await w2.write(b"m v=3 3\n")
        finally:
            await w2.close()
        w2 = InfluxV2Writer.from_config(v2.model_copy(update={"ca_file": None}))
        try:
            with pytest.raises(WriteFailed, match="CERTIFICATE_VERIFY_FAILED") as info:
                await w2.write(b"m v=3 3\n")
            assert info.value.status == 0
        finally:
            await w2.close()
    finally:
        await asyncio.to_thread(services.stop_service, h)


async def test_simulator_and_console_over_tls(secure_mosquitto: SecureBroker) -> None:
    """The simulator publishes as its station and the console follows events, both over
    mqtts:// with the TLS files in the URL and the password from the environment."""
    import os
    import sys

    from groundwatch.console.attach import AttachOptions, MqttFeed
    from groundwatch.console.state import ConsoleModel
    from tests.integration.conftest import REPO

    source = _source(secure_mosquitto, "gw-tls-sim")
    waiting = asyncio.create_task(_frames(source, 3, timeout=30))
    await asyncio.sleep(1.0)
    url = secure_mosquitto.url("gs1", tls_query=True).replace(
        f":{secure_mosquitto.passwords['gs1']}@", "@"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "groundwatch",
        "simulate",
        "--dictionary",
        str(REPO / "missions" / "demo-lander.yaml"),
        "--mqtt",
        url,
        "--station",
        "gs1",
        "--count",
        "3",
        "--rate",
        "20",
        env={**os.environ, "GROUNDWATCH_MQTT_PASSWORD": secure_mosquitto.passwords["gs1"]},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, out.decode()
    assert len(await waiting) == 3

    feed = MqttFeed(ConsoleModel(), AttachOptions(mqtt_url=secure_mosquitto.url("op1", True)))
    stop = asyncio.Event()
    task = asyncio.create_task(feed.run(stop))
    try:
        await asyncio.wait_for(feed.connected.wait(), 10)
        await _publish(secure_mosquitto, "groundwatch", "groundwatch/events/lander", b"{}")
        deadline = asyncio.get_running_loop().time() + 5
        while feed.messages < 1:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def test_a_burst_over_tls_is_received_and_acknowledged(
    secure_mosquitto: SecureBroker,
) -> None:
    """Acknowledgements written straight to the TLS socket reach the broker: after the
    burst, a new session with the same client id gets nothing delivered again."""
    n = 2000
    source = _source(secure_mosquitto, "gw-tls-burst")
    waiting = asyncio.create_task(_frames(source, n, timeout=60))
    await asyncio.sleep(1.0)
    conn = mqtt_connection(
        secure_mosquitto.url("gs1"),
        TlsFiles(**secure_mosquitto.tls_options("gs1")),  # type: ignore[arg-type]
    )
    async with aiomqtt.Client(**conn, timeout=10, max_inflight_messages=200) as client:
        await asyncio.gather(
            *(client.publish("gs/gs1/frames", i.to_bytes(4, "big") * 50, qos=1) for i in range(n))
        )
    frames = await waiting
    assert sorted(int.from_bytes(f.data[:4], "big") for f in frames) == list(range(n))
    again = _source(secure_mosquitto, "gw-tls-burst")
    with pytest.raises(TimeoutError):
        await _frames(again, 1, timeout=2)


async def test_run_over_tls_end_to_end(
    secure_mosquitto: SecureBroker, influxd: Any, influx_db: str, tmp_path: Path
) -> None:
    """`groundwatch run` with an mqtts:// source (password and TLS files relative to the
    configuration file) takes the frames a station publishes over TLS."""
    import json
    import os
    import shutil
    import signal
    import sys
    import urllib.request

    from groundwatch.services import free_port
    from tests.integration.conftest import REPO

    (tmp_path / "tls").mkdir()
    for name in ("ca.crt", "groundwatch.crt", "groundwatch.key"):
        shutil.copy(secure_mosquitto.certs / name, tmp_path / "tls" / name)
    (tmp_path / "mqtt-password").write_text(secure_mosquitto.passwords["groundwatch"])
    health = free_port()
    cfg = tmp_path / "groundwatch.toml"
    cfg.write_text(
        f'[mission]\ndictionary = "{REPO / "missions" / "demo-lander.yaml"}"\n'
        "[[sources]]\n"
        'type = "mqtt"\n'
        f'url = "mqtts://groundwatch@localhost:{secure_mosquitto.handle.port}"\n'
        'password_file = "mqtt-password"\nclient_id = "gw-tls-run"\n'
        'ca_file = "tls/ca.crt"\ncert_file = "tls/groundwatch.crt"\n'
        'key_file = "tls/groundwatch.key"\n'
        f'[store]\nurl = "{influxd.url}"\ndatabase = "{influx_db}"\n'
        'spool_dir = "spool"\ndead_letter = "dl.lp"\n'
        '[archive]\ndir = "archive"\n'
        f'[health]\nlisten = "127.0.0.1:{health}"\n'
        '[[alerts]]\ntype = "log"\n'
    )
    run = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "groundwatch", "run", "--config", str(cfg), "--no-status",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd="/",
    )  # fmt: skip

    def frames() -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{health}/health", timeout=1) as r:
                return int(json.loads(r.read())["frames"])
        except OSError:
            return -1

    try:
        deadline = asyncio.get_running_loop().time() + 20
        while await asyncio.to_thread(frames) < 0:
            assert asyncio.get_running_loop().time() < deadline, "run did not start"
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)  # subscribed
        sim = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "groundwatch", "simulate",
            "--dictionary", str(REPO / "missions" / "demo-lander.yaml"),
            "--mqtt", secure_mosquitto.url("gs1", tls_query=True),
            "--station", "gs1", "--count", "5", "--rate", "20",
            env={**os.environ}, stdout=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        assert await asyncio.wait_for(sim.wait(), 60) == 0
        while await asyncio.to_thread(frames) < 5:
            assert asyncio.get_running_loop().time() < deadline + 30, "frames not received"
            await asyncio.sleep(0.2)
    finally:
        run.send_signal(signal.SIGTERM)
        out, _ = await asyncio.wait_for(run.communicate(), 60)
    assert run.returncode == 0, out.decode()[-3000:]
    assert secure_mosquitto.passwords["groundwatch"] not in out.decode()
