"""``groundwatch demo``: the whole product in one command.

Starts local Mosquitto and InfluxDB when none are given (``groundwatch.services``, the same
code as ``scripts/services.sh``), runs the live pipeline with a contact plan covering the
pass, publishes a simulated lunar descent (by default the HAKUTO-R-like failure whose link is
lost at "touchdown"), shows the live console, waits for the LOS alert, writes the pass report
and tells where the data is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from groundwatch import services
from groundwatch.alerts.budget import pass_budgets
from groundwatch.config import Settings, load_config
from groundwatch.console.live import show
from groundwatch.console.state import ConsoleModel, key_parameters_of
from groundwatch.decoders.dictionary import load_dictionary
from groundwatch.model import DecodeResult, Event, EventType
from groundwatch.report.html import ReportFiles, write_report
from groundwatch.report.query import InfluxQuery, PassQuery
from groundwatch.sim.commands import make_scenario
from groundwatch.sim.framer import SimFramer
from groundwatch.sim.publisher import PublisherSettings, SimPublisher
from groundwatch.tls import redact_text, redact_url
from groundwatch.wiring import build_pipeline

log = logging.getLogger(__name__)

LOS_TYPES = {EventType.LOS, EventType.UNEXPECTED_LOS, EventType.EXPECTED_LOS}


@dataclass(slots=True)
class DemoOptions:
    dictionary: Path
    workdir: Path = Path("var/demo")
    mqtt_url: str | None = None  # None: start (or reuse) local services
    influx_url: str | None = None
    database: str = "groundwatch"
    variant: str = "hakuto"
    rate: float = 10.0
    speedup: float = 10.0
    seed: int = 1
    station: str = "gs-moon-1"
    los_threshold: float = 3.0
    stop_services: bool = False  # stop the services this demo started, at the end
    report_dir: Path | None = None


@dataclass(slots=True)
class DemoResult:
    frames: int = 0
    packets: int = 0
    los: Event | None = None
    events: list[Event] = field(default_factory=list)
    report: ReportFiles | None = None
    report_error: str | None = None
    influx_url: str = ""
    mqtt_url: str = ""
    database: str = ""
    started_services: bool = False
    stopped_services: bool = False


def ensure_services(opts: DemoOptions, out: Console) -> tuple[str, str, bool]:
    """URLs of the broker and database: given, already running (``scripts/services.sh
    start``, same state directory), or started now; True when this call started them."""
    if opts.mqtt_url and opts.influx_url:
        return opts.mqtt_url, opts.influx_url, False
    base = services_dir(opts)
    state = services.read_state(base)
    running = bool(state) and all(services.pid_alive(int(str(s["pid"]))) for s in state.values())
    if not running:
        # The usual ports, unless another program (a system broker, say) has them.
        mqtt_port = 1883 if not services.port_open(1883) else services.free_port()
        taken = services.influx_ping("http://127.0.0.1:8086") is not None
        influx_port = services.free_port() if taken or services.port_open(8086) else 8086
        state = services.cmd_start(base, mqtt_port, influx_port, opts.database)
        out.print(f"started local Mosquitto and InfluxDB (data in {base})", highlight=False)
    else:
        services.influx_query(
            str(state["influxd"]["url"]), f'CREATE DATABASE "{opts.database}"', method="POST"
        )
    mqtt = opts.mqtt_url or str(state["mosquitto"]["url"])
    influx = opts.influx_url or str(state["influxd"]["url"])
    return mqtt, influx, not running


def services_dir(opts: DemoOptions) -> Path:
    return (opts.workdir.parent / "services").resolve()


def planned_pass_s(opts: DemoOptions) -> float:
    """How long the nominal descent transmits at this rate, from a dry run of the same
    scenario: the flight plan ends the contact after touchdown and safing."""
    dictionary = load_dictionary(opts.dictionary)
    scenario = make_scenario(dictionary, "lunar-descent", variant="nominal", seed=opts.seed)
    framer = SimFramer(dictionary, seed=opts.seed)
    frames = 0
    while (tick := scenario.next_tick(opts.speedup / opts.rate)) is not None:
        frames += len(framer.frames(tick))
    return frames / opts.rate


def demo_settings(opts: DemoOptions, mqtt: str, influx: str, pass_start_ns: int) -> Settings:
    """A configuration for this run, with a contact plan: planned to go on for an hour (so
    a loss of signal during the descent is UNEXPECTED_LOS, as a controller would judge it),
    and for the nominal variant planned to end when the landed lander stops transmitting
    (its LOS then is EXPECTED_LOS)."""
    work = opts.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    schedule = work / "schedule.yaml"
    start = datetime.fromtimestamp(pass_start_ns / 1e9 - 60, UTC)
    length = planned_pass_s(opts) if opts.variant == "nominal" and opts.rate > 0 else 3600.0
    end = datetime.fromtimestamp(pass_start_ns / 1e9 + length, UTC)
    schedule.write_text(
        "contacts:\n"
        f"  - {{spacecraft: demo-lander, station: {opts.station}, "
        f"start: {start.isoformat()}, end: {end.isoformat()}}}\n"
    )
    return load_config(
        None,
        mission={"dictionary": str(opts.dictionary.resolve()), "schedule": str(schedule)},
        sources=[{"type": "mqtt", "url": mqtt, "client_id": f"groundwatch-demo-{pass_start_ns}"}],
        store={
            "url": influx,
            "database": opts.database,
            "spool_dir": str(work / "spool"),
            "dead_letter": str(work / "dead-letter.lp"),
        },
        archive={"dir": str(work / "archive")},
        link={"los_threshold": opts.los_threshold},
        alerts=[{"type": "influx"}, {"type": "mqtt", "url": mqtt}],
    )


async def run_demo(opts: DemoOptions, out: Console | None = None) -> DemoResult:
    out = out or Console()
    result = DemoResult(database=opts.database)
    mqtt, influx, started = await asyncio.to_thread(ensure_services, opts, out)
    result.mqtt_url, result.influx_url, result.started_services = mqtt, influx, started
    dictionary = load_dictionary(opts.dictionary)
    pass_start = time.time_ns()
    settings = demo_settings(opts, mqtt, influx, pass_start)

    model = ConsoleModel.from_dictionary(dictionary)
    los_seen = asyncio.Event()

    def on_event(e: Event) -> None:
        result.events.append(e)
        if e.type in LOS_TYPES and not e.recovery:
            result.los = e
            los_seen.set()

    pipeline = build_pipeline(
        settings,
        dictionary=dictionary,
        event_listeners=[model.on_event, on_event],
        result_listeners=[lambda r: _feed_packets(model, r)],
    )
    stop_pipeline, stop_console = asyncio.Event(), asyncio.Event()
    run_task = asyncio.create_task(pipeline.run(stop_pipeline), name="pipeline")
    console_task = asyncio.create_task(
        show(
            model, stop_console, on_refresh=lambda: model.on_status(pipeline.status()), console=out
        ),
        name="console",
    )
    try:
        await asyncio.wait_for(pipeline.started.wait(), 30)
        await pipeline.sources_connected()
        scenario = make_scenario(dictionary, "lunar-descent", variant=opts.variant, seed=opts.seed)
        framer = SimFramer(dictionary, seed=opts.seed)
        publisher = SimPublisher(
            scenario,
            framer,
            PublisherSettings(
                mqtt_url=mqtt,
                stations=(opts.station,),
                rate=opts.rate,
                speedup=opts.speedup,
                heartbeat=True,
                linger=opts.los_threshold + 3,
            ),
        )
        summary = await publisher.run()
        result.frames = summary.frames
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(los_seen.wait(), opts.los_threshold + 10)
    finally:
        stop_pipeline.set()
        stats = await run_task
        stop_console.set()
        await console_task
    result.packets = stats.packets
    pass_end = time.time_ns()
    report_dir = opts.report_dir or opts.workdir / "reports" / datetime.fromtimestamp(
        pass_start / 1e9, UTC
    ).strftime("%Y%m%dT%H%M%SZ")
    query = PassQuery(
        InfluxQuery(influx, opts.database), "live", "demo-lander", pass_start - 10**9, pass_end
    )
    keys = key_parameters_of(dictionary.parameters())
    try:
        result.report = await asyncio.to_thread(write_report, query, keys, report_dir)
    except (OSError, RuntimeError, LookupError, ValueError) as exc:
        # e.g. the database does not exist and cannot be created: say so, no traceback
        result.report_error = redact_text(str(exc))
    if started and opts.stop_services:
        await asyncio.to_thread(services.cmd_stop, services_dir(opts))
        result.stopped_services = True
    return result


def _feed_packets(model: ConsoleModel, result: DecodeResult) -> None:
    for p in result.packets:
        model.on_packet(p)


def closing_lines(r: DemoResult) -> list[str]:
    lines = [f"demo: {r.frames} frames published, {r.packets} packets decoded and stored"]
    if r.los is not None:
        t = datetime.fromtimestamp(r.los.time_ns / 1e9, UTC).isoformat(timespec="milliseconds")
        lines.append(
            f"LOS alert: {r.los.type.value} ({r.los.severity.label}) at {t}: {r.los.title}"
        )
    else:
        lines.append("no LOS alert was raised")
    for budget in pass_budgets(r.events):  # what the controller was sent, and how early
        lines += budget.lines()
    if r.report is not None:
        lines.append(f"pass report: {r.report.html}")
    elif r.report_error is not None:
        lines.append(f"no pass report: {r.report_error}")
    lines.append(
        f"data: InfluxDB {redact_url(r.influx_url)} database {r.database!r} (InfluxQL), "
        f"MQTT {redact_url(r.mqtt_url)} (groundwatch/state/#, groundwatch/events/#)"
    )
    lines.append(
        "dashboards: docker compose up -d (see deploy/README.md), or "
        "groundwatch dashboards push --grafana URL"
    )
    if r.started_services and not r.stopped_services:
        lines.append(
            "local services keep running for you to look at the data; "
            "stop them with: scripts/services.sh stop"
        )
    return lines
