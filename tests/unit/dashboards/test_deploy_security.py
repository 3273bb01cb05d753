"""The compose stack exposes only what it must: TLS broker and database on loopback unless
opted in, an ACL, and no secret on any command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from groundwatch.broker_auth import mosquitto_acl
from tests.unit.dashboards.test_deploy import SECRETS, compose_config, conf_lines, filled_env

REPO = Path(__file__).resolve().parents[3]


def stack(tmp_path: Path, **extra: str) -> dict[str, Any]:
    env = filled_env(tmp_path)
    env.write_text(env.read_text() + "".join(f"{k}={v}\n" for k, v in extra.items()))
    result = compose_config(env)
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def published(service: dict[str, Any]) -> list[str]:
    out = []
    for p in service.get("ports", []):
        if isinstance(p, dict):  # compose v2 long syntax
            out.append(f"{p.get('host_ip', '0.0.0.0')}:{p['published']}:{p['target']}")
        else:
            out.append(str(p).removesuffix("/tcp"))
    return out


def test_broker_and_database_listen_on_loopback_unless_opted_in(tmp_path: Path) -> None:
    s = stack(tmp_path)["services"]
    assert published(s["mosquitto"]) == ["127.0.0.1:8883:8883"]  # TLS only
    assert published(s["influxdb"]) == ["127.0.0.1:8086:8086"]
    opened = stack(tmp_path, MQTT_BIND="0.0.0.0", INFLUXDB_BIND="0.0.0.0")["services"]
    assert published(opened["mosquitto"]) == ["0.0.0.0:8883:8883"]


def test_no_secret_on_a_command_line(tmp_path: Path) -> None:
    s = stack(tmp_path)["services"]
    values = [f"test-{k.lower()}" for k in SECRETS]
    for name, service in s.items():
        argv = json.dumps([service.get("command"), service.get("healthcheck", {}).get("test")])
        for v in values:
            assert v not in argv, (name, v)
        assert "-b" not in (service.get("command") or []), name
    # the simulator's password comes from the environment, its URL names the station only
    sim = s["simulator"]
    assert "mqtt://gs1@mosquitto:1883" in sim["command"]
    assert "GROUNDWATCH_MQTT_PASSWORD" in sim["environment"]


def test_broker_has_a_tls_listener_passwords_and_the_acl() -> None:
    conf = conf_lines(REPO / "deploy/mosquitto/mosquitto.conf")
    assert conf["listener"] == ["8883", "1883"]
    assert conf["acl_file"] == ["/mosquitto/config/acl"]
    assert conf["certfile"] == ["/mosquitto/certs/server.crt"]
    assert conf["allow_anonymous"] == ["false"]


@pytest.mark.parametrize("user", ["groundwatch", "gs1", "op1"])
def test_deploy_acl_matches_the_rules_of_the_test_broker(user: str) -> None:
    def blocks(text: str) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        current = None
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("user "):
                current = line.split()[1]
                out[current] = set()
            elif line.startswith("topic ") and current:
                out[current].add(line)
        return out

    deploy = blocks((REPO / "deploy/mosquitto/acl").read_text())
    generated = blocks(mosquitto_acl("groundwatch", ["gs1"], ["op1"]))
    assert deploy[user] == generated[user]
