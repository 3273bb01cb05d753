"""What Grafana's InfluxDB datasource does to a raw InfluxQL query before sending it.

Mirrors Grafana 11's InfluxQL path: ``$timeFilter`` becomes ``time >= now() - 15m`` for a
relative range ending now, or ``time >= <ms>ms and time <= <ms>ms`` for an absolute one;
``$__interval`` the interval Grafana picked; template variables are rendered as the
datasource's ``interpolateQueryExpr`` does: values of multi-value or include-all variables are
regex-escaped and several become ``(a|b)``; a custom "All" value (``.*``) is left unescaped;
single-value variables go in as they are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ALL = "$__all"
_REGEX_SPECIALS = re.compile(r"[\\^$*+?.()|\[\]{}/]")


def escape_regex(value: str) -> str:
    return _REGEX_SPECIALS.sub(lambda m: "\\" + m.group(0), value)


@dataclass(frozen=True)
class TimeRange:
    relative: str | None = "15m"  # "now() - <relative>" to now
    start_ms: int | None = None
    end_ms: int | None = None

    def filter(self) -> str:
        if self.relative is not None:
            return f"time >= now() - {self.relative}"
        return f"time >= {self.start_ms}ms and time <= {self.end_ms}ms"


def render_variable(variable: Mapping[str, Any], values: Sequence[str]) -> str:
    if list(values) == [ALL]:
        if variable.get("allValue"):
            return str(variable["allValue"])
        raise ValueError("an All selection without allValue needs the option list")
    if variable.get("multi") or variable.get("includeAll"):
        escaped = [escape_regex(v) for v in values]
        return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
    if len(values) != 1:
        raise ValueError(f"variable {variable['name']} takes one value")
    return values[0]


def expand(
    query: str,
    variables: Sequence[Mapping[str, Any]],
    selection: Mapping[str, Sequence[str]],
    time_range: TimeRange,
    interval: str = "1s",
) -> str:
    out = query.replace("$timeFilter", time_range.filter())
    out = out.replace("$__interval", interval).replace("$interval", interval)
    # Longest names first, so $station never eats part of $stations.
    for var in sorted(variables, key=lambda v: -len(v["name"])):
        name = var["name"]
        if name not in selection:
            continue
        rendered = render_variable(var, selection[name])
        out = out.replace("${" + name + "}", rendered).replace("$" + name, rendered)
    leftover = re.findall(r"\$\{?\w+", out)
    if leftover:
        raise ValueError(f"unexpanded in {out!r}: {leftover}")
    return out


def select_columns(query: str) -> list[str]:
    """The value columns a SELECT returns: the AS name, else the function or field name."""
    m = re.match(r"\s*SELECT\s+(.*?)\s+FROM\s", query, re.IGNORECASE | re.DOTALL)
    if not m:
        raise ValueError(f"not a SELECT: {query!r}")
    parts, depth, cur = [], 0, ""
    for ch in m.group(1):
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    parts.append(cur)
    cols = []
    for part in parts:
        part = part.strip()
        alias = re.search(r'\s+AS\s+"?([^"]+)"?$', part, re.IGNORECASE)
        if alias:
            cols.append(alias.group(1))
        elif "(" in part:
            cols.append(part.split("(", 1)[0].strip())
        else:
            cols.append(part.strip('"'))
    return cols
