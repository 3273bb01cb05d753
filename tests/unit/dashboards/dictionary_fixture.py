"""A small telemetry dictionary following ``decoders/api.py``, for the dashboard tests.

Stands in for ``load_dictionary(missions/demo-lander.yaml)`` until the dictionary loader
lands; it only needs what dashboards read (mission, spacecraft, packets, parameters()).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from groundwatch.decoders.api import FramingDef, Limits, ParameterInfo, SpacecraftDef


@dataclass
class FixturePacket:
    name: str
    subsystem: str
    parameters: list[ParameterInfo]
    apid: int | None = None
    description: str = ""


@dataclass
class FixtureDictionary:
    mission: str
    packets: list[FixturePacket]
    spacecraft: Sequence[SpacecraftDef] = field(default_factory=list)
    framing: FramingDef = field(default_factory=FramingDef)

    def parameters(self) -> list[ParameterInfo]:
        return [p for pk in self.packets for p in pk.parameters]


def _p(name: str, packet: str, subsystem: str, **kw: object) -> ParameterInfo:
    return ParameterInfo(name=name, packet=packet, subsystem=subsystem, **kw)  # type: ignore[arg-type]


def lander() -> FixtureDictionary:
    gnc = [
        _p(
            "altitude",
            "gnc_nav",
            "GNC",
            type="float32",
            unit="m",
            key=True,
            limits=Limits(yellow_low=50.0, red_low=10.0),
        ),
        _p(
            "vertical_velocity",
            "gnc_nav",
            "GNC",
            type="float32",
            unit="m/s",
            key=True,
            limits=Limits(yellow_low=-20.0, red_low=-40.0, yellow_high=5.0, red_high=10.0),
        ),
        _p("attitude_q", "gnc_nav", "GNC", type="float32", array_length=4),
        _p(
            "gnc_mode",
            "gnc_nav",
            "GNC",
            type="enum",
            key=True,
            enum={0: "CRUISE", 1: "BRAKING", 2: "TERMINAL", 3: "LANDED"},
        ),
        _p("rangefinder_ok", "gnc_nav", "GNC", type="bool"),
    ]
    prop = [
        _p(
            "tank_pressure",
            "propulsion",
            "Propulsion",
            type="uint16",
            unit="kPa",
            key=True,
            limits=Limits(yellow_high=2400.0, red_high=2600.0, yellow_low=800.0, red_low=500.0),
        ),
        _p("propellant_mass", "propulsion", "Propulsion", type="float32", unit="kg"),
        _p("thrust", "propulsion", "Propulsion", type="float32", unit="N"),
    ]
    power = [
        _p(
            "bus_voltage",
            "power",
            "Power",
            type="uint12",
            unit="V",
            key=True,
            limits=Limits(yellow_low=26.0, red_low=24.0, yellow_high=32.0, red_high=34.0),
        ),
        _p(
            "battery_soc",
            "power",
            "Power",
            type="uint8",
            unit="%",
            limits=Limits(yellow_low=30.0, red_low=15.0),
        ),
        _p("bus_current", "power", "Power", type="int16", unit="A"),
        _p("sw_version", "power", "Power", type="string"),
    ]
    return FixtureDictionary(
        mission="Fixture Lander",
        spacecraft=[SpacecraftDef(name="lander", scid=42)],
        packets=[
            FixturePacket("gnc_nav", "GNC", gnc, apid=100),
            FixturePacket("propulsion", "Propulsion", prop, apid=101),
            FixturePacket("power", "Power", power, apid=102),
        ],
    )
