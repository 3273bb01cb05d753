"""docker-compose.yml, its config files and .env.example (no Docker engine needed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from groundwatch.config import load_config
from groundwatch.dashboards import provisioning
from groundwatch.ingest.mqtt import MqttSource
from groundwatch.services import MOSQUITTO_LIMITS

REPO = Path(__file__).resolve().parents[3]
SECRETS = ("MQTT_PASSWORD", "INFLUXDB_ADMIN_PASSWORD", "INFLUXDB_TOKEN", "GRAFANA_ADMIN_PASSWORD")


def conf_lines(path: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            out.setdefault(key, []).append(value)
    return out


def test_mosquitto_conf_carries_the_services_limits_auth_and_persistence() -> None:
    conf = conf_lines(REPO / "deploy/mosquitto/mosquitto.conf")
    for key, value in MOSQUITTO_LIMITS.items():
        assert conf.get(key) == [str(value)], key
    assert conf["allow_anonymous"] == ["false"]
    assert conf["password_file"] == ["/mosquitto/auth/passwd"]
    assert conf["persistence"] == ["true"]


def env_example() -> dict[str, str]:
    pairs = {}
    for line in (REPO / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            pairs[key] = value
    return pairs


def test_env_example_ships_no_secret() -> None:
    env = env_example()
    for key in SECRETS:
        assert env[key] == "", f"{key} must be empty in .env.example"


def filled_env(tmp_path: Path) -> Path:
    env = env_example()
    for key in SECRETS:
        env[key] = f"test-{key.lower()}"
    path = tmp_path / "test.env"
    path.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    return path


def compose_cmd() -> list[str]:
    """`docker compose` (v2 plugin) when installed, else Debian's docker-compose (1.29)."""
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    assert legacy, "neither `docker compose` nor docker-compose is installed (apt: docker-compose)"
    return [legacy]


def compose_config(env_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *compose_cmd(),
            "--env-file",
            str(env_file),
            "-f",
            str(REPO / "docker-compose.yml"),
            "config",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )


@pytest.fixture(scope="module")
def compose(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    result = compose_config(filled_env(tmp_path_factory.mktemp("compose")))
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def test_compose_config_accepts_the_stack(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"mosquitto", "influxdb", "groundwatch", "simulator", "grafana"}
    assert services["simulator"]["profiles"] == ["sim"]
    assert services["groundwatch"]["command"] == [
        "run",
        "--config",
        "/etc/groundwatch/groundwatch.toml",
    ]
    assert services["influxdb"]["image"].startswith("influxdb:2")


def test_compose_refuses_to_start_without_secrets(tmp_path: Path) -> None:
    env = tmp_path / "partial.env"
    env.write_text("".join(f"{k}={v}\n" for k, v in env_example().items()))  # secrets empty
    result = compose_config(env)
    assert result.returncode != 0
    assert "in .env" in result.stderr


def test_grafana_gets_everything_the_provisioning_reads(compose: dict[str, Any]) -> None:
    grafana = compose["services"]["grafana"]
    env = grafana["environment"]
    text = "".join(provisioning.files().values())
    for var in ("INFLUXDB_URL", "INFLUXDB_DATABASE", "INFLUXDB_TOKEN"):
        assert "${" + var + "}" in text
        assert env[var], var
    assert env["INFLUXDB_TOKEN"] == "test-influxdb_token"
    mounts = [str(v) for v in grafana["volumes"]]
    assert any("dashboards/provisioning:/etc/grafana/provisioning" in m for m in mounts)
    assert any(f"dashboards/json:{provisioning.DASHBOARDS_PATH}" in m for m in mounts)
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_DASHBOARDS_MIN_REFRESH_INTERVAL"] == "1s"  # the live dashboards' refresh


def test_influxdb_init_maps_the_influxql_database(compose: dict[str, Any]) -> None:
    influx = compose["services"]["influxdb"]
    assert any("/docker-entrypoint-initdb.d" in str(v) for v in influx["volumes"])
    script = (REPO / "deploy/influxdb/init/10-dbrp.sh").read_text()
    assert "influx v1 dbrp create" in script and "--db" in script
    assert (
        influx["environment"]["INFLUXDB_DATABASE"]
        == compose["services"]["grafana"]["environment"]["INFLUXDB_DATABASE"]
    )


def test_groundwatch_config_in_compose_validates(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in compose["services"]["groundwatch"]["environment"].items():
        monkeypatch.setenv(key, str(value))
    settings = load_config(REPO / "deploy/groundwatch.toml")
    assert settings.store.api == "v2" and settings.store.url == "http://influxdb:8086"
    assert settings.store.secret_token() == "test-influxdb_token"
    assert settings.store.org == "groundwatch"
    (source,) = settings.sources
    mqtt = MqttSource.from_config(source.options())
    assert mqtt.cfg.username == "groundwatch"
    assert mqtt.cfg.url == "mqtt://mosquitto:1883"
