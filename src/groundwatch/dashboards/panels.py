"""House-default panel factories: every dashboard builds its panels here, so they look alike.

Built on grafana-foundation-sdk's builders. The SDK (11.6.0) has no InfluxDB query type, so
``InfluxQuery`` is a dataquery of our own, registered with the SDK's runtime under the
datasource type ``influxdb`` (the SDK's generic dataquery mechanism); that registration is what
lets a dashboard JSON be read back into the SDK's models without losing its queries.

Every query is raw InfluxQL (served by InfluxDB 1.x, and 2.x/3.x through their v1 API), filtered
by the dashboard variables with Grafana's regex form (``"station" =~ /^$station$/``), which
Grafana renders for multi-value variables as an escaped alternation ``(a|b)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Self

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import stat, statetimeline, table, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

from groundwatch.decoders.api import Limits
from groundwatch.influxql import quote_ident

# The one datasource every panel uses; provisioning.py defines it with this uid.
DATASOURCE_UID = "groundwatch-influxdb"
DATASOURCE_TYPE = "influxdb"
DATASOURCE_NAME = "groundwatch InfluxDB"

GREEN = "green"
YELLOW = "#EAB839"
RED = "red"
GREY = "#8e8e8e"
BLUE = "blue"

# Dictionary unit -> Grafana unit id. Units Grafana does not know keep their text as a suffix.
GRAFANA_UNITS: dict[str, str] = {
    "m": "lengthm",
    "km": "lengthkm",
    "mm": "lengthmm",
    "m/s": "velocityms",
    "km/h": "velocitykmh",
    "m/s2": "accMS2",
    "m/s^2": "accMS2",
    "m/s²": "accMS2",
    "g": "accG",
    "kg": "masskg",
    "V": "volt",
    "mV": "mvolt",
    "kV": "kvolt",
    "A": "amp",
    "mA": "mamp",
    "W": "watt",
    "kW": "kwatt",
    "Wh": "watth",
    "J": "joule",
    "%": "percent",
    "degC": "celsius",
    "°C": "celsius",
    "C": "celsius",
    "K": "kelvin",
    "degF": "fahrenheit",
    "Pa": "pressurepa",
    "kPa": "pressurekpa",
    "hPa": "pressurehpa",
    "bar": "pressurebar",
    "psi": "pressurepsi",
    "dB": "dB",
    "dBm": "dBm",
    "deg": "degree",
    "°": "degree",
    "rad": "radian",
    "deg/s": "suffix: °/s",
    "Hz": "hertz",
    "kHz": "hertz",  # replaced below: Grafana's hertz scales itself; kHz keeps a suffix
    "s": "s",
    "ms": "ms",
    "us": "µs",
    "ns": "ns",
    "B": "bytes",
    "bit/s": "bps",
    "bps": "bps",
    "rpm": "rotrpm",
    "L": "litre",
    "kg/s": "suffix: kg/s",
}
GRAFANA_UNITS["kHz"] = "suffix: kHz"


def grafana_unit(unit: str | None) -> str:
    """The Grafana unit id for a dictionary unit; ``suffix: <unit>`` when Grafana has none."""
    if not unit:
        return "none"
    return GRAFANA_UNITS.get(unit, f"suffix: {unit}")


def datasource() -> model.DataSourceRef:
    return model.DataSourceRef(type_val=DATASOURCE_TYPE, uid=DATASOURCE_UID)


class InfluxQuery(cogvariants.Dataquery):
    """A raw InfluxQL panel query, as Grafana's InfluxDB datasource stores it."""

    def __init__(
        self,
        query: str = "",
        ref_id: str = "A",
        result_format: str = "time_series",
        alias: str | None = None,
        datasource_ref: model.DataSourceRef | None = None,
    ) -> None:
        self.query = query
        self.ref_id = ref_id
        self.result_format = result_format
        self.alias = alias
        self.datasource = datasource_ref

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "refId": self.ref_id,
            "query": self.query,
            "rawQuery": True,
            "resultFormat": self.result_format,
        }
        if self.alias is not None:
            out["alias"] = self.alias
        if self.datasource is not None:
            out["datasource"] = self.datasource
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        ds = data.get("datasource")
        return cls(
            query=data.get("query", ""),
            ref_id=data.get("refId", "A"),
            result_format=data.get("resultFormat", "time_series"),
            alias=data.get("alias"),
            datasource_ref=model.DataSourceRef.from_json(ds) if ds else None,
        )


class InfluxQueryBuilder(cogbuilder.Builder[cogvariants.Dataquery]):
    def __init__(self, query: InfluxQuery) -> None:
        self._query = query

    def build(self) -> cogvariants.Dataquery:
        return self._query


def register_influx_dataquery() -> None:
    """Teach the SDK's runtime to read InfluxDB targets back (idempotent)."""
    cogruntime.register_dataquery_variant(
        cogruntime.DataqueryConfig(identifier=DATASOURCE_TYPE, from_json_hook=InfluxQuery.from_json)
    )


register_influx_dataquery()


def target(
    query: str, ref_id: str = "A", alias: str | None = None, result_format: str = "time_series"
) -> InfluxQueryBuilder:
    return InfluxQueryBuilder(
        InfluxQuery(query, ref_id, result_format, alias, datasource_ref=datasource())
    )


# --- query text ---------------------------------------------------------------------------


def tag_filter(*tags: str) -> str:
    """``"t" =~ /^$t$/ AND ...``: each tag filtered by the dashboard variable of its name."""
    return " AND ".join(f"{quote_ident(t)} =~ /^${t}$/" for t in tags)


def series_query(
    select: str,
    measurement: str,
    tags: Sequence[str],
    group_by_tags: Sequence[str] = (),
    fill: str = "null",
    extra_where: str = "",
) -> str:
    """A time-bucketed InfluxQL query: ``$timeFilter`` and ``GROUP BY time($__interval)``."""
    where = tag_filter(*tags)
    if extra_where:
        where = f"{where} AND {extra_where}" if where else extra_where
    where = f"({where}) AND $timeFilter" if where else "$timeFilter"
    group = ", ".join(["time($__interval)", *(quote_ident(t) for t in group_by_tags)])
    return (
        f"SELECT {select} FROM {quote_ident(measurement)} WHERE {where} "
        f"GROUP BY {group} fill({fill})"
    )


def alias_for(group_by_tags: Sequence[str], prefix: str = "") -> str:
    parts = " ".join(f"$tag_{t}" for t in group_by_tags)
    return f"{prefix} {parts}".strip()


# --- thresholds ---------------------------------------------------------------------------


def limit_steps(limits: Limits | None) -> list[model.Threshold]:
    """Grafana threshold steps that colour a value exactly as ``Limits.state`` judges it.

    Grafana paints a value with the last step whose value is <= it; our low limits are
    inclusive on the low side (``value <= red_low`` is red), so the step that leaves a low
    limit sits on the next float above it.
    """
    if limits is None:
        return [model.Threshold(value=None, color=GREEN)]
    lo_red, lo_yel = limits.red_low, limits.yellow_low
    base = RED if lo_red is not None else YELLOW if lo_yel is not None else GREEN
    steps = [model.Threshold(value=None, color=base)]
    if lo_red is not None:
        after_red = YELLOW if lo_yel is not None and lo_yel > lo_red else GREEN
        steps.append(model.Threshold(value=math.nextafter(lo_red, math.inf), color=after_red))
    if lo_yel is not None and (lo_red is None or lo_yel > lo_red):
        steps.append(model.Threshold(value=math.nextafter(lo_yel, math.inf), color=GREEN))
    hi_yel, hi_red = limits.yellow_high, limits.red_high
    if hi_yel is not None and (hi_red is None or hi_yel < hi_red):
        steps.append(model.Threshold(value=hi_yel, color=YELLOW))
    if hi_red is not None:
        steps.append(model.Threshold(value=hi_red, color=RED))
    return steps


def thresholds(limits: Limits | None) -> dash.ThresholdsConfig:
    return dash.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps(limit_steps(limits))


def value_mappings(labels: Mapping[int, tuple[str, str | None]]) -> list[model.ValueMapping]:
    """Raw value -> (text, colour) mappings (enums, link states)."""
    options = {
        str(raw): model.ValueMappingResult(text=text, color=color, index=i)
        for i, (raw, (text, color)) in enumerate(sorted(labels.items()))
    }
    return [model.ValueMap(options=options)]


# --- panels -------------------------------------------------------------------------------


def timeseries_panel(
    title: str,
    targets: Sequence[InfluxQueryBuilder],
    unit: str = "none",
    limits: Limits | None = None,
    description: str = "",
    width: int = 12,
    height: int = 8,
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(datasource())
        .unit(unit)
        .span(width)
        .height(height)
        .line_width(1)
        .fill_opacity(10)
        .show_points(common.VisibilityMode.NEVER)
        .span_nulls(False)
        .thresholds(thresholds(limits))
        .thresholds_style(
            common_builders.GraphThresholdsStyleConfig().mode(
                common.GraphThresholdsStyleMode.DASHED
                if limits is not None
                else common.GraphThresholdsStyleMode.OFF
            )
        )
    )
    return panel.targets(list(targets))


def stat_panel(
    title: str,
    targets: Sequence[InfluxQueryBuilder],
    unit: str = "none",
    limits: Limits | None = None,
    mappings: list[model.ValueMapping] | None = None,
    threshold_steps: list[model.Threshold] | None = None,
    description: str = "",
    width: int = 4,
    height: int = 4,
    calc: str = "lastNotNull",
    graph: bool = True,
) -> stat.Panel:
    """Latest value, background coloured by its limit state (or by ``threshold_steps``)."""
    steps = threshold_steps if threshold_steps is not None else limit_steps(limits)
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(datasource())
        .unit(unit)
        .span(width)
        .height(height)
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.AREA if graph else common.BigValueGraphMode.NONE)
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
        .reduce_options(common_builders.ReduceDataOptions().calcs([calc]).values(False))
        .thresholds(dash.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps(steps))
        .color_scheme(dash.FieldColor().mode(model.FieldColorModeId.THRESHOLDS))
    )
    if mappings:
        panel = panel.mappings(mappings)
    return panel.targets(list(targets))


def state_timeline_panel(
    title: str,
    targets: Sequence[InfluxQueryBuilder],
    mappings: list[model.ValueMapping],
    description: str = "",
    width: int = 24,
    height: int = 6,
) -> statetimeline.Panel:
    return (
        statetimeline.Panel()
        .title(title)
        .description(description)
        .datasource(datasource())
        .span(width)
        .height(height)
        .show_value(common.VisibilityMode.AUTO)
        .merge_values(True)
        .fill_opacity(80)
        .mappings(mappings)
        .color_scheme(dash.FieldColor().mode(model.FieldColorModeId.FIXED).fixed_color(GREY))
        .targets(list(targets))
    )


def table_panel(
    title: str,
    targets: Sequence[InfluxQueryBuilder],
    description: str = "",
    width: int = 24,
    height: int = 8,
) -> table.Panel:
    return (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(datasource())
        .span(width)
        .height(height)
        .show_header(True)
        .filterable(True)
        .sort_by([common_builders.TableSortByFieldState().display_name("Time").desc(True)])
        .targets(list(targets))
    )


# --- variables and annotations ------------------------------------------------------------


def tag_variable(
    name: str,
    measurements: str,
    label: str | None = None,
    default: str | None = None,
    multi: bool = True,
) -> dash.QueryVariable:
    """A variable over a tag's values: ``SHOW TAG VALUES FROM ... WITH KEY = "<name>"``.

    ``measurements`` is InfluxQL: a quoted name or a /regex/ over several measurements.
    Multi-value variables offer "All" as ``.*`` (Grafana leaves a custom all value out of
    regex escaping, so it matches every value).
    """
    var = (
        dash.QueryVariable(name)
        .label(label or name)
        .datasource(datasource())
        .query(f"SHOW TAG VALUES FROM {measurements} WITH KEY = {quote_ident(name)}")
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
        .multi(multi)
        .include_all(multi)
    )
    if multi:
        var = var.all_value(".*")
    if default is not None:
        var = var.current(model.VariableOption(text=default, value=default, selected=True))
    elif multi:
        var = var.current(model.VariableOption(text="All", value="$__all", selected=True))
    return var


class InfluxAnnotationQuery(model.AnnotationQuery):
    """An annotation from InfluxQL rows (title/text/tags columns), as Grafana's InfluxDB
    datasource reads it. The SDK's ``AnnotationTarget`` only models the built-in Grafana
    source, so the InfluxDB fields are written here; reading the JSON back into the SDK's
    models keeps the annotation but not these fields (tests check them on the JSON)."""

    def __init__(self, name: str, query: str, color: str, tags_column: str) -> None:
        super().__init__(name=name, datasource=datasource(), enable=True, icon_color=color)
        self.query = query
        self.tags_column = tags_column

    def to_json(self) -> dict[str, object]:
        out = super().to_json()
        out["target"] = {
            "query": self.query,
            "rawQuery": True,
            "fromAnnotations": True,
            "titleColumn": "title",
            "textColumn": "text",
            "tagsColumn": self.tags_column,
            "refId": "Anno",
        }
        return out


class InfluxAnnotationBuilder(cogbuilder.Builder[model.AnnotationQuery]):
    def __init__(self, name: str, query: str, color: str, tags_column: str = "type") -> None:
        self._annotation = InfluxAnnotationQuery(name, query, color, tags_column)

    def build(self) -> model.AnnotationQuery:
        return self._annotation


def events_filter() -> str:
    """Events of the selected spacecraft, stations and source. Spacecraft-level events (AOS,
    LOS: no station heard it) carry no station tag and must show whatever station is picked."""
    return (
        f"{tag_filter('spacecraft', 'source')} AND "
        f"({tag_filter('station')} OR {quote_ident('station')} = '')"
    )


def event_annotation(name: str, type_regex: str, color: str) -> InfluxAnnotationBuilder:
    """Events whose type matches ``type_regex`` as annotations on every time series panel.

    Filtered by spacecraft and source only: AOS/LOS and limit events are about the
    spacecraft (LOS means no station hears it any more), whichever station is selected.
    """
    query = (
        'SELECT "title", "text", "type", "station" FROM "events" WHERE '
        f'("type" =~ /{type_regex}/ AND {tag_filter("spacecraft", "source")}) AND $timeFilter'
    )
    return InfluxAnnotationBuilder(name, query, color, tags_column="type,station")


def standard_annotations() -> list[InfluxAnnotationBuilder]:
    """LOS (any kind) and limit events, shown on every time series panel of a dashboard."""
    return [
        event_annotation("LOS", "^(LOS|EXPECTED_LOS|UNEXPECTED_LOS)$", RED),
        event_annotation("Limit violations", "^LIMIT_ENTER$", YELLOW),
    ]
