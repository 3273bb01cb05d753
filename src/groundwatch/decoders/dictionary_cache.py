"""A cache of validated dictionaries: a command run often loads its dictionary without pydantic.

``groundwatch decode`` on a capture spends most of its start in importing pydantic and
building the schema's models, not in the file. So the validated model of a dictionary
(``schema.DictionaryModel``) is kept as plain JSON data in the user's cache directory; the
next load of the same file reads it back as records (attribute access over plain values)
and ``dictionary.compile_dictionary`` compiles them exactly as it compiles the model.

The entry's name is the SHA-256 of the format version, the file's kind (YAML or XTCE), the
file's bytes and what turned them into the model: the source of the schema (and of the XTCE
importer) and the installed files of the parsing packages (pydantic, PyYAML, lxml), so a
changed schema or an upgrade never reads an entry made by another.

The cache is outside the process, so it is untrusted: an entry is data, never code. It is
read with ``json`` only (no pickle), every tagged value must be one of the kinds below, the
key and a digest of the payload stored in it must match, and a record must be one of the
schema's model classes. A dictionary with ``python:`` layouts (which run code) is never
cached, and a snapshot naming one is refused. Anything wrong (unreadable, corrupt, other
key, a snapshot that does not compile) makes ``load_dictionary`` remove the entry, load the
file itself and write the entry again.

Bounded: an entry is at most ``MAX_ENTRY_BYTES``; writing one removes the oldest files
until at most ``MAX_ENTRIES`` files and ``MAX_TOTAL_BYTES`` remain. Entries are written to a
temporary file and renamed, so a reader never sees half an entry.

Where: ``$GROUNDWATCH_CACHE_DIR`` (set empty: no cache), else the platform's user cache
directory (``$XDG_CACHE_HOME`` or ``~/.cache`` on Linux) ``/groundwatch/dictionaries``.

Snapshot encoding: a model is ``{"$": class name, "f": {field: value}}``, a mapping
``{"$m": [[key, value], ...]}`` (keys keep their type), a tuple ``{"$t": [...]}``, a datetime
``{"$d": ISO text}``, the framing kind ``{"$e": value}``; lists, text, numbers, true/false
and null are themselves.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import os
import stat
import sys
from collections.abc import Callable
from datetime import datetime
from enum import Enum
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from groundwatch.decoders.api import Framing, FramingDef

FORMAT = 1
CACHE_DIR_ENV = "GROUNDWATCH_CACHE_DIR"
MAX_SOURCE_BYTES = 64 * 1024 * 1024  # a larger dictionary file is loaded, never cached
MAX_ENTRY_BYTES = 16 * 1024 * 1024
MAX_ENTRIES = 64
MAX_TOTAL_BYTES = 128 * 1024 * 1024

# The schema's model classes a snapshot may hold (``schema.py``); FramingDef is rebuilt as
# the frame layer's class.
RECORD_KINDS = frozenset(
    {
        "DictionaryModel", "SpacecraftModel", "PacketModel", "ParameterModel", "SelectorModel",
        "Ax25SelectModel", "TimeModel", "CalibrationModel", "LimitsModel", "ValidModel",
        "FramingDef",
    }
)  # fmt: skip
# What makes the model of a file, besides its bytes: our sources, and packages (whose files
# an upgrade rewrites), by kind of file.
_SOURCES = {
    "yaml": ("schema.py", "api.py"),
    "xtce": ("schema.py", "api.py", "xtce_import.py", "xtce_types.py", "xtce_criteria.py"),
}
_PACKAGES = {
    "yaml": ("pydantic", "pydantic_core", "yaml"),
    "xtce": ("pydantic", "pydantic_core", "lxml"),
}


class CorruptEntry(ValueError):
    """A cache entry that is not what this module writes."""


def default_directory() -> Path | None:
    """Where entries live, or None when ``$GROUNDWATCH_CACHE_DIR`` is set empty."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured is not None:
        return Path(configured) if configured else None
    # The platform's user cache directory, as platformdirs finds it: written out here
    # because importing that package would cost a tenth of the start this cache saves.
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "groundwatch" / "dictionaries"


class DictionaryCache:
    """Entries under ``directory``; ``key`` names one, ``get``/``put``/``discard`` use it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @classmethod
    def default(cls) -> DictionaryCache | None:
        directory = default_directory()
        return None if directory is None else cls(directory)

    @staticmethod
    def key(content: bytes, kind: str) -> str:
        """The entry's name for a file's bytes; ``kind``: "yaml" or "xtce"."""
        digest = hashlib.sha256(f"groundwatch dictionary cache {FORMAT} {kind}\n".encode())
        here = Path(__file__).parent
        for name in _SOURCES[kind]:
            digest.update((here / name).read_bytes())
        for package in _PACKAGES[kind]:  # found, not imported
            spec = importlib.util.find_spec(package)
            origin = spec.origin if spec is not None and spec.origin else ""
            try:
                info = os.stat(origin)
            except OSError:
                digest.update(f"{package} not found\n".encode())
                continue
            digest.update(f"{package} {origin} {info.st_size} {info.st_mtime_ns}\n".encode())
        digest.update(content)
        return digest.hexdigest()

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def get(self, key: str) -> Any | None:
        """The snapshot stored under ``key`` (records), None if there is none.
        Raises ``CorruptEntry`` for an entry that cannot be trusted."""
        path = self.path(key)
        try:
            # A regular file only: never blocked by a FIFO put in its place.
            with os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as f:
                if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                    raise CorruptEntry("not a regular file")
                data = f.read(MAX_ENTRY_BYTES + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CorruptEntry(f"cannot read: {exc}") from None
        if len(data) > MAX_ENTRY_BYTES:
            raise CorruptEntry("larger than an entry can be")
        header_line, _, payload = data.partition(b"\n")
        try:
            header = json.loads(header_line)
        except (ValueError, RecursionError):
            raise CorruptEntry("header is not JSON") from None
        expected = {"format": FORMAT, "key": key, "sha256": hashlib.sha256(payload).hexdigest()}
        if header != expected:
            raise CorruptEntry("header does not match the entry")
        snapshot: Any
        try:
            snapshot = decode(json.loads(payload))
        except (ValueError, TypeError, KeyError, RecursionError) as exc:
            raise CorruptEntry(f"payload: {exc}") from None
        if type(snapshot) is not _RECORDS["DictionaryModel"]:
            raise CorruptEntry("payload is not a dictionary")
        try:
            python = any(packet.python is not None for packet in snapshot.packets)
        except (AttributeError, TypeError):
            raise CorruptEntry("payload has no packets") from None
        if python:
            raise CorruptEntry("a python layout is never cached")
        try:
            os.utime(path)  # recently used: removed last
        except OSError:
            pass
        return snapshot

    def put(self, key: str, model: Any) -> None:
        """Store the validated model (best effort: a cache that cannot be written is skipped,
        the dictionary loaded all the same)."""
        if any(packet.python is not None for packet in model.packets):
            return
        payload = json.dumps(encode(model), separators=(",", ":")).encode()
        header = {"format": FORMAT, "key": key, "sha256": hashlib.sha256(payload).hexdigest()}
        data = json.dumps(header).encode() + b"\n" + payload
        if len(data) > MAX_ENTRY_BYTES:
            return
        import tempfile

        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._make_room(len(data))
            fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(temporary, self.path(key))
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError:
            return

    def discard(self, key: str) -> None:
        try:
            self.path(key).unlink(missing_ok=True)
        except OSError:
            pass

    def _make_room(self, incoming: int) -> None:
        """Remove the least recently used files until the new entry fits the bounds."""
        files = []
        for entry in os.scandir(self.directory):
            try:
                if entry.is_file(follow_symlinks=False):
                    stat = entry.stat(follow_symlinks=False)
                    files.append((stat.st_mtime, stat.st_size, entry.path))
            except OSError:
                continue
        files.sort()
        total = sum(size for _, size, _ in files) + incoming
        while files and (len(files) >= MAX_ENTRIES or total > MAX_TOTAL_BYTES):
            _, size, path = files.pop(0)
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            total -= size


# -- snapshot encoding ---------------------------------------------------------------------


def encode(value: Any) -> Any:
    """A validated model as plain JSON data (see the module docstring)."""
    fields = getattr(type(value), "model_fields", None)
    if fields is not None:  # a pydantic model
        return {"$": type(value).__name__, "f": {n: encode(getattr(value, n)) for n in fields}}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = [f.name for f in dataclasses.fields(value)]
        return {"$": type(value).__name__, "f": {n: encode(getattr(value, n)) for n in names}}
    if isinstance(value, Enum):
        if not isinstance(value, Framing):
            raise TypeError(f"cannot cache {value!r}")
        return {"$e": value.value}
    if value is None or isinstance(value, str | int | float):  # bool is an int
        return value
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, tuple):
        return {"$t": [encode(v) for v in value]}
    if isinstance(value, dict):
        return {"$m": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, datetime):
        return {"$d": value.isoformat()}
    raise TypeError(f"cannot cache a {type(value).__name__}")


class Record(SimpleNamespace):
    """A model of the schema read back from a snapshot: its fields as attributes."""


# One record class per model class, named alike (``type(record).__name__``).
_RECORDS: dict[str, type[Record]] = {
    kind: type(kind, (Record,), {}) for kind in RECORD_KINDS - {"FramingDef"}
}


def _record(tagged: dict[str, Any]) -> Any:
    kind, fields = tagged["$"], tagged["f"]
    if not isinstance(kind, str) or kind not in RECORD_KINDS or not isinstance(fields, dict):
        raise ValueError(f"not a dictionary record: {kind!r}")
    values = {name: decode(v) for name, v in fields.items()}
    if kind == "FramingDef":
        return FramingDef(**values)
    return _RECORDS[kind](**values)


_TAGS: dict[str, Callable[[Any], Any]] = {
    "$": lambda tagged: _record(tagged),
    "$m": lambda tagged: {decode(k): decode(v) for k, v in tagged["$m"]},
    "$t": lambda tagged: tuple(decode(v) for v in tagged["$t"]),
    "$d": lambda tagged: datetime.fromisoformat(tagged["$d"]),
    "$e": lambda tagged: Framing(tagged["$e"]),
}


def decode(value: Any) -> Any:
    """Plain JSON data back as records and values; ValueError/TypeError/KeyError if it is
    not what ``encode`` writes."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        if len(value) != (2 if "$" in value else 1):
            raise ValueError("an object must be one tagged value")
        tag = "$" if "$" in value else next(iter(value))
        if tag not in _TAGS:
            raise ValueError(f"unknown tag {tag!r}")
        return _TAGS[tag](value)
    if value is None or isinstance(value, str | int | float):
        return value
    raise TypeError(f"not a snapshot value: {type(value).__name__}")
