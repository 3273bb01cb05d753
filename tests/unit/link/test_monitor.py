"""The link monitor driven with synthetic frames and explicit pipeline times."""

from __future__ import annotations

from groundwatch.config import LinkConfig, SpacecraftLinkConfig
from groundwatch.link.monitor import LinkMonitor
from groundwatch.link.schedule import Schedule
from groundwatch.model import EventType, LinkKey, Severity

from .helpers import S, result

T0 = 1_700_000_000 * S
MS = 1_000_000


def monitor(**kw: object) -> LinkMonitor:
    cfg = LinkConfig(**{"los_threshold": 5.0, "aos_frames": 2, **kw})  # type: ignore[arg-type]
    return LinkMonitor.from_config(cfg, ["alt"], {"lander": 0.1}, None)


def feed(m: LinkMonitor, start: int, stop: int, step: int = 100 * MS, station: str = "gs1",
         valid: bool = True, tick: bool = True) -> list:  # fmt: skip
    events = []
    t = start
    while t < stop:
        if tick:
            events += m.tick(t)
        events += m.observe_frame(LinkKey("lander", station, 0), t, valid, t)
        if valid:
            events += m.observe_result(result(t, station=station, params={"alt": t / S}), t)
        t += step
    return events


def run_ticks(m: LinkMonitor, start: int, stop: int, step: int = 50 * MS) -> list:
    events = []
    t = start
    while t <= stop:
        events += m.tick(t)
        t += step
    return events


def types(events: list) -> list[EventType]:
    return [e.type for e in events]


def test_aos_then_los_exact_time_and_details() -> None:
    m = monitor()
    assert m.snapshot()["links"] == []
    ev = m.observe_frame(LinkKey("lander", "gs1", 0), T0, True, T0)
    assert ev == []  # one frame: acquiring, not confirmed
    assert m.snapshot()["links"][0]["state"] == "AOS"
    ev = feed(m, T0 + 100 * MS, T0 + 3 * S)
    assert types(ev) == [EventType.AOS]
    assert ev[0].time_ns == T0 + 100 * MS and ev[0].station == "gs1" and ev[0].recovery
    last = T0 + 3 * S - 100 * MS
    assert run_ticks(m, T0 + 3 * S, last + 5 * S - 1) == []
    ev = m.tick(last + 5 * S + 37 * MS)  # a late tick: the event time is still exact
    assert types(ev) == [EventType.LOS]
    los = ev[0]
    assert los.time_ns == last + 5 * S
    assert los.severity == Severity.WARNING and los.condition == "LOS/lander"
    assert los.details["last_good_ns"] == last
    assert los.details["frames_in_pass"] == 29  # merged frames seen by observe_result
    assert los.details["station_frames"] == {"gs1": 30}
    assert los.details["last_values"] == {"alt": last / S}
    assert m.tick(last + 60 * S) == []  # no repeat
    pts = {p.tags.get("vcid"): p for p in m.state_points(last + 6 * S)}
    assert pts[None].fields["state"] == 1 and pts[None].fields["state_text"] == "LOS"
    assert pts[None].fields["seconds_since_last_frame"] == 6.0
    assert pts["0"].fields["state_text"] == "LOS"


def test_same_events_whatever_the_tick_rate() -> None:
    def run(step: int) -> list[tuple[EventType, int, str]]:
        m = monitor()
        ev = feed(m, T0, T0 + 2 * S)
        ev += run_ticks(m, T0 + 2 * S, T0 + 20 * S, step)
        ev += feed(m, T0 + 20 * S, T0 + 21 * S)
        ev += run_ticks(m, T0 + 21 * S, T0 + 40 * S, step)
        return [(e.type, e.time_ns, e.id) for e in ev]

    fast, slow = run(10 * MS), run(3 * S)
    assert fast == slow
    assert [t for t, _, _ in fast] == [EventType.AOS, EventType.LOS, EventType.AOS, EventType.LOS]


def test_late_frame_within_threshold_does_not_flap() -> None:
    m = monitor()
    feed(m, T0, T0 + S)
    last = T0 + 900 * MS
    assert run_ticks(m, T0 + S, last + 4900 * MS) == []
    ev = m.observe_frame(LinkKey("lander", "gs1", 0), last + 4900 * MS, True, last + 4900 * MS)
    assert ev == []
    assert run_ticks(m, last + 4950 * MS, last + 9800 * MS) == []
    assert types(m.tick(last + 9900 * MS)) == [EventType.LOS]


def test_single_stray_frame_after_los_is_not_aos() -> None:
    m = monitor()
    feed(m, T0, T0 + S)
    assert types(run_ticks(m, T0 + S, T0 + 7 * S)) == [EventType.LOS]
    t = T0 + 10 * S
    assert m.observe_frame(LinkKey("lander", "gs1", 0), t, True, t) == []
    assert run_ticks(m, t, t + 10 * S) == []  # acquisition fades silently
    assert m.snapshot()["links"][0]["state"] == "LOS"
    ev = feed(m, t + 11 * S, t + 11 * S + 200 * MS)
    assert types(ev) == [EventType.AOS]


def test_bad_crc_frames_are_not_signal() -> None:
    m = monitor()
    feed(m, T0, T0 + S)
    ev = feed(m, T0 + S, T0 + 8 * S, valid=False)
    assert EventType.LOS in types(ev)
    los = next(e for e in ev if e.type is EventType.LOS)
    assert los.time_ns == T0 + 900 * MS + 5 * S


def test_degraded_before_los_with_rising_crc_failures() -> None:
    m = monitor()
    events = []
    t = T0
    for i in range(100):  # failure probability rises from 0 to 100 % over 10 s
        bad = (i * 7 % 100) < i
        events += m.tick(t)
        events += m.observe_frame(LinkKey("lander", "gs1", 0), t, not bad, t)
        if not bad:
            events += m.observe_result(result(t), t)
        t += 100 * MS
    events += run_ticks(m, t, t + 10 * S)
    order = types(events)
    assert order[0] is EventType.AOS
    assert EventType.LINK_DEGRADED in order and EventType.LOS in order
    assert order.index(EventType.LINK_DEGRADED) < order.index(EventType.LOS)
    assert order.count(EventType.LINK_DEGRADED) == 1


def test_los_threshold_per_spacecraft_in_frames() -> None:
    cfg = LinkConfig(spacecraft={"lander": SpacecraftLinkConfig(los_frames=10)})
    m = LinkMonitor.from_config(cfg, [], {"lander": 0.2}, None)
    assert m.threshold_ns("lander") == 2 * S
    assert m.threshold_ns("other") == 5 * S
    feed(m, T0, T0 + S)
    ev = run_ticks(m, T0 + S, T0 + 4 * S)
    assert [(e.type, e.time_ns) for e in ev] == [(EventType.LOS, T0 + 900 * MS + 2 * S)]


def test_two_stations_handover_no_los_while_one_hears() -> None:
    m = monitor()
    ev = feed(m, T0, T0 + 2 * S, station="gs1")
    ev += feed(m, T0 + S, T0 + 10 * S, station="gs2")
    ev += run_ticks(m, T0 + 10 * S, T0 + 14 * S)
    assert types(ev) == [EventType.AOS]  # gs1 went silent, gs2 still hears it
    states = {(ln["station"], ln["vcid"]): ln["state"] for ln in m.snapshot()["links"]}
    assert states[("gs1", None)] == "LOS" and states[("gs2", None)] == "TRACKING"
    ev = run_ticks(m, T0 + 14 * S, T0 + 16 * S)
    assert [(e.type, e.station, e.time_ns) for e in ev] == [
        (EventType.LOS, "gs2", T0 + 9900 * MS + 5 * S)
    ]
    assert ev[0].details["station_frames"] == {"gs1": 20, "gs2": 90}


def test_ground_path_down_no_los_while_other_station_hears() -> None:
    m = monitor(heartbeat_timeout=3.0)
    ev = []
    t = T0
    while t < T0 + 20 * S:
        if t < T0 + 5 * S and (t - T0) % S == 0:
            ev += m.observe_heartbeat("gs1", b'{"station": "gs1", "status": "ok"}', t)
        if (t - T0) % S == 0:
            ev += m.observe_heartbeat("gs2", b"alive", t)
        ev += m.tick(t)
        if t < T0 + 4 * S:
            ev += m.observe_frame(LinkKey("lander", "gs1"), t, True, t)
        ev += m.observe_frame(LinkKey("lander", "gs2"), t, True, t)
        t += 100 * MS
    assert [(e.type, e.station) for e in ev] == [
        (EventType.AOS, "gs1"),
        (EventType.GROUND_PATH_DOWN, "gs1"),
    ]
    down = ev[1]
    assert down.time_ns == T0 + 4 * S + 3 * S and down.spacecraft is None
    snap = m.snapshot()
    assert snap["stations"]["gs1"]["ground_path_up"] is False
    assert snap["stations"]["gs1"]["status"] == {"station": "gs1", "status": "ok"}
    assert snap["spacecraft"]["lander"]["in_contact"] is True


def test_station_dies_alone_gives_ground_down_not_los() -> None:
    m = monitor(heartbeat_timeout=8.0)
    ev = []
    t = T0
    while t < T0 + 3 * S:
        if (t - T0) % S == 0:
            ev += m.observe_heartbeat("gs1", b"{}", t)
        ev += m.tick(t)
        ev += m.observe_frame(LinkKey("lander", "gs1"), t, True, t)
        t += 100 * MS
    # heartbeat at T0+2 s was before the last frame (T0+2.9 s): station silent since
    ev += run_ticks(m, t, T0 + 30 * S, 100 * MS)
    assert [(e.type, e.time_ns) for e in ev] == [
        (EventType.AOS, T0 + 100 * MS),
        (EventType.GROUND_PATH_DOWN, T0 + 10 * S),
    ]
    # the station returns, the spacecraft stays silent: LOS timed from the return
    back = T0 + 31 * S
    ev = m.observe_heartbeat("gs1", b"{}", back)
    assert types(ev) == [EventType.GROUND_PATH_UP]
    for k in range(1, 8):
        ev += m.observe_heartbeat("gs1", b"{}", back + k * S)
        ev += m.tick(back + k * S)
    assert [(e.type, e.time_ns) for e in ev[1:]] == [(EventType.LOS, back + 5 * S)]
    assert ev[1].details["last_good_ns"] == T0 + 2900 * MS  # the real last frame


def test_broker_down_suppresses_los() -> None:
    m = monitor()
    ev = feed(m, T0, T0 + S)
    ev += m.observe_ground_path(False, T0 + 2 * S)
    ev += run_ticks(m, T0 + 2 * S, T0 + 20 * S)
    assert types(ev) == [EventType.AOS, EventType.GROUND_PATH_DOWN]
    ev = m.observe_ground_path(True, T0 + 21 * S)
    ev += feed(m, T0 + 22 * S, T0 + 23 * S)
    ev += run_ticks(m, T0 + 23 * S, T0 + 30 * S)
    assert [(e.type, e.time_ns) for e in ev] == [
        (EventType.GROUND_PATH_UP, T0 + 21 * S),
        (EventType.LOS, T0 + 22900 * MS + 5 * S),
    ]


SCHEDULE = """
contacts:
  - {spacecraft: lander, station: gs1, start: "2023-11-14T22:13:20Z", end: "2023-11-14T22:23:20Z"}
"""  # T0 = 2023-11-14T22:13:20Z, contact of 600 s


def scheduled(**kw: object) -> LinkMonitor:
    cfg = LinkConfig(**{"schedule_margin": 30.0, **kw})  # type: ignore[arg-type]
    return LinkMonitor.from_config(cfg, [], {}, Schedule.from_yaml(SCHEDULE))


def test_unexpected_los_inside_contact() -> None:
    m = scheduled()
    m.tick(T0 - 60 * S)
    ev = feed(m, T0 + 10 * S, T0 + 100 * S, step=S)
    ev += run_ticks(m, T0 + 100 * S, T0 + 110 * S, step=S)
    assert [(e.type, e.severity) for e in ev] == [
        (EventType.AOS, Severity.INFO),
        (EventType.UNEXPECTED_LOS, Severity.CRITICAL),
    ]
    assert ev[1].details["contact"]["station"] == "gs1"


def test_expected_los_at_planned_end() -> None:
    m = scheduled()
    m.tick(T0 - 60 * S)
    ev = feed(m, T0, T0 + 590 * S, step=S)
    ev += run_ticks(m, T0 + 590 * S, T0 + 620 * S, step=S)
    assert [(e.type, e.severity) for e in ev] == [
        (EventType.AOS, Severity.INFO),
        (EventType.EXPECTED_LOS, Severity.INFO),
    ]


def test_late_aos_then_recovery() -> None:
    m = scheduled()
    m.tick(T0 - 60 * S)
    ev = run_ticks(m, T0 - 59 * S, T0 + 40 * S, step=S)
    assert [(e.type, e.severity, e.time_ns) for e in ev] == [
        (EventType.LATE_AOS, Severity.WARNING, T0 + 30 * S)
    ]
    ev = feed(m, T0 + 45 * S, T0 + 48 * S, step=S)
    assert [(e.type, e.condition) for e in ev] == [
        (EventType.AOS, "LATE_AOS/lander/gs1"),
        (EventType.AOS, "LOS/lander"),
    ]
    assert m.state_points(T0)[0].fields["state_text"] == "TRACKING"


def test_no_late_aos_when_on_time() -> None:
    m = scheduled()
    m.tick(T0 - 60 * S)
    assert m.snapshot()["spacecraft"] == {}  # nothing heard yet
    ev = feed(m, T0 + 5 * S, T0 + 60 * S, step=S)
    assert types(ev) == [EventType.AOS]
    assert m.snapshot()["spacecraft"]["lander"]["planned"] == [
        {"station": "gs1", "start": "2023-11-14T22:13:20.000Z",
         "end": "2023-11-14T22:23:20.000Z", "now": True}
    ]  # fmt: skip


def test_stale_key_parameter_and_fresh() -> None:
    m = monitor(stale_after=3.0)
    ev = feed(m, T0, T0 + S)
    # frames keep coming but without the key parameter
    t = T0 + S
    while t < T0 + 6 * S:
        ev += m.tick(t)
        ev += m.observe_frame(LinkKey("lander", "gs1"), t, True, t)
        ev += m.observe_result(result(t, params={"other": 1.0}), t)
        t += 100 * MS
    ev += m.observe_result(result(t, params={"alt": 9.0}), t)
    assert [(e.type, e.time_ns) for e in ev] == [
        (EventType.AOS, T0 + 100 * MS),
        (EventType.STALE, T0 + 900 * MS + 3 * S),
        (EventType.FRESH, t),
    ]
    assert ev[1].details["last_value"] == (T0 + 900 * MS) / S


def test_next_deadline_hint() -> None:
    m = monitor(heartbeat_timeout=20.0)
    assert m.next_deadline_ns() is None
    feed(m, T0, T0 + S)
    assert m.next_deadline_ns() == T0 + 900 * MS + 5 * S
    m.observe_heartbeat("gs1", b"", T0 + S)
    assert m.next_deadline_ns() == T0 + 900 * MS + 5 * S
    m.tick(T0 + 900 * MS + 5 * S)
    assert m.next_deadline_ns() == T0 + S + 20 * S  # only the heartbeat is left


def test_old_pass_at_a_now_dead_station_does_not_block_los() -> None:
    m = monitor(heartbeat_timeout=3.0)
    ev = feed(m, T0, T0 + S, station="gs1")  # gs1 hears a pass, normal LOS
    ev += run_ticks(m, T0 + S, T0 + 7 * S)
    m.observe_heartbeat("gs1", b"", T0 + 7 * S)
    ev += run_ticks(m, T0 + 7 * S, T0 + 12 * S)  # gs1 then goes silent: ground down
    ev += feed(m, T0 + 20 * S, T0 + 21 * S, station="gs2")  # gs2 hears the next pass
    ev += run_ticks(m, T0 + 21 * S, T0 + 30 * S)
    assert [(e.type, e.station) for e in ev] == [
        (EventType.AOS, "gs1"),
        (EventType.LOS, "gs1"),
        (EventType.GROUND_PATH_DOWN, "gs1"),
        (EventType.AOS, "gs2"),
        (EventType.LOS, "gs2"),
    ]


def test_low_rssi_degrades_then_recovers() -> None:
    from groundwatch.model import LimitState

    m = monitor(limit_persistence_time=0, degraded_enter_delay=0, degraded_clear_delay=0)
    ev = []
    for i in range(30):
        t = T0 + i * 100 * MS
        low = 10 <= i < 20
        ev += m.observe_frame(LinkKey("lander", "gs1"), t, True, t)
        state = LimitState.YELLOW_LOW if low else LimitState.NOMINAL
        r = result(t, params={"rssi": -120.0 if low else -80.0}, limits={"rssi": state})
        ev += m.observe_result(r, t)
    # persistence 2: the rssi limit (and the degraded verdict) are confirmed one sample late
    assert [(e.type, e.time_ns) for e in ev] == [
        (EventType.AOS, T0 + 100 * MS),
        (EventType.LIMIT_ENTER, T0 + 1100 * MS),
        (EventType.LINK_DEGRADED, T0 + 1100 * MS),
        (EventType.LIMIT_LEAVE, T0 + 2100 * MS),
        (EventType.LINK_RECOVERED, T0 + 2100 * MS),
    ]
    ev = [e for e in ev if e.type is EventType.LINK_DEGRADED]
    assert ev[0].details["low_signal"] == ["rssi"] and "rssi low" in ev[0].text


def test_station_connection_down_and_replay_ids_match_live() -> None:
    def run(source: str) -> list[tuple[EventType, int, str, str]]:
        cfg = LinkConfig()
        m = LinkMonitor.from_config(cfg, [], {}, None, source=source)
        ev = feed(m, T0, T0 + S, station="gs1")
        ev += m.observe_ground_path(False, T0 + 2 * S, station="gs1")
        ev += run_ticks(m, T0 + 2 * S, T0 + 10 * S)
        ev += m.observe_ground_path(True, T0 + 10 * S, station="gs1")
        ev += run_ticks(m, T0 + 10 * S, T0 + 16 * S)
        return [(e.type, e.time_ns, e.id, e.source) for e in ev]

    live, replay = run("live"), run("replay:pass1")
    assert [x[:2] for x in live] == [
        (EventType.AOS, T0 + 100 * MS),
        (EventType.GROUND_PATH_DOWN, T0 + 2 * S),
        (EventType.GROUND_PATH_UP, T0 + 10 * S),
        (EventType.LOS, T0 + 15 * S),
    ]
    assert [x[:3] for x in live] == [x[:3] for x in replay]
    assert {x[3] for x in replay} == {"replay:pass1"}


def test_a_los_names_the_busiest_stations_and_counts_the_rest() -> None:
    from groundwatch.link.events import LOS_STATIONS

    m = monitor()
    extra = 7
    for i in range(LOS_STATIONS + extra):  # station i hears i + 1 frames
        feed(m, T0 + i * MS, T0 + (i + 1) * 100 * MS, station=f"gs{i:02d}")
    ev = [e for e in run_ticks(m, T0 + 3 * S, T0 + 9 * S) if e.type is EventType.LOS]
    assert len(ev) == 1
    details = ev[0].details
    named = details["station_frames"]
    assert len(named) == LOS_STATIONS
    # the busiest are named: the later stations heard it the longest
    assert set(named) == {f"gs{i:02d}" for i in range(extra, LOS_STATIONS + extra)}
    assert details["other_stations"] == extra
    assert details["other_station_frames"] == sum(range(1, extra + 1))
    assert details["frames_in_pass"] == sum(named.values()) + details["other_station_frames"]
