"""Shared fixtures: a real Mosquitto and a real influxd on free loopback ports.

A test that needs a service and cannot start it fails with the reason (ServiceError from the
fixture); nothing here skips. Session-wide services are shared; fault tests that stop or
restart a service take their own instance (``own_mosquitto``, ``own_influxd``), which is
stopped at teardown whatever PID a restart gave it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from groundwatch import services
from groundwatch.services import ServiceHandle

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def dictionary_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Commands the tests run (in process or as children) keep their dictionary cache here,
    never in the user's cache directory."""
    directory = tmp_path_factory.mktemp("dictionary-cache")
    os.environ["GROUNDWATCH_CACHE_DIR"] = str(directory)
    return directory


@pytest.fixture(scope="session")
def services_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("services")


@pytest.fixture(scope="session")
def mosquitto(services_dir: Path) -> Iterator[ServiceHandle]:
    # Shared by every test: each test's persistent session keeps queueing the frames later
    # tests publish, and saving all that every second would slow the broker down more and
    # more. Tests that need the broker's persistence restart their own (own_mosquitto).
    h = services.start_mosquitto(services_dir / "mosquitto", persistence=False)
    yield h
    services.stop_service(h)


@pytest.fixture(scope="session")
def influxd(services_dir: Path) -> Iterator[ServiceHandle]:
    h = services.start_influxd(services_dir / "influxdb")
    yield h
    services.stop_service(h)


@pytest.fixture
def influx_db(influxd: ServiceHandle) -> str:
    """A fresh database on the shared influxd, so tests never see each other's points."""
    name = "t_" + uuid.uuid4().hex[:12]
    services.influx_query(influxd.url, f'CREATE DATABASE "{name}"', method="POST")
    return name


@pytest.fixture
def own_mosquitto(tmp_path: Path) -> Iterator[ServiceHandle]:
    h = services.start_mosquitto(tmp_path / "own-mosquitto")
    yield h
    services.stop_service(h)  # also after a test restarted it (new PID, same data dir)


@pytest.fixture
def own_influxd(tmp_path: Path) -> Iterator[ServiceHandle]:
    h = services.start_influxd(tmp_path / "own-influxdb", database="groundwatch")
    yield h
    services.stop_service(h)  # also after a test restarted it (new PID, same data dir)
