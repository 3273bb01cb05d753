"""Contracts every part of the pipeline follows, and the one registry that names them.

Telegraf's model: a source, a dictionary format, a store sink or an alert sink is a small part
with one job, registered once by role and name. Each role is a ``typing.Protocol`` below that
states everything the pipeline (``pipeline.py``, ``wiring.py``) uses of it, nothing more:

- every part class has ``Options`` (its pydantic options model, named ``<Part>Options``) and
  ``from_config(options, key)``, which validates without I/O and raises ``ConfigError``
  naming the key;
- a running part has ``name`` and ``counters`` (shown in ``/health`` and ``/metrics``);
- ``start()`` opens connections, ``stop()`` drains what was handed over before returning.

Parts from outside this repository register through Python entry points, one group per role
(``groundwatch.sources``, ``groundwatch.sinks``, ``groundwatch.alerts``,
``groundwatch.dictionaries``): the entry point names the part class. ``Registry.discover``
reads them; ``groundwatch.plugins.default_registry`` adds the built-in parts first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from groundwatch.model import (
    DecodeResult,
    GroundPathChange,
    Point,
    RawFrame,
    RefusedFrame,
    RejectedInput,
    StationStatus,
)

if TYPE_CHECKING:
    from pydantic import BaseModel

    from groundwatch.alerts.alert import Alert
    from groundwatch.model import Event


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


# What a source hands to the pipeline: frames, station heartbeats, ground-path changes,
# frames it refused, and input it could not read (e.g. a malformed station envelope).
IngestItem = RawFrame | StationStatus | GroundPathChange | RefusedFrame | RejectedInput


class FrameQueue(Protocol):
    """What a source pushes into: a bounded queue, so a slow pipeline slows the source."""

    async def put(self, item: IngestItem) -> None: ...


class ConfigError(ValueError):
    """A configuration problem that names the key and the problem."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


class PartClass(Protocol):
    """What a registered part's class offers, whatever its role."""

    Options: ClassVar[type[BaseModel]]  # its options table, named ``<Part>Options``

    @classmethod
    def from_config(cls, options: Mapping[str, Any], key: str) -> Any:
        """The part, validated without I/O, or ``ConfigError`` naming ``key.<option>``."""


# --- the roles --------------------------------------------------------------------------------


@runtime_checkable
class Source(Protocol):
    """An ingestor: receives binary frames and puts them, stamped, into the frame queue.

    ``connected``: it reached what it reads from (a source without a peer says True once
    listening). ``due_ns``: the pass time of the next frame it is about to feed, for a source
    that paces frames on the pipeline clock (a replay); None otherwise.
    """

    name: str
    counters: Counters
    connected: bool
    due_ns: int | None

    async def start(self) -> None:
        """Prepare to receive; errors here are configuration or environment problems."""

    async def run(self, out: FrameQueue) -> None:
        """Receive until cancelled or ``stop()``; reconnects by itself where that applies."""

    async def stop(self) -> None:
        """Stop taking new frames; ``run`` returns once what it took is handed over."""


@runtime_checkable
class StoreSink(Protocol):
    """The store writer: points in, durable (database or spool) before ``on_durable``."""

    name: str
    counters: Counters

    def bind(
        self,
        on_alert: Callable[[Event], None] | None,
        on_durable: Callable[[Any], None] | None,
    ) -> None:
        """Where its own alerts (e.g. spool full) and durability notices go; before start."""

    async def start(self) -> None: ...

    async def put(self, points: list[Point], checkpoint: Any = None) -> bool:
        """Accept points; ``on_durable(checkpoint)`` once they (and all before) are safe."""
        ...

    def health(self) -> dict[str, Any]:
        """Its state and counters for ``/health`` and ``/metrics``."""
        ...

    async def stop(self) -> None:
        """Every accepted point is in the database or the spool when this returns."""


@runtime_checkable
class AlertSink(Protocol):
    """Where alerts go. ``offer`` never blocks (the sink has its own bounded queue)."""

    paging: ClassVar[bool]
    name: str
    counters: Counters
    on_ack: Callable[[str, str, str | None], object] | None

    def offer(self, alert: Alert) -> bool: ...

    async def start(self) -> None: ...

    async def stop(self, drain_timeout: float = 5.0) -> None: ...


@runtime_checkable
class DictionaryFormat(Protocol):
    """A mission dictionary file format: a file in, a ``TelemetryDictionary`` out.

    ``suffixes`` pick the format from the file name when ``[mission] format`` is not set.
    """

    name: str
    suffixes: ClassVar[tuple[str, ...]]

    def load(self, path: Path) -> Any:
        """The dictionary (``decoders.api.TelemetryDictionary``) or ``DictionaryError``."""
        ...


class Decoder(Protocol):
    """What the pipeline uses of the frame decoder (built from the mission dictionary)."""

    counters: Counters

    def peek(self, frame: RawFrame) -> Any: ...

    def decode(self, frame: RawFrame) -> DecodeResult: ...

    def not_computed(self) -> dict[tuple[str, str, str], int]:
        """Derived values that could not be computed, by (packet, parameter, reason)."""
        ...


# Role name -> (entry point group, the role's contract).
ROLES: dict[str, tuple[str, type]] = {
    "source": ("groundwatch.sources", Source),
    "sink": ("groundwatch.sinks", StoreSink),
    "alert": ("groundwatch.alerts", AlertSink),
    "dictionary": ("groundwatch.dictionaries", DictionaryFormat),
}
BUILTIN = "groundwatch"


@dataclass(slots=True, frozen=True)
class PartEntry:
    """One registered part: ``load()`` imports its class (late: imports stay cheap)."""

    role: str
    name: str
    load: Callable[[], Any]
    origin: str  # "groundwatch" or the distribution that provides the entry point


class Registry:
    """Parts by role and name. Built by ``groundwatch.plugins.default_registry()``."""

    def __init__(self) -> None:
        self._parts: dict[str, dict[str, PartEntry]] = {role: {} for role in ROLES}

    def register(
        self, role: str, name: str, load: Callable[[], Any], origin: str = BUILTIN
    ) -> None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
        table = self._parts[role]
        if name in table:
            raise ValueError(f"{role} {name!r} registered twice ({table[name].origin}, {origin})")
        table[name] = PartEntry(role, name, load, origin)

    def discover(self) -> list[str]:
        """Register every part installed through an entry point; returns the problems (a
        name already taken), which do not stop the others from loading."""
        # Imported here: reading package metadata costs every command's start otherwise.
        from importlib.metadata import entry_points

        problems = []
        for role, (group, _) in ROLES.items():
            for ep in entry_points(group=group):
                origin = ep.dist.name if ep.dist is not None else ep.value
                try:
                    self.register(role, ep.name, ep.load, origin)
                except ValueError as exc:
                    problems.append(f"{group}: {exc}")
        return problems

    def names(self, role: str) -> list[str]:
        return sorted(self._parts.get(role, {}))

    def entries(self, role: str | None = None) -> list[PartEntry]:
        roles = [role] if role is not None else list(ROLES)
        return [self._parts[r][n] for r in roles for n in sorted(self._parts.get(r, {}))]

    def part_class(self, role: str, name: str, key: str, selector: str = "type") -> Any:
        """The class registered as ``name``; errors name ``key.<selector>``."""
        table = self._parts.get(role, {})
        if name not in table:
            known = ", ".join(sorted(table)) or "none"
            raise ConfigError(f"{key}.{selector}", f"unknown {role} type {name!r} (known: {known})")
        entry = table[name]
        try:
            cls = entry.load()
        except Exception as exc:  # an installed plugin that fails to import: name it
            raise ConfigError(
                f"{key}.{selector}",
                f"{role} {name!r} from {entry.origin} cannot be loaded: {exc}",
            ) from exc
        if not callable(getattr(cls, "from_config", None)):
            raise ConfigError(
                f"{key}.{selector}",
                f"{role} {name!r} from {entry.origin} is not a part (no from_config)",
            )
        return cls

    def create(self, role: str, name: str, options: Any, key: str, selector: str = "type") -> Any:
        """A part built from its options table (``from_config``: validates, no I/O)."""
        return self.part_class(role, name, key, selector).from_config(options, key)
