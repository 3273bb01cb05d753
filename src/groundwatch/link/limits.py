"""Limit checks with persistence and hysteresis, and stale key parameters.

Every sample's limit state comes from the decode (``ParamValue.limit``) or, when numeric
limits are known for the parameter (``api.Limits``), is computed here so that a deadband
(hysteresis) can apply: to leave a level the value must come back inside it by the
parameter's ``deadband`` (dictionary ``limits: {deadband: ...}``, in engineering units),
else by ``hysteresis`` x |limit| (``[link] limit_deadband``, default 0.02).
A new state is confirmed only after ``persistence`` consecutive samples in it spanning at
least ``persistence_ns`` of pass time (``[link] limit_persistence`` samples and
``limit_persistence_time`` seconds, defaults 2 and 1 s), so a value flapping across a limit
raises nothing, and noise around a limit at any sample rate raises at most one change per
persistence window.

Levels nest: RED_HIGH lies beyond YELLOW_HIGH. Going NOMINAL -> YELLOW_HIGH -> RED_HIGH ->
YELLOW_HIGH -> NOMINAL gives exactly ENTER yellow_high, ENTER red_high, LEAVE red_high,
LEAVE yellow_high; a jump straight to RED_HIGH enters both levels at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from groundwatch.decoders.api import Limits
from groundwatch.model import LimitState

_LEVELS: dict[LimitState, tuple[LimitState, ...]] = {
    LimitState.NOMINAL: (),
    LimitState.YELLOW_HIGH: (LimitState.YELLOW_HIGH,),
    LimitState.RED_HIGH: (LimitState.YELLOW_HIGH, LimitState.RED_HIGH),
    LimitState.YELLOW_LOW: (LimitState.YELLOW_LOW,),
    LimitState.RED_LOW: (LimitState.YELLOW_LOW, LimitState.RED_LOW),
}


_NOMINAL = LimitState.NOMINAL


def levels(state: LimitState) -> tuple[LimitState, ...]:
    """The limit levels a state lies beyond (nested: red implies yellow on its side)."""
    return _LEVELS[state]


@dataclass(slots=True)
class LimitChange:
    """A confirmed limit transition of one parameter."""

    parameter: str
    old: LimitState
    new: LimitState
    value: object
    entered: tuple[LimitState, ...]  # levels entered, least severe first
    left: tuple[LimitState, ...]  # levels left, most severe first


@dataclass(slots=True)
class _Track:
    confirmed: LimitState = LimitState.NOMINAL
    candidate: LimitState = LimitState.NOMINAL
    count: int = 0
    since_ns: int | None = None  # pass time of the candidate's first sample


def _threshold(limits: Limits, level: LimitState) -> float | None:
    return {
        LimitState.YELLOW_HIGH: limits.yellow_high,
        LimitState.RED_HIGH: limits.red_high,
        LimitState.YELLOW_LOW: limits.yellow_low,
        LimitState.RED_LOW: limits.red_low,
    }.get(level)


class LimitChecker:
    """Confirmed limit state per parameter of one spacecraft."""

    def __init__(
        self,
        persistence: int,
        limits: Mapping[str, Limits] | None = None,
        hysteresis: float = 0.02,
        persistence_ns: int = 0,
    ) -> None:
        self.persistence = persistence
        self.persistence_ns = persistence_ns
        self.limits = dict(limits or {})
        self.hysteresis = hysteresis
        self._tracks: dict[str, _Track] = {}
        # Parameters confirmed off-nominal or on their way (a candidate state counting):
        # a nominal sample of any other parameter changes nothing (see sample()).
        self.pending: set[str] = set()

    def state(self, parameter: str) -> LimitState:
        t = self._tracks.get(parameter)
        return t.confirmed if t else LimitState.NOMINAL

    def _sample_state(
        self, parameter: str, value: object, given: LimitState | None, current: LimitState
    ) -> LimitState | None:
        limits = self.limits.get(parameter)
        if limits is None or not isinstance(value, int | float) or isinstance(value, bool):
            return given
        v = float(value)
        # The decoder already judged the sample against the same dictionary limits.
        raw = given if given is not None else limits.state(v)
        # Hysteresis: a level already entered is kept until the value is back inside the
        # limit by the dead band, so noise around a limit does not toggle it.
        for level in reversed(levels(current)):
            if level in levels(raw):
                break
            limit = _threshold(limits, level)
            if limit is None:
                continue
            deadband = getattr(limits, "deadband", None)
            band = deadband if deadband is not None else abs(limit) * self.hysteresis
            still = v > limit - band if level.value > 0 else v < limit + band
            if still:
                return level
        return raw

    def sample(
        self, parameter: str, value: object, given: LimitState | None, t_ns: int | None = None
    ) -> LimitChange | None:
        track = self._tracks.get(parameter)
        if track is None:
            if given is None and parameter not in self.limits:
                return None  # a parameter without limits
            track = self._tracks[parameter] = _Track()
        if given is _NOMINAL and track.confirmed is _NOMINAL:
            # The usual sample: what _sample_state gives for it (no level to hold by
            # hysteresis), without its cost; this runs for every limited sample.
            track.candidate, track.count = _NOMINAL, 0
            self.pending.discard(parameter)
            return None
        change = self._advance(track, parameter, value, given, t_ns)
        if track.confirmed is _NOMINAL and track.candidate is _NOMINAL:
            self.pending.discard(parameter)
        else:
            self.pending.add(parameter)
        return change

    def _advance(
        self,
        track: _Track,
        parameter: str,
        value: object,
        given: LimitState | None,
        t_ns: int | None = None,
    ) -> LimitChange | None:
        state = self._sample_state(parameter, value, given, track.confirmed)
        if state is None:
            return None
        if state == track.confirmed:
            track.candidate, track.count = state, 0
            return None
        if state == track.candidate:
            track.count += 1
            if t_ns is not None and track.since_ns is not None and t_ns < track.since_ns:
                # an earlier sample than the first: a first one stamped ahead (a station
                # clock glitch) must not hold the change back until pass time catches up
                track.since_ns = t_ns
        else:
            track.candidate, track.count, track.since_ns = state, 1, t_ns
        if track.count < self.persistence:
            return None
        if (
            self.persistence_ns
            and t_ns is not None
            and track.since_ns is not None
            and t_ns - track.since_ns < self.persistence_ns
        ):
            return None
        old, track.confirmed, track.count = track.confirmed, state, 0
        before, after = levels(old), levels(state)
        entered = tuple(lv for lv in after if lv not in before)
        left = tuple(lv for lv in reversed(before) if lv not in after)
        return LimitChange(parameter, old, state, value, entered, left)


class StaleTracker:
    """Key parameters not updated for ``stale_after`` while the spacecraft is in contact.

    Only parameters seen at least once since start are tracked (a key parameter of another
    spacecraft in a shared dictionary is never 'stale' for this one).
    """

    def __init__(self, stale_after_ns: int) -> None:
        self.stale_after_ns = stale_after_ns
        self.last_update: dict[str, int] = {}
        self.stale: set[str] = set()
        self.contact_since: int | None = None  # None: not in contact, nothing is judged

    def update(self, parameter: str, t_ns: int) -> bool:
        """A new sample; True when the parameter was stale (it is fresh again)."""
        prev = self.last_update.get(parameter)
        if prev is None or t_ns > prev:
            self.last_update[parameter] = t_ns
        if parameter in self.stale:
            self.stale.discard(parameter)
            return True
        return False

    def expired(self, now_ns: int) -> list[tuple[str, int]]:
        """Parameters that became stale, with the deterministic time they did."""
        if self.contact_since is None:
            return []
        out = []
        for name, last in self.last_update.items():
            if name in self.stale:
                continue
            due = max(last, self.contact_since) + self.stale_after_ns
            if now_ns >= due:
                self.stale.add(name)
                out.append((name, due))
        return out
