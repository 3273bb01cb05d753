"""The JSON line of a decoded packet, as ``groundwatch decode`` prints it, without json.dumps.

Encoding was about half the time of ``decode`` on big captures: ``json.dumps`` of one nested
dict per packet, after building that dict and a ``ParamValue`` per parameter. Here the text
is joined from pieces made once per packet layout (``ColumnSchema``: the quoted names, units
and the fixed keys), and each value is written by its exact type: ``repr`` for a finite
float and an int, ``json``'s own C string encoder for text. Every other value (arrays,
bytes, enumerations, non-finite floats, anything unusual) goes through ``json.dumps`` as
before. The output is byte for byte ``json.dumps(packet_line(...), separators=(", ", ": "))``
(``decode_cli.packet_line`` stays the definition; a test compares the two).

The standard library's encoder is used rather than a faster third-party one (orjson) on
purpose: orjson writes other separators and float text (``1e16`` for ``1e+16``), which would
change the command's output.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from enum import StrEnum
from json.encoder import encode_basestring_ascii  # what json.dumps uses for text
from typing import Any

from groundwatch.model import ColumnSchema, DecodedPacket, LimitState, PacketColumns, ParamValue

SEPARATORS = (", ", ": ")
_text = encode_basestring_ascii
_LIMIT: dict[LimitState | None, str] = {
    None: "null",
    **{s: encode_basestring_ascii(s.label) for s in LimitState},
}


def jsonable(value: Any) -> Any:
    """What the decode output writes for a value json.dumps cannot take as it is."""
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, StrEnum):
        return value.value
    return value


def _general(value: Any) -> str:
    return json.dumps(jsonable(value), separators=SEPARATORS)


def _float(value: float) -> str:
    return float.__repr__(value) if math.isfinite(value) else "null"


_BY_TYPE: dict[type, Callable[[Any], str]] = {
    float: _float,
    int: int.__repr__,
    str: encode_basestring_ascii,
    bool: lambda v: "true" if v else "false",
    type(None): lambda _v: "null",
}


def value_json(value: Any) -> str:
    encode = _BY_TYPE.get(type(value))
    return encode(value) if encode is not None else _general(value)


# Expression giving the text of engineering value ``e{i}`` of a column of the schema's kind.
_ENG_TEXT: dict[type | None, str] = {
    # repr is what json.dumps writes for a float and an int (and stays right should a column
    # hold the other kind of number).
    float: "repr(e{i}) if e{i} - e{i} == 0 else 'null'",  # inf - inf and NaN are not 0
    int: "repr(e{i})",
    str: "_text(e{i})",
    bool: "'true' if e{i} else 'false'",
}


def _column_lines(i: int, kind: type | None, limited: bool) -> list[str]:
    """Generated statements setting ``c{i}``: column i's member text, after ", "."""
    limit = f"_limit[_s{i}(e{i})]" if limited else "_null"
    lines = [
        f"t{i} = {_ENG_TEXT.get(kind, '_value(e{i})').format(i=i)}",
        # A plain column's raw value is its engineering value, the same object.
        f"u{i} = t{i} if r{i} is e{i} else _value(r{i})",
        f"c{i} = f'{{_h{i}}}{{u{i}}}{{_m}}{{t{i}}}{{_t{i}}}{{{limit}}}{{_close}}'",
    ]
    if kind is not None:
        return lines  # a value of a known kind is never None
    # A derived value that could not be computed: absent, as in the mapping.
    return [f"if e{i} is None:", f"    c{i} = ''", "else:", *(f"    {line}" for line in lines)]


# Statement giving ``t{i}``, the text of value ``e{i}`` of a column of the kind, when it is
# known to be of that kind and finite (the fast path's guard).
_KNOWN_TEXT: dict[type | None, str] = {
    float: "t{i} = repr(e{i})",
    int: "t{i} = repr(e{i})",
    str: "t{i} = _text(e{i})",
    bool: "t{i} = 'true' if e{i} else 'false'",
    # A derived value: of no fixed kind, but most often a finite float.
    None: "t{i} = repr(e{i}) if type(e{i}) is float and e{i} - e{i} == 0 else _value(e{i})",
}


def _fast_lines(schema: ColumnSchema, space: dict[str, Any]) -> list[str]:
    """Generated statements for the usual packet: raw values are the engineering values (the
    layout passes one tuple for both), every float is finite and every derived value was
    computed. The texts are joined by one f-string, the fixed pieces between them (names,
    units, keys) made here once and passed in the namespace as ``_k{j}``."""
    kinds = schema.kinds
    guard = ["raw is eng"]
    floats = [i for i, kind in enumerate(kinds) if kind is float]
    if floats:  # inf - inf and NaN are NaN: the sum is 0 only when every float is finite
        guard.append("(" + " + ".join(f"(e{i} - e{i})" for i in floats) + ") == 0")
    guard += [f"e{i} is not None" for i, kind in enumerate(kinds) if kind is None]
    lines = [f"if {' and '.join(guard)}:"]
    pieces: list[str] = []
    fixed = ""

    def flush() -> None:
        nonlocal fixed
        if fixed:
            space[f"_k{len(pieces)}"] = fixed
            pieces.append(f"{{_k{len(pieces)}}}")
            fixed = ""

    columns = zip(schema.names, schema.units, kinds, schema.limit_states, strict=True)
    for i, (name, unit, kind, state) in enumerate(columns):
        lines.append("    " + _KNOWN_TEXT[kind].format(i=i))
        fixed += ("" if i == 0 else ", ") + encode_basestring_ascii(name) + ': {"raw": '
        flush()
        pieces.append(f"{{t{i}}}")
        fixed += ', "eng": '
        flush()
        pieces.append(f"{{t{i}}}")
        fixed += ', "unit": ' + value_json(unit) + ', "limit": '
        if state is None:
            fixed += "null"
        else:
            flush()
            pieces.append(f"{{_limit[_s{i}(e{i})]}}")
        fixed += "}"
    flush()
    lines.append("    return f'" + "".join(pieces) + "'")
    return lines


def _columns_function(schema: ColumnSchema) -> Callable[[tuple[Any, ...], tuple[Any, ...]], str]:
    """``text(eng, raw)``: the ``parameters`` members of a layout's packet, generated once per
    layout. Like the fast path's, the source holds generated identifiers only: names, units
    and functions are passed in through its namespace."""
    space: dict[str, Any] = {
        "_text": encode_basestring_ascii,
        "_value": value_json,
        "_limit": _LIMIT,
        "_m": ', "eng": ',
        "_null": "null",
        "_close": "}",
    }
    n = len(schema.names)
    if n == 0:
        return lambda _eng, _raw: ""
    body = ["(" + "".join(f"e{i}, " for i in range(n)) + ") = eng"]
    body += _fast_lines(schema, space)
    body.append("(" + "".join(f"r{i}, " for i in range(n)) + ") = raw")
    columns = zip(schema.names, schema.units, schema.kinds, schema.limit_states, strict=True)
    for i, (name, unit, kind, state) in enumerate(columns):
        space[f"_h{i}"] = ", " + encode_basestring_ascii(name) + ': {"raw": '
        space[f"_t{i}"] = ', "unit": ' + value_json(unit) + ', "limit": '
        space[f"_s{i}"] = state
        body += _column_lines(i, kind, state is not None)
    # Each member starts with ", ": the first one's is cut.
    body.append("return f'" + "".join(f"{{c{i}}}" for i in range(n)) + "'[2:]")
    source = "def text(eng, raw):\n" + "".join(f"    {line}\n" for line in body)
    exec(compile(source, "<decode json>", "exec"), space)
    text: Callable[[tuple[Any, ...], tuple[Any, ...]], str] = space["text"]
    return text


def _params_text(params: Mapping[str, ParamValue]) -> str:
    return ", ".join(
        f'{encode_basestring_ascii(name)}: {{"raw": {value_json(v.raw)}, "eng": '
        f'{value_json(v.eng)}, "unit": {value_json(v.unit)}, "limit": {_LIMIT[v.limit]}}}'
        for name, v in params.items()
    )


class PacketLineEncoder:
    """``encode(packet, ert_text)``: the packet's JSON line (without the newline)."""

    def __init__(self) -> None:
        # One entry per layout seen (a dictionary has a bounded number of layouts).
        self._schemas: dict[ColumnSchema, Callable[[tuple[Any, ...], tuple[Any, ...]], str]] = {}

    def encode(self, p: DecodedPacket, ert: str | None) -> str:
        # Header fields are ints (their repr is their JSON); texts go through the encoder.
        v = value_json
        f, a, h = p.frame, p.ax25, p.header
        frame = (
            "null"
            if f is None
            else f'{{"scid": {f.scid!r}, "vcid": {f.vcid!r}, "mcfc": {f.mcfc!r}, '
            f'"vcfc": {f.vcfc!r}, "fhp": {f.fhp!r}, '
            f'"ocf": {"null" if f.ocf is None else v(f.ocf.hex())}}}'
        )
        ax25 = (
            "null"
            if a is None
            else f'{{"dst": {v(a.dst)}, "dst_ssid": {a.dst_ssid!r}, "src": {v(a.src)}, '
            f'"src_ssid": {a.src_ssid!r}, "control": {a.control!r}, "pid": {a.pid!r}}}'
        )
        header = (
            "null"
            if h is None
            else f'{{"apid": {h.apid!r}, "seq_flags": {h.seq_flags!r}, '
            f'"seq_count": {h.seq_count!r}, "data_length": {h.data_length!r}, '
            f'"name": {"null" if p.name is None else _text(p.name)}}}'
        )
        params = p.params
        if type(params) is PacketColumns:
            text = self._schemas.get(params.schema)
            if text is None:
                text = self._schemas[params.schema] = _columns_function(params.schema)
            body = text(params.eng, params.raw)
        else:
            body = _params_text(params)
        line = (
            f'{{"kind": "packet", "ert": {"null" if ert is None else _text(ert)}, '
            f'"frame": {frame}, "ax25": {ax25}, '
            f'"packet": {header}, "parameters": {{{body}}}'
        )
        if h is None and p.payload is not None:
            line += f', "payload_hex": {v(p.payload.hex())}'
        return line + "}"
