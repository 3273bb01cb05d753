"""A clock a test sets by hand, for parts that take a ``clock`` callable."""

from __future__ import annotations


class ManualClock:
    """Returns ``t`` (seconds); the test moves it."""

    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t
