"""A physically plausible powered lunar descent, from a 100 km orbit to the surface.

Planar two-body dynamics in polar coordinates (radius ``r``, angle ``theta`` from the start,
radial velocity ``vr`` up, tangential velocity ``vt`` forward) with a throttleable main
engine: the rocket equation in its differential form, mass flow ``T / (Isp g0)``. Phases:

- ``DEORBIT``: a retrograde burn in the 100 km orbit lowers the periapsis to ~15 km;
- ``TRANSFER``: half an orbit of coasting down to powered descent initiation;
- ``BRAKING``: full thrust against the horizontal velocity while a vertical-rate loop flies
  the altitude down to the approach gate as the horizontal speed runs out;
- ``APPROACH``: throttled descent that nulls the horizontal speed as the altitude falls;
- ``TERMINAL``: constant slow vertical descent until the legs touch;
- ``LANDED`` / ``CRASHED``.

Guidance flies on the *on-board* altitude estimate (height above local ground), fused from
the laser rangefinder. The terrain has a crater rim: the ground drops ``rim_drop_m`` under
the lander during the approach. In the ``hakuto`` variant (HAKUTO-R Mission 1, April 2023)
the filter rejects that sudden jump of the rangefinder as a sensor fault and propagates on
inertial data alone, so its estimate stays ``rim_drop_m`` too low: the lander descends
slowly kilometres above the ground believing it is about to touch, runs out of propellant,
falls, and the link is lost at impact. The nominal variant accepts the jump and lands.

The dynamics are deterministic; sensor noise comes from a seeded ``random.Random`` and never
feeds back into the truth, so both variants fly the same path until the rim.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from enum import IntEnum, StrEnum

MU_MOON = 4.9048695e12  # m^3/s^2
R_MOON = 1_737_400.0  # m
G0 = 9.80665  # m/s^2, defines Isp
# Fixed steps, so the truth does not depend on the frame rate: fine while the engine fires
# (guidance loops of a few seconds), coarser on the unpowered transfer orbit.
INTEGRATION_STEP_S = 0.1
COAST_STEP_S = 1.0


class DescentPhase(IntEnum):
    DEORBIT = 1
    TRANSFER = 2
    BRAKING = 3
    APPROACH = 4
    TERMINAL = 5
    LANDED = 6
    CRASHED = 7


class Variant(StrEnum):
    NOMINAL = "nominal"
    HAKUTO = "hakuto"


@dataclass(slots=True, frozen=True)
class LanderSpec:
    dry_mass_kg: float = 430.0
    propellant_kg: float = 600.0
    max_thrust_n: float = 3600.0
    min_throttle: float = 0.15
    isp_s: float = 318.0
    slew_deg_s: float = 6.0  # attitude slew rate limit of the thrust axis
    battery_capacity_ah: float = 60.0
    tank_pressure_bar: float = 17.2  # regulated


@dataclass(slots=True, frozen=True)
class DescentPlan:
    orbit_altitude_m: float = 100_000.0
    pdi_altitude_m: float = 15_000.0  # periapsis of the transfer orbit
    approach_gate_agl_m: float = 3_500.0
    approach_gate_speed_ms: float = 45.0
    terminal_gate_agl_m: float = 100.0
    terminal_rate_ms: float = 1.5
    plateau_m: float = 3_000.0  # ground before the crater rim, above the landing site
    rim_agl_m: float = 2_600.0  # the rim passes under the lander at this height above ground
    rim_drop_m: float = 3_000.0  # the ground drops this much beyond the rim
    post_landing_s: float = 60.0  # telemetry after a nominal touchdown


@dataclass(slots=True)
class LanderState:
    """The truth (what physics knows) and what the on-board computer believes."""

    t: float
    r: float
    theta: float
    vr: float
    vt: float
    propellant_kg: float
    phase: DescentPhase
    thrust_n: float = 0.0
    thrust_angle_deg: float = 90.0  # thrust axis from local vertical; 90 = horizontal retro
    agl_estimate_m: float = 0.0
    rangefinder_ok: bool = True
    rim_x_m: float | None = None  # downrange of the rim, fixed when the lander reaches it
    touchdown_t: float | None = None
    touchdown_speed_ms: float | None = None
    propellant_out_t: float | None = None
    ins_drift_ms: float = 0.0  # inertial vertical-velocity bias once the rangefinder is out

    @property
    def altitude_m(self) -> float:
        """Height above the landing site's datum."""
        return self.r - R_MOON

    @property
    def downrange_m(self) -> float:
        return self.theta * R_MOON


@dataclass(slots=True, frozen=True)
class DescentSample:
    """Everything the telemetry reports at one instant (SI units, angles in degrees)."""

    t: float
    phase: DescentPhase
    altitude_m: float  # truth, above the landing-site datum
    agl_true_m: float
    altitude_estimate_m: float  # on-board estimate of height above ground
    rangefinder_m: float  # measured height above ground (max range when out of range)
    rangefinder_valid: bool
    vertical_velocity_ms: float
    horizontal_velocity_ms: float
    downrange_km: float
    pitch_deg: float
    roll_deg: float
    yaw_deg: float
    propellant_kg: float
    mass_kg: float
    thrust_n: float
    throttle_pct: float
    propellant_out: bool
    nav_mode: str  # "tracking" (ground tracking), "terrain" (rangefinder), "inertial"


RANGEFINDER_MAX_M = 20_000.0
TUMBLE_DEG_S = 4.0  # attitude drift once the propellant is gone


class LunarDescent:
    """Integrates the descent; ``advance(dt)`` returns the sample at the new time."""

    def __init__(
        self,
        variant: Variant | str = Variant.NOMINAL,
        seed: int = 0,
        spec: LanderSpec | None = None,
        plan: DescentPlan | None = None,
    ) -> None:
        self.variant = Variant(variant)
        self.spec = spec or LanderSpec()
        self.plan = plan or DescentPlan()
        self.rng = random.Random(seed)
        r0 = R_MOON + self.plan.orbit_altitude_m
        self.state = LanderState(
            t=0.0,
            r=r0,
            theta=0.0,
            vr=0.0,
            vt=math.sqrt(MU_MOON / r0),
            propellant_kg=self.spec.propellant_kg,
            phase=DescentPhase.DEORBIT,
        )
        self.state.agl_estimate_m = self._agl_true(self.state)
        rp = R_MOON + self.plan.pdi_altitude_m
        self._deorbit_target_vt = math.sqrt(MU_MOON * 2 * rp / (r0 * (r0 + rp)))
        self._target = 0.0  # scenario time asked for so far

    # --- terrain and sensors ------------------------------------------------------------

    def terrain_m(self, x: float) -> float:
        """Ground height above the landing site at downrange ``x``: plateau, then crater."""
        rim = self.state.rim_x_m
        if rim is None or x < rim:
            return self.plan.plateau_m
        # the inner wall is a cliff: the rangefinder sees the crater floor at once
        return self.plan.plateau_m - self.plan.rim_drop_m

    def _agl_true(self, s: LanderState) -> float:
        return s.altitude_m - self.terrain_m(s.downrange_m)

    @property
    def done(self) -> bool:
        """The scenario is over: crashed, or landed and the post-landing time has passed."""
        s = self.state
        if s.phase is DescentPhase.CRASHED:
            return True
        return s.phase is DescentPhase.LANDED and (
            s.t - (s.touchdown_t or s.t) >= self.plan.post_landing_s
        )

    # --- guidance -----------------------------------------------------------------------

    def _command(self, s: LanderState) -> tuple[float, float]:
        """(thrust N, thrust angle from vertical in degrees) wanted now."""
        spec, plan = self.spec, self.plan
        mass = spec.dry_mass_kg + s.propellant_kg
        g_eff = MU_MOON / s.r**2 - s.vt**2 / s.r
        tmax = spec.max_thrust_n
        h = s.agl_estimate_m
        if s.phase is DescentPhase.DEORBIT:
            return tmax, 90.0
        if s.phase is DescentPhase.TRANSFER:
            return 0.0, 90.0
        if s.phase is DescentPhase.BRAKING:
            a_h = 0.9 * tmax / mass
            t_brake = max((s.vt - plan.approach_gate_speed_ms) / a_h, 20.0)
            vz_ref = -(h - plan.approach_gate_agl_m) / t_brake
            vz_ref = min(max(vz_ref, -80.0), 5.0)
            t_r = mass * (g_eff + (vz_ref - s.vr) / 5.0)
            t_r = min(max(t_r, 0.0), 0.95 * tmax)
            t_t = math.sqrt(tmax**2 - t_r**2)
            return tmax, math.degrees(math.atan2(t_t, t_r))
        if s.phase in (DescentPhase.APPROACH, DescentPhase.TERMINAL):
            if s.phase is DescentPhase.APPROACH:
                span = plan.approach_gate_agl_m - plan.terminal_gate_agl_m
                frac = min(max((h - plan.terminal_gate_agl_m) / span, 0.0), 1.0)
                vt_ref = plan.approach_gate_speed_ms * frac
                vz_ref = -min(40.0, max(plan.terminal_rate_ms, h / 35.0))
            else:
                vt_ref = 0.0
                vz_ref = -plan.terminal_rate_ms
            a_t = min(max((vt_ref - s.vt) / 6.0, -3.0), 3.0)
            a_r = g_eff + min(max((vz_ref - s.vr) / 3.0, -1.5), 3.0)
            t_r, t_t = mass * max(a_r, 0.0), -mass * a_t
            thrust = math.hypot(t_r, t_t)
            if thrust > tmax:  # keep the vertical authority, give up horizontal braking
                t_r = min(t_r, tmax)
                t_t = math.copysign(math.sqrt(max(tmax**2 - t_r**2, 0.0)), t_t)
                thrust = tmax
            thrust = max(thrust, spec.min_throttle * tmax)
            return thrust, math.degrees(math.atan2(t_t, max(t_r, 1e-9)))
        return 0.0, 0.0

    def _next_phase(self, s: LanderState) -> DescentPhase:
        plan = self.plan
        if s.phase is DescentPhase.DEORBIT and s.vt <= self._deorbit_target_vt:
            return DescentPhase.TRANSFER
        if s.phase is DescentPhase.TRANSFER and (
            s.altitude_m <= plan.pdi_altitude_m + 200.0 or (s.vr >= 0.0 and s.t > 600.0)
        ):
            return DescentPhase.BRAKING
        if s.phase is DescentPhase.BRAKING and s.vt <= plan.approach_gate_speed_ms:
            return DescentPhase.APPROACH
        if s.phase is DescentPhase.APPROACH and s.agl_estimate_m <= plan.terminal_gate_agl_m:
            return DescentPhase.TERMINAL
        return s.phase

    # --- navigation ---------------------------------------------------------------------

    def _navigate(self, s: LanderState, agl_true: float, dt: float) -> None:
        """Update the on-board height estimate from the rangefinder, or dead-reckon."""
        predicted = s.agl_estimate_m + (s.vr + s.ins_drift_ms) * dt
        in_range = agl_true <= RANGEFINDER_MAX_M
        if s.rangefinder_ok and in_range:
            jump = agl_true - predicted
            if self.variant is Variant.HAKUTO and s.rim_x_m is not None and jump > 500.0:
                # The fault-detection logic judges a jump of kilometres impossible and
                # excludes the rangefinder for the rest of the descent.
                s.rangefinder_ok = False
                s.ins_drift_ms = -0.05
                s.agl_estimate_m = predicted
                return
            s.agl_estimate_m = agl_true
        elif s.rangefinder_ok:  # above its range: ground tracking gives the orbit
            s.agl_estimate_m = agl_true
        else:
            s.agl_estimate_m = predicted

    # --- integration --------------------------------------------------------------------

    def _step(self, dt: float) -> None:
        s = self.state
        if s.phase in (DescentPhase.LANDED, DescentPhase.CRASHED):
            s.t += dt
            s.thrust_n = 0.0
            return
        want, angle = self._command(s)
        if s.propellant_out_t is not None:
            # the thrusters share the propellant: no attitude control, the lander tumbles
            s.thrust_angle_deg = (s.thrust_angle_deg + TUMBLE_DEG_S * dt + 180.0) % 360.0 - 180.0
        else:  # the thrust axis slews at a limited rate
            step = self.spec.slew_deg_s * dt
            s.thrust_angle_deg += min(max(angle - s.thrust_angle_deg, -step), step)
        thrust = want if s.propellant_kg > 0.0 else 0.0
        mass = self.spec.dry_mass_kg + s.propellant_kg
        burn = thrust / (self.spec.isp_s * G0) * dt
        if burn >= s.propellant_kg and thrust > 0.0:
            thrust *= s.propellant_kg / burn
            burn = s.propellant_kg
        s.propellant_kg -= burn
        if s.propellant_kg <= 0.0 and s.propellant_out_t is None and thrust > 0.0:
            s.propellant_out_t = s.t + dt
        s.propellant_kg = max(s.propellant_kg, 0.0)
        s.thrust_n = thrust
        a = math.radians(s.thrust_angle_deg)
        a_r = s.vt**2 / s.r - MU_MOON / s.r**2 + thrust * math.cos(a) / mass
        a_t = -s.vr * s.vt / s.r - thrust * math.sin(a) / mass
        s.vr += a_r * dt
        s.vt += a_t * dt
        s.r += s.vr * dt
        s.theta += s.vt * dt / s.r
        s.t += dt
        if s.phase is DescentPhase.APPROACH and s.rim_x_m is None:
            if self._agl_true(s) <= self.plan.rim_agl_m:
                s.rim_x_m = s.downrange_m
        agl = self._agl_true(s)
        if agl <= 0.0:
            speed = math.hypot(s.vr, s.vt)
            s.touchdown_t, s.touchdown_speed_ms = s.t, speed
            s.r = R_MOON + self.terrain_m(s.downrange_m)
            s.vr = s.vt = 0.0
            s.thrust_n = 0.0
            s.agl_estimate_m = 0.0 if s.rangefinder_ok else s.agl_estimate_m
            s.phase = DescentPhase.LANDED if speed <= 5.0 else DescentPhase.CRASHED
            return
        self._navigate(s, agl, dt)
        s.phase = self._next_phase(s)

    def advance(self, dt: float) -> DescentSample:
        """Integrate ``dt`` more seconds and sample the telemetry.

        Steps lie on a fixed grid that never bends to the sampling interval (a step is never
        cut short), so the truth is the same at any frame rate; the sample is taken at the
        last grid point not after the requested time (at most one step behind it)."""
        if dt < 0:
            raise ValueError(f"dt must be >= 0, got {dt}")
        self._target += dt
        while True:
            s = self.state
            coasting = s.phase is DescentPhase.TRANSFER and (
                s.altitude_m > self.plan.pdi_altitude_m + 2_000.0
            )
            step = COAST_STEP_S if coasting else INTEGRATION_STEP_S
            grid = (math.floor(s.t / step + 1e-6) + 1) * step
            if grid > self._target + 1e-6:
                break
            self._step(grid - s.t)
        return self.sample()

    def sample(self) -> DescentSample:
        s, rng = self.state, self.rng
        agl = max(self._agl_true(s), 0.0)
        valid = agl <= RANGEFINDER_MAX_M
        ranged = agl * (1.0 + rng.gauss(0.0, 0.002)) + rng.gauss(0.0, 0.3) if valid else 0.0
        mass = self.spec.dry_mass_kg + s.propellant_kg
        jitter = 0.3 if s.thrust_n > 0 else 0.05
        return DescentSample(
            t=s.t,
            phase=s.phase,
            altitude_m=s.altitude_m,
            agl_true_m=agl,
            altitude_estimate_m=max(s.agl_estimate_m + rng.gauss(0.0, 0.5), 0.0),
            rangefinder_m=max(ranged, 0.0) if valid else RANGEFINDER_MAX_M,
            rangefinder_valid=valid,
            vertical_velocity_ms=s.vr + rng.gauss(0.0, 0.02),
            horizontal_velocity_ms=abs(s.vt + rng.gauss(0.0, 0.02)),  # a speed
            downrange_km=s.downrange_m / 1000.0,
            pitch_deg=s.thrust_angle_deg + rng.gauss(0.0, jitter),
            roll_deg=rng.gauss(0.0, jitter),
            yaw_deg=rng.gauss(0.0, jitter),
            propellant_kg=s.propellant_kg,
            mass_kg=mass,
            thrust_n=s.thrust_n,
            throttle_pct=100.0 * s.thrust_n / self.spec.max_thrust_n,
            propellant_out=s.propellant_out_t is not None,
            nav_mode="inertial" if not s.rangefinder_ok else ("terrain" if valid else "tracking"),
        )
