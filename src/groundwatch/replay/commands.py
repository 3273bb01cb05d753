"""``groundwatch replay`` and ``groundwatch sessions delete``."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from groundwatch.decoders.decode_input import format_ert
from groundwatch.parts import ConfigError
from groundwatch.replay.detect import ReplayFormat, UnknownFormat

if TYPE_CHECKING:  # the pipeline, InfluxDB and MQTT stacks load when a command runs
    from groundwatch.config import Settings
    from groundwatch.replay.runner import TimeMode


def parse_speed(text: str) -> float | None:
    """``max`` (as fast as the pipeline goes) or a positive factor (1, 10, 20.5)."""
    if text.strip().lower() == "max":
        return None
    try:
        speed = float(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r}: a number or 'max'") from None
    if speed <= 0:
        raise typer.BadParameter("must be > 0")
    return speed


def settings_from(config: Path | None, dictionary: Path | None, err: Console) -> Settings:
    from groundwatch.config import ConfigFileError, load_config

    try:
        if config is None:
            if dictionary is None:
                err.print("[red]error[/red]: give --config or --dictionary")
                raise typer.Exit(2)
            return load_config(None, mission={"dictionary": str(dictionary.resolve())})
        settings = load_config(config)
    except ConfigFileError as exc:
        for p in exc.problems:
            err.print(f"[red]config error[/red] {exc.path}: {p}", highlight=False)
        raise typer.Exit(2) from exc
    if dictionary is not None:
        settings.mission.dictionary = dictionary.resolve()
    return settings


def replay(
    files: Annotated[
        list[Path] | None, typer.Argument(help="recordings (files or archive dirs)")
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="groundwatch.toml")] = None,
    dictionary: Annotated[Path | None, typer.Option(help="telemetry dictionary (YAML)")] = None,
    speed: Annotated[str, typer.Option(help="1, 10, 20.5 ... or max")] = "1",
    start: Annotated[
        str | None, typer.Option("--from", help="ISO time, Unix seconds, or +S from the start")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="as --from")] = None,
    session: Annotated[str | None, typer.Option(help="default: file name + start time")] = None,
    time_mode: Annotated[
        str, typer.Option("--time", help="original: recorded times; now: shift to start now")
    ] = "original",
    fmt: Annotated[ReplayFormat | None, typer.Option("--format", help="default: detected")] = None,
    station: Annotated[str, typer.Option(help="station for formats that record none")] = "replay",
    frame_interval: Annotated[
        float | None, typer.Option(help="seconds between frames of files without times")
    ] = None,
    tail: Annotated[
        float | None, typer.Option(help="pass seconds after the last frame (default LOS+1)")
    ] = None,
    expect_events: Annotated[
        Path | None, typer.Option(help="expected events (YAML): exit 1 with a diff on mismatch")
    ] = None,
    write_expected_to: Annotated[
        Path | None, typer.Option("--write-expected", help="record the events raised (YAML)")
    ] = None,
    tolerance: Annotated[
        float | None, typer.Option(help="seconds (default: the file's, else 0.5)")
    ] = None,
    list_passes: Annotated[bool, typer.Option("--list", help="list archived passes")] = False,
    page: Annotated[bool, typer.Option(help="let replay alerts reach paging sinks")] = False,
    republish: Annotated[
        str | None, typer.Option(help="also publish the frames to this MQTT URL")
    ] = None,
    topic: Annotated[str, typer.Option(help="--republish topic; {station} is replaced")] = (
        "gs/{station}/frames"
    ),
    progress: Annotated[bool, typer.Option(help="progress bar (on a terminal)")] = True,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Replay recorded passes through the live pipeline (same decoders, alerts and store)."""
    from groundwatch.replay.expect import (
        DEFAULT_TOLERANCE_S,
        ExpectFileError,
        compare,
        load_expected,
        observed,
        write_expected,
    )
    from groundwatch.replay.progress import ReplayProgress, summary_text
    from groundwatch.replay.runner import ReplayError, ReplayOptions, ReplayResult, run_replay

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from groundwatch.tls import redact_logs

    redact_logs()
    err = Console(stderr=True)
    out = Console()
    if list_passes:
        _list(files, config, dictionary, out, err)
        return
    if not files:
        err.print("[red]error[/red]: give one or more recordings (or --list)")
        raise typer.Exit(2)
    if time_mode not in ("original", "now"):
        raise typer.BadParameter("original or now", param_hint="--time")
    mode: TimeMode = "now" if time_mode == "now" else "original"
    settings = settings_from(config, dictionary, err)
    opts = ReplayOptions(
        paths=files,
        fmt=fmt,
        speed=None if expect_events is not None else parse_speed(speed),
        session=session,
        time_mode=mode,
        start=start,
        end=end,
        station=station,
        frame_interval=frame_interval,
        tail=tail,
        page=page,
        republish=republish,
        topic=topic,
    )
    expected = None
    if expect_events is not None:
        try:
            expected = load_expected(expect_events)
        except ExpectFileError as exc:
            err.print(f"[red]error[/red]: {exc}", highlight=False)
            raise typer.Exit(2) from exc
    view = ReplayProgress(err, enabled=progress)

    async def go() -> object:
        # Ctrl-C stops feeding; what was fed is still decoded and flushed to the store.
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with view.running():
            return await run_replay(
                settings, opts, on_event=view.on_event, on_start=view.attach, stop=stop
            )

    from groundwatch.store.spool import SpoolLocked

    try:
        result = asyncio.run(go())
    except (ReplayError, UnknownFormat, ConfigError, ValueError, OSError, SpoolLocked) as exc:
        err.print(f"[red]error[/red]: {exc}", highlight=False)
        raise typer.Exit(2) from exc
    assert isinstance(result, ReplayResult)
    err.print(summary_text(result), highlight=False, soft_wrap=True)
    from groundwatch.alerts.budget import pass_budgets

    for budget in pass_budgets(result.events, settings.link.flap_window):
        err.print("\n".join(budget.lines()), highlight=False, soft_wrap=True)
    first = result.first_ert_ns or 0
    got = observed(result.events, first)
    if write_expected_to is not None:
        write_expected(write_expected_to, got, tolerance or DEFAULT_TOLERANCE_S)
        err.print(f"wrote {len(got)} events to {write_expected_to}")
    if expected is not None:
        want, file_tolerance = expected
        cmp = compare(want, got, tolerance if tolerance is not None else file_tolerance)
        if not cmp.ok:
            err.print(
                f"events differ from {expect_events} (- expected, + raised):", highlight=False
            )
            out.print(cmp.diff(), highlight=False, soft_wrap=True)
            raise typer.Exit(1)
        err.print(f"events match {expect_events} ({cmp.matched} events)")


def _list(
    dirs: list[Path] | None,
    config: Path | None,
    dictionary: Path | None,
    out: Console,
    err: Console,
) -> None:
    from groundwatch.replay.session import archived_passes, los_events_from_store

    settings = settings_from(config, dictionary, err) if (config or dictionary) else None
    roots = dirs or ([settings.archive.dir] if settings is not None else [Path("var/archive")])
    threshold = settings.link.los_threshold if settings is not None else 5.0
    header = ("link", "start", "end", "frames", "gaps", "LOS events", "file")
    rows: list[tuple[str, ...]] = []
    for root in roots:
        for row in archived_passes(root, threshold):
            los = row.los
            if config is not None and settings is not None and row.start_ns and row.end_ns:
                try:
                    los = los_events_from_store(
                        settings.store,
                        row.spacecraft,
                        row.station,
                        row.start_ns,
                        row.end_ns + int(settings.archive.idle_gap * 1e9),
                    )
                except (OSError, RuntimeError, ValueError) as exc:
                    err.print(f"events from InfluxDB unavailable ({exc}); LOS from gaps")
            rows.append(
                (
                    row.link,
                    format_ert(row.start_ns) or "-",
                    format_ert(row.end_ns) or "-",
                    str(row.frames),
                    str(row.gaps),
                    ", ".join(format_ert(t) or "" for t in los) or "-",
                    row.path.name + (f" ({row.problems} bad records)" if row.problems else ""),
                )
            )
    if out.is_terminal:
        table = Table(*header)
        for r in rows:
            table.add_row(*r)
        out.print(table)
    else:  # scripts get every column whole, tab-separated
        for r in (header, *rows):
            typer.echo("\t".join(r))


sessions_app = typer.Typer(help="Replay sessions (points tagged source=replay:<name>).")


@sessions_app.command("delete")
def sessions_delete(
    name: Annotated[str, typer.Argument(help="session name (without 'replay:')")],
    config: Annotated[Path | None, typer.Option("--config", "-c", help="groundwatch.toml")] = None,
) -> None:
    """Remove every point and event a replay session wrote."""
    from groundwatch.config import ConfigFileError, StoreConfig, load_config
    from groundwatch.replay.session import delete_session

    err = Console(stderr=True)
    try:
        settings = load_config(config) if config is not None else None
    except ConfigFileError as exc:
        err.print(f"[red]config error[/red] {exc}", highlight=False)
        raise typer.Exit(2) from exc
    store = settings.store if settings is not None else StoreConfig()
    name = name.removeprefix("replay:")
    try:
        done = delete_session(store, name)
    except ValueError as exc:
        err.print(f"[red]error[/red]: {exc}", highlight=False)
        raise typer.Exit(2) from exc
    except (OSError, RuntimeError) as exc:
        err.print(f"[red]error[/red]: {exc}", highlight=False)
        raise typer.Exit(1) from exc
    Console().print(f"session {name}: {done}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("replay")(replay)
    app.add_typer(sessions_app, name="sessions")
