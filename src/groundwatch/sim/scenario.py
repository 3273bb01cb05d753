"""Scenarios: what the spacecraft says, tick by tick; and the generic one for any dictionary.

A scenario yields ``Tick``s: the scenario time, the packets of that tick with their
engineering values, and the fate of the frames that carry them (the link model's say). The
framer turns a tick into frames. Scenario time advances by a fixed ``dt`` per tick, chosen by
the caller (``speedup / rate``), so the same seed gives the same values at any wall rate.

``GenericScenario`` invents plausible values for every parameter of any dictionary: smooth
in time (two slow sines per parameter, random phases), inside the yellow limits most of the
time with a rare excursion past them, enumerations cycling through their labels (or, with
``steady``, fixed: first label, health flags set), and always
within what the parameter's raw type can carry after calibration (probed once by building
and decoding through the layout, since a dictionary does not publish its raw ranges).
"""

from __future__ import annotations

import functools
import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from groundwatch.decoders.api import PacketLayout, ParameterInfo, TelemetryDictionary
from groundwatch.sim.link_model import FrameFate

_INT_TYPE = re.compile(r"^(u?int)(\d+)")
STEADY_TRUE_WORDS = ("ok", "enabled", "powered", "lock", "valid", "healthy")


@dataclass(slots=True)
class PacketValues:
    layout: PacketLayout
    eng: dict[str, Any]


@dataclass(slots=True)
class Tick:
    t_s: float  # scenario time since the start
    packets: list[PacketValues]
    fate: FrameFate = FrameFate.OK
    link_up: bool = True  # False: the spacecraft is gone; nothing more will come
    truth: dict[str, float] = field(default_factory=dict)  # for the record, never sent


class Scenario(Protocol):
    def next_tick(self, dt: float) -> Tick | None:
        """Advance ``dt`` seconds of scenario time; None when the scenario is over."""
        ...


@dataclass(slots=True)
class _Signal:
    """How one numeric parameter moves: centre, amplitude, two periods and phases."""

    centre: float
    amplitude: float
    periods: tuple[float, float]
    phases: tuple[float, float]
    excursion: float  # added during the rare excursion window
    excursion_period: float

    def value(self, t: float) -> float:
        v = self.centre + self.amplitude * (
            0.7 * math.sin(2 * math.pi * t / self.periods[0] + self.phases[0])
            + 0.3 * math.sin(2 * math.pi * t / self.periods[1] + self.phases[1])
        )
        # Excursions: 5 % of each period, a smooth bump past the yellow limit.
        cycle = (t + self.phases[0] * self.excursion_period) % self.excursion_period
        window = 0.05 * self.excursion_period
        if cycle < window:
            v += self.excursion * math.sin(math.pi * cycle / window)
        return v


def _numeric_range(info: ParameterInfo) -> tuple[float, float, float] | None:
    """(low, high, excursion) from the limits: low/high inside yellow, excursion past it."""
    lim = info.limits
    if lim is None:
        return None
    lo = lim.yellow_low if lim.yellow_low is not None else lim.red_low
    hi = lim.yellow_high if lim.yellow_high is not None else lim.red_high
    if lo is None and hi is None:
        return None
    if lo is None:
        assert hi is not None
        lo = hi - max(abs(hi), 1.0)
    if hi is None:
        hi = lo + max(abs(lo), 1.0)
    span = hi - lo
    return lo + 0.1 * span, hi - 0.1 * span, 0.3 * span


class GenericScenario:
    """Plausible values for any dictionary; ``packets_per_tick`` packets round-robin."""

    def __init__(
        self,
        dictionary: TelemetryDictionary,
        *,
        seed: int = 0,
        packets_per_tick: int | None = None,
        excursions: bool = True,
        steady: bool = False,
        packets: Sequence[str] | None = None,
    ) -> None:
        self.dictionary = dictionary
        self.rng = random.Random(seed)
        chosen = [p for p in dictionary.packets if packets is None or p.name in packets]
        if packets is not None:
            missing = sorted(set(packets) - {p.name for p in chosen})
            if missing:
                known = ", ".join(p.name for p in dictionary.packets)
                raise ValueError(f"packets not in the dictionary: {missing} (known: {known})")
        if not chosen:
            raise ValueError("the dictionary has no packets to simulate")
        self.layouts = chosen
        self.packets_per_tick = packets_per_tick or len(chosen)
        self.excursions = excursions
        self.steady = steady
        self.t = 0.0
        self._next = 0
        self._signals: dict[tuple[str, str], _Signal] = {}
        for layout in chosen:
            for info in layout.parameters:
                sig = self._plan(layout, info)
                if sig is not None:
                    self._signals[(layout.name, info.name)] = sig

    # --- planning: one signal per numeric parameter ---------------------------------------

    def _plan(self, layout: PacketLayout, info: ParameterInfo) -> _Signal | None:
        if info.enum or info.type in ("enum", "bool", "string", "derived", "bytes"):
            return None
        rng = self.rng
        ranged = _numeric_range(info)
        if ranged is not None:
            lo, hi, excursion = ranged
            lo, hi = self._fit(layout, info, [(lo, hi)])
        else:
            lo, hi = self._fit(layout, info, self._type_ranges(info))
            excursion = 0.0
        centre, amplitude = (lo + hi) / 2, (hi - lo) / 2
        return _Signal(
            centre=centre,
            amplitude=amplitude,
            periods=(rng.uniform(60.0, 300.0), rng.uniform(7.0, 40.0)),
            phases=(rng.uniform(0, 2 * math.pi), rng.uniform(0, 2 * math.pi)),
            excursion=excursion if self.excursions else 0.0,
            excursion_period=rng.uniform(400.0, 900.0),
        )

    @staticmethod
    def _type_ranges(info: ParameterInfo) -> list[tuple[float, float]]:
        """Candidate ranges without limits: a modest one, then the raw type's own."""
        m = _INT_TYPE.match(info.type)
        if m and m.group(1) == "uint":
            bits = min(int(m.group(2)), 32)
            return [(0.0, 100.0), (0.0, float((1 << bits) - 1))]
        if m:
            bits = min(int(m.group(2)), 32)
            return [(-100.0, 100.0), (-float(1 << (bits - 1)), float((1 << (bits - 1)) - 1))]
        return [(-100.0, 100.0)]

    def _base(self, layout: PacketLayout) -> dict[str, Any]:
        """Values that always build: the first label of every enumeration."""
        base: dict[str, Any] = {}
        for info in layout.parameters:
            if info.enum:
                label = next(iter(info.enum.values()))
                base[info.name] = [label] * info.array_length if info.array_length else label
        return base

    def _round_trips(self, layout: PacketLayout, info: ParameterInfo, value: float) -> bool:
        """Building ``value`` and decoding it gives it back (within 1 % of its size)."""
        given: Any = [value] * info.array_length if info.array_length else value
        try:
            params, _ = layout.decode(layout.build({**self._base(layout), info.name: given}, 0))
        except Exception:  # any build or parse failure means: not representable
            return False
        got = params.get(info.name)
        eng = got.eng if got is not None else None
        if isinstance(eng, list) and eng:
            eng = eng[0]
        if not isinstance(eng, int | float):
            return False
        return abs(float(eng) - value) <= max(abs(value), 1.0) * 0.01

    def _fit(
        self, layout: PacketLayout, info: ParameterInfo, candidates: list[tuple[float, float]]
    ) -> tuple[float, float]:
        """The first candidate range whose ends survive build and decode, else the last
        one shrunk towards its middle until they do."""
        for lo, hi in candidates:
            if self._round_trips(layout, info, lo) and self._round_trips(layout, info, hi):
                return lo, hi
        lo, hi = candidates[-1]
        for _ in range(40):
            mid, half = (lo + hi) / 2, (hi - lo) / 4
            lo, hi = mid - half, mid + half
            if self._round_trips(layout, info, lo) and self._round_trips(layout, info, hi):
                return lo, hi
        zero = self._zero_value(layout, info)
        return zero, zero

    def _zero_value(self, layout: PacketLayout, info: ParameterInfo) -> float:
        try:
            params, _ = layout.decode(layout.build(self._base(layout), 0))
            eng = params[info.name].eng
            return float(eng[0] if isinstance(eng, list) else eng)
        except Exception:
            return 0.0

    # --- values -------------------------------------------------------------------------

    def values(self, layout: PacketLayout, t: float) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for info in layout.parameters:
            out[info.name] = self._value(layout, info, t)
        return {k: v for k, v in out.items() if v is not None}

    def _value(self, layout: PacketLayout, info: ParameterInfo, t: float) -> Any:
        sig = self._signals.get((layout.name, info.name))
        step = int(t // 10.0)  # enumerations and flags change every 10 s
        if sig is not None:
            v = sig.value(t)
            if info.array_length:
                return [v] * info.array_length
            return v
        if info.enum:
            labels = list(info.enum.values())
            label = labels[0 if self.steady else (step + hash_name(info.name)) % len(labels)]
            return [label] * info.array_length if info.array_length else label
        if info.type == "bool":
            if self.steady:  # health flags set, everything else off
                flag = any(w in info.name.lower() for w in STEADY_TRUE_WORDS)
            else:
                flag = bool((step + hash_name(info.name)) % 2)
            return [flag] * info.array_length if info.array_length else flag
        if info.type == "string":
            return f"SIM{step % 1000:03d}"
        return None

    def next_tick(self, dt: float) -> Tick | None:
        self.t += dt
        packets = []
        for _ in range(self.packets_per_tick):
            layout = self.layouts[self._next % len(self.layouts)]
            self._next += 1
            packets.append(PacketValues(layout, self.values(layout, self.t)))
        return Tick(self.t, packets)


@functools.cache
def hash_name(name: str) -> int:
    """A stable small hash (``hash()`` of a str changes between interpreter runs)."""
    return sum((i + 1) * ord(c) for i, c in enumerate(name)) % 97


def describe_missing(
    wanted: Mapping[str, Sequence[str]], available: Sequence[str], what: str
) -> str:
    """An error text naming what was looked for under which names, and what exists."""
    lines = [f"{what}: the dictionary has no parameter for:"]
    for quantity, names in wanted.items():
        lines.append(f"  {quantity} (looked for: {', '.join(names)})")
    lines.append(f"dictionary parameters: {', '.join(available)}")
    return "\n".join(lines)
