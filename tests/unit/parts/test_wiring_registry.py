"""The wiring builds every part through the registry it is given: a part registered there
(here a dictionary format and a store sink of this test's own) is used by name, and a name
nobody registered is a configuration error naming its key."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ConfigDict

from groundwatch.config import load_config
from groundwatch.decoders.api import TelemetryDictionary
from groundwatch.decoders.dictionary import load_dictionary
from groundwatch.parts import ConfigError
from groundwatch.plugins import builtin_registry
from groundwatch.store.sink import StoreSink
from groundwatch.wiring import build_pipeline, load_mission

from .test_conformance import check_contract

DEMO = Path(__file__).resolve().parents[3] / "missions" / "demo-lander.yaml"


class MissionFileFormatOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MissionFileFormat:
    """A format of this test's own: the mission YAML in files named ``*.mission``."""

    Options: ClassVar[type[BaseModel]] = MissionFileFormatOptions
    suffixes: ClassVar[tuple[str, ...]] = (".mission",)
    loaded: ClassVar[list[Path]] = []

    def __init__(self) -> None:
        self.name = "mission"

    @classmethod
    def from_config(cls, options: Mapping[str, Any], key: str) -> MissionFileFormat:
        return cls()

    def load(self, path: Path) -> TelemetryDictionary:
        self.loaded.append(path)
        return load_dictionary(path)


class SpoolOnlySink(StoreSink):
    """The store sink registered under another name (a stand-in for an outside sink)."""


def settings_for(tmp_path: Path, dictionary: Path, **mission: Any) -> Any:
    return load_config(
        None,
        mission={"dictionary": str(dictionary), **mission},
        store={"spool_dir": str(tmp_path / "spool"), "dead_letter": str(tmp_path / "dl.lp")},
        archive={"dir": str(tmp_path / "archive")},
    )


def test_dictionary_format_is_chosen_by_suffix_or_by_name(tmp_path: Path) -> None:
    registry = builtin_registry()
    registry.register("dictionary", "mission", lambda: MissionFileFormat)
    check_contract("dictionary", MissionFileFormat())
    own = tmp_path / "demo.mission"
    own.write_text(DEMO.read_text())
    mission = load_mission(settings_for(tmp_path, own), registry)
    assert mission.mission and MissionFileFormat.loaded[-1] == own
    assert load_mission(settings_for(tmp_path, DEMO), registry).mission == mission.mission
    renamed = tmp_path / "demo.dict"
    renamed.write_text(DEMO.read_text())
    load_mission(settings_for(tmp_path, renamed, format="mission"), registry)
    assert MissionFileFormat.loaded[-1] == renamed
    with pytest.raises(ConfigError, match=r"mission\.format: no format for \.dict"):
        load_mission(settings_for(tmp_path, renamed), registry)
    with pytest.raises(ConfigError, match=r"mission\.format: unknown dictionary type 'csv'"):
        load_mission(settings_for(tmp_path, DEMO, format="csv"), registry)


def test_store_sink_comes_from_the_registry_by_type(tmp_path: Path) -> None:
    registry = builtin_registry()
    registry.register("sink", "spool_only", lambda: SpoolOnlySink)
    settings = settings_for(tmp_path, DEMO)
    settings.store.type = "spool_only"
    pipeline = build_pipeline(settings, registry=registry)
    assert type(pipeline.store) is SpoolOnlySink
    settings.store.type = "nowhere"
    with pytest.raises(ConfigError, match=r"store\.type: unknown sink type 'nowhere'"):
        build_pipeline(settings, registry=registry)
