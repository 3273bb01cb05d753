"""/health and /metrics: every name from the wire is a label value, escaped by
prometheus_client; the page parses as Prometheus text whatever a station is called."""

from __future__ import annotations

from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from groundwatch.rejects import RejectReason, seeded
from groundwatch.store.health import HealthServer, render_metrics


def samples(page: bytes | str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = page.decode() if isinstance(page, bytes) else page
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def status(stations: list[str]) -> dict[str, Any]:
    return {
        "frames": 7,
        "store": {"spool_bytes": 3, "db_up": True, "url": "http://x"},
        "rejected": seeded({"bad_crc": 2}),
        "stations": {s: {"first": i + 1, "duplicates": 0} for i, s in enumerate(stations)},
        "sources": {"mqtt": {"received": 9}},
        "link": [
            {"spacecraft": "sc", "station": s, "vcid": None, "frames": i + 1}
            for i, s in enumerate(stations)
        ],
        "links": {
            "links": [{"spacecraft": "sc", "station": stations[0], "state": "AOS", "vcid": 0}],
            "stations": {
                s: {"ground_path_up": True, "status": {"evil name{": 1, "temp": 20}}
                for s in stations
            },
            "spacecraft": {"sc": {"in_contact": False, "frames_in_pass": 4}},
        },
        "alerts": {"active": 1, "sinks": {"log": {"sent": 2}}},
    }


def test_fixed_keys_become_names_and_booleans_numbers() -> None:
    got = samples(render_metrics(status(["gs1"])))
    assert got[("groundwatch_frames", ())] == 7
    assert got[("groundwatch_store_spool_bytes", ())] == 3
    assert got[("groundwatch_store_db_up", ())] == 1
    assert not any(name == "groundwatch_store_url" for name, _ in got)
    assert got[("groundwatch_source_received", (("source", "mqtt"),))] == 9
    assert got[("groundwatch_alerts_active", ())] == 1
    assert got[("groundwatch_alert_sink_sent", (("sink", "log"),))] == 2
    assert got[("groundwatch_spacecraft_frames_in_pass", (("spacecraft", "sc"),))] == 4


def test_every_reject_reason_is_on_the_page_from_zero() -> None:
    got = samples(render_metrics(status(["gs1"])))
    for reason in RejectReason:
        want = 2 if reason is RejectReason.BAD_CRC else 0
        assert got[("groundwatch_rejected", (("reason", reason.value),))] == want


def test_hostile_station_names_are_escaped_labels_never_metric_names() -> None:
    names = ["q\"uo'te\\", "sta tion", "sta_tion", "new\nline"]
    page = render_metrics(status(names))
    got = samples(page)  # parses: the quote, backslash and newline are escaped
    for i, name in enumerate(names):
        assert got[("groundwatch_station_first", (("station", name),))] == i + 1
        assert got[("groundwatch_link_station_ground_path_up", (("station", name),))] == 1
        labels = (("spacecraft", "sc"), ("station", name))
        assert got[("groundwatch_link_frames", labels)] == i + 1
    # "sta tion" and "sta_tion" are two series of one metric, not one colliding name.
    assert len({k for k in got if k[0] == "groundwatch_station_first"}) == len(names)
    assert not any("sta_tion" in name or "uo" in name for name, _ in got)
    # A heartbeat payload's keys come from the station: never metric names.
    assert not any("evil" in name or "temp" in name for name, _ in got)


async def test_server_serves_health_and_metrics() -> None:
    srv = HealthServer("127.0.0.1:0", lambda: status(['q"uo\'te\\', "sta tion", "sta_tion"]))
    await srv.start()
    try:
        async with aiohttp.ClientSession() as s:
            async with s.get(f"http://127.0.0.1:{srv.port}/health") as r:
                health = await r.json()
                assert health["stations"]["sta tion"]["first"] == 2
            async with s.get(f"http://127.0.0.1:{srv.port}/metrics") as r:
                assert r.headers["Content-Type"].startswith("text/plain")
                got = samples(await r.text())
    finally:
        await srv.stop()
    assert got[("groundwatch_station_first", (("station", 'q"uo\'te\\'),))] == 1
    assert got[("groundwatch_frames", ())] == 7


def test_station_radio_figures_are_labelled_per_link() -> None:
    page = {"radio": [{"spacecraft": "sc", "station": 'q"uo\\te', "rssi_dbm_mean": -105.5}]}
    got = samples(render_metrics(page))
    labels = (("spacecraft", "sc"), ("station", 'q"uo\\te'))
    assert got[("groundwatch_radio_rssi_dbm_mean", labels)] == -105.5
