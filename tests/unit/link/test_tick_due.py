"""``LinkMonitor.tick_due_ns`` lets the pipeline skip the tick before a frame; a monitor
ticked only when it says so must raise exactly the events of one ticked before every
frame: LOS/AOS, stale and fresh key parameters, late AOS (a monitor that has seen a
heartbeat or a ground path change ticks before every frame)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from groundwatch.config import LinkConfig
from groundwatch.link.monitor import LinkMonitor
from groundwatch.link.schedule import Contact, Schedule
from groundwatch.model import Event, LinkKey

from .helpers import S, result

T0 = 1_700_000_000 * S
MS = 1_000_000

# One step of a stream: (gap before it in ms, station, valid, carries key parameter "alt",
# is a heartbeat of that station instead of a frame)
Step = tuple[int, str, bool, bool, bool]
steps = st.lists(
    st.tuples(
        st.sampled_from([1, 50, 100, 900, 3_000, 6_000, 12_000]),
        st.sampled_from(["gs1", "gs2"]),
        st.booleans(),
        st.booleans(),
        st.booleans(),
    ),
    max_size=60,
)


def _monitor() -> LinkMonitor:
    cfg = LinkConfig(los_threshold=5.0, aos_frames=2, stale_after=4.0, heartbeat_timeout=8.0)
    schedule = Schedule([Contact("lander", "gs1", T0 + 30 * S, T0 + 90 * S)])
    return LinkMonitor.from_config(cfg, ["alt"], {"lander": 0.1}, schedule)


def _run(stream: list[Step], skip: bool) -> list[tuple[object, ...]]:
    m = _monitor()
    events: list[Event] = []
    t = T0
    for gap, station, valid, key, heartbeat in stream:
        t += gap * MS
        due = m.tick_due_ns()
        if not skip or (due is not None and t >= due):
            events += m.tick(t)
        if heartbeat:
            events += m.observe_heartbeat(station, b"{}", t)
            continue
        events += m.observe_frame(LinkKey("lander", station), t, valid, t)
        if valid:
            params = {"alt": t / S} if key else {"other": 1.0}
            events += m.observe_result(result(t, station=station, params=params), t)
    events += m.tick(t + 60 * S)  # whatever is still due at the end, in both runs
    return [(e.type, e.time_ns, e.condition, e.recovery) for e in events]


@settings(max_examples=200, deadline=None)
@given(steps)
def test_ticking_only_when_due_raises_the_same_events(stream: list[Step]) -> None:
    assert _run(stream, skip=True) == _run(stream, skip=False)


def test_a_quiet_monitor_needs_no_tick_until_its_next_deadline() -> None:
    m = _monitor()
    assert m.tick_due_ns() == 0  # never ticked: due at once
    m.observe_frame(LinkKey("lander", "gs1"), T0, True, T0)
    m.tick(T0)
    due = m.tick_due_ns()
    assert due is not None and T0 < due <= T0 + 5 * S  # the LOS deadline at the latest


def test_stale_and_fresh_come_at_the_same_times_when_ticks_are_skipped() -> None:
    # In contact with "alt", then 4.5 s of frames without it (stale after 4 s), then "alt".
    stream: list[Step] = [(100, "gs1", True, True, False)] * 5
    stream += [(500, "gs1", True, False, False)] * 9
    stream += [(100, "gs1", True, True, False)] * 3
    skipped, every = _run(stream, skip=True), _run(stream, skip=False)
    assert skipped == every
    kinds = [str(e[0]) for e in every]
    assert "STALE" in kinds and "FRESH" in kinds
