"""Station envelopes: groundwatch and TinyGS JSON, MQTT 5 properties, each bad input's reason."""

from __future__ import annotations

import base64
import contextlib
import io
import json

import pytest

from groundwatch import envelope
from groundwatch.envelope import EnvelopeError, EnvelopeReader, EnvelopeSettings, parse_ert
from groundwatch.ingest.station_time import EnvelopeFrames, StationTime
from groundwatch.model import ERT_MIN_SPACING_NS, ErtSource, RawFrame, RejectedInput, RejectReason

S = 1_000_000_000
T0 = 1_790_000_000_000_000_000  # 2026-09-21T14:13:20Z
FRAME = bytes(range(40))


def reader(**kw: object) -> EnvelopeReader:
    return EnvelopeReader(EnvelopeSettings.model_validate(kw))


def gw(**fields: object) -> bytes:
    return json.dumps({"frame": base64.b64encode(FRAME).decode(), **fields}).encode()


def test_groundwatch_json_envelope() -> None:
    env = reader(payload="json").read(
        gw(
            ert="2026-09-21T14:13:20.123456789Z",
            station="gs7",
            rssi_dbm=-112.5,
            snr_db=6,
            freq_offset_hz=-850.0,
            crc_ok=True,
            extra={"azimuth": 120},
            antenna="yagi",
        )
    )
    assert env.data == FRAME
    assert env.ert_ns == T0 + 123_456_789
    assert env.station == "gs7"
    m = env.meta
    assert (m.rssi_dbm, m.snr_db, m.freq_offset_hz, m.crc_ok) == (-112.5, 6.0, -850.0, True)
    assert dict(m.extra) == {"azimuth": "120", "antenna": "yagi"}


def test_groundwatch_json_hex_frame_and_integer_ns() -> None:
    payload = json.dumps({"frame_hex": FRAME.hex(), "ert": T0 + 7}).encode()
    env = reader(payload="json").read(payload)
    assert (env.data, env.ert_ns) == (FRAME, T0 + 7)


def test_rfc3339_offsets_and_precision() -> None:
    assert parse_ert("2026-09-21T16:13:20+02:00") == T0
    assert parse_ert("2026-09-21T14:13:20.5Z") == T0 + S // 2
    assert parse_ert("1970-01-01T00:00:00Z") == 0


def test_ert_in_a_minute_already_read_is_read_the_same() -> None:
    # The second read of a minute takes the short path: same value, same errors.
    for _ in range(2):
        assert parse_ert("2026-09-21T14:13:20.000000001Z") == T0 + 1
        assert parse_ert("2026-09-21T14:13:59+00:30") == T0 + 39 * S - 1800 * S
        assert parse_ert(" 2026-09-21T14:13:20Z ") == T0
        for bad in ("2026-09-21T14:13:2Z", "2026-09-21T14:13:20.Z", "2026-09-21T14:13:20"):
            with pytest.raises(EnvelopeError) as exc:
                parse_ert(bad)
            assert exc.value.reason is RejectReason.BAD_ERT
            assert "is not a time" in exc.value.detail


@pytest.mark.parametrize(
    "bad",
    [
        "2026-09-21T14:99:20Z",  # minute
        "2026-09-21T14:13:61Z",  # second (60 is a leap second)
        "2026-09-21T24:13:20Z",  # hour
        "2026-02-30T14:13:20Z",  # no such day in February
        "2026-09-21T14:13:20+24:00",  # offset hours
        "2026-09-21T14:13:20+02:60",  # offset minutes
    ],
)
def test_an_rfc3339_field_out_of_range_is_a_bad_ert(bad: str) -> None:
    for _ in range(2):  # also once its minute is known (the short path)
        with contextlib.suppress(EnvelopeError):  # its minute, when that is valid
            parse_ert(bad[:16] + ":00Z")
        with pytest.raises(EnvelopeError) as exc:
            parse_ert(bad)
        assert exc.value.reason is RejectReason.BAD_ERT


def test_a_leap_second_is_read() -> None:
    assert parse_ert("2016-12-31T23:59:60Z") == parse_ert("2017-01-01T00:00:00Z")


@pytest.mark.parametrize(
    "payload", [b'{"a": 1} x', b'{"a": 1}{}', b'{"a": }', b'{"a": 1', b"{", b" {x"]
)
def test_bad_json_is_rejected_with_the_json_module_error(payload: bytes) -> None:
    with pytest.raises(ValueError) as parsed:
        json.loads(payload)
    with pytest.raises(EnvelopeError) as exc:
        reader(payload="json").read(payload)
    assert exc.value.reason is RejectReason.BAD_ENVELOPE
    assert exc.value.detail == f"not JSON: {parsed.value}"


def test_json_envelope_with_surrounding_whitespace() -> None:
    env = reader(payload="json").read(b" \t" + gw(rssi_dbm=-99) + b"\r\n")
    assert env.data == FRAME and env.meta.rssi_dbm == -99.0


def test_tinygs_envelope() -> None:
    msg = {
        "data": base64.b64encode(FRAME).decode(),
        "usec_time": T0 // 1000 + 42,
        "unix_GS_time": T0 // S,
        "rssi": -118,
        "snr": -3.5,
        "frequency_error": 1210.4,
        "crc_error": False,
        "frequency": 437.25,
        "satellite": "Lander",
        "NORAD": 99999,
        "station_location": [40.1, -3.2],
        "mode": "LoRa",
    }
    env = reader(payload="json", json_preset="tinygs").read(json.dumps(msg).encode())
    assert env.data == FRAME
    assert env.ert_ns == T0 + 42_000
    m = env.meta
    assert (m.rssi_dbm, m.snr_db, m.freq_offset_hz, m.crc_ok) == (-118.0, -3.5, 1210.4, True)
    assert m.frequency_hz == pytest.approx(437.25e6)
    assert dict(m.extra)["NORAD"] == "99999"
    assert set(dict(m.extra)) == {"unix_GS_time", "satellite", "NORAD", "station_location", "mode"}


def test_field_mapping_overrides_the_preset() -> None:
    r = reader(payload="json", json_fields={"frame": "b64", "rssi_dbm": "level"})
    env = r.read(json.dumps({"b64": base64.b64encode(FRAME).decode(), "level": -99}).encode())
    assert (env.data, env.meta.rssi_dbm) == (FRAME, -99.0)


def test_unknown_mapping_field_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="unknown field"):
        EnvelopeSettings.model_validate({"json_fields": {"rssi": "x"}})


def test_mqtt5_user_properties() -> None:
    props = [("ert", str(T0 + 5)), ("rssi_dbm", "-101.25"), ("crc_ok", "true"), ("site", "roof")]
    env = reader(payload="mqtt5").read(FRAME, props)
    assert env.data == FRAME and env.ert_ns == T0 + 5
    assert env.meta.rssi_dbm == -101.25 and env.meta.crc_ok is True
    assert env.meta.extra == (("site", "roof"),)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", RejectReason.BAD_ENVELOPE),
        (b"[1, 2]", RejectReason.BAD_ENVELOPE),
        (b'{"ert": 1}', RejectReason.MISSING_FRAME),
        (b'{"frame": "***"}', RejectReason.BAD_FRAME_FIELD),
        (b'{"frame_hex": "zz"}', RejectReason.BAD_FRAME_FIELD),
        (gw(rssi_dbm="loud"), RejectReason.BAD_RADIO_FIELD),
        (gw(rssi_dbm=True), RejectReason.BAD_RADIO_FIELD),
        (gw(ert="3000-01-01T00:00:00Z"), RejectReason.BAD_ERT),
        (gw(ert="1969-12-31T23:59:59Z"), RejectReason.BAD_ERT),
        (gw(ert=-5), RejectReason.BAD_ERT),
        (gw(ert="yesterday"), RejectReason.BAD_ERT),
    ],
)
def test_each_bad_input_has_its_reason(payload: bytes, reason: RejectReason) -> None:
    with pytest.raises(EnvelopeError) as exc:
        reader(payload="json").read(payload)
    assert exc.value.reason is reason


def test_tinygs_crc_error_is_rejected() -> None:
    msg = {"data": base64.b64encode(FRAME).decode(), "usec_time": T0 // 1000, "crc_error": True}
    with pytest.raises(EnvelopeError) as exc:
        reader(payload="json", json_preset="tinygs").read(json.dumps(msg).encode())
    assert exc.value.reason is RejectReason.STATION_CRC


def test_clock_guard_rejects_or_replaces() -> None:
    strict = StationTime(EnvelopeSettings(clock_tolerance=5, redelivery_window=60))
    assert strict.guard(T0 + 4 * S, T0) == (T0 + 4 * S, ErtSource.STATION)
    with pytest.raises(EnvelopeError) as exc:
        strict.guard(T0 + 30 * S, T0)
    assert exc.value.reason is RejectReason.ERT_FUTURE
    with pytest.raises(EnvelopeError) as exc:
        strict.guard(T0 - 61 * S, T0)
    assert exc.value.reason is RejectReason.ERT_STALE
    lenient = StationTime(EnvelopeSettings(clock_tolerance=5, bad_station_time="receipt"))
    assert lenient.guard(T0 + 30 * S, T0) == (T0, ErtSource.REPLACED)


def test_backwards_station_times_are_kept_just_after_the_previous() -> None:
    st = StationTime()
    a, _ = st.place("gs1", T0, T0)
    b, _ = st.place("gs1", T0 - S, T0)  # the station's clock stepped back
    c, _ = st.place("gs2", T0 - S, T0)  # another station has its own order
    assert (a, b, c) == (T0, T0 + ERT_MIN_SPACING_NS, T0 - S)
    assert st.counts.backwards == 1 and st.counts.station == 3


def test_frames_and_rejects_from_one_source() -> None:
    frames = EnvelopeFrames(EnvelopeSettings(payload="json"), "mqtt")
    good = frames.make(gw(ert=T0, rssi_dbm=-100), "gs1", receipt_ns=T0 + S // 10)
    assert isinstance(good, RawFrame) and good.ert_ns == T0
    assert good.meta is not None and good.meta.ert_source is ErtSource.STATION
    assert good.meta.receipt_ns == T0 + S // 10
    bad = frames.make(b"garbage", "gs1", receipt_ns=T0 + S)
    assert isinstance(bad, RejectedInput) and bad.reason is RejectReason.BAD_ENVELOPE
    assert bad.data == b"garbage"
    assert frames.counters.extra == {"rejected_bad_envelope": 1}
    raw = EnvelopeFrames(EnvelopeSettings(), "mqtt").make(FRAME, "gs1", receipt_ns=T0)
    assert isinstance(raw, RawFrame) and raw.meta is None and raw.ert_ns == T0


@pytest.mark.parametrize(
    ("payload", "preset", "reason"),
    [
        (b"[" * 70_000, "groundwatch", RejectReason.BAD_ENVELOPE),  # nested past the stack
        (b'{"data": "AAAA", "usec_time": 1e306}', "tinygs", RejectReason.BAD_ERT),  # µs to inf
        (gw(ert="1" * 5000), "groundwatch", RejectReason.BAD_ERT),  # past int()'s digit limit
        (gw(ert="\u00b2"), "groundwatch", RejectReason.BAD_ERT),  # a digit to isdigit(), not int()
        (gw(ert="--5"), "groundwatch", RejectReason.BAD_ERT),
    ],
)
def test_hostile_envelope_is_rejected_not_raised(
    payload: bytes, preset: str, reason: RejectReason
) -> None:
    frames = EnvelopeFrames(EnvelopeSettings(payload="json", json_preset=preset), "mqtt")
    item = frames.make(payload, "gs1", receipt_ns=T0)
    assert isinstance(item, RejectedInput) and item.reason is reason
    assert item.data == payload


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
@pytest.mark.parametrize("field", ["rssi_dbm", "snr_db", "freq_offset_hz", "frequency_hz"])
def test_non_finite_radio_figure_is_rejected(field: str, number: str) -> None:
    payload = gw()[:-1] + f', "{field}": {number}}}'.encode()
    with pytest.raises(EnvelopeError) as exc:
        reader(payload="json").read(payload)
    assert exc.value.reason is RejectReason.BAD_RADIO_FIELD


def test_frequency_scaled_past_float_range_is_rejected() -> None:
    msg = b'{"data": "AAAA", "frequency": 1e305}'  # MHz, so 1e311 Hz
    with pytest.raises(EnvelopeError) as exc:
        reader(payload="json", json_preset="tinygs").read(msg)
    assert exc.value.reason is RejectReason.BAD_RADIO_FIELD


def test_backwards_station_times_are_counted_in_the_source_counters() -> None:
    frames = EnvelopeFrames(EnvelopeSettings(payload="json"), "mqtt")
    frames.make(gw(ert=T0), "gs1", receipt_ns=T0 + S)
    later = frames.make(gw(ert=T0 - S), "gs1", receipt_ns=T0 + S)  # the clock stepped back
    assert isinstance(later, RawFrame) and later.ert_ns == T0 + ERT_MIN_SPACING_NS
    assert frames.counters.as_dict()["ert_backwards"] == 1


def test_a_line_longer_than_any_envelope_is_rejected_and_the_next_line_still_read() -> None:
    good = json.dumps({"frame_hex": "0102", "ert": 1_800_000_000_000_000_000}).encode()
    huge = b'{"frame_hex": "' + b"00" * envelope.MAX_LINE_BYTES + b'"}'
    got = list(envelope.read_lines(io.BytesIO(huge + b"\n" + good + b"\n")))
    assert [n for n, _ in got] == [1, 2]
    assert isinstance(got[0][1], envelope.EnvelopeError)
    assert got[0][1].reason == RejectReason.OVERSIZED
    assert not isinstance(got[1][1], envelope.EnvelopeError) and got[1][1].data == b"\x01\x02"
