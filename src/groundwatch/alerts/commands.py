"""``groundwatch ack``: acknowledge an alert through the MQTT command topic."""

from __future__ import annotations

import asyncio
import getpass
import json

import typer

from groundwatch.parts import ConfigError


async def publish_ack(
    url: str, alert_id: str, by: str, comment: str | None, topic: str = "groundwatch/ack"
) -> None:
    import aiomqtt

    from groundwatch.alerts.mqtt import parse_mqtt_url

    host, port = parse_mqtt_url(url)
    payload = json.dumps({"id": alert_id, "by": by, "comment": comment})
    async with aiomqtt.Client(host, port, timeout=10) as client:
        await client.publish(topic, payload, qos=1)


def register(app: typer.Typer) -> None:
    @app.command("ack")
    def ack(
        alert_id: str = typer.Argument(..., help="alert id (from the alert's 'id' field)"),
        by: str = typer.Option(None, "--by", help="who acknowledges (default: login name)"),
        comment: str = typer.Option(None, "--comment", help="free text kept with the ack"),
        mqtt: str = typer.Option(
            "mqtt://127.0.0.1:1883", "--mqtt", help="broker URL (mqtt://host:port)"
        ),
        topic: str = typer.Option("groundwatch/ack", "--topic", help="ack command topic"),
    ) -> None:
        """Acknowledge an alert: stops its re-notification; every sink gets an ACK event."""
        import aiomqtt  # loads only when an ack is sent

        who = by or getpass.getuser()
        try:
            asyncio.run(publish_ack(mqtt, alert_id, who, comment, topic))
        except ConfigError as exc:
            typer.echo(f"error: --mqtt {exc.problem}", err=True)
            raise typer.Exit(2) from exc
        except aiomqtt.MqttError as exc:
            typer.echo(f"error: cannot publish to {mqtt}: {exc}", err=True)
            raise typer.Exit(1) from exc
        typer.echo(f"acknowledged {alert_id} as {who}")
