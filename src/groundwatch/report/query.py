"""Fetching one pass from InfluxDB (v1 HTTP API, InfluxQL) for the report.

A pass is selected by its ``source`` tag (``live`` or ``replay:<session>``), a spacecraft
and an optional time range. Queries are plain blocking HTTP (``urllib``): the report is a
batch job; an async caller runs ``fetch_pass`` in a thread (``asyncio.to_thread``).
Answers are requested chunked, so a long pass is not cut at the server's row limit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from groundwatch.console.state import KeyParameter
from groundwatch.influx_access import InfluxAccess
from groundwatch.influxql import Rows, quote_ident, quote_str, series_rows


def session_source(session: str | None) -> str:
    """``--session`` to the ``source`` tag: ``live`` stays, ``X`` is ``replay:X``."""
    if session is None or session == "live" or session.startswith("replay:"):
        return session or "live"
    return f"replay:{session}"


class InfluxQuery:
    """Queries with the store's credentials and TLS (``InfluxAccess``); a plain URL takes
    them from the environment, as the writer's configuration would."""

    def __init__(
        self, url: str | InfluxAccess, database: str | None = None, timeout: float = 60.0
    ) -> None:
        if isinstance(url, InfluxAccess):
            access = url if database is None else replace(url, database=database)
        else:
            access = InfluxAccess.from_env(url, database or "groundwatch")
        self.access = replace(access, timeout=max(access.timeout, timeout))
        self.url = self.access.url
        self.database = self.access.database
        self.timeout = self.access.timeout

    def rows(self, q: str) -> Rows:
        text = self.access.request(q, self.database, epoch="ns", chunked="true", chunk_size="20000")
        out: Rows = []
        for line in text.splitlines():  # chunked: one JSON answer per line
            if line.strip():
                out += series_rows(json.loads(line), q)
        return out


@dataclass(slots=True)
class Series:
    """One parameter's samples, time-ordered."""

    times: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)


@dataclass(slots=True)
class PassData:
    source: str
    spacecraft: str
    start_ns: int
    end_ns: int
    link_state: dict[str, list[dict[str, Any]]]  # station -> rows (time, state, ...)
    link: dict[str, list[dict[str, Any]]]  # station/vcid -> cumulative accounting rows
    events: list[dict[str, Any]]
    params: dict[str, Series]  # key parameter -> samples
    key_parameters: list[KeyParameter]


class PassQuery:
    """What the report reads for one pass."""

    def __init__(
        self,
        db: InfluxQuery,
        source: str,
        spacecraft: str | None,
        start_ns: int | None,
        end_ns: int | None,
    ) -> None:
        self.db = db
        self.source = source
        self.spacecraft = spacecraft
        self.start_ns = start_ns
        self.end_ns = end_ns

    def where(self, with_spacecraft: bool = True) -> str:
        parts = [f"source = {quote_str(self.source)}"]
        if with_spacecraft and self.spacecraft:
            parts.append(f"spacecraft = {quote_str(self.spacecraft)}")
        if self.start_ns is not None:
            parts.append(f"time >= {self.start_ns}")
        if self.end_ns is not None:
            parts.append(f"time <= {self.end_ns}")
        return " AND ".join(parts)

    def find_spacecraft(self) -> str:
        rows = self.db.rows(
            f"SELECT last(state) FROM link_state WHERE {self.where(False)} GROUP BY spacecraft"
        )
        names = sorted(t.get("spacecraft", "") for t, _ in rows if t.get("spacecraft"))
        if not names:
            raise LookupError(f"no link_state for source {self.source!r} in that time range")
        return names[0]

    def fetch(self, key_parameters: Iterable[KeyParameter]) -> PassData:
        if self.spacecraft is None:
            self.spacecraft = self.find_spacecraft()
        link_state: dict[str, list[dict[str, Any]]] = {}
        for tags, row in self.db.rows(
            f"SELECT * FROM link_state WHERE {self.where()} GROUP BY station, vcid"
        ):
            if tags.get("vcid"):
                continue
            link_state.setdefault(tags.get("station", "?"), []).append(row)
        link: dict[str, list[dict[str, Any]]] = {}
        for tags, row in self.db.rows(
            f"SELECT * FROM link WHERE {self.where()} GROUP BY station, vcid"
        ):
            name = tags.get("station", "?")
            if tags.get("vcid"):
                name += f"/vc{tags['vcid']}"
            link.setdefault(name, []).append(row)
        sc = quote_str(self.spacecraft)
        events = [
            row
            for _, row in self.db.rows(
                f"SELECT * FROM events WHERE {self.where(False)} AND "
                f"(spacecraft = {sc} OR spacecraft = '')"
            )
        ]
        events.sort(key=lambda r: r["time"])
        keys = list(key_parameters)
        params: dict[str, Series] = {p.name: Series() for p in keys}
        by_packet: dict[str, list[str]] = {}
        for p in keys:
            by_packet.setdefault(p.packet, []).append(p.name)
        for packet, names in by_packet.items():
            cols = ", ".join(quote_ident(n) for n in names)
            for _, row in self.db.rows(
                f"SELECT {cols} FROM {quote_ident(packet)} WHERE {self.where()}"
            ):
                for n in names:
                    v = row.get(n)
                    if isinstance(v, int | float) and not isinstance(v, bool):
                        params[n].times.append(int(row["time"]))
                        params[n].values.append(float(v))
        times = [r["time"] for rows in link_state.values() for r in rows]
        times += [s.times[0] for s in params.values() if s.times]
        times += [s.times[-1] for s in params.values() if s.times]
        if not times:
            raise LookupError(f"no data for {self.spacecraft} source {self.source!r}")
        return PassData(
            source=self.source,
            spacecraft=self.spacecraft,
            start_ns=self.start_ns if self.start_ns is not None else min(times),
            end_ns=self.end_ns if self.end_ns is not None else max(times),
            link_state=link_state,
            link=link,
            events=events,
            params=params,
            key_parameters=keys,
        )
