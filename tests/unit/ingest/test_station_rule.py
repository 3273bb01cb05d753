"""The allowed station name, and sources that refuse a configured name outside it."""

from __future__ import annotations

import pytest

from groundwatch.ingest.base import STATION_NAME_MAX, station_problem
from groundwatch.ingest.kiss_tcp import KissTcpSource
from groundwatch.ingest.mqtt import MqttSource
from groundwatch.ingest.udp import UdpSource
from groundwatch.parts import ConfigError


@pytest.mark.parametrize("name", ["gs1", "a", "GS-2.b_c", "9" * STATION_NAME_MAX])
def test_allowed(name: str) -> None:
    assert station_problem(name) is None


@pytest.mark.parametrize(
    "name",
    ["", "a\\b", "a/b", "q\"uo'te", "sta tion", ".", "..", "-x", "_x", "é", "x" * 65, "a\nb"],
)
def test_refused(name: str) -> None:
    problem = station_problem(name)
    assert problem is not None and len(problem) < 200


@pytest.mark.parametrize("cls", [MqttSource, UdpSource, KissTcpSource])
def test_a_configured_station_outside_the_rule_is_a_config_error(cls: type) -> None:
    with pytest.raises(ConfigError, match=r"sources\[0\]\.station"):
        cls.from_config({"station": "a\\b"})
