"""``groundwatch simulate``: publish simulated frames like a ground station would."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, cast

import typer

from groundwatch.decoders.api import DictionaryError, TelemetryDictionary
from groundwatch.sim.connection import quiet_lost_connections
from groundwatch.sim.descent_scenario import LunarDescentScenario
from groundwatch.sim.envelopes import Envelope, StationClock, parse_latency
from groundwatch.sim.framer import SimFramer
from groundwatch.sim.lunar_descent import Variant
from groundwatch.sim.publisher import (
    DEFAULT_TOPIC,
    OutputFormat,
    PublisherSettings,
    PublishSummary,
    SimPublisher,
)
from groundwatch.sim.scenario import GenericScenario, Scenario


class ScenarioName(StrEnum):
    GENERIC = "generic"
    LUNAR_DESCENT = "lunar-descent"


def make_scenario(
    dictionary: TelemetryDictionary,
    name: ScenarioName | str = ScenarioName.GENERIC,
    *,
    variant: Variant | str = Variant.NOMINAL,
    seed: int = 0,
    packets_per_frame: int | None = None,
    coast_warp: float = 10.0,
) -> Scenario:
    if ScenarioName(name) is ScenarioName.LUNAR_DESCENT:
        return LunarDescentScenario(dictionary, variant=variant, seed=seed, coast_warp=coast_warp)
    return GenericScenario(dictionary, seed=seed, packets_per_tick=packets_per_frame)


async def run_simulation(
    dictionary: TelemetryDictionary,
    settings: PublisherSettings,
    *,
    scenario: ScenarioName | str = ScenarioName.GENERIC,
    variant: Variant | str = Variant.NOMINAL,
    seed: int = 0,
    packets_per_frame: int | None = None,
    spacecraft: str | None = None,
    start_ns: int | None = None,
    coast_warp: float = 10.0,
) -> PublishSummary:
    """Build the scenario and framer and publish; what ``simulate`` and the demo run."""
    sc = make_scenario(
        dictionary,
        scenario,
        variant=variant,
        seed=seed,
        packets_per_frame=packets_per_frame,
        coast_warp=coast_warp,
    )
    framer = SimFramer(
        dictionary,
        spacecraft=spacecraft,
        start_ns=start_ns,
        seed=seed,
        decode_values=settings.record is not None,
    )
    publisher = SimPublisher(sc, framer, settings)
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(quiet_lost_connections)
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(publisher.stop()))
    try:
        return await publisher.run()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)


def simulate(
    dictionary: Annotated[Path, typer.Option(help="telemetry dictionary (YAML)")],
    mqtt: Annotated[
        str | None, typer.Option(help="broker URL, mqtt://[user:pass@]host[:port]")
    ] = "mqtt://127.0.0.1:1883",
    rate: Annotated[float, typer.Option(help="frames per second (0: as fast as possible)")] = 10.0,
    station: Annotated[
        list[str] | None, typer.Option(help="ground station name; repeat for several")
    ] = None,
    topic: Annotated[str, typer.Option(help="topic; {station} is the station")] = DEFAULT_TOPIC,
    count: Annotated[int | None, typer.Option(help="stop after N frames")] = None,
    duration: Annotated[float | None, typer.Option(help="stop after S seconds")] = None,
    scenario: Annotated[ScenarioName, typer.Option(help="what the spacecraft does")] = (
        ScenarioName.GENERIC
    ),
    variant: Annotated[Variant, typer.Option(help="lunar-descent outcome")] = Variant.NOMINAL,
    seed: Annotated[int, typer.Option(help="same seed, same values")] = 0,
    speedup: Annotated[
        float, typer.Option(help="scenario seconds per wall second (time acceleration)")
    ] = 1.0,
    packets_per_frame: Annotated[
        int | None, typer.Option(help="generic scenario: packets per tick (default: all)")
    ] = None,
    spacecraft: Annotated[str | None, typer.Option(help="dictionary spacecraft")] = None,
    qos: Annotated[int, typer.Option(min=0, max=2)] = 1,
    heartbeat: Annotated[bool, typer.Option(help="publish gs/<station>/status")] = True,
    linger: Annotated[float, typer.Option(help="seconds of heartbeats after the last frame")] = 0.0,
    record: Annotated[
        Path | None, typer.Option(help="JSON lines of every frame and its decoded values")
    ] = None,
    output: Annotated[Path | None, typer.Option(help="also write the frames to FILE")] = None,
    format: Annotated[OutputFormat, typer.Option(help="--output format")] = OutputFormat.HEX,
    no_mqtt: Annotated[bool, typer.Option(help="do not publish (file output only)")] = False,
    envelope: Annotated[
        Envelope, typer.Option(help="what each station sends around a frame")
    ] = Envelope.RAW,
    station_clock_offset: Annotated[
        float, typer.Option(help="seconds the stations' clocks are ahead (negative: behind)")
    ] = 0.0,
    latency: Annotated[
        str, typer.Option(help="MS[,JITTER]: station receive to publish, milliseconds")
    ] = "0",
) -> None:
    """Publish simulated frames built with the dictionary's own layouts."""
    try:
        # The dictionary loader (pydantic) loads when a command runs, not for --help.
        from groundwatch.decoders.dictionary import load_dictionary

        # cast: CompiledLayout does not yet satisfy the PacketLayout protocol for mypy
        loaded = cast(TelemetryDictionary, load_dictionary(dictionary))
    except (DictionaryError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if count is None and duration is None and scenario is ScenarioName.GENERIC and no_mqtt:
        typer.echo("error: --no-mqtt needs --count or --duration", err=True)
        raise typer.Exit(2)
    try:
        latency_ms, jitter_ms = parse_latency(latency)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    settings = PublisherSettings(
        envelope=envelope,
        station_clock=StationClock(station_clock_offset, latency_ms, jitter_ms),
        mqtt_url=None if no_mqtt else mqtt,
        stations=station or ["gs1"],
        topic=topic,
        rate=rate,
        speedup=speedup,
        count=count,
        duration=duration,
        qos=qos,
        heartbeat=heartbeat,
        linger=linger,
        record=record,
        output=output,
        output_format=format,
    )
    started = time.monotonic()
    try:
        summary = asyncio.run(
            run_simulation(
                loaded,
                settings,
                scenario=scenario,
                variant=variant,
                seed=seed,
                packets_per_frame=packets_per_frame,
                spacecraft=spacecraft,
            )
        )
    except ValueError as exc:
        typer.echo(f"error: {_redacted(exc)}", err=True)
        raise typer.Exit(2) from None
    except Exception as exc:  # e.g. aiomqtt.MqttError: broker unreachable
        typer.echo(f"error: {type(exc).__name__}: {_redacted(exc)}", err=True)
        raise typer.Exit(1) from None
    elapsed = time.monotonic() - started
    typer.echo(
        f"{summary.frames} frames ({summary.published} published, {summary.lost} lost, "
        f"{summary.corrupted} corrupted), {summary.packets} packets, scenario t="
        f"{summary.last_t:.1f} s, in {elapsed:.1f} s"
        + (" (scenario ended)" if summary.scenario_end else "")
        + (f", {summary.reconnects} reconnects" if summary.reconnects else "")
        + (f", {summary.unacked} never acknowledged" if summary.unacked else "")
    )


def _redacted(exc: Exception) -> str:
    from groundwatch.tls import redact_text

    return redact_text(str(exc))


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)
