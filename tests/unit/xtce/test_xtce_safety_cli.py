"""XTCE input is untrusted: entities, DTDs and huge files are refused; unsupported elements
are named with their line; ``groundwatch dictionary`` commands report and exit 2."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from groundwatch.cli import app
from groundwatch.decoders import xtce_import
from groundwatch.decoders.api import DictionaryError
from groundwatch.decoders.dictionary import load_dictionary
from groundwatch.decoders.xtce_import import MAX_XTCE_BYTES
from groundwatch.decoders.xtce_types import XtceError

DATA = Path(__file__).resolve().parents[2] / "data"
JPSS = DATA / "jpss1" / "jpss1_geolocation_xtce_v1.xml"
NS = 'xmlns:xtce="http://www.omg.org/spec/XTCE/20180204"'


def test_external_entity_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret")
    doc = tmp_path / "evil.xml"
    doc.write_text(
        f'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file://{secret}">]>\n'
        f'<xtce:SpaceSystem {NS} name="&e;"/>'
    )
    with pytest.raises(DictionaryError, match="DOCTYPE") as exc:
        load_dictionary(doc)
    assert "s3cret" not in str(exc.value)


def test_billion_laughs_is_refused(tmp_path: Path) -> None:
    entities = '<!ENTITY a0 "lol">' + "".join(
        f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10)
    )
    doc = tmp_path / "laughs.xml"
    doc.write_text(f'<!DOCTYPE x [{entities}]>\n<xtce:SpaceSystem {NS} name="&a9;"/>')
    with pytest.raises(DictionaryError, match="DOCTYPE"):
        load_dictionary(doc)


def test_huge_file_is_refused_before_parsing(tmp_path: Path) -> None:
    doc = tmp_path / "huge.xml"
    with doc.open("wb") as out:
        out.truncate(MAX_XTCE_BYTES + 1)  # sparse: no disk used
    with pytest.raises(DictionaryError, match="larger than"):
        load_dictionary(doc)


def test_unsupported_element_is_named_with_its_line(tmp_path: Path) -> None:
    text = JPSS.read_text()
    marker = '<xtce:ParameterRefEntry parameterRef="ADAESCID"/>'
    assert marker in text
    broken = text.replace(
        marker,
        '<xtce:ParameterRefEntry parameterRef="ADAESCID">\n<xtce:RepeatEntry/>'
        "</xtce:ParameterRefEntry>",
    )
    line = broken[: broken.index("<xtce:RepeatEntry")].count("\n") + 1
    doc = tmp_path / "jpss.xml"
    doc.write_text(broken)
    with pytest.raises(DictionaryError, match=rf"<RepeatEntry> \(line {line}\)"):
        load_dictionary(doc)


def test_include_condition(tmp_path: Path) -> None:
    """IncludeCondition: the entry is read only when its comparisons hold (raw values)."""
    packet = (DATA / "jpss1/J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1").read_bytes()[:71]
    full = load_dictionary(JPSS).packet("JPSS_ATT_EPHEM").decode(packet)[0]
    scid = full["ADAESCID"].raw
    text = JPSS.read_text()
    marker = '<xtce:ParameterRefEntry parameterRef="ADGPSPOSX"/>'
    for value, present in ((scid, True), (scid + 1, False)):
        doc = tmp_path / f"jpss_{value}.xml"
        doc.write_text(
            text.replace(
                marker,
                '<xtce:ParameterRefEntry parameterRef="ADGPSPOSX"><xtce:IncludeCondition>'
                f'<xtce:Comparison parameterRef="ADAESCID" value="{value}" '
                'useCalibratedValue="false"/></xtce:IncludeCondition></xtce:ParameterRefEntry>',
            )
        )
        layout = load_dictionary(doc).packet("JPSS_ATT_EPHEM")
        assert layout.fast is None
        params = layout.decode(packet)[0]
        assert ("ADGPSPOSX" in params) is present
        if present:
            assert dict(params) == dict(full)
    empty = tmp_path / "empty.xml"
    empty.write_text(
        text.replace(marker, marker[:-2] + "><xtce:IncludeCondition/></xtce:ParameterRefEntry>")
    )
    with pytest.raises(DictionaryError, match=r"<IncludeCondition>.*needs a Comparison"):
        load_dictionary(empty)


def test_arrays(tmp_path: Path) -> None:
    """ArrayParameterType (one fixed dimension) is a parameter with ``count``."""
    text = JPSS.read_text()
    array_type = (
        '<xtce:ArrayParameterType name="QUAT_Type" arrayTypeRef="ADCFAQ_Type"><xtce:DimensionList>'
        "<xtce:Dimension><xtce:StartingIndex><xtce:FixedValue>0</xtce:FixedValue>"
        "</xtce:StartingIndex><xtce:EndingIndex><xtce:FixedValue>3</xtce:FixedValue>"
        "</xtce:EndingIndex></xtce:Dimension></xtce:DimensionList></xtce:ArrayParameterType>"
    )
    text = text.replace("</xtce:ParameterTypeSet>", array_type + "</xtce:ParameterTypeSet>")
    text = text.replace(
        "</xtce:ParameterSet>",
        '<xtce:Parameter name="QUAT" parameterTypeRef="QUAT_Type"/></xtce:ParameterSet>',
    )
    for n in (2, 3, 4):
        text = text.replace(f'<xtce:ParameterRefEntry parameterRef="ADCFAQ{n}"/>', "")
    text = text.replace(
        '<xtce:ParameterRefEntry parameterRef="ADCFAQ1"/>',
        '<xtce:ParameterRefEntry parameterRef="QUAT"/>',
    )
    doc = tmp_path / "array.xml"
    doc.write_text(text)
    packet = (DATA / "jpss1/J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1").read_bytes()[:71]
    plain = load_dictionary(JPSS).packet("JPSS_ATT_EPHEM").decode(packet)[0]
    layout = load_dictionary(doc).packet("JPSS_ATT_EPHEM")
    assert layout.fast is not None
    quat = layout.decode(packet)[0]["QUAT"]
    assert quat.eng == [plain[f"ADCFAQ{n}"].eng for n in (1, 2, 3, 4)]


def test_import_check_show_commands(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "jpss.yaml"
    result = runner.invoke(app, ["dictionary", "import", str(JPSS), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 packets, 27 parameters" in result.output
    imported, original = load_dictionary(out), load_dictionary(JPSS)
    packet = (DATA / "jpss1/J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1").read_bytes()[:71]
    layout_a, layout_b = imported.packet("JPSS_ATT_EPHEM"), original.packet("JPSS_ATT_EPHEM")
    assert dict(layout_a.decode(packet)[0]) == dict(layout_b.decode(packet)[0])
    check = runner.invoke(app, ["dictionary", "check", str(out)])
    assert check.exit_code == 0 and "JPSS_ATT_EPHEM: apid 11, 27 parameters" in check.output
    show = runner.invoke(app, ["dictionary", "show", str(JPSS), "--packet", "JPSS_ATT_EPHEM"])
    assert show.exit_code == 0 and "ADGPSPOSX" in show.output and "float32" in show.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "mission: m\npackets:\n  - {name: p, apid: 1, parameters: [{name: x, type: u99}]}\n"
    )
    failed = runner.invoke(app, ["dictionary", "check", str(bad)])
    assert failed.exit_code == 2
    assert f"{bad}: packet p: parameter x: integer width 99" in failed.output


def test_check_config_loads_an_xtce_dictionary_and_says_what_it_loaded(tmp_path: Path) -> None:
    config = tmp_path / "gw.toml"
    config.write_text(f'[mission]\ndictionary = "{JPSS}"\n')
    result = CliRunner().invoke(app, ["check-config", str(config)])
    assert result.exit_code == 0, result.output
    assert (
        f"dictionary {JPSS}: mission JPSS_Geolocation_Packets, framing none, 1 packets, "
        "27 parameters, 0 with limits" in result.output
    )


def test_format_xtce_reads_any_file_name(tmp_path: Path) -> None:
    renamed = tmp_path / "jpss.dict"
    renamed.write_bytes(JPSS.read_bytes())
    config = tmp_path / "gw.toml"
    config.write_text(f'[mission]\ndictionary = "{renamed}"\nformat = "xtce"\n')
    result = CliRunner().invoke(app, ["check-config", str(config)])
    assert result.exit_code == 0, result.output
    assert "mission JPSS_Geolocation_Packets" in result.output


def test_a_stream_without_a_size_is_read_no_further_than_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a named pipe (or /dev/zero) has no size to check first: the read itself is bounded
    monkeypatch.setattr(xtce_import, "MAX_XTCE_BYTES", 1024)
    fifo = tmp_path / "stream.xml"
    os.mkfifo(fifo)
    writer = threading.Thread(target=fifo.write_bytes, args=(b" " * 4096,))
    writer.start()
    try:
        with pytest.raises(XtceError, match="larger than"):
            xtce_import.parse_xml(fifo)
    finally:
        writer.join(timeout=10)
