from __future__ import annotations

from groundwatch.link.accounting import FrameAccounting
from groundwatch.model import DecodeResult, LinkKey, RawFrame, Rejection, RejectReason

from .helpers import S, result


def test_counts_per_link_and_rates() -> None:
    acc = FrameAccounting(source="live")
    t0 = 1_700_000_000 * S
    assert acc.points(t0) == []
    for i in range(10):
        acc.observe(result(t0 + i * 100_000_000, params={"x": 1.0}))
    acc.observe(result(t0, crc_ok=False))
    acc.observe(result(t0, vc_gap=3))
    acc.observe(result(t0, station="gs2", vcid=1, idle=True))
    pts = {(p.tags["station"], p.tags.get("vcid")): p for p in acc.points(t0 + S)}
    p = pts[("gs1", "0")]
    assert p.measurement == "link"
    assert p.tags == {"spacecraft": "lander", "station": "gs1", "vcid": "0", "source": "live"}
    assert p.fields["frames"] == 12
    assert p.fields["bytes"] == 1200
    assert p.fields["crc_failures"] == 1
    assert p.fields["rejected_bad_crc"] == 1
    assert p.fields["frame_gaps"] == 1 and p.fields["frames_missing"] == 3
    assert p.fields["packets"] == 10
    assert p.fields["frames_per_s"] == 12.0  # since the empty call at t0
    assert pts[("gs2", "1")].fields["idle_frames"] == 1
    # second interval: rates over 2 s
    for _ in range(4):
        acc.observe(result(t0 + 2 * S, crc_ok=False))
    p2 = {(p.tags["station"], p.tags.get("vcid")): p for p in acc.points(t0 + 3 * S)}[("gs1", "0")]
    assert p2.fields["frames"] == 16
    assert p2.fields["frames_per_s"] == 2.0
    assert p2.fields["crc_failure_ratio"] == 1.0
    assert p2.time_ns == t0 + 3 * S


def test_unidentified_input_counted_under_unknown() -> None:
    acc = FrameAccounting()
    frame = RawFrame(b"\x01\x02", 5, "gs9")
    acc.observe(
        DecodeResult(
            frame=frame,
            rejections=[
                Rejection(RejectReason.SHORT_FRAME, "2 bytes", frame.data, 5, "gs9", "live")
            ],
        )
    )
    counts = acc.counts()[LinkKey("unknown", "gs9", None)]
    assert counts.frames == 1 and counts.rejected == {"short_frame": 1}
    (p,) = acc.points(10)
    assert p.fields["rejected_short_frame"] == 1 and "vcid" not in p.tags
    assert "source" not in p.tags  # left to the pipeline (live or replay:<session>)


def test_obt_offset_follows_the_latest_packet_with_an_onboard_time() -> None:
    acc = FrameAccounting()
    t0 = 1_700_000_000 * S
    r = result(t0, params={"x": 1.0})
    r.packets[0].obt_ns = t0 - int(1.3 * S)  # 1.3 s: light time plus clock offset
    acc.observe(r)
    (p,) = acc.points(t0 + S)
    assert p.fields["obt_offset_s"] == 1.3
    r2 = result(t0 + S, params={"x": 1.0})
    r2.packets[0].obt_ns = t0 + S - int(1.25 * S)  # the clock drifted 50 ms
    acc.observe(r2)
    (p,) = acc.points(t0 + 2 * S)
    assert p.fields["obt_offset_s"] == 1.25
    acc.observe(result(t0 + 2 * S))  # no packets: the last offset stands
    (p,) = acc.points(t0 + 3 * S)
    assert p.fields["obt_offset_s"] == 1.25
