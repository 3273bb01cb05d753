"""Contracts every part of the pipeline follows, and the registry that names them.

Telegraf's model: a source, a decoder, a sink or an alert sink is a small part with one job,
registered once by name. ``from_config()`` validates without I/O; ``start()`` (or ``async
with``) opens connections; ``stop()`` drains before returning. Every part counts what it
received, sent, dropped and failed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

from groundwatch.model import RawFrame


@dataclass(slots=True)
class Counters:
    """The four numbers every part keeps, plus named extras (e.g. ``mqtt_queue_dropped``)."""

    received: int = 0
    sent: int = 0
    dropped: int = 0
    errors: int = 0
    extra: dict[str, int] = field(default_factory=dict)

    def bump(self, name: str, n: int = 1) -> None:
        self.extra[name] = self.extra.get(name, 0) + n

    def as_dict(self) -> dict[str, int]:
        return {
            "received": self.received,
            "sent": self.sent,
            "dropped": self.dropped,
            "errors": self.errors,
            **self.extra,
        }


class FrameQueue(Protocol):
    """What a source pushes into: a bounded queue, so a slow pipeline slows the source."""

    async def put(self, item: RawFrame) -> None: ...


@runtime_checkable
class Source(Protocol):
    """An ingestor: receives binary frames and puts them, stamped, into the frame queue."""

    name: str
    counters: Counters

    async def run(self, out: FrameQueue) -> None:
        """Receive until cancelled or ``stop()``; reconnects by itself where that applies."""

    async def stop(self) -> None: ...


class ConfigError(ValueError):
    """A configuration problem that names the key and the problem."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


T = TypeVar("T")
Factory = Callable[[Mapping[str, Any], str], Any]  # (options, key prefix for errors) -> part


class Registry:
    """Parts by kind and name. Built by ``groundwatch.plugins.default_registry()``."""

    def __init__(self) -> None:
        self._parts: dict[str, dict[str, Factory]] = {}

    def register(self, kind: str, name: str, factory: Factory) -> None:
        table = self._parts.setdefault(kind, {})
        if name in table:
            raise ValueError(f"{kind} {name!r} registered twice")
        table[name] = factory

    def names(self, kind: str) -> list[str]:
        return sorted(self._parts.get(kind, {}))

    def create(self, kind: str, name: str, options: Mapping[str, Any], key: str) -> Any:
        table = self._parts.get(kind, {})
        if name not in table:
            known = ", ".join(sorted(table)) or "none"
            raise ConfigError(f"{key}.type", f"unknown {kind} type {name!r} (known: {known})")
        return table[name](options, key)


class Stoppable(Protocol):
    async def stop(self) -> None: ...


async def stop_all(parts: list[Stoppable], deadline_s: float) -> None:
    """Stop parts concurrently, each bounded by the stage deadline."""
    import asyncio  # here: the decode command uses these types without an event loop

    async def one(p: Stoppable) -> None:
        try:
            await asyncio.wait_for(p.stop(), deadline_s)
        except (TimeoutError, Exception):
            pass

    await asyncio.gather(*(one(p) for p in parts))
