"""The lunar descent as telemetry: physics, systems and link mapped onto a dictionary.

Every quantity the models produce has a canonical name and SI unit, and a list of parameter
names it may go by in a dictionary (``QUANTITIES``). Each dictionary parameter whose name
matches one is fed from the models (converted to the parameter's unit); the others get the
generic scenario's plausible values. The quantities the descent story needs (``required``)
must all be found, or construction fails naming what was looked for and what exists.

Scenario time per tick is the caller's ``dt``, except in the long transfer coast, which runs
``coast_warp`` times faster so that a whole descent fits a short demo.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from groundwatch.decoders.api import PacketLayout, ParameterInfo, TelemetryDictionary
from groundwatch.sim.lander_systems import LanderSystems, SystemsSample
from groundwatch.sim.link_model import LinkModel, LinkSample
from groundwatch.sim.lunar_descent import DescentPhase, DescentSample, LunarDescent, Variant
from groundwatch.sim.scenario import GenericScenario, PacketValues, Tick, describe_missing


@dataclass(slots=True, frozen=True)
class Quantity:
    unit: str  # SI unit of the model's value
    names: tuple[str, ...]  # parameter names it may go by, preferred first
    required: bool = False


QUANTITIES: dict[str, Quantity] = {
    "altitude_estimate": Quantity(
        "m",
        (
            "altitude_estimate",
            "alt_estimate",
            "altitude_est",
            "est_altitude",
            "estimated_altitude",
            "nav_altitude",
            "altitude",
        ),
        required=True,
    ),
    "rangefinder_altitude": Quantity(
        "m",
        (
            "rangefinder_altitude",
            "rangefinder_alt",
            "altitude_rangefinder",
            "rangefinder",
            "lrf_altitude",
            "laser_altitude",
            "radar_altitude",
            "rangefinder_range",
        ),
        required=True,
    ),
    "rangefinder_valid": Quantity(
        "bool", ("rangefinder_lock", "rangefinder_valid", "lrf_valid", "lrf_lock")
    ),
    "nav_solution": Quantity("enum", ("nav_solution", "nav_mode", "nav_source")),
    "imu_ok": Quantity("bool", ("imu_ok", "imu_healthy")),
    "hazard_avoidance": Quantity("bool", ("hazard_avoidance", "hda_active")),
    "vertical_velocity": Quantity(
        "m/s",
        ("vertical_velocity", "velocity_vertical", "vel_vertical", "v_vertical", "vz"),
        required=True,
    ),
    "horizontal_velocity": Quantity(
        "m/s",
        (
            "horizontal_velocity",
            "velocity_horizontal",
            "vel_horizontal",
            "v_horizontal",
            "vx",
            "ground_speed",
        ),
        required=True,
    ),
    "downrange": Quantity("m", ("downrange", "downrange_distance", "range_to_go")),
    "pitch": Quantity("deg", ("pitch", "attitude_pitch", "pitch_angle")),
    "roll": Quantity("deg", ("roll", "attitude_roll", "roll_angle")),
    "yaw": Quantity("deg", ("yaw", "attitude_yaw", "yaw_angle")),
    "phase": Quantity("enum", ("descent_phase", "phase", "gnc_mode", "flight_phase", "mode")),
    "propellant_mass": Quantity(
        "kg",
        (
            "propellant_mass",
            "propellant_kg",
            "propellant",
            "prop_mass",
            "fuel_mass",
            "propellant_remaining",
        ),
        required=True,
    ),
    "lander_mass": Quantity("kg", ("lander_mass", "total_mass", "mass")),
    "tank_pressure": Quantity(
        "bar",
        (
            "fuel_tank_pressure",
            "tank_pressure",
            "prop_tank_pressure",
            "propellant_pressure",
            "pressure",
        ),
    ),
    "ox_tank_pressure": Quantity("bar", ("ox_tank_pressure", "oxidiser_tank_pressure")),
    "chamber_pressure": Quantity("bar", ("chamber_pressure", "engine_pressure")),
    "thrust": Quantity("N", ("thrust", "main_engine_thrust", "engine_thrust")),
    "throttle": Quantity("%", ("throttle", "throttle_pct", "engine_throttle")),
    "main_valve": Quantity("enum", ("main_valve", "engine_valve")),
    "isolation_valve": Quantity("enum", ("isolation_valve", "latch_valve")),
    "rcs_valves": Quantity("bool", ("rcs_valves", "rcs_valve", "thruster_valves")),
    "battery_soc": Quantity(
        "%", ("battery_soc", "soc", "battery_state_of_charge", "state_of_charge")
    ),
    "bus_voltage": Quantity("V", ("bus_voltage", "voltage")),
    "bus_current": Quantity("A", ("bus_current", "load_current", "current")),
    "battery_voltage": Quantity("V", ("battery_voltage", "bat_voltage")),
    "battery_current": Quantity("A", ("battery_current", "bat_current")),
    "solar_array_current": Quantity("A", ("solar_array_current", "solar_current", "sa_current")),
    "engine_temp": Quantity(
        "degC", ("engine_temp", "engine_temperature", "chamber_temp", "thruster_temp")
    ),
    "tank_temp": Quantity(
        "degC",
        ("fuel_tank_temp", "tank_temp", "tank_temperature", "propellant_temp", "prop_tank_temp"),
    ),
    "ox_tank_temp": Quantity("degC", ("ox_tank_temp", "oxidiser_tank_temp")),
    "battery_temp": Quantity("degC", ("battery_temp", "battery_temperature", "bat_temp")),
    "avionics_temp": Quantity(
        "degC", ("avionics_temp", "avionics_temperature", "obc_temp", "electronics_temp")
    ),
    "carrier_lock": Quantity("bool", ("carrier_lock",)),
    "bit_lock": Quantity("bool", ("bit_lock",)),
    "downlink_rate": Quantity("enum", ("downlink_rate", "tm_rate")),
    "doppler": Quantity("Hz", ("doppler", "doppler_hz")),
    "sw_mode": Quantity("enum", ("sw_mode", "obc_mode", "spacecraft_mode")),
    "rssi": Quantity("dBm", ("rssi", "rssi_dbm", "signal_strength"), required=True),
    "ebn0": Quantity("dB", ("ebn0", "eb_n0", "ebno", "eb_no", "ebn0_db"), required=True),
}

# (model unit, dictionary unit) -> (factor, offset): dictionary = model * factor + offset
_CONVERSIONS: dict[tuple[str, str], tuple[float, float]] = {
    ("m", "km"): (1e-3, 0.0),
    ("m", "ft"): (3.280839895, 0.0),
    ("m/s", "km/s"): (1e-3, 0.0),
    ("m/s", "km/h"): (3.6, 0.0),
    ("kg", "g"): (1e3, 0.0),
    ("bar", "kpa"): (100.0, 0.0),
    ("bar", "pa"): (1e5, 0.0),
    ("bar", "mbar"): (1e3, 0.0),
    ("bar", "mpa"): (0.1, 0.0),
    ("bar", "psi"): (14.503773773, 0.0),
    ("N", "kn"): (1e-3, 0.0),
    ("degC", "k"): (1.0, 273.15),
    ("deg", "rad"): (0.017453292519943295, 0.0),
    ("%", "1"): (0.01, 0.0),
    ("V", "mv"): (1e3, 0.0),
    ("A", "ma"): (1e3, 0.0),
}


def convert(value: float, model_unit: str, unit: str | None) -> float:
    if not unit:
        return value
    factor, offset = _CONVERSIONS.get((model_unit, unit.strip().lower()), (1.0, 0.0))
    return value * factor + offset


def _key(name: str) -> str:
    return name.lower().replace("-", "_")


def map_parameters(
    dictionary: TelemetryDictionary,
) -> dict[tuple[str, str], str]:
    """(packet, parameter) -> quantity, the first alias a parameter matches; raises
    ValueError naming every required quantity that no parameter matches."""
    mapping: dict[tuple[str, str], str] = {}
    found: set[str] = set()
    params = [(layout.name, info) for layout in dictionary.packets for info in layout.parameters]
    for quantity, q in QUANTITIES.items():
        for alias in q.names:  # preferred names first, across all packets
            hits = [(pk, info) for pk, info in params if _key(info.name) == alias]
            hits = [(pk, info) for pk, info in hits if (pk, info.name) not in mapping]
            if hits:
                for pk, info in hits:
                    mapping[(pk, info.name)] = quantity
                found.add(quantity)
                break
    missing = {k: q.names for k, q in QUANTITIES.items() if q.required and k not in found}
    if missing:
        available = [f"{pk}.{info.name}" for pk, info in params]
        raise ValueError(describe_missing(missing, available, "lunar-descent scenario"))
    return mapping


PHASE_LABELS: dict[DescentPhase, tuple[str, ...]] = {
    DescentPhase.DEORBIT: ("DEORBIT", "ORBIT", "COAST"),
    DescentPhase.TRANSFER: ("TRANSFER", "COAST", "ORBIT"),
    DescentPhase.BRAKING: ("BRAKING", "PDI"),
    DescentPhase.APPROACH: ("APPROACH",),
    DescentPhase.TERMINAL: ("TERMINAL", "VERTICAL_DESCENT"),
    DescentPhase.LANDED: ("LANDED", "TOUCHDOWN", "SURFACE"),
    DescentPhase.CRASHED: ("CRASHED",),
}
SAFED_AFTER_S = 20.0  # after touchdown the sequencer safes the engine


def enum_value(info: ParameterInfo, labels: tuple[str, ...], number: int | None = None) -> Any:
    """The first of ``labels`` the parameter's enumeration declares (case-insensitive),
    else ``number`` when declared, else the enumeration's first label."""
    if not info.enum:
        return number if number is not None else 0
    by_upper = {label.upper(): label for label in info.enum.values()}
    for wanted in labels:
        if wanted.upper() in by_upper:
            return by_upper[wanted.upper()]
    if number is not None and number in info.enum:
        return info.enum[number]
    return next(iter(info.enum.values()))


class LunarDescentScenario:
    """Ticks of the descent for a dictionary; ends at impact or after the post-landing time."""

    def __init__(
        self,
        dictionary: TelemetryDictionary,
        *,
        variant: Variant | str = Variant.NOMINAL,
        seed: int = 0,
        coast_warp: float = 10.0,
        packets: Sequence[str] | None = None,
    ) -> None:
        self.descent = LunarDescent(variant, seed=seed)
        self.systems = LanderSystems(self.descent.spec, seed=seed)
        self.link = LinkModel(seed=seed)
        self.mapping = map_parameters(dictionary)
        self.fill = GenericScenario(
            dictionary, seed=seed, excursions=False, steady=True, packets=packets
        )
        self.rcs_rng = random.Random(seed * 31 + 5)
        self.layouts: list[PacketLayout] = self.fill.layouts
        self.coast_warp = coast_warp
        self._over = False

    def _quantities(self, d: DescentSample, s: SystemsSample, link: LinkSample) -> dict[str, Any]:
        powered = d.thrust_n > 0.0
        landed = d.phase is DescentPhase.LANDED
        touchdown = self.descent.state.touchdown_t
        phase = PHASE_LABELS[d.phase]
        if landed and touchdown is not None and d.t - touchdown >= SAFED_AFTER_S:
            phase = ("SAFED", *phase)
        nav = {"tracking": ("COARSE",), "terrain": ("TERRAIN", "FINE"), "inertial": ("COARSE",)}
        rcs = self.rcs_rng
        # line-of-sight velocity: mostly the horizontal motion, Earth low ahead
        doppler = -(0.3 * d.horizontal_velocity_ms + 0.7 * d.vertical_velocity_ms) / 299_792_458.0
        return {
            "altitude_estimate": d.altitude_estimate_m,
            "rangefinder_altitude": d.rangefinder_m,
            "rangefinder_valid": d.rangefinder_valid,
            "nav_solution": nav[d.nav_mode],
            "imu_ok": True,
            "hazard_avoidance": d.phase is DescentPhase.APPROACH,
            "vertical_velocity": d.vertical_velocity_ms,
            "horizontal_velocity": d.horizontal_velocity_ms,
            "downrange": d.downrange_km * 1000.0,
            "pitch": d.pitch_deg,
            "roll": d.roll_deg,
            "yaw": d.yaw_deg,
            "phase": phase,
            "propellant_mass": d.propellant_kg,
            "lander_mass": d.mass_kg,
            "tank_pressure": s.tank_pressure_bar,
            "ox_tank_pressure": s.tank_pressure_bar + 0.35,
            "chamber_pressure": s.chamber_pressure_bar,
            "thrust": d.thrust_n,
            "throttle": d.throttle_pct,
            "main_valve": ("OPEN",) if powered else ("CLOSED",),
            "isolation_valve": ("CLOSED",) if landed else ("OPEN",),
            "rcs_valves": [powered and rcs.random() < 0.25 for _ in range(4)],
            "battery_soc": s.battery_soc_pct,
            "bus_voltage": s.bus_voltage_v,
            "bus_current": s.bus_current_a,
            "battery_voltage": s.battery_voltage_v,
            "battery_current": s.battery_current_a,
            "solar_array_current": s.solar_array_current_a,
            "engine_temp": s.engine_temp_c,
            "tank_temp": s.tank_temp_c,
            "ox_tank_temp": s.tank_temp_c - 0.8,
            "battery_temp": s.battery_temp_c,
            "avionics_temp": s.avionics_temp_c,
            "rssi": link.rssi_dbm,
            "ebn0": link.ebn0_db,
            "carrier_lock": link.ebn0_db > 1.0,
            "bit_lock": link.ebn0_db > 3.0,
            "downlink_rate": ("R64K",),
            "doppler": doppler * 2.2e9,
            "sw_mode": ("SURFACE",) if landed else ("DESCENT",),
        }

    def _values(self, layout: PacketLayout, quantities: dict[str, Any], t: float) -> dict[str, Any]:
        generic = self.fill.values(layout, t)
        out: dict[str, Any] = {}
        for info in layout.parameters:
            quantity = self.mapping.get((layout.name, info.name))
            if quantity is None:
                if info.name in generic:
                    out[info.name] = generic[info.name]
                continue
            value = quantities[quantity]
            if isinstance(value, tuple):  # candidate enumeration labels
                out[info.name] = enum_value(info, value)
            elif isinstance(value, bool):
                out[info.name] = [value] * info.array_length if info.array_length else value
            elif isinstance(value, list):
                out[info.name] = value
            else:
                out[info.name] = convert(float(value), QUANTITIES[quantity].unit, info.unit)
        return out

    def next_tick(self, dt: float) -> Tick | None:
        if self._over or self.descent.done:
            return None
        state = self.descent.state
        warp = self.coast_warp if state.phase is DescentPhase.TRANSFER else 1.0
        d = self.descent.advance(dt * warp)
        if d.phase is DescentPhase.CRASHED:
            # The link ends with the impact: the last frame went out before it.
            self._over = True
            return None
        s = self.systems.update(d)
        link = self.link.evaluate(d)
        quantities = self._quantities(d, s, link)
        packets = [PacketValues(lay, self._values(lay, quantities, d.t)) for lay in self.layouts]
        truth = {
            "altitude_m": d.altitude_m,
            "agl_m": d.agl_true_m,
            "phase": float(d.phase),
            "earth_elevation_deg": link.earth_elevation_deg,
            "p_corrupted": link.p_corrupted,
        }
        return Tick(d.t, packets, fate=link.fate, link_up=link.link_up, truth=truth)
