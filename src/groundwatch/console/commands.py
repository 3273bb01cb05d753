"""``groundwatch console`` (attach to a running deployment) and ``groundwatch report``."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from groundwatch.decoders.api import DictionaryError, TelemetryDictionary
from groundwatch.parts import ConfigError

if TYPE_CHECKING:  # MQTT, InfluxDB and the live view load when the console runs
    from groundwatch.console.attach import AttachOptions
    from groundwatch.console.state import ConsoleModel


def _load_dictionary(path: Path | None, err: Console) -> TelemetryDictionary | None:
    if path is None:
        return None
    from groundwatch.decoders.dictionary import load_dictionary

    try:
        return load_dictionary(path)
    except (OSError, DictionaryError) as exc:
        err.print(f"[red]error[/red] --dictionary {path}: {exc}", highlight=False)
        raise typer.Exit(2) from exc


async def _console(
    model: ConsoleModel, opts: AttachOptions, duration: float | None, text_interval: float
) -> None:
    from groundwatch.console.attach import attach
    from groundwatch.console.live import show

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if duration is not None:
        loop.call_later(duration, stop.set)
    async with asyncio.TaskGroup() as tg:
        tg.create_task(attach(model, opts, stop))
        tg.create_task(show(model, stop, text_interval_s=text_interval))


def register(app: typer.Typer) -> None:
    @app.command("console")
    def console(
        mqtt: Annotated[str, typer.Option("--mqtt", help="broker URL (mqtt://host:port)")] = (
            "mqtt://127.0.0.1:1883"
        ),
        influx: Annotated[str, typer.Option("--influx", help="InfluxDB URL (v1 HTTP API)")] = (
            "http://127.0.0.1:8086"
        ),
        database: Annotated[str, typer.Option("--database", help="InfluxDB database")] = (
            "groundwatch"
        ),
        dictionary: Annotated[
            Path | None, typer.Option("--dictionary", help="mission dictionary (key parameters)")
        ] = None,
        source: Annotated[str, typer.Option(help="'live' or 'replay:<session>'")] = "live",
        event_topic: Annotated[str, typer.Option(help="alerts' MQTT event topic")] = (
            "groundwatch/events"
        ),
        state_topic: Annotated[str, typer.Option(help="alerts' retained state topic")] = (
            "groundwatch/state"
        ),
        poll: Annotated[float, typer.Option(help="InfluxDB poll interval, s")] = 1.0,
        interval: Annotated[
            float, typer.Option(help="non-terminal output: seconds between snapshots")
        ] = 5.0,
        duration: Annotated[
            float | None, typer.Option(help="stop after this many seconds (default: Ctrl-C)")
        ] = None,
        config: Annotated[
            Path | None,
            typer.Option("--config", "-c", help="groundwatch.toml: InfluxDB URL, login, TLS"),
        ] = None,
    ) -> None:
        """Live console attached to a running deployment (MQTT state/events + InfluxDB)."""
        from groundwatch.console.attach import AttachOptions
        from groundwatch.console.state import ConsoleModel
        from groundwatch.report.commands import store_access

        err = Console(stderr=True)
        access = store_access(config, influx, database, err)  # the writer's settings
        database = access.database
        dic = _load_dictionary(dictionary, err)
        model = ConsoleModel.from_dictionary(dic, title=f"groundwatch console  {database}")
        opts = AttachOptions(
            mqtt_url=mqtt,
            influx_url=influx,
            database=database,
            influx=access,
            source=source,
            event_topic=event_topic,
            state_topic=state_topic,
            poll_s=poll,
        )
        try:
            asyncio.run(_console(model, opts, duration, interval))
        except ConfigError as exc:
            err.print(f"[red]error[/red] {exc.key}: {exc.problem}", highlight=False)
            raise typer.Exit(2) from exc
        except KeyboardInterrupt:
            pass

    try:
        from groundwatch.report.commands import register as register_report
    except ModuleNotFoundError as exc:
        if exc.name is None or not "groundwatch.report".startswith(exc.name):
            raise
    else:
        register_report(app)
