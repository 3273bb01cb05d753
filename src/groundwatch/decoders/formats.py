"""Mission dictionary file formats, as parts (role ``dictionary``, ``[mission] format``).

A format turns a file into a ``TelemetryDictionary``; the decoders never see the file. The
built-in YAML format is ``dictionary.load_dictionary``; a format from another package (e.g.
XTCE) registers under the ``groundwatch.dictionaries`` entry point group with the same shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from groundwatch.config import parse_part_options
from groundwatch.decoders.api import TelemetryDictionary
from groundwatch.decoders.dictionary import load_dictionary


class YamlDictionaryFormatOptions(BaseModel):
    """The YAML format has no options of its own."""

    model_config = ConfigDict(extra="forbid")


class YamlDictionaryFormat:
    """The mission YAML described in ``missions/README.md``."""

    Options: ClassVar[type[BaseModel]] = YamlDictionaryFormatOptions
    suffixes: ClassVar[tuple[str, ...]] = (".yaml", ".yml")

    def __init__(self) -> None:
        self.name = "yaml"

    @classmethod
    def from_config(cls, options: Mapping[str, Any], key: str) -> YamlDictionaryFormat:
        parse_part_options(YamlDictionaryFormatOptions, options, key)
        return cls()

    def load(self, path: Path) -> TelemetryDictionary:
        return load_dictionary(path)


class XtceDictionaryFormat(YamlDictionaryFormat):
    """An XTCE (CCSDS 660.0) database (``.xml``), compiled to the same layouts as YAML."""

    suffixes: ClassVar[tuple[str, ...]] = (".xml",)

    def __init__(self) -> None:
        self.name = "xtce"

    @classmethod
    def from_config(cls, options: Mapping[str, Any], key: str) -> XtceDictionaryFormat:
        parse_part_options(YamlDictionaryFormatOptions, options, key)
        return cls()

    def load(self, path: Path) -> TelemetryDictionary:
        return load_dictionary(path, xtce=True)
