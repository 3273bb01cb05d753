"""Generate every dashboard and provisioning file into a directory (``dashboards/`` in the repo).

Layout written under ``out``::

    json/link-overview.json              one per deployment
    json/spacecraft-<mission>.json       one per dictionary
    json/pass-replay-<mission>.json      one per dictionary
    provisioning/datasources/groundwatch.yaml
    provisioning/dashboards/groundwatch.yaml

Generated JSON files of dashboards no longer produced are removed, so ``json/`` always equals
what the generator makes (a test regenerates into a temporary directory and compares).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, cast

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as model

from groundwatch.dashboards import link_overview, pass_replay, provisioning, spacecraft
from groundwatch.decoders.api import TelemetryDictionary

JSON_DIR = "json"


def _number_panels(d: model.Dashboard) -> None:
    """Stable panel ids in layout order (Grafana wants them unique; the builders leave 0)."""
    next_id = 1
    for panel in d.panels or []:
        panel.id_val = next_id
        next_id += 1
        for inner in getattr(panel, "panels", None) or []:
            inner.id_val = next_id
            next_id += 1


def to_json(builder: dash.Dashboard) -> dict[str, Any]:
    d = builder.build()
    _number_panels(d)
    data: dict[str, Any] = json.loads(json.dumps(d, cls=JSONEncoder))
    return data


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def dashboards(dictionaries: Sequence[TelemetryDictionary]) -> dict[str, dict[str, Any]]:
    """File name -> dashboard JSON for the deployment and each dictionary."""
    out = {"link-overview.json": to_json(link_overview.build())}
    for dictionary in dictionaries:
        name = spacecraft.slug(dictionary.mission)
        out[f"spacecraft-{name}.json"] = to_json(spacecraft.build(dictionary))
        out[f"pass-replay-{name}.json"] = to_json(pass_replay.build(dictionary))
    return out


def all_files(dictionaries: Sequence[TelemetryDictionary]) -> dict[str, str]:
    """Relative path -> text of everything ``export`` writes."""
    files = {f"{JSON_DIR}/{name}": render(data) for name, data in dashboards(dictionaries).items()}
    files.update(provisioning.files())
    return files


def export(dictionaries: Sequence[TelemetryDictionary], out: Path) -> list[Path]:
    files = all_files(dictionaries)
    written = []
    for rel, text in files.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    for old in (out / JSON_DIR).glob("*.json"):
        if f"{JSON_DIR}/{old.name}" not in files:
            old.unlink()
    return written


def load_dictionaries(paths: Iterable[Path]) -> list[TelemetryDictionary]:
    # Imported here: the dictionary loader is the decoders' part and loads only when asked.
    from groundwatch.decoders.dictionary import load_dictionary  # type: ignore[import-not-found,unused-ignore]

    return [cast(TelemetryDictionary, load_dictionary(path)) for path in paths]
