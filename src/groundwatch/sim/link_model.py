"""Downlink quality of the lander: Eb/N0 and RSSI, frame errors and losses.

The landing site is close to the lunar limb as seen from Earth, so Earth stands only a few
degrees above the site's horizon. High up, the horizon dips (``acos(R / (R + h))``) and
Earth is well clear of it; as the lander comes down, Earth sinks towards the horizon and
multipath off the terrain fades the signal: Eb/N0 falls, its spread grows and frames start
failing their CRC. The body-fixed antenna also loses gain when the lander pitches over for
braking. An impact ends the link at once.

Frame outcomes follow logistic curves of Eb/N0 (a stand-in for the coded BER curve, which
needs no more precision for a monitor's test): below ``crc_threshold_db`` most frames arrive
corrupted, below ``sync_threshold_db`` the receiver loses them altogether.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from enum import StrEnum

from groundwatch.sim.lunar_descent import R_MOON, DescentPhase, DescentSample

NOISE_DENSITY_DBM_HZ = -172.0  # kT at 290 K plus a 2 dB receiver noise figure
BIT_RATE_BPS = 64_000.0


class FrameFate(StrEnum):
    OK = "ok"
    CORRUPTED = "corrupted"  # delivered with bit errors: the FECF check fails
    LOST = "lost"  # never received (no sync); the station publishes nothing


@dataclass(slots=True, frozen=True)
class LinkSample:
    ebn0_db: float
    rssi_dbm: float
    earth_elevation_deg: float
    p_corrupted: float
    p_lost: float
    fate: FrameFate
    link_up: bool  # False once the spacecraft is gone (impact)


@dataclass(slots=True, frozen=True)
class LinkBudget:
    ebn0_clear_db: float = 12.5  # Earth well above the horizon, antenna on target
    site_earth_elevation_deg: float = 3.0
    multipath_below_deg: float = 15.0  # fading starts when Earth is lower than this
    multipath_loss_db: float = 6.5  # mean loss with Earth on the horizon
    multipath_spread_db: float = 2.0
    pointing_loss_db: float = 2.5  # at 90 degrees of pitch
    crc_threshold_db: float = 5.0
    sync_threshold_db: float = 2.5
    slope_db: float = 0.6


def _logistic_below(x: float, threshold: float, slope: float) -> float:
    return 1.0 / (1.0 + math.exp((x - threshold) / slope))


class LinkModel:
    """Deterministic with its seed; one ``evaluate`` per frame."""

    def __init__(self, seed: int = 0, budget: LinkBudget | None = None) -> None:
        self.budget = budget or LinkBudget()
        self.rng = random.Random(seed * 7919 + 17)

    def earth_elevation_deg(self, agl_m: float) -> float:
        dip = math.degrees(math.acos(R_MOON / (R_MOON + max(agl_m, 0.0))))
        return self.budget.site_earth_elevation_deg + dip

    def evaluate(self, sample: DescentSample) -> LinkSample:
        b, rng = self.budget, self.rng
        elevation = self.earth_elevation_deg(sample.agl_true_m)
        if sample.phase is DescentPhase.CRASHED:
            return LinkSample(
                -10.0, NOISE_DENSITY_DBM_HZ, elevation, 1.0, 1.0, FrameFate.LOST, False
            )
        low = min(max(1.0 - elevation / b.multipath_below_deg, 0.0), 1.0)
        # antenna gain falls off with the angle from its boresight (back lobe at 180 deg)
        pointing = 1.0 - math.cos(math.radians(sample.pitch_deg))
        mean = b.ebn0_clear_db - b.multipath_loss_db * low - b.pointing_loss_db * pointing
        ebn0 = mean + rng.gauss(0.0, 0.3 + b.multipath_spread_db * low)
        rssi = ebn0 + 10.0 * math.log10(BIT_RATE_BPS) + NOISE_DENSITY_DBM_HZ
        p_lost = _logistic_below(ebn0, b.sync_threshold_db, b.slope_db)
        p_bad = _logistic_below(ebn0, b.crc_threshold_db, b.slope_db)
        draw = rng.random()
        if draw < p_lost:
            fate = FrameFate.LOST
        elif draw < p_lost + (1.0 - p_lost) * p_bad:
            fate = FrameFate.CORRUPTED
        else:
            fate = FrameFate.OK
        return LinkSample(ebn0, rssi, elevation, p_bad, p_lost, fate, True)
