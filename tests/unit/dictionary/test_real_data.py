"""Recorded packets of real missions decode to the independent reference decodes.

Dictionaries: ``tests/data/missions/`` (JPSS-1 and Europa Clipper written from their
definitions, CYGNSS generated from its CSVs). References: ``tests/data/reference/``
(made with ccsdspy and space_packet_parser, see ``tests/data/README.md``).
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from groundwatch.decoders.crc import crc16_ccitt
from groundwatch.decoders.dictionary import MissionDictionary, load_dictionary
from groundwatch.decoders.layout import CompiledLayout
from groundwatch.decoders.space_packet import SpacePacket, iter_space_packets
from groundwatch.model import ParamValue

DATA = Path(__file__).resolve().parents[2] / "data"
MISSIONS = DATA / "missions"
REFERENCE = DATA / "reference"
CYGNSS_STREAM = DATA / "cygnss" / "CYGNSS_F7_L0_2022_086_10_15_V01_F__first101pkts.tlm"
JPSS_FILE = DATA / "jpss1" / "J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1"
EUROPA_FILE = DATA / "europa_clipper" / "apid01227.tlm"


def packets(path: Path) -> list[SpacePacket]:
    return list(iter_space_packets(path.read_bytes()))


def reference(name: str) -> Any:
    return json.loads((REFERENCE / name).read_text())


def decode(mission: MissionDictionary, packet: SpacePacket) -> tuple[dict[str, ParamValue], Any]:
    layout = mission.packet_for(packet.header.apid, packet.data_field)
    assert layout is not None, packet.header.apid
    return layout.decode(packet.data_field)


def assert_same(got: Any, expected: Any, name: str) -> None:
    if isinstance(expected, float):
        # float32 values: the reference printed them as doubles, exactly.
        assert got == expected or math.isclose(got, expected, rel_tol=0, abs_tol=0), name
    else:
        assert got == expected, name


def assert_round_trips(layout: CompiledLayout, data_field: bytes) -> None:
    """Fast path == Construct on real bytes, and the layout rebuilds them exactly."""
    raws = layout.construct_raws(data_field)
    if layout.fast is not None:
        assert layout.fast.raws(data_field) == raws
    assert layout.build_raws(raws) == data_field


# -- JPSS-1 -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jpss() -> MissionDictionary:
    return load_dictionary(MISSIONS / "jpss1.yaml")


def test_jpss1_matches_ccsdspy_first_three_packets(jpss: MissionDictionary) -> None:
    expected = reference("jpss1_geolocation.json")["ccsdspy_first3"]
    recorded = packets(JPSS_FILE)
    for index in range(3):
        params, _ = decode(jpss, recorded[index])
        for name, values in expected.items():
            assert_same(params[name].eng, values[index], name)


def test_jpss1_matches_space_packet_parser_rows(jpss: MissionDictionary) -> None:
    ref = reference("jpss1_geolocation.json")
    recorded = packets(JPSS_FILE)
    assert len(recorded) == ref["n_packets"] == 7200
    header_names = {
        "VERSION": "version", "TYPE": "type", "SEC_HDR_FLG": "sec_hdr_flag",
        "PKT_APID": "apid", "SEQ_FLGS": "seq_flags", "SRC_SEQ_CTR": "seq_count",
        "PKT_LEN": "data_length",
    }  # fmt: skip
    for index, row in zip([0, 1, 2, 7199], ref["space_packet_parser_rows_0_1_2_7199"], strict=True):
        packet = recorded[index]
        params, obt = decode(jpss, packet)
        for name, value in row.items():
            if name in header_names:
                assert getattr(packet.header, header_names[name]) == value, name
            else:
                assert_same(params[name].eng, value, name)
        # On-board time from the CDS secondary header: days since 1958, ms, µs.
        expected_obt = (
            (row["DOY"] * 86_400 - 378_691_200) * 10**9 + row["MSEC"] * 10**6 + row["USEC"] * 1000
        )
        assert obt == expected_obt


def test_jpss1_every_packet_decodes_and_round_trips(jpss: MissionDictionary) -> None:
    layout = jpss.packet("geolocation")
    for packet in packets(JPSS_FILE)[::50]:
        params, _ = layout.decode(packet.data_field)
        assert params["ADAESCID"].eng == 159
        # the derived position norm puts the spacecraft in low Earth orbit (~824 km)
        assert 7.1e6 < params["position_norm"].eng < 7.3e6
        assert_round_trips(layout, packet.data_field)


# -- Europa Clipper -----------------------------------------------------------------


def test_europa_clipper_1227_matches_ccsdspy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROUNDWATCH_ALLOW_PYTHON_LAYOUTS", "1")  # its layout is Python
    mission = load_dictionary(MISSIONS / "europa_clipper.yaml")
    expected = reference("europa_clipper_apid01227_ccsdspy.json")
    recorded = packets(EUROPA_FILE)
    assert len(recorded) == len(expected["CCSDS_APID"]) == 22
    layout = mission.packet("ecm_high_rate")
    for index, packet in enumerate(recorded):
        params, obt = decode(mission, packet)
        assert packet.header.apid == expected["CCSDS_APID"][index]
        assert packet.header.seq_count == expected["CCSDS_SEQUENCE_COUNT"][index]
        for name, values in expected.items():
            if not name.startswith("CCSDS_"):
                assert params[name].eng == values[index], name
        # the trailing PEC is the CRC-16/CCITT-FALSE of everything before it
        assert crc16_ccitt(packet.to_bytes()[:-2]) == params["PEC_CRC16_CCITT"].raw
        sclk = params["SCLK_sec"].raw + params["SCLK_subsec"].raw / 65536
        assert obt == pytest.approx((1_262_304_000 + sclk) * 1e9, abs=1e3)
        assert_round_trips(layout, packet.data_field)
    assert len(layout.parameters) == 2 + 1 + 480 + 16 + 2


# -- CYGNSS -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cygnss() -> MissionDictionary:
    return load_dictionary(MISSIONS / "cygnss.yaml")


def test_cygnss_yaml_is_generated_from_the_csvs() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "cygnss_from_csv", MISSIONS / "cygnss_from_csv.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.generate() == (MISSIONS / "cygnss.yaml").read_text()


def test_cygnss_stream_splits_by_apid_like_the_reference(cygnss: MissionDictionary) -> None:
    headers = reference("space_packet_headers_ccsdspy.json")
    stream = packets(CYGNSS_STREAM)
    assert len(stream) == headers[f"space_packets/ccsdspy_cygnss/{CYGNSS_STREAM.name}"]["packets"]
    split: dict[int, bytes] = defaultdict(bytes)
    names: Counter[str] = Counter()
    for packet in stream:
        layout = cygnss.packet_for(packet.header.apid, packet.data_field)
        assert layout is not None and layout.apid == packet.header.apid
        names[layout.name] += 1
        split[packet.header.apid] += packet.to_bytes()
    for apid, data in split.items():
        key = f"space_packets/ccsdspy_cygnss/apid{apid:05d}.tlm"
        assert data == (DATA / "cygnss" / f"apid{apid:05d}.tlm").read_bytes()
        assert sum(1 for _ in iter_space_packets(data)) == headers[key]["packets"]
    assert set(split) == set(headers[f"space_packets/ccsdspy_cygnss/{CYGNSS_STREAM.name}"]["apids"])
    assert names["ENG_ADCSIO"] == 40 and names["ENG_PVT"] == 39


def test_cygnss_every_packet_decodes_to_consistent_values(cygnss: MissionDictionary) -> None:
    checked = 0
    for packet in packets(CYGNSS_STREAM):
        layout = cygnss.packet_for(packet.header.apid, packet.data_field)
        assert layout is not None
        params, obt = layout.decode(packet.data_field)
        assert obt is None  # CYGNSS's UTC header is not a CCSDS time code: kept as fields
        assert_round_trips(layout, packet.data_field)
        prefix = layout.name
        if prefix != "ENG_FILL":  # the fill packet carries a zero header
            # recorded on 2022 day 84, 21:43-21:44 UTC (played back on day 86)
            assert params[f"{prefix}_HDR_YEAR"].eng == 2022
            assert params[f"{prefix}_HDR_DAY"].eng == 84
            assert params[f"{prefix}_HDR_HOUR"].eng == 21
            assert params[f"{prefix}_HDR_MIN"].eng in (43, 44)
        checksum = params.get(f"{prefix}_CKSUM")
        if checksum is not None:
            # "Sum of all prior bytes (including headers)": proves every field's offset.
            assert checksum.raw == sum(packet.to_bytes()[:-2]) & 0xFFFF
            checked += 1
    assert checked == 101  # every packet, the fill packet included, ends in a checksum


def test_cygnss_linear_conversions_become_calibrations(cygnss: MissionDictionary) -> None:
    adcs = cygnss.packet("ENG_ADCS")
    cal = adcs.meta("ADCS_FSW_OMEGAB1").calibration
    assert cal is not None and cal.to_eng(1.0) == pytest.approx(57.29577951)
    stream = [p for p in packets(CYGNSS_STREAM) if p.header.apid == 392]
    params, _ = adcs.decode(stream[0].data_field)
    rate = params["ADCS_FSW_OMEGAB1"]
    assert rate.eng == pytest.approx(rate.raw * 57.29577951) and rate.unit == "deg/s"
