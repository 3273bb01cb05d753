"""THE query test: every generated panel's InfluxQL, expanded as Grafana would expand it,
runs against a real influxd holding schema-conforming data and returns the series it expects.

The data comes from ``dashboards_data.fill`` (a stand-in for the pipeline, see there).
"""

from __future__ import annotations

import functools
import json
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from groundwatch import services
from groundwatch.dashboards import export, link_overview, provisioning
from groundwatch.decoders.api import TelemetryDictionary
from groundwatch.services import ServiceHandle
from tests.integration.dashboards_data import REPLAY, SPACECRAFT, STATIONS, Filled, fill
from tests.unit.dashboards.dictionary_fixture import lander
from tests.unit.dashboards.grafana_macros import ALL, TimeRange, expand, select_columns

pytestmark = pytest.mark.integration

SECONDS = 120
REPO = Path(__file__).resolve().parents[2]


@functools.cache
def dictionaries() -> list[TelemetryDictionary]:
    """The test fixture and every mission dictionary shipped in missions/ (real loader)."""
    return [lander(), *export.load_dictionaries(sorted((REPO / "missions").glob("*.yaml")))]


@pytest.fixture(scope="module")
def filled(influxd: ServiceHandle) -> Iterator[tuple[str, Filled]]:
    db = "dashboards_" + str(time.time_ns())
    services.influx_query(influxd.url, f'CREATE DATABASE "{db}"', method="POST")
    start = (time.time_ns() // 1_000_000_000 - SECONDS - 60) * 1_000_000_000
    params = [prm for d in dictionaries() for prm in d.parameters()]
    yield db, fill(influxd.url, db, params, start, SECONDS)


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def run(url: str, db: str, q: str) -> list[dict[str, Any]]:
    """Send the query the way the provisioned datasource makes Grafana send it: POST
    (httpMode), form-encoded, with the ``Authorization: Token ...`` header (empty token on the
    docker-free path, where InfluxDB 1.x runs without authentication)."""
    ds = provisioning.datasource_config()["datasources"][0]
    assert ds["jsonData"]["httpMode"] == "POST"
    header = ds["secureJsonData"]["httpHeaderValue1"]
    body = urllib.parse.urlencode({"q": q, "db": db, "epoch": "ms"}).encode()
    req = urllib.request.Request(f"{url}/query", data=body, method="POST")
    req.add_header("Content-Type", "application/x-www-form-urlencoded")
    req.add_header(ds["jsonData"]["httpHeaderName1"], header.replace("${INFLUXDB_TOKEN}", ""))
    with urllib.request.urlopen(req, timeout=30) as resp:
        res = json.loads(resp.read())
    result = res["results"][0]
    assert "error" not in result, f"{q}\n-> {result['error']}"
    return list(result.get("series", []))


def check_target(
    url: str, db: str, query: str, title: str, optional: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """Non-empty series with every selected column, each with a value somewhere (columns in
    ``optional`` may be all null: a spacecraft-level event has no station)."""
    series = run(url, db, query)
    assert series, f"{title}: no series for {query}"
    wanted = select_columns(query)
    for s in series:
        assert s["columns"][0] == "time"
        for col in wanted:
            assert col in s["columns"], f"{title}: column {col} missing in {s['columns']}"
    for col in set(wanted) - optional:
        got = [row[s["columns"].index(col)] for s in series for row in s["values"]]
        assert any(v is not None for v in got), f"{title}: {col} all null for {query}"
    return series


SELECTIONS = {
    "one station": {"spacecraft": [SPACECRAFT], "station": [STATIONS[1]]},
    "both stations": {"spacecraft": [SPACECRAFT], "station": list(STATIONS)},
    "all": {"spacecraft": [ALL], "station": [ALL]},
}


@functools.cache
def all_dashboards() -> dict[str, dict[str, Any]]:
    return export.dashboards(dictionaries())


def dashboards_with_source() -> list[tuple[str, str]]:
    out = [("link-overview.json", "live")]
    for name in all_dashboards():
        if name.startswith("spacecraft-"):
            out.append((name, "live"))
        elif name.startswith("pass-replay-"):
            out.append((name, REPLAY))
    return out


@pytest.mark.parametrize("selection", SELECTIONS)
@pytest.mark.parametrize(("name", "source"), dashboards_with_source())
def test_every_panel_query_returns_its_series(
    influxd: ServiceHandle, filled: tuple[str, Filled], name: str, source: str, selection: str
) -> None:
    db, data = filled
    dashboard = all_dashboards()[name]
    variables = dashboard["templating"]["list"]
    chosen = {**SELECTIONS[selection], "source": [source]}
    ranges = [TimeRange("15m"), TimeRange(None, data.start_ns // 10**6, data.end_ns // 10**6)]
    checked = 0
    for panel in panels(dashboard):
        for target in panel["targets"]:
            for rng in ranges:
                q = expand(target["query"], variables, chosen, rng)
                optional = (
                    frozenset({"station"}) if target["resultFormat"] == "table" else frozenset()
                )
                series = check_target(influxd.url, db, q, panel["title"], optional)
                checked += 1
                if selection == "one station" and "station" in q and "GROUP BY" in q:
                    assert {s["tags"]["station"] for s in series if "tags" in s} <= {STATIONS[1]}, (
                        f"{panel['title']}: the station filter let other stations through"
                    )
                if target["resultFormat"] == "table":
                    sources = {
                        row[s["columns"].index("source")] for s in series for row in s["values"]
                    }
                    assert sources == {source}
    assert checked >= 2 * len(list(panels(dashboard)))


@pytest.mark.parametrize(("name", "source"), dashboards_with_source())
def test_annotations_return_los_and_limit_events(
    influxd: ServiceHandle, filled: tuple[str, Filled], name: str, source: str
) -> None:
    db, _ = filled
    dashboard = all_dashboards()[name]
    variables = dashboard["templating"]["list"]
    chosen = {"spacecraft": [SPACECRAFT], "station": [ALL], "source": [source]}
    names = set()
    for anno in dashboard["annotations"]["list"]:
        q = expand(anno["target"]["query"], variables, chosen, TimeRange("15m"))
        series = run(influxd.url, db, q)
        assert series, f"annotation {anno['name']}: nothing for {q}"
        cols = series[0]["columns"]
        for col in ("title", "text", *anno["target"]["tagsColumn"].split(",")):
            assert col in cols
        types = {row[cols.index("type")] for row in series[0]["values"]}
        names.add(anno["name"])
        assert types <= {"LOS", "EXPECTED_LOS", "UNEXPECTED_LOS", "LIMIT_ENTER"}
        assert len(series[0]["values"]) == 2  # two of each kind per source in the data
    assert names == {"LOS", "Limit violations"}


@pytest.mark.parametrize(("name", "source"), dashboards_with_source())
def test_variables_list_the_tag_values(
    influxd: ServiceHandle, filled: tuple[str, Filled], name: str, source: str
) -> None:
    db, _ = filled
    dashboard = all_dashboards()[name]
    for var in dashboard["templating"]["list"]:
        series = run(influxd.url, db, var["query"])
        values = {row[1] for s in series for row in s["values"]}
        expected = {
            "spacecraft": {SPACECRAFT},
            "station": set(STATIONS),
            "source": {source},
        }[var["name"]]
        assert expected <= values, f"{name} ${var['name']}: {values}"


def test_link_state_mapping_covers_what_the_data_holds(
    influxd: ServiceHandle, filled: tuple[str, Filled]
) -> None:
    db, _ = filled
    series = run(influxd.url, db, 'SELECT DISTINCT("state") FROM "link_state"')
    states = {row[1] for row in series[0]["values"]}
    assert states <= set(link_overview.LINK_STATES)
