from __future__ import annotations

from pathlib import Path

from groundwatch.store.spool import Spool, unpack_lines


def test_append_peek_ack_oldest_first_and_segments_deleted(tmp_path: Path) -> None:
    s = Spool(tmp_path, budget_bytes=10_000_000, segment_bytes=200)
    for i in range(5):
        assert s.append_lines([f"m v={i}i {i}".encode(), b'm s="a\nb" 9'])
    assert s.records == 5 and s.lines == 10
    assert len(list(tmp_path.glob("*.seg"))) > 1
    for i in range(5):
        got = s.peek()
        assert got is not None
        rec, payload = got
        assert unpack_lines(payload) == [f"m v={i}i {i}".encode(), b'm s="a\nb" 9']
        s.ack(rec)
    assert s.records == 0 and s.size_bytes == 0
    assert list(tmp_path.glob("*.seg")) == []


def test_torn_tail_is_detected_and_truncated(tmp_path: Path) -> None:
    s = Spool(tmp_path, budget_bytes=10_000_000)
    s.append_lines([b"m v=1i 1"])
    s.append_lines([b"m v=2i 2"])
    s.close()
    seg = next(tmp_path.glob("*.seg"))
    data = seg.read_bytes()
    seg.write_bytes(data[:-3])  # the crash cut the last record short
    again = Spool(tmp_path, budget_bytes=10_000_000)
    again.open()
    assert again.records == 1 and again.torn_records == 1
    got = again.peek()
    assert got is not None and unpack_lines(got[1]) == [b"m v=1i 1"]
    assert again.append_lines([b"m v=3i 3"])  # appends after the repaired end
    again.close()
    third = Spool(tmp_path, budget_bytes=10_000_000)
    third.open()
    assert third.records == 2 and third.torn_records == 0


def test_crc_mismatch_in_the_last_record_is_dropped(tmp_path: Path) -> None:
    s = Spool(tmp_path, budget_bytes=10_000_000)
    s.append_lines([b"m v=1i 1"])
    s.append_lines([b"m v=2i 2"])
    s.close()
    seg = next(tmp_path.glob("*.seg"))
    data = bytearray(seg.read_bytes())
    data[-1] ^= 0xFF
    seg.write_bytes(bytes(data))
    again = Spool(tmp_path, budget_bytes=10_000_000)
    again.open()
    assert again.records == 1 and again.torn_records == 1


def test_budget_refuses_new_records_and_keeps_old_ones(tmp_path: Path) -> None:
    s = Spool(tmp_path, budget_bytes=300)
    accepted = 0
    while s.append_lines([b"x" * 50]):
        accepted += 1
    assert accepted >= 1 and s.size_bytes <= 300
    assert s.records == accepted
    assert s.append_lines([b"x" * 50], force=True)  # shutdown path: over budget on purpose
    assert s.records == accepted + 1


def test_a_second_open_of_a_spool_in_use_is_refused(tmp_path: Path) -> None:
    import pytest

    from groundwatch.store.spool import SpoolLocked

    first = Spool(tmp_path, budget_bytes=1000)
    first.open()
    with pytest.raises(SpoolLocked):
        Spool(tmp_path, budget_bytes=1000).open()
    first.close()
    second = Spool(tmp_path, budget_bytes=1000)
    second.open()  # free again once the owner closed (or died)
    second.close()
