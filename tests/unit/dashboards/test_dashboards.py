"""The generated dashboards: SDK round trip, datasources, limits, units, enums, variables."""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as model

from groundwatch.dashboards import export, pass_replay, provisioning, spacecraft
from groundwatch.dashboards import panels as p
from groundwatch.decoders.api import ParameterInfo, TelemetryDictionary
from tests.unit.dashboards.dictionary_fixture import lander

REPO = Path(__file__).resolve().parents[3]


@functools.cache
def dictionaries() -> tuple[TelemetryDictionary, ...]:
    demo = export.load_dictionaries(sorted((REPO / "missions").glob("*.yaml")))
    return (lander(), *demo)


@functools.cache
def generated() -> dict[str, dict[str, Any]]:
    return export.dashboards(list(dictionaries()))


def all_panels(d: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in d["panels"]:
        yield panel
        yield from panel.get("panels", [])


def data_panels(d: dict[str, Any]) -> list[dict[str, Any]]:
    return [x for x in all_panels(d) if x["type"] != "row"]


def find_refs(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if "datasource" in node and isinstance(node["datasource"], dict):
            yield node["datasource"]
        for v in node.values():
            yield from find_refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from find_refs(v)


def test_a_link_overview_and_two_dashboards_per_dictionary() -> None:
    names = set(generated())
    assert "link-overview.json" in names
    for d in dictionaries():
        assert f"spacecraft-{spacecraft.slug(d.mission)}.json" in names
        assert f"pass-replay-{spacecraft.slug(d.mission)}.json" in names
    assert "spacecraft-demo-lander.json" in names  # the shipped mission is covered


@pytest.mark.parametrize("name", sorted(generated()))
def test_round_trips_through_the_sdk_models(name: str) -> None:
    data = generated()[name]
    back = json.loads(json.dumps(model.Dashboard.from_json(data), cls=JSONEncoder))
    # The SDK's AnnotationTarget models only Grafana's built-in source: the InfluxDB query of
    # an annotation does not survive (checked on the JSON in the annotation test below).
    a, b = copy.deepcopy(data), back
    for d in (a, b):
        for anno in d["annotations"]["list"]:
            anno.pop("target", None)
    assert a == b


@pytest.mark.parametrize("name", sorted(generated()))
def test_only_provisioned_datasources(name: str) -> None:
    defined = provisioning.defined_datasource_uids(provisioning.datasource_config())
    refs = list(find_refs(generated()[name]))
    assert refs
    assert {r["uid"] for r in refs} <= defined
    assert {r["type"] for r in refs} == {"influxdb"}


@pytest.mark.parametrize("name", sorted(generated()))
def test_panel_queries_use_grafana_macros(name: str) -> None:
    d = generated()[name]
    ids = [x["id"] for x in all_panels(d)]
    assert len(ids) == len(set(ids)) and 0 not in ids
    for panel in data_panels(d):
        assert panel["targets"], panel["title"]
        for t in panel["targets"]:
            assert "$timeFilter" in t["query"]
            if panel["type"] in ("timeseries", "stat", "state-timeline"):
                assert "GROUP BY time($__interval)" in t["query"], panel["title"]
            assert t["rawQuery"] is True


@pytest.mark.parametrize("name", sorted(generated()))
def test_variables_and_annotations(name: str) -> None:
    d = generated()[name]
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert set(variables) == {"spacecraft", "station", "source"}
    for v in variables.values():
        assert v["query"].startswith("SHOW TAG VALUES FROM ")
        assert v["query"].endswith(f'WITH KEY = "{v["name"]}"')
    annotations = {a["name"]: a for a in d["annotations"]["list"]}
    assert set(annotations) == {"LOS", "Limit violations"}
    for a in annotations.values():
        assert a["datasource"]["uid"] == p.DATASOURCE_UID and a["enable"]
        assert 'FROM "events"' in a["target"]["query"]
        assert a["target"]["titleColumn"] == "title" and a["target"]["textColumn"] == "text"
    assert "LOS" in annotations["LOS"]["target"]["query"]
    assert "LIMIT_ENTER" in annotations["Limit violations"]["target"]["query"]


def test_live_dashboards_refresh_fast_over_the_last_15_minutes() -> None:
    for name, d in generated().items():
        if name.startswith("pass-replay"):
            assert "refresh" not in d or not d["refresh"]
            assert d["templating"]["list"][2]["multi"] is False  # one source at a time
            continue
        assert d["refresh"] in ("1s", "2s", "5s"), name
        assert d["time"] == {"from": "now-15m", "to": "now"}


def panels_of(d: dict[str, Any], param: ParameterInfo) -> list[dict[str, Any]]:
    pattern = re.compile(rf'"{re.escape(param.name)}(_raw|_\d+)?"')
    return [
        x
        for x in data_panels(d)
        if any(
            pattern.search(t["query"]) and f'FROM "{param.packet}"' in t["query"]
            for t in x["targets"]
        )
    ]


@pytest.mark.parametrize("dictionary", dictionaries(), ids=lambda d: d.mission)
def test_every_plotted_parameter_has_panels_with_unit_and_limits(
    dictionary: TelemetryDictionary,
) -> None:
    d = generated()[f"spacecraft-{spacecraft.slug(dictionary.mission)}.json"]
    limited = 0
    for param in dictionary.parameters():
        found = panels_of(d, param)
        if not spacecraft.is_plotted(param):
            assert not found
            continue
        assert found, param.name
        if spacecraft.is_state(param):
            assert {x["type"] for x in found} == {"state-timeline"}, param.name
            if param.enum:
                mapping = found[0]["fieldConfig"]["defaults"]["mappings"][0]["options"]
                assert {int(k): v["text"] for k, v in mapping.items()} == dict(param.enum)
            continue
        types = sorted(x["type"] for x in found)
        expect = ["stat", "timeseries"] if param.key and not param.array_length else ["timeseries"]
        if not any(pr.key for pr in dictionary.parameters() if pr.subsystem == param.subsystem):
            expect = ["stat", "timeseries"] if not param.array_length else ["timeseries"]
        assert types == expect, param.name
        for x in found:
            defaults = x["fieldConfig"]["defaults"]
            assert defaults["unit"] == p.grafana_unit(param.unit)
            steps = defaults["thresholds"]["steps"]
            if param.limits is None:
                assert [s["color"] for s in steps] == [p.GREEN]
                continue
            limited += 1
            values = [s["value"] for s in steps[1:]]
            lim = param.limits
            for edge in (lim.red_low, lim.yellow_low):
                if edge is not None:
                    assert any(v > edge and v - edge <= abs(edge) * 1e-12 + 1e-300 for v in values)
            for edge in (lim.yellow_high, lim.red_high):
                if edge is not None:
                    assert edge in values
    if any(pr.limits for pr in dictionary.parameters()):
        assert limited


def test_subsystem_rows_in_dictionary_order() -> None:
    d = generated()["spacecraft-fixture-lander.json"]
    rows = [x["title"] for x in d["panels"] if x["type"] == "row"]
    assert rows == [
        "Link",
        "GNC",
        "GNC: all parameters",
        "Propulsion",
        "Propulsion: all parameters",
        "Power",
        "Power: all parameters",
    ]
    collapsed = [x for x in d["panels"] if x["type"] == "row" and x["collapsed"]]
    assert all(x["panels"] for x in collapsed)


def test_replay_url_opens_the_pass() -> None:
    url = pass_replay.replay_url(
        "http://g:3000/", lander(), "replay:p1", 10**18, 10**18 + 5 * 10**9
    )
    assert url == (
        "http://g:3000/d/gw-replay-fixture-lander?from=1000000000000&to=1000000005001"
        "&var-source=replay%3Ap1"
    )
