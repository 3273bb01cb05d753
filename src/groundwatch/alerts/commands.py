"""``groundwatch ack``: acknowledge an alert through the MQTT command topic.

Signed with the operator's secret (``--secret-file`` or ``GROUNDWATCH_ACK_SECRET_FILE``: a
file, never the command line, where any user of the machine could read it); without one the
acknowledgement goes unsigned to ``<topic>/<operator>``, which a sink accepts only with
``ack_auth = "broker"`` (the broker's ACL then vouches for the operator).
"""

from __future__ import annotations

import asyncio
import getpass
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from groundwatch.parts import ConfigError

if TYPE_CHECKING:
    from groundwatch.tls import TlsFiles


async def publish_ack(
    url: str,
    alert_id: str,
    by: str,
    comment: str | None,
    topic: str = "groundwatch/ack",
    secret: bytes | None = None,
    tls: TlsFiles | None = None,
) -> None:
    import aiomqtt

    from groundwatch.alerts.ack_auth import sign
    from groundwatch.alerts.mqtt import connection_for

    conn = connection_for(url, tls, "--mqtt")
    if secret is not None:
        payload = json.dumps(sign(secret, alert_id, by, comment))
    else:
        payload = json.dumps({"id": alert_id, "by": by, "comment": comment})
        topic = f"{topic}/{by}"
    async with aiomqtt.Client(**conn, timeout=10) as client:
        await client.publish(topic, payload, qos=1)


def register(app: typer.Typer) -> None:
    @app.command("ack")
    def ack(
        alert_id: str = typer.Argument(..., help="alert id (from the alert's 'id' field)"),
        by: str = typer.Option(None, "--by", help="who acknowledges (default: login name)"),
        comment: str = typer.Option(None, "--comment", help="free text kept with the ack"),
        mqtt: str = typer.Option(
            "mqtt://127.0.0.1:1883", "--mqtt", help="broker URL (mqtt[s]://[user@]host:port)"
        ),
        topic: str = typer.Option("groundwatch/ack", "--topic", help="ack command topic"),
        secret_file: Annotated[
            Path | None,
            typer.Option(
                "--secret-file",
                envvar="GROUNDWATCH_ACK_SECRET_FILE",
                help="the operator's HMAC secret (one line, or operator:secret lines)",
            ),
        ] = None,
        password_file: Annotated[
            Path | None,
            typer.Option(
                "--password-file",
                envvar="GROUNDWATCH_MQTT_PASSWORD_FILE",
                help="broker password (first line)",
            ),
        ] = None,
        ca_file: Annotated[
            Path | None, typer.Option("--ca-file", help="CA of the broker (mqtts://)")
        ] = None,
        cert_file: Annotated[
            Path | None, typer.Option("--cert-file", help="client certificate")
        ] = None,
        key_file: Annotated[Path | None, typer.Option("--key-file", help="client key")] = None,
    ) -> None:
        """Acknowledge an alert: stops its re-notification; every sink gets an ACK event."""
        import aiomqtt  # loads only when an ack is sent

        from groundwatch.alerts.ack_auth import operator_secret
        from groundwatch.tls import TlsFiles, redact_text, redact_url

        who = by or getpass.getuser()
        shown = redact_url(mqtt)
        try:
            secret = operator_secret(secret_file, who) if secret_file is not None else None
            url = mqtt
            if password_file is not None:
                url = _with_password(mqtt, _first_line(password_file))
            asyncio.run(
                publish_ack(
                    url,
                    alert_id,
                    who,
                    comment,
                    topic,
                    secret,
                    TlsFiles(ca_file, cert_file, key_file),
                )
            )
        except ConfigError as exc:
            typer.echo(f"error: {exc.key}: {redact_text(exc.problem)}", err=True)
            raise typer.Exit(2) from exc
        except aiomqtt.MqttError as exc:
            typer.echo(f"error: cannot publish to {shown}: {redact_text(str(exc))}", err=True)
            raise typer.Exit(1) from exc
        if secret is not None:
            typer.echo(f"acknowledged {alert_id} as {who} (signed)")
        else:
            typer.echo(
                f"sent an unsigned acknowledgement of {alert_id} as {who} on {topic}/{who}: "
                'only a sink with ack_auth = "broker" accepts it (see --secret-file)'
            )


def _first_line(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip().splitlines()[0]
    except (OSError, IndexError) as exc:
        raise ConfigError("--password-file", f"cannot read a password from {path}") from exc


def _with_password(url: str, password: str) -> str:
    from urllib.parse import quote, urlsplit, urlunsplit

    u = urlsplit(url)
    user = u.username or quote(getpass.getuser(), safe="")  # u.username is still quoted
    host = u.netloc.rsplit("@", 1)[-1]
    netloc = f"{user}:{quote(password, safe='')}@{host}"
    return urlunsplit((u.scheme, netloc, u.path, u.query, u.fragment))
