"""The console model: events, monitor snapshots and MQTT payloads into link states and values."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from groundwatch.console.state import ConsoleModel, KeyParameter, parse_time
from groundwatch.console.view import render, render_text
from groundwatch.decoders.api import Limits
from groundwatch.decoders.dictionary import load_dictionary
from groundwatch.model import Event, EventType, LimitState, Severity

REPO = Path(__file__).resolve().parents[3]
T0 = 1_700_000_000_000_000_000
S = 1_000_000_000

KEYS = [
    KeyParameter("altitude_estimate", "gnc", "m"),
    KeyParameter("propellant_mass", "propulsion", "kg", Limits(yellow_low=60.0, red_low=20.0)),
]


def model_at(now: list[int]) -> ConsoleModel:
    return ConsoleModel(KEYS, now_ns=lambda: now[0])


def los_event(t: int) -> Event:
    return Event(
        EventType.UNEXPECTED_LOS,
        Severity.CRITICAL,
        t,
        "lander",
        "gs1",
        "UNEXPECTED_LOS lander",
        "no frame",
        "LOS/lander",
        "abc123",
        details={
            "last_good_ns": t - 5 * S,
            "last_values": {"altitude_estimate": 12.5, "propellant_mass": 0.0},
        },
    )


def test_snapshot_gives_links_ages_and_limit_states() -> None:
    now = [T0 + 3 * S]
    m = model_at(now)
    m.on_status(
        {
            "frames": 100,
            "packets": 400,
            "points": 500,
            "rejected": {"bad_crc": 2},
            "store": {"sent": 480, "spool_records": 1, "db_up": True},
            "links": {
                "time": "2023-11-14T22:13:23.000Z",
                "links": [
                    {
                        "spacecraft": "lander",
                        "station": "gs1",
                        "vcid": None,
                        "state": "TRACKING",
                        "since": "2023-11-14T22:13:00.000Z",
                        "last_good": "2023-11-14T22:13:21.000Z",
                        "frames_in_pass": 99,
                        "ground_path_up": True,
                    },
                    {"spacecraft": "lander", "station": "gs1", "vcid": 0, "state": "LOS"},
                ],
                "spacecraft": {
                    "lander": {"last_values": {"propellant_mass": 45.0, "altitude_estimate": 900.0}}
                },
            },
        }
    )
    link = m.links[("lander", "gs1")]
    assert link.state == "TRACKING" and link.frames_in_pass == 99
    assert m.seconds_since_last_frame(link) == 2.0  # T0 is 22:13:20Z
    assert m.values[("lander", "propellant_mass")].limit is LimitState.YELLOW_LOW
    assert m.values[("lander", "altitude_estimate")].limit is None
    assert m.footer.rejected == 2 and m.footer.written == 480 and m.footer.spool_records == 1
    text = render_text(m)
    assert "link lander gs1 TRACKING last frame 2.0 s ago frames 99" in text
    assert "value lander propellant_mass 45.00 kg YELLOW_LOW" in text


def test_los_event_turns_the_link_red_and_logs_once() -> None:
    now = [T0]
    m = model_at(now)
    m.on_link_row("lander", "gs1", "TRACKING", last_frame_ns=T0 - S)
    ev = los_event(T0 + 5 * S)
    m.on_event(ev)
    m.on_event(ev)  # the same alert again (e.g. from a second feed) is logged once
    assert m.links[("lander", "gs1")].state == "LOS"
    assert [a.type for a in m.alerts] == ["UNEXPECTED_LOS"]
    assert m.values[("lander", "propellant_mass")].limit is LimitState.RED_LOW
    now[0] = T0 + 10 * S
    assert m.seconds_since_last_frame(m.links[("lander", "gs1")]) == 10.0
    out = io.StringIO()
    Console(file=out, width=120, force_terminal=False).print(render(m))
    screen = out.getvalue()
    assert "LOS" in screen and "UNEXPECTED_LOS lander" in screen and "CRITICAL" in screen


def test_mqtt_state_and_event_payloads() -> None:
    now = [T0]
    m = model_at(now)
    m.on_state_payload(
        "groundwatch/state/lander/gs1",
        {
            "spacecraft": "lander",
            "station": "gs1",
            "state": "AOS",
            "since": "2023-11-14T22:13:20.000Z",
            "active": {},
        },
    )
    assert m.links[("lander", "gs1")].state == "TRACKING"
    alert = {
        "id": "x1",
        "notification": "new",
        "type": "LOS",
        "severity": "warning",
        "spacecraft": "lander",
        "station": "gs1",
        "title": "LOS lander",
        "time_ns": T0 + 7 * S,
        "details": {"last_good_ns": T0 + 2 * S},
    }
    m.on_state_payload(
        "groundwatch/state/lander/gs1",
        {
            "spacecraft": "lander",
            "station": "gs1",
            "state": "LOS",
            "since": "2023-11-14T22:13:27.000Z",
            "last": alert,
            "active": {},
        },
    )
    m.on_alert_payload(alert)  # the same alert on the event topic: not logged twice
    assert m.links[("lander", "gs1")].state == "LOS"
    assert len(m.alerts) == 1 and m.alerts[0].title == "LOS lander"
    m.on_state_payload("groundwatch/state/ground/gs1", {"state": "GROUND_PATH_DOWN"})
    assert m.links[("lander", "gs1")].shown_state == "GROUND_PATH_DOWN"


def test_key_parameters_from_the_demo_dictionary() -> None:
    d = load_dictionary(REPO / "missions" / "demo-lander.yaml")
    m = ConsoleModel.from_dictionary(d)
    names = [p.name for p in m.key_parameters]
    assert "altitude_estimate" in names and "propellant_mass" in names
    prop = next(p for p in m.key_parameters if p.name == "propellant_mass")
    assert prop.unit == "kg" and prop.limits is not None and prop.packet == "propulsion"


def test_parse_time() -> None:
    assert parse_time("2023-11-14T22:13:20.250Z") == T0 + 250_000_000
    assert parse_time(None) is None and parse_time("bad") is None
    assert parse_time(5) == 5
