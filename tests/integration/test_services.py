from __future__ import annotations

from groundwatch import services
from groundwatch.services import ServiceHandle


def test_influxd_answers_ping_with_v1_version(influxd: ServiceHandle) -> None:
    version = services.influx_ping(influxd.url)
    assert version is not None and version.startswith("1.")


def test_mosquitto_accepts_connections(mosquitto: ServiceHandle) -> None:
    assert services.port_open(mosquitto.port)


def test_stop_pid_ends_a_stopped_process(own_influxd: ServiceHandle) -> None:
    import os
    import signal

    os.kill(own_influxd.pid, signal.SIGSTOP)
    services.stop_pid(own_influxd.pid)
    assert not services.pid_alive(own_influxd.pid)


def test_stop_service_stops_a_restarted_service(tmp_path: object) -> None:
    from pathlib import Path

    first = services.start_mosquitto(Path(str(tmp_path)) / "m")
    second = services.restart(first)
    assert second.pid != first.pid and services.pid_alive(second.pid)
    services.stop_service(first)  # the handle a fixture kept names the old PID
    assert not services.pid_alive(second.pid)
