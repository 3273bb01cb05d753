"""The descent is physically consistent, tells the HAKUTO-R story, and is deterministic."""

from __future__ import annotations

import itertools
import math

import pytest

from groundwatch.sim.link_model import FrameFate, LinkModel
from groundwatch.sim.lunar_descent import (
    G0,
    DescentPhase,
    DescentSample,
    LunarDescent,
    Variant,
)


def fly(
    variant: Variant, seed: int = 1, dt: float = 1.0
) -> tuple[LunarDescent, list[DescentSample]]:
    descent = LunarDescent(variant, seed=seed)
    samples = [descent.sample()]
    while not descent.done:
        samples.append(descent.advance(dt))
        assert descent.state.t < 20_000, "the descent never ends"
    return descent, samples


@pytest.fixture(scope="module")
def nominal() -> tuple[LunarDescent, list[DescentSample]]:
    return fly(Variant.NOMINAL)


@pytest.fixture(scope="module")
def hakuto() -> tuple[LunarDescent, list[DescentSample]]:
    return fly(Variant.HAKUTO)


def phases(samples: list[DescentSample]) -> list[DescentPhase]:
    out: list[DescentPhase] = []
    for s in samples:
        if not out or out[-1] is not s.phase:
            out.append(s.phase)
    return out


def test_nominal_goes_through_every_phase_in_order_and_lands_softly(nominal):
    descent, samples = nominal
    assert phases(samples) == [
        DescentPhase.DEORBIT,
        DescentPhase.TRANSFER,
        DescentPhase.BRAKING,
        DescentPhase.APPROACH,
        DescentPhase.TERMINAL,
        DescentPhase.LANDED,
    ]
    st = descent.state
    assert st.touchdown_speed_ms is not None and st.touchdown_speed_ms < 2.0
    assert st.propellant_kg > 20.0  # landed with a margin
    assert samples[0].altitude_m == pytest.approx(100_000.0)
    pdi = next(s for s in samples if s.phase is DescentPhase.BRAKING)
    assert 14_000 < pdi.altitude_m < 16_500  # the transfer orbit's periapsis
    assert pdi.horizontal_velocity_ms == pytest.approx(1690, abs=15)


def test_altitude_falls_monotonically_but_for_noise(nominal):
    _, samples = nominal
    flying = [s for s in samples if s.phase is not DescentPhase.LANDED]
    rises = [b.altitude_m - a.altitude_m for a, b in itertools.pairwise(flying)]
    assert max(rises) < 5.0  # never climbs by more than a guidance wobble
    assert flying[-1].altitude_m < 100.0


def test_propellant_never_negative_and_falls_exactly_with_thrust(nominal, hakuto):
    for descent, samples in (nominal, hakuto):
        isp = descent.spec.isp_s
        for a, b in itertools.pairwise(samples):
            assert b.propellant_kg >= 0.0
            assert b.propellant_kg <= a.propellant_kg
            if a.thrust_n > 0 and b.thrust_n > 0 and b.propellant_kg > 0:
                assert b.propellant_kg < a.propellant_kg
            if a.thrust_n == descent.spec.max_thrust_n == b.thrust_n:
                # full thrust for dt seconds: mass flow T / (Isp g0)
                burnt = a.propellant_kg - b.propellant_kg
                assert burnt == pytest.approx(a.thrust_n / (isp * G0) * (b.t - a.t), rel=1e-6)
            if a.thrust_n == 0 and b.thrust_n == 0:
                assert b.propellant_kg == a.propellant_kg


def test_total_delta_v_matches_the_rocket_equation(nominal):
    descent, samples = nominal
    spec = descent.spec
    m0 = spec.dry_mass_kg + spec.propellant_kg
    m1 = spec.dry_mass_kg + samples[-1].propellant_kg
    ideal = spec.isp_s * G0 * math.log(m0 / m1)
    # orbital speed plus the gravity losses of a ~10 minute powered descent
    assert 1_700 < ideal < 2_600


def test_nominal_estimate_follows_the_rangefinder(nominal):
    _, samples = nominal
    for s in samples:
        if s.rangefinder_valid and s.phase is not DescentPhase.LANDED:
            assert abs(s.altitude_estimate_m - s.rangefinder_m) < 0.01 * s.rangefinder_m + 10


def test_hakuto_diverges_hovers_high_runs_dry_and_crashes(hakuto):
    descent, samples = hakuto
    st = descent.state
    assert st.phase is DescentPhase.CRASHED
    diverged = next(
        s
        for s in samples
        if s.rangefinder_valid and s.rangefinder_m - s.altitude_estimate_m > 2_000
    )
    assert diverged.phase is DescentPhase.APPROACH  # right after the crater rim
    believes_down = next(s for s in samples if s.altitude_estimate_m <= 1.0)
    assert believes_down.agl_true_m > 2_000  # kilometres up while it thinks it is landing
    assert st.propellant_out_t is not None
    assert diverged.t < believes_down.t < st.propellant_out_t < (st.touchdown_t or 0)
    out = [s for s in samples if s.propellant_out]
    assert out and all(s.propellant_kg == 0.0 and s.thrust_n == 0.0 for s in out)
    assert st.touchdown_speed_ms is not None and st.touchdown_speed_ms > 50  # a free fall
    hover = [s for s in samples if believes_down.t <= s.t < st.propellant_out_t]
    assert all(s.throttle_pct > 15.0 for s in hover)  # burning propellant all along


def test_hakuto_and_nominal_fly_the_same_path_until_the_rim(nominal, hakuto):
    _, a = nominal
    _, b = hakuto
    rim = next(i for i, s in enumerate(b) if s.rangefinder_m - s.altitude_estimate_m > 500)
    assert rim > 100
    for x, y in zip(a[: rim - 1], b[: rim - 1], strict=True):
        assert x == y


def test_same_seed_same_descent_and_noise_never_touches_truth():
    _, a = fly(Variant.HAKUTO, seed=7, dt=5.0)
    _, b = fly(Variant.HAKUTO, seed=7, dt=5.0)
    _, c = fly(Variant.HAKUTO, seed=8, dt=5.0)
    assert a == b
    assert a != c
    assert [s.altitude_m for s in a] == [s.altitude_m for s in c]


def test_truth_does_not_depend_on_the_sampling_step():
    coarse = LunarDescent(Variant.NOMINAL, seed=1)
    fine = LunarDescent(Variant.NOMINAL, seed=1)
    for _ in range(100):
        coarse.advance(40.0)
    for _ in range(1600):
        fine.advance(2.5)
    assert coarse.state.t == pytest.approx(fine.state.t)
    assert coarse.state.r == pytest.approx(fine.state.r, abs=1e-3)
    assert coarse.state.propellant_kg == pytest.approx(fine.state.propellant_kg, abs=1e-6)


def test_link_degrades_near_the_ground_and_ends_at_impact(hakuto, nominal):
    for _, samples in (nominal, hakuto):
        link = LinkModel(seed=3)
        evaluated = [(s, link.evaluate(s)) for s in samples]
        high = [ls.ebn0_db for s, ls in evaluated if s.agl_true_m > 50_000]
        low = [ls.ebn0_db for s, ls in evaluated if s.agl_true_m < 500]
        assert sum(low) / len(low) < sum(high) / len(high) - 2.0
        assert max(ls.p_corrupted for s, ls in evaluated if s.agl_true_m > 50_000) < 0.01
    _, samples = hakuto
    crash = LinkModel(seed=3).evaluate(samples[-1])
    assert samples[-1].phase is DescentPhase.CRASHED
    assert crash.fate is FrameFate.LOST and not crash.link_up


def test_bad_dt_is_refused():
    with pytest.raises(ValueError):
        LunarDescent().advance(-1.0)
