"""The pass report as one self-contained HTML file (PNG plots inlined as base64), plus the
plots as files beside it and ``summary.json`` with the facts.

``make_report(influx_url, database, dictionary, out_dir, source=...)`` is the whole job; an
async caller (the demo) runs it with ``asyncio.to_thread``: it blocks on HTTP and matplotlib.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from groundwatch.console.state import KeyParameter, key_parameters_of
from groundwatch.decoders.api import TelemetryDictionary
from groundwatch.report.plots import all_plots, event_rows
from groundwatch.report.query import InfluxQuery, PassData, PassQuery
from groundwatch.report.summary import iso, summarize, summary_lines
from groundwatch.report.timeline import timeline_html

STYLE = """
body { font-family: sans-serif; margin: 2em; max-width: 1150px; color: #222; }
h1 { margin-bottom: 0.2em; } .sub { color: #666; margin-top: 0; }
pre.summary { background: #f5f5f5; padding: 1em; border-left: 4px solid #444; }
.bad { color: #b00; font-weight: bold; } img { max-width: 100%; margin: 0.5em 0 1.5em; }
table { border-collapse: collapse; font-size: 0.9em; } td, th { padding: 2px 8px;
border-bottom: 1px solid #ddd; text-align: left; }
"""


@dataclass(slots=True)
class ReportFiles:
    html: Path
    summary: Path
    plots: list[Path]
    facts: dict[str, Any]


def render_html(data: PassData, facts: dict[str, Any], plots: dict[str, bytes]) -> str:
    e = html.escape
    lines = summary_lines(facts)
    unexpected = any(los["expected"] is False for los in facts["los"])
    head = (
        f"<h1>Pass report: {e(data.spacecraft)}</h1>"
        f"<p class='sub'>source {e(data.source)}, {e(facts['start'])} to {e(facts['end'])}</p>"
    )
    if unexpected:
        head += "<p class='bad'>Unexpected loss of signal during a planned contact.</p>"
    body = [head, "<h2>Summary</h2>", f"<pre class='summary'>{e(chr(10).join(lines))}</pre>"]
    body.append("<h2>Alert timeline</h2>" + timeline_html(facts.get("alert_budget", [])))
    body.append("<h2>Plots</h2>")
    for name, data_png in plots.items():
        b64 = base64.b64encode(data_png).decode("ascii")
        body.append(f"<img alt='{e(name)}' src='data:image/png;base64,{b64}'>")
    body.append(
        "<h2>Events</h2><table><tr><th>time</th><th>severity</th><th>type</th><th>title</th></tr>"
    )
    for ev in event_rows(data):
        body.append(
            f"<tr><td>{e(iso(ev['time']) or '')}</td><td>{e(str(ev.get('severity')))}"
            f"</td><td>{e(str(ev.get('type')))}</td><td>{e(str(ev.get('title')))}"
            "</td></tr>"
        )
    body.append("</table>")
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>Pass report {e(data.spacecraft)} {e(facts['start'] or '')}</title>"
        f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>\n"
    )


def make_report(
    influx_url: str,
    database: str,
    dictionary: TelemetryDictionary,
    out_dir: Path,
    *,
    source: str = "live",
    spacecraft: str | None = None,
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> ReportFiles:
    """The whole report in one call (blocking: ``await asyncio.to_thread(make_report, ...)``
    from async code). ``source``: ``live`` or ``replay:<session>``."""
    query = PassQuery(InfluxQuery(influx_url, database), source, spacecraft, start_ns, end_ns)
    return write_report(query, key_parameters_of(dictionary.parameters()), out_dir)


def write_report(
    query: PassQuery, key_parameters: Iterable[KeyParameter], out_dir: Path
) -> ReportFiles:
    data = query.fetch(key_parameters)
    facts = summarize(data)
    plots = all_plots(data)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, content in plots.items():
        path = out_dir / name
        path.write_bytes(content)
        paths.append(path)
    facts["plots"] = list(plots)
    summary = out_dir / "summary.json"
    summary.write_text(json.dumps(facts, indent=2, default=str) + "\n")
    page = out_dir / "report.html"
    page.write_text(render_html(data, facts, plots), encoding="utf-8")
    return ReportFiles(page, summary, paths, facts)
