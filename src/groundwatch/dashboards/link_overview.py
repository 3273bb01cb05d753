"""Link overview: one per deployment. Is every spacecraft heard, by which station, how well?

Reads the link monitor's ``link_state`` (every second per spacecraft x station), the frame
accounting's ``link`` (per spacecraft x station x virtual channel, once a second; the
stations' own radio metadata per spacecraft x station), ``events`` and ``rejected`` (see
README "InfluxDB schema").
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import dashboard as model

from groundwatch.dashboards import panels as p

UID = "gw-link-overview"
TITLE = "groundwatch: link overview"

# groundwatch.link.state.LinkState as written to link_state.state, with the colour a
# controller expects (a unit test keeps the two in step).
LINK_STATES: dict[int, tuple[str, str | None]] = {
    0: ("NO SIGNAL", p.GREY),
    1: ("LOS", p.RED),
    2: ("AOS", p.BLUE),
    3: ("TRACKING", p.GREEN),
}
LINK_TAGS = ("spacecraft", "station")
# link and link_state carry source too: a replay writes its own link accounting and states.
LINK_FILTER = ("spacecraft", "station", "source")
LINK_ALIAS = "$tag_spacecraft @ $tag_station"
VC_ALIAS = "$tag_spacecraft @ $tag_station vc$tag_vcid"


def link_state_stat(width: int = 6) -> p.stat.Panel:
    q = p.series_query('last("state")', "link_state", LINK_FILTER, LINK_TAGS)
    return p.stat_panel(
        "Link state",
        [p.target(q, alias=LINK_ALIAS)],
        mappings=p.value_mappings(LINK_STATES),
        threshold_steps=[model.Threshold(value=None, color=p.GREY)],
        description="Current state per spacecraft and station (link monitor, every second).",
        width=width,
        graph=False,
    )


def time_since_frame_stat(width: int = 6) -> p.stat.Panel:
    q = p.series_query('last("seconds_since_last_frame")', "link_state", LINK_FILTER, LINK_TAGS)
    return p.stat_panel(
        "Time since last frame",
        [p.target(q, alias=LINK_ALIAS)],
        unit="s",
        threshold_steps=[
            model.Threshold(value=None, color=p.GREEN),
            model.Threshold(value=2, color=p.YELLOW),
            model.Threshold(value=5, color=p.RED),
        ],
        description="Seconds since the last valid frame; red from the default LOS threshold.",
        width=width,
    )


def link_state_timeline() -> p.statetimeline.Panel:
    q = p.series_query('last("state")', "link_state", LINK_FILTER, LINK_TAGS)
    return p.state_timeline_panel(
        "AOS / LOS",
        [p.target(q, alias=LINK_ALIAS)],
        mappings=p.value_mappings(LINK_STATES),
        description="Link state over the selected range; gaps mean groundwatch wrote nothing.",
    )


def accounting_panel(title: str, select: str, unit: str, description: str) -> p.timeseries.Panel:
    """A ``link`` (frame accounting) series per spacecraft x station x virtual channel.

    The accounting writes cumulative counters (reset when groundwatch restarts) plus rates;
    counts per interval come from ``non_negative_difference``, which skips the reset.
    """
    tags = (*LINK_TAGS, "vcid")
    q = p.series_query(select, "link", LINK_FILTER, tags)
    alias = f"$col {VC_ALIAS}" if "," in select else VC_ALIAS  # several columns: name each
    return p.timeseries_panel(
        title, [p.target(q, alias=alias)], unit=unit, description=description, width=8
    )


def station_radio_panel(title: str, field: str, unit: str, description: str) -> p.timeseries.Panel:
    """What each station reported about its reception (station envelopes): the mean over
    each interval, with the interval's lowest and highest."""
    select = (
        f'mean("{field}_mean") AS "mean", min("{field}_min") AS "min", max("{field}_max") AS "max"'
    )
    q = p.series_query(select, "link", LINK_FILTER, LINK_TAGS)
    return p.timeseries_panel(
        title,
        [p.target(q, alias=f"$col {LINK_ALIAS}")],
        unit=unit,
        description=description,
        width=12,
    )


def rejected_panel() -> p.timeseries.Panel:
    q = p.series_query(
        'count("length")', "rejected", ("station", "source"), ("station", "reason"), "0"
    )
    return p.timeseries_panel(
        "Rejected input",
        [p.target(q, alias="$tag_station $tag_reason")],
        unit="short",
        description="Frames and packets that could not be decoded, by reason (kept raw).",
        width=12,
    )


def events_table(height: int = 10) -> p.table.Panel:
    q = (
        'SELECT "severity", "type", "title", "text", "spacecraft", "station", "source" '
        'FROM "events" WHERE ('
        + p.events_filter()
        + ") AND $timeFilter ORDER BY time DESC LIMIT 500"
    )
    return p.table_panel(
        "Events and alerts",
        [p.target(q, result_format="table")],
        description="Link, limit and ground-path events, newest first.",
        height=height,
    )


def link_variables() -> list[dash.QueryVariable]:
    return [
        p.tag_variable("spacecraft", '"link_state"'),
        p.tag_variable("station", '"link_state"'),
        p.tag_variable("source", "/^(link_state|events)$/"),
    ]


def build() -> dash.Dashboard:
    d = (
        dash.Dashboard(TITLE)
        .uid(UID)
        .tags(["groundwatch", "link"])
        .refresh("1s")
        .time("now-15m", "now")
        .timezone("utc")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .timepicker(dash.TimePicker().refresh_intervals(["1s", "2s", "5s", "10s", "30s", "1m"]))
        .variables(list(link_variables()))
        .annotations(list(p.standard_annotations()))
        .with_row(dash.Row("Link state"))
        .with_panel(link_state_stat(12))
        .with_panel(time_since_frame_stat(12))
        .with_panel(link_state_timeline())
        .with_row(dash.Row("Frame accounting"))
        .with_panel(
            accounting_panel(
                "Frames/s",
                'mean("frames_per_s")',
                "short",
                "Frames received per second per virtual channel.",
            )
        )
        .with_panel(
            accounting_panel(
                "CRC failures",
                'non_negative_difference(last("crc_failures")) AS "crc_failures"',
                "short",
                "Frames whose frame error control field did not match, per interval.",
            )
        )
        .with_panel(
            accounting_panel(
                "Frame-count gaps",
                'non_negative_difference(last("frame_gaps")) AS "gaps", '
                'non_negative_difference(last("frames_missing")) AS "frames_missing"',
                "short",
                "Gaps in the virtual-channel frame count and the frames lost in them.",
            )
        )
        .with_panel(
            accounting_panel(
                "Rejected/s",
                'mean("rejected_per_s")',
                "short",
                "Frames and packets that could not be decoded, per second.",
            )
        )
        .with_panel(rejected_panel())
        .with_row(dash.Row("Station reception"))
        .with_panel(
            station_radio_panel(
                "Station RSSI",
                "rssi_dbm",
                "dBm",
                "Received signal strength each station reported with its frames.",
            )
        )
        .with_panel(
            station_radio_panel(
                "Station SNR",
                "snr_db",
                "dB",
                "Signal-to-noise ratio (or Eb/N0) each station reported with its frames.",
            )
        )
        .with_row(dash.Row("Events"))
        .with_panel(events_table())
    )
    return d
