"""The ``groundwatch`` command. Each area adds its own commands through ``register(app)``.

Listing the commands (``--help``) imports every area's command module, so those modules
import what a command needs (the pipeline, InfluxDB, MQTT, matplotlib, the live view) inside
the command function, keeping every invocation's start fast. Running a command imports only
the module that adds it when ``_COMMAND_MODULES`` lists its name (all of them otherwise).
"""

from __future__ import annotations

import importlib
import logging
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from groundwatch.parts import ConfigError

if TYPE_CHECKING:  # asyncio and rich load when a command that uses them runs
    from rich.console import Console

    from groundwatch.config import Settings

app = typer.Typer(
    name="groundwatch",
    help="Ground-station telemetry monitor: ingest, decode, store, LOS alerts, dashboards.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# Areas that contribute commands (module with ``register(app)``), with the names they add.
_COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "groundwatch.decoders.commands": ("decode",),
    "groundwatch.decoders.dictionary_cli": ("dictionary",),
    "groundwatch.sim.commands": ("simulate",),
    "groundwatch.dashboards.commands": ("dashboards",),
    "groundwatch.alerts.commands": ("ack",),
    "groundwatch.replay.commands": ("replay", "sessions"),
    "groundwatch.console.commands": ("console", "report"),
}


def setup_logging(verbose: bool) -> None:
    from groundwatch.tls import redact_logs

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    redact_logs()  # no credential in any log line


def load_or_exit(path: Path | None, err: Console) -> tuple[Settings, Any]:
    """Settings and a fully built (not started) pipeline, or exit 2 naming the key."""
    from groundwatch.config import ConfigFileError, load_config
    from groundwatch.tls import redact_text
    from groundwatch.wiring import build_pipeline

    try:
        settings = load_config(path)
        pipeline = build_pipeline(settings)
    except ConfigFileError as exc:
        for p in exc.problems:
            err.print(f"[red]config error[/red] {exc.path}: {p}", highlight=False)
        raise typer.Exit(2) from exc
    except ConfigError as exc:
        err.print(
            f"[red]config error[/red] {path}: {exc.key}: {redact_text(exc.problem)}",
            highlight=False,
        )
        raise typer.Exit(2) from exc
    return settings, pipeline


@app.command("check-config")
def check_config(
    config: Annotated[Path, typer.Argument(help="groundwatch.toml")],
) -> None:
    """Validate a configuration file (and every part it names) without starting anything."""
    from rich.console import Console

    from groundwatch.tls import redact_url

    err = Console(stderr=True)
    settings, pipeline = load_or_exit(config, err)
    n_src = len(pipeline.sources)
    Console().print(
        f"{config}: ok ({n_src} source(s), store {redact_url(settings.store.url)} "
        f"api={settings.store.api}, "
        f"{len(settings.alerts)} alert sink(s))",
        highlight=False,
    )
    from groundwatch.decoders.dictionary_cli import loaded_lines

    for line in loaded_lines(pipeline.decoder.dictionary, settings.mission.dictionary):
        Console().print(line, highlight=False, soft_wrap=True)


@app.command("plugins")
def plugins_cmd() -> None:
    """List the installed parts by role: built in, or from a package's entry points."""
    from groundwatch.plugins import default_registry, listing

    for line in listing(default_registry()):
        typer.echo(line)


def status_line(status: dict[str, Any], rate: float) -> str:
    """One line a second: frames/s, points written, spool, link state per link."""
    snapshot = status.get("links") or {}
    states = [
        f"{ln.get('spacecraft')}@{ln.get('station')}={ln.get('state')}"
        for ln in snapshot.get("links", [])
        if ln.get("vcid") is None
    ]
    store = status.get("store") or {}
    rejected = sum(status.get("rejected", {}).values())
    return (
        f"frames/s {rate:7.1f}  frames {status['frames']}  points written "
        f"{store.get('sent', 0)}  spool {store.get('spool_points', 0)}  rejected {rejected}  "
        f"db {'up' if store.get('db_up') else 'DOWN'}  links: " + (", ".join(states) or "none")
    )


async def _run(config: Path | None, show_status: bool, err: Console) -> int:
    import asyncio

    from groundwatch.store.spool import SpoolLocked
    from groundwatch.tasks import cancel_and_wait

    settings, pipeline = load_or_exit(config, err)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async def status_task() -> None:
        last_frames, last_t = 0, time.monotonic()
        while True:
            await asyncio.sleep(settings.health.status_interval)
            st = pipeline.status()
            now = time.monotonic()
            rate = (st["frames"] - last_frames) / max(now - last_t, 1e-6)
            last_frames, last_t = st["frames"], now
            err.print(status_line(st, rate), highlight=False, soft_wrap=True)

    task = asyncio.create_task(status_task(), name="status") if show_status else None
    try:
        stats = await pipeline.run(stop)
    except ConfigError as exc:
        err.print(f"[red]config error[/red] {config}: {exc.key}: {exc.problem}", highlight=False)
        return 2
    except (OSError, SpoolLocked) as exc:  # a part could not start (port taken, spool in use)
        err.print(f"[red]error[/red] cannot start: {exc}", highlight=False)
        return 1
    finally:
        if task is not None:
            await cancel_and_wait(task)
    err.print(
        f"stopped: {stats.frames} frames, {stats.packets} packets, {stats.points} points, "
        f"rejected {sum(stats.rejected.values())}",
        highlight=False,
    )
    for failure in pipeline.failures:
        err.print(f"[red]failed[/red] {failure}", highlight=False)
    return 1 if pipeline.failures else 0


@app.command("run")
def run(
    config: Annotated[Path, typer.Option("--config", "-c", help="groundwatch.toml")],
    status: Annotated[bool, typer.Option(help="print a status line every second")] = True,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the live pipeline until SIGINT/SIGTERM; flushes every decoded point before exit."""
    import asyncio

    from rich.console import Console

    setup_logging(verbose)
    err = Console(stderr=True)
    raise typer.Exit(asyncio.run(_run(config, status, err)))


@app.command("services")
def services_cmd(
    action: Annotated[str, typer.Argument(help="start | stop | status")],
    directory: Annotated[Path, typer.Option("--dir")] = Path("var/services"),
    mqtt_port: Annotated[int, typer.Option()] = 1883,
    influx_port: Annotated[int, typer.Option()] = 8086,
) -> None:
    """Local Mosquitto and InfluxDB on 127.0.0.1 (data under --dir)."""
    from groundwatch import services

    raise typer.Exit(
        services.main(
            [
                action,
                "--dir",
                str(directory),
                "--mqtt-port",
                str(mqtt_port),
                "--influx-port",
                str(influx_port),
            ]
        )
    )


@app.command("demo")
def demo(
    dictionary: Annotated[Path, typer.Option(help="telemetry dictionary")] = Path(
        "missions/demo-lander.yaml"
    ),
    variant: Annotated[str, typer.Option(help="hakuto (link lost at touchdown) | nominal")] = (
        "hakuto"
    ),
    rate: Annotated[float, typer.Option(help="frames per second")] = 10.0,
    speedup: Annotated[float, typer.Option(help="scenario seconds per wall second")] = 10.0,
    seed: Annotated[int, typer.Option()] = 1,
    los_threshold: Annotated[float, typer.Option(help="seconds without a frame")] = 3.0,
    mqtt: Annotated[str | None, typer.Option(help="broker URL (default: local)")] = None,
    influx: Annotated[str | None, typer.Option(help="InfluxDB URL (default: local)")] = None,
    workdir: Annotated[Path, typer.Option(help="archive, spool, reports")] = Path("var/demo"),
    stop_services: Annotated[bool, typer.Option(help="stop local services at the end")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """A simulated lunar descent that loses its link: live console, LOS alert, pass report."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    from groundwatch.tls import redact_logs

    redact_logs()
    import asyncio

    from rich.console import Console

    from groundwatch.demo import DemoOptions, closing_lines, run_demo

    if variant not in ("hakuto", "nominal"):
        raise typer.BadParameter("hakuto or nominal", param_hint="--variant")
    opts = DemoOptions(
        dictionary=dictionary,
        workdir=workdir,
        mqtt_url=mqtt,
        influx_url=influx,
        variant=variant,
        rate=rate,
        speedup=speedup,
        seed=seed,
        los_threshold=los_threshold,
        stop_services=stop_services,
    )
    out = Console()
    result = asyncio.run(run_demo(opts, out))
    for line in closing_lines(result):
        out.print(line, highlight=False, soft_wrap=True)
    raise typer.Exit(0 if result.los is not None and result.report is not None else 1)


def _register_areas(argv: list[str]) -> None:
    # The first word that is not an option names the command; a decode of a big capture,
    # run often from scripts, then does not import the simulator, replay and console too.
    command = next((word for word in argv if not word.startswith("-")), None)
    wanted = [m for m, names in _COMMAND_MODULES.items() if command in names]
    for name in wanted or _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and name.startswith(exc.name):
                continue  # that area has no commands yet
            raise
        module.register(app)


def _running_as_groundwatch() -> bool:
    # The console script is "groundwatch"; "python -m groundwatch" runs groundwatch/__main__.py.
    # Anything else importing this module (a test runner's "-k decode") gets every command.
    program = Path(sys.argv[0]) if sys.argv else Path()
    return program.name == "groundwatch" or program.parent.name == "groundwatch"


_register_areas(sys.argv[1:] if _running_as_groundwatch() else [])
