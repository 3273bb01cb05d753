"""Export to XTCE: every dictionary of the repository survives import(export(d)) with the
same decoded values, and space_packet_parser (an independent decoder) reads the demo
dictionary's export and decodes the simulator's packets to the same values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import space_packet_parser as spp
from typer.testing import CliRunner

from groundwatch.cli import app
from groundwatch.decoders.api import Framing, FramingDef
from groundwatch.decoders.dictionary import MissionDictionary, load_dictionary
from groundwatch.decoders.frame_decoder import FrameDecoder
from groundwatch.decoders.space_packet import build_space_packet
from groundwatch.model import RawFrame
from groundwatch.sim.scenario import GenericScenario

ROOT = Path(__file__).resolve().parents[3]
DICTIONARIES = [
    ROOT / "missions" / "demo-lander.yaml",
    ROOT / "tests" / "data" / "missions" / "jpss1.yaml",
    ROOT / "tests" / "data" / "missions" / "cygnss.yaml",
]
runner = CliRunner()


def simulated_packets(dictionary: MissionDictionary, ticks: int = 4) -> list[bytes]:
    scenario = GenericScenario(dictionary, seed=7)
    packets = []
    for n in range(ticks):
        tick = scenario.next_tick(1.0)
        assert tick is not None
        for values in tick.packets:
            layout = values.layout
            assert layout.apid is not None
            data = layout.build(values.eng, 10**18 + n)
            packets.append(
                build_space_packet(layout.apid, n, data, sec_hdr_flag=bool(layout.secondary_header))
            )
    return packets


def decoded(dictionary: MissionDictionary, packets: list[bytes]) -> list[dict[str, Any]]:
    decoder = FrameDecoder(dictionary, FramingDef(kind=Framing.NONE))
    out = []
    for packet in packets:
        result = decoder.decode(RawFrame(packet, 0, "gs", "test"))
        assert not result.rejections, result.rejections
        (p,) = result.packets
        values: dict[str, Any] = {}
        for name, v in p.params.items():  # arrays as NAME_0.., as XTCE has them
            if isinstance(v.raw, list):
                eng = v.eng if isinstance(v.eng, list) else [v.eng] * len(v.raw)
                pairs = enumerate(zip(v.raw, eng, strict=True))
                values.update({f"{name}_{i}": (r, e) for i, (r, e) in pairs})
            else:
                values[name] = (v.raw, v.eng)
        out.append(values)
    return out


def export(source: Path, tmp_path: Path) -> Path:
    target = tmp_path / f"{source.stem}.xml"
    result = runner.invoke(app, ["dictionary", "export", str(source), "--xtce", str(target)])
    assert result.exit_code == 0, result.output
    return target


@pytest.mark.parametrize("source", DICTIONARIES, ids=lambda p: p.stem)
def test_round_trip_decodes_identically(source: Path, tmp_path: Path) -> None:
    original = load_dictionary(source)
    again = load_dictionary(export(source, tmp_path))
    packets = simulated_packets(original)
    derived = {p.name for p in original.parameters() if p.type == "derived"}
    mismatches = []
    for i, (ours, theirs) in enumerate(
        zip(decoded(original, packets), decoded(again, packets), strict=True)
    ):
        for name, value in ours.items():
            if name not in derived and theirs.get(name) != value:
                mismatches.append((i, name, value, theirs.get(name)))
    assert not mismatches, f"{len(mismatches)} mismatches: {mismatches[:5]}"


def test_space_packet_parser_reads_the_demo_export(tmp_path: Path) -> None:
    source = DICTIONARIES[0]
    dictionary = load_dictionary(source)
    definition = spp.XtcePacketDefinition.from_xtce(export(source, tmp_path))
    packets = simulated_packets(dictionary)
    compared, mismatches = 0, []
    for i, (packet, ours) in enumerate(zip(packets, decoded(dictionary, packets), strict=True)):
        theirs = definition.parse_bytes(packet)
        for name, (raw, eng) in ours.items():
            if name not in theirs:
                continue  # derived parameters: not in XTCE
            value = theirs[name]
            got = (value.raw_value, value)
            if got[0] != raw or (got[1] != eng and got[1] != pytest.approx(eng, rel=1e-12)):
                mismatches.append((i, name, (raw, eng), got))
            compared += 1
    assert not mismatches, f"{len(mismatches)} mismatches: {mismatches[:5]}"
    assert compared > 200


def test_round_trip_of_imported_xtce_on_real_packets(tmp_path: Path) -> None:
    """CTIM (38 packets, ~9,500 parameters) and IDEX: XTCE -> YAML -> XTCE -> layouts."""
    from groundwatch.decoders.space_packet import iter_space_packets
    from tests.unit.xtce.test_real_xtce import XTCE, unpack

    cases = [
        ("ctim_xtce_v1.xml.gz", "ctim_packets_sample.bin.gz"),
        ("idex_combined_science_definition.xml.gz", "idex_sciData_2023_052_14_45_05.gz"),
    ]
    for xml_name, packets_name in cases:
        xml = unpack(XTCE / xml_name, tmp_path, xml_name[:-3])
        yaml_file = tmp_path / f"{xml.stem}.yaml"
        result = runner.invoke(app, ["dictionary", "import", str(xml), "--out", str(yaml_file)])
        assert result.exit_code == 0, result.output
        original, again = load_dictionary(xml), load_dictionary(export(yaml_file, tmp_path))
        stream = unpack(XTCE / packets_name, tmp_path, "packets.bin").read_bytes()
        packets = [p.to_bytes() for p in iter_space_packets(stream)]
        assert decoded(original, packets) == decoded(again, packets), xml_name


def test_conditional_fields_round_trip(tmp_path: Path) -> None:
    source = tmp_path / "cond.yaml"
    source.write_text(
        "mission: m\nframing: {kind: none}\npackets:\n"
        "  - name: event\n    apid: 15\n    parameters:\n"
        "      - {name: kind, type: uint8}\n"
        "      - {name: temp, type: int16, present_if: 'kind >= 1 and kind != 3'}\n"
        "      - {name: crc, type: uint16}\n"
    )
    original, again = load_dictionary(source), load_dictionary(export(source, tmp_path))
    packets = [
        build_space_packet(15, 0, data)
        for data in (b"\x00\xbe\xef", b"\x01\xff\x38\xbe\xef", b"\x03\xbe\xef")
    ]
    for ours, theirs in zip(decoded(original, packets), decoded(again, packets), strict=True):
        assert ours.items() <= theirs.items()  # the export adds the header parameters
        assert ("temp" in ours) == ("temp" in theirs)
    assert [("temp" in p) for p in decoded(again, packets)] == [False, True, False]
