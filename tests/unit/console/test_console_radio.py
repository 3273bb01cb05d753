"""The stations' radio figures in the console: frames with station envelopes (``FrameMeta``)
counted by the pipeline's frame accounting, read through ``Pipeline.status()``'s shape, and
shown per link, formatted; dashes for a link whose frames came bare."""

from __future__ import annotations

import io
import math

from rich.console import Console
from rich.text import Text

from groundwatch.console.state import ConsoleModel
from groundwatch.console.view import STALE_RADIO, links_table, render, render_text
from groundwatch.link.accounting import FrameAccounting
from groundwatch.model import ErtSource, FrameMeta

T0 = 1_700_000_000_000_000_000
S = 1_000_000_000


def snapshot(*stations: str, state: str = "TRACKING") -> dict[str, object]:
    """``LinkMonitor.snapshot()`` of one spacecraft heard by ``stations``."""
    return {
        "time": "2023-11-14T22:13:20.000Z",
        "links": [
            {"spacecraft": "lander", "station": st, "vcid": None, "state": state,
             "frames_in_pass": 10, "ground_path_up": True}
            for st in stations
        ],
    }  # fmt: skip


def meta(
    rssi: float, snr: float, foff: float, *, crc_ok: bool = True, late_s: float = 0.25
) -> FrameMeta:
    ert = T0 + S
    return FrameMeta(
        ErtSource.STATION,
        station_ert_ns=ert,
        receipt_ns=ert + int(late_s * S),
        rssi_dbm=rssi,
        snr_db=snr,
        freq_offset_hz=foff,
        crc_ok=crc_ok,
    )


def screen(model: ConsoleModel, width: int) -> str:
    out = Console(file=io.StringIO(), width=width, force_terminal=False)
    out.print(render(model, 10, width))
    text = out.file.getvalue()
    assert isinstance(text, str)
    return text


def fed(accounting: FrameAccounting, *stations: str, t: int = T0 + 2 * S) -> ConsoleModel:
    accounting.points(t)  # the pipeline's once-a-second link series
    model = ConsoleModel([], now_ns=lambda: t)
    model.on_status({"frames": 0, "links": snapshot(*stations),
                     "radio": accounting.radio.latest()})  # fmt: skip
    return model


def test_enveloped_frames_show_their_radio_figures_per_station() -> None:
    acc = FrameAccounting()
    # gs1: two frames in the second (means), one its station says failed the CRC
    acc.observe_copy("lander", "gs1", meta(-104.0, 8.0, -1200.0))
    acc.observe_copy("lander", "gs1", meta(-106.5, 7.5, -1300.0, crc_ok=False))
    # gs2: its station's clock runs 30 s ahead (receipt - ERT negative)
    acc.observe_copy("lander", "gs2", meta(-121.25, -3.0, 450.0, late_s=-30.0))
    model = fed(acc, "gs1", "gs2", "gs3")  # gs3 sends bare frames: no envelope

    gs1 = model.links[("lander", "gs1")].radio
    assert gs1 is not None
    assert gs1.cells() == ("-105.2", "7.8", "-1250", "1", "+0.250")
    gs2 = model.links[("lander", "gs2")].radio
    assert gs2 is not None
    assert gs2.cells() == ("-121.2", "-3.0", "+450", "0", "-30.000")
    assert model.links[("lander", "gs3")].radio is None

    text = render_text(model)
    assert (
        "link lander gs1 TRACKING last frame never ago frames 10 rssi -105.2 dBm snr 7.8 dB "
        "freq offset -1250 Hz station crc failures 1 clock offset +0.250 s"
    ) in text
    assert "clock offset -30.000 s" in text.splitlines()[2]
    assert "link lander gs3 TRACKING last frame never ago frames 10 radio -" in text

    wide = screen(model, 150)  # columns of the links table
    for heading in ("RSSI dBm", "SNR dB", "Freq off Hz", "Stn CRC fail", "Clock off s"):
        assert heading in wide
    row = next(line for line in wide.splitlines() if " gs1 " in line).split()
    assert row[-5:] == ["-105.2", "7.8", "-1250", "1", "+0.250"]
    row = next(line for line in wide.splitlines() if " gs3 " in line).split()
    assert row[-5:] == ["-"] * 5

    narrow = screen(model, 80)  # a table of its own under the links
    lines = narrow.splitlines()
    assert all(len(line.rstrip()) <= 80 for line in lines)
    radio_rows = [line.split() for line in lines if line.split()[:1] in (["gs1"], ["gs2"])]
    assert radio_rows == [
        ["gs1", "-105.2", "7.8", "-1250", "1", "+0.250"],
        ["gs2", "-121.2", "-3.0", "+450", "0", "-30.000"],
    ]
    assert narrow.index("Links") < narrow.index("RSSI dBm") < narrow.index("Alerts")


def test_no_envelope_anywhere_keeps_the_narrow_screen_as_it_was() -> None:
    model = fed(FrameAccounting(), "gs1")
    assert "RSSI" not in screen(model, 80)
    assert "RSSI dBm" in screen(model, 150)  # the column is there, with a dash
    assert "radio -" in render_text(model)


def test_figures_outlive_the_second_they_were_heard_in() -> None:
    """After LOS no envelope comes: the link series has no means for that second, and the
    console keeps how the link was last heard (the clock offset and CRC count as well)."""
    acc = FrameAccounting()
    acc.observe_copy("lander", "gs1", meta(-110.0, 2.0, 10.0, crc_ok=False))
    model = fed(acc, "gs1")
    acc.points(T0 + 3 * S)  # a second without frames
    assert "rssi_dbm_mean" not in acc.radio.latest()[0]
    model.on_status({"frames": 0, "links": snapshot("gs1", state="LOS"),
                     "radio": acc.radio.latest()})  # fmt: skip
    radio = model.links[("lander", "gs1")].radio
    assert radio is not None
    assert radio.cells() == ("-110.0", "2.0", "+10", "1", "+0.250")
    assert "rssi -110.0 dBm" in render_text(model)
    rssi = list(links_table(model, 150).columns[5].cells)  # greyed: out of contact
    assert isinstance(rssi[0], Text) and rssi[0].plain == "-110.0"
    assert rssi[0].style == STALE_RADIO


def test_radio_rows_from_outside_are_checked() -> None:
    """Rows come from the store: text, booleans and non-finite numbers are not figures,
    and a row for a link the console does not show (no spacecraft found) adds none."""
    model = ConsoleModel([])
    model.on_link_row("lander", "gs1", "TRACKING")
    model.on_radio_row("lander", "gs1", {"rssi_dbm_mean": "loud", "snr_db_mean": True,
                                         "freq_offset_hz_mean": math.nan})  # fmt: skip
    assert model.links[("lander", "gs1")].radio is None
    model.on_radio_row("lander", "gs1", {"snr_db_mean": 4, "clock_offset_s": math.inf})
    radio = model.links[("lander", "gs1")].radio
    assert radio is not None and radio.cells() == ("-", "4.0", "-", "-", "-")
    model.on_radio_row("unknown", "gs1", {"rssi_dbm_mean": -90.0})
    assert set(model.links) == {("lander", "gs1")}
