from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from groundwatch.model import Point
from groundwatch.store.lineprotocol import EncodeStats, encode_point, encode_points, parse_line


def test_escaping_of_names_tags_and_strings() -> None:
    p = Point(
        "my meas,x",
        {"st ation": "a=b,c d", "empty": ""},
        {"f k=": 'say "hi" \\ there', "n": 3, "b": True, "x": 1.5},
        1700000000123456789,
    )
    line = encode_point(p)
    assert line == (
        b"my\\ meas\\,x,st\\ ation=a\\=b\\,c\\ d "
        b'f\\ k\\=="say \\"hi\\" \\\\ there",n=3i,b=true,x=1.5 1700000000123456789'
    )


def test_nan_inf_and_huge_ints_are_dropped_and_counted() -> None:
    stats = EncodeStats()
    p = Point("m", {}, {"a": math.nan, "b": math.inf, "c": -math.inf, "d": 2**64, "ok": 1.0}, 5)
    assert encode_point(p, stats) == b"m ok=1.0 5"
    assert stats.fields_dropped == 4
    empty = Point("m", {}, {"a": math.nan}, 6)
    assert encode_points([empty], stats) == b""
    assert stats.points_dropped == 1


def test_a_point_without_fields_is_dropped_and_counted() -> None:
    # "m  7" (no field) is not line protocol: InfluxDB would refuse it.
    stats = EncodeStats()
    assert encode_points([Point("m", {"t": "x"}, {}, 7)], stats) == b""
    assert stats.points_dropped == 1


def test_floats_use_repr_not_g_format() -> None:
    for v in (0.1 + 0.2, 1e16, 5e-324, -0.0, 1.7976931348623157e308, 123456789.123456789):
        line = encode_point(Point("m", {}, {"v": v}, 1))
        assert line is not None
        parsed = parse_line(line).fields["v"]
        assert (
            isinstance(parsed, float)
            and parsed == v
            and math.copysign(1, parsed) == math.copysign(1, v)
        )


def test_lone_backslash_in_a_tag_becomes_slash() -> None:
    line = encode_point(Point("m", {"t": "ends\\", "u": "mid\\dle"}, {"v": 1}, 1))
    assert line == b"m,t=ends/,u=mid\\dle v=1i 1"


names = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\\\n"), min_size=1)
values = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.text(st.characters(blacklist_categories=["Cs"])),
)


@given(
    names,
    st.dictionaries(names, names, max_size=3),
    st.dictionaries(names, values, min_size=1, max_size=4),
    st.integers(0, 2**62),
)
def test_parse_reads_back_what_encode_wrote(
    meas: str, tags: dict[str, str], fields: dict[str, object], t: int
) -> None:
    line = encode_point(Point(meas, tags, fields, t))  # type: ignore[arg-type]
    assert line is not None
    parsed = parse_line(line)
    assert parsed.measurement == meas
    assert parsed.tags == {k: v for k, v in tags.items() if v != ""}
    assert parsed.fields == fields
    assert parsed.time_ns == t


_values = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
    st.text(max_size=12),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=6), _values, min_size=1, max_size=8))
def test_cached_template_writes_what_the_field_by_field_path_writes(
    fields: dict[str, object],
) -> None:
    """Templates (float/int/bool/str, enum labels included) are only a faster way to the
    same line: compare with the per-field formatting, first use and cached use."""
    from groundwatch.store.lineprotocol import LineEncoder, escape_key, format_field_value

    p = Point("m", {"a": "b"}, fields, 1)  # type: ignore[arg-type]
    want = (
        "m,a=b "
        + ",".join(f"{escape_key(k)}={format_field_value(v)}" for k, v in fields.items())  # type: ignore[arg-type]
        + " 1"
    ).encode()
    enc = LineEncoder()
    assert enc.encode(p) == want
    assert enc.encode(p) == want
