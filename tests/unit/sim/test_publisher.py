"""The publisher without a broker: file output (hex, KISS, raw), the record, count limits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from groundwatch.decoders.dictionary import load_dictionary
from groundwatch.decoders.frame_decoder import FrameDecoder
from groundwatch.kiss import KissDecoder, KissFrame
from groundwatch.model import RawFrame
from groundwatch.mqtt_url import mqtt_connection
from groundwatch.sim.commands import make_scenario, register
from groundwatch.sim.framer import SimFramer
from groundwatch.sim.publisher import OutputFormat, PublisherSettings, SimPublisher

HERE = Path(__file__).parent
DEMO = HERE.parents[2] / "missions" / "demo-lander.yaml"


async def publish_to_files(tmp_path: Path, fmt: OutputFormat, **kw: object) -> Path:
    d = load_dictionary(DEMO)
    settings = PublisherSettings(
        mqtt_url=None,
        rate=0,
        record=tmp_path / "record.jsonl",
        output=tmp_path / f"frames.{fmt.value}",
        output_format=fmt,
        **kw,  # type: ignore[arg-type]
    )
    publisher = SimPublisher(
        make_scenario(d, "lunar-descent", variant="hakuto", seed=1),
        SimFramer(d, seed=1, start_ns=1_780_000_000_000_000_000),
        settings,
    )
    summary = await publisher.run()
    assert summary.frames == summary.published + summary.lost
    return tmp_path


async def test_hex_output_and_record_agree_with_the_decoder(tmp_path: Path) -> None:
    await publish_to_files(tmp_path, OutputFormat.HEX, speedup=40.0, stations=("gs1", "gs2"))
    d = load_dictionary(DEMO)
    decoder = FrameDecoder(d)
    frames = [bytes.fromhex(line) for line in (tmp_path / "frames.hex").read_text().split()]
    records = [json.loads(line) for line in (tmp_path / "record.jsonl").read_text().splitlines()]
    assert {r["station"] for r in records} == {"gs1", "gs2"}
    sent = [r for r in records if r["station"] == "gs1" and r["sent"]]
    assert len(sent) == len(frames) > 200
    assert any(not r["sent"] for r in records) and any(r["fate"] == "corrupted" for r in sent)
    for frame, rec in zip(frames, sent, strict=True):
        assert len(frame) == rec["length"] == 1115
        result = decoder.decode(RawFrame(frame, 0, "gs1"))
        expected = [p for p in rec["packets"] if p["expected"]]
        assert len(result.packets) == len(expected)
        for got, want in zip(result.packets, expected, strict=True):
            assert got.name == want["name"]
            assert got.header is not None and got.header.seq_count == want["seq_count"]
            assert {k: v.eng for k, v in got.params.items()} == want["values"]
    assert records[-1]["truth"]["agl_m"] < 2_000  # recorded right up to the impact


async def test_kiss_and_raw_outputs_carry_the_same_frames(tmp_path: Path) -> None:
    await publish_to_files(tmp_path / "k", OutputFormat.KISS, count=40, speedup=40.0)
    await publish_to_files(tmp_path / "r", OutputFormat.RAW, count=40, speedup=40.0)
    kiss = KissDecoder().feed((tmp_path / "k" / "frames.kiss").read_bytes())
    raw = (tmp_path / "r" / "frames.raw").read_bytes()
    assert all(isinstance(k, KissFrame) for k in kiss)
    assert len(kiss) == 40 == len(raw) // 1115
    assert b"".join(k.data for k in kiss if isinstance(k, KissFrame)) == raw


@pytest.fixture(autouse=True)
def _dirs(tmp_path: Path) -> None:
    (tmp_path / "k").mkdir()
    (tmp_path / "r").mkdir()


def test_mqtt_urls() -> None:
    assert mqtt_connection("mqtt://u:p%40ss@broker:1884") == {
        "hostname": "broker",
        "port": 1884,
        "username": "u",
        "password": "p@ss",
        "tls_context": None,
    }
    with pytest.raises(ValueError, match="scheme"):
        mqtt_connection("http://broker")


def test_simulate_command_writes_files_without_a_broker(tmp_path: Path) -> None:
    import typer

    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # a group, as in groundwatch's CLI
    out = tmp_path / "frames.hex"
    result = CliRunner().invoke(
        app,
        [
            "simulate",
            "--dictionary",
            str(DEMO),
            "--no-mqtt",
            "--count",
            "25",
            "--rate",
            "0",
            "--output",
            str(out),
            "--seed",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "25 frames (25 published" in result.output
    assert len(out.read_text().split()) == 25
    bad = CliRunner().invoke(app, ["simulate", "--dictionary", str(tmp_path / "none.yaml")])
    assert bad.exit_code == 2 and "error" in bad.output


def test_mqtts_urls_verify_the_server(tmp_path: Path) -> None:
    conn = mqtt_connection("mqtts://broker")
    assert conn["port"] == 8883
    ctx = conn["tls_context"]
    assert ctx.check_hostname and ctx.verify_mode.name == "CERT_REQUIRED"
    with pytest.raises(ValueError, match="plain connection"):
        mqtt_connection(f"mqtt://broker?ca={tmp_path}/ca.crt")
    with pytest.raises(ValueError, match="unknown parameter"):
        mqtt_connection("mqtts://broker?insecure=1")
