"""Archive record version 2: frames with station metadata; version 1 files still read."""

from __future__ import annotations

from pathlib import Path

from groundwatch.archive.format import VERSION, VERSION_META, encode_record
from groundwatch.archive.reader import ArchiveReader, list_passes
from groundwatch.archive.writer import FrameArchive
from groundwatch.model import ErtSource, FrameMeta, RawFrame, bounded_extra

DATA = Path(__file__).resolve().parents[2] / "data" / "archive"
T0 = 1_790_000_000_000_000_000
S = 1_000_000_000


def _meta(i: int) -> FrameMeta:
    return FrameMeta(
        ErtSource.STATION,
        station_ert_ns=T0 + i * S,
        receipt_ns=T0 + i * S + 250_000_000,
        rssi_dbm=-110.5 + i,
        snr_db=7.25,
        freq_offset_hz=-1234.0,
        crc_ok=True,
        frequency_hz=437.5e6,
        extra=bounded_extra({"mode": "LoRa", "norad": 99999}.items()),
    )


def test_version_1_file_from_before_metadata_still_reads() -> None:
    path = DATA / "version1_lander-gs1.gwa"
    reader = ArchiveReader([path])
    frames = [f for f, _ in reader]
    assert reader.problems == []
    assert [f.data for f in frames] == [bytes([i]) * 12 for i in range(5)]
    assert [f.ert_ns for f in frames] == [T0 + i * S for i in range(5)]
    assert {f.station for f in frames} == {"gs1"}
    assert all(f.meta is None for f in frames)
    assert list_passes(DATA)[0].frames == 5


def test_frames_with_metadata_round_trip_beside_bare_frames(tmp_path: Path) -> None:
    a = FrameArchive(tmp_path)
    written = []
    for i in range(6):
        meta = _meta(i) if i % 2 == 0 else None
        f = RawFrame(bytes([i]) * 20, T0 + i * S, "gs1", "live", "mqtt", meta=meta)
        a.append(f, "lander-gs1")
        written.append(f)
    a.close()
    read = [f for f, _ in ArchiveReader(a.files())]
    assert read == written
    assert read[0].meta is not None and read[0].meta.extra == (("mode", "LoRa"), ("norad", "99999"))


def test_record_versions_on_disk() -> None:
    bare = encode_record(RawFrame(b"x", T0, "gs1"))
    with_meta = encode_record(RawFrame(b"x", T0, "gs1", meta=_meta(0)))
    assert bare[2] == VERSION and with_meta[2] == VERSION_META


def test_damaged_metadata_record_is_skipped_and_the_next_one_found(tmp_path: Path) -> None:
    a = FrameArchive(tmp_path)
    for i in range(3):
        a.append(RawFrame(bytes([i]) * 8, T0 + i * S, "gs1", meta=_meta(i)), "l")
    a.close()
    path = a.files()[0]
    raw = bytearray(path.read_bytes())
    first = raw.index(b"GW\x02")
    raw[first + 30] ^= 0xFF  # inside the first record's body: its CRC no longer matches
    path.write_bytes(bytes(raw))
    reader = ArchiveReader([path])
    frames = [f for f, _ in reader]
    assert [f.data for f in frames] == [bytes([1]) * 8, bytes([2]) * 8]
    assert [p.kind for p in reader.problems] == ["corrupt"]


def test_extras_are_bounded() -> None:
    extra = bounded_extra((f"k{i}", "v" * 1000) for i in range(100))
    assert len(extra) == 16
    assert all(len(v) == 256 for _, v in extra)


def test_replay_reads_a_version_1_file() -> None:
    from groundwatch.replay.detect import ReplayFormat
    from groundwatch.replay.recording import Recording

    rec = Recording([DATA / "version1_lander-gs1.gwa"])
    assert rec.format is ReplayFormat.ARCHIVE
    frames = list(rec.frames())
    assert [(f.ert_ns, f.station, f.meta) for f in frames] == [
        (T0 + i * S, "gs1", None) for i in range(5)
    ]
    assert rec.problems == []


def test_extras_that_are_not_utf_8_are_archived(tmp_path: Path) -> None:
    # JSON's \ud800 escape reads as a lone surrogate, which UTF-8 cannot encode
    extra = bounded_extra([("\ud800key", "value \udfff"), ("nested", {"a": "\ud83d"})])
    meta = FrameMeta(ErtSource.RECEIPT, receipt_ns=T0, extra=extra)
    archive = FrameArchive(tmp_path)
    assert archive.append(RawFrame(b"\x01\x02", T0, "gs1", meta=meta), "sc-gs1") is not None
    archive.close()
    ((frame, _),) = list(ArchiveReader(archive.files()))
    assert frame.data == b"\x01\x02" and frame.meta is not None
    assert frame.meta.extra[0] == ("?key", "value ?")
