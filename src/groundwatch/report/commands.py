"""``groundwatch report``: the pass report of a session or a time range."""

from __future__ import annotations

import tempfile
import urllib.error
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from groundwatch.console.state import key_parameters_of, parse_time
from groundwatch.decoders.api import DictionaryError
from groundwatch.parts import ConfigError

if TYPE_CHECKING:
    from groundwatch.influx_access import InfluxAccess


def _time(value: str | None, option: str, err: Console) -> int | None:
    if value is None:
        return None
    t = parse_time(value)
    if t is None:
        err.print(f"[red]error[/red] {option}: not an ISO-8601 time: {value!r}", highlight=False)
        raise typer.Exit(2)
    return t


def store_access(config: Path | None, influx: str, database: str, err: Console) -> InfluxAccess:
    """The store's settings from ``--config`` (as the writer uses them), else ``--influx``
    and ``--database`` with the environment's credentials."""
    from groundwatch.influx_access import InfluxAccess
    from groundwatch.tls import redact_text

    try:
        if config is not None:
            from groundwatch.config import ConfigFileError, load_config

            try:
                return InfluxAccess.from_store(load_config(config).store)
            except ConfigFileError as exc:
                for p in exc.problems:
                    err.print(f"[red]config error[/red] {config}: {p}", highlight=False)
                raise typer.Exit(2) from exc
        return InfluxAccess.from_env(influx, database)
    except ConfigError as exc:
        err.print(f"[red]config error[/red] {exc.key}: {exc.problem}", highlight=False)
        raise typer.Exit(2) from exc
    except ValueError as exc:
        err.print(f"[red]error[/red] --influx {redact_text(str(exc))}", highlight=False)
        raise typer.Exit(2) from exc


def _check_writable(out: Path, err: Console) -> None:
    """Fail on the output directory before querying anything (and not blame InfluxDB)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        err.print(
            f"[red]error[/red] --out {out}: cannot write there: {exc.strerror or exc}",
            highlight=False,
        )
        raise typer.Exit(2) from exc


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report(
        dictionary: Annotated[Path, typer.Option("--dictionary", help="mission dictionary")],
        out: Annotated[Path, typer.Option("--out", help="output directory")],
        session: Annotated[
            str | None, typer.Option("--session", help="'live' or a replay session name")
        ] = None,
        start: Annotated[
            str | None, typer.Option("--from", help="start (ISO-8601, e.g. 2025-01-01T10:00Z)")
        ] = None,
        end: Annotated[str | None, typer.Option("--to", help="end (ISO-8601)")] = None,
        influx: Annotated[str, typer.Option("--influx", help="InfluxDB URL (v1 HTTP API)")] = (
            "http://127.0.0.1:8086"
        ),
        database: Annotated[str, typer.Option("--database")] = "groundwatch",
        spacecraft: Annotated[
            str | None, typer.Option("--spacecraft", help="default: the first one found")
        ] = None,
        config: Annotated[
            Path | None,
            typer.Option("--config", "-c", help="groundwatch.toml: InfluxDB URL, credentials, TLS"),
        ] = None,
    ) -> None:
        """Pass report: HTML with embedded plots, the PNGs, and summary.json in --out."""
        err = Console(stderr=True)
        if session is None and start is None and end is None:
            err.print("[red]error[/red] give --session or --from/--to", highlight=False)
            raise typer.Exit(2)
        # The plotting stack (matplotlib) loads only when a report is made.
        from groundwatch.decoders.dictionary import load_dictionary
        from groundwatch.influx_access import InfluxAccessError
        from groundwatch.report.html import write_report
        from groundwatch.report.query import InfluxQuery, PassQuery, session_source
        from groundwatch.report.summary import summary_lines
        from groundwatch.tls import redact_text

        try:
            dic = load_dictionary(dictionary)
        except (OSError, DictionaryError) as exc:
            err.print(f"[red]error[/red] --dictionary {dictionary}: {exc}", highlight=False)
            raise typer.Exit(2) from exc
        access = store_access(config, influx, database, err)
        _check_writable(out, err)
        query = PassQuery(
            InfluxQuery(access),
            session_source(session),
            spacecraft,
            _time(start, "--from", err),
            _time(end, "--to", err),
        )
        try:
            files = write_report(query, key_parameters_of(dic.parameters()), out)
        except LookupError as exc:
            err.print(f"[red]error[/red] {exc}", highlight=False)
            raise typer.Exit(1) from exc
        except InfluxAccessError as exc:
            err.print(f"[red]error[/red] {redact_text(str(exc))}", highlight=False)
            raise typer.Exit(1) from exc
        except (urllib.error.URLError, RuntimeError) as exc:
            msg = redact_text(str(getattr(exc, "reason", exc)))
            err.print(f"[red]error[/red] InfluxDB {access.shown}: {msg}", highlight=False)
            raise typer.Exit(1) from exc
        except OSError as exc:  # writing the report, not reading InfluxDB
            err.print(f"[red]error[/red] --out {out}: {exc.strerror or exc}", highlight=False)
            raise typer.Exit(2) from exc
        for line in summary_lines(files.facts):
            typer.echo(line)
        typer.echo(f"report: {files.html}")
