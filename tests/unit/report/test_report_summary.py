"""Report facts and plots from a hand-made pass (no database)."""

from __future__ import annotations

import json

from groundwatch.console.state import KeyParameter
from groundwatch.decoders.api import Limits
from groundwatch.report.html import render_html
from groundwatch.report.plots import all_plots, divergence_start
from groundwatch.report.query import PassData, Series, session_source
from groundwatch.report.summary import summarize, summary_lines, value_at

S = 1_000_000_000
T0 = 1_767_261_600_000_000_000
KEYS = [
    KeyParameter("altitude_estimate", "gnc", "m"),
    KeyParameter("rangefinder_altitude", "gnc", "m"),
    KeyParameter("propellant_mass", "propulsion", "kg", Limits(yellow_low=60.0, red_low=20.0)),
]


def hand_made_pass() -> PassData:
    n = 100
    times = [T0 + i * S for i in range(n)]
    est = [max(0.0, 3000.0 - 60.0 * i) for i in range(n)]  # believes it is down at i=50
    rng = [3000.0 - 20.0 * i for i in range(n)]  # still 1000 m up at the end
    prop = [max(0.0, 100.0 - 1.5 * i) for i in range(n)]  # empty at i=67
    los_details = {"last_good_ns": times[89], "last_good_time": "x", "frames_in_pass": 90}
    events = [
        {
            "time": T0,
            "type": "AOS",
            "severity": "info",
            "station": "gs1",
            "title": "AOS",
            "recovery": True,
            "details": "{}",
        },
        {
            "time": T0 + 30 * S,
            "type": "LIMIT_ENTER",
            "severity": "warning",
            "station": "gs1",
            "title": "propellant_mass yellow_low",
            "details": json.dumps({"parameter": "propellant_mass", "level": "yellow_low"}),
        },
        {
            "time": times[89] + 5 * S,
            "type": "UNEXPECTED_LOS",
            "severity": "critical",
            "station": "gs1",
            "title": "UNEXPECTED_LOS lander",
            "details": json.dumps(los_details),
        },
    ]
    state_rows = [
        {
            "time": t,
            "state": 3 if i < 95 else 1,
            "seconds_since_last_frame": 0.5 if i < 90 else float(i - 89),
        }
        for i, t in enumerate(times)
    ]
    link_rows = [
        {
            "time": t,
            "frames": i + 1,
            "valid_frames": i + 1,
            "crc_failures": i // 10,
            "frames_per_s": 1.0,
        }
        for i, t in enumerate(times)
    ]
    return PassData(
        source="replay:s1",
        spacecraft="lander",
        start_ns=T0,
        end_ns=times[-1],
        link_state={"gs1": state_rows},
        link={"gs1/vc0": link_rows},
        events=events,
        params={
            "altitude_estimate": Series(times, est),
            "rangefinder_altitude": Series(times, rng),
            "propellant_mass": Series(times, prop),
        },
        key_parameters=KEYS,
    )


def test_facts_of_a_failed_descent() -> None:
    data = hand_made_pass()
    facts = summarize(data)
    (los,) = facts["los"]
    assert los["expected"] is False and los["time_ns"] == T0 + 94 * S
    assert facts["last_values_time"] == "2026-01-01T10:01:29.000Z"  # the last good frame
    assert facts["last_values"]["altitude_estimate"]["value"] == 0.0
    assert facts["last_values"]["rangefinder_altitude"]["value"] == 3000.0 - 20.0 * 89
    assert facts["frames"]["frames"] == 100 and facts["frames"]["crc_failures"] == 9
    assert [s["recovered"] for s in facts["silences"]] == [False]
    assert facts["limit_violations"][0]["parameter"] == "propellant_mass"
    assert any("disagree by 1,220.0 m" in f for f in facts["findings"])
    assert any(
        f.startswith("propellant_mass exhausted at 2026-01-01T10:01:06") for f in facts["findings"]
    )
    text = "\n".join(summary_lines(facts))
    assert "UNEXPECTED_LOS 2026-01-01T10:01:34.000Z (UNEXPECTED)" in text


def test_plots_and_page() -> None:
    data = hand_made_pass()
    plots = all_plots(data)
    assert list(plots) == [
        "link_state.png",
        "frame_rate.png",
        "altitude_estimate_rangefinder_altitude.png",
        "propellant_mass.png",
    ]
    assert all(p.startswith(b"\x89PNG") and len(p) > 5000 for p in plots.values())
    page = render_html(data, summarize(data), plots)
    assert page.count("data:image/png;base64,") == 4 and "Unexpected loss of signal" in page


def test_helpers() -> None:
    s = Series([1, 2, 3], [10.0, 20.0, 30.0])
    assert value_at(s, 2) == (2, 20.0) and value_at(s, 0) is None and value_at(s, 9) == (3, 30.0)
    a = Series([1, 2, 3, 4], [100.0, 100.0, 10.0, 5.0])
    b = Series([1, 2, 3, 4], [100.0, 99.0, 90.0, 80.0])
    assert divergence_start(a, b) == 3
    assert session_source("live") == "live" and session_source("p1") == "replay:p1"
    assert session_source("replay:p1") == "replay:p1"
