"""The stations' radio figures in both consoles, end to end: the simulator publishes JSON
station envelopes through real Mosquitto, the pipeline writes the ``link`` series to real
InfluxDB; the in-process console (``Pipeline.status()``) and the attached one (InfluxQL on
``link``) show the same figures as the series holds."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from groundwatch.console.attach import AttachOptions, InfluxPoller
from groundwatch.console.state import ConsoleModel
from groundwatch.console.view import render_text
from groundwatch.decoders.dictionary import load_dictionary
from groundwatch.services import ServiceHandle

from .pipeline_helpers import DEMO_DICTIONARY, query, running_pipeline, settings_for, simulate
from .pipeline_helpers import wait_for as wait_until
from .test_station_feeds import envelope_config

pytestmark = pytest.mark.integration


async def test_both_consoles_show_the_stations_radio_figures(
    mosquitto: ServiceHandle, influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    cfg = envelope_config(tmp_path, mosquitto, influxd, influx_db, "json")
    dictionary = load_dictionary(DEMO_DICTIONARY)
    inprocess = ConsoleModel.from_dictionary(dictionary)
    n = 150
    async with running_pipeline(settings_for(cfg), event_listeners=[inprocess.on_event]) as pl:

        def shown() -> bool:
            inprocess.on_status(pl.status())  # what the live view does at every redraw
            view = inprocess.links.get(("demo-lander", "gs7"))
            return view is not None and view.radio is not None

        await asyncio.to_thread(
            simulate, mosquitto, tmp_path / "record.jsonl", "--station", "gs7",
            "--envelope", "json", "--latency", "250", count=n, rate=100,
        )  # fmt: skip
        await wait_until(lambda: pl.stats.frames >= n, 60, f"{n} frames")
        await wait_until(shown, 10, "radio figures in the in-process console")
        await asyncio.sleep(1.2)  # the link series of the last second is written
        inprocess.on_status(pl.status())

    rows = query(influxd, influx_db, "SELECT * FROM link WHERE station = 'gs7' "
                 "AND rssi_dbm_mean > -500")  # fmt: skip
    assert rows, "no radio figures in the link series"
    stored = rows[-1]
    assert -106 < stored["rssi_dbm_mean"] < -104 and 7 < stored["snr_db_mean"] < 9

    attached = ConsoleModel.from_dictionary(dictionary)
    opts = AttachOptions(influx_url=influxd.url, database=influx_db)
    await InfluxPoller(attached, opts).poll_once()

    for model in (inprocess, attached):
        radio = model.links[("demo-lander", "gs7")].radio
        assert radio is not None
        if model is inprocess:
            # The latest second's figures, which may be a second the store's last point is
            # not: the same within a second's spread of the simulated radio.
            last = rows[-1]
            assert radio.rssi_dbm == pytest.approx(last["rssi_dbm_mean"], abs=0.05)
            assert radio.snr_db == pytest.approx(last["snr_db_mean"], abs=0.05)
            assert radio.freq_offset_hz == pytest.approx(last["freq_offset_hz_mean"], abs=0.5)
            assert radio.clock_offset_s == pytest.approx(last["clock_offset_s"], abs=0.05)
            stored = {
                "rssi_dbm_mean": radio.rssi_dbm,
                "snr_db_mean": radio.snr_db,
                "freq_offset_hz_mean": radio.freq_offset_hz,
                "station_crc_failures": last["station_crc_failures"],
                "clock_offset_s": radio.clock_offset_s,
            }
        else:
            stored = rows[-1]
        assert radio.rssi_dbm == pytest.approx(stored["rssi_dbm_mean"])
        assert radio.snr_db == pytest.approx(stored["snr_db_mean"])
        assert radio.freq_offset_hz == pytest.approx(stored["freq_offset_hz_mean"])
        assert radio.station_crc_failures == stored["station_crc_failures"] == 0
        # receipt - ERT: the 250 ms the station held each frame, plus the broker trip
        assert radio.clock_offset_s == pytest.approx(stored["clock_offset_s"])
        assert 0.25 <= radio.clock_offset_s < 1.5
        line = next(x for x in render_text(model).splitlines() if x.startswith("link "))
        assert line.startswith("link demo-lander gs7 ")
        assert (
            f"rssi {stored['rssi_dbm_mean']:.1f} dBm snr {stored['snr_db_mean']:.1f} dB "
            f"freq offset {stored['freq_offset_hz_mean']:+.0f} Hz station crc failures 0 "
            f"clock offset {stored['clock_offset_s']:+.3f} s"
        ) in line
