"""groundwatch.toml: validation names the key and the problem; env overrides; secrets."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from groundwatch.cli import app
from groundwatch.config import ConfigFileError, load_config

REPO = Path(__file__).resolve().parents[3]
DICTIONARY = REPO / "missions" / "demo-lander.yaml"


def write(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "groundwatch.toml"
    p.write_text(f'[mission]\ndictionary = "{DICTIONARY}"\n' + body)
    return p


def test_defaults_and_relative_paths_follow_the_file(tmp_path: Path) -> None:
    s = load_config(write(tmp_path, '[store]\nspool_dir = "sp"\n'))
    assert s.store.batch_size == 5000 and s.store.flush_interval <= 0.2
    assert s.store.spool_dir == tmp_path / "sp"
    assert [p.type for p in s.sources] == ["mqtt"]


def test_environment_beats_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROUNDWATCH_STORE__BATCH_SIZE", "77")
    monkeypatch.setenv("GROUNDWATCH_LINK__LOS_THRESHOLD", "2.5")
    s = load_config(write(tmp_path, "[store]\nbatch_size = 10\n"))
    assert s.store.batch_size == 77
    assert s.link.los_threshold == 2.5


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ("[store]\nbatch_size = -1\n", "store.batch_size"),
        ('[store]\napi = "v9"\n', "store.api"),
        ("[store]\nbatchsize = 5\n", "store.batchsize"),
        ('[link]\nlos_threshold = "soon"\n', "link.los_threshold"),
        ("[nonsense]\nx = 1\n", "nonsense"),
    ],
)
def test_a_bad_value_names_its_key(tmp_path: Path, body: str, key: str) -> None:
    with pytest.raises(ConfigFileError) as exc:
        load_config(write(tmp_path, body))
    assert any(p.startswith(key + ":") for p in exc.value.problems), exc.value.problems


def test_secret_from_file_is_read_and_never_shown(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("s3cr3t-token\n")
    s = load_config(write(tmp_path, '[store]\napi = "auto"\ntoken_file = "token"\n'))
    assert s.store.secret_token() == "s3cr3t-token"
    s2 = load_config(write(tmp_path, '[store]\ntoken = "inline-s3cr3t"\n'))
    assert "inline-s3cr3t" not in repr(s2) and "inline-s3cr3t" not in str(s2.store)


runner = CliRunner()


def test_check_config_accepts_the_shipped_file() -> None:
    res = runner.invoke(app, ["check-config", str(REPO / "groundwatch.toml")])
    assert res.exit_code == 0, res.output
    assert "ok" in res.output


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('[[sources]]\ntype = "carrier-pigeon"\n', "sources[0].type"),
        ('[[sources]]\ntype = "mqtt"\nqos = 3\n', "sources[0].qos"),
        ('[[sources]]\ntype = "kiss_tcp"\nport = 8001\n', "sources[0].station"),
        (
            '[[alerts]]\ntype = "log"\n[[alerts]]\ntype = "webhook"\nurl = "ftp://x"\n',
            "alerts[1].url",
        ),
    ],
)
def test_check_config_names_the_part_key(tmp_path: Path, body: str, key: str) -> None:
    res = runner.invoke(app, ["check-config", str(write(tmp_path, body))])
    assert res.exit_code == 2
    assert key in res.output, res.output


def test_check_config_missing_dictionary(tmp_path: Path) -> None:
    p = tmp_path / "gw.toml"
    p.write_text('[mission]\ndictionary = "nowhere.yaml"\n')
    res = runner.invoke(app, ["check-config", str(p)])
    assert res.exit_code == 2
    assert "mission.dictionary" in res.output


def test_secrets_never_reach_the_log(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    body = '[store]\npassword = "pw-s3cr3t"\n[[sources]]\ntype = "mqtt"\npassword = "mq-s3cr3t"\n'
    res = runner.invoke(app, ["check-config", str(write(tmp_path, body))])
    assert res.exit_code == 0, res.output
    assert "s3cr3t" not in res.output + caplog.text
