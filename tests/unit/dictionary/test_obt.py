"""Secondary-header time fields: the same arithmetic as groundwatch.decoders.timecodes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from groundwatch.decoders.api import DecodeError
from groundwatch.decoders.obt import CdsTime, CucTime
from groundwatch.decoders.timecodes import CCSDS_EPOCH_NS, J2000_EPOCH_NS


@given(
    st.integers(1, 4).flatmap(
        lambda c: st.tuples(
            st.just(c),
            st.integers(0, 3),
            st.integers(0, 2 ** (8 * c) - 1),
            st.integers(0, 2**24 - 1),
        )
    ),
    st.sampled_from([CCSDS_EPOCH_NS, J2000_EPOCH_NS]),
)
def test_cuc_fields_agree_with_timecodes(case: tuple[int, int, int, int], epoch: int) -> None:
    coarse_octets, fine_octets, coarse, fine = case
    fine %= 1 << (8 * fine_octets) if fine_octets else 1
    cuc = CucTime(coarse_octets, fine_octets, epoch)
    raws = [coarse, fine] if fine_octets else [coarse]
    assert cuc.to_ns(raws) == cuc.to_ns_via_timecodes(raws)
    assert cuc.from_ns(cuc.to_ns(raws)) == raws  # build -> decode gives the same fields


@given(st.integers(0, 2**16 - 1), st.integers(0, 86_399_999), st.integers(0, 999))
def test_cds_fields_round_trip(days: int, ms: int, us: int) -> None:
    cds = CdsTime(2, 2, CCSDS_EPOCH_NS)
    ns = cds.to_ns([days, ms, us])
    assert ns == CCSDS_EPOCH_NS + days * 86_400 * 10**9 + ms * 10**6 + us * 1000
    assert cds.from_ns(ns) == [days, ms, us]


@given(
    st.sampled_from([2, 3]).flatmap(
        lambda d: st.tuples(
            st.just(d),
            st.sampled_from([0, 2, 4]),
            st.integers(0, 2 ** (8 * d) - 1),
            # Milliseconds of day, and beyond a leap-second day's: both refuse those alike.
            st.one_of(st.integers(0, 86_400_999), st.integers(86_401_000, 2**32 - 1)),
            st.integers(0, 2**32 - 1),
        )
    ),
    st.sampled_from([CCSDS_EPOCH_NS, J2000_EPOCH_NS]),
)
def test_cds_fields_agree_with_timecodes(case: tuple[int, int, int, int, int], epoch: int) -> None:
    day_octets, subms_octets, days, ms, sub = case
    sub %= 1 << (8 * subms_octets) if subms_octets else 1
    cds = CdsTime(day_octets, subms_octets, epoch)
    raws = [days, ms, sub] if subms_octets else [days, ms]
    try:
        expected: int | str = cds.to_ns_via_timecodes(raws)
    except DecodeError as exc:
        expected = str(exc)
    try:
        got: int | str = cds.to_ns(raws)
    except DecodeError as exc:
        got = str(exc)
    assert got == expected
