"""The pass report's facts: AOS, LOS (expected or not), frames, gaps, limits, last values.

``summarize(data)`` returns a plain dict (written as ``summary.json``) and ``summary_lines``
the short text a controller reads first. LOS kinds: ``UNEXPECTED_LOS`` (inside a planned
contact: ``expected`` false), ``EXPECTED_LOS`` (at the planned end: true), ``LOS`` (no
schedule to judge it against: null).
"""

from __future__ import annotations

import bisect
import json
from datetime import UTC, datetime
from typing import Any

from groundwatch.report.query import PassData, Series
from groundwatch.report.timeline import alert_budget, timeline_lines

LOS_TYPES = ("LOS", "EXPECTED_LOS", "UNEXPECTED_LOS")
S = 1_000_000_000


def iso(t_ns: int | None) -> str | None:
    if t_ns is None:
        return None
    dt = datetime.fromtimestamp(t_ns // S, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{(t_ns % S) // 1_000_000:03d}Z"


def value_at(series: Series, t_ns: int) -> tuple[int, float] | None:
    """The last sample at or before ``t_ns``."""
    i = bisect.bisect_right(series.times, t_ns)
    if i == 0:
        return None
    return series.times[i - 1], series.values[i - 1]


def _details(row: dict[str, Any]) -> dict[str, Any]:
    try:
        d = json.loads(row.get("details") or "{}")
    except (TypeError, ValueError):
        return {}
    return d if isinstance(d, dict) else {}


def _link_totals(data: PassData) -> dict[str, Any]:
    """Cumulative counters of the last ``link`` row of each station/virtual channel."""
    totals = {
        "frames": 0,
        "valid_frames": 0,
        "crc_failures": 0,
        "frame_gaps": 0,
        "frames_missing": 0,
        "rejected": 0,
    }
    per_link: dict[str, dict[str, int]] = {}
    for name, rows in data.link.items():
        last = rows[-1]
        per_link[name] = {k: int(last.get(k) or 0) for k in totals}
        for k in totals:
            totals[k] += per_link[name][k]
    return {**totals, "per_link": per_link}


def _silences(data: PassData, min_s: float = 2.0) -> list[dict[str, Any]]:
    """Periods without a valid frame longer than ``min_s`` inside the pass (from link_state:
    ``seconds_since_last_frame`` grows past it, then falls back)."""
    out = []
    for station, rows in data.link_state.items():
        start = None
        worst = 0.0
        for r in rows:
            s = float(r.get("seconds_since_last_frame") or 0.0)
            if s >= min_s:
                if start is None:
                    start = r["time"] - int(s * S)
                worst = max(worst, s)
            elif start is not None:
                out.append(
                    {
                        "station": station,
                        "from": iso(start),
                        "seconds": round(worst, 1),
                        "recovered": True,
                    }
                )
                start, worst = None, 0.0
        if start is not None:
            out.append(
                {
                    "station": station,
                    "from": iso(start),
                    "seconds": round(worst, 1),
                    "recovered": False,
                }
            )
    return out


def summarize(data: PassData) -> dict[str, Any]:
    events = data.events
    aos = [e for e in events if e.get("type") == "AOS"]
    los = [e for e in events if e.get("type") in LOS_TYPES]
    limits = [e for e in events if e.get("type") == "LIMIT_ENTER"]
    facts: dict[str, Any] = {
        "spacecraft": data.spacecraft,
        "source": data.source,
        "start": iso(data.start_ns),
        "end": iso(data.end_ns),
        "duration_s": round((data.end_ns - data.start_ns) / S, 3),
        "stations": sorted(data.link_state),
        "aos": [
            {"time": iso(e["time"]), "time_ns": e["time"], "station": e.get("station")} for e in aos
        ],
        "los": [],
        "frames": _link_totals(data),
        "silences": _silences(data),
        "limit_violations": [
            {
                "time": iso(e["time"]),
                "time_ns": e["time"],
                "title": e.get("title"),
                "severity": e.get("severity"),
                **{k: v for k, v in _details(e).items() if k in ("parameter", "level", "value")},
            }
            for e in limits
        ],
        "events": len(events),
    }
    for e in los:
        d = _details(e)
        kind = e["type"]
        facts["los"].append(
            {
                "time": iso(e["time"]),
                "time_ns": e["time"],
                "type": kind,
                "severity": e.get("severity"),
                "expected": {"EXPECTED_LOS": True, "UNEXPECTED_LOS": False}.get(kind),
                "station": e.get("station"),
                "last_good_time": d.get("last_good_time"),
                "last_good_ns": d.get("last_good_ns"),
                "frames_in_pass": d.get("frames_in_pass"),
            }
        )
    # Last known values before the (last) LOS, else at the end of the pass.
    final = facts["los"][-1] if facts["los"] else None
    t_ref = (final.get("last_good_ns") or final["time_ns"]) if final else data.end_ns
    last_values: dict[str, Any] = {}
    for p in data.key_parameters:
        s = data.params.get(p.name)
        hit = value_at(s, t_ref) if s is not None else None
        if hit is not None:
            last_values[p.name] = {"value": hit[1], "unit": p.unit, "time": iso(hit[0])}
    facts["last_values_time"] = iso(t_ref)
    facts["last_values"] = last_values
    facts["findings"] = findings(data, t_ref)
    facts["alert_budget"] = alert_budget(events)
    return facts


def findings(data: PassData, t_ref: int) -> list[str]:
    """Plain sentences about what the plots show (divergence, depletion)."""
    out = []
    by_unit: dict[tuple[str, str | None], list[str]] = {}
    for p in data.key_parameters:
        by_unit.setdefault((p.packet, p.unit), []).append(p.name)
    for (_, unit), names in by_unit.items():
        if len(names) != 2:
            continue
        a, b = (data.params.get(n) for n in names)
        if a is None or b is None:
            continue
        va, vb = value_at(a, t_ref), value_at(b, t_ref)
        if va is None or vb is None:
            continue
        diff = va[1] - vb[1]
        scale = max(abs(va[1]), abs(vb[1]), 1e-9)
        if abs(diff) > 0.2 * scale:
            out.append(
                f"{names[0]} ({va[1]:,.1f} {unit or ''}) and {names[1]} "
                f"({vb[1]:,.1f} {unit or ''}) disagree by {abs(diff):,.1f} "
                f"{unit or ''} at the last good frame".replace("  ", " ")
            )
    for p in data.key_parameters:
        s = data.params.get(p.name)
        if s is None or not s.values or p.limits is None or p.limits.red_low is None:
            continue
        first_empty = next(
            (
                t
                for t, v in zip(s.times, s.values, strict=True)
                if v <= max(0.0, 0.01 * max(s.values))
            ),
            None,
        )
        if first_empty is not None:
            out.append(
                f"{p.name} exhausted at {iso(first_empty)} "
                f"({(t_ref - first_empty) / S:,.1f} s before the last good frame)"
            )
    return out


def summary_lines(facts: dict[str, Any]) -> list[str]:
    lines = [
        f"{facts['spacecraft']} ({facts['source']}): {facts['start']} to {facts['end']} "
        f"({facts['duration_s']:,.0f} s), stations {', '.join(facts['stations']) or '-'}"
    ]
    for a in facts["aos"]:
        lines.append(f"AOS {a['time']} via {a['station']}")
    for los in facts["los"]:
        judged = {True: "expected", False: "UNEXPECTED", None: "no schedule to judge"}[
            los["expected"]
        ]
        lines.append(
            f"{los['type']} {los['time']} ({judged}); last good frame "
            f"{los['last_good_time']} via {los['station']}"
        )
    if not facts["los"]:
        lines.append("no LOS in this pass")
    f = facts["frames"]
    lines.append(
        f"frames {f['frames']} (valid {f['valid_frames']}, CRC failures "
        f"{f['crc_failures']}, gaps {f['frame_gaps']} with {f['frames_missing']} "
        f"frames missing, rejected {f['rejected']})"
    )
    for s in facts["silences"]:
        lines.append(
            f"silence on {s['station']} from {s['from']} for {s['seconds']} s"
            + ("" if s["recovered"] else " (not recovered)")
        )
    lines.append(f"limit violations: {len(facts['limit_violations'])}")
    for v in facts["limit_violations"]:
        lines.append(f"  {v['time']} {v['title']}")
    lines.append(f"last known values at {facts['last_values_time']}:")
    for name, v in facts["last_values"].items():
        lines.append(f"  {name} = {v['value']:,.2f} {v['unit'] or ''}".rstrip())
    lines += facts["findings"]
    lines += timeline_lines(facts.get("alert_budget", []))
    return lines
