"""An alert: one notification about an event, and the JSON every sink sends.

Payload (webhook body, MQTT event message, command-hook stdin; one JSON object)::

    {
      "id": "3f2a9c0d1b7e",          # stable alert id (acknowledge with it)
      "notification": "new",         # new | escalation | repeat | recovery | ack
      "type": "UNEXPECTED_LOS",      # model.EventType
      "severity": "critical",        # info | warning | critical
      "spacecraft": "lander", "station": "gs1",
      "title": "UNEXPECTED_LOS lander",
      "text": "[CRITICAL] UNEXPECTED_LOS lander via gs1 at 2025-...Z: ...",  # chat-ready
      "description": "lander: no valid frame from any station for 5 s ...",
      "time": "2025-01-01T10:04:05.000Z", "time_ns": 1735725845000000000,
      "condition": "LOS/lander", "recovery": false, "source": "live",
      "acknowledged": false, "acked_by": null, "ack_comment": null,
      "repeat": 0,                   # re-notification count
      "clears": null,                # for a recovery: the id of the alert it ends
      "flaps": 0,                    # times it cleared and came back within the flap window
      "details": {...}               # event details (last good frame, last values, ...)
    }

``text`` alone is enough for Slack/Mattermost/Teams-style incoming webhooks.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from groundwatch.model import Event


def iso(t_ns: int) -> str:
    """UTC ISO-8601 with milliseconds (alerts do not import the link package)."""
    dt = datetime.fromtimestamp(t_ns // 1_000_000_000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{(t_ns % 1_000_000_000) // 1_000_000:03d}Z"


class Notification(StrEnum):
    NEW = "new"
    ESCALATION = "escalation"  # an open alert's condition became more severe
    REPEAT = "repeat"
    RECOVERY = "recovery"
    ACK = "ack"


@dataclass(slots=True)
class Alert:
    id: str
    event: Event
    notification: Notification
    acknowledged: bool = False
    acked_by: str | None = None
    ack_comment: str | None = None
    repeat: int = 0
    clears: str | None = None
    last_notified_ns: int = 0
    flaps: int = 0

    def summary(self) -> str:
        e = self.event
        where = " ".join(p for p in (e.spacecraft, f"via {e.station}" if e.station else None) if p)
        tag = {
            Notification.REPEAT: f" (repeat {self.repeat}, unacknowledged)",
            Notification.ACK: f" acknowledged by {self.acked_by}",
            Notification.RECOVERY: " (recovered)",
            Notification.NEW: "",
            Notification.ESCALATION: " (escalated)",
        }[self.notification]
        if self.flaps:
            tag += f" ({self.flaps} flaps folded)"
        head = f"[{e.severity.label.upper()}] {e.type.value}"
        if where:
            head += f" {where}"
        return f"{head} at {iso(e.time_ns)}{tag}: {e.text}"

    def payload(self) -> dict[str, Any]:
        e = self.event
        return {
            "id": self.id,
            "notification": self.notification.value,
            "type": e.type.value,
            "severity": e.severity.label,
            "spacecraft": e.spacecraft,
            "station": e.station,
            "title": e.title,
            "text": self.summary(),
            "description": e.text,
            "time": iso(e.time_ns),
            "time_ns": e.time_ns,
            "condition": e.condition,
            "recovery": e.recovery,
            "source": e.source,
            "acknowledged": self.acknowledged,
            "acked_by": self.acked_by,
            "ack_comment": self.ack_comment,
            "repeat": self.repeat,
            "clears": self.clears,
            "flaps": self.flaps,
            "details": e.details,
        }

    def to_json(self) -> str:
        return strict_json(self.payload(), separators=(",", ":"))


def strict_json(value: Any, separators: tuple[str, str] | None = None) -> str:
    """JSON that strict parsers accept: non-finite floats as text (see ``_strict``)."""
    return json.dumps(_strict(value), default=str, separators=separators)


def _strict(value: Any) -> Any:
    """NaN and infinities as text ("nan", "inf"): json.dumps would write NaN and Infinity,
    which are not JSON, and a webhook receiver refuses the whole alert."""
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(v) for v in value]
    return value
