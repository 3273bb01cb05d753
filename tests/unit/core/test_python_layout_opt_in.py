"""A dictionary with ``python:`` layouts runs code: it loads only with an explicit opt-in."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from groundwatch.config import load_config
from groundwatch.decoders.api import DictionaryError
from groundwatch.decoders.dictionary import load_dictionary
from groundwatch.parts import ConfigError
from groundwatch.wiring import load_mission

REPO = Path(__file__).resolve().parents[3]
MISSIONS = REPO / "tests" / "data" / "missions"


@pytest.fixture
def mission_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("GROUNDWATCH_ALLOW_PYTHON_LAYOUTS", raising=False)
    for name in ("europa_clipper.yaml", "europa_clipper_layout.py"):
        shutil.copy(MISSIONS / name, tmp_path / name)
    # a layout module that leaves a mark when it is imported
    layout = tmp_path / "europa_clipper_layout.py"
    layout.write_text(layout.read_text() + f"\nopen({str(tmp_path / 'ran')!r}, 'w').close()\n")
    return tmp_path


def test_python_layout_without_opt_in_is_refused_and_not_run(mission_dir: Path) -> None:
    with pytest.raises(DictionaryError, match="allow_python_layouts") as caught:
        load_dictionary(mission_dir / "europa_clipper.yaml")
    assert "runs code" in str(caught.value)
    assert not (mission_dir / "ran").exists()

    cfg = mission_dir / "groundwatch.toml"
    cfg.write_text('[mission]\ndictionary = "europa_clipper.yaml"\n')
    with pytest.raises(ConfigError, match="allow_python_layouts"):
        load_mission(load_config(cfg))
    assert not (mission_dir / "ran").exists()


def test_python_layout_loads_with_the_config_key(mission_dir: Path) -> None:
    cfg = mission_dir / "groundwatch.toml"
    cfg.write_text('[mission]\ndictionary = "europa_clipper.yaml"\nallow_python_layouts = true\n')
    mission = load_mission(load_config(cfg))
    assert mission.parameters()
    assert (mission_dir / "ran").exists()
    # the opt-in was for that load only
    (mission_dir / "ran").unlink()
    with pytest.raises(DictionaryError):
        load_dictionary(mission_dir / "europa_clipper.yaml")
