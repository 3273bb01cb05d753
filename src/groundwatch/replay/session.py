"""Replay sessions: their names, the archived passes one can replay, deleting a session.

Points and events of a replay carry ``source=replay:<session>``; deleting a session drops
exactly those series and leaves live data alone.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from groundwatch.archive.reader import ArchiveReader
from groundwatch.config import StoreConfig
from groundwatch.influx_access import InfluxAccess
from groundwatch.influxql import quote_str, series_rows

_UNSAFE = re.compile(r"[^A-Za-z0-9_.:-]+")


def default_session_name(path: Path, first_ns: int) -> str:
    """File (or directory) name and the recording's start time: ``pass.hex-20261125T042800Z``."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(first_ns / 1e9))
    name = path.name or "replay"
    return _UNSAFE.sub("_", f"{name}-{stamp}")


def validate_session_name(name: str) -> None:
    """A name that is a safe tag value and InfluxQL string (no quotes, no backslashes)."""
    if not name or _UNSAFE.search(name):
        raise ValueError(f"session name {name!r}: use letters, digits and _ . : - only")


# --- listing archived passes ---------------------------------------------------------------


@dataclass(slots=True)
class PassRow:
    path: Path
    link: str
    spacecraft: str
    station: str
    start_ns: int | None
    end_ns: int | None
    frames: int
    gaps: int  # silences longer than the LOS threshold inside the pass
    los: list[int]  # LOS event times (from InfluxDB events when given, else from the gaps)
    problems: int  # torn or corrupt records


def archived_passes(directory: Path, los_threshold_s: float) -> list[PassRow]:
    """Every archive file (one link, one pass): frames, silences, derived LOS times.

    Without the events of the live run, a LOS is where the link fell silent for longer than
    the threshold: each such gap and the end of the pass (last frame + threshold).
    """
    threshold = int(los_threshold_s * 1e9)
    rows = []
    for path in sorted(Path(directory).glob("*.gwa")):
        reader = ArchiveReader([path])
        start = end = None
        station = ""
        frames = gaps = 0
        los: list[int] = []
        for frame, _pos in reader:
            frames += 1
            station = station or frame.station
            t = frame.ert_ns
            if end is not None and t - end > threshold:
                gaps += 1
                los.append(end + threshold)
            start = t if start is None else min(start, t)
            end = t if end is None else max(end, t)
        if end is not None:
            los.append(end + threshold)
        link = reader.links.get(path, "")
        spacecraft = link.removesuffix(f"-{station}") if station else link
        rows.append(
            PassRow(
                path, link, spacecraft, station, start, end, frames, gaps, los, len(reader.problems)
            )
        )
    rows.sort(key=lambda r: (r.start_ns or 0, r.path.name))
    return rows


def los_events_from_store(
    store: StoreConfig, spacecraft: str, station: str, start_ns: int, end_ns: int
) -> list[int]:
    """LOS-type events of the live run on this link between ``start_ns`` and ``end_ns``
    (with the store's credentials and TLS settings)."""
    q = (
        'SELECT "condition" FROM "events" WHERE "source" = \'live\' '
        f'AND "spacecraft" = {quote_str(spacecraft)} AND "station" = {quote_str(station)} '
        'AND "type" =~ /LOS$/ '
        f"AND time >= {start_ns} AND time <= {end_ns}"
    )
    access = InfluxAccess.from_store(store)
    res = json.loads(access.request(q, access.database, epoch="ns"))
    return [int(row["time"]) for _tags, row in series_rows(res, q)]


# --- deleting a session ----------------------------------------------------------------------


def delete_session(store: StoreConfig, name: str, api: str | None = None) -> str:
    """Remove every point with ``source=replay:<name>``; returns what was done.

    InfluxDB 1.x: ``DROP SERIES WHERE "source" = ...`` (every measurement). 2.x: the
    ``/api/v2/delete`` predicate (InfluxQL DROP is not served by its v1 compatibility API).
    """
    validate_session_name(name)
    source = f"replay:{name}"
    access = InfluxAccess.from_store(store)
    api = api or (store.api if store.api != "auto" else _detect(access))
    if api == "v1":
        q = f"DROP SERIES WHERE \"source\" = '{source}'"
        result = json.loads(access.request(q, access.database, method="POST"))
        series_rows(result, q)  # raises on an error answer
        return q
    predicate = f'source="{source}"'
    payload = json.dumps(
        {"start": "1970-01-01T00:00:00Z", "stop": "2262-04-11T00:00:00Z", "predicate": predicate}
    ).encode()
    qs = urllib.parse.urlencode({"org": store.org or "", "bucket": store.bucket or ""})
    req = urllib.request.Request(
        f"{access.url}/api/v2/delete?{qs}", data=payload, method="POST", headers=access.headers()
    )
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=store.timeout, context=access.ssl_context()):
        pass
    return f"delete {predicate}"


def _detect(access: InfluxAccess) -> str:
    from groundwatch.store.detect import api_for_version

    req = urllib.request.Request(f"{access.url}/ping")
    with urllib.request.urlopen(req, timeout=5, context=access.ssl_context()) as resp:
        return api_for_version(resp.headers.get("X-Influxdb-Version", "unknown"))
