"""InfluxQL text and answers, shared by the readers (console, report, replay sessions)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Rows = list[tuple[dict[str, str], dict[str, Any]]]


def quote_ident(name: str) -> str:
    """A measurement, tag or field name as an InfluxQL identifier."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_str(value: str) -> str:
    """A string literal (tag values in WHERE clauses)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def series_rows(result: Mapping[str, Any], query: str | None = None) -> Rows:
    """(tags, row) for every row of every series of one InfluxQL JSON answer."""
    out: Rows = []
    for res in result.get("results", []) or []:
        if "error" in res:
            where = f" (query: {query})" if query else ""
            raise RuntimeError(f"InfluxDB: {res['error']}{where}")
        for s in res.get("series", []) or []:
            tags = s.get("tags", {}) or {}
            cols = s.get("columns", [])
            for values in s.get("values", []) or []:
                out.append((tags, dict(zip(cols, values, strict=False))))
    return out
