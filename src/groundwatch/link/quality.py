"""Link quality: rolling CRC failure rate, frame-count gaps, RSSI and Eb/N0.

A link is *degraded* when, over the last ``window`` seconds,
- the CRC failure rate (bad copies / all copies) reaches ``crc_rate``, or
- the frames lost in frame-count gaps reach ``crc_rate`` of the frames expected, or
- a signal-quality parameter (``rssi``, ``ebn0`` by default) is below its low limit
  (its dictionary limit state is YELLOW_LOW or RED_LOW).

It recovers when every measure is back under half its threshold (hysteresis) and the signal
parameters are nominal. At least ``min_frames`` copies must be in the window before a rate
is judged, so two frames with one bad CRC do not make a degraded link.

Delays (``[link] degraded_enter_delay`` / ``degraded_clear_delay``, 2 s and 5 s): the link is
declared degraded only once it has been judged bad continuously for ``enter_ns`` of pass
time, and recovered once judged good for ``clear_ns``; the event carries that pass time, so
a quality hovering at its threshold does not toggle the link.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from groundwatch.model import LimitState

LOW_STATES = (LimitState.YELLOW_LOW, LimitState.RED_LOW)


@dataclass(slots=True)
class QualityVerdict:
    degraded: bool
    crc_rate: float
    gap_rate: float
    low_signal: list[str] = field(default_factory=list)

    def reasons(self, crc_threshold: float) -> list[str]:
        out = []
        if self.crc_rate >= crc_threshold:
            out.append(f"CRC failures {self.crc_rate:.0%}")
        if self.gap_rate >= crc_threshold:
            out.append(f"frames lost in gaps {self.gap_rate:.0%}")
        out += [f"{name} low" for name in self.low_signal]
        return out


class LinkQuality:
    """Quality of one (spacecraft, station) link over a sliding time window."""

    def __init__(
        self,
        window_ns: int,
        crc_rate: float,
        min_frames: int = 5,
        enter_ns: int = 0,
        clear_ns: int = 0,
    ) -> None:
        self.window_ns = window_ns
        self.enter_ns = enter_ns
        self.clear_ns = clear_ns
        self._turning_since: int | None = None  # judged the other way since (pass time)
        self.crc_rate = crc_rate
        self.min_frames = min_frames
        self._copies: deque[tuple[int, bool]] = deque()  # (time, crc ok)
        self._gaps: deque[tuple[int, int]] = deque()  # (time, frames missing)
        self._decoded: deque[int] = deque()
        self.signal: dict[str, LimitState] = {}
        self.degraded = False
        # running sums over the window, so judging a frame costs O(1) at any frame rate
        self._bad = 0
        self._missing = 0

    def copy(self, t_ns: int, crc_ok: bool) -> None:
        self._copies.append((t_ns, crc_ok))
        if not crc_ok:
            self._bad += 1

    def decoded(self, t_ns: int, vc_gap: int) -> None:
        self._decoded.append(t_ns)
        if vc_gap > 0:
            self._gaps.append((t_ns, vc_gap))
            self._missing += vc_gap

    def signal_sample(self, name: str, state: LimitState | None) -> None:
        self.signal[name] = state if state is not None else LimitState.NOMINAL

    def _prune(self, now_ns: int) -> None:
        edge = now_ns - self.window_ns
        while self._copies and self._copies[0][0] < edge:
            if not self._copies.popleft()[1]:
                self._bad -= 1
        while self._gaps and self._gaps[0][0] < edge:
            self._missing -= self._gaps.popleft()[1]
        while self._decoded and self._decoded[0] < edge:
            self._decoded.popleft()

    def measure(self, now_ns: int) -> QualityVerdict:
        self._prune(now_ns)
        n = len(self._copies)
        crc = self._bad / n if n >= self.min_frames else 0.0
        missing = self._missing
        expected = missing + len(self._decoded)
        gap = missing / expected if expected >= self.min_frames else 0.0
        low = sorted(k for k, s in self.signal.items() if s in LOW_STATES)
        return QualityVerdict(False, crc, gap, low)

    def update(self, now_ns: int) -> tuple[bool, QualityVerdict] | None:
        """Re-judge; returns (degraded, verdict) when the state changed, else None."""
        v = self.measure(now_ns)
        if not self.degraded:
            turning = bool(
                v.crc_rate >= self.crc_rate or v.gap_rate >= self.crc_rate or v.low_signal
            )
        else:
            half = self.crc_rate / 2
            turning = v.crc_rate < half and v.gap_rate < half and not v.low_signal
        if not turning:
            self._turning_since = None
            v.degraded = self.degraded
            return None
        if self._turning_since is None:
            self._turning_since = now_ns
        delay = self.clear_ns if self.degraded else self.enter_ns
        if now_ns - self._turning_since < delay:
            v.degraded = self.degraded
            return None
        self._turning_since = None
        self.degraded = v.degraded = not self.degraded
        return self.degraded, v
