"""The report's plots (matplotlib, Agg backend): PNG bytes, one figure per question.

* link state per station over the pass, events marked;
* frame rate and CRC failures per accounting interval;
* key parameters: parameters of one packet sharing a unit on one plot (the altitude
  estimate against the rangefinder), yellow/red limits shaded, events marked; when two such
  parameters part ways, a second panel zooms on the end of the pass where they do.

Time axes are seconds (or minutes) since the start of the pass, so a replay and the live
pass read the same.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")


import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from groundwatch.console.state import KeyParameter
from groundwatch.report.query import PassData, Series
from groundwatch.report.summary import value_at

S = 1_000_000_000
STATE_NAMES = ["NO_SIGNAL", "LOS", "AOS", "TRACKING"]
SEVERITY_COLORS = {"info": "tab:blue", "warning": "tab:orange", "critical": "tab:red"}
MARKED_EVENTS = ("AOS", "LOS", "EXPECTED_LOS", "UNEXPECTED_LOS", "LIMIT_ENTER", "LINK_DEGRADED")


class TimeAxis:
    """ns -> seconds or minutes since the start of the pass."""

    def __init__(self, start_ns: int, end_ns: int) -> None:
        self.start_ns = start_ns
        span = (end_ns - start_ns) / S
        self.scale, self.unit = (60.0, "min") if span > 900 else (1.0, "s")

    def __call__(self, times: Sequence[int]) -> list[float]:
        return [(t - self.start_ns) / S / self.scale for t in times]

    def one(self, t: int) -> float:
        return (t - self.start_ns) / S / self.scale

    @property
    def label(self) -> str:
        return f"time since start of pass ({self.unit})"


def png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def mark_events(ax: Axes, data: PassData, tx: TimeAxis, label: bool = True) -> None:
    lo, hi = ax.get_xlim()
    for e in data.events:
        if e.get("type") not in MARKED_EVENTS or e.get("recovery") is True:
            continue
        x = tx.one(e["time"])
        if not lo <= x <= hi:
            continue
        color = SEVERITY_COLORS.get(str(e.get("severity")), "grey")
        ax.axvline(x, color=color, lw=1.2, ls="--", alpha=0.8)
        if label and e.get("type") != "LIMIT_ENTER":
            ax.annotate(
                str(e.get("type")),
                (x, 1.0),
                xycoords=("data", "axes fraction"),
                rotation=90,
                va="top",
                ha="right",
                fontsize=8,
                color=color,
            )


def shade_limits(ax: Axes, p: KeyParameter) -> None:
    lim = p.limits
    if lim is None:
        return
    lo, hi = ax.get_ylim()
    bands = [
        (lim.red_low, None, "red", lo, lim.red_low),
        (
            lim.yellow_low,
            None,
            "gold",
            lim.red_low if lim.red_low is not None else lo,
            lim.yellow_low,
        ),
        (
            lim.yellow_high,
            None,
            "gold",
            lim.yellow_high,
            lim.red_high if lim.red_high is not None else hi,
        ),
        (lim.red_high, None, "red", lim.red_high, hi),
    ]
    for edge, _, color, y0, y1 in bands:
        if edge is None or y0 is None or y1 is None or y1 <= y0:
            continue
        ax.axhspan(y0, y1, color=color, alpha=0.15, lw=0)
    ax.set_ylim(lo, hi)


def link_state_plot(data: PassData) -> bytes:
    tx = TimeAxis(data.start_ns, data.end_ns)
    fig, ax = plt.subplots(figsize=(10, 2.8))
    for station, rows in sorted(data.link_state.items()):
        ax.step(
            tx([r["time"] for r in rows]),
            [r.get("state", 0) for r in rows],
            where="post",
            lw=2,
            label=station,
        )
    ax.set_yticks(range(4), STATE_NAMES)
    ax.set_ylim(-0.3, 3.3)
    ax.set_xlim(0, tx.one(data.end_ns))
    ax.axhspan(1.5, 3.3, color="green", alpha=0.07, lw=0)
    ax.axhspan(0.5, 1.5, color="red", alpha=0.07, lw=0)
    mark_events(ax, data, tx)
    ax.set_xlabel(tx.label)
    ax.set_title(f"{data.spacecraft}: link state per station")
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)
    return png(fig)


def binned_counts(
    data: PassData, width_s: int
) -> tuple[list[int], dict[str, dict[str, list[float]]]]:
    """Bin edges (whole seconds from the start, so a steady rate does not alias), and per
    station the frames/s and CRC failures per bin (every virtual channel of a station
    summed): one frame a second in 1 s accounting intervals is a saw of 0s and 2s."""
    bins = max(1, -(-(data.end_ns - data.start_ns) // (width_s * S)))
    edges = [data.start_ns + i * width_s * S for i in range(bins + 1)]
    out: dict[str, dict[str, list[float]]] = {}
    for name, rows in data.link.items():
        station = name.split("/vc")[0]
        per = out.setdefault(station, {"frames_per_s": [0.0] * bins, "crc": [0.0] * bins})
        times = [int(r["time"]) for r in rows]
        for field, key, scale in (("frames", "frames_per_s", width_s), ("crc_failures", "crc", 1)):
            series = Series(times, [float(r.get(field) or 0) for r in rows])
            cum = [(value_at(series, e) or (0, 0.0))[1] for e in edges]
            for i in range(bins):
                per[key][i] += max(0.0, cum[i + 1] - cum[i]) / scale
    return edges, out


def frame_rate_plot(data: PassData) -> bytes:
    tx = TimeAxis(data.start_ns, data.end_ns)
    duration_s = (data.end_ns - data.start_ns) / S
    width_s = max(1, round(duration_s / 150))
    edges, per_station = binned_counts(data, width_s)
    bins = len(edges) - 1
    x = tx(edges)
    fig, ax = plt.subplots(figsize=(10, 3.2))
    ax2 = ax.twinx()
    width = (x[-1] - x[0]) / bins
    for station, per in sorted(per_station.items()):
        ax.step(x[:-1], per["frames_per_s"], where="post", lw=1.4, label=f"{station} frames/s")
        ax2.bar(
            x[:-1],
            per["crc"],
            width=width,
            align="edge",
            color="tab:red",
            alpha=0.45,
            label=f"{station} CRC failures",
        )
    ax.set_xlim(0, tx.one(data.end_ns))
    ax.set_ylim(0, max([1.0] + [v for p in per_station.values() for v in p["frames_per_s"]]) * 1.15)
    ax.set_ylabel("frames/s")
    ax2.set_ylabel(
        f"CRC failures per {(data.end_ns - data.start_ns) / bins / S:.0f} s", color="tab:red"
    )
    mark_events(ax, data, tx)
    ax.set_xlabel(tx.label)
    ax.set_title(f"{data.spacecraft}: frame rate and CRC failures")
    lines = ax.get_legend_handles_labels()
    bars = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + bars[0], lines[1] + bars[1], loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)
    return png(fig)


def parameter_groups(keys: Sequence[KeyParameter]) -> list[list[KeyParameter]]:
    """Key parameters of one packet with the same unit share a plot."""
    groups: dict[tuple[str, str | None], list[KeyParameter]] = {}
    for p in keys:
        groups.setdefault((p.packet, p.unit), []).append(p)
    return list(groups.values())


def divergence_start(a: Series, b: Series) -> int | None:
    """First time from which ``a`` and ``b`` stay more than 20% apart (None: never)."""
    if not a.times or not b.times:
        return None
    bt = dict(zip(b.times, b.values, strict=True))
    start = None
    for t, va in zip(a.times, a.values, strict=True):
        vb = bt.get(t)
        if vb is None:
            continue
        apart = abs(va - vb) > 0.2 * max(abs(va), abs(vb), 1.0)
        if apart and start is None:
            start = t
        elif not apart:
            start = None
    return start


def mark_exhaustion(
    ax: Axes, data: PassData, tx: TimeAxis, p: KeyParameter, t0: int | None
) -> None:
    """A consumable with a low limit that runs out (e.g. propellant): say where."""
    s = data.params.get(p.name)
    if s is None or not s.values or p.limits is None or p.limits.red_low is None:
        return
    empty = 0.01 * max(s.values)
    for t, v in zip(s.times, s.values, strict=True):
        if v <= max(empty, 0.0) and (t0 is None or t >= t0):
            ax.annotate(
                f"{p.name} exhausted",
                (tx.one(t), v),
                xytext=(-140, 40),
                textcoords="offset points",
                color="tab:red",
                fontweight="bold",
                arrowprops={"arrowstyle": "->", "color": "tab:red"},
            )
            return


def _draw(
    ax: Axes, data: PassData, tx: TimeAxis, group: list[KeyParameter], t0: int | None = None
) -> None:
    for p in group:
        s = data.params.get(p.name) or Series()
        pairs = [(t, v) for t, v in zip(s.times, s.values, strict=True) if t0 is None or t >= t0]
        ax.plot(tx([t for t, _ in pairs]), [v for _, v in pairs], lw=1.4, label=p.name)
    if len(group) == 1:
        shade_limits(ax, group[0])
        mark_exhaustion(ax, data, tx, group[0], t0)
    ax.set_ylabel(group[0].unit or "")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)


def parameter_plot(data: PassData, group: list[KeyParameter]) -> bytes:
    tx = TimeAxis(data.start_ns, data.end_ns)
    names = ", ".join(p.name for p in group)
    zoom_from = None
    if len(group) == 2:
        a, b = (data.params.get(p.name) for p in group)
        if a is not None and b is not None:
            zoom_from = divergence_start(a, b)
    rows = 2 if zoom_from is not None else 1
    fig, axes = plt.subplots(rows, 1, figsize=(10, 3.2 * rows), squeeze=False)
    ax = axes[0][0]
    _draw(ax, data, tx, group)
    ax.set_xlim(0, tx.one(data.end_ns))
    mark_events(ax, data, tx)
    ax.set_title(f"{data.spacecraft}: {names}")
    ax.set_xlabel(tx.label)
    if zoom_from is not None:
        t0 = zoom_from - int(0.1 * (data.end_ns - zoom_from))
        zx = axes[1][0]
        _draw(zx, data, tx, group, t0)
        a, b = (data.params[p.name] for p in group)
        bt = dict(zip(b.times, b.values, strict=True))
        common = [
            (t, va, bt[t]) for t, va in zip(a.times, a.values, strict=True) if t >= t0 and t in bt
        ]
        zx.fill_between(
            tx([c[0] for c in common]),
            [c[1] for c in common],
            [c[2] for c in common],
            color="tab:red",
            alpha=0.2,
            label="disagreement",
        )
        zx.set_xlim(tx.one(t0), tx.one(data.end_ns))
        mark_events(zx, data, tx)
        zx.set_title(f"{group[0].name} vs {group[1].name}: they part ways here")
        zx.set_xlabel(tx.label)
        zx.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return png(fig)


def all_plots(data: PassData) -> dict[str, bytes]:
    """File name -> PNG, in the order the report shows them."""
    out = {"link_state.png": link_state_plot(data), "frame_rate.png": frame_rate_plot(data)}
    for group in parameter_groups(data.key_parameters):
        if not any(data.params.get(p.name) and data.params[p.name].times for p in group):
            continue
        out["_".join(p.name for p in group) + ".png"] = parameter_plot(data, group)
    return out


def event_rows(data: PassData) -> list[dict[str, Any]]:
    return [e for e in data.events if e.get("type") in MARKED_EVENTS]
