from __future__ import annotations

import pytest

from groundwatch.link.merge import FrameMerger
from groundwatch.link.schedule import LosKind, Schedule, ScheduleError

S = 1_000_000_000


def test_first_valid_copy_wins_and_station_counters() -> None:
    m = FrameMerger(window=10)
    decoded = []
    for n in range(100):
        ident = ("lander", 0, n, hash(n))
        t = n * 10_000_000
        # gs2's copy of every 4th frame is corrupted and arrives first
        if n % 4 == 0:
            assert not m.offer("gs2", ("lander", 0, n, "corrupt"), False, t)
        if m.offer("gs1", ident, True, t):
            decoded.append(n)
        if n % 4 != 0 and m.offer("gs2", ident, True, t):
            decoded.append(n)
    assert decoded == list(range(100))
    assert m.counts() == {
        "gs1": {"copies": 100, "first": 100, "duplicates": 0, "crc_failures": 0},
        "gs2": {"copies": 100, "first": 0, "duplicates": 75, "crc_failures": 25},
    }
    pts = {p.tags["station"]: p.fields for p in m.points(5)}
    assert pts["gs2"]["duplicates"] == 75


def test_bounded_by_window_and_size() -> None:
    m = FrameMerger(window=1, max_entries=50)
    for n in range(200):
        m.offer("gs1", (n,), True, 0)
    assert len(m) == 50 and m.forgotten == 150
    m.offer("gs1", ("new",), True, 2 * S)
    assert len(m) == 1


SCHED_CSV = """spacecraft,station,start,end
lander,gs1,2025-01-01T10:00:00Z,2025-01-01T10:10:00Z

lander,gs2,2025-01-01T10:08:00+00:00,2025-01-01T10:20:00
"""


def test_schedule_csv_and_classification() -> None:
    s = Schedule.from_csv(SCHED_CSV)
    assert [c.station for c in s.contacts] == ["gs1", "gs2"]
    start = s.contacts[0].start_ns
    margin = 30 * S
    assert s.classify_los("lander", start + 60 * S, margin)[0] is LosKind.UNEXPECTED
    # gs1 ends at +600 s but gs2's contact is still on: unexpected
    assert s.classify_los("lander", start + 600 * S, margin)[0] is LosKind.UNEXPECTED
    assert s.classify_los("lander", start + 1190 * S, margin)[0] is LosKind.EXPECTED
    assert s.classify_los("lander", start + 2000 * S, margin)[0] is LosKind.UNPLANNED
    assert s.classify_los("other", start + 60 * S, margin)[0] is LosKind.UNPLANNED


def test_schedule_errors_name_the_row(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ScheduleError, match="row 1: end is not after start"):
        Schedule.from_yaml(
            "- {spacecraft: a, station: b, start: 2025-01-01T10:00:00Z, end: 2025-01-01T09:00:00Z}"
        )
    with pytest.raises(ScheduleError, match="row 1: missing end"):
        Schedule.from_csv("spacecraft,station,start,end\na,b,2025-01-01T10:00:00Z,\n")
    p = tmp_path / "plan.yaml"
    p.write_text("contacts: []\n")
    assert Schedule.load(p).contacts == []
