"""House-default panel pieces: unit ids, limit thresholds, the InfluxDB dataquery."""

from __future__ import annotations

import math

from grafana_foundation_sdk.models import units
from hypothesis import given
from hypothesis import strategies as st

from groundwatch.dashboards import panels as p
from groundwatch.decoders.api import Limits
from groundwatch.model import LimitState

COLOUR = {
    LimitState.NOMINAL: p.GREEN,
    LimitState.YELLOW_LOW: p.YELLOW,
    LimitState.YELLOW_HIGH: p.YELLOW,
    LimitState.RED_LOW: p.RED,
    LimitState.RED_HIGH: p.RED,
}


def grafana_colour(steps: list, value: float) -> str:  # type: ignore[type-arg]
    """Grafana's rule: the last step whose value is <= the value (the first has none)."""
    colour = steps[0].color
    for step in steps[1:]:
        if value >= step.value:
            colour = step.color
    return str(colour)


def test_units_map_to_grafana_unit_ids() -> None:
    known = {v for k, v in vars(units).items() if isinstance(v, str) and not k.startswith("_")}
    expected = {
        "m": "lengthm",
        "m/s": "velocityms",
        "kg": "masskg",
        "V": "volt",
        "A": "amp",
        "%": "percent",
        "degC": "celsius",
        "kPa": "pressurekpa",
        "dBm": "dBm",
        "deg": "degree",
    }
    for unit, grafana in expected.items():
        assert p.grafana_unit(unit) == grafana
    for unit, grafana in p.GRAFANA_UNITS.items():
        assert grafana in known or grafana.startswith("suffix: "), (unit, grafana)


def test_units_grafana_lacks_become_suffixes() -> None:
    assert p.grafana_unit("N") == "suffix: N"
    assert p.grafana_unit("nT") == "suffix: nT"
    assert p.grafana_unit(None) == "none"


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@st.composite
def limits(draw: st.DrawFn) -> Limits:
    a, b, c, d = sorted(draw(st.lists(finite, min_size=4, max_size=4, unique=True)))
    pick = draw(st.lists(st.booleans(), min_size=4, max_size=4))
    return Limits(
        red_low=a if pick[0] else None,
        yellow_low=b if pick[1] else None,
        yellow_high=c if pick[2] else None,
        red_high=d if pick[3] else None,
    )


@given(limits(), finite)
def test_threshold_colour_equals_limit_state_everywhere(lim: Limits, value: float) -> None:
    steps = p.limit_steps(lim)
    assert grafana_colour(steps, value) == COLOUR[lim.state(value)]


@given(limits())
def test_threshold_colour_equals_limit_state_at_each_limit(lim: Limits) -> None:
    steps = p.limit_steps(lim)
    for edge in (lim.red_low, lim.yellow_low, lim.yellow_high, lim.red_high):
        if edge is None:
            continue
        for v in (math.nextafter(edge, -math.inf), edge, math.nextafter(edge, math.inf)):
            assert grafana_colour(steps, v) == COLOUR[lim.state(v)], (lim, v)


def test_no_limits_is_all_green() -> None:
    assert [(s.value, s.color) for s in p.limit_steps(None)] == [(None, p.GREEN)]


def test_influx_query_round_trips_through_the_sdk_runtime() -> None:
    from grafana_foundation_sdk.cog import runtime

    q = p.InfluxQuery('SELECT last("x") FROM "y" WHERE $timeFilter', "B", "table", "a")
    q.datasource = p.datasource()
    import json

    from grafana_foundation_sdk.cog.encoder import JSONEncoder

    data = json.loads(json.dumps(q, cls=JSONEncoder))
    back = runtime.dataquery_from_json(data, "")
    assert isinstance(back, p.InfluxQuery)
    assert json.loads(json.dumps(back, cls=JSONEncoder)) == data
    assert data["rawQuery"] is True and data["datasource"]["uid"] == p.DATASOURCE_UID


def test_series_query_has_time_filter_interval_and_variable_filters() -> None:
    q = p.series_query('mean("v")', "power", ("spacecraft", "station"), ("station",))
    assert q == (
        'SELECT mean("v") FROM "power" WHERE ("spacecraft" =~ /^$spacecraft$/ AND '
        '"station" =~ /^$station$/) AND $timeFilter GROUP BY time($__interval), "station" '
        "fill(null)"
    )
