"""The link monitor on station time: a redelivered backlog is judged on its ERTs."""

from __future__ import annotations

from groundwatch.config import LinkConfig
from groundwatch.link.monitor import LinkMonitor
from groundwatch.model import Event, EventType, FrameMeta, LinkKey

S = 1_000_000_000
MS = 1_000_000
T0 = 1_790_000_000 * S
KEY = LinkKey("lander", "gs1")
LOS_TYPES = {EventType.LOS, EventType.EXPECTED_LOS, EventType.UNEXPECTED_LOS}


def monitor() -> LinkMonitor:
    cfg = LinkConfig(los_threshold=1.0, aos_frames=2, late_after=5.0, redelivery_grace=10.0)
    return LinkMonitor.from_config(cfg, [], {}, None)


def live(m: LinkMonitor, start_s: float, end_s: float, out: list[Event]) -> None:
    """Frames every 100 ms, each seen 10 ms after its ERT, ticks in between."""
    t = T0 + int(start_s * S)
    while t < T0 + int(end_s * S):
        out += m.tick(t + 5 * MS)
        out += m.observe_frame(KEY, t, True, t + 10 * MS)
        t += 100 * MS


def link_events(events: list[Event]) -> list[Event]:
    return [e for e in events if e.type in LOS_TYPES or e.type is EventType.AOS]


def test_silence_inside_an_outage_raises_late_los_and_aos_once() -> None:
    before: list[Event] = []
    first = monitor()
    live(first, 0, 2, before)
    assert [e.type for e in link_events(before)] == [EventType.AOS]
    last_ert = T0 + 19 * S // 10  # groundwatch is killed here

    # Restarted 60 s later: the link is restored from the archive, the broker redelivers
    # 60 s of backlog within half a second, with a spacecraft silence from 20 s to 30 s.
    m = monitor()
    restart = T0 + 62 * S
    m.restore(KEY, last_ert, restart)
    events = m.tick(restart)
    backlog = [T0 + k * 100 * MS for k in range(20, 620) if not 200 <= k < 300]
    for i, ert in enumerate(backlog):
        now = restart + 10 * MS + i * 500 * MS // len(backlog)
        if i % 20 == 0:
            events += m.tick(now)
        events += m.observe_frame(KEY, ert, True, now)
    live(m, 62.0, 66.0, events)
    got = link_events(events)
    assert [e.type for e in got] == [EventType.LOS, EventType.AOS]
    los, aos = got
    assert los.time_ns == T0 + 19_900 * MS + 1 * S  # last frame before the silence + threshold
    assert aos.time_ns == T0 + 30_100 * MS  # the second frame after it confirms AOS
    for e in got:
        assert e.details["late"] is True
        assert e.details["delay_s"] > 30


def test_no_los_for_the_outage_itself_while_the_backlog_waits() -> None:
    m = monitor()
    restart = T0 + 62 * S
    m.restore(KEY, T0 + 2 * S, restart)
    events: list[Event] = []
    for k in range(0, 100):  # 5 s of ticks, the station's backlog has not arrived yet
        events += m.tick(restart + k * 50 * MS)
    assert link_events(events) == []


def test_a_restored_link_whose_station_never_delivers_is_lost_at_its_pass_time() -> None:
    m = monitor()
    restart = T0 + 62 * S
    m.restore(KEY, T0 + 2 * S, restart)
    events = m.tick(restart + 11 * S)  # beyond redelivery_grace: nothing came
    got = link_events(events)
    assert [e.type for e in got] == [EventType.LOS]
    assert got[0].time_ns == T0 + 3 * S and got[0].details["late"] is True


def test_live_events_are_not_late() -> None:
    m = monitor()
    events: list[Event] = []
    live(m, 0, 2, events)
    for k in range(0, 60):
        events += m.tick(T0 + 2 * S + k * 50 * MS)
    got = link_events(events)
    assert [e.type for e in got] == [EventType.AOS, EventType.LOS]
    assert all("late" not in e.details for e in got)


def test_a_restored_link_heard_too_long_ago_is_not_restored() -> None:
    m = monitor()
    m.restore(KEY, T0, T0 + 7200 * S)
    assert m.snapshot()["links"] == []


def test_the_ground_path_coming_up_after_a_restart_raises_no_los() -> None:
    m = monitor()
    restart = T0 + 62 * S
    m.restore(KEY, T0 + 2 * S, restart)
    events = m.observe_ground_path(True, restart + 100 * MS)
    events += m.observe_ground_path(False, restart + 200 * MS)
    events += m.observe_ground_path(True, restart + 300 * MS)
    assert link_events(events) == []


def test_a_station_reporting_a_weak_signal_degrades_the_link() -> None:
    cfg = LinkConfig(los_threshold=1.0, degraded_station_rssi=-120.0, degraded_station_snr=3.0)
    m = LinkMonitor.from_config(cfg, [], {}, None)
    events: list[Event] = []
    for k in range(150):  # low from 1 s to 6 s: past the enter and clear delays
        t = T0 + k * 100 * MS
        rssi = -110.0 if k < 10 or k >= 60 else -130.0
        events += m.observe_frame(KEY, t, True, t)
        events += m.observe_radio(KEY, FrameMeta(rssi_dbm=rssi, snr_db=8.0), t)
    kinds = [(e.type, e.details.get("low_signal")) for e in events if "DEGRADED" in e.condition]
    assert kinds == [
        (EventType.LINK_DEGRADED, ["station_rssi"]),
        (EventType.LINK_RECOVERED, []),
    ]
