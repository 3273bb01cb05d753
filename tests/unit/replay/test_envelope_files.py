"""Station envelopes as JSON lines: read by ``groundwatch decode`` and by replay."""

from __future__ import annotations

import io
import json
from pathlib import Path

from groundwatch.decoders.api import FramingDef
from groundwatch.decoders.decode_input import InputFormat, read_records
from groundwatch.model import ErtSource, RejectReason
from groundwatch.replay.detect import ReplayFormat, detect_format
from groundwatch.replay.recording import Recording
from groundwatch.sim.envelopes import Envelope, Radio, wrap

T0 = 1_790_000_000_000_000_000
S = 1_000_000_000


def envelope_file(path: Path, kind: Envelope, bad_line: bool = True) -> Path:
    lines = [wrap(kind, bytes([i]) * 16, "gs3", T0 + i * S, Radio())[0] for i in range(4)]
    if bad_line:
        lines.insert(2, b'{"frame": "not base64!"}')
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_decode_reads_groundwatch_envelopes_with_line_numbers(tmp_path: Path) -> None:
    data = envelope_file(tmp_path / "gs3.jsonl", Envelope.JSON).read_bytes()
    recs = list(read_records(io.BytesIO(data), InputFormat.JSON, FramingDef()))
    good = [r for r in recs if r.reason is None]
    bad = [r for r in recs if r.reason is not None]
    assert [r.ert_ns for r in good] == [T0 + i * S for i in range(4)]
    assert {r.station for r in good} == {"gs3"}
    assert good[0].meta is not None and good[0].meta.ert_source is ErtSource.STATION
    assert good[0].meta.rssi_dbm == -105.0
    assert [(r.reason, r.detail.split(":")[0]) for r in bad] == [
        (RejectReason.BAD_FRAME_FIELD, "line 3")
    ]


def test_replay_detects_and_reads_tinygs_lines(tmp_path: Path) -> None:
    path = envelope_file(tmp_path / "tinygs.jsonl", Envelope.TINYGS)
    assert detect_format(path) is ReplayFormat.TINYGS
    assert detect_format(envelope_file(tmp_path / "gw.jsonl", Envelope.JSON)) is ReplayFormat.JSON
    rec = Recording([path])
    frames = list(rec.frames())
    assert [f.ert_ns for f in frames] == [T0 + i * S for i in range(4)]
    assert {f.station for f in frames} == {"gs3"}
    assert all(f.meta is not None and f.meta.snr_db == 8.0 for f in frames)
    assert [(p.where, p.detail.split(" ")[0]) for p in rec.problems] == [
        ("line 3", "no")
    ]  # no "data"
    assert json.loads(path.read_text().splitlines()[0])["usec_time"] == T0 // 1000
