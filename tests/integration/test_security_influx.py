"""Readers log in like the writer, and a missing database is created, against a real
influxd with authentication on."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from groundwatch import services
from groundwatch.config import StoreConfig
from groundwatch.console.attach import AttachOptions, InfluxPoller
from groundwatch.console.state import ConsoleModel
from groundwatch.influx_access import InfluxAccess
from groundwatch.replay.session import los_events_from_store
from groundwatch.report.query import InfluxQuery
from groundwatch.services import ServiceHandle
from groundwatch.store.influx_v1 import InfluxV1Writer

pytestmark = pytest.mark.integration

AuthInflux = tuple[ServiceHandle, tuple[str, str]]


def _url_with(h: ServiceHandle, user: str, password: str) -> str:
    return f"http://{user}:{password}@127.0.0.1:{h.port}"


async def _write_event(store: StoreConfig, t_ns: int) -> None:
    w = InfluxV1Writer.from_config(store)
    try:
        line = (
            "events,spacecraft=lander,station=gs1,source=live,type=UNEXPECTED_LOS,"
            "severity=critical "
            f'condition="LOS/lander",title="LOS" {t_ns}\n'
        )
        res = await w.write(line.encode())
        assert res.status == 204 and not res.rejected
    finally:
        await w.close()


async def test_the_writer_creates_a_missing_database_and_readers_log_in(
    auth_influxd: AuthInflux, monkeypatch: pytest.MonkeyPatch
) -> None:
    h, (user, password) = auth_influxd
    t = time.time_ns()
    # user:password@ in the URL, as an operator writes it; the database does not exist yet
    store = StoreConfig(url=_url_with(h, user, password), database="fresh")
    await _write_event(store, t)

    # replay's LOS lookup with the store settings
    assert los_events_from_store(store, "lander", "gs1", t - 10**9, t + 10**9) == [t]

    # report: the same URL, and a bare URL with credentials from the environment
    q = 'SELECT "title" FROM "events"'
    assert len(InfluxQuery(_url_with(h, user, password), "fresh").rows(q)) == 1
    monkeypatch.setenv("GROUNDWATCH_STORE__USERNAME", user)
    monkeypatch.setenv("GROUNDWATCH_STORE__PASSWORD", password)
    assert len(InfluxQuery(f"http://127.0.0.1:{h.port}", "fresh").rows(q)) == 1

    # console
    poller = InfluxPoller(
        ConsoleModel(),
        AttachOptions(influx_url=f"http://127.0.0.1:{h.port}", database="fresh"),
    )
    async with poller.session() as session:
        poller._session = session
        rows = await poller.query(q)
    assert len(rows) == 1

    # and without credentials InfluxDB refuses: the checks above did log in
    monkeypatch.delenv("GROUNDWATCH_STORE__USERNAME")
    monkeypatch.delenv("GROUNDWATCH_STORE__PASSWORD")
    with pytest.raises(RuntimeError, match="401"):
        InfluxQuery(InfluxAccess(f"http://127.0.0.1:{h.port}", "fresh")).rows(q)


async def test_create_database_off_reports_and_spools(influxd: ServiceHandle) -> None:
    store = StoreConfig(url=influxd.url, database="never_created", create_database=False)
    w = InfluxV1Writer.from_config(store)
    try:
        from groundwatch.store.writer import WriteFailed

        with pytest.raises(WriteFailed) as info:
            await w.write(b"m v=1 1\n")
        assert info.value.status == 404 and info.value.retryable
    finally:
        await w.close()


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "groundwatch", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_report_logs_in_and_never_shows_the_password(
    auth_influxd: AuthInflux, tmp_path: Path
) -> None:
    h, (user, password) = auth_influxd
    asyncio.run(_write_event(StoreConfig(url=_url_with(h, user, password), database="gw"), 1))
    dictionary = Path(__file__).resolve().parents[2] / "missions" / "demo-lander.yaml"
    res = _cli(
        "report",
        "--dictionary",
        str(dictionary),
        "--out",
        str(tmp_path / "r"),
        "--session",
        "nosuchsession",
        "--influx",
        _url_with(h, user, password),
        "--database",
        "gw",
    )
    out = res.stdout + res.stderr
    assert "Traceback" not in out and password not in out, out
    assert "401" not in out and "authorization" not in out.lower(), out
    assert res.returncode == 1, out  # logged in, found no such pass

    wrong = _cli(
        "report",
        "--dictionary",
        str(dictionary),
        "--out",
        str(tmp_path / "r"),
        "--session",
        "x",
        "--influx",
        _url_with(h, user, "WrongPassw0rd"),
        "--database",
        "gw",
    )
    out = wrong.stdout + wrong.stderr
    assert wrong.returncode == 1 and "Traceback" not in out, out
    assert "WrongPassw0rd" not in out and "401" in out, out


def test_fresh_influxd_without_database_stores_points(tmp_path: Path) -> None:
    h = services.start_influxd(tmp_path / "fresh")
    try:
        store = StoreConfig(url=h.url, database="groundwatch")
        asyncio.run(_write_event(store, 5))
        res = services.influx_query(h.url, 'SELECT count("title") FROM "events"', db="groundwatch")
        assert json.dumps(res).count('"count"') == 1
    finally:
        services.stop_service(h)


def test_demo_against_a_fresh_influxd_without_database(
    tmp_path: Path, mosquitto: ServiceHandle
) -> None:
    h = services.start_influxd(tmp_path / "fresh-demo")
    try:
        dictionary = Path(__file__).resolve().parents[2] / "missions" / "demo-lander.yaml"
        res = _cli(
            "demo",
            "--dictionary",
            str(dictionary),
            "--workdir",
            str(tmp_path / "demo"),
            "--rate",
            "25",
            "--speedup",
            "80",
            "--mqtt",
            mosquitto.url,
            "--influx",
            h.url,
        )
        out = res.stdout + res.stderr
        assert "Traceback" not in out, out[-3000:]
        assert res.returncode == 0, out[-3000:]
        assert "pass report:" in out
    finally:
        services.stop_service(h)


def test_report_takes_the_writers_settings_from_the_config(
    auth_influxd: AuthInflux, tmp_path: Path
) -> None:
    h, (user, password) = auth_influxd
    asyncio.run(_write_event(StoreConfig(url=_url_with(h, user, password), database="gw"), 1))
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "influx").write_text(password + "\n")
    dictionary = Path(__file__).resolve().parents[2] / "missions" / "demo-lander.yaml"
    cfg = tmp_path / "groundwatch.toml"
    cfg.write_text(
        f'[mission]\ndictionary = "{dictionary}"\n'
        f'[store]\nurl = "http://127.0.0.1:{h.port}"\ndatabase = "gw"\n'
        f'username = "{user}"\npassword_file = "secrets/influx"\n'
    )
    res = _cli(
        "report",
        "--config",
        str(cfg),
        "--dictionary",
        str(dictionary),
        "--out",
        str(tmp_path / "r"),
        "--from",
        "1970-01-01T00:00:00Z",
        "--to",
        "1970-01-01T00:00:01Z",
    )
    out = res.stdout + res.stderr
    assert "Traceback" not in out and "401" not in out, out
    assert res.returncode in (0, 1), out  # logged in: a report, or no such pass
    assert password not in out


async def test_a_user_without_the_right_to_create_is_told_what_to_do(
    auth_influxd: AuthInflux, caplog: pytest.LogCaptureFixture
) -> None:
    h, admin = auth_influxd
    await asyncio.to_thread(
        services.influx_query,
        h.url,
        "CREATE USER \"writer\" WITH PASSWORD 'w-pass'",
        method="POST",
        auth=admin,
    )
    store = StoreConfig(
        url=f"http://127.0.0.1:{h.port}", database="missing", username="writer", password="w-pass"
    )
    w = InfluxV1Writer.from_config(store)
    try:
        from groundwatch.store.writer import WriteFailed

        with pytest.raises(WriteFailed) as info:
            await w.write(b"m v=1 1\n")
        assert info.value.retryable  # kept in the spool until someone creates it
    finally:
        await w.close()
    assert "cannot create database 'missing'" in caplog.text
    assert "create_database = false" in caplog.text
