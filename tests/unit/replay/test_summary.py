"""The end-of-replay summary names frames, packets, rejections by reason, gaps, events."""

from __future__ import annotations

from groundwatch.model import Event, EventType, Severity
from groundwatch.pipeline_stats import PipelineStats
from groundwatch.replay.progress import summary_text
from groundwatch.replay.recording import Unreadable
from groundwatch.replay.runner import ReplayResult

T0 = 1_700_000_000_000_000_000


def test_summary_lists_everything() -> None:
    stats = PipelineStats(frames=12, packets=70, points=75, rejected={"bad_crc": 2})
    stats.events = [
        Event(EventType.LOS, Severity.WARNING, T0, "x", "gs1", "t", "", "c", "i"),
        Event(EventType.AOS, Severity.INFO, T0, "x", "gs1", "t", "", "c", "j"),
        Event(EventType.LOS, Severity.WARNING, T0, "x", "gs1", "t", "", "c", "k"),
    ]
    result = ReplayResult(
        session="s1",
        source="replay:s1",
        stats=stats,
        fed=12,
        first_ert_ns=T0,
        last_ert_ns=T0 + 10**10,
        wall_s=0.6,
        feed_wall_s=0.5,
        gaps=3,
        frames_missing=7,
        problems=[Unreadable("f.txt", "line 4", "not hex")],
    )
    text = summary_text(result)
    assert "session s1 (source=replay:s1)" in text
    assert "(10.0 s) replayed in 0.50 s, 20.0x real time" in text
    assert "frames 12  packets 70" in text
    assert "rejected bad_crc 2" in text
    assert "gaps 3 (7 frames missing)" in text
    assert "events AOS 1, LOS 2" in text
    assert "f.txt: line 4: not hex" in text
