"""The panel queries against data written by the real pipeline from the real simulator.

Two stations hear the demo lander through a real Mosquitto; groundwatch's pipeline decodes
and writes into a real influxd; some random bytes make ``rejected`` points; then the
simulator stops and the link monitor declares LOS. Every panel of the link overview and of
the demo-lander spacecraft dashboard, expanded as Grafana would, must return its series.
(``test_dashboards_queries`` covers replay sources and limit events with a stand-in fill.)
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from groundwatch import services
from groundwatch.dashboards import export
from groundwatch.services import ServiceHandle
from tests.integration import pipeline_helpers as ph
from tests.integration.test_dashboards_queries import check_target, panels, run
from tests.unit.dashboards.grafana_macros import ALL, TimeRange, expand

pytestmark = pytest.mark.integration

STATIONS = ("gs1", "gs-2.b")


async def _fill(mqtt: ServiceHandle, influx: ServiceHandle, db: str, tmp: Path) -> None:
    cfg = ph.write_config(tmp / "gw.toml", mqtt, influx, db, client_id=f"dash-{db}")
    # The stations send JSON envelopes: their radio metadata feeds the reception panels.
    cid = f'client_id = "dash-{db}"\n'
    cfg.write_text(cfg.read_text().replace(cid, cid + 'payload = "json"\n'))
    async with ph.running_pipeline(ph.settings_for(cfg)):
        stations = [a for s in STATIONS for a in ("--station", s)] + ["--envelope", "json"]
        await asyncio.to_thread(ph.simulate, mqtt, tmp / "rec.jsonl", *stations, count=240, rate=40)
        async with aiomqtt.Client("127.0.0.1", mqtt.port, identifier=f"junk-{db}") as client:
            for _ in range(5):
                await client.publish(f"gs/{STATIONS[0]}/frames", os.urandom(40), qos=1)
            # The stations stay alive (heartbeats) while the spacecraft falls silent: past
            # los_threshold (3 s) the monitor raises LOS, not GROUND_PATH_DOWN.
            for _ in range(14):
                for station in STATIONS:
                    await client.publish(f"gs/{station}/status", b'{"status": "ok"}', qos=1)
                await asyncio.sleep(0.5)


@pytest.fixture(scope="module")
def pipeline_db(
    mosquitto: ServiceHandle, influxd: ServiceHandle, tmp_path_factory: pytest.TempPathFactory
) -> str:
    db = "dash_pipe_" + uuid.uuid4().hex[:8]
    services.influx_query(influxd.url, f'CREATE DATABASE "{db}"', method="POST")
    asyncio.run(_fill(mosquitto, influxd, db, tmp_path_factory.mktemp("dash-pipeline")))
    return db


def demo_dashboards() -> dict[str, dict[str, Any]]:
    return export.dashboards(export.load_dictionaries([ph.DEMO_DICTIONARY]))


@pytest.mark.parametrize("name", ["link-overview.json", "spacecraft-demo-lander.json"])
def test_every_panel_returns_pipeline_data(
    influxd: ServiceHandle, pipeline_db: str, name: str
) -> None:
    dashboard = demo_dashboards()[name]
    variables = dashboard["templating"]["list"]
    chosen = {"spacecraft": ["demo-lander"], "station": [ALL], "source": ["live"]}
    for panel in panels(dashboard):
        for target in panel["targets"]:
            q = expand(target["query"], variables, chosen, TimeRange("15m"))
            optional = frozenset({"station"}) if target["resultFormat"] == "table" else frozenset()
            check_target(influxd.url, pipeline_db, q, panel["title"], optional)


def test_los_annotation_and_link_state_from_the_monitor(
    influxd: ServiceHandle, pipeline_db: str
) -> None:
    dashboard = demo_dashboards()["link-overview.json"]
    variables = dashboard["templating"]["list"]
    chosen = {"spacecraft": ["demo-lander"], "station": [STATIONS[1]], "source": ["live"]}
    (los,) = [a for a in dashboard["annotations"]["list"] if a["name"] == "LOS"]
    series = run(
        influxd.url,
        pipeline_db,
        expand(los["target"]["query"], variables, chosen, TimeRange("15m")),
    )
    assert series, "no LOS annotation after the simulator stopped"
    for var in variables:
        values = {
            row[1] for s in run(influxd.url, pipeline_db, var["query"]) for row in s["values"]
        }
        assert values, var["name"]
    states = run(
        influxd.url, pipeline_db, 'SELECT last("state_text") FROM "link_state" GROUP BY "station"'
    )
    assert {s["tags"]["station"] for s in states} == set(STATIONS)
    assert {s["values"][0][1] for s in states} == {"LOS"}
