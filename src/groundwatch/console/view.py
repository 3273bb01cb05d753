"""Rendering the console model: a rich layout for a terminal, plain text for anything else.

``render(model)`` returns one rich renderable (links, key parameters, alert log, footer)
that ``rich.live.Live`` redraws; ``render_text(model)`` is the same content as plain lines,
printed periodically when stdout is not a terminal (logs, ``ssh host cmd | tee``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from groundwatch.console.state import AlertLine, ConsoleModel, LinkView, severity_rank
from groundwatch.model import LimitState

STATE_STYLES = {
    "AOS": "bold green",
    "TRACKING": "bold green",
    "LOS": "bold white on red",
    "NO_SIGNAL": "grey50",
    "GROUND_PATH_DOWN": "bold black on dark_orange",
}
WIDE = 120  # columns from which parameters and alerts sit side by side
SEVERITY_STYLES = {"info": "cyan", "warning": "yellow", "critical": "bold red"}
LIMIT_STYLES = {
    LimitState.NOMINAL: "green",
    LimitState.YELLOW_LOW: "black on yellow",
    LimitState.YELLOW_HIGH: "black on yellow",
    LimitState.RED_LOW: "bold white on red",
    LimitState.RED_HIGH: "bold white on red",
}


def clock_text(t_ns: int | None) -> str:
    if t_ns is None:
        return "-"
    dt = datetime.fromtimestamp(t_ns / 1e9, tz=UTC)
    return dt.strftime("%H:%M:%S.") + f"{dt.microsecond // 100_000}"


def age_text(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 60:
        return f"{seconds:5.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


def value_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 1e6 else f"{value:.4g}"
    return str(value)


def limit_label(limit: LimitState | None) -> str:
    if limit is None:
        return ""
    return "ok" if limit is LimitState.NOMINAL else limit.name


def _link_rows(model: ConsoleModel) -> list[tuple[LinkView, str, str]]:
    rows = []
    for key in sorted(model.links):
        view = model.links[key]
        rows.append((view, view.shown_state, age_text(model.seconds_since_last_frame(view))))
    return rows


def frames_text(view: LinkView) -> str:
    """This pass's frames; after a LOS (a new pass at 0) the pass that just ended."""
    if view.frames_in_pass is None:
        return "-"
    if not view.frames_in_pass and view.last_pass_frames:
        return f"0 (last pass {view.last_pass_frames})"
    return str(view.frames_in_pass)


def links_table(model: ConsoleModel) -> Table:
    table = Table(title="Links", expand=True, title_justify="left", box=box.SIMPLE_HEAD)
    for col in ("Spacecraft", "Station", "State", "Since last frame", "Frames in pass"):
        table.add_column(col)
    for view, state, age in _link_rows(model):
        table.add_row(
            view.spacecraft,
            view.station,
            Text(state, style=STATE_STYLES.get(state, "")),
            age,
            frames_text(view),
        )
    if not model.links:
        table.add_row("-", "-", Text("NO_SIGNAL", style=STATE_STYLES["NO_SIGNAL"]), "never", "-")
    return table


ValueRow = tuple[str, str, str, str, LimitState | None, bool]
DISAGREE = "DISAGREE"  # the parameter is one of a pair a rule says disagree
DISAGREE_STYLE = "bold white on magenta"


def _value_rows(model: ConsoleModel) -> list[ValueRow]:
    rows: list[ValueRow] = []
    for sc in model.spacecraft():
        odd = model.disagreeing(sc)
        for p in model.key_parameters:
            v = model.values.get((sc, p.name))
            if v is None:
                rows.append((sc, p.name, "-", p.unit or "", None, p.name in odd))
            else:
                value = value_text(v.value)
                rows.append((sc, p.name, value, p.unit or "", v.limit, p.name in odd))
    return rows


def values_table(model: ConsoleModel) -> Table:
    table = Table(title="Key parameters", expand=True, title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("Spacecraft")
    table.add_column("Parameter")
    table.add_column("Value", justify="right")
    table.add_column("Unit")
    table.add_column("Limit")
    for sc, name, value, unit, limit, odd in _value_rows(model):
        style = LIMIT_STYLES.get(limit, "") if limit is not None else ""
        label = limit_label(limit)
        if odd:
            style, label = DISAGREE_STYLE, f"{DISAGREE} {label}".strip()
        table.add_row(sc, name, Text(value, style=style), unit, Text(label, style=style))
    return table


def _alert_text(a: AlertLine) -> str:
    return f"{clock_text(a.time_ns)}  {a.severity.upper():8} {a.type:16} {a.title}"


def alert_lines(model: ConsoleModel, lines: int) -> list[AlertLine]:
    """The rules that hold now first (most severe first), then the latest log lines."""
    pinned = sorted(
        (line for line, _ in model.active_rules.values()),
        key=lambda a: (-severity_rank(a.severity), a.time_ns),
    )[:lines]
    pinned_ids = {a.id for a in pinned}
    rest = [a for a in model.alerts if not (a.type == "RULE" and a.id in pinned_ids)]
    return pinned + (rest[-(lines - len(pinned)) :] if lines > len(pinned) else [])


def alerts_panel(model: ConsoleModel, lines: int) -> Panel:
    shown = alert_lines(model, lines)
    body = Text()
    for i, a in enumerate(shown):
        if i:
            body.append("\n")
        body.append(_alert_text(a), style=SEVERITY_STYLES.get(a.severity, ""))
    if not shown:
        body.append("no alerts", style="grey50")
    return Panel(body, title="Alerts", title_align="left")


def footer_text(model: ConsoleModel) -> str:
    f = model.footer

    def n(v: Any) -> str:
        return "-" if v is None else str(v)

    rate = "-" if f.frames_per_s is None else f"{f.frames_per_s:.1f}"
    parts = [
        f"frames/s {rate}",
        f"frames {n(f.frames)}",
        f"points {n(f.points)}",
    ]
    if f.written is not None:
        parts.append(f"written {f.written}")
    parts += [f"rejected {n(f.rejected)}", f"spool {n(f.spool_records)}"]
    if f.db_up is not None:
        parts.append("db up" if f.db_up else "DB DOWN")
    parts += [f"{k} {v}" for k, v in sorted(f.extra.items())]
    return "  ".join(parts)


def render(model: ConsoleModel, alert_lines: int = 10, width: int = 80) -> RenderableType:
    """Links on top; key parameters beside the alert log when ``width`` allows, else the
    alert log first (it must stay on an 80x24 screen) and the parameters below."""
    header = Text(f"{model.title}  {clock_text(model.now())} UTC", style="bold")
    footer = Text(footer_text(model), style="dim")
    if width >= WIDE:
        grid = Table.grid(expand=True)
        grid.add_column(ratio=1)
        grid.add_column(ratio=1)
        grid.add_row(values_table(model), alerts_panel(model, alert_lines))
        return Group(header, links_table(model), grid, footer)
    return Group(
        header, links_table(model), alerts_panel(model, alert_lines), values_table(model), footer
    )


def render_text(model: ConsoleModel, lines: int = 10) -> str:
    """The same content without styles, one fact per line (non-terminal output)."""
    out = [f"== {model.title} {clock_text(model.now())} UTC"]
    for view, state, age in _link_rows(model):
        out.append(
            f"link {view.spacecraft} {view.station} {state} last frame {age.strip()} ago "
            f"frames {frames_text(view)}"
        )
    for sc, name, value, unit, limit, odd in _value_rows(model):
        mark = f" {DISAGREE}" if odd else ""
        out.append(f"value {sc} {name} {value} {unit} {limit_label(limit)}{mark}".rstrip())
    for a in alert_lines(model, lines):
        out.append("alert " + _alert_text(a))
    out.append(footer_text(model))
    return "\n".join(out)
