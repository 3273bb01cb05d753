"""The report's alert timeline and alert budget, from the notifications stored as ``events``.

Every notification the alert manager sent is an ``events`` point; they are turned back
into events and counted per pass by ``alerts.budget`` (already folded by the manager: the
flaps a recovery folded are in its details). The first warning or critical notification
of a pass is marked, with its lead time over a critical LOS.
"""

from __future__ import annotations

import html
import json
from typing import Any

from groundwatch.alerts.budget import pass_budgets
from groundwatch.model import Event, EventType, Severity

_SEVERITIES = {s.label: s for s in Severity}


def stored_events(rows: list[dict[str, Any]]) -> list[Event]:
    """``events`` rows as events; rows of an unknown type (a newer writer) are left out."""
    out = []
    for row in rows:
        try:
            type_ = EventType(str(row.get("type")))
        except ValueError:
            continue
        try:
            details = json.loads(row.get("details") or "{}")
        except (TypeError, ValueError):
            details = {}
        out.append(
            Event(
                type=type_,
                severity=_SEVERITIES.get(str(row.get("severity")), Severity.INFO),
                time_ns=int(row["time"]),
                spacecraft=row.get("spacecraft") or None,
                station=row.get("station") or None,
                title=str(row.get("title") or ""),
                text=str(row.get("text") or ""),
                condition=str(row.get("condition") or ""),
                id=str(row.get("id") or ""),
                recovery=bool(row.get("recovery")),
                source=str(row.get("source") or ""),
                details=details if isinstance(details, dict) else {},
            )
        )
    return out


def alert_budget(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [b.as_dict() for b in pass_budgets(stored_events(rows), flap_window=0.0)]


def timeline_lines(budgets: list[dict[str, Any]]) -> list[str]:
    lines = []
    for b in budgets:
        lines.append(
            f"alert budget, pass {b['pass']}: {b['notifications']} notifications, "
            f"{b['flaps_folded']} flaps folded, {b['escalations']} escalations"
        )
        for row in b["by_type"]:
            lines.append(
                f"  {row['count']:3d}  {row['type']} {row['severity']} ({row['notification']})"
            )
        lines.append("alert timeline:")
        for t in b["timeline"]:
            mark = ">>" if t["first_warning"] else "  "
            lines.append(
                f"{mark} {t['time']} {t['severity']:<8} {t['type']} ({t['notification']}): "
                f"{t['title']}"
            )
        lead = b["lead_time_s"]
        if b["first_warning"] is not None and lead is not None:
            lines.append(
                f"first warning {b['first_warning']['type']} at {b['first_warning']['time']}, "
                f"{lead:.1f} s before {b['critical_los']['type']}"
            )
        elif b["critical_los"] is not None:
            lines.append(f"no warning before {b['critical_los']['type']}")
    return lines


def timeline_html(budgets: list[dict[str, Any]]) -> str:
    e = html.escape
    out = []
    for b in budgets:
        out.append(f"<h3>Pass {b['pass']}: {b['notifications']} notifications</h3>")
        lead = b["lead_time_s"]
        if b["first_warning"] is not None and lead is not None:
            out.append(
                f"<p class='bad'>First warning: {e(b['first_warning']['type'])} at "
                f"{e(b['first_warning']['time'])}, {lead:.1f} s before "
                f"{e(b['critical_los']['type'])}.</p>"
            )
        out.append(
            "<table><tr><th></th><th>time</th><th>severity</th><th>type</th>"
            "<th>notification</th><th>text</th></tr>"
        )
        for t in b["timeline"]:
            mark = "first warning" if t["first_warning"] else ""
            cls = " class='bad'" if t["first_warning"] else ""
            out.append(
                f"<tr{cls}><td>{mark}</td><td>{e(t['time'] or '')}</td>"
                f"<td>{e(t['severity'])}</td><td>{e(t['type'])}</td>"
                f"<td>{e(t['notification'])}</td><td>{e(t['text'])}</td></tr>"
            )
        out.append("</table>")
    return "".join(out)
