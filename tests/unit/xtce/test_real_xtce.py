"""Real XTCE databases imported and decoded by ``groundwatch decode``, value for value
against space_packet_parser's reference decodes (raw and calibrated)."""

from __future__ import annotations

import gzip
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from groundwatch.decoders.api import Framing, FramingDef
from groundwatch.decoders.decode_cli import run_decode
from groundwatch.decoders.decode_input import InputFormat
from groundwatch.decoders.dictionary import load_dictionary

DATA = Path(__file__).resolve().parents[2] / "data"
XTCE = DATA / "xtce"


def unpack(source: Path, tmp: Path, name: str) -> Path:
    target = tmp / name
    with gzip.open(source, "rb") as src, target.open("wb") as out:
        shutil.copyfileobj(src, out)
    return target


def decode_lines(dictionary: Path, packets: Path) -> list[dict[str, Any]]:
    out = io.StringIO()
    summary = run_decode(
        out,
        io.BytesIO(),
        dictionary=load_dictionary(dictionary),
        framing=FramingDef(kind=Framing.NONE),
        fmt=InputFormat.RAW,
        input_path=packets,
    )
    assert summary.rejected == {}
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    return [line for line in lines if line["kind"] == "packet"]


def mismatches(decoded: list[dict[str, Any]], reference: list[dict[str, Any]]) -> list[str]:
    """Every difference (packet index, parameter, ours, theirs); names that the import gave
    to a second placement of a parameter (``NAME_1``) are the only extra ones allowed."""
    problems = []
    if len(decoded) != len(reference):
        problems.append(f"{len(decoded)} packets decoded, reference has {len(reference)}")
    for i, (ours, theirs) in enumerate(zip(decoded, reference, strict=False)):
        params = ours["parameters"]
        for name, ref in theirs.items():
            got = params.get(name)
            if got is None:
                problems.append(f"packet {i}: {name} missing")
                continue
            for key in ("raw", "eng"):
                if got[key] != ref[key]:
                    problems.append(f"packet {i}: {name}.{key} = {got[key]!r}, ref {ref[key]!r}")
        extra = [n for n in params if n not in theirs and n.rpartition("_")[0] not in theirs]
        if extra:
            problems.append(f"packet {i}: extra parameters {extra}")
    return problems


def check(dictionary: Path, packets: Path, reference: list[dict[str, Any]]) -> int:
    decoded = decode_lines(dictionary, packets)
    problems = mismatches(decoded, reference)
    assert not problems, f"{len(problems)} mismatches, first: {problems[:10]}"
    return sum(len(p) for p in reference)


def test_ctim_flight_telemetry(tmp_path: Path) -> None:
    xml = unpack(XTCE / "ctim_xtce_v1.xml.gz", tmp_path, "ctim.xml")
    packets = unpack(XTCE / "ctim_packets_sample.bin.gz", tmp_path, "ctim.bin")
    reference = json.loads(gzip.open(XTCE / "ctim_reference_sample.json.gz").read())
    assert check(xml, packets, reference) > 20_000
    layout = load_dictionary(xml).packet("APID_1_Packet")
    assert layout.fast is not None  # the import compiles to the same fast path as YAML


def test_idex_variable_length_waveforms(tmp_path: Path) -> None:
    xml = unpack(XTCE / "idex_combined_science_definition.xml.gz", tmp_path, "idex.xml")
    packets = unpack(XTCE / "idex_sciData_2023_052_14_45_05.gz", tmp_path, "idex.bin")
    reference = json.loads(gzip.open(XTCE / "idex_reference.json.gz").read())
    assert len(reference) == 78
    check(xml, packets, reference)


@pytest.mark.parametrize(
    "xml",
    [XTCE / "contrived_inheritance_structure.xml.gz", DATA / "jpss1/jpss1_geolocation_xtce_v1.xml"],
)
def test_jpss1_inheritance_and_plain(tmp_path: Path, xml: Path) -> None:
    if xml.suffix == ".gz":
        xml = unpack(xml, tmp_path, "jpss.xml")
    reference = json.loads(gzip.open(XTCE / "inheritance_reference_first1000.json.gz").read())
    stream = (DATA / "jpss1/J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1").read_bytes()
    packets = tmp_path / "jpss.bin"
    packets.write_bytes(stream[: 71 * len(reference)])
    check(xml, packets, reference)


def test_mismatches_are_found() -> None:
    """The comparison itself fails on a changed value, a missing and an extra parameter."""
    ref = [{"A": {"raw": 1, "eng": 1}, "B": {"raw": 2, "eng": "X"}}]
    ours = [{"parameters": {"A": {"raw": 1, "eng": 1.5}, "C": {"raw": 0, "eng": 0}}}]
    problems = mismatches(ours, ref)
    assert len(problems) == 3, problems


def test_ctim_packets_longer_than_their_containers(tmp_path: Path) -> None:
    """Real CTIM packets carry octets after what their XTCE container describes: imported
    with ``extra_octets: ignore`` they decode (and are counted); with ``reject`` they are
    rejected as ``length_mismatch`` naming both lengths."""
    from groundwatch.decoders.dictionary import compile_dictionary
    from groundwatch.decoders.schema import DictionaryModel
    from groundwatch.decoders.xtce_import import xtce_document

    xml = unpack(XTCE / "ctim_xtce_v1.xml.gz", tmp_path, "ctim.xml")
    packets = unpack(XTCE / "ctim_packets_sample.bin.gz", tmp_path, "ctim.bin")
    lenient = load_dictionary(xml)
    quiet = run_decode(
        io.StringIO(),
        io.BytesIO(),
        dictionary=lenient,
        framing=FramingDef(kind=Framing.NONE),
        fmt=InputFormat.RAW,
        input_path=packets,
    )
    assert quiet.packets == 49 and quiet.rejected == {}
    document = xtce_document(xml)
    document["extra_octets"] = "reject"
    strict = compile_dictionary(DictionaryModel.model_validate(document), str(xml), tmp_path)
    out = io.StringIO()
    summary = run_decode(
        out,
        io.BytesIO(),
        dictionary=strict,
        framing=FramingDef(kind=Framing.NONE),
        fmt=InputFormat.RAW,
        input_path=packets,
        show_rejected=True,
    )
    longer = summary.rejected.get("length_mismatch", 0)
    assert longer > 0 and summary.packets == 49 - longer
    assert "APID_1_Packet: layout covers 113 octets, the packet has 114" in out.getvalue()
    assert sum(lenient.packet(p.name).longer_packets for p in lenient.packets) == longer
