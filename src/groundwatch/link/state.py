"""The per-link state machine: NO_SIGNAL -> AOS -> TRACKING -> LOS -> AOS ...

One ``LinkTracker`` follows one link (a spacecraft heard by one station, or one virtual
channel of it). It knows nothing of events: the monitor asks it what changed and decides
what that means for the spacecraft (another station may still hear it, the ground path may
be down). All times are pipeline-clock nanoseconds passed in by the caller.

Hysteresis, both ways:
- acquiring needs ``aos_frames`` valid frames, each within the LOS threshold of the previous
  one (a single stray frame after LOS does not declare AOS);
- losing needs a full LOS threshold with no valid frame (a late frame inside the threshold
  changes nothing). Bad-CRC frames are not signal.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class LinkState(IntEnum):
    """Numeric values are what dashboards threshold on: >= 2 means the link is up."""

    NO_SIGNAL = 0  # never heard since start
    LOS = 1  # heard, then lost
    AOS = 2  # acquiring: valid frames seen, not yet confirmed
    TRACKING = 3  # confirmed

    @property
    def up(self) -> bool:
        return self is LinkState.TRACKING


@dataclass(slots=True)
class Transition:
    """What a tracker reports when its state changes."""

    old: LinkState
    new: LinkState
    time_ns: int  # deterministic: frame time for AOS, last good frame + threshold for LOS


class LinkTracker:
    """State of one link, driven by valid-frame times and expiry checks."""

    def __init__(self, threshold_ns: int, aos_frames: int) -> None:
        self.threshold_ns = threshold_ns
        self.aos_frames = aos_frames
        self.state = LinkState.NO_SIGNAL
        self.last_good_ns: int | None = None
        self.last_frame_ns: int | None = None  # any copy, valid or not
        self.since_ns: int | None = None  # time of the last state change
        self.acquiring = 0  # valid frames counted towards AOS
        self.frames_in_pass = 0  # valid frames since the last LOS
        self.bad_in_pass = 0
        # While the ground path is down the link cannot be judged: expiry is measured from
        # the moment it came back instead of from the last good frame.
        self.reference_ns: int | None = None
        self.suspended = False  # expired while its ground path was down: not judged yet
        self._previous = LinkState.NO_SIGNAL  # where an unconfirmed acquisition falls back to

    def deadline_ns(self) -> int | None:
        """When this link expires if no valid frame arrives (None: nothing to expire)."""
        if self.state not in (LinkState.AOS, LinkState.TRACKING) or self.last_good_ns is None:
            return None
        ref = self.last_good_ns
        if self.reference_ns is not None and self.reference_ns > ref:
            ref = self.reference_ns
        return ref + self.threshold_ns

    def frame(self, t_ns: int, valid: bool) -> Transition | None:
        """A frame at ``t_ns``; returns the transition to TRACKING when AOS is confirmed."""
        if self.last_frame_ns is None or t_ns > self.last_frame_ns:
            self.last_frame_ns = t_ns
        if not valid:
            self.bad_in_pass += 1
            return None
        if self.last_good_ns is None or t_ns > self.last_good_ns:
            self.last_good_ns = t_ns
        self.frames_in_pass += 1
        self.suspended = False
        if self.state is LinkState.TRACKING:
            return None
        if self.state in (LinkState.NO_SIGNAL, LinkState.LOS):
            self._previous = self.state
            self.state = LinkState.AOS
            self.acquiring = 0
        self.acquiring += 1
        if self.acquiring >= self.aos_frames:
            old = self.state
            self.state = LinkState.TRACKING
            self.since_ns = t_ns
            self.reference_ns = None
            return Transition(old, LinkState.TRACKING, t_ns)
        return None

    def expire(self, now_ns: int) -> Transition | None:
        """LOS (or a silent fall back from acquiring) when the deadline has passed."""
        deadline = self.deadline_ns()
        if deadline is None or now_ns < deadline:
            return None
        if self.state is LinkState.AOS:
            # An unconfirmed acquisition fades back without an event (hysteresis).
            self.state = self._previous
            self.acquiring = 0
            return None
        old = self.state
        self.state = LinkState.LOS
        self.since_ns = deadline
        self.acquiring = 0
        self.reference_ns = None
        return Transition(old, LinkState.LOS, deadline)

    def start_pass(self) -> None:
        """Counters of a new pass start after a LOS has been reported."""
        self.frames_in_pass = 0
        self.bad_in_pass = 0

    def seconds_since_last_frame(self, now_ns: int, origin_ns: int) -> float:
        """Seconds since the last valid frame (since ``origin_ns`` if never heard)."""
        ref = self.last_good_ns if self.last_good_ns is not None else origin_ns
        return max(0.0, (now_ns - ref) / 1e9)
