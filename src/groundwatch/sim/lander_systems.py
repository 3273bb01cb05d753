"""The lander's housekeeping around the descent: power, propellant tank, temperatures.

First-order models, enough for the numbers to move the way a controller expects:

- **Power**: an unregulated 28 V bus on a Li-ion battery, body-mounted arrays that see
  little sun in braking attitude. Load current is avionics plus heaters plus engine valve
  drivers while firing; SOC follows the battery current (coulomb counting); the battery
  voltage is the open-circuit voltage of the SOC plus I R, the bus a harness drop below.
- **Tank**: helium-regulated, so pressure holds near its set point with a droop that grows
  with flow; once the propellant is gone the helium blows down through the engine and the
  pressure collapses.
- **Thermal**: the engine (chamber wall) heats towards ~650 degC while firing and cools
  slowly; tanks cool a little as propellant is drawn (expansion); the battery warms with
  its current; avionics sit near 25 degC.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from groundwatch.sim.lunar_descent import DescentSample, LanderSpec


@dataclass(slots=True, frozen=True)
class SystemsSample:
    battery_soc_pct: float
    bus_voltage_v: float
    bus_current_a: float
    battery_voltage_v: float
    battery_current_a: float  # positive when charging
    solar_array_current_a: float
    tank_pressure_bar: float  # fuel tank; the oxidiser tank sits a little higher
    chamber_pressure_bar: float
    engine_temp_c: float
    tank_temp_c: float
    battery_temp_c: float
    avionics_temp_c: float


class LanderSystems:
    def __init__(self, spec: LanderSpec, seed: int = 0) -> None:
        self.spec = spec
        self.rng = random.Random(seed * 104_729 + 3)
        self.t = 0.0
        self.soc = 0.96
        self.pressure = spec.tank_pressure_bar
        self.engine_temp = 5.0
        self.tank_temp = 18.0
        self.battery_temp = 20.0
        self.avionics_temp = 24.0

    def update(self, d: DescentSample) -> SystemsSample:
        dt = max(d.t - self.t, 0.0)
        self.t = d.t
        rng = self.rng
        firing = d.thrust_n > 0.0
        throttle = d.throttle_pct / 100.0
        current = 9.0 + 2.5 * math.sin(d.t / 97.0) ** 2 + (4.0 * throttle if firing else 0.0)
        current += rng.gauss(0.0, 0.08)
        # arrays see the sun edge-on in braking attitude, better in orbit and on the ground
        solar = 1.5 if firing else 4.0
        solar = max(solar + rng.gauss(0.0, 0.05), 0.0)
        battery = solar - current
        self.soc = min(
            max(self.soc + battery * dt / 3600.0 / self.spec.battery_capacity_ah, 0.0), 1.0
        )
        v_oc = 25.0 + 4.5 * self.soc
        battery_v = v_oc + 0.04 * battery + rng.gauss(0.0, 0.02)
        voltage = battery_v - 0.012 * current  # harness drop

        if d.propellant_out:
            # helium vents through the open engine valves: pressure decays, tau ~ 8 s
            self.pressure = 1.0 + (self.pressure - 1.0) * math.exp(-dt / 8.0)
        else:
            self.pressure = self.spec.tank_pressure_bar - 0.8 * throttle
        pressure = self.pressure + rng.gauss(0.0, 0.03)

        def approach(current_value: float, target: float, tau: float) -> float:
            return target + (current_value - target) * math.exp(-dt / tau)

        self.engine_temp = approach(
            self.engine_temp, 650.0 * throttle if firing else -20.0, 45.0 if firing else 900.0
        )
        self.tank_temp = approach(self.tank_temp, 18.0 - 6.0 * throttle, 600.0)
        self.battery_temp = approach(self.battery_temp, 18.0 + 0.9 * current, 900.0)
        self.avionics_temp = approach(self.avionics_temp, 25.0 + 0.3 * current, 1200.0)
        return SystemsSample(
            battery_soc_pct=100.0 * self.soc,
            bus_voltage_v=voltage,
            bus_current_a=current,
            battery_voltage_v=battery_v,
            battery_current_a=battery,
            solar_array_current_a=solar,
            tank_pressure_bar=pressure,
            chamber_pressure_bar=max(10.0 * throttle + rng.gauss(0.0, 0.05), 0.0)
            if firing
            else 0.0,
            engine_temp_c=self.engine_temp + rng.gauss(0.0, 0.5),
            tank_temp_c=self.tank_temp + rng.gauss(0.0, 0.05),
            battery_temp_c=self.battery_temp + rng.gauss(0.0, 0.05),
            avionics_temp_c=self.avionics_temp + rng.gauss(0.0, 0.05),
        )
