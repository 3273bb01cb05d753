"""``groundwatch dashboards export|push``: wired into the CLI by ``register(app)``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

DictionaryOption = Annotated[
    list[Path],
    typer.Option("--dictionary", "-d", help="telemetry dictionary (repeat for several)"),
]


def export_command(
    dictionary: DictionaryOption,
    out: Annotated[Path, typer.Option("--out", help="directory (the repo's dashboards/)")] = Path(
        "dashboards"
    ),
) -> None:
    """Generate the dashboards and Grafana provisioning files from the dictionaries."""
    from groundwatch.dashboards import export as exporter

    dictionaries = exporter.load_dictionaries(dictionary)
    for path in exporter.export(dictionaries, out):
        typer.echo(str(path))


def push_command(
    grafana: Annotated[str, typer.Option("--grafana", help="Grafana URL, e.g. http://host:3000")],
    dictionary: DictionaryOption,
    folder: Annotated[str, typer.Option(help="folder uid and title")] = "groundwatch",
) -> None:
    """Upload the dashboards to Grafana (token in GRAFANA_TOKEN), overwriting older versions."""
    from groundwatch.dashboards import export as exporter
    from groundwatch.dashboards import push as pusher

    try:
        token = pusher.token_from_env()
        dashboards = exporter.dashboards(exporter.load_dictionaries(dictionary))
        for done in pusher.push(grafana, dashboards, token, folder):
            typer.echo(json.dumps({"uid": done.uid, "version": done.version, "url": done.url}))
    except pusher.PushError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc


def register(app: typer.Typer) -> None:
    dashboards = typer.Typer(help="Grafana dashboards generated from the dictionary.")
    dashboards.command("export")(export_command)
    dashboards.command("push")(push_command)
    app.add_typer(dashboards, name="dashboards")
