"""InfluxDB line protocol: encode ``model.Point`` and read back what we wrote.

Hand-written rather than influxdb-client's ``Point``: the store must count every field it
cannot represent (NaN, inf, ints beyond int64) instead of losing it quietly, must format
floats with ``repr`` for a bit-exact round trip, and encodes every point on the hot path
(a plain f-string per point, no intermediate objects).

Rules (InfluxDB 1.x/2.x line protocol):

* measurement: escape ``,`` and space;
* tag keys, tag values, field keys: escape ``,``, ``=`` and space; tags with an empty value
  are omitted (InfluxDB rejects them); newlines cannot be carried in names and are escaped
  as the two characters ``\\n``; a backslash in a name is literal, except one before
  ``,``/``=``/space or at the end, which InfluxDB cannot read back and is written as ``/``;
* string field values: double-quoted, escape ``"`` and ``\\``;
* ints: ``<n>i`` (int64 range; outside it the field is dropped and counted);
* floats: ``float.__repr__`` (shortest string that round-trips bit-exactly), never ``%g``;
  NaN and +/-inf are not representable: the field is dropped and counted;
* bools: ``true`` / ``false`` (``True`` / ``False`` on the all-numeric fast path: both valid);
* timestamp: integer nanoseconds.

Fields with an empty key are dropped and counted, so are points with an empty measurement
or with no field left (``points_dropped``): InfluxDB cannot parse them.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from groundwatch.model import FieldRow, FieldValue, Point, RowShape
from groundwatch.store.series_cache import SeriesCache

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

_MEASUREMENT_ESC = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\n"})
_KEY_ESC = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n"})


@dataclass(slots=True)
class EncodeStats:
    """What the encoder had to leave out (it never raises on a value)."""

    fields_dropped: int = 0  # NaN/inf floats, ints outside int64, unsupported types
    points_dropped: int = 0  # points with no representable field left

    def merge(self, other: EncodeStats) -> None:
        self.fields_dropped += other.fields_dropped
        self.points_dropped += other.points_dropped


# InfluxDB's scanner reads a backslash before a separator (or at the end of a name) as an
# escape whatever comes before it, so such a backslash cannot be written: it becomes "/".
_LONE_BACKSLASH = re.compile(r"\\(?=[,= ]|$)")


def escape_measurement(name: str) -> str:
    if "\\" in name:
        name = _LONE_BACKSLASH.sub("/", name)
    return name.translate(_MEASUREMENT_ESC)


def escape_key(name: str) -> str:
    """Tag key, tag value or field key."""
    if "\\" in name:
        name = _LONE_BACKSLASH.sub("/", name)
    return name.translate(_KEY_ESC)


def escape_string_field(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_field_value(value: FieldValue) -> str | None:
    """The line-protocol text of one field value, or None when it cannot be represented."""
    # bool before int: bool is a subclass of int.
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        if INT64_MIN <= value <= INT64_MAX:
            return f"{int(value)}i"
        return None
    if isinstance(value, float):
        if math.isfinite(value):
            return float.__repr__(value)
        return None
    if isinstance(value, str):
        return escape_string_field(value)
    return None


# str and bool: "{}" of the value already rendered (see _Template.render).
_TEMPLATE_KINDS = {float: "{!r}", int: "{}i", bool: "{}", str: "{}"}


class _Template:
    __slots__ = ("fmt", "ints", "nums", "one_int", "strs")

    def __init__(
        self,
        fmt: str,
        ints: Callable[[Any], Any] | None,
        one_int: bool,
        nums: Callable[[Any], Any] | None,
        strs: tuple[int, ...],
    ) -> None:
        self.fmt = fmt
        self.ints = ints
        self.one_int = one_int
        self.nums = nums  # the numeric values (all of them when there is no string field)
        self.strs = strs  # positions of string and bool fields: rendered per value

    def fits(self, vals: tuple[Any, ...]) -> bool:
        """No NaN/inf float and no int outside int64 (then the careful path runs)."""
        nums = vals if self.nums is None else self.nums(vals)
        try:
            # NaN and +/-inf make the sum non-finite (so can a huge finite sum: that only
            # costs the careful path).
            if not math.isfinite(sum(nums) if isinstance(nums, tuple) else nums):
                return False
        except OverflowError:  # an int too large for a float
            return False
        if self.ints is None:
            return True
        ints = self.ints(vals)
        if self.one_int:
            return bool(INT64_MIN <= ints <= INT64_MAX)
        return bool(INT64_MIN <= min(ints) and max(ints) <= INT64_MAX)

    def render(self, vals: tuple[Any, ...]) -> str:
        if self.strs:
            lst = list(vals)
            for i in self.strs:
                v = lst[i]
                # Strings escaped and quoted; bools as the slow path writes them.
                lst[i] = (
                    ("true" if v else "false")
                    if v is True or v is False
                    else (escape_string_field(v))
                )
            return self.fmt.format(*lst)
        return self.fmt.format(*vals)


class LineEncoder:
    """Encodes points; caches the escaped text of names, which repeat on every point.

    The caches are bounded (cleared past ``max_cached`` entries) so that a stream of
    ever-new tag values cannot grow memory without limit; the series cache, whose tag values
    come from the wire (a station name), keeps only the series used lately and at most
    ``max_cached_bytes`` (``series_cache``).
    """

    def __init__(
        self,
        stats: EncodeStats | None = None,
        max_cached: int = 100_000,
        max_cached_bytes: int = 8 << 20,
    ) -> None:
        self.stats = stats if stats is not None else EncodeStats()
        self.max_cached = max_cached
        self._series_cache = SeriesCache(max_cached_bytes, max_cached)
        self._keys: dict[str, str] = {}
        self._measurements: dict[str, str] = {}
        self._fieldsets: dict[tuple[str, ...], list[str]] = {}
        self._templates: dict[tuple[tuple[str, ...], tuple[type, ...]], _Template | None] = {}
        # id(shape) -> (shape, template): a FieldRow's template, found without hashing its
        # keys and kinds (the shape is kept so its id cannot be reused).
        self._row_templates: dict[int, tuple[RowShape, _Template | None]] = {}

    @property
    def series_cache_bytes(self) -> int:
        """About what the series cache holds (bounded by ``max_cached_bytes``)."""
        return self._series_cache.nbytes

    def _key(self, name: str) -> str:
        text = self._keys.get(name)
        if text is None:
            if len(self._keys) >= self.max_cached:
                self._keys.clear()
            text = self._keys[name] = escape_key(name)
        return text

    def _series(self, point: Point) -> str:
        tags = tuple(point.tags.items())
        key = (("", point.measurement), *tags)
        cache = self._series_cache
        text = cache.young.get(key)
        if text is None:
            text = cache.miss(key)
            if text is None:
                # Tags sorted by key: InfluxDB's recommended order.
                text = escape_measurement(point.measurement) + "".join(
                    f",{escape_key(k)}={escape_key(v)}" for k, v in sorted(tags) if v != ""
                )
                cache.put(key, text)
        return text

    def _field_keys(self, names: tuple[str, ...]) -> list[str]:
        keys = self._fieldsets.get(names)
        if keys is None:
            if len(self._fieldsets) >= self.max_cached:
                self._fieldsets.clear()
            # An empty field key is unparsable: "" marks it, and its field is dropped.
            keys = self._fieldsets[names] = [self._key(n) + "=" if n else "" for n in names]
        return keys

    def _template(self, names: tuple[str, ...], kinds: tuple[type, ...]) -> _Template | None:
        """A format string for points whose fields are all plain float/int/bool/str (the
        usual decoded packet, enum labels included): one C-level ``str.format`` instead of a
        Python loop per field."""
        if len(self._templates) >= self.max_cached:
            self._templates.clear()
        template: _Template | None = None
        # No field at all: no template, the careful path drops and counts the point.
        if names and all(k in _TEMPLATE_KINDS for k in kinds) and all(names):
            keys = self._field_keys(names)
            parts = [
                key.replace("{", "{{").replace("}", "}}") + _TEMPLATE_KINDS[k]
                for key, k in zip(keys, kinds, strict=True)
            ]
            ints = [i for i, k in enumerate(kinds) if k is int]
            strs = tuple(i for i, k in enumerate(kinds) if k is str or k is bool)
            nums = [i for i, k in enumerate(kinds) if k is not str]
            template = _Template(
                ",".join(parts),
                operator.itemgetter(*ints) if ints else None,
                len(ints) == 1,
                (lambda v: ()) if not nums else (operator.itemgetter(*nums) if strs else None),
                strs,
            )
        self._templates[(names, kinds)] = template
        return template

    def encode(self, point: Point) -> bytes | None:
        """One line (without the trailing newline), or None when no field is representable."""
        values = point.fields
        if not point.measurement:  # InfluxDB cannot parse it
            self.stats.points_dropped += 1
            return None
        if type(values) is FieldRow:
            shape = values.shape
            entry = self._row_templates.get(id(shape))
            if entry is None:
                if len(self._row_templates) >= self.max_cached:
                    self._row_templates.clear()
                entry = (shape, self._template(shape.keys, shape.kinds))
                self._row_templates[id(shape)] = entry
            template = entry[1]
            vals = values.row
        else:
            names = tuple(values)
            vals = tuple(values.values())
            kinds = tuple(map(type, vals))
            try:
                template = self._templates[(names, kinds)]
            except KeyError:
                template = self._template(names, kinds)
        if template is not None and template.fits(vals):
            text = template.render(vals)
            return f"{self._series(point)} {text} {point.time_ns}".encode()
        keys = self._field_keys(tuple(values))
        fields: list[str] = []
        append = fields.append
        for key, value in zip(keys, values.values(), strict=True):
            if not key:
                self.stats.fields_dropped += 1
                continue
            kind = type(value)
            # Fast paths for the exact common types; format_field_value handles the rest.
            if kind is float:
                text = float.__repr__(value)
                if "n" not in text:  # "nan", "inf", "-inf": the only reprs with an "n"
                    append(key + text)
                    continue
            elif kind is int and INT64_MIN <= value <= INT64_MAX:  # type: ignore[operator]
                append(f"{key}{value}i")
                continue
            text = format_field_value(value)  # type: ignore[assignment]
            if text is None:
                self.stats.fields_dropped += 1
                continue
            append(key + text)
        if not fields:
            self.stats.points_dropped += 1
            return None
        return f"{self._series(point)} {','.join(fields)} {point.time_ns}".encode()

    def encode_lines(self, points: Iterable[Point]) -> list[bytes]:
        out: list[bytes] = []
        for p in points:
            line = self.encode(p)
            if line is not None:
                out.append(line)
        return out


def encode_point(point: Point, stats: EncodeStats | None = None) -> bytes | None:
    """One line (without the trailing newline), or None when no field is representable."""
    return LineEncoder(stats).encode(point)


def encode_lines(points: Iterable[Point], stats: EncodeStats | None = None) -> list[bytes]:
    return LineEncoder(stats).encode_lines(points)


def encode_points(points: list[Point], stats: EncodeStats | None = None) -> bytes:
    """Line protocol for ``points``, one line each, newline-terminated."""
    lines = encode_lines(points, stats)
    return b"\n".join(lines) + b"\n" if lines else b""


# --- reading our own lines back (partial-write triage, tests) --------------------------------


@dataclass(slots=True)
class ParsedLine:
    measurement: str
    tags: dict[str, str]
    fields: dict[str, FieldValue]
    time_ns: int | None


def _split_unescaped(text: str, sep: str, quotes: bool = False) -> list[str]:
    """Split at ``sep`` not preceded by a backslash (and, with ``quotes``, not inside a
    string value: a ``"`` right after ``=`` opens one, the next unescaped ``"`` closes it)."""
    parts: list[str] = []
    cur: list[str] = []
    i, in_quotes = 0, False
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            cur.append(text[i : i + 2])
            i += 2
            continue
        if quotes and c == '"' and (in_quotes or (i > 0 and text[i - 1] == "=")):
            in_quotes = not in_quotes
        elif c == sep and not in_quotes:
            parts.append("".join(cur))
            cur = []
            i += 1
            continue
        cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def _unescape(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in ", =":
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _parse_value(text: str) -> FieldValue:
    if text.startswith('"'):
        return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if text in ("true", "t", "T", "True", "TRUE"):
        return True
    if text in ("false", "f", "F", "False", "FALSE"):
        return False
    if text.endswith("i"):
        return int(text[:-1])
    return float(text)


def parse_line(line: bytes | str) -> ParsedLine:
    """Parse a line this module wrote (not a general validator). Raises ValueError."""
    text = line.decode("utf-8") if isinstance(line, bytes) else line
    text = text.rstrip("\n")
    key = _split_unescaped(text, " ")[0]
    rest = text[len(key) + 1 :]
    if not rest:
        raise ValueError(f"not a line-protocol line: {text[:80]!r}")
    time_ns: int | None = None
    head, sep, tail = rest.rpartition(" ")
    if sep and tail.isdigit():
        rest, time_ns = head, int(tail)
    key_parts = _split_unescaped(key, ",")
    tags: dict[str, str] = {}
    for part in key_parts[1:]:
        pieces = _split_unescaped(part, "=")
        tags[_unescape(pieces[0])] = _unescape("=".join(pieces[1:]))
    fields: dict[str, FieldValue] = {}
    for part in _split_unescaped(rest, ",", quotes=True):
        name = _split_unescaped(part, "=")[0]
        fields[_unescape(name)] = _parse_value(part[len(name) + 1 :])
    return ParsedLine(_unescape(key_parts[0]), tags, fields, time_ns)


def field_type(value: FieldValue) -> str:
    """InfluxDB's name for a value's type, as it appears in field type conflict errors."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    return "string"
