"""What the command line says when something is wrong: one clear line naming the key or
file, exit status 2 for a bad configuration or input, non-zero when a part cannot run,
and never a credential or a traceback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from groundwatch.services import ServiceHandle, free_port
from groundwatch.store.spool import Spool

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DICTIONARY = REPO / "missions" / "demo-lander.yaml"
SECRET = "Sup3rSecretPw"


def gw(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "groundwatch", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "300", **(env or {})},
        check=False,
    )


def config(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "groundwatch.toml"
    p.write_text(
        f'[mission]\ndictionary = "{DICTIONARY}"\n'
        f'[store]\nspool_dir = "spool"\ndead_letter = "dl.lp"\n'
        f'[archive]\ndir = "archive"\n' + body
    )
    return p


def one_clear_error(res: subprocess.CompletedProcess[str], *words: str, rc: int = 2) -> None:
    out = res.stdout + res.stderr
    assert "Traceback" not in out, out
    assert res.returncode == rc, out
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert any(all(w in ln for w in words) for ln in lines), out


def test_check_config_checks_files_programs_and_urls(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "mqtt").write_text(SECRET + "\n")
    good = config(
        tmp_path,
        '[[sources]]\ntype = "mqtt"\nurl = "mqtt://gs:' + SECRET + '@127.0.0.1:1883"\n'
        'password_file = "secrets/mqtt"\n'  # relative to the file, not to the cwd
        '[[alerts]]\ntype = "log"\n',
    )
    res = gw("check-config", str(good))
    assert res.returncode == 0, res.stdout + res.stderr
    assert SECRET not in res.stdout + res.stderr

    missing = config(tmp_path, '[[sources]]\ntype = "mqtt"\npassword_file = "secrets/nothing"\n')
    one_clear_error(gw("check-config", str(missing)), "sources[0].password_file")

    no_program = config(
        tmp_path, '[[alerts]]\ntype = "command"\ncommand = "/nonexistent/pager --x"\n'
    )
    one_clear_error(gw("check-config", str(no_program)), "alerts[0].command")

    bad_store = (
        config(tmp_path, "")
        .read_text()
        .replace("[store]\n", f'[store]\nurl = "htp//admin:{SECRET}@influx"\n')
    )
    (tmp_path / "bad-store.toml").write_text(bad_store)
    res = gw("check-config", str(tmp_path / "bad-store.toml"))
    one_clear_error(res, "store.url")
    assert SECRET not in res.stdout + res.stderr

    bad_mqtt = config(
        tmp_path, f'[[sources]]\ntype = "mqtt"\nurl = "mqtts://gs:{SECRET}@h:99999"\n'
    )
    res = gw("check-config", str(bad_mqtt))
    one_clear_error(res, "sources[0].url")
    assert SECRET not in res.stdout + res.stderr


def test_check_config_prints_no_credentials(tmp_path: Path) -> None:
    text = (
        config(tmp_path, "")
        .read_text()
        .replace("[store]\n", f'[store]\nurl = "http://admin:{SECRET}@127.0.0.1:8086"\n')
    )
    (tmp_path / "c.toml").write_text(text)
    res = gw("check-config", str(tmp_path / "c.toml"))
    assert res.returncode == 0, res.stderr
    assert SECRET not in res.stdout + res.stderr and "admin:***@" in res.stdout


@pytest.mark.parametrize(
    ("body", "env", "key"),
    [
        ('[health]\nlisten = "nonsense"\n', {}, "health.listen"),
        ("[link]\nlos_threshold = 1e308\n", {}, "link.los_threshold"),
        ("", {"GROUNDWATCH_SOURCES": "[{not json"}, "GROUNDWATCH_SOURCES"),
    ],
)
def test_bad_settings_are_one_line_and_status_2(
    tmp_path: Path, body: str, env: dict[str, str], key: str
) -> None:
    cfg = config(tmp_path, body)
    one_clear_error(gw("check-config", str(cfg), env=env), key.split(".")[0])
    one_clear_error(gw("run", "--config", str(cfg), env=env), key.split(".")[0])


def test_report_into_an_unwritable_folder_blames_the_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    res = gw(
        "report",
        "--dictionary",
        str(DICTIONARY),
        "--session",
        "live",
        "--out",
        str(blocker / "reports"),
        "--influx",
        "http://127.0.0.1:9",
    )
    one_clear_error(res, "--out", str(blocker / "reports"))
    assert "InfluxDB" not in res.stderr


def test_decode_archive_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty-dir"
    empty.mkdir()
    one_clear_error(gw("decode", "--format", "archive", "--input", str(empty)), str(empty))
    damaged = tmp_path / "pass.gwa"
    damaged.write_bytes(b"GWARCHV0" + bytes(100))
    res = gw("decode", "--format", "archive", "--input", str(damaged))
    one_clear_error(res, str(damaged), "magic")
    res = gw("replay", "--dictionary", str(DICTIONARY), str(damaged))
    one_clear_error(res, str(damaged), "magic")


def test_replay_into_a_spool_in_use_is_refused(tmp_path: Path) -> None:
    cfg = config(tmp_path, "")
    recording = tmp_path / "frames.hex"
    recording.write_text("00" * 32 + "\n")
    running = Spool(tmp_path / "spool", 10**8)  # what a running `groundwatch run` holds
    running.open()
    try:
        res = gw("replay", "--config", str(cfg), str(recording), "--speed", "max")
        one_clear_error(res, "in use")
    finally:
        running.close()


def test_run_exits_non_zero_when_a_source_cannot_start(
    tmp_path: Path, influxd: ServiceHandle
) -> None:
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", port))
        cfg = config(
            tmp_path,
            f'[[sources]]\ntype = "udp"\nport = {port}\nstation = "gs1"\n'
            '[[alerts]]\ntype = "log"\n',
        )
        text = cfg.read_text().replace("[store]\n", f'[store]\nurl = "{influxd.url}"\n')
        cfg.write_text(text)
        res = gw("run", "--config", str(cfg), "--no-status")
    out = res.stdout + res.stderr
    assert res.returncode != 0, out
    assert "Traceback" not in out and "udp" in out, out


def test_run_logs_no_credentials(tmp_path: Path, influxd: ServiceHandle) -> None:
    port = free_port()  # nobody listens: the source keeps retrying and logs it
    cfg = config(
        tmp_path,
        f'[[sources]]\ntype = "mqtt"\nurl = "mqtt://gs:{SECRET}@127.0.0.1:{port}"\n'
        f'[[alerts]]\ntype = "mqtt"\nurl = "mqtt://gw:{SECRET}@127.0.0.1:{port}"\n',
    )
    cfg.write_text(
        cfg.read_text().replace(
            "[store]\n", f'[store]\nurl = "http://admin:{SECRET}@127.0.0.1:{influxd.port}"\n'
        )
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "groundwatch", "run", "--config", str(cfg), "-v"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    time.sleep(4)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert "unreachable" in out or "MQTT" in out, out
    assert SECRET not in out, out

    ack = gw("ack", "x1", "--by", "op1", "--mqtt", f"mqtt://op1:{SECRET}@127.0.0.1:{port}")
    assert ack.returncode == 1 and "Traceback" not in ack.stderr, ack.stderr
    assert SECRET not in ack.stdout + ack.stderr and "op1:***@" in ack.stderr


def test_check_config_checks_the_webhook_url(tmp_path: Path) -> None:
    cfg = config(tmp_path, f'[[alerts]]\ntype = "webhook"\nurl = "https://op:{SECRET}@:99"\n')
    res = gw("check-config", str(cfg))
    one_clear_error(res, "alerts[0].url")
    assert SECRET not in res.stdout + res.stderr
