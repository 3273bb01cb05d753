"""Raw-to-engineering calibrations and their inverses (the simulator builds through them).

* ``PolynomialCalibration``: eng = c0 + c1*raw + c2*raw**2 + ... Degree 1 is inverted
  exactly; higher degrees by bisection on the raw range where the polynomial is monotonic.
* ``TableCalibration``: piecewise-linear through (raw, eng) points, extrapolating the end
  segments; inverted by interpolating the same points the other way (the engineering
  column must be monotonic for that).
* ``RationalCalibration``: eng = raw / divisor, one correctly rounded division (so 818
  with divisor 1000 is 0.818, where 0.001 * 818 is 0.8180000000000001).
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass


class CalibrationError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class PolynomialCalibration:
    coefficients: tuple[float, ...]  # c0, c1, c2, ...
    raw_min: float = -math.inf  # raw range the inverse searches (the field's range)
    raw_max: float = math.inf

    def __post_init__(self) -> None:
        if not self.coefficients:
            raise CalibrationError("polynomial needs at least one coefficient")
        if len(self.coefficients) == 1 or all(c == 0 for c in self.coefficients[1:]):
            raise CalibrationError("polynomial is constant: cannot be inverted")
        finite = math.isfinite(self.raw_min) and math.isfinite(self.raw_max)
        if len(self.coefficients) > 2 and finite and not self._monotonic():
            raise CalibrationError(
                f"polynomial is not monotonic over raw {self.raw_min}..{self.raw_max}"
            )

    def to_eng(self, raw: float) -> float:
        coeffs = self.coefficients
        if len(coeffs) == 2:
            return coeffs[0] + coeffs[1] * raw
        value = 0.0
        for c in reversed(coeffs):  # Horner
            value = value * raw + c
        return value

    def to_raw(self, eng: float) -> float:
        c = self.coefficients
        if len(c) == 2:
            return (eng - c[0]) / c[1]
        return self._bisect(eng)

    def _monotonic(self) -> bool:
        if not (math.isfinite(self.raw_min) and math.isfinite(self.raw_max)):
            return False
        # The derivative must not change sign on the range: check it on a fine grid.
        steps = 1024
        span = self.raw_max - self.raw_min
        derivative = [
            sum(
                k * c * (self.raw_min + span * i / steps) ** (k - 1)
                for k, c in enumerate(self.coefficients)
                if k
            )
            for i in range(steps + 1)
        ]
        return all(d >= 0 for d in derivative) or all(d <= 0 for d in derivative)

    def _bisect(self, eng: float) -> float:
        lo, hi = self.raw_min, self.raw_max
        ends = sorted((self.to_eng(lo), self.to_eng(hi)))
        slack = 1e-9 * (ends[1] - ends[0])
        if not ends[0] - slack <= eng <= ends[1] + slack:
            raise CalibrationError(f"{eng} outside the calibrated range {ends[0]}..{ends[1]}")
        increasing = self.to_eng(hi) >= self.to_eng(lo)
        for _ in range(200):
            mid = (lo + hi) / 2
            if (self.to_eng(mid) < eng) == increasing:
                lo = mid
            else:
                hi = mid
            if hi - lo < 1e-9:
                break
        # The nearest of the two bracketing raw values; callers round integers.
        return lo if abs(self.to_eng(lo) - eng) <= abs(self.to_eng(hi) - eng) else hi


@dataclass(frozen=True, slots=True)
class TableCalibration:
    raw_points: tuple[float, ...]
    eng_points: tuple[float, ...]

    @classmethod
    def from_points(cls, points: Sequence[Sequence[float]]) -> TableCalibration:
        if len(points) < 2:
            raise CalibrationError("table needs at least two (raw, eng) points")
        pairs = sorted((float(p[0]), float(p[1])) for p in points)
        raws = tuple(p[0] for p in pairs)
        if len(set(raws)) != len(raws):
            raise CalibrationError("table has the same raw value twice")
        return cls(raws, tuple(p[1] for p in pairs))

    def to_eng(self, raw: float) -> float:
        return _interpolate(self.raw_points, self.eng_points, raw)

    def to_raw(self, eng: float) -> float:
        xs, ys = self.eng_points, self.raw_points
        if xs[0] > xs[-1]:
            xs, ys = xs[::-1], ys[::-1]
        if any(b <= a for a, b in itertools.pairwise(xs)):
            raise CalibrationError("table engineering values are not monotonic: no inverse")
        return _interpolate(xs, ys, eng)


def _interpolate(xs: Sequence[float], ys: Sequence[float], x: float) -> float:
    i = bisect.bisect_right(xs, x) - 1
    i = min(max(i, 0), len(xs) - 2)  # the end segments extrapolate
    x0, x1, y0, y1 = xs[i], xs[i + 1], ys[i], ys[i + 1]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


@dataclass(frozen=True, slots=True)
class RationalCalibration:
    divisor: float

    def __post_init__(self) -> None:
        if self.divisor == 0 or not math.isfinite(self.divisor):
            raise CalibrationError("divide: needs a finite, non-zero divisor")

    def to_eng(self, raw: float) -> float:
        return raw / self.divisor

    def to_raw(self, eng: float) -> float:
        return eng * self.divisor


Calibration = PolynomialCalibration | TableCalibration | RationalCalibration
