"""What a running pipeline reports: every part's counters in one document.

The one-line status, ``/health``, ``/metrics`` (``store.health`` renders it, see its rules
for names) and the console all read ``pipeline_status``; a part's counters appear under its
name, so a failure to archive, write or notify shows wherever the pipeline is watched.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from groundwatch.rejects import seeded

if TYPE_CHECKING:
    from groundwatch.pipeline import Pipeline


def pipeline_status(p: Pipeline) -> dict[str, Any]:
    """The status document of ``p``: figures, per-link counters, every part's counters."""
    per_link: list[dict[str, Any]] = []
    for key, c in p.accounting.counts().items():
        row: dict[str, Any] = {
            "spacecraft": key.spacecraft,
            "station": key.station,
            "vcid": key.vcid,
        }
        for field in (
            "frames",
            "bytes",
            "valid_frames",
            "crc_failures",
            "frame_gaps",
            "frames_missing",
            "packets",
        ):
            row[field] = getattr(c, field)
        row["rejected"] = c.rejected_total()
        per_link.append(row)
    alerts = p.alerts.counters()
    not_computed = [  # derived values without a sample, per packet, parameter and reason
        {"packet": packet, "parameter": name, "reason": reason, "values": count}
        for (packet, name, reason), count in p.decoder.not_computed().items()
    ]
    return {
        "frames": p.stats.frames,
        "packets": p.stats.packets,
        "points": p.stats.points,
        "duplicates": p.stats.duplicates,
        "rejected": seeded(p.stats.rejected),
        "events": dict(p.stats.event_counts),
        "events_bytes": p.stats.events_bytes,  # the live event history, bounded
        "stations_known": len(p.stations),
        "stations_refused": p.stats.refused_stations,
        "stations_forgotten": p.stats.forgotten_stations,
        "tasks": len(asyncio.all_tasks()),
        "queue": p.queue.qsize(),
        "queue_size": p.queue.maxsize,
        "store": p.store.health(),
        "link": per_link,
        "not_computed": not_computed,
        "links": p.monitor.snapshot(),
        "radio": p.accounting.radio.latest(),  # what the stations say of their reception
        # dictionary rules: judged, skipped (a value could not be computed), raised, cleared
        "rules": dict(p.monitor.rules.counters) if p.monitor.rules is not None else {},
        "stations": p.merger.counts(),
        "sources": {s.name: s.counters.as_dict() for s in p.sources},
        "decoder": p.decoder.counters.as_dict(),
        "archive": p.archive.health() if p.archive is not None else {},
        "alerts": {**alerts.pop("manager", {}), "sinks": alerts},
        "pipeline": p.counters.as_dict(),
        "errors": p.counters.errors,
    }
