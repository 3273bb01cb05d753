"""Spacecraft dashboard: one per telemetry dictionary, generated from its parameters.

A row per subsystem. Key parameters come first: a stat with the latest value coloured by its
limit state and a time series with the yellow/red limits as thresholds; enumerations and
booleans as state timelines. The other parameters of the subsystem sit in a collapsed row
below it, so every parameter is one click away without crowding what the controller watches.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import dashboard as model

from groundwatch.dashboards import link_overview
from groundwatch.dashboards import panels as p
from groundwatch.decoders.api import ParameterInfo, TelemetryDictionary

TAGS = ("spacecraft", "station", "source")
GROUP = ("spacecraft", "station")
ALIAS = "$tag_spacecraft @ $tag_station"
# Colours for enumeration states, in raw-value order (Grafana's classic palette).
ENUM_PALETTE = ("#7EB26D", "#6ED0E0", "#EF843C", "#E24D42", "#1F78C1", "#BA43A9", "#705DA0")
NOT_PLOTTED = ("string", "bytes", "derived_string")


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "mission"


def uid_for(prefix: str, mission: str) -> str:
    return f"{prefix}-{slug(mission)}"[:40]


def packet_regex(dictionary: TelemetryDictionary) -> str:
    """InfluxQL regex matching every packet measurement of the dictionary."""
    names = "|".join(re.escape(pk.name) for pk in dictionary.packets)
    return f"/^({names})$/"


def is_state(param: ParameterInfo) -> bool:
    return param.enum is not None or param.type in ("enum", "bool")


def is_plotted(param: ParameterInfo) -> bool:
    return param.type not in NOT_PLOTTED


def field_names(param: ParameterInfo) -> list[str]:
    """The InfluxDB fields of a numeric parameter (arrays: one per element)."""
    if param.array_length:
        return [f"{param.name}_{i}" for i in range(param.array_length)]
    return [param.name]


def _title(param: ParameterInfo) -> str:
    return f"{param.name} ({param.unit})" if param.unit else param.name


def stat_for(param: ParameterInfo) -> p.stat.Panel:
    q = p.series_query(f"last({p.quote_ident(param.name)})", param.packet, TAGS, GROUP)
    return p.stat_panel(
        param.name,
        [p.target(q, alias=ALIAS)],
        unit=p.grafana_unit(param.unit),
        limits=param.limits,
        description=param.description,
    )


def timeseries_for(param: ParameterInfo, width: int = 12) -> p.timeseries.Panel:
    fields = field_names(param)
    if len(fields) == 1:
        select = f"mean({p.quote_ident(fields[0])})"
        alias = ALIAS
    else:
        select = ", ".join(f"mean({p.quote_ident(f)}) AS {p.quote_ident(f)}" for f in fields)
        alias = "$col " + ALIAS
    q = p.series_query(select, param.packet, TAGS, GROUP)
    return p.timeseries_panel(
        _title(param),
        [p.target(q, alias=alias)],
        unit=p.grafana_unit(param.unit),
        limits=param.limits,
        description=param.description,
        width=width,
    )


def enum_mappings(param: ParameterInfo) -> list[model.ValueMapping]:
    if not param.enum:
        return []
    labels = {
        raw: (label, ENUM_PALETTE[i % len(ENUM_PALETTE)])
        for i, (raw, label) in enumerate(sorted(param.enum.items()))
    }
    return p.value_mappings(labels)


def timeline_for(param: ParameterInfo, width: int = 12) -> p.statetimeline.Panel:
    """Enumerations plot their raw number (``<name>_raw``) mapped back to label and colour;
    arrays (e.g. four valve flags) one row per element."""
    if param.enum:
        select = f"last({p.quote_ident(param.name + '_raw')})"
        alias = ALIAS
    elif param.array_length:
        select = ", ".join(
            f"last({p.quote_ident(f)}) AS {p.quote_ident(f)}" for f in field_names(param)
        )
        alias = "$col " + ALIAS
    else:
        select = f"last({p.quote_ident(param.name)})"
        alias = ALIAS
    q = p.series_query(select, param.packet, TAGS, GROUP)
    return p.state_timeline_panel(
        param.name,
        [p.target(q, alias=alias)],
        mappings=enum_mappings(param),
        description=param.description,
        width=width,
        height=5,
    )


@dataclass(slots=True)
class Subsystem:
    name: str
    key: list[ParameterInfo] = field(default_factory=list)
    other: list[ParameterInfo] = field(default_factory=list)


def subsystems(dictionary: TelemetryDictionary) -> list[Subsystem]:
    """Parameters grouped by subsystem, in dictionary order."""
    packet_subsystem = {pk.name: pk.subsystem for pk in dictionary.packets}
    groups: dict[str, Subsystem] = {}
    for param in dictionary.parameters():
        if not is_plotted(param):
            continue
        name = param.subsystem or packet_subsystem.get(param.packet) or "Other"
        group = groups.setdefault(name, Subsystem(name))
        (group.key if param.key else group.other).append(param)
    for group in groups.values():
        if not group.key:  # nothing marked key: show everything rather than hide it all
            group.key, group.other = group.other, []
    return list(groups.values())


def panels_for(params: Sequence[ParameterInfo], with_stats: bool) -> list[cogbuilder.Builder]:
    out: list[cogbuilder.Builder] = []
    numeric = [pr for pr in params if not is_state(pr)]
    if with_stats:
        out += [stat_for(pr) for pr in numeric if not pr.array_length]
    out += [timeseries_for(pr) for pr in numeric]
    out += [timeline_for(pr) for pr in params if is_state(pr)]
    return out


def add_parameter_rows(d: dash.Dashboard, dictionary: TelemetryDictionary) -> dash.Dashboard:
    for group in subsystems(dictionary):
        d = d.with_row(dash.Row(group.name))
        for panel in panels_for(group.key, with_stats=True):
            d = d.with_panel(panel)
        if group.other:
            more = dash.Row(f"{group.name}: all parameters").collapsed(True)
            for panel in panels_for(group.other, with_stats=False):
                more = more.with_panel(panel)
            d = d.with_row(more)
    return d


def variables(
    dictionary: TelemetryDictionary, source_default: str | None
) -> list[dash.QueryVariable]:
    measurements = packet_regex(dictionary)
    return [
        p.tag_variable("spacecraft", measurements),
        p.tag_variable("station", measurements),
        p.tag_variable("source", measurements, default=source_default, multi=False),
    ]


def build(dictionary: TelemetryDictionary) -> dash.Dashboard:
    d = (
        dash.Dashboard(f"groundwatch: {dictionary.mission}")
        .uid(uid_for("gw-sc", dictionary.mission))
        .tags(["groundwatch", "spacecraft", slug(dictionary.mission)])
        .refresh("2s")
        .time("now-15m", "now")
        .timezone("utc")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .timepicker(dash.TimePicker().refresh_intervals(["1s", "2s", "5s", "10s", "30s", "1m"]))
        .variables(list(variables(dictionary, source_default="live")))
        .annotations(list(p.standard_annotations()))
        .with_row(dash.Row("Link"))
        .with_panel(link_overview.link_state_stat(8))
        .with_panel(link_overview.time_since_frame_stat(8))
        .with_panel(link_overview.events_table(height=4).span(8))
    )
    return add_parameter_rows(d, dictionary)
