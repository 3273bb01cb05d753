"""Every frame the simulator builds decodes, with the frame layer's decoder, to exactly the
values the simulator recorded; corrupted frames fail their CRC; lost frames leave gaps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from groundwatch.decoders.dictionary import load_dictionary
from groundwatch.decoders.frame_decoder import FrameDecoder
from groundwatch.decoders.tm_frame import TmFrameFormat
from groundwatch.model import RawFrame, RejectReason
from groundwatch.sim.descent_scenario import LunarDescentScenario
from groundwatch.sim.framer import SimFrame, SimFramer
from groundwatch.sim.link_model import FrameFate
from groundwatch.sim.scenario import GenericScenario, Scenario

HERE = Path(__file__).parent
REPO = HERE.parents[2]
DEMO = REPO / "missions" / "demo-lander.yaml"


def run(scenario: Scenario, framer: SimFramer, dt: float, ticks: int) -> list[SimFrame]:
    frames: list[SimFrame] = []
    for _ in range(ticks):
        tick = scenario.next_tick(dt)
        if tick is None:
            break
        frames += framer.frames(tick)
    return frames


def decoded_values(packet: Any) -> dict[str, Any]:
    out = {}
    for name, p in packet.params.items():
        out[name] = p.eng.hex() if isinstance(p.eng, bytes) else p.eng
    return out


def check_all_decode(dictionary: Any, frames: list[SimFrame]) -> dict[str, int]:
    """Decode every sent frame; compare with what the simulator recorded. Returns counts."""
    decoder = FrameDecoder(dictionary)
    counts = {"packets": 0, "bad_crc": 0, "frames": 0}
    for frame in frames:
        if not frame.sent:
            continue
        counts["frames"] += 1
        result = decoder.decode(RawFrame(frame.data, 1_000 * frame.index, "gs1"))
        if frame.fate is FrameFate.CORRUPTED:
            assert [r.reason for r in result.rejections] == [RejectReason.BAD_CRC]
            assert result.packets == []
            counts["bad_crc"] += 1
            continue
        expected = [p for p in frame.packets if p.expected]
        assert [p.name for p in result.packets] == [p.name for p in expected], frame.index
        for want, got in zip(expected, result.packets, strict=True):
            assert decoded_values(got) == want.values
            assert {k: v.raw for k, v in got.params.items()} == want.raw
            assert got.index_in_frame == want.index_in_frame
            assert got.obt_ns == want.obt_ns
            if want.seq_count is not None:
                assert got.header is not None and got.header.seq_count == want.seq_count
            counts["packets"] += 1
    return counts


@pytest.fixture(scope="module")
def descents() -> dict[str, list[SimFrame]]:
    d = load_dictionary(DEMO)
    return {
        variant: run(
            LunarDescentScenario(d, variant=variant, seed=1),
            SimFramer(d, start_ns=1_780_000_000_000_000_000, seed=1),
            dt=4.0,
            ticks=5_000,
        )
        for variant in ("nominal", "hakuto")
    }


@pytest.mark.parametrize("variant", ["nominal", "hakuto"])
def test_every_descent_frame_decodes_to_the_recorded_values(
    variant: str, descents: dict[str, list[SimFrame]]
) -> None:
    d = load_dictionary(DEMO)
    frames = descents[variant]
    counts = check_all_decode(d, frames)
    assert 200 < len(frames) < 400  # a whole descent at 4 s a frame (coast 10x faster)
    assert counts["packets"] > 1_000
    fates = {f.fate for f in frames}
    assert FrameFate.CORRUPTED in fates  # the link degrades near the ground
    assert counts["bad_crc"] == sum(f.fate is FrameFate.CORRUPTED for f in frames)
    # every frame is a valid 132.0-B frame as Construct parses it, FECF included
    fmt = TmFrameFormat(d.framing)
    for f in frames:
        if f.fate is FrameFate.OK:
            parsed = fmt.parse(f.data)
            assert parsed.scid == 0x2A and parsed.vcfc == f.index % 256


def test_hakuto_frames_show_the_divergence_and_an_empty_tank(
    descents: dict[str, list[SimFrame]],
) -> None:
    gnc = [p.values for f in descents["hakuto"] for p in f.packets if p.name == "gnc"]
    prop = [p.values for f in descents["hakuto"] for p in f.packets if p.name == "propulsion"]
    assert prop[-1]["propellant_mass"] == 0.0
    assert prop[-1]["fuel_tank_pressure"] < 1_000.0  # red: the helium blew down
    terminal = [g for g in gnc if g["descent_phase"] == "TERMINAL"]
    gap = max(g["rangefinder_altitude"] - g["altitude_estimate"] for g in terminal)
    assert gap > 2_500.0
    assert gnc[-1]["altitude_estimate"] == pytest.approx(0.0, abs=2.0)
    assert gnc[-1]["descent_phase"] == "TERMINAL"  # it still believes it is landing
    assert gnc[-1]["nav_solution"] == "COARSE"  # inertial only since the rim
    assert gnc[-1]["vertical_velocity"] < -50.0  # falling


def test_nominal_ends_landed_and_safed() -> None:
    d = load_dictionary(DEMO)
    frames = run(LunarDescentScenario(d, variant="nominal", seed=2), SimFramer(d), 4.0, 5_000)
    phases = [p.values["descent_phase"] for f in frames for p in f.packets if p.name == "gnc"]
    assert phases[0] == "ORBIT" and phases[-1] == "SAFED"
    assert "TOUCHDOWN" in phases and phases.index("BRAKING") < phases.index("APPROACH")


def test_packets_spanning_frames_decode_in_order() -> None:
    d = load_dictionary(HERE / "sim_lander.yaml")
    framer = SimFramer(d, start_ns=0, flush_each_tick=False)
    frames = run(GenericScenario(d, seed=5), framer, dt=0.5, ticks=400)
    spanning = [p for f in frames for p in f.packets if p.first_frame != f.index]
    assert spanning, "no packet crossed a frame boundary: the test proves nothing"
    counts = check_all_decode(d, frames)
    assert counts["packets"] == sum(len(f.packets) for f in frames)
    assert counts["packets"] > 1_500  # all but those still in the last, unfinished frame


def test_ax25_frames_with_selectors_decode() -> None:
    d = load_dictionary(HERE / "sim_ax25.yaml")
    frames = run(GenericScenario(d, seed=1), SimFramer(d), dt=10.0, ticks=50)
    assert len(frames) == 100
    counts = check_all_decode(d, frames)
    assert counts["packets"] == 100
    ids = {f.packets[0].values["packet_id"] for f in frames}
    assert ids == {1, 2}


def test_bare_space_packets_decode() -> None:
    d = load_dictionary(HERE / "sim_bare.yaml")
    frames = run(GenericScenario(d, seed=1), SimFramer(d, start_ns=10**18), dt=1.0, ticks=30)
    assert check_all_decode(d, frames)["packets"] == 30
    assert [f.packets[0].seq_count for f in frames] == list(range(30))


def test_corrupted_and_lost_frames_are_flagged() -> None:
    d = load_dictionary(HERE / "sim_lander.yaml")
    scenario = GenericScenario(d, seed=1)
    framer = SimFramer(d, seed=1)
    frames: list[SimFrame] = []
    for fate in [FrameFate.OK, FrameFate.CORRUPTED, FrameFate.LOST, FrameFate.OK]:
        tick = scenario.next_tick(1.0)
        assert tick is not None
        tick.fate = fate
        frames += framer.frames(tick)
    assert [f.fate for f in frames] == [
        FrameFate.OK,
        FrameFate.CORRUPTED,
        FrameFate.LOST,
        FrameFate.OK,
    ]
    assert [f.sent for f in frames] == [True, True, False, True]
    assert [all(p.expected for p in f.packets) for f in frames] == [True, False, False, True]
    decoder = FrameDecoder(d)
    results = [decoder.decode(RawFrame(f.data, i, "gs1")) for i, f in enumerate(frames) if f.sent]
    assert results[1].rejections[0].reason is RejectReason.BAD_CRC
    assert results[2].vc_gap == 2  # the corrupted frame and the lost one


def test_unknown_spacecraft_is_refused() -> None:
    d = load_dictionary(DEMO)
    with pytest.raises(ValueError, match="known: demo-lander"):
        SimFramer(d, spacecraft="apollo")
