"""Pass replay: the spacecraft dashboard's panels over one pass, live or replayed.

The ``source`` variable picks ``live`` or a replay session (``replay:<session>``), so a pass
replayed from the archive sits beside what was seen live. No auto-refresh: a pass is history.
The provisioned dashboard opens on the last hour; ``replay_url`` (used by the replay command
and the README) opens it on one pass, and ``build`` can bake a pass's range in for export.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import dashboard as model

from groundwatch.dashboards import link_overview, spacecraft
from groundwatch.decoders.api import TelemetryDictionary

PREFIX = "gw-replay"


def uid(dictionary: TelemetryDictionary) -> str:
    return spacecraft.uid_for(PREFIX, dictionary.mission)


def build(
    dictionary: TelemetryDictionary,
    source: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> dash.Dashboard:
    """The replay dashboard; ``start``/``end`` (aware datetimes) set the range to a pass."""
    time_from = start.isoformat() if start else "now-1h"
    time_to = end.isoformat() if end else "now"
    d = (
        dash.Dashboard(f"groundwatch: {dictionary.mission} pass replay")
        .uid(uid(dictionary))
        .tags(["groundwatch", "replay", spacecraft.slug(dictionary.mission)])
        .time(time_from, time_to)
        .timezone("utc")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .variables(list(spacecraft.variables(dictionary, source_default=source)))
        .annotations(list(spacecraft.p.standard_annotations()))
        .with_row(dash.Row("Link during this pass"))
        .with_panel(link_overview.link_state_timeline())
        .with_panel(
            link_overview.accounting_panel(
                "Frames/s", 'mean("frames_per_s")', "short", "Frames received per second."
            ).span(12)
        )
        .with_panel(link_overview.events_table(height=8).span(12))
    )
    return spacecraft.add_parameter_rows(d, dictionary)


def replay_url(
    grafana: str, dictionary: TelemetryDictionary, source: str, start_ns: int, end_ns: int
) -> str:
    """A link that opens the replay dashboard on one pass of one source."""
    query = urlencode(
        {"from": start_ns // 1_000_000, "to": end_ns // 1_000_000 + 1, "var-source": source}
    )
    return f"{grafana.rstrip('/')}/d/{uid(dictionary)}?{query}"
